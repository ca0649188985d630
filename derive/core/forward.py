"""The forward pass at 40 digits: every example through every layer, net = Σ w·x + b and out = f(net),
then each output's error; and every symbol's value, which the backward pass reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import mpmath
import sympy as sp

from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.graph import Graph
from derive.core.numbers import PRECISION, Number, compile_expr, dot, evaluate, exact, full_precision
from derive.core.rules import round_value
from derive.errors import DeriveError
from derive.spec.model import ExampleSpec, NetworkSpec

# Every layer's weight matrix and per-neuron biases, as high-precision numbers.
Parameters = tuple[list[list[list[Number]]], list[list[Number]]]

NET, OUT, TARGET = sp.symbols("net out t")


@dataclass(frozen=True)
class ExampleValues:
    """One example's forward pass: every neuron's net input and output, and the errors."""

    net: tuple[tuple[Number, ...], ...]
    out: tuple[tuple[Number, ...], ...]
    errors: tuple[Number, ...]

    @property
    def loss(self) -> Number:
        with full_precision():
            return mpmath.fsum(self.errors)


# Each activation's and loss's functions, compiled once per process rather than once per neuron.


@cache
def _activation_function(name: str, constant: Fraction | None) -> Callable[..., Number]:
    """out = f(net) as a high-precision function of net (with the layer's constant, if any)."""
    # Built unevaluated, it compiles to the same code; evaluated, SymPy's first sum in the process
    # would import its tensor module, about 50 ms of start-up: more than the worked example's work.
    with sp.evaluate(False):
        expr = ACTIVATIONS[name].output(NET, constant)
    return compile_expr(expr, (NET,))


@cache
def _loss_error(name: str, n_outputs: int) -> Callable[..., Number]:
    """E_o(t, out) as a high-precision function."""
    return compile_expr(LOSSES[name].error(TARGET, OUT, n_outputs), (TARGET, OUT))


# How a network with conv2d, pooling or recurrent layers is fed: :mod:`derive.core.unrolled`, which
# sits above this module, registers its forward pass here when it is imported (as the chain does).
UNROLLED: dict[str, Callable[[NetworkSpec], list[ExampleValues]]] = {}


def forward_pass(spec: NetworkSpec) -> list[ExampleValues]:
    """Feed every example through the network, rounding hidden outputs if asked."""
    if not spec.dense:
        return UNROLLED["forward_pass"](spec)
    with full_precision():
        return feed_examples(spec, exact_parameters(spec))


def total_loss(spec: NetworkSpec) -> Number:
    """E_total at 40 digits from a forward pass alone: no gradients."""
    return reduce_loss(spec, forward_pass(spec))


def reduce_loss(spec: NetworkSpec, forward: Sequence[ExampleValues]) -> Number:
    """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
    with full_precision():
        total = mpmath.fsum(example.loss for example in forward)
        return total / len(forward) if spec.reduction == "mean" else total


def exact_parameters(spec: NetworkSpec) -> Parameters:
    """Every layer's weight matrix and per-neuron biases as high-precision numbers, converted once."""
    weights = [[[exact(w) for w in row] for row in layer.weights] for layer in spec.layers]
    biases = []
    for layer in spec.layers:
        if isinstance(layer.bias, tuple):
            biases.append([exact(b) for b in layer.bias])
        else:
            biases.append([exact(layer.bias)] * layer.size)
    return weights, biases


def named_parameters(spec: NetworkSpec, parameters: Parameters) -> dict[str, Number]:
    """Each weight's and bias's value by its name, in ``spec.parameter_names()``'s order (a shared bias once)."""
    weights, biases = parameters
    values = [w for layer in weights for row in layer for w in row]
    for layer, layer_biases in zip(spec.layers, biases, strict=True):
        values.extend(layer_biases[:1] if layer.shared_bias else layer_biases)
    return dict(zip(spec.parameter_names(), values, strict=True))


def feed_examples(spec: NetworkSpec, parameters: Parameters) -> list[ExampleValues]:
    """Every example's forward pass with the given parameters."""
    error = _loss_error(spec.loss, spec.n_outputs)
    return [_feed(spec, example, error, parameters) for example in spec.examples]


def _feed(
    spec: NetworkSpec,
    example: ExampleSpec,
    error: Callable[..., Number],
    parameters: Parameters,
) -> ExampleValues:
    """One example through every layer: net = Σ w·x + b, out = f(net)."""
    values = [exact(x) for x in example.inputs]
    nets, outs = [], []
    for L, (layer, weights, biases) in enumerate(zip(spec.layers, *parameters, strict=True)):
        net = [dot(row, values) + bias for row, bias in zip(weights, biases, strict=True)]
        out = activate(layer.activation, layer.negative_slope, net)
        if spec.round_activations is not None and len(spec.layers) - 1 > L:
            out = [round_value(value, spec.round_activations) for value in out]
        nets.append(tuple(net))
        outs.append(tuple(out))
        values = out
    _check_domain(spec, values)
    errors = tuple(evaluate(error, exact(t), o) for t, o in zip(example.targets, values, strict=True))
    return ExampleValues(tuple(nets), tuple(outs), errors)


def _check_domain(spec: NetworkSpec, outputs: Sequence[Number]) -> None:
    """bce takes log(1 − out): a sigmoid output saturated at 1 to 40 digits makes it infinite.

    The logarithm of out itself never is: sigmoid and softmax outputs stay above 0 at any finite net
    input, since mpmath's exponent does not underflow (σ(−10³⁰⁰) is about e^(−10³⁰⁰), not 0).
    """
    if spec.loss != "bce":
        return
    for j, out in enumerate(outputs):
        if out >= 1:
            neuron = spec.layers[-1].neuron_name(j)
            raise DeriveError(
                f"output {neuron} is 1 to {PRECISION} digits, where the logarithm of loss 'bce' is infinite; "
                "use smaller weights or inputs so that the outputs stay strictly between 0 and 1"
            )


def activate(activation: str, negative_slope: Fraction | None, nets: list[Number]) -> list[Number]:
    """out = f(net) for a layer's (or a stage's) net inputs; softmax over all of them at once."""
    if ACTIVATIONS[activation].function is None:
        # softmax, shifted by the largest net input so that no exponential overflows
        with full_precision():
            top = max(nets)
            exps = [mpmath.exp(net - top) for net in nets]
            total = mpmath.fsum(exps)
            return [e / total for e in exps]
    function = _activation_function(activation, negative_slope)
    return [evaluate(function, net) for net in nets]


def symbol_values(
    graph: Graph, spec: NetworkSpec, parameters: Mapping[str, Number], forward: Sequence[ExampleValues]
) -> dict[sp.Symbol, Number]:
    """Every symbol's value: the parameters, each example's inputs and targets, net inputs, outputs and errors."""
    values: dict[sp.Symbol, Number] = {graph.parameters[name]: v for name, v in parameters.items()}
    for p, (example, result) in enumerate(zip(spec.examples, forward, strict=True)):
        values.update(zip(graph.inputs[p], map(exact, example.inputs), strict=True))
        values.update(zip(graph.targets[p], map(exact, example.targets), strict=True))
        for L in range(len(spec.layers)):
            values.update(zip(graph.net[p][L], result.net[L], strict=True))
            values.update(zip(graph.out[p][L], result.out[L], strict=True))
        values.update(zip(graph.errors[p], result.errors, strict=True))
        if graph.multi:
            values[graph.example_loss[p]] = result.loss
    return values
