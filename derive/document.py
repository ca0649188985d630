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

import sympy as sp

from derive.chain import Delta, Derivation, Factor, Gradient
from derive.errors import DeriveError
from derive.functions import ACTIVATIONS, LOSSES
from derive.numbers import DEFAULT_DIGITS, Number, format_number, to_fraction
from derive.printing import TextbookPrinter, number_latex, partial_latex

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
class Document:
    """Everything a template shows."""

    name: str
    notation: str
    digits: int
    shape: str
    loss: str
    loss_formula: str
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
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]
    only: list[str]
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
        for p, (example, values) in enumerate(zip(spec.examples, self.derivation.forward, strict=True)):
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
                        for s, v in zip(graph.inputs[p], values_of(example.inputs), strict=True)
                    ],
                    [
                        (self.latex(s), self.show(v))
                        for s, v in zip(graph.targets[p], values_of(example.targets), strict=True)
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
        if len(delta.factors) == 1:
            equation = Equation(symbol, self.partial(delta.factors[0]), "", self.show(delta.precise), 0)
            equation.answer = factors[0].equation.answer
            self.introduced.add(delta.symbol)
            return DeltaStep(symbol, delta.neuron.name, self._example(delta.example), factors, equation, coupled=True)
        formula = r" \cdot ".join(self.partial(factor) for factor in delta.factors)
        substituted = r" \cdot ".join(number_latex(factor.precise, self.digits) for factor in delta.factors)
        equation = self.equation(symbol, formula, delta.precise, substituted=substituted)
        self.introduced.add(delta.symbol)
        return DeltaStep(symbol, delta.neuron.name, self._example(delta.example), factors, equation)

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
        return GradientStep(gradient.name, symbol, lhs, statement, deltas, links, result, shared)

    @property
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
            self.answer += 1
            if trainable:
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
                self.answer,
            )
            steps.append(UpdateStep(name, trainable, equation))
        return steps

    def after(self) -> tuple[Equation, str]:
        derivation = self.derivation
        stepped = derivation.spec.with_parameters({n: to_fraction(v) for n, v in derivation.updated.items()})
        loss = Derivation(stepped).loss
        self.answer += 1
        equation = Equation(self.latex(self.graph.total) + "^{+}", "", "", self.show(loss), self.answer)
        return equation, self.show(loss - derivation.loss)

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
                label = neuron.name.replace("_", r"\_")
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


def _row(index: int, count: int) -> float:
    """The height of node ``index`` in a column of ``count``, columns centred on 0."""
    return (count - 1) / 2 - index


def values_of(numbers: Sequence) -> list[float]:
    return [float(v) for v in numbers]


def build(
    derivation: Derivation,
    *,
    notation: str = "net",
    digits: int = DEFAULT_DIGITS,
    only: Sequence[str] = (),
) -> Document:
    """The document of one derivation; ``only`` limits the backward pass to some parameters."""
    spec = derivation.spec
    check_size(derivation, only)
    builder = _Builder(derivation, notation, digits)
    examples = builder.forward()
    total = builder.total()
    backward = builder.backward(only)
    updates = builder.updates(only)
    loss_after, change = builder.after()
    nodes, edges = builder.diagram()
    loss = LOSSES[spec.loss]
    return Document(
        name=spec.name,
        notation=notation,
        digits=digits,
        shape=" → ".join([str(spec.n_inputs)] + [str(layer.size) for layer in spec.layers]),
        loss=spec.loss,
        loss_formula=loss.latex,
        reduction=spec.reduction,
        learning_rate=format_number(float(spec.learning_rate), 12),
        train_biases=spec.train_biases,
        round_activations=spec.round_activations,
        layers=[
            {
                "name": layer.name,
                "activation": layer.activation,
                "size": str(layer.size),
                "symbol": ACTIVATIONS[layer.activation].latex,
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
        nodes=nodes,
        edges=edges,
        only=list(only),
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
