"""One update of a large network in floats: what ``gradients`` and ``train`` print when the 40-digit
derivation would not fit in memory or time.

The derivation keeps a symbol, a chain and a 40-digit value for every parameter of every example:
at the limits (50,000 parameters, 1,000 examples) that is tens of millions of objects.  From
``FLOAT_FROM`` parameter-examples on (:func:`derive.training.in_floats`), the same quantities are
computed with NumPy in double precision (about 15 significant digits), by the textbook's matrix
form of the same rules:

* forward, per layer: net = W·x + b, out = f(net) (:mod:`derive.core.functions`' forms);
* the output layer's δ = ∂E/∂out ⊙ f'(net), or for softmax the Jacobian's product
  out ⊙ (g − Σ_k g_k·out_k); a hidden layer's δ = (Wᵀ·δ_above) ⊙ f'(net);
* ∂E/∂W = δ·xᵀ summed over the examples (scaled by 1/P for a mean), ∂E/∂b = Σ δ (over the
  layer's neurons too when it shares one bias), plus λ·w for a weight with weight decay;
* the step: Δθ = β·Δθ_previous − η·∂E/∂θ, θ⁺ = θ + Δθ (:func:`derive.core.rules.change`).

Its objects carry the attribute names of :class:`~derive.core.chain.Derivation` that the reports
read, so the same tables print either.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from derive.core.functions import ACTIVATIONS, LOSSES
from derive.errors import DeriveError
from derive.spec.model import LayerSpec, NetworkSpec

_NET, _OUT, _TARGET = sp.symbols("net out t")


@dataclass(frozen=True)
class Neuron:
    name: str


@dataclass(frozen=True)
class Layout:
    """The neurons by layer, as :class:`~derive.core.graph.Graph` names them."""

    neurons: list[list[Neuron]]
    multi: bool


@dataclass(frozen=True)
class Forward:
    """One example's forward pass: ``net[L][j]``, ``out[L][j]``, each output's error, its loss."""

    net: list[np.ndarray]
    out: list[np.ndarray]
    errors: np.ndarray
    loss: float


@dataclass(frozen=True)
class Gradient:
    """∂E/∂θ as a float (``precise`` and ``value`` alike); with weight decay, its λ·w part as ``decay``."""

    precise: float
    decay: Gradient | None = None

    @property
    def value(self) -> float:
        return self.precise


def _activation(layer: LayerSpec) -> tuple[object, object]:
    """f and f' of the layer as NumPy functions of (net) and (net, out); None for softmax's f."""
    activation = ACTIVATIONS[layer.activation]
    slope = sp.lambdify((_NET, _OUT), activation.slope(_NET, _OUT, layer.negative_slope), "numpy")
    if activation.coupled:
        return None, slope
    return sp.lambdify((_NET,), activation.output(_NET, layer.negative_slope), "numpy"), slope


def _softmax(net: np.ndarray) -> np.ndarray:
    """out_j = e^{net_j} / Σ_k e^{net_k}, per column, shifted by the column's largest net (same value)."""
    shifted = np.exp(net - net.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def _loss(spec: NetworkSpec, targets: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each output's error E_o(t, out) and ∂E_o/∂out, per example (columns)."""
    loss, n = LOSSES[spec.loss], spec.n_outputs
    error = sp.lambdify((_TARGET, _OUT), loss.error(_TARGET, _OUT, n), "numpy")
    slope = sp.lambdify((_TARGET, _OUT), loss.derivative(_TARGET, _OUT, n), "numpy")
    return np.broadcast_to(error(targets, out), out.shape), np.broadcast_to(slope(targets, out), out.shape)


def _forward(spec: NetworkSpec) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The weights, every layer's net inputs and outputs (the inputs first), and the targets: examples as columns."""
    weights = [np.array(layer.weights, dtype=float) for layer in spec.layers]
    biases = [np.array(layer.bias, dtype=float).reshape(-1, 1) for layer in spec.layers]
    inputs = np.array([example.inputs for example in spec.examples], dtype=float).T
    targets = np.array([example.targets for example in spec.examples], dtype=float).T
    nets, outs = [], [inputs]
    for layer, w, b in zip(spec.layers, weights, biases, strict=True):
        net = w @ outs[-1] + b
        function, _ = _activation(layer)
        nets.append(net)
        outs.append(_softmax(net) if function is None else np.broadcast_to(function(net), net.shape).astype(float))
    return weights, nets, outs, targets


def float_loss(spec: NetworkSpec) -> float:
    """E_total of ``spec`` from a forward pass in floats (summed, or averaged with ``reduction = "mean"``)."""
    with np.errstate(all="ignore"):
        _, _, outs, targets = _forward(spec)
        errors, _ = _loss(spec, targets, outs[-1])
        total = float(errors.sum())
    return total / len(spec.examples) if spec.reduction == "mean" else total


class FloatUpdate:
    """The update of ``spec`` on all its examples, in floats, named as a Derivation names it."""

    in_floats = True  # the reports say so

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.layout = Layout(
            [[Neuron(layer.neuron_name(j)) for j in range(layer.size)] for layer in spec.layers],
            len(spec.examples) > 1,
        )
        self.parameters = {name: float(value) for name, value in spec.parameters().items()}
        with np.errstate(all="ignore"):
            self._compute()

    @property
    def graph(self) -> Layout:
        return self.layout

    def trainable(self, name: str) -> bool:
        """Weights always take a step; biases only when ``train_biases`` is true."""
        return name.startswith("w") or self.spec.train_biases

    def _compute(self) -> None:
        spec = self.spec
        weights, nets, outs, targets = _forward(spec)
        errors, slope = _loss(spec, targets, outs[-1])
        scale = 1 / len(spec.examples) if spec.reduction == "mean" else 1.0
        deltas = self._deltas(weights, nets, outs, scale * slope)
        self.forward = [
            Forward(
                [net[:, p] for net in nets], [out[:, p] for out in outs[1:]], errors[:, p], float(sum(errors[:, p]))
            )
            for p in range(targets.shape[1])
        ]
        self.loss = float(errors.sum() * scale)
        self._gradients(weights, deltas, outs)

    def _deltas(self, weights: list[np.ndarray], nets: list, outs: list, slope: np.ndarray) -> list[np.ndarray]:
        """δ of every layer, from the output layer's ∂E/∂out (``slope``) back."""
        layers = self.spec.layers
        deltas: list[np.ndarray] = [np.empty(0)] * len(layers)
        above = slope
        for L in range(len(layers) - 1, -1, -1):
            if L < len(layers) - 1:
                above = weights[L + 1].T @ deltas[L + 1]
            net, out = nets[L], outs[L + 1]
            if ACTIVATIONS[layers[L].activation].coupled:  # softmax: the Jacobian's product
                deltas[L] = out * (above - (above * out).sum(axis=0, keepdims=True))
            else:
                _, derivative = _activation(layers[L])
                deltas[L] = above * np.broadcast_to(derivative(net, out), net.shape)
        return deltas

    def _gradients(self, weights: list[np.ndarray], deltas: list[np.ndarray], outs: list) -> None:
        spec = self.spec
        decay = float(spec.weight_decay)
        weight_parts = [delta @ out.T for delta, out in zip(deltas, outs[:-1], strict=True)]
        bias_parts = [
            np.array([delta.sum()]) if layer.shared_bias else delta.sum(axis=1)
            for layer, delta in zip(spec.layers, deltas, strict=True)
        ]
        values = [*np.concatenate([part.ravel() for part in weight_parts]), *np.concatenate(bias_parts)]
        self.gradients: dict[str, Gradient] = {}
        for name, value in zip(self.parameters, values, strict=True):
            if decay and name.startswith("w"):
                part = decay * self.parameters[name]
                self.gradients[name] = Gradient(float(value) + part, Gradient(part))
            else:
                self.gradients[name] = Gradient(float(value))
        self.penalty = decay / 2 * sum(float((w**2).sum()) for w in weights)
        self.objective = self.loss + self.penalty
        if not (np.isfinite(self.objective) and np.isfinite(values).all()):
            raise DeriveError(
                "a value of the update grew too large for a float (about 1.8e308); a network this large "
                "is computed in floats (README, Describing a network: limits)"
            )

    @cached_property
    def previous_changes(self) -> dict[str, float]:
        return {name: float(value) for name, value in self.spec.previous_changes().items()}

    @cached_property
    def changes(self) -> dict[str, float]:
        """Δθ = β·Δθ_previous − η·∂E/∂θ; 0 for a fixed bias."""
        rate, momentum = float(self.spec.learning_rate), float(self.spec.momentum)
        return {
            name: momentum * self.previous_changes[name] - rate * gradient.precise if self.trainable(name) else 0.0
            for name, gradient in self.gradients.items()
        }

    @cached_property
    def updated(self) -> dict[str, float]:
        """θ⁺ = θ + Δθ."""
        return {name: value + self.changes[name] for name, value in self.parameters.items()}
