"""The derivation read one layer at a time: δ xᵀ, its sums over the examples, and the layers' gradient sizes.

The matrix form writes a layer's gradients as products of vectors (∂E/∂W = Σ_p δ_p x_pᵀ,
∂E/∂b = Σ_p δ_p); the reading of a step compares the output layer's gradients with the first layer's.
"""

from __future__ import annotations

import mpmath

from derive.core.chain import Derivation
from derive.core.factors import Gradient
from derive.core.numbers import Number


def layer_inputs(derivation: Derivation, p: int, L: int) -> list[Number]:
    """x of layer L in example p: the example's inputs, or the outputs of the layer below."""
    return [derivation.values[symbol] for symbol in derivation.graph.layer_inputs(p, L)]


def outer(derivation: Derivation, p: int, L: int) -> list[list[Number]]:
    """δ xᵀ of layer L in example p: entry (j, k) is δ_j · x_k."""
    inputs = layer_inputs(derivation, p, L)
    return [[delta.precise * x for x in inputs] for delta in derivation.deltas[p][L]]


def summed_outer(derivation: Derivation, L: int) -> list[list[Number | int]]:
    """Σ_p δ_p x_pᵀ over the examples: layer L's ∂E/∂W before weight decay."""
    layer = derivation.spec.layers[L]
    totals: list[list[Number | int]] = [[0] * layer.fan_in for _ in range(layer.size)]
    for p in range(len(derivation.spec.examples)):
        product = outer(derivation, p, L)
        totals = [[a + b for a, b in zip(row, new, strict=True)] for row, new in zip(totals, product, strict=True)]
    return totals


def summed_deltas(derivation: Derivation, L: int) -> list[Number]:
    """Σ_p δ_p of each neuron of layer L: ∂E/∂b of its own bias."""
    every = [[delta.precise for delta in derivation.deltas[p][L]] for p in range(len(derivation.spec.examples))]
    return [sum(column) for column in zip(*every, strict=True)]


def shared_bias_gradient(derivation: Derivation, L: int) -> Number:
    """Σ_j Σ_p δ_j,p: ∂E/∂b of a bias every neuron of layer L shares."""
    return sum(summed_deltas(derivation, L))


def weight_gradient_ratio(derivation: Derivation) -> Number | None:
    """The output layer's mean |∂E_total/∂w| over the first layer's (None if either is 0).

    Of E_total alone: the chain's terms, without weight decay's λ·w, which is not backpropagated.
    """
    last = len(derivation.spec.layers) - 1
    means = [_mean([abs(g.of_total) for g in _weight_gradients(derivation, L)]) for L in (last, 0)]
    return _over(*means)


def delta_ratio(derivation: Derivation) -> Number | None:
    """The output layer's mean |δ| over the first layer's, over every example (None if either is 0)."""
    last = len(derivation.spec.layers) - 1
    means = [_mean([abs(d.precise) for row in derivation.deltas for d in row[L]]) for L in (last, 0)]
    return _over(*means)


def _weight_gradients(derivation: Derivation, L: int) -> list[Gradient]:
    """The gradients of the weights into layer L."""
    return [g for g in derivation.gradients.values() if g.name.startswith("w") and g.chain[0].neuron.layer == L]


def _mean(values: list[Number]) -> Number:
    return mpmath.fsum(values) / len(values)


def _over(top: Number, bottom: Number) -> Number | None:
    return top / bottom if top and bottom else None
