"""Equation chains read back from derive's documents and evaluated here, with nothing of derive's.

A displayed chain, ``symbol = formula = numbers substituted = value``, is read from the LaTeX that
the Markdown and the worksheet print or from the MathML of the page, into one tree of boxes (rows,
fractions, scripts, tokens), and parsed by a small grammar of the notations derive writes:
``\\frac``, ``\\cdot``, ``e^{…}``, ``\\ln``, ``\\tanh``, ``\\max(0, x)``, ``[x > 0]``, powers,
``∂a/∂b`` as one symbol, ``\\Delta\\theta`` as one symbol, a decimal comma.  tests/chain_values.py
evaluates what this reads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

# --- boxes: what LaTeX and MathML both are once read -------------------------------------------


@dataclass(frozen=True)
class Tok:
    kind: str  # "num", "id" or "op"
    text: str


@dataclass(frozen=True)
class Row:
    items: tuple


@dataclass(frozen=True)
class Frac:
    num: Row
    den: Row


@dataclass(frozen=True)
class Script:
    base: object
    sub: Row | None
    sup: Row | None


@dataclass(frozen=True)
class Cases:
    """A function by cases: each (value, condition) row, ``\\begin{cases}`` or ``<mtable>``."""

    rows: tuple[tuple[Row, Row], ...]


GREEK = {"delta": "δ", "eta": "η", "beta": "β", "lambda": "λ", "theta": "θ", "sigma": "σ", "Delta": "Δ"}
FUNCTIONS = {"ln", "tanh", "max", "exp", "log"}
OPERATORS = {"cdot": "·", "times": "·", "partial": "∂", "sum": "∑", "gt": ">", "le": "≤"}
BY_CASES = re.compile(r"\\begin\{cases\}(.*?)\\end\{cases\}", re.S)
IGNORED = re.compile(r"\\(?:left|right|displaystyle|quad|qquad)(?![a-zA-Z])|\\[,;!: ]|&|~")


def latex_boxes(latex: str) -> Row:
    """The boxes of one LaTeX formula (a decimal comma ``{,}`` read as a point)."""
    latex = re.sub(r"\\answer\{([^{}]*)\}", r"\1", latex.replace("{,}", "."))
    latex = BY_CASES.sub(case_rows, latex)
    latex = re.sub(r"\\blanktag\{[^{}]*\}|\\text\{\s*\(\*\)\s*\}|\\\\\*?", " ", latex)
    latex = IGNORED.sub(" ", latex)
    row, end = _read_row(latex, 0, closing="")
    assert end == len(latex), f"unread LaTeX at {end}: {latex[end:]!r}"
    return row


def case_rows(cases: re.Match) -> str:
    """``\\begin{cases} a & c \\\\ b & d \\end{cases}`` as ``\\case{a}{c}\\case{b}{d}``, before ``&`` is set aside."""
    rows = [row.split("&") for row in cases[1].split(r"\\")]
    return "".join(rf"\case{{{value}}}{{{condition}}}" for value, condition in rows)


def _read_row(text: str, at: int, closing: str) -> tuple[Row, int]:
    items: list = []
    while at < len(text):
        char = text[at]
        if char == closing:
            return Row(tuple(items)), at + 1
        if char.isspace():
            at += 1
        elif char in "_^":
            script, at = _read_argument(text, at + 1)
            base = _closed_group(items) if items[-1] == Tok("op", ")") else items.pop()
            sub = base.sub if isinstance(base, Script) else None
            sup = base.sup if isinstance(base, Script) else None
            base = base.base if isinstance(base, Script) else base
            items.append(Script(base, script if char == "_" else sub, script if char == "^" else sup))
        elif char == "{":
            group, at = _read_row(text, at + 1, "}")
            items.append(group)
        elif char == "\\":
            box, at = _read_command(text, at + 1)
            if isinstance(box, Cases) and items and isinstance(items[-1], Cases):
                box = Cases(items.pop().rows + box.rows)
            items.append(box)
        elif number := re.match(r"\d+(?:\.\d+)?", text[at:]):
            items.append(Tok("num", number[0]))
            at += len(number[0])
        elif char.isalpha():
            items.append(Tok("id", char))
            at += 1
        else:
            items.append(Tok("op", {"-": "−", "'": "′"}.get(char, char)))
            at += 1
    assert not closing, f"no closing {closing!r} in {text!r}"
    return Row(tuple(items)), at


def _closed_group(items: list) -> Row:
    """The parenthesised group that ends ``items``, taken off it: the base of ``\\left(…\\right)^{2}``."""
    depth = 0
    for start in range(len(items) - 1, -1, -1):
        depth += {Tok("op", ")"): 1, Tok("op", "("): -1}.get(items[start], 0)
        if depth == 0:
            group = Row(tuple(items[start:]))
            del items[start:]
            return group
    raise AssertionError(f"unbalanced parentheses in {items}")


def _read_argument(text: str, at: int) -> tuple[Row, int]:
    while text[at].isspace():
        at += 1
    if text[at] == "{":
        return _read_row(text, at + 1, "}")
    if text[at] == "\\":
        box, end = _read_command(text, at + 1)
        return Row((box,)), end
    return Row((Tok("num" if text[at].isdigit() else "id", text[at]),)), at + 1


def _read_command(text: str, at: int) -> tuple[object, int]:
    name = re.match(r"[a-zA-Z]+|.", text[at:])[0]
    at += len(name)
    if name == "case":  # one row of a cases environment, as latex_boxes wrote it; the rows after join it
        value, at = _read_argument(text, at)
        condition, at = _read_argument(text, at)
        return Cases(((value, condition),)), at
    if name in ("frac", "tfrac", "dfrac"):
        num, at = _read_argument(text, at)
        den, at = _read_argument(text, at)
        return Frac(num, den), at
    if name in ("mathrm", "text", "operatorname", "mathit"):
        word = re.match(r"\s*\{([^{}]*)\}", text[at:])
        return Tok("id", word[1].strip()), at + len(word[0])
    if name in GREEK:
        return Tok("id", GREEK[name]), at
    if name in FUNCTIONS:
        return Tok("id", name), at
    if name in OPERATORS:
        return Tok("op", OPERATORS[name]), at
    if name in "{}()[]":
        return Tok("op", name), at
    raise AssertionError(f"a LaTeX command this reader does not know: \\{name} in {text!r}")


MATHML = "{http://www.w3.org/1998/Math/MathML}"


def mathml_boxes(element: ET.Element) -> Row:
    """The boxes of a MathML element (``<math>`` or inside it); a decimal comma read as a point."""
    row = Row(tuple(box for child in element for box in _mathml_box(child)))
    while len(row.items) == 1 and isinstance(row.items[0], Row):
        row = row.items[0]
    return row


def _mathml_box(element: ET.Element) -> Iterator[object]:
    tag = element.tag.removeprefix(MATHML)
    text = (element.text or "").strip()
    if tag in ("mrow", "mstyle", "math", "mpadded", "mtd"):
        yield mathml_boxes(element)
    elif tag == "mn":
        yield Tok("num", text.replace(",", "."))
    elif tag in ("mi", "mtext"):
        yield Tok("id", text)
    elif tag == "mo" and text != "{":  # the brace of a function by cases: the table says it all
        yield Tok("op", {"-": "−", "⋅": "·", "'": "′"}.get(text, text))
    elif tag == "mtable":
        yield Cases(tuple(tuple(_as_row(cell) for cell in row) for row in element))
    elif tag == "mfrac":
        num, den = (_as_row(child) for child in element)
        yield Frac(num, den)
    elif tag in ("msub", "msup", "msubsup"):
        base, *scripts = element
        rows = [_as_row(child) for child in scripts]
        sub = rows[0] if tag != "msup" else None
        sup = rows[-1] if tag != "msub" else None
        yield Script(_single(_as_row(base)), sub, sup)
    elif tag not in ("mspace", "mo"):
        raise AssertionError(f"a MathML element this reader does not know: <{tag}>")


def _as_row(element: ET.Element) -> Row:
    boxes = tuple(_mathml_box(element))
    return boxes[0] if len(boxes) == 1 and isinstance(boxes[0], Row) else Row(boxes)


def _single(box: object) -> object:
    while isinstance(box, Row) and len(box.items) == 1:
        box = box.items[0]
    return box


# --- expressions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    """A node: ("num", text) ("sym", name) ("neg", a) ("add"|"sub"|"mul"|"div"|"pow"|"gt", a, b) ("call", f, a, …)."""

    op: str
    args: tuple = ()


def flat(box: object) -> str:
    """A box's text, as a symbol's name uses it: ``h1``, ``total``, ``+(1)``."""
    if isinstance(box, Tok):
        return box.text
    if isinstance(box, Row):
        return "".join(flat(item) for item in box.items)
    if isinstance(box, Script):
        return symbol_name(box)
    raise AssertionError(f"no name for {box}")


LABEL = re.compile(r"\+?(?:\(\d+\))?")  # a superscript that names (w⁺, out⁽²⁾), not a power


def symbol_name(box: Script) -> str:
    name = flat(_single(box.base))
    if box.sub is not None:
        name += "_" + flat(box.sub)
    if box.sup is not None:
        name += "^" + flat(box.sup)
    return name


class Parser:
    """Recursive descent over one row of boxes: sums of products of signed powers of atoms."""

    def __init__(self, row: Row) -> None:
        self.items = list(row.items)
        self.at = 0

    def peek(self) -> object | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> object:
        self.at += 1
        return self.items[self.at - 1]

    def is_op(self, *texts: str) -> bool:
        box = self.peek()
        return isinstance(box, Tok) and box.kind == "op" and box.text in texts

    def expect(self, text: str) -> None:
        assert self.is_op(text), f"expected {text!r} at {self.peek()!r}"
        self.at += 1

    def parts(self) -> list[Expr]:
        """The parts of a chain, split at each ``=`` (a part may be empty before the first)."""
        parts = []
        while True:
            if self.is_op("="):
                self.take()
                continue
            parts.append(self.sum())
            if self.peek() is None:
                return parts
            self.expect("=")

    def whole(self) -> Expr:
        expr = self.sum()
        if self.is_op(">", "≤"):  # a case's condition
            expr = Expr("gt" if self.take().text == ">" else "le", (expr, self.sum()))
        assert self.peek() is None, f"unread {self.items[self.at :]}"
        return expr

    def sum(self) -> Expr:
        expr = self.product()
        while self.is_op("+", "−"):
            op = "add" if self.take().text == "+" else "sub"
            expr = Expr(op, (expr, self.product()))
        return expr

    def product(self) -> Expr:
        if self.is_op("−", "+"):
            sign = self.take().text
            operand = self.product()
            return Expr("neg", (operand,)) if sign == "−" else operand
        expr = self.atom()
        while self.peek() is not None and not self.is_op("+", "−", "=", ")", "]", ",", ">", "≤"):
            if self.is_op("·"):
                self.take()
                expr = Expr("mul", (expr, self.signed_atom()))
            elif self.is_op("/"):
                self.take()
                expr = Expr("div", (expr, self.signed_atom()))
            else:
                expr = Expr("mul", (expr, self.atom()))
        return expr

    def signed_atom(self) -> Expr:
        if self.is_op("−"):
            self.take()
            return Expr("neg", (self.atom(),))
        return self.atom()

    def atom(self) -> Expr:
        box = self.take()
        if isinstance(box, Tok) and box.kind == "num":
            return Expr("num", (box.text,))
        if isinstance(box, Tok) and box.kind == "op" and box.text in "([":
            inner = self.sum()
            if box.text == "[":
                self.expect(">")
                inner = Expr("gt", (inner, self.sum()))
            self.expect(")" if box.text == "(" else "]")
            return inner
        if isinstance(box, Tok) and box.text == "∂":  # ∂a / ∂b, one symbol
            top = self.name_of(self.take())
            self.expect("/")
            self.expect("∂")
            return Expr("sym", (f"∂{top}/∂{self.name_of(self.take())}",))
        if isinstance(box, Tok) and box.text == "Δ":
            return Expr("sym", ("Δ" + self.name_of(self.take()),))
        if isinstance(box, Tok) and box.text in FUNCTIONS:
            return self.call(box.text)
        if isinstance(box, Row):
            return Parser(box).whole()
        if isinstance(box, Frac):
            return self.fraction(box)
        if isinstance(box, Script):
            return self.script(box)
        if isinstance(box, Cases):
            return Expr("cases", tuple(Parser(part).whole() for row in box.rows for part in row))
        if isinstance(box, Tok) and box.kind == "id":
            return Expr("sym", (box.text,))
        raise AssertionError(f"cannot read {box!r}")

    def call(self, function: str) -> Expr:
        argument = self.take()
        inner = Parser(argument) if isinstance(argument, Row) else None
        if inner is None:  # \max\left(0, x\right): the parenthesis follows in this row
            self.at -= 1
            inner = self
        inner.expect("(")
        arguments = [inner.sum()]
        while inner.is_op(","):
            inner.take()
            arguments.append(inner.sum())
        inner.expect(")")
        return Expr("call", (function, *arguments))

    def fraction(self, box: Frac) -> Expr:
        top = list(box.num.items)
        if top and isinstance(top[0], Tok) and top[0].text == "∂":
            bottom = list(box.den.items)
            return Expr("sym", (f"∂{self.name_of(Row(tuple(top[1:])))}/∂{self.name_of(Row(tuple(bottom[1:])))}",))
        return Expr("div", (Parser(box.num).whole(), Parser(box.den).whole()))

    def script(self, box: Script) -> Expr:
        base = _single(box.base)
        power = box.sup is not None and not LABEL.fullmatch(flat(box.sup))
        if power and isinstance(base, Tok) and base.text == "e" and box.sub is None:
            return Expr("call", ("exp", Parser(box.sup).whole()))
        if power:
            below = Script(base, box.sub, None) if box.sub is not None else base
            return Expr("pow", (Parser(Row((below,))).whole(), Parser(box.sup).whole()))
        return Expr("sym", (symbol_name(box),))

    @staticmethod
    def name_of(box: object) -> str:
        box = _single(box)
        if isinstance(box, Row) and len(box.items) == 2 and flat(box.items[0]) == "Δ":
            return "Δ" + flat(box.items[1])
        return flat(box)
