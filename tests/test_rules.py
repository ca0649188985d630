"""The rules written once in derive.core.rules, checked against their textbook statements.

Rounding by hand takes halves away from zero (Python's ``decimal.ROUND_HALF_UP``, written here as the
reference); every path that rounds (40 digits, plain floats, NumPy, the generated module) does the same.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive.core import rules
from derive.core.numbers import exact
from tests.conftest import run_derive

HALVES = ["-0.125", "0.125", "-2.5", "2.5", "-0.375", "0.375", "-1.005", "0.0", "-0.0049", "0.995"]


def by_hand(text: str, decimals: int) -> Decimal:
    return Decimal(text).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("text", HALVES)
def test_rounding_takes_halves_away_from_zero_on_every_path(text):
    decimals = 0 if text.endswith(".5") else 2
    expected = by_hand(text, decimals)
    x = sp.Symbol("x")
    rule = rules.rounded(x, decimals)
    # the rule itself, exactly
    assert Fraction(str(rule.subs(x, sp.Rational(text)))) == Fraction(expected)
    # the 40-digit path
    assert Decimal(mpmath.nstr(rules.round_value(exact(Fraction(text)), decimals), 30)) == expected
    value = float(text)
    if Fraction(value) != Fraction(text):
        return  # not a double: the float paths round the double nearest it (1.005 is 1.00499…)
    python = eval(
        compile(sp.pycode(rule, fully_qualified_modules=True), "<rule>", "eval"),
        {"math": __import__("math"), "x": value},
    )
    assert python == float(expected)
    numpy = eval(sp.printing.numpy.NumPyPrinter().doprint(rule), {"numpy": np, "x": np.array([value])})
    assert numpy[0] == float(expected)


def test_the_update_rule_is_the_textbook_one():
    """Δθ = β·Δθ_previous − η·(g + λ·θ), written here with numbers."""
    eta, beta, lam, theta, g, previous = 0.5, 0.9, 0.01, 0.4, 0.08, -0.02
    values = {
        rules.LEARNING_RATE: eta,
        rules.MOMENTUM: beta,
        rules.DECAY: lam,
        rules.PARAMETER: theta,
        rules.GRADIENT: g,
        rules.PREVIOUS_CHANGE: previous,
    }
    assert float(rules.change(momentum=True, decay=True).subs(values)) == pytest.approx(
        beta * previous - eta * (g + lam * theta), rel=1e-15
    )
    assert float(rules.change(momentum=False, decay=False).subs(values)) == pytest.approx(-eta * g, rel=1e-15)
    terms = rules.change_terms(momentum=True, decay=True)
    assert terms == {
        rules.PREVIOUS_CHANGE: rules.MOMENTUM,
        rules.GRADIENT: -rules.LEARNING_RATE,
        rules.PARAMETER: -rules.LEARNING_RATE * rules.DECAY,
    }


NEGATIVE_HALF = """
learning_rate = 0.5
round_activations = 2
[[layers]]
name = "h"
activation = "linear"
weights = [[1.0]]
bias = [0.0]
[[layers]]
name = "o"
activation = "linear"
weights = [[1.0]]
bias = [0.0]
[[examples]]
inputs = [-0.125]
targets = [0.0]
"""


def test_a_negative_half_rounds_the_same_in_gradients_and_train(tmp_path):
    """out_h1 = −0.125 is −0.13 by hand: E_total = ½·0.13² = 0.00845, and w1⁺ = 1 − 0.5·(−0.13)(1)(−0.125)."""
    path = tmp_path / "half.toml"
    path.write_text(NEGATIVE_HALF, encoding="utf-8")
    gradients = json.loads(run_derive("gradients", str(path), "--json").stdout)
    trained = json.loads(run_derive("train", str(path), "--steps", "1", "--json").stdout)
    expected_error = 0.5 * 0.13**2
    expected_w1 = 1.0 - 0.5 * (-0.13) * 1.0 * (-0.125)  # δ_o1·w2·∂out_h1/∂net_h1·i1 (linear: slope 1)
    assert gradients["loss"] == pytest.approx(expected_error, rel=1e-12)
    assert trained["loss"][0] == pytest.approx(expected_error, rel=1e-12)
    assert gradients["updated"]["w1"] == pytest.approx(expected_w1, rel=1e-12)
    assert trained["parameters"]["w1"] == pytest.approx(expected_w1, rel=1e-12)


# -- each rule's parts, against values written here ----------------------------------------------


def test_a_decimal_half_a_double_holds_below_the_half_is_a_half_but_a_value_truly_below_is_not():
    """0.145 as a double is 0.14499999999999996: by hand it is a half and goes up; 0.1449999999 does not."""
    x = sp.Symbol("x")
    python = sp.pycode(rules.rounded(x, 2), fully_qualified_modules=True)
    run = lambda value: eval(compile(python, "<rule>", "eval"), {"math": __import__("math"), "x": value})  # noqa: E731
    assert run(0.29 * 0.5) == 0.15 and run(-(0.29 * 0.5)) == -0.15
    assert run(0.1449999999) == 0.14 and run(0.145 * (1 - 2.0**-45)) == 0.14
    # at 40 digits the slack is far smaller: a value 1e-30 below the half rounds down
    with mpmath.workdps(40):
        below = mpmath.mpf("0.145") - mpmath.mpf("1e-30")
        assert Fraction(str(mpmath.nstr(rules.round_value(below, 2), 20))) == Fraction("0.14")
        assert Fraction(str(mpmath.nstr(rules.round_value(mpmath.mpf("0.145"), 2), 20))) == Fraction("0.15")
    assert run(0.0) == 0.0 and rules.round_value(mpmath.mpf(0), 3) == 0


def test_weight_decay_acts_on_weights_only():
    assert rules.decays("w1") and rules.decays("w12")
    assert not rules.decays("b1") and not rules.decays("b3")


def test_the_update_rule_keeps_only_the_terms_it_has():
    assert set(rules.change_terms(momentum=False, decay=False)) == {rules.GRADIENT}
    assert set(rules.change_terms(momentum=True, decay=False)) == {rules.PREVIOUS_CHANGE, rules.GRADIENT}
    assert set(rules.change_terms(momentum=False, decay=True)) == {rules.GRADIENT, rules.PARAMETER}
    assert (
        rules.updated(momentum=False, decay=False).subs(
            {rules.PARAMETER: 2, rules.GRADIENT: 3, rules.LEARNING_RATE: 0.5}
        )
        == 0.5
    )
    assert rules.rational(Fraction(1, 3)) == sp.Rational(1, 3)


def test_the_rules_print_in_the_order_written_with_the_names_given():
    names = {
        rules.PARAMETER: "w",
        rules.GRADIENT: "g",
        rules.PREVIOUS_CHANGE: "v",
        rules.LEARNING_RATE: "eta",
        rules.MOMENTUM: "beta",
        rules.DECAY: "lam",
    }
    assert rules.python(rules.change(momentum=True, decay=True), names) == "beta*v - eta*(g + lam*w)"
    assert rules.python(rules.updated(momentum=False, decay=False), names) == "w - eta*g"


def test_softmax_with_cross_entropy_takes_out_minus_t_only_when_the_targets_add_up_to_one():
    assert rules.unit_targets([[Fraction(1, 2), Fraction(1, 2)], [Fraction(0), Fraction(1)]])
    assert not rules.unit_targets([[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(2, 5)]])
    out, t, total = sp.symbols("out t total")
    assert rules.softmax_cross_entropy_delta(out, t, sp.Integer(1)).subs({out: 0.7, t: 1}) == pytest.approx(-0.3)
    general = rules.softmax_cross_entropy_delta(out, t, total).subs({out: 0.7, t: 0.5, total: 0.9})
    assert float(general) == pytest.approx(0.7 * 0.9 - 0.5)  # out·Σt − t


def test_the_written_update_rule_starts_from_the_parameter_as_the_textbook_writes_it():
    """θ⁺ = θ + β·Δθ − η·∂E/∂θ: the parameter first, then momentum's term, then the step down the gradient."""
    from derive.document.updates import update_rule

    for momentum, decay, display in itertools.product((False, True), repeat=3):
        rule = update_rule(momentum=momentum, decay=decay, display=display)
        # ∂E/∂θ of the objective: E_total, or E = E_total + E_decay with weight decay; a fraction when displayed
        loss = "E" if decay else r"E_{\text{total}}"
        gradient = rf"\frac{{\partial {loss}}}{{\partial \theta}}" if display else rf"\partial {loss} / \partial \theta"
        gradient = re.escape(gradient)
        if momentum and display:  # Δθ first, then θ⁺ = θ + Δθ
            assert re.fullmatch(
                r"\\Delta\\theta = \\beta \\, \\Delta\\theta_\{\\text\{before\}\} - \\eta \\, "
                + gradient
                + r", \\quad \\theta\^\{\+\} = \\theta \+ \\Delta\\theta",
                rule,
            ), rule
        else:
            momentum_term = r" \+ \\beta \\, \\Delta\\theta" if momentum else ""
            assert re.fullmatch(rf"\\theta\^\{{\+\}} = \\theta{momentum_term} - \\eta \\, {gradient}", rule), rule


def _float_rule(decimals: int):
    """The float path's rounding: the rule printed as Python and run on doubles."""
    code = compile(sp.pycode(rules.rounded(sp.Symbol("x"), decimals), fully_qualified_modules=True), "<rule>", "eval")
    return lambda value: eval(code, {"math": __import__("math"), "x": value})


def test_the_float_path_rounds_to_the_double_nearest_the_rounded_decimal():
    """0.59327 → 0.5933 is the double nearest 5933/10⁴ (what ``float("0.5933")`` gives), for every value
    of four decimals below 10 rounded to two and every value of six rounded to four: the division by
    10^k comes last (a product with 0.01 would miss it by a unit of the last place, as 0.01·35 does)."""
    for decimals, given in ((2, 4), (4, 6)):
        run = _float_rule(decimals)
        for k in range(0, 10 * 10**given, 7 if given == 6 else 1):
            value = k / 10**given
            assert run(value) == float(by_hand(str(Decimal(k).scaleb(-given)), decimals)), value


U = Fraction(1, 2**53)  # a double's unit of roundoff


@pytest.mark.parametrize("decimals", [0, 2, 4])
def test_a_half_up_to_four_units_of_roundoff_below_is_a_half_but_not_seven(decimals):
    """FLOAT_SLACK, four units of roundoff (2⁻⁵¹, relative): the double nearest each half times
    (1 − 2u) still rounds up, as a half computed in doubles a hair below it should, and the double
    nearest the half times (1 − 7u) rounds down, being below it; u = 2⁻⁵³."""
    run = _float_rule(decimals)
    for k in range(0, 2000):
        half = Fraction(2 * k + 1, 2) / 10**decimals  # 0.5 to 1999.5 units of the last decimal
        up = by_hand(str(Decimal(half.numerator) / Decimal(half.denominator)), decimals)
        assert run(float(half * (1 - 2 * U))) == float(up), half
        assert run(float(half * (1 - 7 * U))) == float(up - Decimal(1).scaleb(-decimals)), half


def test_the_40_digit_path_takes_a_half_within_its_slack_of_2_to_the_minus_130():
    """PRECISE_SLACK, 2⁻¹³⁰ relative: a half times (1 − 0.7·2⁻¹³⁰) rounds up at 40 digits, times
    (1 − 1.4·2⁻¹³⁰) down; either way the distance is far beyond the 40-digit arithmetic's own error."""
    with mpmath.workdps(40):
        for text in ("0.145", "2.675", "0.005", "12.345"):
            half = mpmath.mpf(text)
            up, down = by_hand(text, 2), by_hand(text, 2) - Decimal("0.01")
            for factor, expected in ((0.7, up), (1.4, down)):
                value = half * (1 - mpmath.mpf(factor) * mpmath.mpf(2) ** -130)
                assert Decimal(mpmath.nstr(rules.round_value(value, 2), 20)) == expected, (text, factor)
