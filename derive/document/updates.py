"""The step itself: every parameter's update, the forward pass after it, and what the result says."""

from __future__ import annotations

from derive.core.layerwise import delta_ratio, weight_gradient_ratio
from derive.core.numbers import Number, format_number
from derive.core.steps import Steps

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
    """Which way each output pushes the weights into it, and how much smaller the first layer's gradients are.

    With several examples, example 1's push is told beside the whole batch's move, which may differ.
    """
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    batch = "_batch" if graph.multi else ""
    outputs = []
    last = len(graph.neurons) - 1
    for j in range(len(graph.neurons[-1])):
        m = j if spec.dense else graph.outputs.index((last, j))  # an unrolled network's last step
        out, target = derivation.values[graph.out[0][-1][j]], derivation.values[graph.targets[0][m]]
        first_weight = graph.weights[-1][j][0] if spec.dense else graph.link_weight(last, j, 0)
        weight = first_weight.name
        before, after = derivation.parameters[weight], derivation.updated[weight]
        outputs.append(
            {
                "kind": f"reading{batch}_{'high' if out > target else 'low'}",
                "direction": "reading_falls" if after < before else "reading_rises",
                "out": typeset.latex(graph.out[0][-1][j]),
                "value": typeset.show(out),
                "target": typeset.show(target),
                "weight": typeset.latex(first_weight),
                "before": typeset.show(before),
                "after": typeset.show(after),
            }
        )
    ratio = deltas = bound = ""
    if len(spec.layers) > 1 and spec.dense:  # the ratio of two layers' gradients: fully connected ones
        gradients, signals = weight_gradient_ratio(derivation), delta_ratio(derivation)
        ratio = _shown_ratio(gradients)
        # when the inputs are much smaller than the hidden outputs, part of the ratio is theirs: say so
        deltas = _shown_ratio(signals) if signals and gradients and abs(gradients / signals - 1) > 0.2 else ""
        bound = SLOPE_BOUNDS.get(spec.layers[0].activation, "")
    return Reading(outputs, ratio, bound, 1 if graph.multi else None, deltas)


def _shown_ratio(ratio: Number | None) -> str:
    """A ratio as said in a sentence: whole when 10 or more, one decimal below."""
    if ratio is None:
        return ""
    return format_number(ratio, 0 if ratio >= 10 else 1)
