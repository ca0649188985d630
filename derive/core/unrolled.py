"""The graph and the forward pass of a network with conv2d, pooling or recurrent layers, unrolled.

The stages of :func:`derive.spec.unroll.unroll` take the place of layers: ``neurons[L]``,
``net[p][L][j]`` and ``out[p][L][j]`` are those of stage L, whose neurons share the parameters
their links name.  A kernel entry or a recurrent weight is one symbol wherever it acts, so the
backward pass (:mod:`derive.core.through`) sums its gradient over every position or time step.
A max-pooling neuron's net input is the maximum of its window; an average-pooling one's the mean;
both give it on unchanged (a linear activation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property

import mpmath
import sympy as sp

from derive.core.forward import UNROLLED, ExampleValues, _check_domain, _loss_error, activate
from derive.core.functions import ACTIVATIONS, LOSSES, softmax
from derive.core.graph import Graph, Neuron, SymbolName, unevaluated_output
from derive.core.numbers import Number, evaluate, exact, full_precision
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.core.rules import round_value
from derive.spec.model import LayerSpec, NetworkSpec
from derive.spec.unroll import INITIAL, INPUT, Stage, input_names, output_stages, unroll


def first_maximum(values: Sequence[Number]) -> int:
    """The index of the largest value, the first in row order on a tie: where max pooling routes δ."""
    best = 0
    for k, value in enumerate(values):
        if value > values[best]:
            best = k
    return best


class UnrolledGraph(Graph):
    """Every symbol of an unrolled network: a stage's neurons in place of a layer's.

    ``outputs`` lists the (stage, neuron) of each target, in the order of an example's targets.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.names: dict[sp.Symbol, SymbolName] = {}
        self._updated: dict[sp.Symbol, sp.Symbol] = {}
        self.multi = len(spec.examples) > 1
        self.stages: tuple[Stage, ...] = unroll(spec)
        self.neurons = [
            [Neuron(L, j, unit.name) for j, unit in enumerate(stage.units)] for L, stage in enumerate(self.stages)
        ]
        self.flat_weights = [
            self._symbol("w", str(n + 1)) for n in range(sum(layer.n_weights for layer in spec.layers))
        ]
        self.flat_biases = [self._symbol("b", str(n + 1)) for n in range(sum(layer.n_biases for layer in spec.layers))]
        self.weights = []  # a dense layer's matrix has no meaning here: the links name each weight
        self.biases = []
        examples = range(1, len(spec.examples) + 1)
        self.inputs = [[self._symbol("i", name, p) for name in input_names(spec)] for p in examples]
        first = spec.layers[0]
        self.initial = [first.neuron_name(j) + ",0" for j in range(first.size)] if first.initial_state else []
        self.initial_state = [[self._symbol("out", name, p) for name in self.initial] for p in examples]
        self.outputs = [(s, j) for s in output_stages(spec, self.stages) for j in range(len(self.stages[s].units))]
        self.net = [[[self._symbol("net", n.name, p) for n in row] for row in self.neurons] for p in examples]
        self.out = [[[self._symbol("out", n.name, p) for n in row] for row in self.neurons] for p in examples]
        self.delta = [[[self._symbol("delta", n.name, p) for n in row] for row in self.neurons] for p in examples]
        names = [self.neurons[s][j].name for s, j in self.outputs]
        self.targets = [[self._symbol("t", name, p) for name in names] for p in examples]
        self.errors = [[self._symbol("E", name, p) for name in names] for p in examples]
        self.example_loss = [self._symbol("E", "", p) for p in examples] if self.multi else []
        self.total = self._symbol("E", "total")
        self.penalty = self._symbol("E", "decay")

    @cached_property
    def layers(self) -> Sequence[LayerSpec]:  # type: ignore[override]
        """Each stage as a layer: its name (``h,2``: layer h at step 2), activation and neurons."""
        found = []
        for stage in self.stages:
            layer = self.spec.layers[stage.layer]
            name = (
                f"{layer.name},{stage.step}"
                if (stage.step is not None and self.spec.every_step) or layer.kind == "recurrent"
                else layer.name
            )
            rows = tuple(() for _ in stage.units)
            found.append(replace(layer, name=name, activation=stage.activation, weights=rows, recurrent_weights=()))
        return found

    @property
    def output_count(self) -> int:
        return len(self.outputs)

    @cached_property
    def parameters(self) -> dict[str, sp.Symbol]:
        return {symbol.name: symbol for symbol in self.flat_weights + self.flat_biases}

    def source(self, p: int, source: tuple[int, int]) -> sp.Symbol:
        """The symbol of a link's source value in example p: an input, h_0, or a neuron's output."""
        stage, index = source
        if stage == INPUT:
            return self.inputs[p][index]
        if stage == INITIAL:
            return self.initial_state[p][index]
        return self.out[p][stage][index]

    def link_weight(self, L: int, j: int, k: int) -> sp.Symbol | None:
        weight = self.stages[L].units[j].links[k].weight
        return None if weight is None else self.flat_weights[weight]

    def bias(self, L: int, j: int) -> sp.Symbol | None:
        index = self.stages[L].units[j].bias
        return None if index is None else self.flat_biases[index]

    def layer_inputs(self, p: int, L: int) -> list[sp.Symbol]:
        """What neuron 0 of stage L reads: its links' sources (a pooling window, a kernel's patch)."""
        return [self.source(p, link.source) for link in self.stages[L].units[0].links]

    def net_definition(self, p: int, L: int, j: int) -> sp.Expr:
        """Σ_links w · x + b·1; a pooling window's max(x, …) or (1/n)·(x + …)."""
        stage = self.stages[L]
        unit = stage.units[j]
        sources = [self.source(p, link.source) for link in unit.links]
        if stage.kind == "maxpool":
            return sp.Max(*sources, evaluate=False)
        if stage.kind == "avgpool":
            return sp.Mul(sp.Rational(1, len(sources)), sp.Add(*sources, evaluate=False), evaluate=False)
        terms = [sp.Mul(self.link_weight(L, j, k), x, evaluate=False) for k, x in enumerate(sources)]
        bias = self.bias(L, j)
        if bias is not None:
            terms.append(sp.Mul(bias, sp.Integer(1), evaluate=False))
        return sp.Add(*terms, evaluate=False)

    def out_definition(self, p: int, L: int, j: int) -> sp.Expr:
        stage = self.stages[L]
        activation = ACTIVATIONS[stage.activation]
        if activation.function is None:
            return softmax(list(self.net[p][L]), j)
        return unevaluated_output(stage.activation, self.net[p][L][j], stage.negative_slope)

    def error_definition(self, p: int, m: int) -> sp.Expr:
        """E of target m: the loss of its output neuron (one neuron of one step's output layer)."""
        stage, j = self.outputs[m]
        return LOSSES[self.spec.loss].error(self.targets[p][m], self.out[p][stage][j], self.spec.n_outputs)

    def penalty_definition(self) -> sp.Expr:
        squares = [w**2 for w in self.flat_weights]
        return sp.Mul(WEIGHT_DECAY / 2, sp.Add(*squares, evaluate=False), evaluate=False)

    @cached_property
    def composed(self) -> dict[sp.Symbol, sp.Expr]:
        mapping: dict[sp.Symbol, sp.Expr] = {}
        for p in range(len(self.spec.examples)):
            initial = self.spec.layers[0].initial_state or ()
            mapping.update(
                zip(self.initial_state[p], (sp.Rational(v.numerator, v.denominator) for v in initial), strict=True)
            )
            for L, row in enumerate(self.neurons):
                for j in range(len(row)):
                    mapping[self.net[p][L][j]] = self.net_definition(p, L, j).xreplace(mapping).doit()
                for j in range(len(row)):
                    mapping[self.out[p][L][j]] = self.out_definition(p, L, j).xreplace(mapping)
            for m in range(len(self.outputs)):
                mapping[self.errors[p][m]] = self.error_definition(p, m).xreplace(mapping)
        mapping[self.total] = self.total_definition().xreplace(mapping)
        return mapping

    def numbers(self) -> dict[sp.Symbol, sp.Rational]:
        values = super().numbers()
        initial = self.spec.layers[0].initial_state or ()
        for p in range(len(self.spec.examples)):
            values.update(
                zip(self.initial_state[p], (sp.Rational(v.numerator, v.denominator) for v in initial), strict=True)
            )
        return values


# -- the forward pass at 40 digits ----------------------------------------------------------------


def feed_unrolled(graph: UnrolledGraph, parameters: Mapping[str, Number]) -> list[ExampleValues]:
    """Every example through every stage: net = Σ w·x + b (or the window's max or mean), out = f(net)."""
    spec = graph.spec
    weights = [parameters[symbol.name] for symbol in graph.flat_weights]
    biases = [parameters[symbol.name] for symbol in graph.flat_biases]
    error = _loss_error(spec.loss, spec.n_outputs)
    initial = [exact(v) for v in spec.layers[0].initial_state or ()]
    found = []
    with full_precision():
        for example in spec.examples:
            inputs = [exact(x) for x in example.inputs]
            nets: list[tuple[Number, ...]] = []
            outs: list[tuple[Number, ...]] = []

            def value(source: tuple[int, int], inputs: list[Number] = inputs, outs: list = outs) -> Number:
                stage, index = source
                return inputs[index] if stage == INPUT else initial[index] if stage == INITIAL else outs[stage][index]

            for L, stage in enumerate(graph.stages):
                net = [_net_input(stage.kind, unit, value, weights, biases) for unit in stage.units]
                out = activate(stage.activation, stage.negative_slope, net)
                if spec.round_activations is not None and (L, 0) not in graph.outputs:
                    out = [round_value(v, spec.round_activations) for v in out]
                nets.append(tuple(net))
                outs.append(tuple(out))
            predictions = [outs[s][j] for s, j in graph.outputs]
            _check_domain(spec, predictions)
            errors = tuple(evaluate(error, exact(t), o) for t, o in zip(example.targets, predictions, strict=True))
            found.append(ExampleValues(tuple(nets), tuple(outs), errors))
    return found


def _net_input(
    kind: str, unit: object, value: Callable[[tuple[int, int]], Number], weights: list[Number], biases: list[Number]
) -> Number:
    sources = [value(link.source) for link in unit.links]  # type: ignore[attr-defined]
    if kind == "maxpool":
        return sources[first_maximum(sources)]
    if kind == "avgpool":
        return mpmath.fsum(sources) / len(sources)
    total = mpmath.fsum(weights[link.weight] * x for link, x in zip(unit.links, sources, strict=True))  # type: ignore[attr-defined]
    bias = unit.bias  # type: ignore[attr-defined]
    return total + biases[bias] if bias is not None else total


def unrolled_values(
    graph: UnrolledGraph, parameters: Mapping[str, Number], forward: Sequence[ExampleValues]
) -> dict[sp.Symbol, Number]:
    """Every symbol's value: parameters, inputs, h_0, targets, each stage's net inputs and outputs, errors."""
    spec = graph.spec
    values: dict[sp.Symbol, Number] = {graph.parameters[name]: v for name, v in parameters.items()}
    initial = [exact(v) for v in spec.layers[0].initial_state or ()]
    for p, (example, result) in enumerate(zip(spec.examples, forward, strict=True)):
        values.update(zip(graph.inputs[p], map(exact, example.inputs), strict=True))
        values.update(zip(graph.initial_state[p], initial, strict=True))
        values.update(zip(graph.targets[p], map(exact, example.targets), strict=True))
        for L in range(len(graph.stages)):
            values.update(zip(graph.net[p][L], result.net[L], strict=True))
            values.update(zip(graph.out[p][L], result.out[L], strict=True))
        values.update(zip(graph.errors[p], result.errors, strict=True))
        if graph.multi:
            values[graph.example_loss[p]] = result.loss
    return values


def forward_pass(spec: NetworkSpec) -> list[ExampleValues]:
    """Every example's forward pass at 40 digits, for :func:`derive.core.forward.forward_pass`."""
    with full_precision():
        parameters = {name: exact(value) for name, value in spec.parameters().items()}
        return feed_unrolled(UnrolledGraph(spec), parameters)


UNROLLED["forward_pass"] = forward_pass
