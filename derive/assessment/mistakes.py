"""The catalogue of classic mistakes: each a change to a step's formula, in the symbols of the step model.

A wrong answer is compared, by the rule a right one is (:func:`derive.assessment.grading.agrees`),
with each mistaken formula evaluated at the student's own values and at the exact ones.  The
catalogue is in order, the most specific mistake first; the first that matches names the mistake.
A correct or carried-forward answer is never diagnosed, and a wrong one that matches none gets none.
The ids are part of the interface (``--json``, the gradebook, the web page): see :data:`CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

import sympy as sp

from derive.assessment.grading import plain_labels
from derive.core.builders import renamed
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.printing import PlainPrinter
from derive.core.rules import DECAY, LEARNING_RATE
from derive.core.steps import Step, Steps

Names = dict[str, str]

_BACKWARD = ("factor", "delta", "gradient")
_ERRORS = ("error", "example_error", "total", "factor", "delta", "gradient")


@dataclass(frozen=True)
class Variant:
    """One mistaken formula of a step, and the names its mistake's message uses."""

    formula: sp.Expr
    names: Names


class Model:
    """What the transformations read of one worked network: each symbol's name, and how symbols pair up."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.graph = steps.derivation.graph
        self.spec = steps.derivation.spec
        self.labels = plain_labels(steps)

    def text(self, expr: sp.Expr) -> str:
        """A formula as plain text: ``out_h1·(1 - out_h1)``."""
        return PlainPrinter(self.labels).doprint(expr)

    @cached_property
    def partner(self) -> dict[sp.Symbol, sp.Symbol]:
        """Each neuron's net input and its output, the one for the other (the pass after the update too)."""
        found: dict[sp.Symbol, sp.Symbol] = {}
        for example in (*self.steps.forward, *self.steps.after_forward):
            for row in example.layers:
                for neuron in row:
                    found[neuron.net.symbol], found[neuron.out.symbol] = neuron.out.symbol, neuron.net.symbol
        return found

    @cached_property
    def positions(self) -> dict[sp.Symbol, tuple[int, int, int]]:
        """Each weight's layer, row (the neuron it feeds) and column (the input it carries)."""
        return {
            w: (L, k, j)
            for L, layer in enumerate(self.graph.weights)
            for k, row in enumerate(layer)
            for j, w in enumerate(row)
        }

    @cached_property
    def target_rows(self) -> dict[sp.Symbol, list[sp.Symbol]]:
        """Each target, and the targets of the same example."""
        return {t: row for row in self.graph.targets for t in row}

    @cached_property
    def signals(self) -> set[sp.Symbol]:
        """The symbols of every δ (a sum over paths or terms adds products of these)."""
        return {symbol for per_example in self.graph.delta for row in per_example for symbol in row}

    @cached_property
    def slope_of(self) -> dict[sp.Symbol, Step]:
        """Each δ's activation factor ∂out/∂net as a step, by the δ's symbol (with the standard and full detail)."""
        found = {}
        for gradient in self.steps.backward:
            for delta in gradient.deltas:
                for step in delta.factors:
                    if step.of in self.partner and self.graph.names[step.of].kind == "out" and step is not delta.step:
                        found[delta.step.symbol] = step
        return found

    @cached_property
    def deltas(self) -> dict[sp.Symbol, Step]:
        return {delta.step.symbol: delta.step for gradient in self.steps.backward for delta in gradient.deltas}

    def output(self, step: Step) -> tuple[sp.Symbol, sp.Symbol]:
        """The target and the output an output neuron's δ belongs to."""
        name = self.graph.names[step.symbol]
        p = (name.example or 1) - 1
        j = [n.name for n in self.graph.neurons[-1]].index(name.subscript)
        return self.graph.targets[p][j], self.graph.out[p][-1][j]

    def error_slope(self, step: Step) -> sp.Expr:
        """∂E_total/∂out of the output a coupled δ belongs to: the loss's derivative, scaled by the mean."""
        t, out = self.output(step)
        derivative = LOSSES[self.spec.loss].derivative(t, out, self.spec.n_outputs)
        scale = self.graph.reduction_scale()
        return derivative if scale == 1 else sp.Mul(scale, derivative, evaluate=False)


def _swap(formula: sp.Expr, old: sp.Expr, new: sp.Expr) -> sp.Expr:
    return renamed(formula, {old: new})


def _times(formula: sp.Expr, factor: sp.Expr) -> sp.Expr:
    return sp.Mul(factor, formula, evaluate=False)


# -- the transformations --------------------------------------------------------------------------


def _sign(model: Model, step: Step) -> Iterator[Variant]:
    yield Variant(_times(step.formula, sp.Integer(-1)), {})


def _half_factor(model: Model, step: Step) -> Iterator[Variant]:
    if model.spec.loss in ("half_sse", "mse"):
        for factor in (sp.Integer(2), sp.Rational(1, 2)):
            yield Variant(_times(step.formula, factor), {})


def _mean_dropped(model: Model, step: Step) -> Iterator[Variant]:
    """The mean over the examples (E_total and the slopes after it), or mse's mean over the outputs (each error too)."""
    scale = model.graph.reduction_scale()
    if scale != 1 and step.kind not in ("error", "example_error"):
        yield Variant(_times(step.formula, 1 / scale), {"n": str(1 / scale)})
    outputs = model.spec.n_outputs
    if model.spec.loss == "mse" and outputs > 1:
        yield Variant(_times(step.formula, sp.Integer(outputs)), {"n": str(outputs)})


def _no_learning_rate(model: Model, step: Step) -> Iterator[Variant]:
    rate = model.spec.learning_rate  # as the network file writes it: 0.5, not 1/2
    shown = format((Decimal(rate.numerator) / Decimal(rate.denominator)).normalize(), "f")
    yield Variant(_swap(step.formula, LEARNING_RATE, sp.Integer(1)), {"rate": shown})


def _wrong_direction(model: Model, step: Step) -> Iterator[Variant]:
    for symbol in step.formula.free_symbols:
        if symbol.name == f"dE/d{step.subject}":  # the update's gradient, as the backward pass names it
            yield Variant(_swap(step.formula, symbol, sp.Mul(-1, symbol, evaluate=False)), {})


def _momentum_forgotten(model: Model, step: Step) -> Iterator[Variant]:
    if model.spec.momentum:
        for symbol in step.formula.free_symbols:
            if model.graph.names.get(symbol) is not None and model.graph.names[symbol].change:
                yield Variant(_swap(step.formula, symbol, sp.Integer(0)), {})


def _decay_on_bias(model: Model, step: Step) -> Iterator[Variant]:
    if model.spec.weight_decay and step.subject.startswith("b"):
        bias = model.graph.parameters[step.subject]
        yield Variant(sp.Add(step.formula, sp.Mul(DECAY, bias, evaluate=False), evaluate=False), {})


def _decay_forgotten(model: Model, step: Step) -> Iterator[Variant]:
    if model.spec.weight_decay and step.subject.startswith("w") and isinstance(step.formula, sp.Add):
        kept = [term for term in step.formula.args if DECAY not in term.free_symbols]
        if len(kept) < len(step.formula.args):
            yield Variant(sp.Add(*kept, evaluate=False), {})


def _updated_weight(model: Model, step: Step) -> Iterator[Variant]:
    """Every weight after the update where the weights before it belong, then each one alone."""
    weights = sorted(step.formula.free_symbols & model.positions.keys(), key=str)
    after = {w: model.graph.updated(w) for w in weights if model.graph.updated(w) in model.steps.values}
    choices = [list(after), *([w] for w in after)] if len(after) > 1 else [[w] for w in after]
    for chosen in choices:
        formula = renamed(step.formula, {w: after[w] for w in chosen})
        yield Variant(formula, {"weight": ", ".join(model.labels[after[w]] for w in chosen)})


def _swapped_weight(model: Model, step: Step) -> Iterator[Variant]:
    weights = model.graph.weights
    for weight in sorted(step.formula.free_symbols & model.positions.keys(), key=str):
        L, k, j = model.positions[weight]
        transposed = [weights[L][j][k]] if j < len(weights[L]) and k < len(weights[L][j]) else []
        others = [w for row in weights[L] for w in row if w not in (weight, *transposed)]
        for other in [*transposed, *others]:
            if other not in step.formula.free_symbols:
                yield Variant(
                    _swap(step.formula, weight, other), {"used": model.labels[other], "right": model.labels[weight]}
                )


def _wrong_target(model: Model, step: Step) -> Iterator[Variant]:
    for target in sorted(step.formula.free_symbols & model.target_rows.keys(), key=str):
        for other in model.target_rows[target]:
            if other != target:
                yield Variant(
                    _swap(step.formula, target, other), {"used": model.labels[other], "right": model.labels[target]}
                )


def _net_for_out(model: Model, step: Step) -> Iterator[Variant]:
    if step.kind == "out" and step.symbol in model.partner:
        net = model.partner[step.symbol]
        yield Variant(net, {"used": model.labels[net], "right": model.labels[step.symbol]})
    for symbol in sorted(step.formula.free_symbols & model.partner.keys(), key=str):
        other = model.partner[symbol]
        yield Variant(_swap(step.formula, symbol, other), {"used": model.labels[other], "right": model.labels[symbol]})


def _without_slope(model: Model, step: Step) -> sp.Expr | None:
    """δ written without its activation's derivative: ∂E/∂out alone."""
    if step.rule in ("softmax_cross_entropy", "softmax"):
        return model.error_slope(step)
    slope = model.slope_of.get(step.symbol)
    if step.kind != "delta" or not isinstance(step.formula, sp.Mul):
        return None
    kept = [arg for arg in step.formula.args if slope is None or arg not in (slope.symbol, slope.formula)]
    if slope is None:  # the brief detail: δ = f'(net)·∂E/∂out, the derivative written first
        kept = list(step.formula.args[1:])
    return sp.Mul(*kept, evaluate=False) if len(kept) < len(step.formula.args) else None


def _missing_derivative(model: Model, step: Step) -> Iterator[Variant]:
    if step.kind == "delta":
        formula = _without_slope(model, step)
        if formula is not None:
            yield Variant(formula, {})
        return
    for symbol in sorted(step.formula.free_symbols & model.deltas.keys(), key=str):  # a gradient from that δ
        formula = _without_slope(model, model.deltas[symbol])
        if formula is not None:
            yield Variant(_swap(step.formula, symbol, formula), {})


def _softmax_coupling(model: Model, step: Step) -> Iterator[Variant]:
    if step.kind == "delta" and step.rule in ("softmax_cross_entropy", "softmax"):
        out = model.output(step)[1]
        logistic = ACTIVATIONS["sigmoid"].slope(out, out)
        yield Variant(sp.Mul(model.error_slope(step), logistic, evaluate=False), {})


def _other_derivative(model: Model, step: Step) -> Iterator[Variant]:
    """Another activation's derivative: the sigmoid's out(1 − out) for tanh's 1 − out², and the reverse."""
    if step.kind != "factor" or step.of not in model.partner or step.rule not in ("tanh", "logistic", "softplus"):
        return
    out = step.of
    for name in ("sigmoid", "tanh"):
        other = ACTIVATIONS[name].slope(model.partner[out], out)
        if ACTIVATIONS[name].rule != step.rule:
            yield Variant(other, {"used": model.text(other), "right": model.text(step.formula)})


def _missing_path(model: Model, step: Step) -> Iterator[Variant]:
    if step.rule == "error_and_paths":  # an output read by the next step: its own error kept, those paths dropped
        yield from _next_step_dropped(model, step)
    for part in sp.preorder_traversal(step.formula):
        if not isinstance(part, sp.Add) or len(part.args) < 2:
            continue
        if not all(term.free_symbols & model.signals for term in part.args):
            continue
        for index, term in enumerate(part.args):
            rest = sp.Add(*(part.args[:index] + part.args[index + 1 :]), evaluate=False)
            path = ", ".join(model.labels[s] for s in sorted(term.free_symbols & model.signals, key=str))
            yield Variant(_swap(step.formula, part, rest), {"path": path})


def _next_step_dropped(model: Model, step: Step) -> Iterator[Variant]:
    """∂E_total/∂out of h_t without the paths through step t+1 (all of them, or one): its own error's slope alone."""
    terms = step.formula.args if isinstance(step.formula, sp.Add) else (step.formula,)
    through = [term for term in terms if term.free_symbols & model.signals]
    own = [term for term in terms if not term.free_symbols & model.signals]
    if not own or not through:
        return
    dropped = [through] if len(through) == 1 else [through, *([term] for term in through)]
    for left_out in dropped:
        kept = [term for term in terms if term not in left_out]
        signals = [s for term in left_out for s in sorted(term.free_symbols & model.signals, key=str)]
        path = ", ".join(model.labels[s] for s in signals)
        yield Variant(sp.Add(*kept, evaluate=False) if len(kept) > 1 else kept[0], {"path": path})


@dataclass(frozen=True)
class Mistake:
    """One mistake of the catalogue: its id, the kinds of step it can be made in, and its mistaken formulas."""

    id: str
    kinds: tuple[str, ...]
    variants: Callable[[Model, Step], Iterator[Variant]]


# The catalogue, the most specific mistake first: the first whose formula matches names the mistake.
CATALOGUE: tuple[Mistake, ...] = (
    Mistake("softmax_coupling", ("delta",), _softmax_coupling),
    Mistake("other_derivative", ("factor",), _other_derivative),
    Mistake("momentum_forgotten", ("update",), _momentum_forgotten),
    Mistake("decay_on_bias", ("gradient",), _decay_on_bias),
    Mistake("decay_forgotten", ("gradient",), _decay_forgotten),
    Mistake("updated_weight", _BACKWARD, _updated_weight),
    Mistake("wrong_direction", ("update",), _wrong_direction),
    Mistake("no_learning_rate", ("update",), _no_learning_rate),
    Mistake("missing_derivative", ("delta", "gradient"), _missing_derivative),
    Mistake("missing_path", _BACKWARD, _missing_path),
    Mistake("swapped_weight", _BACKWARD, _swapped_weight),
    Mistake("wrong_target", _ERRORS, _wrong_target),
    Mistake("net_for_out", ("out", "net", *_BACKWARD), _net_for_out),
    Mistake("mean_dropped", _ERRORS, _mean_dropped),
    Mistake("half_factor", _ERRORS, _half_factor),
    Mistake("sign", _BACKWARD, _sign),
)
# Every id a diagnosis can carry: the catalogue's, the digits short, and the step made trivial.
IDS = ("too_few_digits", *(mistake.id for mistake in CATALOGUE), "simplified")


def variants(model: Model, step: Step) -> Iterator[tuple[str, Variant]]:
    """Every mistaken formula of a step, the most specific mistake first."""
    for mistake in CATALOGUE:
        if step.kind in mistake.kinds:
            for variant in mistake.variants(model, step):
                yield mistake.id, variant
