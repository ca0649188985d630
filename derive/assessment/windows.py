"""How precisely each quiz answer is asked: its significant digits and its window.

The window is half a unit of the last digit asked: the value rounded to those digits lies inside it,
and an answer a unit off in any asked digit lies outside.  A value that a gradient 1 % off moves by
little (an update θ⁺ = θ − η·g small beside θ, the error after the step) is asked with as many more
digits as it takes for that answer to fall outside the window, even once rounded.
"""

from __future__ import annotations

from decimal import Decimal

import mpmath

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
    """Half a unit in the ``digits``-th significant digit of ``value``: 5e-8 for 0.000438568 at 4 digits.

    The value rounded to ``digits`` digits is within it, so it is accepted; an answer a unit off in
    the last of them (or in an earlier one) misses by at least half a unit more, and is refused.
    """
    return unit(value, digits) / 2 if value else Decimal(0)


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
    """η·g of every parameter: the update's change without momentum's share, β·Δθ_before − Δθ."""
    with full_precision():
        momentum = exact(derivation.spec.momentum)
        previous = derivation.previous_changes
        return {name: momentum * previous[name] - change for name, change in derivation.changes.items()}


def loss_after(derivation: Derivation, scale: Number) -> Number:
    """E_total after the step worked with every gradient times ``scale``: θ⁺ − (scale − 1)·η·g."""
    steps = descent(derivation)
    with full_precision():
        moved = {name: to_fraction(value - (scale - 1) * steps[name]) for name, value in derivation.updated.items()}
    return total_loss(derivation.spec.with_parameters(moved))


def digits_asked(value: Number, moved: Number, digits: int) -> int:
    """The fewest significant digits, at least ``digits``, whose unit is at most half of ``moved``.

    An answer moved that far then misses the window (half a unit) by at least a unit and a half,
    even after it is rounded to the digits asked.  A value of 0, or one no slip moves, keeps ``digits``.
    """
    needed = digits
    if not value or not moved:
        return needed
    half = Decimal(mpmath.nstr(moved, PRECISION)) / 2
    while needed < MOST_SIGNIFICANT and unit(value, needed) > half:
        needed += 1
    return needed
