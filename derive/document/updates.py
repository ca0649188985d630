"""The step itself: every parameter's update, the forward pass after it, and what the result says."""

from __future__ import annotations

import mpmath

from derive.numbers import format_number
from derive.steps import Steps

from .forward import forward
from .model import Equation, ExampleForward, Reading, UpdateWorking
from .typeset import Typesetter

# The steepest slope of each activation whose slope is below 1 everywhere: σ′ ≤ 1/4.
SLOPE_BOUNDS = {"sigmoid": "0.25"}


def updates(steps: Steps, typeset: Typesetter) -> list[UpdateWorking]:
    """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value."""
    return [
        UpdateWorking(step.subject, step.blank is not None, typeset.equation(step, inline=True))
        for step in steps.updates
    ]


def after(
    steps: Steps, typeset: Typesetter, *, formula: bool = True
) -> tuple[list[ExampleForward], Equation, str, bool]:
    """The forward pass with the updated parameters, E_total after the step, its change, whether it rose.

    ``formula=False`` gives E_total after the step without its formula (the brief detail leaves the
    pass it sums to the reader).
    """
    before, loss = steps.total.value, steps.after.value
    examples = forward(steps, typeset, steps.after_forward)
    equation = typeset.equation(steps.after, formula=formula)
    return examples, equation, typeset.show(loss - before), loss > before


def reading(steps: Steps, typeset: Typesetter) -> Reading:
    """Which way each output pushes the weights into it, and how much smaller the first layer's gradients are."""
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    outputs = []
    for j in range(len(graph.neurons[-1])):
        out, target = derivation.values[graph.out[0][-1][j]], derivation.values[graph.targets[0][j]]
        weight = graph.weights[-1][j][0].name
        outputs.append(
            {
                "kind": "reading_high" if out > target else "reading_low",
                "out": typeset.latex(graph.out[0][-1][j]),
                "value": typeset.show(out),
                "target": typeset.show(target),
                "weight": typeset.latex(graph.weights[-1][j][0]),
                "before": typeset.show(derivation.parameters[weight]),
                "after": typeset.show(derivation.updated[weight]),
                "direction": "falls" if derivation.updated[weight] < derivation.parameters[weight] else "rises",
            }
        )
    ratio, bound = "", ""
    if len(spec.layers) > 1:
        ratio = _ratio(steps)
        bound = SLOPE_BOUNDS.get(spec.layers[0].activation, "")
    return Reading(outputs, ratio, bound, 1 if graph.multi else None)


def _ratio(steps: Steps) -> str:
    """The output layer's mean |∂E/∂w| over the first layer's: whole when 10 or more ('' if either is 0)."""
    derivation = steps.derivation
    means = []
    for layer in (len(derivation.spec.layers) - 1, 0):
        sizes = [
            abs(gradient.precise)
            for gradient in derivation.gradients.values()
            if gradient.name.startswith("w") and gradient.chain[0].neuron.layer == layer
        ]
        means.append(mpmath.fsum(sizes) / len(sizes))
    if not means[0] or not means[1]:
        return ""
    ratio = means[0] / means[1]
    return format_number(ratio, 0 if ratio >= 10 else 1)
