"""What a document shows, as LaTeX strings: the templates format these and compute nothing.

Every :class:`Equation` comes from a step of the step model (:mod:`derive.core.steps`): its left side,
its formula, the formula with the numbers substituted and the value, printed by
:class:`~derive.core.printing.TextbookPrinter`, and the step's blank number and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINE_CM = 1.2  # the height of a handwritten line of working, fractions and all
MOST_SPACE_CM = 12.0  # a part's space, so that a part of many values (four examples) still fits a page


@dataclass
class Equation:
    """``lhs = formula = substituted = value``; ``terms`` splits a long sum for line breaks.

    ``answer`` is the step's blank number (0: not a blank). ``answer_text`` is the value that fills the
    blank, shown as every other line shows it (:func:`.precision.shown`); ``unrounded`` marks a value
    that differs in its last digit from what the rounded numbers shown give. ``layout`` is ``line``
    (all on one line), ``two`` (the numbers on a second line) or ``split`` (a long sum over several lines).
    """

    lhs: str
    formula: str
    substituted: str
    value: str
    answer: int
    formula_terms: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    note: str = ""  # a catalog key, e.g. "rounded"
    key: str = ""  # the step's key (out_h1, dE/dw5), empty for lines that are not steps
    answer_text: str = ""
    unrounded: bool = False
    layout: str = "line"
    lhs_alone: bool = False  # the left side and the formula do not fit on one line together


@dataclass
class Rule:
    """The rule a line applies: a catalog key, the fields its sentence needs, and whether to say it.

    A rule's sentence is said the first time a document uses the rule; later lines only apply it.
    """

    key: str
    fields: dict[str, str]
    explain: bool


@dataclass
class Plot:
    """An activation function drawn with its derivative, where the document first uses the slope."""

    activation: str  # catalog key of its name
    function: str  # LaTeX name: \sigma
    points: list[tuple[str, str, str]]  # (net, f(net), f'(net)), to four decimals
    low: str
    high: str


@dataclass
class FactorWorking:
    """One factor of a chain, derived: the rule that gives it, then its equation."""

    rule: Rule
    equation: Equation
    paths: list[str] = field(default_factory=list)  # a hidden neuron's ∂E/∂out, path by path
    plot: Plot | None = None  # the activation drawn with its derivative, before its slope is first used


@dataclass
class DeltaWorking:
    """δ of one neuron in one example: its factors, then δ as their product.

    ``inline``: the brief detail, factors written inside δ's one line. ``inactive``: a ReLU unit whose
    net input is not positive, so that δ is 0 and no gradient flows through it. ``silent_output``: a
    softmax output whose own error is 0 (target 0) while its δ is not.
    """

    symbol: str
    neuron: str
    example: int | None
    factors: list[FactorWorking]
    equation: Equation
    meaning: str  # LaTeX, inline: ∂E_total/∂net of the neuron, which δ stands for
    inactive: bool
    silent_output: bool
    plot: Plot | None
    first: bool  # the document's first δ, where the error signal is defined
    net: str  # the net input's value, shown when the unit is inactive
    coupled: bool = False  # softmax: one factor ∂E/∂net
    inline: bool = False


@dataclass
class GraphNode:
    """A node of a gradient's computation graph, ``level`` steps along from the parameter."""

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
    derivative: str  # LaTeX: \partial \mathrm{net}_{o1} / \partial w_{5}
    text: str  # plain text, for Mermaid: ∂net_o1/∂w5
    side: str  # where its label goes, "above" or "below": on the outer side of its branch
    position: float = 0.5  # where along the edge: crossing edges keep their labels apart


@dataclass
class ComputationGraph:
    """The paths from a parameter forward to E_total; backpropagation multiplies along them."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    example: int | None  # the example drawn, when there are several
    levels: int


@dataclass
class GradientWorking:
    """∂E_total/∂θ: the chain-rule statement, the δs it needs, the links ∂net/∂θ, the result.

    ``derives``: this gradient meets a δ for the first time (the standard detail draws its graph and
    derives the δ there; the gradients that follow cite the δ). ``first``: the document's first
    gradient, where the chain rule is stated in words.
    """

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
    derives: bool
    first: bool
    terms: int
    cites: list[str]  # LaTeX of the known δs the result uses
    path: list[str]  # the network's edges ("h1>o1") and neurons on its paths
    neurons: list[str]  # the neurons its terms go through (a shared bias has several)
    shared_weight: str  # "kernel" (a kernel entry) or "steps" (a recurrent network's weight), shared by neurons
    decay: Rule | None  # weight decay's term λ·w in a weight's gradient, and whether to say where it comes from
    # set afterwards by the section that holds it (document.backward): whether it leads a run of citing gradients,
    # and the finite-difference check of the document's first gradient
    lead: bool = False
    check: dict[str, str] = field(default_factory=dict)

    @property
    def per_example(self) -> bool:
        """Several examples: a term per example for each neuron the gradient goes through."""
        return self.terms > len(self.neurons)


@dataclass
class Part:
    """A run of a layer's gradients set together: one derived in full (``derive``), or several whose
    results share one block (``cite``: they cite δs derived before; ``brief``: each δ in one line)."""

    kind: str
    gradients: list[GradientWorking]


@dataclass
class LayerSection:
    name: str
    output: bool
    gradients: list[GradientWorking]
    # a recurrent layer's parameter group ("recurrent_weights", "input_weights"), headed by it: "" for a layer
    heading: str
    parts: list[Part] = field(default_factory=list)


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
    """One example's forward pass and errors, in the order they are worked."""

    number: int | None
    inputs: list[tuple[str, str]]
    targets: list[tuple[str, str]]
    layers: list[list[NeuronWorking]]
    errors: list[Equation]
    total: Equation | None
    coupled: list[bool]  # per layer: softmax, whose net inputs all come before its outputs


@dataclass
class DiagramNode:
    """An input, a neuron or a bias of the network's drawing.

    An input or a neuron has its place (``x`` its layer's column, ``y`` its row) and its LaTeX
    label; a bias has neither: each drawing writes it under every neuron it enters, from the
    bias's edges, and Mermaid names it by its ``text``.
    """

    id: str
    label: str  # LaTeX; empty for a bias
    text: str  # plain text, for Mermaid
    x: float | None
    y: float | None
    kind: str  # input, neuron, bias

    @classmethod
    def bias(cls, name: str, value: str) -> DiagramNode:
        """A bias and its value, as Mermaid writes it (``b1 = 0.35``)."""
        return cls(name, "", f"{name} = {value}", None, None, "bias")


@dataclass
class DiagramEdge:
    source: str
    target: str
    label: str  # LaTeX: w_{5} = 0.4 (empty for a bias: its value is on its node)
    weight: str
    value: str
    symbol: str  # LaTeX of the parameter: w_{5}, b_{1}; empty for a pooling's link, which has none
    # whether the drawing writes the label: a kernel's entries, a pooling's and a map's bias are written
    # on the first position of each map only, the other positions' links drawn bare (the same parameters)
    labelled: bool = True
    position: float = 0.26  # where along the edge its label is written (TikZ): near its source, clear of the neuron


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
    kind: str  # output, softmax, softmax_jacobian or hidden: which sentence introduces the error signals
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
    even: list[str]  # the error at 101 evenly spaced steps (its log10 on a log scale), for Mermaid
    even_log: bool  # whether ``even`` holds logarithms


@dataclass
class Reading:
    """What the result says: which way each output moves its weights, and how small hidden gradients are."""

    outputs: list[dict[str, str]]  # per output neuron: the catalog key and its fields
    ratio: str  # output-layer over first-layer mean |∂E/∂w|, rounded; empty with one layer
    slope_bound: str  # the largest slope of the hidden activation when it is below 1 (σ′ ≤ 0.25)
    deltas: str  # the same ratio for the δs, when the inputs account for much of the gradients'; or ""
    sentence: str  # the catalog key of the ratio's sentence, if one is said; or ""
    points: tuple[str, ...]  # the slides' keys for the same (under [slides])


@dataclass
class Earned:
    """What earns a mark: a line of mathematics, the window a value may fall in, or a sentence.

    ``sentence`` is a catalog key (the reason a gradient is a sum over paths) and ``fields`` its words.
    """

    math: str = ""
    low: str = ""  # a value's answer is accepted from ``low`` to ``high``
    high: str = ""
    sentence: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Mark:
    """One line of a mark scheme: M (method, earned by a right method on the student's own numbers),
    A (accuracy, the value; needs the M marks before it) or B (independent), its marks, what earns it."""

    code: str
    marks: int
    earned: list[Earned]


@dataclass
class ExamPart:
    """One part of an exam question: what it asks, its marks, the lines its answer takes, its key.

    ``kind`` is ``compute`` (values to work out: ``blanks``), ``delta`` (a δ in symbols), ``gradient``
    (a hidden weight's gradient from δ) or ``chain`` (a gradient as a product of factors, with its sum
    over paths). ``carried`` names the values from earlier parts it uses, where error carried forward
    applies: (symbol, part label).
    """

    letter: str
    kind: str
    marks: int
    lines: int  # lines of working a student writes: the space left for the answer
    working: list[Equation] = field(default_factory=list)  # the key's lines, the asked ones among them
    # a symbolic part's answer, a row each: (left side, or "" to go on, or "+"/"-" for a sum's next term; right side)
    symbols: list[tuple[str, str]] = field(default_factory=list)
    blanks: list[str] = field(default_factory=list)  # a compute part's values, as the answer lines name them
    scheme: list[Mark] = field(kw_only=True)  # every part has its marking scheme, given by name
    carried: list[tuple[str, str]] = field(default_factory=list)
    layer: str = ""  # a forward part's layer
    examples: bool = False  # a forward part over several examples
    subject: dict[str, str] = field(default_factory=dict)  # a symbolic part's symbols: δ, θ, the neuron, …
    key: str = ""  # a part that asks one step: its key, for its meaning
    meaning: str = ""
    figures: int = 0  # the significant figures asked, when more than the exam's (a small change)

    @property
    def space(self) -> float:
        """The answer space in centimetres: about 1.2 cm a handwritten line of working."""
        return min(MOST_SPACE_CM, round(LINE_CM * self.lines + 0.4, 1))


@dataclass
class Question:
    """One exam question: its number, its topic (a catalog key, or empty) and its parts."""

    number: int
    topic: str
    parts: list[ExamPart]

    @property
    def marks(self) -> int:
        return sum(part.marks for part in self.parts)


@dataclass
class Schedule:
    """How the network learns, when not on all its examples at once: the update these pages work."""

    kind: str  # online or minibatch
    size: int  # examples per update
    update: int  # which update of the first epoch
    examples: str  # the examples it uses, by their number in the file: "3", or "1, 2"
    earlier: int  # how many updates came before it
    shuffle: int | None  # the seed of the order, or None for file order


@dataclass
class FeatureMap:
    """One map of a convolutional network as a matrix: an input channel, a feature map or a δ map."""

    label: str  # LaTeX: \mathrm{out}_{c1}, \delta_{c1}
    matrix: str  # LaTeX: a bmatrix of the values


@dataclass
class Document:
    """Everything a template shows."""

    name: str
    notation: str
    digits: int
    detail: str
    shape: str
    # the sentences introducing the network: (catalog key, numbers); feed-forward, convolutional or recurrent
    intro: list[tuple[str, dict[str, str]]]
    loss: str
    reduction: str
    learning_rate: str
    train_biases: bool
    round_activations: int | None
    layers: list[dict[str, str]]
    layer_rows: list[dict[str, object]]  # the layers' table: each layer once, with what it does
    forward_intro: list[tuple[str, dict[str, str]]]  # the forward pass's opening sentences: catalog keys, fields
    parameters: list[Parameter]
    examples: list[ExampleForward]
    total: Equation
    backward: list[LayerSection]
    updates: list[UpdateWorking]
    after_examples: list[ExampleForward]
    loss_after: Equation
    change: str
    loss_rose: bool
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]
    only: list[str]
    shared_bias: bool
    reading: Reading
    hidden: bool  # there is at least one hidden layer: the general delta rule applies
    softmax_output: bool  # a softmax output with cross-entropy, whose δ the delta rule states apart
    target_nodes: list[str]  # the node of each target, in the targets' order
    example: str | None  # the built-in example this network is, for its credits
    sequential_after: str  # E_total after a step in the sequential order (the worked example's), or ""
    matrix: list[MatrixLayer]
    curve: Curve | None
    answers: int
    blanks: dict[int, str]  # every blank's number and its value, in order
    figures: int  # significant figures asked of each answer
    questions: list[Question]
    feature_maps: list[FeatureMap]  # a convolutional network's maps, example 1
    parameter_matrices: list[FeatureMap]  # each kernel K, or W, U, V and b by name
    through_time: bool  # the feature maps are a recurrent layer's h_t and δ_t, step by step
    recurrent_output: bool  # that layer is the output: each δ_t adds its own error's slope
    unrounded: bool  # some value differs in its last digit from the rounded numbers shown
    schedule: Schedule | None
    update_rule: str  # θ⁺ = θ − η ∂E/∂θ in LaTeX, inline (document.updates.update_rule)
    update_rule_display: str  # the same displayed: fractions, and momentum's two equations
    # set afterwards, for momentum and weight decay only
    momentum: str = ""  # β, when the updates carry momentum
    previous: str = ""  # where Δθ before this update comes from: zero, given (the file) or before (the update before)
    decay: str = ""  # λ, with weight decay
    changes_before: list[tuple[str, str]] = field(default_factory=list)  # (θ as LaTeX, Δθ) the file gives

    def key_equations(self) -> list[Equation]:
        """The figures a teacher checks first: E_total, every gradient, every update, E_total after."""
        gradients = [step.result for section in self.backward for step in section.gradients]
        updates = [update.equation for update in self.updates if update.trainable]
        return [self.total, *gradients, *updates, self.loss_after]

    @property
    def marks(self) -> int:
        """An exam's total marks."""
        return sum(question.marks for question in self.questions)

    def answer_values(self) -> dict[int, str]:
        """Each blank's number and the value that fills it."""
        return dict(self.blanks)
