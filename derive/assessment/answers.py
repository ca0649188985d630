"""Answer sheets and marks files: what students wrote, and what each step is worth.

An answer sheet is a TOML or JSON table of ``key = number`` (one student), or a CSV file for a
class: a ``student`` column, an optional ``variant`` column, and one column per key.  Keys are the
step keys of ``derive keys`` or blank numbers.  Every number is kept as the decimal the student
wrote (``0.50`` keeps its two decimals: they say how precise the answer claims to be) and is parsed
as a number, never evaluated.  A marks file is TOML with a ``[weights]`` table of ``key = weight``.

A number may be written with the language's decimal mark (``0,5933`` with ``--lang es``, read as
0.5933) or with a point, as calculators and programs write it, in every language.  In English a
comma is refused, with a hint: there it separates thousands, and ``0,5933`` or ``1,234`` is not a
number to guess at.  No language's thousands separator is read (``1.234,5`` is refused).

Every mistake is a :class:`DeriveError` naming the file, the key or the line and column, and what
was expected.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from derive.core.steps import Steps
from derive.errors import DeriveError
from derive.spec.files import parse_user_data, read_user_file
from derive.spec.literals import duplicate_key
from derive.spec.messages import describe, number_problem
from derive.spec.variants import MAX_VARIANTS

ANSWER_FILE = "expected a .toml or .json file of key = number pairs, or a .csv file with a student column"
MARKS_FILE = "expected a TOML file with a [weights] table of key = weight"
STUDENT_COLUMN = "student"
VARIANT_COLUMN = "variant"
MAX_STUDENTS = 2000  # rows of a class file: graded in about 7 s of processor time within about 200 MiB
MAX_WEIGHT = 1000  # a blank's marks: a score stays a number a teacher reads
MAX_NUMBER_TEXT = 100  # characters: far more than any hand-written or float64 answer
# Numbers a double can hold, as the network files accept them.
LARGEST = Decimal("1.7976931348623157e308")
SMALLEST = Decimal("4.9406564584124654e-324")

# A number as text: an optional sign, digits with at most one point, an optional exponent (the web
# page's worksheet reads its inputs with the same pattern).
NUMBER_PATTERN = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(NUMBER_PATTERN)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
DECIMAL_POINT = "."
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Sheet:
    """One student's answers, by step key, each the decimal they wrote; a class file adds who and which variant."""

    answers: dict[str, Decimal]
    student: str | None = None
    variant: int | None = None


@dataclass(frozen=True)
class AnswerFile:
    """The sheets of one file: one for a TOML or JSON file, one per row of a class CSV."""

    source: str
    sheets: tuple[Sheet, ...]
    roster: bool  # a class CSV
    variants: bool  # the CSV has a variant column


class StepKeys:
    """Turns what a file names (a key or a blank number) into a step key of the worksheet graded.

    ``every`` holds the steps without ``--only``, so that a key it leaves out is told apart from a typo.
    """

    def __init__(self, steps: Steps, every: Steps | None = None) -> None:
        self.steps = steps
        self.every = every

    def resolve(self, raw: object, source: str, where: str) -> str:
        text = str(raw).strip()
        try:
            return self.steps.find(text).key
        except DeriveError as error:
            if self.every is not None and text in self.every.by_key:
                raise DeriveError(
                    f"{text!r} is not in this worksheet: --only leaves it out", source=source, key=where
                ) from None
            raise DeriveError(error.detail, source=source, key=where) from None


class _Once:
    """Refuses a step named twice in one table or header (``dE/dw5`` and its blank ``16`` count as one)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[str, str] = {}

    def add(self, key: str, raw: object, where: str) -> None:
        if key in self.seen:
            first = self.seen[key]
            same = f"the same step as {first!r}" + ("" if first == key else f" ({key})")
            if first == str(raw).strip():
                same = "given twice"
            raise DeriveError(f"{same}; expected each step once", source=self.source, key=where)
        self.seen[key] = str(raw).strip()


# ---------------------------------------------------------------------------------------------
# Numbers


def with_point(text: str, mark: str = DECIMAL_POINT) -> str:
    """A number written with the language's decimal ``mark`` as Python reads it: ``0,5933`` → ``0.5933``
    when the mark is a comma; a number written with a point, or anything else, is left as it is."""
    if mark != DECIMAL_POINT and text.count(mark) == 1 and DECIMAL_POINT not in text:
        return text.replace(mark, DECIMAL_POINT)
    return text


def number_text(text: str, source: str, where: str, mark: str = DECIMAL_POINT) -> Decimal | None:
    """A number written as text (a CSV cell): the decimal as written, with the language's decimal
    ``mark`` or a point; None for an empty cell."""
    text = text.strip()
    if not text:
        return None
    read = with_point(text, mark)
    if len(text) > MAX_NUMBER_TEXT or not _NUMBER.fullmatch(read):
        wrong_mark = mark == DECIMAL_POINT and _DECIMAL_COMMA.fullmatch(text)
        hint = "; write the decimal point as '.' (0.5933, not 0,5933)" if wrong_mark else ""
        raise DeriveError(f"expected a number, got {describe(text)}{hint}", source=source, key=where)
    try:
        value = Decimal(read)
    except InvalidOperation:  # an exponent beyond what a decimal holds: 1e99999999999999999999
        value = Decimal("Infinity")
    return _in_range(value, text, source, where)


def _in_range(value: Decimal, text: str, source: str, where: str) -> Decimal:
    """``value`` if a double holds it and it has at most MAX_NUMBER_TEXT digits (a calculator shows a dozen)."""
    if len(value.as_tuple().digits) > MAX_NUMBER_TEXT:
        raise DeriveError(
            f"expected a number of at most {MAX_NUMBER_TEXT} digits, got one of {len(value.as_tuple().digits)}",
            source=source,
            key=where,
        )
    size = value.copy_abs()  # no arithmetic: it could round or overflow the context
    if not size.is_finite() or size > LARGEST or (size and size < SMALLEST):
        raise DeriveError(
            f"expected a number a double can hold (about 5e-324 to 1.8e308 in size), got {describe(text)}",
            source=source,
            key=where,
        )
    return value


def answer_value(value: Any, source: str, where: str, mark: str = DECIMAL_POINT) -> Decimal | None:
    """A parsed TOML or JSON value as the student's number: None (JSON null, an empty string) is no answer;
    a number kept as text may be written with the language's decimal ``mark``."""
    if value is None:
        return None
    problem = number_problem(value)
    if problem is not None:
        raise DeriveError(problem, source=source, key=where)
    if isinstance(value, str):  # a number kept as text keeps its digits, as a CSV cell does
        return number_text(value, source, where, mark)
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(Decimal(value), str(value), source, where)
    if isinstance(value, Decimal):
        return _in_range(value, describe(value), source, where)
    raise DeriveError(f"expected a number, got {describe(value)}", source=source, key=where)


# ---------------------------------------------------------------------------------------------
# Answer sheets


def read_answers(path: Path, keys: StepKeys, decimal_mark: str = DECIMAL_POINT) -> AnswerFile:
    """One student's TOML or JSON sheet, or a class CSV (by its ``.csv`` suffix); numbers may be
    written with ``decimal_mark``, the language's, or with a point."""
    source = str(path)
    text = read_user_file(path, ANSWER_FILE, " (`derive keys` lists the keys)")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _class_file(text, source, keys, decimal_mark)
    json_format = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    try:
        data = parse_user_data(text, source, json_format=json_format)
    except DeriveError as error:
        if "Expected '=' after a key" in error.detail:
            hint = ' (a key with /, + or @ needs quotes: "dE/dw5" = 0.0822)'
        elif decimal_mark != DECIMAL_POINT and _DECIMAL_COMMA.search(text):
            hint = (
                f' (a number with a decimal {decimal_mark!r} is text in TOML and JSON: out_h1 = "0{decimal_mark}5933")'
            )
        else:
            raise
        raise DeriveError(error.detail + hint, source=source, key=error.key) from None
    return AnswerFile(source, (_sheet(data, source, keys, decimal_mark),), roster=False, variants=False)


def _sheet(data: Any, source: str, keys: StepKeys, mark: str = DECIMAL_POINT) -> Sheet:
    if not isinstance(data, Mapping):
        got = describe(data)
        raise DeriveError(f"expected a table of key = number pairs, got {got}", source=source, key="top level")
    twice = duplicate_key(data)
    if twice is not None:
        raise DeriveError("given twice; expected each step once", source=source, key=twice)
    if not data:
        raise DeriveError("has no answers; expected key = number pairs (`derive keys` lists the keys)", source=source)
    once = _Once(source)
    answers = {}
    for raw, value in data.items():
        key = keys.resolve(raw, source, raw)
        once.add(key, raw, raw)
        number = answer_value(value, source, raw, mark)
        if number is not None:
            answers[key] = number
    return Sheet(answers)


def _class_file(text: str, source: str, keys: StepKeys, mark: str = DECIMAL_POINT) -> AnswerFile:
    """A class: the header names the columns; each other row is one student's sheet."""
    rows = _csv_rows(text, source)
    if not rows:
        raise DeriveError(f"has no rows; {ANSWER_FILE}", source=source)
    header_line, header = rows[0]
    names = [cell.strip() for cell in header]
    student = _column(names, STUDENT_COLUMN, source, header_line, required=True)
    variant = _column(names, VARIANT_COLUMN, source, header_line, required=False)
    columns = _key_columns(names, {student, variant}, source, header_line, keys)
    if len(rows) == 1:
        raise DeriveError("has a header but no students; expected one row per student", source=source)
    sheets = []
    seen: dict[str, int] = {}
    for line, cells in rows[1:]:
        if len(cells) != len(names):
            raise DeriveError(
                f"{len(cells)} cells, but the header (line {header_line}) has {len(names)}; "
                "expected one cell per column",
                source=source,
                key=f"line {line}",
            )
        name = cells[student].strip()
        if not name:
            raise DeriveError("empty; expected the student's name", source=source, key=f"line {line}, column student")
        if name in seen:
            raise DeriveError(
                f"student {name!r} is also on line {seen[name]}; expected one row per student",
                source=source,
                key=f"line {line}",
            )
        seen[name] = line
        number = None if variant is None else _variant(cells[variant], source, line)
        answers = {}
        for index, key in columns.items():
            value = number_text(cells[index], source, f"line {line}, column {names[index]}", mark)
            if value is not None:
                answers[key] = value
        sheets.append(Sheet(answers, student=name, variant=number))
    return AnswerFile(source, tuple(sheets), roster=True, variants=variant is not None)


def _csv_rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    """The rows that hold anything, each with the line it starts on."""
    first = text.lstrip("\r\n").partition("\n")[0]
    delimiter = max(_DELIMITERS, key=first.count)  # a comma unless the header uses ; or tabs (Excel in Spain)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((line, cells))
                if len(rows) > MAX_STUDENTS + 1:  # the header and the students: stop reading here
                    raise DeriveError(
                        f"has more than {MAX_STUDENTS:,} students; expected at most {MAX_STUDENTS:,} rows "
                        "(grade a larger class in several files)",
                        source=source,
                        key=f"line {line}",
                    )
            line = reader.line_num + 1
    except csv.Error as error:
        hint = " (a quote is not closed)" if "end of data" in str(error) else ""
        raise DeriveError(f"not valid CSV: {error}{hint}", source=source, key=f"line {reader.line_num}") from None
    return rows


def _column(names: list[str], wanted: str, source: str, line: int, *, required: bool) -> int | None:
    found = [index for index, name in enumerate(names) if name.lower() == wanted]
    if len(found) > 1:
        raise DeriveError(f"two {wanted!r} columns; expected one", source=source, key=f"line {line}")
    if found:
        return found[0]
    if required:
        raise DeriveError(
            f"no {wanted!r} column; expected a header such as: student,net_h1,out_h1 (one column per key)",
            source=source,
            key=f"line {line}",
        )
    return None


def _key_columns(names: list[str], taken: set[int | None], source: str, line: int, keys: StepKeys) -> dict[int, str]:
    """Each answer column and the step key it names."""
    once = _Once(source)
    columns = {}
    for index, name in enumerate(names):
        if index in taken:
            continue
        where = f"line {line}, column {index + 1}"
        if not name:
            raise DeriveError("a column without a name; expected a step key or blank number", source=source, key=where)
        key = keys.resolve(name, source, where)
        once.add(key, name, where)
        columns[index] = key
    return columns


def _variant(text: str, source: str, line: int) -> int:
    cell = text.strip()
    if not cell.isdigit() or not 1 <= int(cell) <= MAX_VARIANTS:
        raise DeriveError(
            f"expected a variant number from 1 to {MAX_VARIANTS}, got {describe(cell)}",
            source=source,
            key=f"line {line}, column variant",
        )
    return int(cell)


# ---------------------------------------------------------------------------------------------
# Marks


def read_marks(path: Path, keys: StepKeys) -> dict[str, Decimal]:
    """The ``[weights]`` table of a marks file: each blank's weight, by step key (others weigh 1)."""
    source = str(path)
    text = read_user_file(path, MARKS_FILE)
    data = parse_user_data(text, source, json_format=path.suffix.lower() == ".json")
    if not isinstance(data, Mapping):
        raise DeriveError(f"expected a [weights] table, got {describe(data)}", source=source, key="top level")
    for name in data:
        if name != "weights":
            close = difflib.get_close_matches(str(name), ["weights"], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DeriveError(f"unknown key {name!r}{hint} (expected a [weights] table)", source=source, key=name)
    table = data.get("weights")
    if not isinstance(table, Mapping):
        got = "missing" if table is None else f"got {describe(table)}"
        raise DeriveError(f"{got}; expected a [weights] table of key = weight", source=source, key="weights")
    twice = duplicate_key(table) or duplicate_key(data)
    if twice is not None:
        raise DeriveError("given twice; expected each step once", source=source, key=f"weights.{twice}")
    once = _Once(source)
    weights = {}
    for raw, value in table.items():
        where = f"weights.{raw}"
        key = keys.resolve(raw, source, where)
        once.add(key, raw, where)
        if keys.steps.by_key[key].blank is None:
            raise DeriveError(
                "has no blank in this worksheet; expected the key of a blank (only blanks earn marks)",
                source=source,
                key=where,
            )
        weight = None if isinstance(value, str) else answer_value(value, source, where)
        if weight is None or not 0 <= weight <= MAX_WEIGHT:
            raise DeriveError(
                f"expected a weight from 0 to {MAX_WEIGHT}, got {describe(value)}", source=source, key=where
            )
        weights[key] = weight
    return weights
