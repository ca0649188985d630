"""The steps of a derivation: every quantity the working computes, in the order a document asks for it.

A step is one line of hand working.  It has a **key** (``net_h1``, ``out_h1``, ``E_o1``,
``E_total``, ``dE/dout_o1``, ``dout_o1/dnet_o1``, ``delta_o1``, ``dnet_o1/dw5``, ``dE/dw5``,
``w5+``, ``E_total+``; with several examples a per-example quantity ends in ``@p``), its **blank**
number in the worksheet, the symbol it defines, the rule that gives it, its **formula** in the
symbols of the earlier steps it uses and of the given values, and its exact **value**.

Documents, grading, quizzes and the web page all read these steps.  Grading re-evaluates a step's
formula at a student's own earlier values, which is why the formula is SymPy and not only LaTeX.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from derive.core.chain import Derivation
from derive.core.factors import Delta, Factor, Gradient
from derive.core.functions import ACTIVATIONS
from derive.core.graph import MOMENTUM, WEIGHT_DECAY, Graph, SymbolName
from derive.core.numbers import Number, compile_expr, evaluate, to_fraction
from derive.core.printing import symbol_text
from derive.errors import DeriveError

# Beyond these sizes a document stops being readable; ``--only`` narrows the backward pass.
MAX_DOCUMENT_GRADIENTS = 40
MAX_DOCUMENT_NEURONS = 8
MAX_DOCUMENT_EXAMPLES = 4

LEARNING_RATE = sp.Symbol("eta")
# How much of the working a document shows: every gradient in full; each δ once (the default);
# the length of the classic blog post, each δ in one line of factors.
DETAILS = ("full", "standard", "brief")


@dataclass(frozen=True)
class Step:
    """One computed quantity: ``symbol = formula = value``, asked for in blank ``blank``.

    ``kind`` says what the quantity is (net, out, error, example_error, total, factor, delta,
    link, gradient, update, after); ``rule`` is the catalog key of the rule that gives it.
    """

    key: str
    blank: int | None
    symbol: sp.Symbol
    kind: str
    rule: str
    formula: sp.Expr
    value: Number
    quantity: str  # plain text: net_h1, ∂E_total/∂out_o1, δ_o1, w5⁺
    example: int | None = None  # 1-based, when the network has several examples
    subject: str = ""  # the neuron or parameter the quantity belongs to: h1, o1, w5
    after: bool = False  # a quantity of the forward pass after the step (net_h1+, E_total+)
    of: sp.Symbol | None = None  # a derivative ∂of/∂wrt: the graph symbols it relates
    wrt: sp.Symbol | None = None


@dataclass(frozen=True)
class NeuronSteps:
    """A neuron's net input and output in one example."""

    name: str
    net: Step
    out: Step


@dataclass(frozen=True)
class ExampleSteps:
    """One example's forward pass: every neuron, each output's error, and the example's error."""

    number: int | None
    layers: tuple[tuple[NeuronSteps, ...], ...]
    errors: tuple[Step, ...]
    total: Step | None
    order: tuple[Step, ...]  # every step in the order worked: a softmax layer's net inputs before its outputs


@dataclass(frozen=True)
class DeltaSteps:
    """A δ met for the first time: its factors' steps (in the order of ``delta.factors``), then δ.

    With a softmax output the δ is a single factor, ∂E_total/∂net, and ``step`` is that factor's.
    """

    delta: Delta
    factors: tuple[Step, ...]
    step: Step

    @property
    def coupled(self) -> bool:
        """Softmax: δ is the one factor ∂E_total/∂net."""
        return len(self.delta.factors) == 1

    @property
    def inline(self) -> bool:
        """The brief detail: the factors are written inside δ's one line, not as steps."""
        return not self.factors


@dataclass(frozen=True)
class GradientSteps:
    """A gradient's working: the δs it needs that are new, each term's link ∂net/∂θ, the result."""

    gradient: Gradient
    deltas: tuple[DeltaSteps, ...]
    links: tuple[Step, ...]
    result: Step

    @property
    def layer(self) -> int:
        return self.gradient.chain[0].neuron.layer


class Steps:
    """Every step of one derivation in document order, found by key or blank number."""

    def __init__(
        self,
        derivation: Derivation,
        forward: Sequence[ExampleSteps],
        total: Step,
        backward: Sequence[GradientSteps],
        updates: Sequence[Step],
        after_forward: Sequence[ExampleSteps],
        after: Step,
        given: Mapping[sp.Symbol, Number],
    ) -> None:
        self.derivation = derivation
        self.forward = tuple(forward)
        self.total = total
        self.backward = tuple(backward)
        self.updates = tuple(updates)
        self.after_forward = tuple(after_forward)  # the forward pass with the updated parameters
        self.after = after
        self.given = dict(given)  # inputs, targets, parameters, η, and any θ⁺ without a step
        self.by_key = {step.key: step for step in self}
        self.by_blank = {step.blank: step for step in self if step.blank is not None}
        self.by_symbol = {step.symbol: step for step in self}

    def __iter__(self) -> Iterator[Step]:
        yield from _forward_steps(self.forward)
        yield self.total
        for gradient in self.backward:
            for delta in gradient.deltas:
                yield from delta.factors
                if delta.step not in delta.factors:
                    yield delta.step
            yield from gradient.links
            yield gradient.result
        yield from self.updates
        yield from _forward_steps(self.after_forward)
        yield self.after

    def __len__(self) -> int:
        return len(self.by_key)

    @property
    def blanks(self) -> int:
        """How many blanks the worksheet has."""
        return len(self.by_blank)

    @cached_property
    def values(self) -> dict[sp.Symbol, Number]:
        """The exact value of every given symbol and of every step's symbol."""
        return {**self.given, **{step.symbol: step.value for step in self}}

    def find(self, key: str, *, what: str = "key") -> Step:
        """The step with this key, or with this blank number (``"12"``); a clear error otherwise."""
        text = key.strip()
        if text.isdigit() and int(text) in self.by_blank:
            return self.by_blank[int(text)]
        if text in self.by_key:
            return self.by_key[text]
        if text.isdigit():
            raise DeriveError(f"no blank {text}; the worksheet has blanks 1 to {self.blanks}", key=what)
        close = difflib.get_close_matches(text, list(self.by_key), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DeriveError(f"unknown {what} {text!r}{hint} (`derive keys` lists them)", key=what)

    def uses(self, step: Step) -> list[Step]:
        """The earlier steps whose values the step's formula takes, in document order."""
        used = step.formula.free_symbols
        return [other for other in self if other.symbol in used and other is not step]

    def evaluate(self, step: Step, values: Mapping[sp.Symbol, Number]) -> Number:
        """The step's formula at ``values`` for the symbols given there, exact values elsewhere."""
        free = tuple(sorted(step.formula.free_symbols, key=lambda symbol: symbol.name))
        function = compile_expr(step.formula, free)
        return evaluate(function, *(values.get(symbol, self.values[symbol]) for symbol in free))


def _forward_steps(examples: Sequence[ExampleSteps]) -> Iterator[Step]:
    for example in examples:
        yield from example.order


def step_key(name: SymbolName) -> str:
    """The key of a graph symbol: ``net_h1``, ``delta_o1``, ``E_total``, ``out_h1@2``, ``w5+``."""
    if name.kind == "E" and not name.subscript:
        base = "E_total"  # one example's error, E^{(p)}: as the JSON output's per-example E_total
    else:
        joiner = "" if name.kind in ("i", "w", "b") or not name.subscript else "_"
        base = f"{name.kind}{joiner}{name.subscript}"
    if name.updated:
        base += "+"
    return f"{base}@{name.example}" if name.example is not None else base


def factor_key(of: SymbolName, wrt: SymbolName, example: int | None) -> str:
    """``da/db`` for ∂a/∂b, and ``dE/db`` for ∂E_total/∂b; ``@p`` for example p."""
    plain = [step_key(SymbolName(name.kind, name.subscript, None, name.updated)) for name in (of, wrt)]
    top = "E" if plain[0] == "E_total" else plain[0]
    key = f"d{top}/d{plain[1]}"
    return f"{key}@{example}" if example is not None else key


def check_size(derivation: Derivation, only: Sequence[str]) -> None:
    """Refuse, with a way out, a network too large to work through readably."""
    spec = derivation.spec
    names = list(derivation.gradients)
    for name in only:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DeriveError(
                f"no parameter {name!r} in this network{hint} (it has {names[0]} to {names[-1]})", key="--only"
            )
    shown = len(only) if only else len(names)
    if shown > MAX_DOCUMENT_GRADIENTS:
        raise DeriveError(
            f"{shown} gradients are too many to print readably (at most {MAX_DOCUMENT_GRADIENTS}); "
            f"choose some with --only, e.g. --only {names[0]},{names[-1]}"
        )
    widest = max(layer.size for layer in spec.layers)
    if widest > MAX_DOCUMENT_NEURONS or spec.n_inputs > MAX_DOCUMENT_NEURONS:
        raise DeriveError(
            f"a layer of {max(widest, spec.n_inputs)} neurons is too wide to print readably "
            f"(at most {MAX_DOCUMENT_NEURONS}); use 'derive gradients' for its numbers"
        )
    if len(spec.examples) > MAX_DOCUMENT_EXAMPLES:
        raise DeriveError(
            f"{len(spec.examples)} examples are too many to print readably (at most {MAX_DOCUMENT_EXAMPLES}); "
            "use 'derive gradients' for their numbers"
        )


def build_steps(derivation: Derivation, only: Sequence[str] = (), detail: str = "standard") -> Steps:
    """The steps of a derivation, numbered in document order; ``only`` limits the backward pass.

    ``detail="brief"`` works each δ in one line: its factors are not steps of their own.
    """
    if detail not in DETAILS:
        raise DeriveError(f"unknown detail {detail!r} (expected one of: {', '.join(DETAILS)})", key="--detail")
    check_size(derivation, only)
    return _Walk(derivation, brief=detail == "brief").steps(only)


def is_copy(formula: sp.Expr) -> bool:
    """A formula that only repeats a value already written or given (out_h1, i_1, the constant 1)."""
    return isinstance(formula, sp.Symbol | sp.Number)


class _Walk:
    """Walks a derivation once, in the order a textbook works it, numbering each blank."""

    def __init__(self, derivation: Derivation, *, brief: bool = False) -> None:
        self.derivation = derivation
        self.graph: Graph = derivation.graph
        self.brief = brief
        self.blank = 0
        self.introduced: set[sp.Symbol] = set()

    def steps(self, only: Sequence[str]) -> Steps:
        forward = [self.example(p) for p in range(len(self.derivation.forward))]
        total = self.total()
        backward = self.backward(only)
        updates = self.updates(only, backward)
        after_forward, after, given_updates = self.after(updates)
        derivation = self.derivation
        given = {symbol: derivation.values[symbol] for symbol in derivation.graph.parameters.values()}
        for p in range(len(derivation.spec.examples)):
            given.update((s, derivation.values[s]) for s in self.graph.inputs[p] + self.graph.targets[p])
        given[LEARNING_RATE] = derivation.spec_learning_rate
        spec = derivation.spec
        given[MOMENTUM] = sp.Rational(spec.momentum.numerator, spec.momentum.denominator)
        given[WEIGHT_DECAY] = sp.Rational(spec.weight_decay.numerator, spec.weight_decay.denominator)
        for name, change in derivation.previous_changes.items():
            given[self.graph.change(self.graph.parameters[name])] = change
        given.update(given_updates)
        return Steps(derivation, forward, total, backward, updates, after_forward, after, given)

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

    # -- forward ----------------------------------------------------------------------------

    def example(
        self,
        p: int,
        derivation: Derivation | None = None,
        plus: Mapping[sp.Symbol, sp.Symbol] | None = None,
        *,
        blank: bool = True,
    ) -> ExampleSteps:
        """Example p's forward pass; with ``plus``, the pass after the step (its symbols marked ⁺)."""
        graph, spec = self.graph, self.derivation.spec
        values = (derivation or self.derivation).forward[p]

        def rename(expr: sp.Expr) -> sp.Expr:
            if plus is None:
                return expr
            with sp.evaluate(False):  # keep the forms as written: w·x + b·1
                return expr.xreplace(plus)

        order: list[Step] = []

        def make(symbol: sp.Symbol, kind: str, rule: str, formula: sp.Expr, value: Number) -> Step:
            step = self.make(rename(symbol), kind, rule, rename(formula), value, blank=blank)
            order.append(step)
            return step

        layers = []
        for L, neurons in enumerate(graph.neurons):
            activation = spec.layers[L].activation
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
            for j in range(spec.n_outputs)
        )
        total = None
        if graph.multi:
            formula = sp.Add(*graph.errors[p], evaluate=False)
            total = make(graph.example_loss[p], "example_error", "sum", formula, values.loss)
        return ExampleSteps(p + 1 if graph.multi else None, tuple(layers), errors, total, tuple(order))

    def total_formula(self) -> sp.Expr:
        """E_total from the outputs' errors, or from the examples' errors when there are several."""
        graph = self.graph
        if not graph.multi:
            return graph.total_definition()
        per_example = sp.Add(*graph.example_loss, evaluate=False)
        scale = graph.reduction_scale()
        return per_example if scale == 1 else sp.Mul(scale, per_example, evaluate=False)

    def total(self) -> Step:
        rule = "mean" if self.graph.reduction_scale() != 1 else "sum"
        return self.make(self.graph.total, "total", rule, self.total_formula(), self.derivation.loss)

    # -- backward ---------------------------------------------------------------------------

    def backward(self, only: Sequence[str]) -> list[GradientSteps]:
        derivation = self.derivation
        found = []
        for L in reversed(range(len(derivation.spec.layers))):
            for name, gradient in derivation.gradients.items():
                if gradient.chain[0].neuron.layer == L and (not only or name in only):
                    found.append(self.gradient(gradient))
        return found

    def gradient(self, gradient: Gradient) -> GradientSteps:
        derivation, graph = self.derivation, self.graph
        deltas = tuple(self.delta(delta) for delta in self.needed_deltas(gradient))
        links = (
            ()
            if self.brief
            else tuple(self.factor(term.factors[-1], kind="link", subject=gradient.name) for term in gradient.chain)
        )
        own = [derivation.deltas[t.example][t.neuron.layer][t.neuron.index] for t in gradient.chain]
        terms = [sp.Mul(d.symbol, t.factors[-1].expr, evaluate=False) for d, t in zip(own, gradient.chain, strict=True)]
        if gradient.decay is not None:  # weight decay: + λ·w, the penalty's own slope
            terms.append(gradient.decay.expr)
        formula = sp.Add(*terms, evaluate=False)
        symbol = sp.Symbol(f"dE/d{gradient.name}")
        result = self.make(
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
                    visit(self.delta_of[above.expr])
            needed[delta.symbol] = delta

        for term in gradient.chain:
            visit(self.derivation.deltas[term.example][term.neuron.layer][term.neuron.index])
        return sorted(needed.values(), key=lambda d: (-d.neuron.layer, d.example, d.neuron.index))

    @cached_property
    def delta_of(self) -> dict[sp.Symbol, Delta]:
        return {d.symbol: d for per_example in self.derivation.deltas for row in per_example for d in row}

    def delta(self, delta: Delta) -> DeltaSteps:
        self.introduced.add(delta.symbol)
        if len(delta.factors) == 1:  # softmax: the one factor ∂E_total/∂net is δ itself
            (factor,) = delta.factors
            step = self.factor(factor, kind="delta", symbol=delta.symbol, key=step_key(self.graph.names[delta.symbol]))
            return DeltaSteps(delta, (step,), step)
        if self.brief:  # one line: δ = (its factors' formulas, multiplied)
            formula = sp.Mul(*(factor.expr for factor in delta.factors), evaluate=False)
            return DeltaSteps(delta, (), self.make(delta.symbol, "delta", "product", formula, delta.precise))
        factors = tuple(self.factor(factor) for factor in delta.factors)
        formula = sp.Mul(*(step.symbol for step in factors), evaluate=False)
        step = self.make(delta.symbol, "delta", "product", formula, delta.precise)
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
        return self.make(
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

    # -- the step ---------------------------------------------------------------------------

    def updates(self, only: Sequence[str], backward: Sequence[GradientSteps]) -> list[Step]:
        """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value (no blank)."""
        derivation, graph = self.derivation, self.graph
        gradients = {step.result.key: step.result for step in backward}
        steps = []
        for name in derivation.gradients:
            if only and name not in only:
                continue
            symbol = graph.parameters[name]
            trainable = derivation.trainable(name)
            gradient_symbol = gradients[f"dE/d{name}"].symbol
            descent = sp.Mul(-1, LEARNING_RATE, gradient_symbol, evaluate=False)
            if not trainable:
                formula = symbol
            elif derivation.spec.momentum:  # θ⁺ = θ + β·Δθ − η·∂E/∂θ, Δθ the change of the update before
                carried = sp.Mul(MOMENTUM, graph.change(symbol), evaluate=False)
                formula = sp.Add(symbol, carried, descent, evaluate=False)
            else:
                formula = sp.Add(symbol, descent, evaluate=False)
            steps.append(
                self.make(
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

    def after(self, updates: Sequence[Step]) -> tuple[list[ExampleSteps], Step, dict[sp.Symbol, Number]]:
        """A new forward pass with the updated parameters, and E_total after the step.

        Its steps are the forward pass's with every parameter and quantity marked ⁺ (``net_h1+``,
        ``out_h1+``, ``E_o1+``); they are not blanks.  Parameters the document does not update
        are given their exact θ⁺.
        """
        derivation, graph = self.derivation, self.graph
        stepped = Derivation(
            derivation.spec.with_parameters({n: to_fraction(v) for n, v in derivation.updated.items()})
        )
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
        # the brief detail asks only for the error after the step, not for the whole pass again
        forward = [self.example(p, stepped, plus, blank=not self.brief) for p in range(len(stepped.forward))]
        symbol = graph.updated(graph.total)
        with sp.evaluate(False):
            formula = self.total_formula().xreplace(plus)
        step = self.make(symbol, "after", "forward_pass", formula, stepped.loss)
        return forward, step, given
