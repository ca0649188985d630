"""Naming the mistake behind each wrong answer of a graded sheet, from the catalogue of mistakes.

Each mistaken formula is evaluated at the student's own values (every answer on their sheet, and the
values computed from them) and at the exact ones, and compared with their answer by the rule a right
answer is compared by (:func:`derive.assessment.grading.agrees`).  An answer right but for its
digits is ``too_few_digits``; a step the student's error made trivial is ``simplified`` already.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext

import mpmath
import sympy as sp

from derive.assessment.grading import (
    MIN_DIGITS,
    Diagnosis,
    Grade,
    Row,
    agrees,
    answer_number,
    as_decimal,
    significant_digits,
)
from derive.assessment.mistakes import Model, Variant, variants
from derive.assessment.simplified import as_mpf
from derive.core.numbers import Number, compile_expr, evaluate
from derive.core.steps import Step, Steps

Compiled = tuple[str, Variant, Callable[..., Number], tuple[sp.Symbol, ...]]


class Diagnoser:
    """The catalogue's formulas of one worked network, compiled once, and the rule's digits."""

    def __init__(self, steps: Steps, min_digits: int = MIN_DIGITS) -> None:
        self.steps = steps
        self.model = Model(steps)
        self.min_digits = min_digits
        self._compiled: dict[str, list[Compiled]] = {}

    def compiled(self, step: Step) -> list[Compiled]:
        """The step's mistaken formulas, each compiled into a function of its symbols."""
        if step.key not in self._compiled:
            found = []
            for mistake, variant in variants(self.model, step):
                free = tuple(sorted(variant.formula.free_symbols, key=lambda symbol: symbol.name))
                found.append((mistake, variant, compile_expr(variant.formula, free), free))
            self._compiled[step.key] = found
        return self._compiled[step.key]

    def row(self, row: Row, theirs: Mapping[sp.Symbol, Number]) -> Diagnosis | None:
        """The mistake behind a wrong answer, the most specific first; None for any other verdict, or no match."""
        if row.verdict != "wrong" or row.given is None or row.mistake is not None:
            return row.mistake
        references = [row.expected] + ([] if row.carried is None else [row.carried])
        if any(_short(row.given, as_decimal(value), self.min_digits) for value in references):
            return Diagnosis("too_few_digits", {"digits": str(self.min_digits)})
        for mistake, variant, function, free in self.compiled(row.step):
            for values in (theirs, {}):
                value = _value(function, [as_mpf(values.get(symbol, self.steps.values[symbol])) for symbol in free])
                if value is not None and agrees(row.given, as_decimal(value), self.min_digits):
                    return Diagnosis(mistake, variant.names)
        return None

    def grade(self, result: Grade) -> Grade:
        """The graded sheet, each wrong answer with the mistake it matches."""
        if not any(row.verdict == "wrong" and row.mistake is None for row in result.rows):
            return result  # nothing to diagnose: most of a class's sheets
        theirs = their_values(result)
        rows = tuple(_with_mistake(row, self.row(row, theirs)) for row in result.rows)
        return dataclasses.replace(result, rows=rows)


def _with_mistake(row: Row, mistake: Diagnosis | None) -> Row:
    """The row with its mistake; the same row (its carried-forward value kept) when that is unchanged."""
    return row if mistake == row.mistake else dataclasses.replace(row, mistake=mistake)


def _short(given: Decimal, reference: Decimal, min_digits: int) -> bool:
    """Right but for its digits: fewer than asked, and the reference rounded or cut short to them (0.74 for 0.7414)."""
    if not 1 <= significant_digits(given) < min_digits:
        return False
    place = Decimal(1).scaleb(given.as_tuple().exponent)  # type: ignore[arg-type]
    if not reference or place > Decimal(1).scaleb(reference.adjusted()):
        return False  # 1 for 0.5933 keeps no digit of it
    with localcontext() as context:
        context.prec = 100
        return given in (reference.quantize(place, ROUND_HALF_UP), reference.quantize(place, ROUND_DOWN))


def _value(function: Callable[..., Number], arguments: Sequence[Number]) -> Number | None:
    try:
        value = evaluate(function, *arguments)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


def their_values(result: Grade) -> Mapping[sp.Symbol, Number]:
    """The student's value of every symbol they gave or that was computed from what they gave."""
    return _TheirValues(result)


class _TheirValues(Mapping[sp.Symbol, Number]):
    """:func:`their_values`, each value made a 40-digit number when first read: a wrong answer's
    mistaken formulas read a few of a sheet's values, and a class has hundreds of such sheets."""

    def __init__(self, result: Grade) -> None:
        self.given = {result.steps.by_key[key].symbol: given for key, given in result.answers.items()}
        # every row reads the grading walk's one store of their values: any row holding a symbol will do
        self.computed = {symbol: row.inputs for row in result.rows for symbol in row.inputs}
        self.symbols = self.computed.keys() | self.given.keys()

    def __getitem__(self, symbol: sp.Symbol) -> Number:
        if symbol in self.given:
            return answer_number(self.given[symbol])
        return self.computed[symbol][symbol]  # a KeyError for a symbol they have no value of

    def __iter__(self) -> Iterator[sp.Symbol]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)


def diagnose(results: Sequence[Grade], min_digits: int = MIN_DIGITS) -> list[Grade]:
    """Every sheet graded, each wrong answer with its mistake; one compiled catalogue per worked network."""
    diagnosers: dict[int, Diagnoser] = {}
    found = []
    for result in results:
        diagnoser = diagnosers.get(id(result.steps))
        if diagnoser is None:  # built once per worked network, not once per sheet
            diagnoser = diagnosers[id(result.steps)] = Diagnoser(result.steps, min_digits)
        found.append(diagnoser.grade(result))
    return found
