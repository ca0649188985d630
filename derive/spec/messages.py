"""The wording of the messages: key paths, values in words, unknown names with a suggestion.

A message names the place of a mistake (``layers[1].weights[0][2]``), says what was expected and
what was found, and stays short: long text is clipped and a huge number summarised.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from derive.spec.literals import UNDERFLOWS, BadNumber

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def child(parent: str, name: Any) -> str:
    """The key path of ``name`` inside ``parent``: ``layers[0].name``, or quoted if not a bare key."""
    bare = isinstance(name, str) and _BARE_KEY.fullmatch(name)
    part = name if bare else quoted(str(name))
    return f"{parent}.{part}" if parent else part


def quoted(text: str, limit: int = 40) -> str:
    """``text`` in double quotes as the reader sees it: printable characters as they are (𝔘, 😀, é),
    quotes and backslashes escaped, every character that does not print as its code (\\u200b).

    At most ``limit`` characters are shown between the quotes, escapes counted as printed (an
    unprintable character outside the basic plane takes ten), and never an escape cut in half.
    """
    pieces = [_shown(character) for character in text]
    if sum(map(len, pieces)) > limit:
        kept, room = [], limit - 3
        for piece in pieces:
            if len(piece) > room:
                break
            kept.append(piece)
            room -= len(piece)
        pieces = [*kept, "..."]
    return '"' + "".join(pieces) + '"'


def _shown(character: str) -> str:
    if character in '"\\':
        return "\\" + character
    if character.isprintable():
        return character
    code = ord(character)
    return json.dumps(character)[1:-1] if code < 0x20 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def out_of_range(shown: str, reason: str) -> str:
    """What a number no double can hold is told: NaN, infinite, overflowing or underflowing."""
    if reason == UNDERFLOWS:
        return f"expected 0 or a number of at least 5e-324 in size, got {shown}, which {reason}"
    return f"expected a finite number, got {shown}" + (f", which {reason}" if reason else "")


def unknown_name(value: Any, options: Sequence[str], what: str) -> str:
    """An unknown ``what`` (key, option, activation, …), with the closest of ``options`` as a suggestion."""
    text = str(value)
    if not text.isprintable():  # the key path already shows it, escaped; once is enough
        return f"unknown {what}, with characters that do not print (expected one of: {', '.join(options)})"
    close = difflib.get_close_matches(text, list(options), n=1, cutoff=0.6) or difflib.get_close_matches(
        text.lower(), list(options), n=1, cutoff=0.6
    )
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {clip(text)!r}{hint} (expected one of: {', '.join(options)})"


def unknown_parameter(name: Any, names: Sequence[str]) -> str:
    """An unknown parameter name, with the network's range of names rather than thousands of them."""
    close = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    weights = [n for n in names if n.startswith("w")]
    biases = [n for n in names if n.startswith("b")]
    have = f"{weights[0]} to {weights[-1]}" + (f" and {biases[0]} to {biases[-1]}" if biases else "")
    return f"unknown parameter {clip(str(name))!r}{hint} (this network has {have})"


def unquote_hint(value: Any) -> str:
    """A hint when a number or boolean was written in quotes: ``"0.5"``, ``"true"``."""
    if not isinstance(value, str):
        return ""
    if value.strip().lower() in ("true", "false"):
        return "; write true or false without quotes"
    try:
        Decimal(value.strip())
    except InvalidOperation:
        return ""
    return "; write the number without quotes"


def describe(value: Any) -> str:
    """A parsed value in words, for a message: "the string 'x'", "a table", "the boolean true"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {clip(value)!r}" if value else "an empty string"
    if isinstance(value, BadNumber):
        return f"the number {clip(value.text)}"
    if isinstance(value, int | float | Decimal | Fraction):
        return f"the number {describe_number(value)}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, datetime.date | datetime.time):
        return "a date or time"
    return f"a {type(value).__name__}"


def describe_number(value: int | float | Decimal | Fraction) -> str:
    """A number as written, shortened if it is huge: never thousands of digits in a message."""
    if isinstance(value, int) and value.bit_length() > 100:
        return f"{'-' if value < 0 else ''}{int(value.bit_length() * math.log10(2)) + 1}-digit whole number"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return describe_number(value.numerator)
        try:
            return format(float(value), "g")
        except OverflowError:
            return "huge fraction"
    return clip(str(value))


def clip(text: str, limit: int = 40) -> str:
    """At most ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: Fraction) -> str:
    """An exact number as a message shows it: a whole number exactly, any other as a float would print."""
    return str(value.numerator) if value.denominator == 1 else format(float(value), "g")


def number_problem(value: Any) -> str | None:
    """What is wrong with a number literal no double can hold (NaN, infinite, overflowing), if it is one."""
    return out_of_range(clip(value.text), value.reason) if isinstance(value, BadNumber) else None
