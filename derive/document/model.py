"""What a document shows, as LaTeX strings: the templates format these and compute nothing.

Every :class:`Equation` comes from a step of the step model (:mod:`derive.steps`): its left side,
its formula, the formula with the numbers substituted and the value, printed by
:class:`~derive.printing.TextbookPrinter`, and the step's blank number and key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from derive.numbers import format_number


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
    key: str = ""  # the step's key (out_h1, dE/dw5), empty for lines that are not steps


@dataclass
class FactorWorking:
    """One factor of a chain, derived: the rule that gives it, then its equation."""

    rule: str
    equation: Equation
    paths: list[str] = field(default_factory=list)  # a hidden neuron's ∂E/∂out, path by path


@dataclass
class DeltaWorking:
    """δ of one neuron in one example: its factors, then δ as their product."""

    symbol: str
    neuron: str
    example: int | None
    factors: list[FactorWorking]
    equation: Equation
    meaning: str  # LaTeX: ∂E_total/∂net of the neuron, which δ stands for
    coupled: bool = False  # softmax: one factor ∂E/∂net


@dataclass
class GradientWorking:
    """∂E_total/∂θ: the chain-rule statement, the δs it needs, the links ∂net/∂θ, the result."""

    name: str
    symbol: str
    lhs: str
    statement: list[str]  # one product of ∂ factors per term
    deltas: list[DeltaWorking]
    links: list[FactorWorking]
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
    gradients: list[GradientWorking]


@dataclass
class UpdateWorking:
    name: str
    trainable: bool
    equation: Equation


@dataclass
class NeuronWorking:
    name: str
    net: Equation
    out: Equation


@dataclass
class ExampleForward:
    """One example's forward pass and errors."""

    number: int | None
    inputs: list[tuple[str, str]]
    targets: list[tuple[str, str]]
    layers: list[list[NeuronWorking]]
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
    updates: list[UpdateWorking]
    loss_after: Equation
    change: str
    loss_rose: bool
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]
    only: list[str]
    matrix: list[MatrixLayer] = field(default_factory=list)
    curve: Curve | None = None
    answers: int = 0
    blanks: dict[int, str] = field(default_factory=dict)  # every blank's number and its value, in order

    def key_equations(self) -> list[Equation]:
        """The figures a teacher checks first: E_total, every gradient, every update, E_total after."""
        gradients = [step.result for section in self.backward for step in section.gradients]
        updates = [update.equation for update in self.updates if update.trainable]
        return [self.total, *gradients, *updates, self.loss_after]

    def answer_values(self) -> dict[int, str]:
        """Each blank's number and the value that fills it."""
        return dict(self.blanks)
