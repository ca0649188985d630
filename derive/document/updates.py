"""The step itself: every parameter's update, the forward pass after it, and what the result says."""

from __future__ import annotations

import sympy as sp

from derive.core import rules
from derive.core.layerwise import delta_ratio, weight_gradient_ratio
from derive.core.numbers import Number, format_number
from derive.core.steps import Steps

from .forward import forward
from .model import Equation, ExampleForward, Reading, UpdateWorking
from .typeset import Typesetter

# The steepest slope of each activation whose slope is below 1 everywhere: σ′ ≤ 1/4.
SLOPE_BOUNDS = {"sigmoid": "0.25"}


def update_rule(*, momentum: bool, decay: bool, display: bool) -> str:
    """θ⁺ = θ − η·∂E/∂θ (with momentum, Δθ = β·Δθ_before − η·∂E/∂θ and θ⁺ = θ + Δθ) in LaTeX, printed
    from :func:`derive.core.rules.change`, terms in the order written.

    With weight decay the gradient is of E = E_total + E_decay, which already holds λ·θ; without it,
    of E_total.  ``display`` writes ∂E/∂θ as a fraction and the momentum rule as two equations;
    inline, one equation, in which Δθ is the change before.
    """
    loss = "E" if decay else r"E_{\text{total}}"
    gradient = rf"\frac{{\partial {loss}}}{{\partial \theta}}" if display else rf"\partial {loss} / \partial \theta"
    previous = r"\Delta\theta_{\text{before}}" if display else r"\Delta\theta"
    names = {
        rules.PARAMETER: r"\theta",
        rules.GRADIENT: gradient,
        rules.PREVIOUS_CHANGE: previous,
        rules.LEARNING_RATE: r"\eta",
        rules.MOMENTUM: r"\beta",
    }
    change = rules.change(momentum=momentum, decay=False)  # the gradient above already holds λ·θ

    def latex(expr: sp.Expr) -> str:
        return sp.latex(expr, symbol_names=names, order="none", mul_symbol=r" \, ")

    if momentum and display:
        return rf"\Delta\theta = {latex(change)}, \quad \theta^{{+}} = \theta + \Delta\theta"
    terms = change.args if isinstance(change, sp.Add) else (change,)
    return rf"\theta^{{+}} = {latex(sp.Add(rules.PARAMETER, *terms, evaluate=False))}"


def updates(steps: Steps, typeset: Typesetter) -> list[UpdateWorking]:
    """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value."""
    return [
        UpdateWorking(step.subject, step.blank is not None, typeset.equation(step, inline=True))
        for step in steps.updates
    ]


def after(steps: Steps, typeset: Typesetter, *, formula: bool) -> tuple[list[ExampleForward], Equation, str, bool]:
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
    return Reading(outputs, ratio, bound, deltas)


def _shown_ratio(ratio: Number | None) -> str:
    """A ratio as said in a sentence: whole when 10 or more, one decimal below."""
    if ratio is None:
        return ""
    return format_number(ratio, 0 if ratio >= 10 else 1)
