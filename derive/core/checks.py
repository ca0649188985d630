"""A gradient checked without the chain rule: the central finite difference of E_total."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from derive.core.forward import total_loss
from derive.core.numbers import format_number
from derive.spec.model import NetworkSpec

# The nudge ε of the parameter, and the decimals E_total is taken to at each side of it.
NUDGE = Decimal("0.0001")
CHECK_DECIMALS = 12


@dataclass(frozen=True)
class FiniteDifference:
    """E_total at θ − ε and at θ + ε, to CHECK_DECIMALS decimals, and the slope between them."""

    nudge: Decimal
    low: Decimal
    high: Decimal

    @property
    def width(self) -> Decimal:
        """2ε: the distance between the two nudged parameters."""
        return 2 * self.nudge

    @property
    def slope(self) -> Decimal:
        """(E(θ + ε) − E(θ − ε)) / 2ε."""
        return (self.high - self.low) / self.width


def finite_difference(spec: NetworkSpec, name: str) -> FiniteDifference:
    """∂E/∂θ ≈ (E(θ + ε) − E(θ − ε)) / 2ε for the parameter ``name``, from two forward passes.

    Each E_total is rounded before the division, so that a reader can redo it from the errors as shown.
    """
    theta = spec.parameters()[name]
    low, high = (_rounded_loss(spec.with_parameters({name: theta + sign * Fraction(NUDGE)})) for sign in (-1, 1))
    return FiniteDifference(NUDGE, low, high)


def _rounded_loss(spec: NetworkSpec) -> Decimal:
    return Decimal(format_number(total_loss(spec), CHECK_DECIMALS, strip=False))
