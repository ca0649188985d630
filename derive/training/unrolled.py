"""Training an unrolled network (conv2d, pooling, recurrent) on plain floats, stage by stage.

The same passes as :mod:`derive.core.unrolled` and :mod:`derive.core.through`, on floats: the
forward pass over every stage's links, δ from the top with max pooling routing it to the first
maximum and average pooling sharing it, each shared parameter's gradient summed over every link
it weighs.  Activations, their slopes, the loss and the update are the SymPy rules of
:mod:`derive.core.functions` and :mod:`derive.core.rules`, printed as Python once per network.
It has the interface of :class:`derive.training.compiled.FloatTraining`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cache

import sympy as sp

from derive.core import rules
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.rules import GRADIENT, LEARNING_RATE, MOMENTUM, PREVIOUS_CHANGE
from derive.spec.model import NetworkSpec
from derive.spec.unroll import INITIAL, INPUT, Stage, output_stages, unroll

NET, OUT, TARGET = sp.symbols("net out t")


@cache
def _activation(name: str, slope: Fraction | None) -> tuple[Callable[..., float], Callable[..., float]]:
    """f(net) and f′(net, out) as float functions."""
    activation = ACTIVATIONS[name]
    with sp.evaluate(False):
        output = activation.output(NET, slope)
    return sp.lambdify((NET,), output, "math"), sp.lambdify((NET, OUT), activation.slope(NET, OUT, slope), "math")


@cache
def _loss(name: str, n_outputs: int) -> tuple[Callable[..., float], Callable[..., float]]:
    """E_o(t, out) and ∂E_o/∂out as float functions."""
    loss = LOSSES[name]
    error = sp.lambdify((TARGET, OUT), loss.error(TARGET, OUT, n_outputs), "math")
    return error, sp.lambdify((TARGET, OUT), loss.derivative(TARGET, OUT, n_outputs), "math")


class UnrolledTraining:
    """A network's parameters as floats, trained by the stage-by-stage passes."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.stages: tuple[Stage, ...] = unroll(spec)
        self.outputs = [(s, j) for s in output_stages(spec, self.stages) for j in range(len(self.stages[s].units))]
        names = spec.parameter_names()
        self.n_weights = sum(1 for name in names if name.startswith("w"))
        self.params = [float(value) for value in spec.parameters().values()]
        self.changes = [float(value) for value in spec.previous_changes().values()] if spec.momentum else None
        self.examples = [([float(x) for x in e.inputs], [float(t) for t in e.targets]) for e in spec.examples]
        self.initial = [float(v) for v in spec.layers[0].initial_state or ()]
        self.scale = 1 / len(spec.examples) if spec.reduction == "mean" else 1.0
        self.trained = [name.startswith("w") or spec.train_biases for name in names]
        arguments = (GRADIENT, PREVIOUS_CHANGE, LEARNING_RATE, MOMENTUM)
        self.change = sp.lambdify(arguments, rules.change(momentum=bool(spec.momentum), decay=False), "math")

    # -- the passes ----------------------------------------------------------------------------

    def _forward(self, inputs: Sequence[float]) -> tuple[list[list[float]], list[list[float]]]:
        weights, biases = self.params[: self.n_weights], self.params[self.n_weights :]
        nets: list[list[float]] = []
        outs: list[list[float]] = []
        for stage in self.stages:
            row = []
            for unit in stage.units:
                sources = [self._value(link.source, inputs, outs) for link in unit.links]
                if stage.kind == "maxpool":
                    row.append(max(sources))
                elif stage.kind == "avgpool":
                    row.append(math.fsum(sources) / len(sources))
                else:
                    total = math.fsum(weights[link.weight] * x for link, x in zip(unit.links, sources, strict=True))
                    row.append(total + (biases[unit.bias] if unit.bias is not None else 0.0))
            nets.append(row)
            outs.append(self._activate(stage, row))
        return nets, outs

    def _value(self, source: tuple[int, int], inputs: Sequence[float], outs: list[list[float]]) -> float:
        stage, index = source
        return inputs[index] if stage == INPUT else self.initial[index] if stage == INITIAL else outs[stage][index]

    def _activate(self, stage: Stage, nets: list[float]) -> list[float]:
        if ACTIVATIONS[stage.activation].function is None:  # softmax, shifted so that no exponential overflows
            top = max(nets)
            exps = [math.exp(net - top) for net in nets]
            total = math.fsum(exps)
            return [e / total for e in exps]
        function = _activation(stage.activation, stage.negative_slope)[0]  # type: ignore[arg-type]
        return [float(function(net)) for net in nets]

    def _example(self, inputs: Sequence[float], targets: Sequence[float], grads: list[float]) -> float:
        """One example's error; its gradient added into ``grads``."""
        spec = self.spec
        nets, outs = self._forward(inputs)
        error, slope = _loss(spec.loss, spec.n_outputs)
        d_out = [[0.0] * len(row) for row in outs]
        loss = 0.0
        for (s, j), target in zip(self.outputs, targets, strict=True):
            loss += float(error(target, outs[s][j]))
            d_out[s][j] = self.scale * float(slope(target, outs[s][j]))
        weights = self.params[: self.n_weights]
        for L in reversed(range(len(self.stages))):
            stage = self.stages[L]
            deltas = self._deltas(stage, nets[L], outs[L], d_out[L])
            for unit, delta in zip(stage.units, deltas, strict=True):
                self._links(stage, unit, delta, inputs, outs, d_out, weights, grads)
        return self.scale * loss

    def _deltas(self, stage: Stage, nets: list[float], outs: list[float], d_out: list[float]) -> list[float]:
        """δ = ∂E/∂out · f′(net); through softmax, Σ_k ∂E/∂out_k · out_k (1[k=j] − out_j)."""
        if ACTIVATIONS[stage.activation].function is None:
            mean = math.fsum(g * o for g, o in zip(d_out, outs, strict=True))
            return [o * (g - mean) for g, o in zip(d_out, outs, strict=True)]
        slope = _activation(stage.activation, stage.negative_slope)[1]  # type: ignore[arg-type]
        return [g * float(slope(n, o)) for g, n, o in zip(d_out, nets, outs, strict=True)]

    def _links(self, stage, unit, delta, inputs, outs, d_out, weights, grads) -> None:  # type: ignore[no-untyped-def]
        """δ into each link's parameter (δ·x) and back along it to its source (δ·w, or the pooling's share)."""
        if stage.kind == "maxpool":
            sources = [self._value(link.source, inputs, outs) for link in unit.links]
            routed = unit.links[sources.index(max(sources))].source  # the first maximum
            if routed[0] >= 0:
                d_out[routed[0]][routed[1]] += delta
            return
        if stage.kind == "avgpool":
            for link in unit.links:
                if link.source[0] >= 0:
                    d_out[link.source[0]][link.source[1]] += delta / len(unit.links)
            return
        for link in unit.links:
            grads[link.weight] += delta * self._value(link.source, inputs, outs)
            if link.source[0] >= 0:
                d_out[link.source[0]][link.source[1]] += delta * weights[link.weight]
        if unit.bias is not None:
            grads[self.n_weights + unit.bias] += delta

    # -- the engine's interface ------------------------------------------------------------------

    def _gradient(self, indices: Sequence[int]) -> tuple[float, list[float]]:
        # the mean is over the examples of the update, as the derivation of that batch takes it
        self.scale = 1 / len(indices) if self.spec.reduction == "mean" else 1.0
        grads = [0.0] * len(self.params)
        loss = math.fsum(self._example(*self.examples[i], grads) for i in indices)
        decay = float(self.spec.weight_decay)
        if decay:
            for n in range(self.n_weights):
                grads[n] += decay * self.params[n]
        return loss, grads

    def update(self, indices: Sequence[int]) -> None:
        """One update on these examples: Δθ = β·Δθ_previous − η·g, θ ← θ + Δθ."""
        _, grads = self._gradient(indices)
        self._apply(grads)

    def _apply(self, grads: list[float]) -> None:
        rate, momentum = float(self.spec.learning_rate), float(self.spec.momentum)
        previous = self.changes or [0.0] * len(self.params)
        changes = [
            float(self.change(g, p, rate, momentum)) if trained else 0.0
            for g, p, trained in zip(grads, previous, self.trained, strict=True)
        ]
        self.params = [value + change for value, change in zip(self.params, changes, strict=True)]
        if self.changes is not None:
            self.changes = changes

    def steps(self, count: int, history: list[float], goal: float) -> int:
        """Up to ``count`` updates on all the examples, E_total before each into ``history``."""
        every = range(len(self.examples))
        for done in range(count):
            loss, grads = self._gradient(every)
            history.append(loss)
            if loss <= goal:
                return done
            self._apply(grads)
        return count

    def loss(self) -> float:
        return self._gradient(range(len(self.examples)))[0]  # E_total over all the examples

    def parameters(self) -> list[float]:
        return list(self.params)

    def finite(self) -> bool:
        """Whether every parameter is still a finite number."""
        return all(map(math.isfinite, self.params))

    def velocity(self) -> list[float] | None:
        return list(self.changes) if self.changes is not None else None
