"""Number literals and JSON objects as the parsers hand them over, before any check.

A float literal is kept as the exact :class:`~decimal.Decimal` written, and one no double can hold
(NaN, infinite, overflowing, underflowing) as a :class:`BadNumber` for its message to quote; a JSON
object that gives a key twice is a :class:`DuplicateKey`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_MAX_DECIMAL = Decimal("1.7976931348623157e308")
_MIN_DECIMAL = Decimal("4.9406564584124654e-324") / 2
OVERFLOWS = "overflows a double"
UNDERFLOWS = "underflows a double to 0"


@dataclass(frozen=True)
class BadNumber:
    """A number literal with no finite value a double could hold: NaN, ±Infinity, 1e99999999999999999999."""

    text: str
    reason: str


class DuplicateKey(dict):  # type: ignore[type-arg]
    """A JSON object that gives a key twice (JSON keeps the last silently; we refuse it)."""

    def __init__(self, pairs: list[tuple[str, Any]], duplicate: str) -> None:
        super().__init__(pairs)
        self.duplicate = duplicate


def decimal_literal(text: str) -> Decimal | BadNumber:
    """A float literal exactly or, if no double can hold it, the literal as written, for the error."""
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent beyond even Decimal's range
        return BadNumber(text, UNDERFLOWS if re.search(r"[eE]-", text) else OVERFLOWS)
    if not value.is_finite():
        return BadNumber(text, "")
    size = value.copy_abs()  # no arithmetic: it would round, or overflow the context
    if size > _MAX_DECIMAL:
        return BadNumber(text, OVERFLOWS)
    if size and size < _MIN_DECIMAL:
        return BadNumber(text, UNDERFLOWS)
    return value


def duplicate_key(table: Any) -> str | None:
    """The key a parsed JSON object gives twice, if any."""
    return table.duplicate if isinstance(table, DuplicateKey) else None
