"""Figures beside the working: each activation drawn with its derivative, and the training curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import cache

from derive.core.functions import ACTIVATIONS
from derive.core.numbers import format_number
from derive.core.samples import activation_samples

from .model import Curve, Plot
from .precision import shown as shown_value

# The activation plots run over net inputs from -PLOT_RANGE to PLOT_RANGE, in PLOT_POINTS points.
PLOT_RANGE = 4
PLOT_POINTS = 33


@cache
def activation_plot(name: str, constant: Fraction | None = None) -> Plot:
    """f(net) and f'(net) at evenly spaced net inputs (:func:`derive.core.samples.activation_samples`), as drawn.

    ``constant`` is the layer's constant for an activation that has one (leaky ReLU's slope).
    """
    samples = activation_samples(name, constant, PLOT_RANGE, PLOT_POINTS)
    points = [(format_number(float(x), 4), format_number(f, 4), format_number(slope, 4)) for x, f, slope in samples]
    return Plot(name, ACTIVATIONS[name].latex, points, str(-PLOT_RANGE), str(PLOT_RANGE))


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
    return Curve(points, log, steps, shown_value(history[-1], digits), shown, even_log)
