"""Grading a student's working, step by step, with error carried forward (ECF).

Grading reads the step model: it walks the steps in document order, compares each given value
with the exact one and, when that fails, with the step's formula evaluated at the student's own
earlier values (:meth:`Steps.evaluate`).  A student who slips once, or rounds by hand, and then
works every later step correctly from their own numbers loses the marks for the slip only.

The verdict rule is :func:`agrees`; its constants are below, in one place, because the web page
applies the same rule in JavaScript.
"""

from __future__ import annotations

import csv
import io
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import mpmath
import sympy as sp

from derive.assessment.simplified import Trivialised
from derive.core.numbers import PRECISION, Number, format_number, full_precision
from derive.core.printing import PlainPrinter, symbol_text
from derive.core.steps import LEARNING_RATE, Step, Steps
from derive.document.precision import ANSWER_FIGURES
from derive.outputs.render import with_decimal_mark
from derive.outputs.report import meaning, table

if TYPE_CHECKING:
    from derive.outputs.render import Catalog

# -- the verdict rule's constants --------------------------------------------------------------
MIN_DIGITS = ANSWER_FIGURES  # significant digits an answer needs, as the worksheets ask: 0.741 is too coarse
FLOAT_RELATIVE = Decimal("1e-12")  # a value copied from a float64 program: its last digits are noise
EXACT_SLACK = Decimal("1e-30")  # the exact value, to the 40 digits it is computed with
ECF_POLICIES = {"full": Decimal(1), "half": Decimal("0.5"), "none": Decimal(0)}  # credit for carried_forward
CREDIT = {"correct": Decimal(1), "wrong": Decimal(0), "missing": Decimal(0)}
_WORKING_DIGITS = 2 * PRECISION + 20  # enough that no subtraction below rounds


def significant_digits(given: Decimal) -> int:
    """How many significant digits the student wrote: 0.50 has 2, 0.0050 has 2, 1.2e-3 has 2, 100 has 3, 0 has 0."""
    digits = given.as_tuple().digits
    return len(digits) if any(digits) else 0


def last_place(given: Decimal) -> Decimal:
    """One unit in the last decimal place written: 0.7414 → 0.0001, 0.50 → 0.01, 1.2e-3 → 0.0001, 100 → 1."""
    return Decimal(1).scaleb(given.as_tuple().exponent)  # type: ignore[arg-type]


def agrees(given: Decimal, reference: Decimal, min_digits: int = MIN_DIGITS) -> bool:
    """Whether ``given`` is a right answer for ``reference``.

    1. The reference itself, however written, is right: |given − reference| ≤ 1e-30 · max(1, |reference|)
       (``0.05`` for 0.05, ``1`` for 1, ``0`` or ``0.000`` for 0: nothing was rounded away).
    2. Otherwise the answer needs at least ``min_digits`` significant digits (``0.74`` has 2: too
       coarse), counted from the first non-zero digit to the last digit written, trailing zeros
       included (``0.50`` has 2; ``0`` has none),
    3. and must lie within one unit of its last decimal place: |given − reference| ≤ 10^e, where e
       is the exponent of that place (0.7414 → 1e-4, 0.50 → 1e-2, 1.2e-3 → 1e-4, 100 → 1).  For
       0.74136507, 0.7414, 0.7413 and 0.741 are right; 0.7412 is not.
    4. A value with many digits, copied from a float64 program (0.7729326066130681), is also right
       within a relative 1e-12: the allowance is max(10^e, 1e-12 · |reference|).  The relative term
       exceeds 10^e only when more than about 12 significant digits are written.

    The sign is part of the value (−0.7414 is wrong for 0.74136507).
    """
    with localcontext() as context:
        context.prec = _WORKING_DIGITS
        gap = abs(given - reference)
        if gap <= EXACT_SLACK * max(Decimal(1), abs(reference)):
            return True
        if significant_digits(given) < min_digits:
            return False
        return gap <= max(last_place(given), FLOAT_RELATIVE * abs(reference))


def verdict(
    given: Decimal | None, expected: Decimal, carried: Decimal | Carry | None, min_digits: int = MIN_DIGITS
) -> str:
    """``missing`` without a value; ``correct`` when it agrees with the exact value; ``carried_forward``
    when it agrees with the step's formula at the student's own earlier values (worked out only
    then, when given as a :class:`Carry`); ``wrong`` otherwise."""
    if given is None:
        return "missing"
    if agrees(given, expected, min_digits):
        return "correct"
    if isinstance(carried, Carry):
        carried = None if carried.value is None else as_decimal(carried.value)
    if carried is not None and agrees(given, carried, min_digits):
        return "carried_forward"
    return "wrong"


class Carry:
    """A step's formula at the student's own values, evaluated when first asked for."""

    def __init__(self, steps: Steps, step: Step, inputs: Mapping[sp.Symbol, Number]) -> None:
        self.steps, self.step, self.inputs = steps, step, inputs
        self.done = False

    @cached_property
    def value(self) -> Number | None:
        self.done = True
        return _evaluate(self.steps, self.step, self.inputs)


# -- the walk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Used:
    """An earlier step a formula takes, and where the value used came from: ``given`` (the
    student's answer), ``derived`` (a step not asked, computed from the student's answers) or ``exact``."""

    step: Step
    origin: str


class _Theirs:
    """The student's values by symbol; an answer becomes a 40-digit number only when a formula takes it."""

    def __init__(self) -> None:
        self.answers: dict[sp.Symbol, Decimal] = {}
        self.numbers: dict[sp.Symbol, Number] = {}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.numbers or symbol in self.answers

    def __getitem__(self, symbol: sp.Symbol) -> Number:
        found = self.numbers.get(symbol)
        if found is None:
            found = self.numbers[symbol] = answer_number(self.answers[symbol])
        return found


class _Inputs(Mapping[sp.Symbol, Number]):
    """The student's values of some symbols, read from their values when asked for."""

    def __init__(self, theirs: _Theirs, symbols: Sequence[sp.Symbol]) -> None:
        self.theirs, self.symbols = theirs, tuple(symbols)

    def __getitem__(self, symbol: sp.Symbol) -> Number:
        if symbol not in self.symbols:
            raise KeyError(symbol)
        return self.theirs[symbol]

    def __iter__(self) -> Iterator[sp.Symbol]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)


@dataclass(frozen=True)
class Diagnosis:
    """What a wrong answer got wrong: a mistake's id in the catalogue, and the names its message uses."""

    id: str
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One graded step; its carried-forward value is worked out when the verdict or a report needs it."""

    step: Step
    given: Decimal | None
    expected: Number
    verdict: str
    weight: Decimal
    credit: Decimal
    used: tuple[Used, ...]
    inputs: Mapping[sp.Symbol, Number]  # the student's values the carried-forward value was computed from
    steps: Steps = field(repr=False, compare=False)
    mistake: Diagnosis | None = None

    @cached_property
    def carried(self) -> Number | None:
        """The formula at the student's own values; None where it has no real value."""
        return _evaluate(self.steps, self.step, self.inputs)


@dataclass(frozen=True)
class Grade:
    """A student's graded working: the rows in document order, the score and the first wrong step."""

    steps: Steps
    rows: tuple[Row, ...]
    score: Decimal
    maximum: Decimal
    answers: Mapping[str, Decimal]
    student: str | None = None
    variant: int | None = None

    @property
    def first_wrong(self) -> Row | None:
        return next((row for row in self.rows if row.verdict == "wrong"), None)


def grade(
    steps: Steps,
    answers: Mapping[str, Decimal],
    *,
    ecf: str = "full",
    weights: Mapping[str, Decimal] | None = None,
    min_digits: int = MIN_DIGITS,
    student: str | None = None,
    variant: int | None = None,
) -> Grade:
    """Grade every blank, and every step without a blank that the student gave anyway.

    The steps are walked in document order, carrying the student's values: the value they gave;
    for a step not asked (no blank) that they did not give, its formula at their values, so that
    E_total⁺ is judged from their own updated weights; for an asked step left empty, the exact
    value.  A step without a blank earns nothing (weight 0): the maximum is the same for every
    student.  A blank weighs 1 unless ``weights`` says otherwise.  A carried-forward step that the
    student's error made trivial (:mod:`derive.assessment.simplified`) is wrong, whatever ``ecf``, with
    the mistake ``simplified`` naming the answers that made it so.
    """
    weights = weights or {}
    trivial = Trivialised(steps)
    theirs = _Theirs()
    origin: dict[sp.Symbol, str] = {}
    rows = []
    for step, free, uses in _plan(steps):
        given = answers.get(step.key)
        inputs = _Inputs(theirs, [symbol for symbol in free if symbol in theirs])
        carry = Carry(steps, step, inputs)
        used = tuple(Used(other, origin.get(other.symbol, "exact")) for other in uses)
        trivial.walk(step, inputs, given is not None)
        if given is not None:
            theirs.answers[step.symbol], origin[step.symbol] = given, "given"
        elif step.blank is None and carry.value is not None:
            # "computed from your answers" only where some answer of theirs went into it
            mine = any(origin.get(symbol) in ("given", "derived") for symbol in inputs)
            theirs.numbers[step.symbol], origin[step.symbol] = carry.value, "derived" if mine else "exact"
        if step.blank is None and given is None:
            continue
        decided = verdict(given, _exact_decimal(steps, step), carry, min_digits)
        mistake = _simplified(trivial, step, inputs, answers) if decided == "carried_forward" else None
        decided = "wrong" if mistake else decided
        weight = weights.get(step.key, Decimal(1)) if step.blank is not None else Decimal(0)
        credit = ECF_POLICIES[ecf] if decided == "carried_forward" else CREDIT[decided]
        row = Row(step, given, step.value, decided, weight, credit, used, inputs, steps, mistake)
        if carry.done:
            row.__dict__["carried"] = carry.value  # worked out for the verdict already
        rows.append(row)
    score = sum((row.weight * row.credit for row in rows), Decimal(0))
    maximum = sum((row.weight for row in rows), Decimal(0))
    return Grade(steps, tuple(rows), score, maximum, dict(answers), student, variant)


def _simplified(
    trivial: Trivialised, step: Step, inputs: Mapping[sp.Symbol, Number], answers: Mapping[str, Decimal]
) -> Diagnosis | None:
    """The mistake ``simplified``, naming the answers that made the step trivial (out_h1 = 1), or None."""
    causes = trivial.cause(step, inputs)
    if not causes:
        return None
    return Diagnosis("simplified", {"answer": ", ".join(f"{cause.key} = {answers[cause.key]}" for cause in causes)})


def _evaluate(steps: Steps, step: Step, inputs: Mapping[sp.Symbol, Number]) -> Number | None:
    """The step's formula at the student's values; None where that has no finite real value (log of a negative)."""
    try:
        value = steps.evaluate(step, inputs)
    except (ZeroDivisionError, ValueError, OverflowError):
        return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


@lru_cache(maxsize=1 << 16)
def answer_number(value: Decimal) -> Number:
    """An answer as a 40-digit number; a class's students give the same answers again and again."""
    with full_precision():
        return mpmath.mpf(str(value))


_PLANS: weakref.WeakKeyDictionary[Steps, list[tuple[Step, tuple[sp.Symbol, ...], list[Step]]]] = (
    weakref.WeakKeyDictionary()
)


def _plan(steps: Steps) -> list[tuple[Step, tuple[sp.Symbol, ...], list[Step]]]:
    """Each step with its formula's symbols and the steps it uses, in order: once per variant, not per student."""
    found = _PLANS.get(steps)
    if found is None:
        found = _PLANS[steps] = [(step, steps.free_symbols(step), steps.uses(step)) for step in steps]
    return found


_EXACT: weakref.WeakKeyDictionary[Steps, dict[str, Decimal]] = weakref.WeakKeyDictionary()


def _exact_decimal(steps: Steps, step: Step) -> Decimal:
    """The step's exact value as the rule compares it, worked out once per step (a class shares a variant's steps)."""
    known = _EXACT.setdefault(steps, {})
    found = known.get(step.key)
    if found is None:
        found = known[step.key] = as_decimal(step.value)
    return found


def as_decimal(value: Number) -> Decimal:
    """A computed value as the rule compares it: its 40 significant digits, trailing zeros kept."""
    return Decimal(mpmath.nstr(value, PRECISION, strip_zeros=False))


# -- outputs --------------------------------------------------------------------------------------


def show_score(value: Decimal) -> str:
    """A score as a teacher writes it: 53.5, 54 (no trailing zeros, no exponent)."""
    return format(value.normalize(), "f")


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def grade_json(result: Grade, t: Catalog | None = None) -> dict[str, Any]:
    """``{"score", "max", "first_wrong", "steps": [{"key", "blank", "given", "expected",
    "carried_forward_expected", "verdict", "mistake"}]}``, the steps in document order; ``mistake`` is
    ``{"id", "message"}`` (the message in the catalog's language) or null."""
    first = result.first_wrong
    return {
        "score": _json_number(result.score),
        "max": _json_number(result.maximum),
        "first_wrong": first.step.key if first else None,
        "steps": [
            {
                "key": row.step.key,
                "blank": row.step.blank,
                "given": None if row.given is None else float(row.given),
                "expected": float(row.expected),
                "carried_forward_expected": None if row.carried is None else float(row.carried),
                "verdict": row.verdict,
                "mistake": _mistake_json(row, t),
            }
            for row in result.rows
        ],
    }


def _mistake_json(row: Row, t: Catalog | None) -> dict[str, str] | None:
    if row.mistake is None:
        return None
    return {"id": row.mistake.id, "message": mistake_message(row, t) if t is not None else ""}


def mistake_message(row: Row, t: Catalog) -> str:
    """The sentence that says what the student did wrong in this step."""
    assert row.mistake is not None
    return t(f"mistakes.{row.mistake.id}", step=row.step.quantity, **row.mistake.names)


def class_json(results: Sequence[Grade], t: Catalog | None = None) -> list[dict[str, Any]]:
    """One object per student: who, which variant, then their grade as :func:`grade_json` gives it."""
    return [{"student": result.student, "variant": result.variant, **grade_json(result, t)} for result in results]


GRADES_HEADER = ("student", "variant", "score", "max", "first_wrong", "mistakes")


def grades_csv(results: Sequence[Grade]) -> str:
    """A gradebook's CSV: student, variant, score, max, first wrong step, and the mistakes diagnosed
    (``key: id`` for each, separated by semicolons); one row per student."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GRADES_HEADER)
    for result in results:
        first = result.first_wrong
        writer.writerow(
            [
                _csv_text(result.student or ""),
                "" if result.variant is None else result.variant,
                show_score(result.score),
                show_score(result.maximum),
                first.step.key if first else "",
                _csv_text("; ".join(f"{row.step.key}: {row.mistake.id}" for row in result.rows if row.mistake)),
            ]
        )
    return out.getvalue()


# A cell a spreadsheet would run: one that starts with = + - @ (or a tab or carriage return before one),
# wherever a comma, semicolon or tab splits the line: a spreadsheet set for Spanish splits on ";".
_FORMULA_START = re.compile(r"(^|[,;\t\r\n])([ ]*)(?=[=+\-@])")


def _csv_text(text: str) -> str:
    """A name a spreadsheet will not run: every part that would start a formula, whichever of comma,
    semicolon or tab splits the line, starts with a quote mark instead (``Ana;=1+1`` → ``Ana;'=1+1``).

    A line break inside is written as "\n", which the writer quotes: with "\n" as the line
    terminator it would leave a lone "\r" bare, and a reader would split the row there.
    """
    quoted = _FORMULA_START.sub(lambda found: found.group(1) + found.group(2) + "'", text)
    if quoted[:1] in ("\t", "\r"):
        quoted = "'" + quoted
    return quoted.replace("\r\n", "\n").replace("\r", "\n")


def grade_text(result: Grade, t: Catalog, *, heading: str, digits: int) -> str:
    """The table (blank, key, given, expected, verdict), the score, and the first wrong step's working."""
    header = [t(f"check.{column}") for column in ("blank", "key", "given", "expected", "verdict")]
    cells = [
        [
            "" if row.step.blank is None else str(row.step.blank),
            row.step.key,
            "" if row.given is None else with_decimal_mark(row.given, t),
            _shown(row.expected, digits, t),
            t(f"check.{row.verdict}") + (f" ({row.mistake.id})" if row.mistake else ""),
        ]
        for row in result.rows
    ]
    score = t("check.score", score=show_score(result.score), max=show_score(result.maximum))
    first = result.first_wrong
    working = worked_line(first, result, t, digits) if first else t("check.none_wrong") + "\n"
    return f"{heading}\n\n{table(header, cells)}\n{score}\n\n{working}{mistakes_text(result, t)}"


def mistakes_text(result: Grade, t: Catalog) -> str:
    """Each diagnosed step, and under it the one sentence that says what went wrong."""
    diagnosed = [row for row in result.rows if row.mistake is not None]
    if not diagnosed:
        return ""
    lines = [t("check.mistakes")]
    for row in diagnosed:
        where = (
            row.step.key if row.step.blank is None else t("check.blank_key", blank=row.step.blank, name=row.step.key)
        )
        lines += [f"  {where}", f"    {mistake_message(row, t)}"]
    return "\n" + "\n".join(lines) + "\n"


def worked_line(row: Row, result: Grade, t: Catalog, digits: int) -> str:
    """A wrong step's working: its formula, the student's inputs substituted, the value they give,
    the exact value, and which of the student's answers it used."""
    step, steps = row.step, result.steps
    labels = plain_labels(steps)
    numbers = {}
    for symbol in step.formula.free_symbols:
        earlier = steps.by_symbol.get(symbol)
        if earlier is not None and earlier.key in result.answers:
            numbers[symbol] = str(result.answers[earlier.key])  # as the student wrote it
        else:
            numbers[symbol] = format_number(row.inputs.get(symbol, steps.values[symbol]), digits)
    formula = PlainPrinter(labels).doprint(step.formula)
    substituted = with_decimal_mark(PlainPrinter(labels, numbers).doprint(step.formula), t)
    where = step.key if step.blank is None else t("check.blank_key", blank=step.blank, name=step.key)
    lhs = labels.get(step.symbol, step.key)
    pad = " " * len(lhs)
    lines = [t("check.first_wrong", step=where, meaning=meaning(step, t)), f"  {lhs} = {formula}"]
    if substituted != formula:
        lines.append(f"  {pad} = {substituted}")
    exact = _shown(row.expected, digits, t)
    if row.carried is not None:
        lines.append(f"  {pad} = {_shown(row.carried, digits, t)}")
    if row.carried is None or _shown(row.carried, digits, t) != exact:
        lines.append("  " + t("check.exact_value", value=exact))
    theirs = [used for used in row.used if used.origin != "exact"]
    if theirs:
        lines.append("  " + t("check.used", answers=", ".join(_used_name(used, t) for used in theirs)))
    else:
        lines.append("  " + t("check.used_none"))
    lines.append("  " + t("check.you_wrote", given=str(row.given)))
    return "\n".join(lines) + "\n"


def _shown(value: Number, digits: int, t: Catalog) -> str:
    """A value as the report shows it: ``digits`` decimals, with the language's decimal mark."""
    return with_decimal_mark(format_number(value, digits), t)


def _used_name(used: Used, t: Catalog) -> str:
    step = used.step
    if used.origin == "derived":
        return t("check.derived", name=step.key)
    return step.key if step.blank is None else t("check.blank_key", blank=step.blank, name=step.key)


def plain_labels(steps: Steps) -> dict[sp.Symbol, str]:
    """The plain-text name of every symbol a formula may hold: net_h1, w5, δ_o1, ∂E_total/∂out_o1, η."""
    labels = {symbol: symbol_text(name) for symbol, name in steps.derivation.graph.names.items()}
    labels.update((step.symbol, step.quantity) for step in steps if step.symbol not in labels)
    labels[LEARNING_RATE] = "η"
    return labels
