"""The step itself: every parameter's update, the forward pass after it, and what the result says."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.core import rules
from derive.core.chain import Derivation
from derive.core.factors import Delta
from derive.core.layerwise import delta_ratio, weight_gradient_ratio
from derive.core.numbers import Number, format_number
from derive.core.steps import Steps

from .forward import forward
from .model import Equation, ExampleForward, Reading, UpdateWorking
from .typeset import Typesetter

# The steepest slope of each activation whose slope is below 1 everywhere: σ′ ≤ 1/4.
SLOPE_BOUNDS = {"sigmoid": "0.25"}
# Two layers' gradients within 5 % of each other are "about as large" (a ratio said as 1.0).
_SAME = 1.05


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
    """Which way each output pushes the weights into it, and how the first layer's gradients compare in size.

    With several examples, example 1's push is told beside the whole batch's move, which may differ; with
    one, a weight that multiplies a negative input is said to move against its output's push because of it.
    """
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    batch = "_batch" if graph.multi else ""
    outputs = []
    last = len(graph.neurons) - 1
    # the value an output neuron's first weight multiplies (∂E/∂w = δ·x): a negative one turns the output's
    # push around, and the sentence says so; not for a batch, whose gradient sums δ·x over its examples
    source = graph.layer_inputs(0, last)[0] if spec.dense and not graph.multi else None
    negative = source is not None and derivation.values[source] < 0
    for j in range(len(graph.neurons[-1])):
        m = j if spec.dense else graph.outputs.index((last, j))  # an unrolled network's last step
        out, target = derivation.values[graph.out[0][-1][j]], derivation.values[graph.targets[0][m]]
        delta = derivation.deltas[0][last][j]
        first_weight = graph.weights[-1][j][0] if spec.dense else graph.link_weight(last, j, 0)
        weight = first_weight.name
        before, after = derivation.parameters[weight], derivation.updated[weight]
        outputs.append(
            {
                "kind": f"reading{batch}_{_push(out - target, delta)}",
                "relation": f"reading_{_sign_word(out - target, 'above', 'below', 'equal')}",
                "sign": f"reading_{_sign_word(delta.precise, 'positive', 'negative', 'zero')}",
                "direction": _direction(derivation, weight, after - before, negative),
                "input": typeset.latex(source) if negative else "",
                "input_value": typeset.show(derivation.values[source]) if negative else "",
                "out": typeset.latex(graph.out[0][-1][j]),
                "value": typeset.show(out),
                "target": typeset.show(target),
                "weight": typeset.latex(first_weight),
                "before": typeset.show(before),
                "after": typeset.show(after),
            }
        )
    said, bound = _RatioReading(), ""
    if len(spec.layers) > 1 and spec.dense:  # the ratio of two layers' gradients: fully connected ones
        said = _ratio_reading(weight_gradient_ratio(derivation), delta_ratio(derivation))
        bound = SLOPE_BOUNDS.get(spec.layers[0].activation, "")
    return Reading(outputs, said.ratio, bound, said.deltas, said.sentence, said.points)


@dataclass(frozen=True)
class _RatioReading:
    """The ratios as said, the document's sentence (a catalog key) and the slides' points."""

    ratio: str = ""
    deltas: str = ""
    sentence: str = ""
    points: tuple[str, ...] = ()


def _ratio_reading(gradients: Number | None, signals: Number | None) -> _RatioReading:
    """The output layer's mean |∂E/∂w| over the first layer's, and the δs' when it is said, with the
    sentences that say them.

    Smaller first-layer gradients are told with the δs' shrinking when the two ratios are within a
    fifth of each other, with both ratios when they are not (the values each δ multiplies, inputs or
    hidden outputs, shrink the gradients further or make up for part of it), and as those values'
    doing when the δs do not shrink.
    """
    if gradients is None:  # a layer whose every gradient is 0
        return _RatioReading()
    if 1 / _SAME < gradients < _SAME:
        return _RatioReading(sentence="reading_ratio_same", points=("reading_ratio_same",))
    if gradients < 1:
        larger = _shown_ratio(1 / gradients)
        return _RatioReading(larger, sentence="reading_ratio_larger", points=("reading_ratio_larger",))
    ratio = _shown_ratio(gradients)
    if signals is None or signals < _SAME:
        return _RatioReading(ratio, sentence="reading_ratio_inputs", points=("reading_ratio", "reading_inputs"))
    if gradients > 1.2 * signals:  # the values the δs multiply shrink the gradients further: say both
        points = ("reading_ratio", "reading_deltas")
        return _RatioReading(ratio, _shown_ratio(signals), "reading_ratio", points)
    if gradients < 0.8 * signals:  # they make up for part of the δs' shrinking
        points = ("reading_ratio", "reading_deltas_offset")
        return _RatioReading(ratio, _shown_ratio(signals), "reading_ratio_offset", points)
    return _RatioReading(ratio, sentence="reading_ratio_deltas", points=("reading_ratio", "reading_shrink"))


def _direction(derivation: Derivation, weight: str, change: Number, negative_input: bool) -> str:
    """The catalog key of a weight's move; with the reason, where its gradient alone would move it the
    other way: weight decay's λ·w, or momentum's share of the change before; and where the gradient
    moves it, but against its output's push because the input it multiplies is negative
    (∂E/∂w = δ·x: lowering the output raises w when x < 0)."""
    move = _sign_word(change, "rises", "falls", "stays")
    push = -derivation.gradients[weight].of_total
    if change == 0 or push == 0:
        return f"reading_{move}"
    if (push > 0) == (change > 0):
        return f"reading_{move}_input" if negative_input else f"reading_{move}"
    return f"reading_{move}_{'momentum' if derivation.spec.momentum else 'decay'}"


def _sign_word(value: Number, positive: str, negative: str, zero: str) -> str:
    """The word for a value's sign."""
    return positive if value > 0 else negative if value < 0 else zero


def _push(error: Number, delta: Delta) -> str:
    """Which reading an output takes, from out − t and its error signal δ = ∂E_total/∂net.

    With a squared error or bce, δ = ∂E/∂out · f′(net) takes the sign of out − t (f′ ≥ 0), or is 0
    where the activation is flat (a ReLU below 0); cross-entropy on a sigmoid gives −t·(1 − out),
    0 for a target of 0 (the loss's slope) and never positive; a softmax couples the outputs: its δ
    may have either sign, or be 0 where the other outputs' errors cancel an output's own.
    """
    signal = delta.precise
    if signal == 0:
        if error == 0:
            return "level"
        if len(delta.factors) == 1:  # a softmax's δ = ∂E_total/∂net, the other outputs' errors within it
            return "cancel"
        _, activation_slope = delta.factors  # ∂E_total/∂out · ∂out/∂net: one of the two is 0
        return "flat" if activation_slope.precise == 0 else "flat_loss"
    if (signal > 0 and error > 0) or (signal < 0 and error < 0):
        return "high" if error > 0 else "low"
    return "against"


def _shown_ratio(ratio: Number) -> str:
    """A ratio as said in a sentence: whole when 10 or more, one decimal below."""
    return format_number(ratio, 0 if ratio >= 10 else 1)
