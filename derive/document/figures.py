"""Figures beside the working: each activation drawn with its derivative, and the training curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import cache

import sympy as sp

from derive.core.functions import ACTIVATIONS
from derive.core.numbers import format_number

from .model import Curve, Plot

# The activation plots run over net inputs from -PLOT_RANGE to PLOT_RANGE, in PLOT_POINTS points.
PLOT_RANGE = 4
PLOT_POINTS = 33


@cache
def activation_plot(name: str, constant: Fraction | None = None) -> Plot:
    """f(net) and f'(net) at evenly spaced net inputs; f' from the textbook derivative of ``functions``.

    ``constant`` is the layer's constant for an activation that has one (leaky ReLU's slope).
    """
    activation = ACTIVATIONS[name]
    net, out = sp.symbols("net out")
    with sp.evaluate(False):
        function = activation.output(net, constant)
    f = sp.lambdify(net, function, modules="mpmath")
    slope = sp.lambdify((net, out), activation.slope(net, out, constant), modules="mpmath")
    points = []
    for k in range(PLOT_POINTS):
        x = sp.Rational(2 * PLOT_RANGE * k, PLOT_POINTS - 1) - PLOT_RANGE
        value = f(x)
        points.append((format_number(float(x), 4), format_number(value, 4), format_number(slope(x, value), 4)))
    return Plot(name, activation.latex, points, str(-PLOT_RANGE), str(PLOT_RANGE))


def curve(history: Sequence[float], digits: int) -> Curve:
    """The points worth drawing: every one of the first ten steps, then about a hundred evenly spread."""
    steps = len(history) - 1
    shown = sorted(set(range(min(steps, 10) + 1)) | {round(k * steps / 100) for k in range(101)})
    points = [(step, repr(float(history[step]))) for step in shown]
    positive = [value for value in history if value > 0]
    log = bool(positive) and max(positive) / min(positive) > 100  # a log scale where the error spans decades
    even = [history[round(k * steps / 100)] for k in range(101)]
    even_log = log and min(even) > 0  # an error of exactly 0 has no logarithm: draw those runs linearly
    shown = [format_number(math.log10(value) if even_log else value, 6) for value in even]
    return Curve(points, log, steps, format_number(history[-1], digits), shown, even_log)
