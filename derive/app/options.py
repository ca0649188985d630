"""The values of the command line's options, parsed: whole numbers, exact decimals, names, choices, marks.

Each parser turns one word into a typed value or raises :class:`argparse.ArgumentTypeError`, which
argparse reports as one line naming the option, with status 2.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

MOST_MARKS = 100  # for one part or one question


def whole(low: int, high: int | None = None, what: str = "a whole number") -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value}")
        return value

    return parse


def decimal(what: str, *, below_one: bool = False, positive: bool = False) -> Any:
    """A number read as the exact decimal written: 0 or more (above 0 if ``positive``; below 1 if ``below_one``)."""

    def parse(text: str) -> Fraction:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value.is_finite() or value < 0 or (positive and value == 0) or (below_one and value >= 1):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return Fraction(value)

    return parse


def percent(text: str) -> Decimal:
    """A percentage from 0 to 100, read as the exact decimal written: ``50``, ``62.5``."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {text!r}") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {text}")
    return value


def names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected parameter names separated by commas, e.g. w5,w1")
    return names


def marks(text: str) -> tuple[int | tuple[int, ...], ...]:
    """``11,6,12``: each question's marks; ``4+4+3,6,12``: a question's parts' marks joined by +."""
    found: list[int | tuple[int, ...]] = []
    for entry in text.split(","):
        numbers = [number.strip() for number in entry.split("+")]
        if not all(number.isdigit() and 1 <= int(number) <= MOST_MARKS for number in numbers):
            raise argparse.ArgumentTypeError(
                f"expected whole numbers of marks from 1 to {MOST_MARKS}, one per question separated by commas, "
                f"a question's parts joined by + (e.g. 11,6,12 or 4+4+3,6,12); got {text!r}"
            )
        found.append(int(numbers[0]) if len(numbers) == 1 else tuple(int(number) for number in numbers))
    return tuple(found)


def text_line(what: str, longest: int = 120) -> Any:
    """A line of text for a document's header: printable, not empty, at most ``longest`` characters."""

    def parse(text: str) -> str:
        line = text.strip()
        if not line or not line.isprintable() or len(line) > longest:
            raise argparse.ArgumentTypeError(f"expected {what} on one line of at most {longest} characters")
        return line

    return parse


def choice(what: str, options: Sequence[str]) -> Any:
    """An option with fixed values that answers a typo with a did-you-mean."""

    def parse(text: str) -> str:
        if text in options:
            return text
        close = difflib.get_close_matches(text.lower(), options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentTypeError(f"unknown {what} {text!r}{hint} (expected one of: {', '.join(options)})")

    return parse
