"""An activation sampled for drawing: f(net) and its textbook f'(net) at evenly spaced net inputs."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from derive.core.functions import ACTIVATIONS
from derive.core.numbers import Number

# A sampled value: a float at 40 digits, or exact where the form is piecewise linear (ReLU, linear).
Value = Number | sp.Rational | int


def activation_samples(
    name: str, constant: Fraction | None, span: int, count: int
) -> list[tuple[sp.Rational, Value, Value]]:
    """(net, f(net), f'(net)) at ``count`` net inputs from −span to span; f' as ``functions`` writes it.

    ``constant`` is the layer's constant for an activation that has one (leaky ReLU's slope).
    """
    activation = ACTIVATIONS[name]
    net, out = sp.symbols("net out")
    with sp.evaluate(False):
        function = activation.output(net, constant)
    f = sp.lambdify(net, function, modules="mpmath")
    slope = sp.lambdify((net, out), activation.slope(net, out, constant), modules="mpmath")
    samples = []
    for k in range(count):
        x = sp.Rational(2 * span * k, count - 1) - span
        value = f(x)
        samples.append((x, value, slope(x, value)))
    return samples
