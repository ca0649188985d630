"""The derivation as a document: every line of working, in LaTeX, in the order a textbook gives it.

The renderer's templates only format what is built here: each :class:`Equation` carries its
left side, its formula, the formula with the numbers substituted and the value, all as LaTeX
strings produced by :class:`~derive.printing.TextbookPrinter` from the derivation's expressions.
Each computed value has an answer number, so a worksheet can leave it blank and the solutions
can show it under the same number.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from derive.chain import Delta, Derivation, Factor, Gradient
from derive.errors import DeriveError
from derive.functions import ACTIVATIONS
from derive.graph import SymbolName
from derive.numbers import DEFAULT_DIGITS, Number, format_number, to_fraction
from derive.printing import TextbookPrinter, number_latex, partial_latex, symbol_latex, symbol_text

# Beyond these sizes a document stops being readable; ``--only`` narrows the backward pass.
MAX_DOCUMENT_GRADIENTS = 40
MAX_DOCUMENT_NEURONS = 8
MAX_DOCUMENT_EXAMPLES = 4


@dataclass
class Equation:
    """``lhs = formula = substituted = value``; ``terms`` splits the substitution for line breaks."""

    lhs: str
    formula: str
    substituted: str
    value: str
    answer: int
    formula_terms: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    note: str = ""  # a catalog key, e.g. "rounded"


@dataclass
class FactorStep:
    """One factor of a chain, derived: the rule that gives it, then its equation."""

    rule: str
    equation: Equation
    paths: list[str] = field(default_factory=list)  # a hidden neuron's ∂E/∂out, path by path


@dataclass
class DeltaStep:
    """δ of one neuron in one example: its factors, then δ as their product."""

    symbol: str
    neuron: str
    example: int | None
    factors: list[FactorStep]
    equation: Equation
    meaning: str  # LaTeX: ∂E_total/∂net of the neuron, which δ stands for
    coupled: bool = False  # softmax: one factor ∂E/∂net


@dataclass
class GradientStep:
    """∂E_total/∂θ: the chain-rule statement, the δs it needs, the links ∂net/∂θ, the result."""

    name: str
    symbol: str
    lhs: str
    statement: list[str]  # one product of ∂ factors per term
    deltas: list[DeltaStep]
    links: list[FactorStep]
    result: Equation
    shared_bias: bool
    trainable: bool
    graph: ComputationGraph


@dataclass
class GraphNode:
    """A node of a gradient's computation graph, ``level`` steps up from the parameter."""

    id: str
    label: str  # LaTeX
    text: str  # plain text, for Mermaid
    level: int
    x: float  # across the level, centred on 0


@dataclass
class GraphEdge:
    """An edge from ``source`` towards E_total, labelled with its local derivative ∂target/∂source."""

    source: str
    target: str
    derivative: str  # LaTeX: \partial net_{o1} / \partial w_{5}
    label: str  # LaTeX: the derivative = 0.593269992
    text: str  # plain text, for Mermaid
    value: str
    side: str  # left or right of the edge
    position: float  # where along the edge: slanted edges stagger their labels so that crossing ones part


@dataclass
class ComputationGraph:
    """The paths from a parameter forward to E_total; backpropagation multiplies along them."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    example: int | None  # the example drawn, when there are several


@dataclass
class LayerSection:
    name: str
    output: bool
    gradients: list[GradientStep]


@dataclass
class UpdateStep:
    name: str
    trainable: bool
    equation: Equation


@dataclass
class NeuronStep:
    name: str
    net: Equation
    out: Equation


@dataclass
class ExampleForward:
    """One example's forward pass and errors."""

    number: int | None
    inputs: list[tuple[str, str]]
    targets: list[tuple[str, str]]
    layers: list[list[NeuronStep]]
    errors: list[Equation]
    total: Equation | None


@dataclass
class DiagramNode:
    id: str
    label: str  # LaTeX
    text: str  # plain text, for Mermaid
    x: float
    y: float
    kind: str  # input, neuron, bias


@dataclass
class DiagramEdge:
    source: str
    target: str
    label: str  # LaTeX: w_{5} = 0.4
    weight: str
    value: str


@dataclass
class Parameter:
    """A row of the table of initial values: ``w_{5}``, h1 → o1, 0.4."""

    name: str
    symbol: str
    sources: list[str]
    targets: list[str]
    value: str


@dataclass
class MatrixLayer:
    """One layer of the vectorised derivation: δ, ∂E/∂W and ∂E/∂b, per example and summed."""

    name: str
    output: bool
    kind: str  # output, softmax or hidden: which sentence introduces the error signals
    deltas: list[Equation]  # one per example
    weights: list[Equation]  # one per example, then their sum when there are several
    bias: list[Equation]
    entry: dict[str, str]  # the sentence linking an entry to its scalar chain


@dataclass
class Curve:
    """E_total over a training run: the points to draw, whether to use a log scale, the last value."""

    points: list[tuple[int, str]]
    log: bool
    steps: int
    last: str


def curve(history: Sequence[float], digits: int) -> Curve:
    """The points worth drawing: every one of the first ten steps, then about a hundred evenly spread."""
    steps = len(history) - 1
    shown = sorted(set(range(min(steps, 10) + 1)) | {round(k * steps / 100) for k in range(101)})
    points = [(step, repr(float(history[step]))) for step in shown]
    positive = [value for value in history if value > 0]
    log = bool(positive) and max(positive) / min(positive) > 100  # a log scale where the error spans decades
    return Curve(points, log, steps, format_number(history[-1], digits))


@dataclass
class Document:
    """Everything a template shows."""

    name: str
    notation: str
    digits: int
    shape: str
    loss: str
    reduction: str
    learning_rate: str
    train_biases: bool
    round_activations: int | None
    layers: list[dict[str, str]]
    parameters: list[Parameter]
    examples: list[ExampleForward]
    total: Equation
    backward: list[LayerSection]
    updates: list[UpdateStep]
    loss_after: Equation
    change: str
    loss_rose: bool
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]
    only: list[str]
    matrix: list[MatrixLayer] = field(default_factory=list)
    curve: Curve | None = None
    answers: int = 0

    def key_equations(self) -> list[Equation]:
        """The figures a teacher checks first: E_total, every gradient, every update, E_total after."""
        gradients = [step.result for section in self.backward for step in section.gradients]
        updates = [update.equation for update in self.updates if update.trainable]
        return [self.total, *gradients, *updates, self.loss_after]

    def answer_values(self) -> dict[int, str]:
        """Each blank's number and the value that fills it."""
        return {equation.answer: equation.value for equation in self.equations()}

    def equations(self) -> Iterator[Equation]:
        """Every equation, in the order of the document (and of the answer numbers)."""
        for example in self.examples:
            for row in example.layers:
                for neuron in row:
                    yield neuron.net
                    yield neuron.out
            yield from example.errors
            if example.total is not None:
                yield example.total
        yield self.total
        for section in self.backward:
            for gradient in section.gradients:
                for delta in gradient.deltas:
                    yield from (factor.equation for factor in delta.factors)
                    yield delta.equation
                yield from (link.equation for link in gradient.links)
                yield gradient.result
        yield from (update.equation for update in self.updates)
        yield self.loss_after


class _Builder:
    """Walks a derivation once, numbering every computed value as it goes."""

    def __init__(self, derivation: Derivation, notation: str, digits: int) -> None:
        self.derivation = derivation
        self.graph = derivation.graph
        self.spec = derivation.spec
        self.digits = digits
        self.symbols = TextbookPrinter(self.graph.names, notation)
        self.numbers = TextbookPrinter(self.graph.names, notation, derivation.values, digits)
        self.answer = 0
        self.introduced: set[sp.Symbol] = set()

    def latex(self, expr: sp.Expr) -> str:
        return self.symbols.doprint(expr)

    def show(self, value: Number | float) -> str:
        return format_number(value, self.digits)

    def equation(self, lhs: str, formula: sp.Expr | str, value: Number, *, substituted: str | None = None) -> Equation:
        self.answer += 1
        formula_text = formula if isinstance(formula, str) else self.latex(formula)
        if substituted is None:
            substituted = "" if isinstance(formula, str) else self.numbers.doprint(formula)
        shown = self.show(value)
        if substituted in (shown, number_latex(value, self.digits), formula_text):
            substituted = ""
        if formula_text == shown:  # ∂net/∂b = 1: nothing to show but the value
            formula_text = ""
        equation = Equation(lhs, formula_text, substituted, shown, self.answer)
        if isinstance(formula, sp.Add) and len(formula.args) > 3:
            # long sums get broken across lines in LaTeX: keep their terms apart
            formula_terms = [self.latex(term) for term in formula.args]
            number_terms = [self.numbers.doprint(term) for term in formula.args]
            if not any(text.startswith("-") for text in formula_terms + number_terms):
                equation.formula_terms, equation.terms = formula_terms, number_terms
        return equation

    def partial(self, factor: Factor) -> str:
        return partial_latex(self.latex(factor.of), self.latex(factor.wrt))

    # -- forward ----------------------------------------------------------------------------

    def forward(self) -> list[ExampleForward]:
        graph, spec = self.graph, self.spec
        results = []
        for p, values in enumerate(self.derivation.forward):
            layers = []
            for L, neurons in enumerate(graph.neurons):
                row = []
                for j, neuron in enumerate(neurons):
                    net = self.equation(self.latex(graph.net[p][L][j]), graph.net_definition(p, L, j), values.net[L][j])
                    out = self.equation(self.latex(graph.out[p][L][j]), graph.out_definition(p, L, j), values.out[L][j])
                    if spec.round_activations is not None and L < len(spec.layers) - 1:
                        out.note = "rounded"
                    row.append(NeuronStep(neuron.name, net, out))
                layers.append(row)
            errors = [
                self.equation(self.latex(graph.errors[p][j]), graph.error_definition(p, j), values.errors[j])
                for j in range(spec.n_outputs)
            ]
            total = None
            if graph.multi:
                total = self.equation(
                    self.latex(graph.example_loss[p]), sp.Add(*graph.errors[p], evaluate=False), values.loss
                )
            results.append(
                ExampleForward(
                    p + 1 if graph.multi else None,
                    [
                        (self.latex(s), self.show(v))
                        for s, v in ((s, self.derivation.values[s]) for s in graph.inputs[p])
                    ],
                    [
                        (self.latex(s), self.show(v))
                        for s, v in ((s, self.derivation.values[s]) for s in graph.targets[p])
                    ],
                    layers,
                    errors,
                    total,
                )
            )
        return results

    def total(self) -> Equation:
        graph = self.graph
        if graph.multi:
            per_example = sp.Add(*graph.example_loss, evaluate=False)
            scale = graph.reduction_scale()
            formula = per_example if scale == 1 else sp.Mul(scale, per_example, evaluate=False)
            return self.equation(self.latex(graph.total), formula, self.derivation.loss)
        return self.equation(self.latex(graph.total), graph.total_definition(), self.derivation.loss)

    # -- backward ---------------------------------------------------------------------------

    def factor_step(self, factor: Factor) -> FactorStep:
        equation = self.equation(self.partial(factor), factor.expr, factor.precise)
        paths = [rf"{self.partial(a)} \cdot {self.partial(b)}" for a, b in factor.paths]
        return FactorStep(factor.rule, equation, paths)

    def delta_step(self, delta: Delta) -> DeltaStep:
        factors = [self.factor_step(factor) for factor in delta.factors]
        symbol = self.latex(delta.symbol)
        net = self.graph.net[delta.example][delta.neuron.layer][delta.neuron.index]
        meaning = partial_latex(self.latex(self.graph.total), self.latex(net))
        example = self._example(delta.example)
        self.introduced.add(delta.symbol)
        if len(delta.factors) == 1:
            equation = Equation(symbol, "", "", self.show(delta.precise), factors[0].equation.answer)
            return DeltaStep(symbol, delta.neuron.name, example, factors, equation, meaning, coupled=True)
        formula = r" \cdot ".join(self.partial(factor) for factor in delta.factors)
        substituted = r" \cdot ".join(number_latex(factor.precise, self.digits) for factor in delta.factors)
        equation = self.equation(f"{symbol} = {meaning}", formula, delta.precise, substituted=substituted)
        return DeltaStep(symbol, delta.neuron.name, example, factors, equation, meaning)

    def _example(self, p: int) -> int | None:
        return p + 1 if self.graph.multi else None

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

    def gradient_step(self, gradient: Gradient) -> GradientStep:
        derivation, graph = self.derivation, self.graph
        lhs = partial_latex(self.latex(graph.total), self.latex(gradient.symbol))
        statement = [r" \cdot ".join(self.partial(f) for f in term.factors) for term in gradient.chain]
        deltas = [self.delta_step(delta) for delta in self.needed_deltas(gradient)]
        links = [self.factor_step(term.factors[-1]) for term in gradient.chain]
        own = [derivation.deltas[t.example][t.neuron.layer][t.neuron.index] for t in gradient.chain]
        formula = sp.Add(
            *(sp.Mul(d.symbol, t.factors[-1].expr, evaluate=False) for d, t in zip(own, gradient.chain, strict=True)),
            evaluate=False,
        )
        result = self.equation(lhs, formula, gradient.precise)
        shared = gradient.name.startswith("b") and len({t.neuron for t in gradient.chain}) > 1
        symbol = self.latex(gradient.symbol)
        return GradientStep(
            gradient.name,
            symbol,
            lhs,
            statement,
            deltas,
            links,
            result,
            shared,
            self.derivation.trainable(gradient.name),
            self.computation_graph(gradient),
        )

    def computation_graph(self, gradient: Gradient) -> ComputationGraph:
        """Every path from θ to E_total in the first example, each edge with its local derivative."""
        graph, spec, derivation = self.graph, self.spec, self.derivation
        p = 0
        nodes: dict[sp.Symbol, GraphNode] = {}
        edges: list[GraphEdge] = []

        def node(symbol: sp.Symbol, level: int, x: float) -> sp.Symbol:
            if symbol not in nodes:
                name = graph.names[symbol]
                text = symbol_text(name, self.symbols.net_label)
                nodes[symbol] = GraphNode(str(symbol), self.latex(symbol), text, level, x)
            return symbol

        def edge(source: sp.Symbol, target: sp.Symbol, value: Number) -> None:
            of, wrt = self.latex(target), self.latex(source)
            shown = self.show(value)
            derivative = rf"\partial {of} / \partial {wrt}"
            label = f"{derivative} = {shown}"
            text = f"∂{nodes[target].text}/∂{nodes[source].text} = {shown}"
            start, end = nodes[source].x, nodes[target].x
            if start == end:  # vertical: the label on the outer side, leaving the middle to slanted edges
                side, position = ("left" if start < 0 else "right"), 0.5
            else:
                side, position = "right", (0.3 if end > start else 0.7)
            edges.append(GraphEdge(str(source), str(target), derivative, label, text, shown, side, position))

        terms = [term for term in gradient.chain if term.example == p]
        first = terms[0].neuron.layer
        last = len(spec.layers) - 1
        start = node(gradient.symbol, 0, 0.0)
        column = 1
        present: dict[int, list[int]] = {}
        for L in range(first, last + 1):
            present[L] = [t.neuron.index for t in terms] if L == first else list(range(spec.layers[L].size))
            coupled = ACTIVATIONS[spec.layers[L].activation].coupled
            for position, j in enumerate(present[L]):
                centre = position - (len(present[L]) - 1) / 2
                net = node(graph.net[p][L][j], column, centre)
                if L == first:
                    link = next(t for t in terms if t.neuron.index == j).factors[-1]
                    edge(start, net, link.precise)
                else:
                    for k in present[L - 1]:
                        source = graph.out[p][L - 1][k]
                        edge(source, net, derivation.parameters[str(graph.weights[L][j][k])])
                if not coupled:
                    out = node(graph.out[p][L][j], column + 1, centre)
                    edge(net, out, derivation.deltas[p][L][j].factors[-1].precise)
            column += 1 if coupled else 2
        total = node(graph.total, column, 0.0)
        for j in present[last]:
            delta = derivation.deltas[p][last][j]
            if ACTIVATIONS[spec.layers[last].activation].coupled:
                edge(graph.net[p][last][j], total, delta.precise)
            else:
                edge(graph.out[p][last][j], total, delta.factors[0].precise)
        return ComputationGraph(list(nodes.values()), edges, 1 if graph.multi else None)

    @cached_property
    def delta_of(self) -> dict[sp.Symbol, Delta]:
        return {d.symbol: d for per_example in self.derivation.deltas for row in per_example for d in row}

    def backward(self, only: Sequence[str]) -> list[LayerSection]:
        derivation = self.derivation
        sections = []
        for L in reversed(range(len(self.spec.layers))):
            names = [
                name
                for name, gradient in derivation.gradients.items()
                if gradient.chain[0].neuron.layer == L and (not only or name in only)
            ]
            if names:
                steps = [self.gradient_step(derivation.gradients[name]) for name in names]
                sections.append(LayerSection(self.spec.layers[L].name, L == len(self.spec.layers) - 1, steps))
        return sections

    def updates(self, only: Sequence[str]) -> list[UpdateStep]:
        """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value."""
        derivation, graph = self.derivation, self.graph
        rate = number_latex(derivation.spec_learning_rate, self.digits)
        steps = []
        for name, gradient in derivation.gradients.items():
            if only and name not in only:
                continue
            symbol = graph.parameters[name]
            before = derivation.parameters[name]
            trainable = derivation.trainable(name)
            if trainable:
                self.answer += 1
                formula = (
                    rf"{self.latex(symbol)} - \eta \cdot {partial_latex(self.latex(graph.total), self.latex(symbol))}"
                )
                substituted = (
                    rf"{number_latex(before, self.digits)} - {rate} \cdot {number_latex(gradient.precise, self.digits)}"
                )
            else:
                formula, substituted = self.latex(symbol), ""
            equation = Equation(
                self.latex(graph.updated(symbol)),
                formula,
                substituted,
                self.show(derivation.updated[name]),
                self.answer if trainable else 0,  # a fixed parameter leaves no blank to fill
            )
            steps.append(UpdateStep(name, trainable, equation))
        return steps

    def after(self) -> tuple[Equation, str, bool]:
        derivation = self.derivation
        stepped = derivation.spec.with_parameters({n: to_fraction(v) for n, v in derivation.updated.items()})
        loss = Derivation(stepped).loss
        self.answer += 1
        equation = Equation(self.latex(self.graph.total) + "^{+}", "", "", self.show(loss), self.answer)
        return equation, self.show(loss - derivation.loss), loss > derivation.loss

    # -- the matrix form ------------------------------------------------------------------------

    def matrix_form(self) -> list[MatrixLayer]:
        """δ = ∇E ⊙ f'(net) at the output, δ = (Wᵀ δ_next) ⊙ f'(net) below, ∂E/∂W = δ xᵀ."""
        spec, graph, derivation = self.spec, self.graph, self.derivation
        last = len(spec.layers) - 1
        layers = []
        for L in reversed(range(len(spec.layers))):
            layer = spec.layers[L]
            activation = ACTIVATIONS[layer.activation]
            name = _escaped(layer.name)
            vector = rf"\boldsymbol{{\delta}}_{{{name}}}"
            weights = rf"W_{{{name}}}"
            below = r"\mathbf{i}" if L == 0 else rf"\mathbf{{out}}_{{{_escaped(spec.layers[L - 1].name)}}}"
            deltas, gradients, biases = [], [], []
            totals = [[0] * layer.fan_in for _ in range(layer.size)]
            for p in range(len(spec.examples)):
                suffix = f"^{{({p + 1})}}" if graph.multi else ""
                slope = rf"{activation.latex}'(\mathbf{{{self.symbols.net_label}}}_{{{name}}}{suffix})"
                rows = derivation.deltas[p][L]
                delta_values = [d.precise for d in rows]
                slopes = [d.factors[-1].precise for d in rows]
                if L == last and activation.coupled:
                    formula, substituted = self._softmax_matrix(p, L)
                elif L == last:
                    formula = rf"\nabla_{{\mathbf{{out}}_{{{name}}}{suffix}}} E_{{total}} \odot {slope}"
                    substituted = rf"{self.vector([d.factors[0].precise for d in rows])} \odot {self.vector(slopes)}"
                else:
                    above = _escaped(spec.layers[L + 1].name)
                    formula = (
                        rf"\left(W_{{{above}}}^{{\top}} \boldsymbol{{\delta}}_{{{above}}}{suffix}\right) \odot {slope}"
                    )
                    transpose = [list(column) for column in zip(*self._weights(L + 1), strict=True)]
                    deltas_above = [d.precise for d in derivation.deltas[p][L + 1]]
                    product = f"{self.matrix(transpose)} {self.vector(deltas_above)}"
                    substituted = rf"\left({product}\right) \odot {self.vector(slopes)}"
                deltas.append(Equation(vector + suffix, formula, substituted, self.vector(delta_values), 0))
                inputs = [self.derivation.values[s] for s in graph.layer_inputs(p, L)]
                outer = [[d * x for x in inputs] for d in delta_values]
                totals = [[a + b for a, b in zip(r, o, strict=True)] for r, o in zip(totals, outer, strict=True)]
                gradient_lhs = partial_latex(self.latex(graph.total), weights)
                gradients.append(
                    Equation(
                        rf"\left({gradient_lhs}\right){suffix}" if graph.multi else gradient_lhs,
                        rf"{vector}{suffix} \, {below}{suffix}{{}}^{{\top}}",
                        rf"{self.vector(delta_values)} {self.matrix([inputs])}",
                        self.matrix(outer),
                        0,
                    )
                )
            if graph.multi:
                lhs = partial_latex(self.latex(graph.total), weights)
                parts = " + ".join(rf"\left({lhs}\right)^{{({p + 1})}}" for p in range(len(spec.examples)))
                gradients.append(
                    Equation(partial_latex(self.latex(graph.total), weights), parts, "", self.matrix(totals), 0)
                )
            every = [[d.precise for d in derivation.deltas[p][L]] for p in range(len(spec.examples))]
            summed = [sum(column) for column in zip(*every, strict=True)]
            if layer.shared_bias:
                bias = self.latex(graph.biases[L][0])
                formula = (
                    rf"\mathbf{{1}}^{{\top}} \sum_p {vector}^{{(p)}}"
                    if graph.multi
                    else rf"\mathbf{{1}}^{{\top}} {vector}"
                )
                biases.append(
                    Equation(partial_latex(self.latex(graph.total), bias), formula, "", self.show(sum(summed)), 0)
                )
            else:
                formula = rf"\sum_p {vector}^{{(p)}}" if graph.multi else vector
                biases.append(
                    Equation(
                        partial_latex(self.latex(graph.total), rf"\mathbf{{b}}_{{{name}}}"),
                        formula,
                        "",
                        self.vector(summed),
                        0,
                    )
                )
            first = graph.weights[L][0][0]
            entry = {
                "matrix": partial_latex(self.latex(graph.total), weights),
                "chain": self._entry_chain(L),
                "gradient": partial_latex(self.latex(graph.total), self.latex(first)),
                "value": self.show(derivation.gradients[str(first)].precise),
            }
            kind = "hidden" if L < last else "softmax" if activation.coupled else "output"
            layers.append(MatrixLayer(layer.name, L == last, kind, deltas, gradients, biases, entry))
        return layers

    def _entry_chain(self, L: int) -> str:
        """Entry (1, 1) of ∂E/∂W as its scalar chain: δ · x, summed over the examples when several."""
        graph = self.graph
        if not graph.multi:
            return rf"{self.latex(graph.delta[0][L][0])} \cdot {self.latex(graph.layer_inputs(0, L)[0])}"
        delta = symbol_latex(SymbolName("delta", graph.neurons[L][0].name), self.symbols.net_label) + "^{(p)}"
        source = graph.layer_inputs(0, L)[0]
        plain = SymbolName(graph.names[source].kind, graph.names[source].subscript)
        return rf"\sum_p {delta} \cdot {symbol_latex(plain, self.symbols.net_label)}^{{(p)}}"

    def _softmax_matrix(self, p: int, L: int) -> tuple[str, str]:
        graph, derivation = self.graph, self.derivation
        name = _escaped(self.spec.layers[L].name)
        rows = derivation.deltas[p][L]
        if rows[0].factors[0].rule == "softmax_cross_entropy" and all(sum(e.targets) == 1 for e in self.spec.examples):
            outs = [derivation.values[s] for s in graph.out[p][L]]
            targets = [derivation.values[s] for s in graph.targets[p]]
            scale = graph.reduction_scale()
            factor = "" if scale == 1 else rf"\tfrac{{{scale.p}}}{{{scale.q}}} "
            formula = rf"{factor}\left(\mathbf{{out}}_{{{name}}} - \mathbf{{t}}\right)"
            return formula, rf"{factor}\left({self.vector(outs)} - {self.vector(targets)}\right)"
        return rf"J_{{\operatorname{{softmax}}}}^{{\top}} \nabla_{{\mathbf{{out}}_{{{name}}}}} E_{{total}}", ""

    def _weights(self, L: int) -> list[list[Number]]:
        return [[self.derivation.parameters[str(w)] for w in row] for row in self.graph.weights[L]]

    def vector(self, values: Sequence[Number]) -> str:
        return self.matrix([[value] for value in values])

    def matrix(self, rows: Sequence[Sequence[Number]]) -> str:
        body = r" \\ ".join(" & ".join(self.show(value) for value in row) for row in rows)
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"

    def parameter_rows(self, edges: Sequence[DiagramEdge]) -> list[Parameter]:
        rows = []
        for name, value in self.derivation.parameters.items():
            mine = [edge for edge in edges if edge.weight == name]
            sources = list(dict.fromkeys(edge.source for edge in mine if not name.startswith("b")))
            targets = [edge.target for edge in mine]
            symbol = self.latex(self.graph.parameters[name])
            rows.append(Parameter(name, symbol, sources, targets, self.show(value)))
        return rows

    # -- the network ------------------------------------------------------------------------

    def diagram(self) -> tuple[list[DiagramNode], list[DiagramEdge]]:
        graph, spec = self.graph, self.spec
        nodes: list[DiagramNode] = []
        edges: list[DiagramEdge] = []
        parameters = self.derivation.parameters
        columns = [[f"i{k + 1}" for k in range(spec.n_inputs)]] + [[n.name for n in row] for row in graph.neurons]
        tallest = max(len(column) for column in columns)
        for k in range(spec.n_inputs):
            nodes.append(DiagramNode(f"i{k + 1}", f"i_{{{k + 1}}}", f"i{k + 1}", 0.0, _row(k, spec.n_inputs), "input"))
        for L, row in enumerate(graph.neurons):
            for j, neuron in enumerate(row):
                label = f"{_escaped(spec.layers[L].name)}_{{{j + 1}}}"
                nodes.append(DiagramNode(neuron.name, label, neuron.name, L + 1.0, _row(j, len(row)), "neuron"))
                sources = columns[L]
                for k, weight in enumerate(graph.weights[L][j]):
                    value = self.show(parameters[str(weight)])
                    edges.append(
                        DiagramEdge(sources[k], neuron.name, f"{self.latex(weight)} = {value}", str(weight), value)
                    )
            biases = list(dict.fromkeys(graph.biases[L]))
            for b, bias in enumerate(biases):
                bias_id = str(bias)
                y = -(tallest + 1) / 2 - 0.5 * b  # below the tallest column
                value = self.show(parameters[bias_id])
                # the bias carries its value on its node: one label, however many neurons share it
                text = f"{bias_id} = {value}"
                nodes.append(DiagramNode(bias_id, f"{self.latex(bias)} = {value}", text, L + 0.5, y, "bias"))
                for j, neuron in enumerate(row):
                    if graph.biases[L][j] == bias:
                        edges.append(DiagramEdge(bias_id, neuron.name, "", bias_id, value))
        return nodes, edges


def _escaped(name: str) -> str:
    """A layer name inside LaTeX math: underscores escaped."""
    return name.replace("_", r"\_")


def _row(index: int, count: int) -> float:
    """The height of node ``index`` in a column of ``count``, columns centred on 0."""
    return (count - 1) / 2 - index


def build(
    derivation: Derivation,
    *,
    notation: str = "net",
    digits: int = DEFAULT_DIGITS,
    only: Sequence[str] = (),
    matrix: bool = False,
    history: Sequence[float] = (),
) -> Document:
    """The document of one derivation; ``only`` limits the backward pass to some parameters.

    With ``matrix``, the document also carries the vectorised form of the derivation; with a
    training ``history`` (E_total before and after each step), its curve.
    """
    spec = derivation.spec
    check_size(derivation, only)
    builder = _Builder(derivation, notation, digits)
    examples = builder.forward()
    total = builder.total()
    backward = builder.backward(only)
    updates = builder.updates(only)
    loss_after, change, rose = builder.after()
    nodes, edges = builder.diagram()
    return Document(
        name=spec.name,
        notation=notation,
        digits=digits,
        shape=" → ".join([str(spec.n_inputs)] + [str(layer.size) for layer in spec.layers]),
        loss=spec.loss,
        reduction=spec.reduction,
        learning_rate=format_number(float(spec.learning_rate), 12),
        train_biases=spec.train_biases,
        round_activations=spec.round_activations,
        layers=[
            {
                "name": layer.name,
                "activation": layer.activation,
                "size": str(layer.size),
            }
            for layer in spec.layers
        ],
        parameters=builder.parameter_rows(edges),
        examples=examples,
        total=total,
        backward=backward,
        updates=updates,
        loss_after=loss_after,
        change=change,
        loss_rose=rose,
        nodes=nodes,
        edges=edges,
        only=list(only),
        matrix=builder.matrix_form() if matrix else [],
        curve=curve(history, digits) if history else None,
        answers=builder.answer,
    )


def check_size(derivation: Derivation, only: Sequence[str]) -> None:
    """Refuse, with a way out, a network too large to print readably."""
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
