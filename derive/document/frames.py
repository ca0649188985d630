"""How the slides fill their frames: as many lines of working as a frame holds, and no more.

A frame cannot run on to the next page as a document does: what does not fit is cut off at its foot.
The deck's template sets each step in the first of its forms that fits the column (one line; the
numbers on a second; a long sum's terms, or the value, apart), so a step's height follows from its
width.  The estimates here are in points, from :func:`.typeset.width` and the row heights LaTeX
measures at 11 pt; each frame is filled to a body a little lower than the 206 pt it has.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from .model import DeltaWorking, Document, Equation, GradientWorking, NeuronWorking, Part
from .slides import spelled, spelled_neurons
from .typeset import width

# A 16:9 Beamer page at 11 pt: its text width, and what a [t] frame's body holds under a one-line title
# (203 pt in the deck's preamble, measured), less a point: the estimates below are fitted to LaTeX's measures.
TEXT_WIDTH = 398.3
FRAME_BODY = 202.0
# Beamer's type sizes at 11 pt, in points.
SIZES = {"footnotesize": 9.0, "small": 10.0, "normalsize": 10.95, "large": 12.0, "Large": 14.4, "LARGE": 17.28}
# How wide the deck sets, at each size, a line :func:`.typeset.width` estimates one point wide (for a
# document at 11 pt): the median of LaTeX's measures of every step of the built-in decks, in their fonts.
WIDER = {"footnotesize": 0.9, "small": 0.97, "normalsize": 1.06, "large": 1.13, "Large": 1.35, "LARGE": 1.56}
# A displayed row's height in ems of its size, with a fraction in display style or without, and with a
# fraction of an example's quantities (out_o1^(1): a superscript in the denominator deepens it); the
# space between two rows of an aligned block and below a paragraph, in points; a line of prose, in ems,
# and about how many ems a character of it takes.
FRACTION_ROW, FLAT_ROW, ROW_GAP, LINE_GAP = 2.2, 1.2, 4.5, 1.0
EXAMPLE_FRACTION_ROW = 3.0
# \frac{numerator}{denominator}, each part with groups nested two deep (E_{\text{total}}, out_{o1}^{(1)})
_PART = r"\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}"
FRACTION = re.compile(r"\\frac" + _PART + _PART)
TEXT_LINE, CHARACTER = 1.2, 0.45
SKIPS = {"smallskip": 3.0, "medskip": 6.0}
# The rows a gradient's chain rule takes at most, one a term: past them, the first terms and a row "+ ⋯".
STATEMENT_TERMS = 4


def fits(latex: str, size: str, column: float) -> bool:
    """Whether a displayed line of mathematics fits a column ``column`` × the text width wide."""
    return width(latex) * WIDER[size] <= column * TEXT_WIDTH


def rows_fit(left: str, rights: list[str], size: str, column: float) -> bool:
    """Whether rows aligned after ``left`` fit the column: an ``aligned`` block is as wide as its left side
    and its widest right side together, wider than its widest row."""
    return (width(left) + max(map(width, rights))) * WIDER[size] <= column * TEXT_WIDTH


def rows_height(rows: list[str], size: str, skip: str) -> float:
    """The height of rows of mathematics set one under another (an ``aligned`` block), and the skip below."""
    tall = sum(_row_height(row) for row in rows)
    return SIZES[size] * tall + ROW_GAP * (len(rows) - 1) + LINE_GAP + SKIPS[skip]


def _row_height(row: str) -> float:
    """A row's height in ems: a fraction of an example's quantities, a fraction, or none."""
    fractions = FRACTION.findall(row)
    if not fractions:
        return FLAT_ROW
    return EXAMPLE_FRACTION_ROW if any("^{(" in part for pair in fractions for part in pair) else FRACTION_ROW


def prose_height(text: str, size: str, column: float, skip: str = "medskip") -> float:
    """About how tall a sentence sets (its mathematics counted a few characters a symbol), and the skip below."""
    characters = len(re.sub(r"\$[^$]*\$", "xxx", text))
    lines = math.ceil(characters * CHARACTER * SIZES[size] / (column * TEXT_WIDTH))
    return lines * TEXT_LINE * SIZES[size] + SKIPS[skip]


def step_rows(eq: Equation, size: str, column: float) -> list[str]:
    r"""The rows the deck's ``\stepline`` sets a step in: the first of its forms that fits the column."""
    parts = [part for part in (eq.lhs, eq.formula, eq.substituted, eq.value) if part]
    whole = " = ".join(parts)
    if not (eq.substituted and eq.formula) or fits(whole, size, column):
        return [whole]
    two = [f"{eq.lhs} = {eq.formula}", f"= {eq.substituted} = {eq.value}"]
    if rows_fit(eq.lhs, [f"= {eq.formula}", two[1]], size, column):
        return two
    if eq.terms:  # a long sum: its terms as many a row as fit, then its numbers likewise
        return _term_rows(eq, terms_per_row(eq, size, column))
    if " = " in eq.lhs:  # a left side that names and defines (δ = ∂E/∂net) takes a row of its own
        return [eq.lhs, f"= {eq.formula}", f"= {eq.substituted}", f"= {eq.value}"]
    return [f"{eq.lhs} = {eq.formula}", f"= {eq.substituted}", f"= {eq.value}"]


def terms_per_row(eq: Equation, size: str, column: float) -> int:
    """How many terms of a long sum a row holds: the most (at most half of them) with which every row of
    its formula and of its numbers fits the column, unless its rows would then stand taller than a frame
    holds under a sentence of three lines; then as few more as keep them within it (scaled to the width)."""
    half = (len(eq.terms) + 1) // 2
    fitting = next((each for each in range(half, 0, -1) if _terms_fit(eq, each, size, column)), 1)
    room = FRAME_BODY - 3 * TEXT_LINE * SIZES[size] - SKIPS["medskip"]
    return next(
        (each for each in range(fitting, half) if rows_height(_term_rows(eq, each), size, "medskip") <= room), half
    )


def _terms_fit(eq: Equation, each: int, size: str, column: float) -> bool:
    """Whether a long sum's rows of ``each`` terms, aligned after its left side, fit the column."""
    rows = _term_rows(eq, each)
    return rows_fit(eq.lhs, [rows[0].removeprefix(eq.lhs), *rows[1:]], size, column)


def _term_rows(eq: Equation, each: int) -> list[str]:
    """A long sum's rows, ``each`` terms a row: ``lhs = t1 + t2``, ``+ t3 + t4``, …, ``= n1 + n2``, …, ``= value``."""
    formulas = [" + ".join(eq.formula_terms[i : i + each]) for i in range(0, len(eq.formula_terms), each)]
    numbers = [" + ".join(eq.terms[i : i + each]) for i in range(0, len(eq.terms), each)]
    numbers[-1] += f" = {eq.value}"
    return [f"{eq.lhs} = {formulas[0]}", *(f"+ {row}" for row in formulas[1:]), f"= {numbers[0]}"] + [
        f"+ {row}" for row in numbers[1:]
    ]


def step_height(eq: Equation, size: str, column: float, skip: str) -> float:
    """About how tall the deck sets a step, in points, with the skip below it."""
    return rows_height(step_rows(eq, size, column), size, skip)


def neuron_frames(row: list[NeuronWorking], lead: float) -> list[list[NeuronWorking]]:
    """A layer's neurons of the forward pass, two to a frame where both fit, else one; the first frame
    opens with a sentence ``lead`` points tall (each frame's size: :func:`neuron_size`)."""
    frames: list[list[NeuronWorking]] = []
    for neuron in row:
        room = FRAME_BODY - (lead if len(frames) == 1 else 0.0)  # the first frame opens with the sentence
        last = frames[-1] if frames else None
        if last is not None and len(last) == 1 and _neurons_height([*last, neuron]) <= room:
            last.append(neuron)
        else:
            frames.append([neuron])
    return frames


def lines_size(lines: int, *, handout: bool) -> str:
    """The size a frame of ``lines`` full-width lines (errors, updates) is set in: three or fewer \\LARGE,
    five \\Large, more \\large; the handout all \\normalsize."""
    if handout:
        return "normalsize"
    return "LARGE" if lines <= 3 else "Large" if lines <= 5 else "large"


def neuron_size(neurons: int, *, handout: bool) -> str:
    """The size a forward-pass frame sets its neurons' lines in: two neurons' four lines \\Large, one's
    two \\LARGE; the handout all \\normalsize."""
    return "normalsize" if handout else "Large" if neurons > 1 else "LARGE"


def _neurons_height(neurons: list[NeuronWorking]) -> float:
    size = neuron_size(len(neurons), handout=False)
    return sum(step_height(eq, size, 1.0, "medskip") for n in neurons for eq in (n.net, n.out))


def _packed(
    items: Iterable[Any], height: Callable[[Any], float], room: float, most: int | None = None
) -> Iterator[list[Any]]:
    """``items`` in order, as many to a group as ``room`` holds (at least one; at most ``most``, if given)."""
    group: list[Any] = []
    used = 0.0
    for item in items:
        taken = height(item)
        if group and (used + taken > room or len(group) == most):
            yield group
            group, used = [], 0.0
        group.append(item)
        used += taken
    if group:
        yield group


@dataclass
class Entry:
    """One thing a gradient's frame shows in its working column: the deck shows a frame's first at once and
    reveals each later one on an overlay of its own."""

    kind: Literal["statement", "line", "listed"]  # the chain rule's statement, a step, or δs listed by value
    item: Any  # the gradient, the step's Equation, or the listed δs
    more: int = 0  # a statement's terms not written out


def gradient_frames(part: Part, detail: str, *, size: str, column: float) -> list[list[Entry]]:
    """The frames of one derived gradient (or a brief run), each its entries in order: each group of
    :func:`gradient_groups` on as many frames as its lines need."""
    measure = _measure(size, column)
    return [
        frame
        for group in gradient_groups(part, detail, size=size, column=column)
        for frame in _packed(group, measure, FRAME_BODY)
    ]


def gradient_groups(part: Part, detail: str, *, size: str, column: float) -> list[list[Entry]]:
    """What a derived gradient's (or a brief run's) frames show, in the groups that never share a frame.

    Several δs derived factor by factor each take a frame of their own after the statement's (past
    :data:`.slides.SPELLED_AT_MOST`, a few stand for the rest, listed by value); the result goes with the
    last δ, or on a frame of its own when it sums more than two terms or lists δs.
    """
    first = part.gradients[0]
    apart = part.kind == "derive" and len(first.deltas) > 1 and not any(d.inline for d in first.deltas)
    shown, listed = spelled(first.deltas, detail) if apart else (first.deltas, [])
    statement = [_statement(first, size, column)] if part.kind == "derive" else []
    deltas = [_delta_entries(delta) for delta in shown]
    tail = ([Entry("listed", listed)] if listed else []) + [Entry("line", step.result) for step in part.gradients]
    if apart:
        alone = first.terms > 2 or bool(listed)
        return [statement, *deltas[:-1], deltas[-1] + ([] if alone else tail), *([tail] if alone else [])]
    return [statement + [entry for block in deltas for entry in block] + tail]


def _measure(size: str, column: float) -> Callable[[Entry], float]:
    """How tall an entry of a gradient's working column sets, at ``size`` in a column ``column`` wide."""

    def height(entry: Entry) -> float:
        if entry.kind == "line":
            return step_height(entry.item, size, column, "smallskip")
        if entry.kind == "listed":  # a sentence, then the δs two to a row, \small
            return (2 + (len(entry.item) + 1) // 2) * TEXT_LINE * SIZES["small"]
        return rows_height(_statement_rows(entry.item, entry.more, size, column), size, "smallskip")

    return height


def _statement_rows(gradient: GradientWorking, more: int, size: str, column: float) -> list[str]:
    """The statement on one row if it fits, else a row per term written (and one for "+ ⋯")."""
    written = gradient.statement[: len(gradient.statement) - more]
    whole = f"{gradient.lhs} = {' + '.join(written)}"
    if fits(whole, size, column) and not more:
        return [whole]
    return written + ([r"+ \cdots"] if more else [])


def _statement(gradient: GradientWorking, size: str, column: float) -> Entry:
    """The chain rule's statement; past :data:`STATEMENT_TERMS` rows, the first few terms and "+ ⋯"."""
    rows = _statement_rows(gradient, 0, size, column)
    more = len(rows) - STATEMENT_TERMS + 1 if len(rows) > STATEMENT_TERMS else 0
    return Entry("statement", gradient, more)


def _delta_entries(delta: DeltaWorking) -> list[Entry]:
    """A δ's lines: its one line (brief), or each factor, then δ as their product."""
    if delta.inline:
        return [Entry("line", delta.equation)]
    lines = [Entry("line", factor.equation) for factor in delta.factors]
    return lines + ([] if delta.coupled else [Entry("line", delta.equation)])


@dataclass(frozen=True)
class Frames:
    """How one deck fills its frames: the sizes its working is set in, and what goes on each frame."""

    doc: Document
    handout: bool
    catalog: Callable[..., str]
    # the frames of the slides themselves, which the printed handout follows frame for frame (its smaller
    # type would fit more on some), so that its pages and the slides' frames keep the same numbers: every
    # frame is measured at the slides' sizes
    like: Frames | None = None

    @property
    def working_size(self) -> str:
        """A gradient's working: a size smaller with weight decay's longer lines, two on the handout."""
        return "footnotesize" if self.handout else "small" if self.doc.decay else "normalsize"

    @property
    def picture_width(self) -> float:
        """A gradient's picture beside its working, as a share of the text width: wider for a deeper network."""
        return 0.29 if len(self.doc.layers) <= 2 else 0.34

    @property
    def cited_size(self) -> str:
        """Gradients that cite known δs: large with one example, a size smaller with several, two on the handout."""
        if len(self.doc.examples) == 1:
            return "small" if self.handout else "large"
        return "footnotesize" if self.handout else "normalsize"

    @property
    def after_lead(self) -> str:
        """The sentence that opens the forward pass after the step."""
        return self.catalog("slides.after_lead" if self.doc.train_biases else "slides.after_lead_fixed")

    @property
    def working_column(self) -> float:
        """The working beside a gradient's picture, as a share of the text width."""
        return round(0.98 - self.picture_width, 2)

    @property
    def cited_column(self) -> float:
        """The results beside the picture of gradients that cite known δs (a wider picture), as a share."""
        return round(0.96 - self.picture_width, 2)

    def lines_size(self, lines: int) -> str:
        """The size of a frame of ``lines`` full-width lines (:func:`lines_size`)."""
        return lines_size(lines, handout=self.handout)

    def errors(self, index: int) -> tuple[str, list[list[Equation]]]:
        """The errors of the example at ``index`` (each output's, their sum, and after the last example
        E_total): the size they are set in, and the frames they take at it, as many a frame as fit."""
        example, last = self.doc.examples[index], index == len(self.doc.examples) - 1
        lines = [*example.errors, *([example.total] if example.total else []), *([self.doc.total] if last else [])]
        size = self.lines_size(len(lines))
        if self.like is not None:
            return size, _sliced(lines, self.like.errors(index)[1])
        height = partial(step_height, size=size, column=1.0, skip="medskip")
        return size, list(_packed(lines, height, FRAME_BODY))

    def neuron_size(self, neurons: int) -> str:
        """The size of a forward-pass frame of ``neurons`` neurons (:func:`neuron_size`)."""
        return neuron_size(neurons, handout=self.handout)

    def terms_per_row(self, eq: Equation, size: str, column: float) -> int:
        """How many terms a row of a long sum holds at ``size`` in a column ``column`` wide (:func:`terms_per_row`);
        the printed handout, which follows the slides' frames with longer numbers, scales two rows of each."""
        return (len(eq.terms) + 1) // 2 if self.handout else terms_per_row(eq, size, column)

    def gradient(self, part: Part) -> list[list[Entry]]:
        """The frames of a derived gradient (or a brief run) and what each shows."""
        size, column = self.working_size, self.working_column
        if self.like is None:
            return gradient_frames(part, self.doc.detail, size=size, column=column)
        planned = self.like.gradient(self._planned(part))
        groups = gradient_groups(part, self.doc.detail, size=size, column=column)
        own = _sliced([entry for group in groups for entry in group], planned)
        return [
            [_as(mine, theirs) for mine, theirs in zip(a, b, strict=True)] for a, b in zip(own, planned, strict=True)
        ]

    def cited(self, gradients: list[GradientWorking]) -> list[list[GradientWorking]]:
        """The citing gradients of a section, four to a frame with one example (two with more) where they
        fit under the sentence that names their δs."""
        if self.like is not None:
            return _sliced(gradients, self.like.cited([self._planned(gradient) for gradient in gradients]))
        column = self.cited_column
        deltas = ", ".join(f"${cite}$" for cite in dict.fromkeys(c for g in gradients for c in g.cites))
        room = FRAME_BODY - prose_height(self.catalog("slides.cites", deltas=deltas), self.cited_size, column)
        height = partial(step_height, size=self.cited_size, column=column, skip="medskip")
        most = 4 if len(self.doc.examples) == 1 else 2
        return list(_packed(gradients, lambda gradient: height(gradient.result), room, most))

    def neurons(self, row: list[NeuronWorking], lead: bool) -> tuple[list[list[NeuronWorking]], list[NeuronWorking]]:
        """A layer's neurons worked line by line, by frame, and those listed by value; ``lead``: the
        first frame opens with :attr:`after_lead`."""
        shown, listed = spelled_neurons(row, self.doc.detail)
        if self.like is not None:
            return _sliced(shown, self.like.neurons(self._planned(row), lead)[0]), listed
        opening = prose_height(self.after_lead, "normalsize", 1.0) if lead else 0.0
        return neuron_frames(shown, lead=opening), listed

    def _planned(self, found: Any) -> Any:
        """What stands where ``found`` does in the document of the slides this handout follows (a part of
        the backward pass, a gradient, a layer's row of neurons): both documents have the same shape."""
        assert self.like is not None
        other = self.like.doc
        for i, section in enumerate(self.doc.backward):
            for j, part in enumerate(section.parts):
                if part is found:
                    return other.backward[i].parts[j]
                if (k := _index(part.gradients, found)) >= 0:
                    return other.backward[i].parts[j].gradients[k]
        for name in ("examples", "after_examples"):
            for e, example in enumerate(getattr(self.doc, name)):
                if (r := _index(example.layers, found)) >= 0:
                    return getattr(other, name)[e].layers[r]
        raise LookupError("not part of this deck's document")


def _index(items: list[Any], found: Any) -> int:
    """Where ``found`` itself (not an equal copy) is in ``items``, or -1."""
    return next((index for index, item in enumerate(items) if item is found), -1)


def _sliced(items: list[Any], planned: list[list[Any]]) -> list[list[Any]]:
    """``items`` in groups of the sizes of ``planned``'s (which holds as many)."""
    if len(items) != sum(map(len, planned)):
        raise ValueError(f"the handout has {len(items)} items where the slides have {sum(map(len, planned))}")
    found = iter(items)
    return [[next(found) for _ in group] for group in planned]


def _as(entry: Entry, planned: Entry) -> Entry:
    """``entry`` with as many terms written as the slides' ``planned`` one."""
    return Entry(entry.kind, entry.item, planned.more)
