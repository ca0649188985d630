"""Equation chains evaluated as the reader would: each part with the givens and the lines before.

The parts come from tests/chains.py.  Every part is evaluated with the values the reader has (the
network file's givens and each earlier line's result) and consecutive parts must agree to the
digits shown: the error allowed is half a unit in the last of ``digits`` decimal places of every
number the part uses, carried through the part by first-order differences, plus half a unit of
the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from tests.chains import Expr

ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "gt": lambda a, b: float(a > b),
    "le": lambda a, b: float(a <= b),
}
CALLS: dict[str, Callable[..., float]] = {
    "exp": math.exp,
    "ln": math.log,
    "log": math.log,
    "tanh": math.tanh,
    "max": max,
}


def half_unit(digits: int) -> float:
    """Half a unit in the last of ``digits`` decimal places, the most a shown value is from its own."""
    return 0.5 * 10.0**-digits


@dataclass
class Values:
    """What the reader knows: each symbol's value, with the lookups the documents' definitions allow."""

    known: dict[str, float] = field(default_factory=dict)
    exact: set[str] = field(default_factory=set)  # the file's givens, not rounded
    aliases: list[Callable[[str], str | None]] = field(default_factory=list)

    def lookup(self, name: str) -> tuple[float, bool]:
        if name in self.known:
            return self.known[name], name in self.exact
        for alias in self.aliases:
            other = alias(name)
            if other is not None and other in self.known:
                return self.known[other], other in self.exact
        raise KeyError(name)


class UnknownSymbol(AssertionError):
    pass


def evaluate(expr: Expr, values: Values, shift: Mapping[int, float] | None = None) -> float:
    """The value of an expression; ``shift`` moves the leaf with that id (a number or a symbol)."""
    shift = shift or {}
    op, args = expr.op, expr.args
    if op == "num":
        return float(args[0]) + shift.get(id(expr), 0.0)
    if op == "sym":
        try:
            return values.lookup(args[0])[0] + shift.get(id(expr), 0.0)
        except KeyError:
            raise UnknownSymbol(f"a symbol the reader has no value for: {args[0]}") from None
    if op == "call":
        return CALLS[args[0]](*(evaluate(a, values, shift) for a in args[1:]))
    if op == "neg":
        return -evaluate(args[0], values, shift)
    if op == "cases":  # the value of the first row whose condition holds
        rows = list(zip(args[::2], args[1::2], strict=True))
        return next(evaluate(value, values, shift) for value, condition in rows if evaluate(condition, values, shift))
    a, b = (evaluate(x, values, shift) for x in args)
    return ARITHMETIC[op](a, b)


def leaves(expr: Expr) -> Iterator[Expr]:
    if expr.op in ("num", "sym"):
        yield expr
    else:
        for arg in expr.args:
            if isinstance(arg, Expr):
                yield from leaves(arg)


def uncertainty(expr: Expr, values: Values, digits: int) -> float:
    """How far the part may be from its exact value when each number it uses is rounded to ``digits``."""
    centre = evaluate(expr, values)
    total = 0.0
    for leaf in leaves(expr):
        exact = leaf.op == "sym" and values.lookup(leaf.args[0])[1]
        if not exact:
            total += abs(evaluate(expr, values, {id(leaf): half_unit(digits)}) - centre)
    return total


def is_number(expr: Expr) -> bool:
    return expr.op == "num" or (expr.op == "neg" and expr.args[0].op == "num")


def symbols(expr: Expr) -> set[str]:
    return {leaf.args[0] for leaf in leaves(expr) if leaf.op == "sym"}


@dataclass
class Chain:
    """One displayed chain: where it was read, its text, its parts."""

    where: str
    text: str
    parts: list[Expr]

    @property
    def value(self) -> float | None:
        last = self.parts[-1]
        return evaluate(last, Values()) if is_number(last) else None


def _known(name: str, values: Values) -> bool:
    try:
        values.lookup(name)
    except KeyError:
        return False
    return True


def disagreements(chain: Chain, values: Values, digits: int) -> list[str]:
    """Each pair of consecutive parts that do not agree to the digits shown, said in words."""
    found = []
    parts = chain.parts
    if chain.value is None and parts[0].op == "sym" and not _known(parts[0].args[0], values):
        parts = parts[1:]  # a statement in symbols of a quantity no line works out: its other parts agree
    try:
        results = [(evaluate(part, values), uncertainty(part, values, digits)) for part in parts]
    except UnknownSymbol as error:
        return [f"{chain.where}: {error} in {chain.text}"]
    for n in range(1, len(results)):
        (a, da), (b, db) = results[n - 1], results[n]
        allowed = da + db + 1e-12 * max(1.0, abs(a))
        if n == len(results) - 1 and is_number(parts[n]):
            allowed += half_unit(digits)
        if abs(a - b) > allowed:
            found.append(f"{chain.where}: part {n} = {a:.10g} but part {n + 1} = {b:.10g} in {chain.text}")
    return found
