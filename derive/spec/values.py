"""One raw value checked at its place: a table, a whole number, a number, a list of numbers, a choice.

A mistake becomes a :class:`DeriveError` naming the source, the key path (``layers[1].weights[0][2]``)
and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from derive.errors import DeriveError
from derive.spec.literals import OVERFLOWS, UNDERFLOWS, BadNumber, DuplicateKey, decimal_literal
from derive.spec.messages import child, clip, describe, describe_number, out_of_range, unknown_name, unquote_hint
from derive.spec.model import MAX_MAGNITUDE, MIN_MAGNITUDE

# The key path of an error about the whole file's data (a JSON list where a table of keys belongs).
TOP_LEVEL = "top level"


class Checker:
    """Walks the raw data, naming each place (``layers[1].weights[0][2]``) in its errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> DeriveError:
        return DeriveError(message, source=self.source, key=key or TOP_LEVEL)

    def table(
        self, value: Any, key: str, allowed: Sequence[str], what: str, *, open_keys: bool = False
    ) -> Mapping[str, Any]:
        """A table whose keys are among ``allowed`` (any key with ``open_keys``), each given once."""
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected {what}, got {describe(value)}")
        if isinstance(value, DuplicateKey):
            raise self.fail(child(key, value.duplicate), "given twice in one table; expected each key once")
        for name in value:
            if not open_keys and name not in allowed:
                raise self.fail(child(key, name), unknown_name(name, allowed, "key"))
        return value

    def whole(self, value: Any, key: str, low: int, high: int | None, what: str) -> int:
        """A whole number from ``low`` to ``high`` (no upper bound if None); ``what`` says what it counts."""
        if isinstance(value, bool) or not isinstance(value, int):
            whole_valued = isinstance(value, Decimal | float | Fraction) and value == int(value)
            hint = "; write it without a decimal point" if whole_valued else unquote_hint(value)
            raise self.fail(key, f"expected {what}, got {describe(value)}{hint}")
        if value < low or (high is not None and value > high):
            raise self.fail(key, f"expected {what}, got {describe(value)}")
        return value

    def number(self, value: Any, key: str) -> Fraction:
        if isinstance(value, BadNumber):
            raise self.fail(key, out_of_range(clip(value.text), value.reason))
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
            raise self.fail(key, f"expected a number, got {describe(value)}{unquote_hint(value)}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(key, out_of_range(str(value), ""))
            value = Decimal(repr(value))  # the decimal the user wrote, not the binary approximation
        if isinstance(value, Decimal):
            checked = decimal_literal(str(value))
            if isinstance(checked, BadNumber):
                raise self.fail(key, out_of_range(clip(checked.text), checked.reason))
        elif abs(value) > MAX_MAGNITUDE:
            raise self.fail(key, out_of_range(describe_number(value), OVERFLOWS))
        elif value and abs(value) < MIN_MAGNITUDE:
            raise self.fail(key, out_of_range(describe_number(value), UNDERFLOWS))
        return Fraction(value)

    def vector(self, value: Any, key: str, length: int, what: str, why: str) -> tuple[Fraction, ...]:
        """Exactly ``length`` numbers; ``what`` names them (``inputs``), ``why`` says why so many."""
        if not isinstance(value, list | tuple):
            raise self.fail(key, f"expected a list of {length} {what} ({why}), got {describe(value)}")
        if len(value) != length:
            found = "an empty list" if not value else str(len(value))
            raise self.fail(key, f"expected {length} {what} ({why}), got {found}")
        return tuple(self.number(item, f"{key}[{k}]") for k, item in enumerate(value))

    def choice(self, value: Any, key: str, options: Sequence[str], what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected one of: {', '.join(options)}; got {describe(value)}")
        if value not in options:
            raise self.fail(key, unknown_name(value, options, what))
        return value
