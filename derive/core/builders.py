"""The builders of the steps: one per part of the working, each numbering its blanks in turn.

A derivation is worked once, in the order a textbook works it: each example's forward pass (net
inputs, outputs, errors), E_total, the backward pass (each δ when first met, then each gradient),
the updates θ⁺, and the forward pass after the update.  :class:`Working` is what every builder
shares: the derivation, the detail, and the last blank numbered.  :func:`derive.core.steps.build_steps`
calls the builders in that order, which is what numbers the blanks in document order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from derive.core.chain import Derivation
from derive.core.factors import Delta, Factor, Gradient
from derive.core.functions import ACTIVATIONS
from derive.core.graph import Graph, SymbolName
from derive.core.numbers import Number, to_fraction
from derive.core.printing import symbol_text
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.core.rules import GRADIENT, LEARNING_RATE, MOMENTUM, PARAMETER, PREVIOUS_CHANGE, updated
from derive.core.step_parts import (
    DeltaSteps,
    ExampleSteps,
    GradientSteps,
    NeuronSteps,
    Step,
    factor_key,
    is_copy,
    step_key,
)


class Working:
    """What every builder shares: the derivation worked, the detail, and the blanks numbered so far."""

    def __init__(self, derivation: Derivation, *, brief: bool = False) -> None:
        self.derivation = derivation
        self.graph: Graph = derivation.graph
        self.brief = brief
        self.blank = 0

    def make(
        self,
        symbol: sp.Symbol,
        kind: str,
        rule: str,
        formula: sp.Expr,
        value: Number,
        *,
        key: str | None = None,
        quantity: str | None = None,
        example: int | None = None,
        subject: str = "",
        blank: bool = True,
        of: sp.Symbol | None = None,
        wrt: sp.Symbol | None = None,
    ) -> Step:
        """A step, numbered as the next blank unless ``blank`` is false or it only copies a value."""
        name = self.graph.names.get(symbol)
        blank = blank and not is_copy(formula)
        if blank:
            self.blank += 1
        return Step(
            key=key if key is not None else step_key(name),  # type: ignore[arg-type]
            blank=self.blank if blank else None,
            symbol=symbol,
            kind=kind,
            rule=rule,
            formula=formula,
            value=value,
            quantity=quantity if quantity is not None else symbol_text(name),  # type: ignore[arg-type]
            example=example if example is not None else (name.example if name else None),
            subject=subject or (name.subscript if name else ""),
            of=of,
            wrt=wrt,
            after=bool(name and name.updated and kind != "update"),
        )


# -- forward ----------------------------------------------------------------------------------


def renamed(expr: sp.Basic, names: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr.xreplace(names)`` keeping the forms as written (w·x + b·1, x·0): each changed node is
    rebuilt unevaluated, without switching SymPy's ``evaluate`` off (which empties its cache)."""
    if expr in names:
        return names[expr]
    if not expr.args:
        return expr
    args = tuple(renamed(arg, names) for arg in expr.args)
    if args == expr.args:
        return expr
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a class that takes no ``evaluate``
        if isinstance(expr, ExprCondPair) and not args[1].has(sp.Piecewise):
            return expr.func(*args)  # a Piecewise's (value, condition) pair, which evaluates nothing
        with sp.evaluate(False):
            return expr.func(*args)


def example_steps(
    working: Working,
    p: int,
    derivation: Derivation | None = None,
    plus: Mapping[sp.Symbol, sp.Symbol] | None = None,
    *,
    blank: bool = True,
) -> ExampleSteps:
    """Example p's forward pass; with ``plus``, the pass after the update (its symbols marked ⁺)."""
    graph, spec = working.graph, working.derivation.spec
    values = (derivation or working.derivation).forward[p]

    def rename(expr: sp.Expr) -> sp.Expr:
        return expr if plus is None else renamed(expr, plus)

    order: list[Step] = []

    def make(symbol: sp.Symbol, kind: str, rule: str, formula: sp.Expr, value: Number) -> Step:
        step = working.make(rename(symbol), kind, rule, rename(formula), value, blank=blank)
        order.append(step)
        return step

    layers = []
    for L, neurons in enumerate(graph.neurons):
        activation = graph.layers[L].activation
        nets = [
            make(graph.net[p][L][j], "net", "net_input", graph.net_definition(p, L, j), values.net[L][j])
            for j in range(len(neurons))
            if ACTIVATIONS[activation].coupled  # softmax needs every net input of its layer first
        ]
        row = []
        for j, neuron in enumerate(neurons):
            net = (
                nets[j]
                if nets
                else make(graph.net[p][L][j], "net", "net_input", graph.net_definition(p, L, j), values.net[L][j])
            )
            out = make(graph.out[p][L][j], "out", activation, graph.out_definition(p, L, j), values.out[L][j])
            row.append(NeuronSteps(neuron.name, net, out))
        layers.append(tuple(row))
    errors = tuple(
        make(graph.errors[p][j], "error", spec.loss, graph.error_definition(p, j), values.errors[j])
        for j in range(graph.output_count)
    )
    total = None
    if graph.multi:
        formula = sp.Add(*graph.errors[p], evaluate=False)
        total = make(graph.example_loss[p], "example_error", "sum", formula, values.loss)
    return ExampleSteps(p + 1 if graph.multi else None, tuple(layers), errors, total, tuple(order))


def total_formula(working: Working) -> sp.Expr:
    """E_total from the outputs' errors, or from the examples' errors when there are several."""
    graph = working.graph
    if not graph.multi:
        return graph.total_definition()
    per_example = sp.Add(*graph.example_loss, evaluate=False)
    scale = graph.reduction_scale()
    return per_example if scale == 1 else sp.Mul(scale, per_example, evaluate=False)


def total_step(working: Working) -> Step:
    """E_total = the sum (or the mean) of the errors."""
    rule = "mean" if working.graph.reduction_scale() != 1 else "sum"
    return working.make(working.graph.total, "total", rule, total_formula(working), working.derivation.loss)


# -- backward ---------------------------------------------------------------------------------


class Backward:
    """The backward pass: each gradient after the δs it needs that the reader has not met yet."""

    def __init__(self, working: Working) -> None:
        self.working = working
        self.derivation = working.derivation
        self.graph = working.graph
        self.introduced: set[sp.Symbol] = set()

    def gradients(self, only: Sequence[str]) -> list[GradientSteps]:
        """Every gradient (or those in ``only``), the output layer's first."""
        derivation = self.derivation
        found = []
        for L in reversed(range(len(self.graph.neurons))):
            for name, gradient in derivation.gradients.items():
                if gradient.chain[0].neuron.layer == L and (not only or name in only):
                    found.append(self.gradient(gradient))
        return found

    def gradient(self, gradient: Gradient) -> GradientSteps:
        """∂E_total/∂θ = Σ δ·∂net/∂θ over the chain's terms (+ λ·w with weight decay)."""
        derivation, graph = self.derivation, self.graph
        deltas = tuple(self.delta(delta) for delta in self.needed_deltas(gradient))
        links = (
            ()
            if self.working.brief
            else tuple(self.factor(term.factors[-1], kind="link", subject=gradient.name) for term in gradient.chain)
        )
        own = [derivation.deltas[t.example][t.neuron.layer][t.neuron.index] for t in gradient.chain]
        terms = [sp.Mul(d.symbol, t.factors[-1].expr, evaluate=False) for d, t in zip(own, gradient.chain, strict=True)]
        if gradient.decay is not None:  # weight decay: + λ·w, the penalty's own slope
            terms.append(gradient.decay.expr)
        formula = sp.Add(*terms, evaluate=False)
        symbol = sp.Symbol(f"dE/d{gradient.name}")
        result = self.working.make(
            symbol,
            "gradient",
            "sum_of_terms" if len(gradient.chain) > 1 else "product",
            formula,
            gradient.precise,
            key=f"dE/d{gradient.name}",
            quantity=f"∂E_total/∂{gradient.name}",
            subject=gradient.name,
            of=graph.total,
            wrt=gradient.symbol,
        )
        return GradientSteps(gradient, deltas, links, result)

    def needed_deltas(self, gradient: Gradient) -> list[Delta]:
        """The δs this gradient uses that the reader has not met yet, upper layers first."""
        needed: dict[sp.Symbol, Delta] = {}

        def visit(delta: Delta) -> None:
            if delta.symbol in self.introduced or delta.symbol in needed:
                return
            for factor in delta.factors:
                for above, _ in factor.paths:
                    if above.rule == "delta":  # not the path through an output's own error
                        visit(self.delta_of[above.expr])
            needed[delta.symbol] = delta

        for term in gradient.chain:
            visit(self.derivation.deltas[term.example][term.neuron.layer][term.neuron.index])
        return sorted(needed.values(), key=lambda d: (-d.neuron.layer, d.example, d.neuron.index))

    @cached_property
    def delta_of(self) -> dict[sp.Symbol, Delta]:
        return {d.symbol: d for per_example in self.derivation.deltas for row in per_example for d in row}

    def delta(self, delta: Delta) -> DeltaSteps:
        """δ = the product of its factors, each a step of its own unless the detail is brief."""
        self.introduced.add(delta.symbol)
        if len(delta.factors) == 1:  # softmax: the one factor ∂E_total/∂net is δ itself
            (factor,) = delta.factors
            step = self.factor(factor, kind="delta", symbol=delta.symbol, key=step_key(self.graph.names[delta.symbol]))
            return DeltaSteps(delta, (step,), step)
        if self.working.brief:  # one line: δ = (its factors' formulas, multiplied)
            formula = sp.Mul(*(factor.expr for factor in delta.factors), evaluate=False)
            return DeltaSteps(delta, (), self.working.make(delta.symbol, "delta", "product", formula, delta.precise))
        factors = tuple(self.factor(factor) for factor in delta.factors)
        formula = sp.Mul(*(step.symbol for step in factors), evaluate=False)
        step = self.working.make(delta.symbol, "delta", "product", formula, delta.precise)
        return DeltaSteps(delta, factors, step)

    def factor(
        self,
        factor: Factor,
        *,
        kind: str = "factor",
        symbol: sp.Symbol | None = None,
        key: str | None = None,
        subject: str = "",
    ) -> Step:
        """∂of/∂wrt as a step: its symbol prints as the partial derivative."""
        of, wrt = self.graph.names[factor.of], self.graph.names[factor.wrt]
        example = of.example if of.example is not None else wrt.example
        key = key or factor_key(of, wrt, example)
        symbol = symbol or sp.Symbol(key)
        plain = [symbol_text(SymbolName(n.kind, n.subscript, None, n.updated)) for n in (of, wrt)]
        quantity = f"∂{plain[0]}/∂{plain[1]}"
        return self.working.make(
            symbol,
            kind,
            factor.rule,
            factor.expr,
            factor.precise,
            key=key,
            quantity=quantity,
            example=example,
            subject=subject or (wrt.subscript if of.kind == "E" else of.subscript),
            of=factor.of,
            wrt=factor.wrt,
        )


# -- the update -------------------------------------------------------------------------------


def update_steps(working: Working, only: Sequence[str], backward: Sequence[GradientSteps]) -> list[Step]:
    """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value (no blank)."""
    derivation, graph = working.derivation, working.graph
    gradients = {step.result.key: step.result for step in backward}
    steps = []
    for name in derivation.gradients:
        if only and name not in only:
            continue
        symbol = graph.parameters[name]
        trainable = derivation.trainable(name)
        # θ⁺ = θ + β·Δθ − η·∂E/∂θ (rules.updated), the gradient holding λ·w, Δθ the update before's
        names = {PARAMETER: symbol, GRADIENT: gradients[f"dE/d{name}"].symbol, PREVIOUS_CHANGE: graph.change(symbol)}
        formula = (
            _written(updated(momentum=bool(derivation.spec.momentum), decay=False), names) if trainable else symbol
        )
        steps.append(
            working.make(
                graph.updated(symbol),
                "update",
                "gradient_descent" if trainable else "fixed",
                formula,
                derivation.updated[name],
                subject=name,
                blank=trainable,
            )
        )
    return steps


def _written(rule: sp.Expr, names: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """A rule with its symbols replaced, the sum flattened into one (θ + β·Δθ − η·g), nothing evaluated."""
    if isinstance(rule, sp.Add):
        terms = [_written(term, names) for term in rule.args]
        flat = [part for term in terms for part in (term.args if isinstance(term, sp.Add) else (term,))]
        return sp.Add(*flat, evaluate=False)
    if isinstance(rule, sp.Mul):
        return sp.Mul(*(_written(factor, names) for factor in rule.args), evaluate=False)
    return names.get(rule, rule)


def after_update(working: Working, updates: Sequence[Step]) -> tuple[list[ExampleSteps], Step, dict[sp.Symbol, Number]]:
    """A new forward pass with the updated parameters, and E_total after the update.

    Its steps are the forward pass's with every parameter and quantity marked ⁺ (``net_h1+``,
    ``out_h1+``, ``E_o1+``); they are not blanks.  Parameters the document does not update
    are given their exact θ⁺.
    """
    derivation, graph = working.derivation, working.graph
    stepped = Derivation(derivation.spec.with_parameters({n: to_fraction(v) for n, v in derivation.updated.items()}))
    # a fixed bias keeps its value, and its own symbol: b₁, not b₁⁺
    trained = [symbol for name, symbol in graph.parameters.items() if derivation.trainable(name)]
    plus = {symbol: graph.updated(symbol) for symbol in trained}
    for p in range(len(derivation.spec.examples)):
        for symbol in [*graph.errors[p], *(s for L in graph.net[p] + graph.out[p] for s in L)]:
            plus[symbol] = graph.updated(symbol)
        if graph.multi:
            plus[graph.example_loss[p]] = graph.updated(graph.example_loss[p])
    stepped_symbols = {step.symbol for step in updates}
    given = {
        updated: derivation.updated[symbol.name]
        for symbol, updated in plus.items()
        if symbol.name in derivation.updated and updated not in stepped_symbols
    }
    # the brief detail asks only for the error after the update, not for the whole pass again
    forward = [example_steps(working, p, stepped, plus, blank=not working.brief) for p in range(len(stepped.forward))]
    symbol = graph.updated(graph.total)
    step = working.make(symbol, "after", "forward_pass", renamed(total_formula(working), plus), stepped.loss)
    return forward, step, given


# -- the given values -------------------------------------------------------------------------


def given_values(working: Working) -> dict[sp.Symbol, Number]:
    """Inputs, targets, h_0, parameters, η, β, λ and the changes of the update before: the values no step computes."""
    derivation, graph = working.derivation, working.graph
    given = {symbol: derivation.values[symbol] for symbol in derivation.graph.parameters.values()}
    initial = getattr(graph, "initial_state", None)  # a recurrent layer's h_0, given by the file (unrolled graphs)
    for p in range(len(derivation.spec.examples)):
        given.update((s, derivation.values[s]) for s in graph.inputs[p] + graph.targets[p])
        given.update((s, derivation.values[s]) for s in (initial[p] if initial else ()))
    given[LEARNING_RATE] = derivation.spec_learning_rate
    spec = derivation.spec
    given[MOMENTUM] = sp.Rational(spec.momentum.numerator, spec.momentum.denominator)
    given[WEIGHT_DECAY] = sp.Rational(spec.weight_decay.numerator, spec.weight_decay.denominator)
    for name, change in derivation.previous_changes.items():
        given[graph.change(graph.parameters[name])] = change
    return given
