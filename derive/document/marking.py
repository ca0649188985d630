"""An exam's marks: what a lecturer sets, how a question's marks are shared among its parts and a
part's among its mark-scheme lines, and the window a value is accepted in.

A value asked to N significant figures is accepted within one unit of its last figure, and from the
value a student gets by rounding every earlier answer to N figures as they go: both are right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from derive.core.numbers import Number, exact, format_number
from derive.core.steps import Steps
from derive.errors import DeriveError

from .model import Mark, Question
from .precision import ANSWER_FIGURES

MINUTES_PER_MARK = 1.5  # the default duration: a mark and a half a minute, in steps of 5 minutes
SHORTEST = 30  # minutes
MOST_FIGURES = 15

# One question's marks: its total (shared among its parts), or each part's.
QuestionMarks = int | tuple[int, ...]


@dataclass(frozen=True)
class ExamSetting:
    """What a lecturer sets beside the network: the marks, the time, the figures asked, the header.

    ``seed`` is where the numbers came from (printed on the key), ``None`` for the network's own.
    """

    marks: tuple[QuestionMarks, ...] = ()
    minutes: int | None = None
    figures: int = ANSWER_FIGURES
    course: str | None = None
    date: str | None = None
    seed: int | None = None

    def duration(self, total: int) -> int:
        """The minutes the exam lasts: as set, or 1.5 a mark rounded up to 5 (at least 30)."""
        return self.minutes or max(SHORTEST, 5 * math.ceil(MINUTES_PER_MARK * total / 5))


def set_marks(questions: Sequence[Question], marks: Sequence[QuestionMarks]) -> None:
    """Give each question the marks ``--marks`` sets (a total, or one number per part)."""
    if not marks:
        return
    form = ",".join("+".join(str(part.marks) for part in question.parts) for question in questions)
    if len(marks) != len(questions):
        raise DeriveError(
            f"this exam has {len(questions)} questions, got marks for {len(marks)} "
            f"(its default, part by part: --marks {form})",
            key="--marks",
        )
    for question, given in zip(questions, marks, strict=True):
        count = len(question.parts)
        if isinstance(given, tuple) and len(given) != count:
            raise DeriveError(
                f"question {question.number} has {count} parts, got {len(given)} marks for it "
                f"({'+'.join(map(str, given))}; its default is {form.split(',')[question.number - 1]})",
                key="--marks",
            )
        if isinstance(given, int) and given < count:
            raise DeriveError(
                f"question {question.number} has {count} parts of at least 1 mark each, got {given}", key="--marks"
            )
        shares = given if isinstance(given, tuple) else share(given, [part.marks for part in question.parts])
        for part, marks_of_part in zip(question.parts, shares, strict=True):
            part.scheme = allot(part.scheme, marks_of_part)
            part.marks = marks_of_part


def share(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """``total`` shared in proportion to ``weights`` (largest remainder), each share at least 1."""
    rest = total - len(weights)
    raw = [Fraction(rest * weight, sum(weights)) for weight in weights]
    shares = [1 + math.floor(value) for value in raw]
    by_remainder = sorted(range(len(raw)), key=lambda k: raw[k] - math.floor(raw[k]), reverse=True)
    for k in by_remainder[: total - sum(shares)]:
        shares[k] += 1
    return tuple(shares)


def allot(scheme: Sequence[Mark], marks: int) -> list[Mark]:
    """The mark scheme worth ``marks``: extra marks go to the method, one at a time; with fewer,
    a mark worth more gives one up, then neighbouring lines of the same kind share a mark."""
    lines = [replace(mark, earned=list(mark.earned)) for mark in scheme]
    while (total := sum(mark.marks for mark in lines)) != marks:
        if total < marks:
            pool = [m for m in lines if m.code == "M"] or [m for m in lines if m.code == "B"] or lines
            min(pool, key=lambda mark: mark.marks).marks += 1  # the first of the least: in turn
            continue
        heavy = [mark for mark in lines if mark.marks > 1]
        if heavy:
            max(heavy, key=lambda mark: mark.marks).marks -= 1
            continue
        pairs = [k for k in range(len(lines) - 1) if lines[k].code == lines[k + 1].code]
        k = pairs[0] if pairs else 0
        lines[k : k + 2] = [Mark(lines[k].code, 1, lines[k].earned + lines[k + 1].earned)]
    return lines


def grouped(marks: Sequence[Mark], count: int) -> list[Mark]:
    """``marks`` of one mark each gathered into at most ``count`` marks, neighbours together."""
    if len(marks) <= count:
        return list(marks)
    size, extra = divmod(len(marks), count)
    groups, start = [], 0
    for k in range(count):
        end = start + size + (k < extra)
        groups.append(Mark(marks[start].code, 1, [earned for mark in marks[start:end] for earned in mark.earned]))
        start = end
    return groups


# -- significant figures ---------------------------------------------------------------------------


def significant(value: Number | Decimal, figures: int) -> Decimal:
    """``value`` rounded to ``figures`` significant figures (ties to even), trailing zeros kept."""
    decimal = value if isinstance(value, Decimal) else Decimal(format_number(value, 60))
    if decimal == 0:
        return Decimal(0)
    with localcontext() as context:
        context.prec, context.rounding = figures, ROUND_HALF_EVEN
        return +decimal


def shown(value: Decimal) -> str:
    """A rounded value written out in full: 0.0004386, 12350, -0.03810."""
    text = format(value, "f")
    return "0" if text.strip("-0.") == "" else text


def rounded_working(steps: Steps, figures: int) -> dict[str, Decimal]:
    """Every step's value worked from earlier answers each rounded to ``figures`` figures, as a student
    who writes down each answer and goes on from it gets (the value itself is not rounded yet)."""
    values: dict = {}
    found = {}
    for step in steps:
        if step.after:  # the pass after the update is not asked
            continue
        value = Decimal(format_number(steps.evaluate(step, values), 60))
        values[step.symbol] = exact(Fraction(significant(value, figures)))
        found[step.key] = value
    return found


def figures_for_change(after: Number, change: Number, figures: int) -> int:
    """The figures θ⁺ needs for its change Δθ to show to ``figures`` figures: more when Δθ is small beside θ.

    With 4 figures, w⁺ = 0.2999431 (a change of −0.0000569) would read 0.2999, an answer that a
    student who changed nothing, or changed it by twice as much, gets too.
    """
    if change == 0 or after == 0:
        return figures
    gap = Decimal(format_number(after, 60)).adjusted() - Decimal(format_number(change, 60)).adjusted()
    return min(MOST_FIGURES, figures + max(0, gap))


def window(value: Number, rounded: Decimal, figures: int) -> tuple[str, str, str]:
    """The value to ``figures`` figures, and the lowest and highest answer accepted: one unit of the
    last figure either side of it and of the value rounded working gives."""
    answer = significant(value, figures)
    unit = Decimal(1).scaleb(answer.as_tuple().exponent) if answer else Decimal(1).scaleb(-figures)
    ends = (answer, significant(rounded, figures))
    low, high = min(ends) - unit, max(ends) + unit
    return shown(answer), shown(low.quantize(unit)), shown(high.quantize(unit))
