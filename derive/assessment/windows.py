"""How precisely each quiz answer is asked: its significant digits and its window.

The window is one unit of the last digit asked, the rule of ``derive check`` and the page
(:func:`derive.assessment.grading.agrees`): the value rounded or cut to those digits lies inside it,
and an answer two units off lies outside.  A value that a gradient 1 % off moves by little (an update
θ⁺ = θ − η·g small beside θ, the error after the step) is asked with as many more digits as it takes
for that answer to fall outside the window, even once rounded.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import mpmath

from derive.core import rules
from derive.core.chain import Derivation
from derive.core.forward import total_loss
from derive.core.numbers import PRECISION, Number, exact, full_precision, to_fraction
from derive.core.steps import Step

MOST_SIGNIFICANT = 15  # digits a double keeps exactly: more cannot be asked
SLIP = mpmath.mpf("0.01")  # a gradient this far off (1 %) gives an answer every window refuses


def unit(value: Number, digits: int) -> Decimal:
    """One unit in the ``digits``-th significant digit of ``value``: 1e-7 for 0.000438568 at 4 digits."""
    written = Decimal(mpmath.nstr(value, PRECISION, strip_zeros=False))
    return Decimal(1).scaleb(written.adjusted() - digits + 1)


def tolerance(value: Number, digits: int) -> Decimal:
    """One unit in the ``digits``-th significant digit of ``value``: 1e-7 for 0.000438568 at 4 digits.

    What ``derive check`` accepts of an answer written to those digits: the value rounded (within
    half a unit) or cut short (within one); an answer two units off, or off in an earlier digit, is refused.
    """
    return unit(value, digits) if value else Decimal(0)


def slip(step: Step, derivation: Derivation) -> Number:
    """How far the step's value moves when the gradient it uses is 1 % off; 0 when it uses none.

    A gradient moves by 1 % of itself; an update θ⁺ = θ + β·Δθ_before − η·g by 1 % of η·g; E_total
    after the step by the nearer of its values after the step worked with the whole gradient 1 %
    shorter or longer, each a forward pass at full precision.
    """
    if step.kind == "gradient":
        return abs(step.value) * SLIP
    if step.kind == "update":
        return abs(descent(derivation)[step.subject]) * SLIP
    if step.kind == "after":
        return min(abs(loss_after(derivation, scale) - step.value) for scale in (1 - SLIP, 1 + SLIP))
    return mpmath.mpf(0)


def descent(derivation: Derivation) -> dict[str, Number]:
    """η·g of every trained parameter: the gradient's term of the update rule (:func:`derive.core.rules.change`)."""
    rate = -rules.change_terms(momentum=False, decay=False)[rules.GRADIENT].subs(
        rules.LEARNING_RATE, rules.rational(derivation.spec.learning_rate)
    )
    with full_precision():
        step = exact(Fraction(int(rate.p), int(rate.q)))
        return {
            name: step * gradient.precise if derivation.trainable(name) else mpmath.mpf(0)
            for name, gradient in derivation.gradients.items()
        }


def loss_after(derivation: Derivation, scale: Number) -> Number:
    """E_total after the step worked with every gradient times ``scale``: θ⁺ − (scale − 1)·η·g."""
    steps = descent(derivation)
    with full_precision():
        moved = {name: to_fraction(value - (scale - 1) * steps[name]) for name, value in derivation.updated.items()}
    return total_loss(derivation.spec.with_parameters(moved))


def digits_asked(value: Number, moved: Number, digits: int) -> int:
    """The fewest significant digits, at least ``digits``, whose unit is at most half of ``moved``.

    An answer moved that far is at least two units off, and still a unit and a half once rounded to
    the digits asked: outside the window of one unit.  A value of 0, or one no slip moves, keeps ``digits``.
    """
    needed = digits
    if not value or not moved:
        return needed
    half = Decimal(mpmath.nstr(moved, PRECISION)) / 2
    while needed < MOST_SIGNIFICANT and unit(value, needed) > half:
        needed += 1
    return needed
