"""An exam: questions of parts, each with its marks, the lines its answer takes, its key and mark scheme.

By default the exam works one update as a lecturer sets it: the forward pass layer by layer and the
total error; the output layer's first gradient and its update; then, for the first layer of a
network with hidden layers, its δ in symbols, its gradient as a product of factors (one of them a
sum over paths, and why), and their numbers.  ``--ask`` asks chosen values instead, one question each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from string import ascii_lowercase

import sympy as sp

from derive.core.factors import Factor, Term
from derive.core.printing import partial_latex
from derive.core.steps import GradientSteps, Step, Steps, is_copy

from .marking import QuestionMarks, figures_for_change, grouped, rounded_working, set_marks, window
from .model import Earned, ExamPart, Mark, Question
from .precision import ANSWER_FIGURES
from .typeset import Typesetter, slashed

# A symbolic part's lines of answer: δ as a product, each factor; the product, the paths, the reason.
DELTA_LINES = 4
CHAIN_LINES = 6
CDOT = r" \cdot "
METHOD_MARKS = 3  # a part's method marks by default: more rules than this share a mark

# What a question plans: its topic, and each part's kind with the steps or gradient it asks about.
Plan = list[tuple[str, list[tuple[str, object]]]]


def plan(steps: Steps, ask: Sequence[str]) -> Plan:
    """The questions: ``ask``'s keys one each, or (``["default"]``) the default exam."""
    if list(ask) != ["default"]:
        return [("", [("compute", [step])]) for step in steps.asked(ask)]
    layers = len(steps.derivation.spec.layers)
    forward: list[tuple[str, object]] = [("compute", layer_steps(steps, layer)) for layer in range(layers)]
    found: Plan = [("forward", [*forward, ("compute", [steps.total])])]
    output = first_gradient(steps, layers - 1)
    if output is not None:
        symbolic = [("chain", output)] if layers == 1 else []
        found.append(("output", [*symbolic, *_numbers(steps, output)]))
    hidden = first_gradient(steps, 0) if layers > 1 else None
    if hidden is not None:
        found.append(("hidden", [("delta", hidden), ("gradient", hidden), *_numbers(steps, hidden)]))
    return found


def layer_steps(steps: Steps, layer: int) -> list[Step]:
    """Every neuron's net input and output in one layer, for every example, in the order worked."""
    mine = {
        step.key for example in steps.forward for neuron in example.layers[layer] for step in (neuron.net, neuron.out)
    }
    return [step for step in steps if step.key in mine]


def first_gradient(steps: Steps, layer: int) -> GradientSteps | None:
    return next((gradient for gradient in steps.backward if gradient.layer == layer), None)


def _numbers(steps: Steps, gradient: GradientSteps) -> list[tuple[str, object]]:
    """The gradient's value, and the parameter after the step when it is trained."""
    update = steps.by_key.get(f"{gradient.result.key.removeprefix('dE/d')}+")
    trained = update is not None and update.blank is not None
    return [("compute", [gradient.result]), *([("compute", [update])] if trained else [])]


def questions(
    steps: Steps,
    typeset: Typesetter,
    ask: Sequence[str],
    *,
    marks: Sequence[QuestionMarks] = (),
    figures: int = ANSWER_FIGURES,
) -> list[Question]:
    """The exam's questions with their parts, marks and key; ``marks`` as ``--marks`` sets them."""
    builder = _Parts(steps, typeset, figures)
    found = []
    for number, (topic, parts) in enumerate(plan(steps, ask), 1):
        letters = ascii_lowercase[: len(parts)] if len(parts) > 1 else [""]  # a single part has no letter
        made = [
            builder.part(kind, target, number, letter) for (kind, target), letter in zip(parts, letters, strict=True)
        ]
        found.append(Question(number, topic, made))
    set_marks(found, marks)
    return found


class _Parts:
    """Builds the parts in order, remembering which part worked each value (for error carried forward)."""

    def __init__(self, steps: Steps, typeset: Typesetter, figures: int) -> None:
        self.steps = steps
        self.typeset = typeset
        self.figures = figures
        self.rounded = rounded_working(steps, figures)
        self.worked: dict[str, str] = {}  # a step's key → the label of the part that worked it
        self.delta_label = ""  # the part that writes δ in symbols, which the gradient's part builds on
        graph = typeset.graph
        self.layers = {neuron.name: neuron.layer for row in graph.neurons for neuron in row}

    def part(self, kind: str, target: object, number: int, letter: str) -> ExamPart:
        label = f"{number}({letter})" if letter else str(number)
        if kind == "compute":
            assert isinstance(target, list)
            return self.compute(target, label, letter)
        assert isinstance(target, GradientSteps)
        if kind == "delta":
            self.delta_label = label
            return delta_part(self.steps, self.typeset, target, letter)
        if kind == "gradient":
            return gradient_part(self.steps, self.typeset, target, letter, self.delta_label)
        return chain_part(self.typeset, target, letter)

    def compute(self, asked: list[Step], label: str, letter: str) -> ExamPart:
        """Values to work out: the lines not worked in an earlier part, their method and accuracy marks."""
        needed = {step.key for step in asked}
        pending = list(asked)
        while pending:
            for used in self.steps.uses(pending.pop()):
                if used.key not in needed:
                    needed.add(used.key)
                    pending.append(used)
        keys = {step.key for step in asked}  # an asked value is written again even when worked before
        new = [step for step in self.steps if step.key in keys or (step.key in needed and step.key not in self.worked)]
        carried = {
            used.key: (inline(self.typeset, used.symbol), self.worked[used.key])
            for step in new
            for used in self.steps.uses(step)
            if used.key in self.worked and used.key not in keys
        }
        for step in new:
            self.worked[step.key] = label
        working = [self.typeset.equation(step) for step in new]
        methods = {}  # each rule once in each layer, by the first line that applies it
        for step in new:
            if not is_copy(step.formula):
                methods.setdefault((step.kind, step.rule, self.layers.get(step.subject, step.subject)), step)
        method_marks = [
            Mark("M", 1, [Earned(f"{inline(self.typeset, step.symbol)} = {inline(self.typeset, step.formula)}")])
            for step in methods.values()
        ]
        figures = max(self.figures_for(step) for step in asked)
        scheme = grouped(method_marks, METHOD_MARKS) + self.accuracy(asked, figures)
        lines = max(1, sum(1 for step in new if not is_copy(step.formula)))
        part = ExamPart(letter, "compute", sum(mark.marks for mark in scheme), lines, working, scheme=scheme)
        part.blanks = [inline(self.typeset, step.symbol) for step in asked]
        part.figures = figures
        part.carried = list(carried.values())
        if len(asked) == 1:
            part.key = asked[0].key
        else:
            layer = self.steps.derivation.spec.layers[_layer_of(self.steps, asked[0])]
            part.layer, part.examples = layer.name, len(self.steps.forward) > 1
        return part

    def figures_for(self, step: Step) -> int:
        """The figures asked: more for an updated parameter whose change is small beside it."""
        if step.kind != "update":
            return self.figures
        before = self.steps.values[self.typeset.graph.parameters[step.subject]]
        return figures_for_change(step.value, step.value - before, self.figures)

    def accuracy(self, asked: list[Step], figures: int) -> list[Mark]:
        """An A mark for each neuron's values (a forward part) or for the one value asked."""
        groups: dict[tuple[str, int | None], list[Step]] = {}
        for step in asked:
            groups.setdefault((step.subject, step.example), []).append(step)
        marks = []
        for group in groups.values():
            earned = []
            for step in group:
                answer, low, high = window(step.value, self.rounded[step.key], figures)
                earned.append(Earned(f"{inline(self.typeset, step.symbol)} = {answer}", low, high))
            marks.append(Mark("A", 1, earned))
        return marks


def _layer_of(steps: Steps, step: Step) -> int:
    return next(
        layer
        for example in steps.forward
        for layer, neurons in enumerate(example.layers)
        if any(step in (neuron.net, neuron.out) for neuron in neurons)
    )


def delta_part(steps: Steps, typeset: Typesetter, gradient: GradientSteps, letter: str) -> ExamPart:
    """δ of the neuron the gradient's first term passes through, in symbols: its factors' product."""
    term = gradient.gradient.chain[0]
    delta = steps.derivation.deltas[term.example][term.neuron.layer][term.neuron.index]
    graph = typeset.graph
    net = graph.net[delta.example][delta.neuron.layer][delta.neuron.index]
    out = graph.out[delta.example][delta.neuron.layer][delta.neuron.index]
    symbol = typeset.latex(delta.symbol)
    partials = r" \cdot ".join(typeset.partial(factor) for factor in delta.factors)
    product = sp.Mul(*(factor.expr for factor in delta.factors), evaluate=False)
    symbols = [(symbol, partials), ("", typeset.latex(product))]
    named = [typeset.inline(factor.of, factor.wrt) for factor in delta.factors]
    scheme = [Mark("B", 1, [Earned(f"{inline(typeset, delta.symbol)} = {CDOT.join(named)}")])]
    scheme += [
        Mark("B", 1, [Earned(f"{text} = {inline(typeset, factor.expr)}")])
        for text, factor in zip(named, delta.factors, strict=True)
    ]
    subject = {
        "delta": inline(typeset, delta.symbol),
        "definition": typeset.inline(graph.total, net),
        "neuron": delta.neuron.name,
        "out": inline(typeset, out),
        "next": next_deltas(steps, typeset, delta.example, delta.neuron.layer + 1),
    }
    return ExamPart(letter, "delta", len(scheme), DELTA_LINES, symbols=symbols, scheme=scheme, subject=subject)


def next_deltas(steps: Steps, typeset: Typesetter, example: int, layer: int) -> str:
    """The next layer's error signals as the paper defines them: δ_k = ∂E_total/∂net_k, each k."""
    graph = typeset.graph
    nets = graph.net[example][layer]
    deltas = steps.derivation.deltas[example][layer]
    return ", ".join(
        f"${inline(typeset, delta.symbol)} = {typeset.inline(graph.total, net)}$"
        for delta, net in zip(deltas, nets, strict=True)
    )


def gradient_part(steps: Steps, typeset: Typesetter, gradient: GradientSteps, letter: str, delta_part: str) -> ExamPart:
    """∂E/∂θ of a hidden weight from δ: ∂E/∂out · ∂out/∂net · ∂net/∂θ = δ · ∂net/∂θ, each example's
    product added up; and, when the neuron feeds several, why the gradient needs every path (δ's sum)."""
    chain = gradient.gradient.chain
    through_time = steps.derivation.spec.steps is not None
    deltas = [steps.derivation.deltas[term.example][term.neuron.layer][term.neuron.index] for term in chain]
    lhs = typeset.inline(typeset.graph.total, gradient.gradient.symbol)
    display = partial_latex(typeset.latex(typeset.graph.total), typeset.latex(gradient.gradient.symbol))
    lines = {
        "factors": [CDOT.join(typeset.partial(f) for f in term.factors) for term in chain],
        "delta": [
            f"{typeset.latex(d.symbol)}{CDOT}{typeset.partial(t.factors[-1])}"
            for d, t in zip(deltas, chain, strict=True)
        ],
        "value": [
            f"{typeset.latex(d.symbol)}{CDOT}{typeset.latex(t.factors[-1].expr)}"
            for d, t in zip(deltas, chain, strict=True)
        ],
    }
    symbols = [*sum_rows(display, lines["factors"]), *sum_rows("", lines["delta"]), *sum_rows("", lines["value"])]
    last = [typeset.inline(t.factors[-1].of, t.factors[-1].wrt) for t in chain]
    products = [f"{inline(typeset, d.symbol)}{CDOT}{text}" for d, text in zip(deltas, last, strict=True)]
    values = [
        f"{inline(typeset, d.symbol)}{CDOT}{inline(typeset, t.factors[-1].expr)}"
        for d, t in zip(deltas, chain, strict=True)
    ]
    scheme = [Mark("B", 1, [Earned(f"{lhs} = {' + '.join(products)}")])]
    scheme.append(
        Mark(
            "B",
            1,
            [Earned(f"{text} = {inline(typeset, t.factors[-1].expr)}") for text, t in zip(last, chain, strict=True)],
        )
    )
    scheme[-1].earned.append(Earned(f"{lhs} = {' + '.join(values)}"))
    subject = {
        "gradient": lhs,
        "parameter": gradient.gradient.name,
        "neuron": chain[0].neuron.name,
        "delta": inline(typeset, deltas[0].symbol),
        "part": delta_part,
        **_sums(chain, through_time=through_time),
    }
    paths = next((factor for factor in chain[0].factors if len(factor.paths) > 1), None)
    if paths is not None:
        subject |= _paths_subject(typeset, paths)
        reason = _reason("exam.gradient_reason", paths, through_time=through_time)
        scheme.append(Mark("B", 1, [Earned(sentence=reason, fields=subject)]))
    return ExamPart(
        letter,
        "gradient",
        len(scheme),
        CHAIN_LINES - 2 + len(chain),
        symbols=symbols,
        scheme=scheme,
        subject=subject,
    )


def _sums(chain: Sequence[Term], *, through_time: bool) -> dict[str, str]:
    """What the gradient's sum of products runs over, for the question's sentences: the examples, and
    the places one example's weight acts (the steps through time, or a kernel's positions)."""
    examples = Counter(term.example for term in chain)
    shared = "steps" if through_time else "positions"
    return {"examples": "yes" if len(examples) > 1 else "", "shared": shared if max(examples.values()) > 1 else ""}


def _reason(sentence: str, paths: Factor, *, through_time: bool) -> str:
    """Why a sum over paths: a neuron compared with its target as well (``_error``, the next step's
    neurons), one feeding neurons in the next layer or at the next step (``_time``), or the next layer's."""
    if paths.rule == "error_and_paths":
        return f"{sentence}_error"
    return f"{sentence}_time" if through_time else sentence


def _paths_subject(typeset: Typesetter, paths: Factor) -> dict[str, str]:
    """The neurons that read ∂E/∂out's neuron (not its own error, when it is an output too), and the paths' count."""
    following = [typeset.graph.names[path[0].wrt].subscript for path in paths.paths if path[0].rule == "delta"]
    counts = {"count": str(len(following)), "paths": str(len(paths.paths))}
    return {"out": inline(typeset, paths.wrt), "following": ", ".join(following), **counts}


def chain_part(typeset: Typesetter, gradient: GradientSteps, letter: str) -> ExamPart:
    """∂E/∂θ as a product of factors (one per example, added up); a hidden neuron's ∂E/∂out, when it
    feeds several neurons, as its sum over paths, and why."""
    chain = gradient.gradient.chain
    lhs = typeset.inline(typeset.graph.total, gradient.gradient.symbol)
    display = partial_latex(typeset.latex(typeset.graph.total), typeset.latex(gradient.gradient.symbol))
    products = [CDOT.join(typeset.partial(f) for f in term.factors) for term in chain]
    named = [CDOT.join(typeset.inline(f.of, f.wrt) for f in term.factors) for term in chain]
    symbols = sum_rows(display, products)
    scheme = [Mark("B", 1, [Earned(f"{lhs} = {' + '.join(named)}")])]
    subject = {"gradient": lhs, "parameter": gradient.gradient.name, "neuron": chain[0].neuron.name}
    through_time = typeset.steps.derivation.spec.steps is not None
    subject |= _sums(chain, through_time=through_time)
    paths = next((factor for factor in chain[0].factors if len(factor.paths) > 1), None)
    if paths is None:
        symbols += sum_rows("", [typeset.latex(term.expr) for term in chain])
        scheme.append(Mark("B", 1, [Earned(f"{lhs} = {inline(typeset, gradient.gradient.chain_expr)}")]))
        lines = CHAIN_LINES - 3 + len(chain)  # a line for each example's product
        return ExamPart(letter, "chain", 2, lines, symbols=symbols, scheme=scheme, subject=subject)
    each = [CDOT.join(typeset.partial(f) for f in path) for path in paths.paths]
    each_inline = [CDOT.join(typeset.inline(f.of, f.wrt) for f in path) for path in paths.paths]
    symbols += [(typeset.partial(paths), " + ".join(each)), ("", typeset.latex(paths.expr))]
    scheme.append(Mark("B", 1, [Earned(f"{typeset.inline(paths.of, paths.wrt)} = {' + '.join(each_inline)}")]))
    subject |= _paths_subject(typeset, paths)
    reason = _reason("exam.paths_reason", paths, through_time=through_time)
    scheme.append(Mark("B", 1, [Earned(sentence=reason, fields=subject)]))
    lines = CHAIN_LINES - 1 + len(chain)
    return ExamPart(letter, "chain", 3, lines, symbols=symbols, scheme=scheme, subject=subject)


def sum_rows(lhs: str, terms: list[str]) -> list[tuple[str, str]]:
    """A sum set one term a row: ``lhs = first``, then ``+ term`` (``- rest`` where a term begins with a
    minus sign, which ``+ -`` would print)."""
    rows = [(lhs, terms[0])]
    for term in terms[1:]:
        rows.append(("-", term[1:].lstrip()) if term.startswith("-") else ("+", term))
    return rows


def inline(typeset: Typesetter, expr: sp.Expr) -> str:
    """An expression in the symbols of running text: ∂a/∂b and 1/(1 + e^{-net}) with a slash."""
    return slashed(typeset.inline_symbols.doprint(expr))
