"""High-precision values, the source's hand-rounding, and how numbers are shown.

Values are computed with mpmath at :data:`PRECISION` significant digits from the exact decimals of
the input, so every figure shown is correct to the last digit printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

import mpmath
import sympy as sp

PRECISION = 40
DEFAULT_DIGITS = 9

Number = mpmath.mpf

# The working precision in bits that ``workdps(PRECISION)`` sets.
_BITS = mpmath.libmp.dps_to_prec(PRECISION)
_ALREADY = nullcontext()


def full_precision() -> AbstractContextManager[Any]:
    """Work at :data:`PRECISION` digits: ``mpmath.workdps``, or nothing when already there.

    Entering and leaving ``workdps`` costs more than a multiplication; inside a derivation, which
    already works at full precision, the thousands of nested calls skip it.
    """
    return _ALREADY if mpmath.mp.prec == _BITS else mpmath.workdps(PRECISION)


def exact(value: Fraction) -> Number:
    """An exact fraction as a high-precision number."""
    denominator = value.denominator
    if not denominator & (denominator - 1) and value.numerator.bit_length() <= 53:
        # a double's value (what training leaves): converted exactly, without a division
        return mpmath.mpf(float(value))
    with full_precision():
        return mpmath.mpf(value.numerator) / denominator


def to_fraction(value: Number) -> Fraction:
    """The exact binary value of a high-precision number, as a fraction."""
    sign, mantissa, exponent, _ = value._mpf_
    result = Fraction(int(mantissa)) * (Fraction(2) ** exponent)
    return -result if sign else result


def _quantize(value: Decimal, decimals: int, rounding: str) -> Decimal:
    """``value`` to ``decimals`` places, with as many digits of precision as that takes."""
    with localcontext() as context:
        context.prec = max(28, value.adjusted() + decimals + 2)
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def format_number(value: Number | float | Decimal, digits: int = DEFAULT_DIGITS, *, strip: bool = True) -> str:
    """``digits`` decimal places with trailing zeros dropped: 0.358916480 → ``0.35891648``.

    ``strip=False`` keeps them, as a filled-in blank shows every decimal asked for: ``0.358916480``.
    """
    # a document shows each value many times (its line, every line it is substituted in, the page's
    # data), and each time costs a 40-digit conversion; the type is in the key because a float and an
    # mpf of one value are equal but shown differently beyond a double's 17 digits
    try:
        return _formatted(type(value), value, digits, strip)
    except TypeError:  # an unhashable value (a signalling NaN Decimal): worked out without the cache
        return _formatted.__wrapped__(type(value), value, digits, strip)


@lru_cache(maxsize=1 << 14)
def _formatted(kind: type, value: Number | float | Decimal, digits: int, strip: bool) -> str:
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, mpmath.mpf):
        text = mpmath.nstr(value, PRECISION, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    else:
        text = repr(float(value))
    decimal = Decimal(text)
    if not decimal.is_finite():
        return str(decimal)
    shown = format(_quantize(decimal, digits, ROUND_HALF_EVEN), "f")
    if strip and "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    if shown.startswith("-") and not shown.strip("-0."):  # a negative value that rounds to zero
        shown = shown[1:]
    return shown  # never empty: format(…, "f") writes a digit before the point, which the strips keep


def format_exact(value: Fraction, digits: int = DEFAULT_DIGITS) -> str:
    """An exact fraction shown as :func:`format_number` shows a value, rounded as a decimal (ties to even).

    The fraction itself is rounded (``round`` of a Fraction is exact, ties to even), never a decimal
    approximation of it: that would round twice, wrongly within a hair of a tie.
    """
    scaled = round(value * 10**digits)
    # exact: a context as wide as the integer (an f-string would refuse thousands of digits)
    exact = Context(prec=scaled.bit_length() // 3 + 2, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return format_number(Decimal(scaled).scaleb(-digits, context=exact), digits)


@cache
def compile_expr(expr: sp.Expr, arguments: tuple[sp.Symbol, ...]) -> Callable[..., Number]:
    """A SymPy expression compiled once into an mpmath function of ``arguments``."""
    if expr in arguments:  # a factor that is a symbol (out_h1, w5): its value, without compiling code
        index = arguments.index(expr)
        return lambda *values: values[index]
    return sp.lambdify(arguments, expr, modules="mpmath")


def evaluate(function: Callable[..., Number], *arguments: Number) -> Number:
    """Call a compiled function at :data:`PRECISION` digits; a constant case (ReLU's 0) is a number too."""
    with full_precision():
        value = +function(*arguments)
        return mpmath.mpf(value) if isinstance(value, int) else value


def dot(weights: Sequence[Number], values: Sequence[Number]) -> Number:
    """Σ_k w_k · x_k at full precision."""
    with full_precision():
        return mpmath.fsum(w * x for w, x in zip(weights, values, strict=True))
