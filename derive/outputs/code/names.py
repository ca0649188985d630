"""Numbers and names: the only things of the spec that reach the generated source.

Numbers are printed by ``repr(float(...))`` and names must match ``[A-Za-z][A-Za-z0-9_]*``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from derive.core.functions import ACTIVATIONS
from derive.core.rules import python
from derive.spec.model import LayerSpec, NetworkSpec

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def number(value: Fraction | int) -> str:
    """A float literal: repr of the nearest double, never text from the user's file."""
    return repr(float(value))


def comment(text: str) -> list[str]:
    """A comment inside a function, wrapped to ruff's default line length."""
    return textwrap.wrap(text, width=88, initial_indent="    # ", subsequent_indent="    # ", break_long_words=False)


def constant(layer: LayerSpec) -> str:
    """The activation's constant as a last argument (``, 0.01`` for leaky ReLU), or nothing."""
    activation = ACTIVATIONS[layer.activation]
    if activation.constant is None:
        return ""
    value = layer.negative_slope if layer.negative_slope is not None else activation.default
    return f", {number(value)}"  # type: ignore[arg-type]


def var(prefix: str, layer: LayerSpec) -> str:
    """A layer's variable: ``W_h``, ``net_h``, ``delta_h``…; distinct layers give distinct names."""
    return f"{prefix}_{layer.name}"


def source(spec: NetworkSpec, L: int) -> str:
    """What layer ``L`` is fed: ``x`` for the first layer, else the outputs of the layer below."""
    return "x" if L == 0 else var("out", spec.layers[L - 1])


def epochs(spec: NetworkSpec) -> bool:
    """Whether the module trains by epochs (``train()``): online, mini-batches, shuffling or momentum."""
    return spec.batch_size is not None or spec.shuffle is not None or bool(spec.momentum)


def softmax_cross_entropy(spec: NetworkSpec) -> bool:
    """Whether softmax meets cross-entropy at the output, where δ = out·Σt - t needs neither slope."""
    return spec.layers[-1].activation == "softmax" and spec.loss == "cross_entropy"


class Numbering:
    """Where each layer's weights and biases start in the w1, w2, …, b1, b2, … numbering."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.weights: list[int] = []
        self.biases: list[int] = []
        weight, bias = 1, 1
        for layer in spec.layers:
            self.weights.append(weight)
            self.biases.append(bias)
            weight += layer.n_weights  # a recurrent layer's W, then its U
            bias += layer.n_biases


def printed(rule: sp.Expr, names: Mapping[sp.Symbol, str]) -> str:
    """A rule of :mod:`derive.core.rules` as the module's Python, its symbols named by ``names`` and
    spaced as ruff formats it (``a * b``)."""
    return re.sub(r"(?<=[\w\])])([*/])(?=[\w(])", r" \1 ", python(rule, names))
