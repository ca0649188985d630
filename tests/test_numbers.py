"""High-precision values and how they are shown, checked with Python's fractions and decimals.

The README's conventions: values are computed at 40 significant digits from the exact decimals;
tables show 9 decimals with trailing zeros dropped; ``--round-activations`` rounds half up, as by hand.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from derive.core.numbers import (
    DEFAULT_DIGITS,
    PRECISION,
    compile_expr,
    dot,
    evaluate,
    exact,
    format_exact,
    format_number,
    to_fraction,
)
from derive.core.rules import round_value


def test_forty_digits_by_default_nine_shown():
    assert PRECISION == 40 and DEFAULT_DIGITS == 9


@pytest.mark.parametrize("value", [Fraction(1, 3), Fraction(-2, 7), Fraction(15, 100), Fraction(10**30 + 1, 10**10)])
def test_exact_keeps_forty_significant_digits(value):
    number = exact(value)
    # the error of a 40-digit number is below one unit in its 40th significant digit
    error = abs(to_fraction(number) - value)
    assert error <= abs(value) * Fraction(1, 10**39)
    assert error > 0 or value.denominator & (value.denominator - 1) == 0  # 1/3 is not a binary fraction


@pytest.mark.parametrize(
    "value", [Fraction(3, 8), Fraction(-5, 4), Fraction(0), Fraction(7, 1024), Fraction(-1, 2**80)]
)
def test_to_fraction_is_the_exact_binary_value(value):
    assert to_fraction(exact(value)) == value  # binary fractions are held exactly
    assert to_fraction(mpmath.mpf(float(value))) == Fraction(float(value))


@pytest.mark.parametrize(
    ("text", "decimals", "expected"),
    [
        ("0.5932699921071872", 4, "0.5933"),
        ("0.59325", 4, "0.5933"),  # half up, not to even (0.5932)
        ("0.59335", 4, "0.5934"),
        ("-0.59325", 4, "-0.5933"),  # ties away from zero, on both sides
        ("0.00005", 4, "0.0001"),
        ("0.00004999", 4, "0"),
        ("123456789.125", 2, "123456789.13"),
        ("2.5", 0, "3"),
        ("0.7729326066130681", 15, "0.772932606613068"),
    ],
)
def test_round_half_up_as_by_hand(text, decimals, expected):
    rounded = to_fraction(round_value(exact(Fraction(text)), decimals))
    assert abs(rounded - Fraction(expected)) <= abs(Fraction(expected)) / 10**39  # to 40 digits


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.358916480, 9, "0.35891648"),  # trailing zeros dropped
        (0.0821670405642308, 9, "0.082167041"),
        (-0.02260254, 9, "-0.02260254"),
        (0.4, 9, "0.4"),
        (12.0, 9, "12"),
        (1e20, 9, "100000000000000000000"),
        (0.0821670405642308, 3, "0.082"),
        (0.0821670405642308, 0, "0"),
        (2.5, 0, "2"),  # the exact value 2.5 is a tie: to even
        (3.5, 0, "4"),
        (0.125, 2, "0.12"),
        (-0.0000000001, 9, "0"),  # never "-0"
        (-0.0000000006, 9, "-0.000000001"),
        (float("inf"), 9, "Infinity"),
        (float("-inf"), 9, "-Infinity"),
        (float("nan"), 9, "NaN"),
    ],
)
def test_format_number(value, digits, expected):
    assert format_number(value, digits) == expected


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.35891648, 9, "0.358916480"),  # a filled-in blank shows every decimal asked for
        (-0.0000000001, 9, "0.000000000"),  # never "-0.000000000"
        (-0.02260254, 9, "-0.022602540"),
        (100.0, 0, "100"),
        (100.0, 2, "100.00"),
    ],
)
def test_format_number_keeping_the_zeros(value, digits, expected):
    assert format_number(value, digits, strip=False) == expected


def test_whole_numbers_keep_their_zeros():
    assert (
        format_number(100.0, 0) == "100" and format_number(1200.0, 0) == "1200" and format_number(-100.0, 0) == "-100"
    )


def test_format_number_shows_forty_digit_values_beyond_a_float():
    with mpmath.workdps(PRECISION):
        third, minus_third = mpmath.mpf(1) / 3, mpmath.mpf(-1) / 3
        big = mpmath.mpf(10) ** 25 + mpmath.mpf(1) / 8
    assert format_number(third, 30) == "0." + "3" * 30
    assert format_number(third) == "0.333333333"
    assert format_number(minus_third, 35) == "-0." + "3" * 35
    assert format_number(big, 3) == "10000000000000000000000000.125"
    assert format_number(big, 2) == "10000000000000000000000000.12"  # a tie, to even
    assert format_number(mpmath.mpf(0), 5) == "0"


def test_compiled_expressions_evaluate_at_forty_digits():
    x, y = sp.symbols("x y")
    function = compile_expr(sp.exp(-x) * y + sp.log(x), (x, y))
    with mpmath.workdps(15):  # whatever the caller works at
        value = evaluate(function, exact(Fraction(1, 3)), exact(Fraction(2, 7)))
    with mpmath.workdps(60):
        third, two_sevenths = mpmath.mpf(1) / 3, mpmath.mpf(2) / 7
        expected = mpmath.exp(-third) * two_sevenths + mpmath.log(third)
        assert mpmath.almosteq(value, expected, rel_eps=mpmath.mpf(10) ** -38)
    assert compile_expr(sp.exp(-x) * y + sp.log(x), (x, y)) is function  # compiled once


def test_dot_is_the_sum_of_products_at_forty_digits():
    weights = [exact(Fraction(1, 3)), exact(Fraction(-2, 3)), exact(Fraction(1, 7))]
    values = [exact(Fraction(3)), exact(Fraction(3, 2)), exact(Fraction(7, 10))]
    with mpmath.workdps(15):
        total = dot(weights, values)
    # 1 − 1 + 1/10 = 1/10, to 40 digits although the caller works at 15
    assert abs(to_fraction(total) - Fraction(1, 10)) < Fraction(1, 10**40)
    with pytest.raises(ValueError):
        dot(weights, values[:2])


@pytest.mark.parametrize("value", [Fraction(2**53 + 1, 4), Fraction(-(2**54 - 1), 2**70), Fraction(2**53 - 1, 2**60)])
def test_exact_keeps_a_binary_fraction_a_double_cannot_hold(value: Fraction) -> None:
    """A power-of-two denominator, but 54 bits of numerator: a double rounds it, 40 digits do not."""
    assert to_fraction(exact(value)) == value
    assert value.numerator.bit_length() <= 53 or Fraction(float(value)) != value  # beyond a double indeed


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (Fraction(1, 3), 9, "0.333333333"),
        (Fraction(-2, 7), 9, "-0.285714286"),
        (Fraction(5, 8), 2, "0.62"),  # the exact tie 0.625: to even
        (Fraction(7, 8), 2, "0.88"),
        (Fraction(3, 2), 9, "1.5"),  # trailing zeros dropped
        # 29 significant digits: a quotient taken at fewer would round away the last ones
        (Fraction(12345678901234567890123456789, 10**9), 9, "12345678901234567890.123456789"),
        (Fraction(10**30 + 1, 3 * 10**9), 9, "333333333333333333333.333333334"),
        # 4·10⁻⁶¹ above the tie 0.12345: a 60-digit quotient rounded again would give 0.1234
        (Fraction(12345 * 10**56 + 4, 10**61), 4, "0.1235"),
        (Fraction(-(12345 * 10**56 + 4), 10**61), 4, "-0.1235"),
    ],
)
def test_format_exact_rounds_the_exact_fraction(value: Fraction, digits: int, expected: str) -> None:
    """Checked against Python's own exact rounding of a fraction (round() on a Fraction: ties to even)."""
    assert Fraction(expected) == round(value, digits)
    assert format_exact(value, digits) == expected
