"""The derivation as data: for every weight and bias, the chain-rule terms and their factors.

Backpropagation's order is kept: each neuron's δ = ∂E_total/∂net is derived once, top layer first,
and shared by every weight that needs it, so deriving all gradients costs O(number of weights).
Net inputs, outputs and δ stay symbols in the chains; the composed form in the inputs, weights,
biases and targets is built only when asked (:attr:`Gradient.expr`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import mpmath
import sympy as sp

from derive.functions import ACTIVATIONS, LOSSES
from derive.graph import Graph, Neuron
from derive.numbers import PRECISION, Number, compile_expr, dot, evaluate, exact, round_half_up
from derive.spec import ExampleSpec, NetworkSpec

Update = Literal["simultaneous", "sequential"]

_NET, _OUT, _TARGET = sp.symbols("net out t")


@dataclass(frozen=True)
class Factor:
    """∂of/∂wrt: its textbook form in the network's symbols, the rule behind it, and its value.

    A hidden neuron's ∂E_total/∂out is a sum over the paths through the next layer; ``paths``
    holds each path's factors (∂E_total/∂net_k, ∂net_k/∂out_j).
    """

    of: sp.Symbol
    wrt: sp.Symbol
    expr: sp.Expr
    rule: str
    precise: Number
    paths: tuple[tuple[Factor, ...], ...] = ()

    @property
    def value(self) -> float:
        return float(self.precise)


@dataclass(frozen=True)
class Term:
    """One product of factors: one example's contribution through one neuron."""

    factors: tuple[Factor, ...]
    example: int
    neuron: Neuron

    @property
    def precise(self) -> Number:
        with mpmath.workdps(PRECISION):
            return mpmath.fprod(f.precise for f in self.factors)

    @property
    def value(self) -> float:
        return float(self.precise)

    @property
    def expr(self) -> sp.Expr:
        """The product of the factors' symbolic forms."""
        return sp.Mul(*(f.expr for f in self.factors), evaluate=False)


@dataclass(frozen=True)
class Delta:
    """δ = ∂E_total/∂net of one neuron in one example, and the factors that give it."""

    symbol: sp.Symbol
    neuron: Neuron
    example: int
    factors: tuple[Factor, ...]
    precise: Number

    @property
    def value(self) -> float:
        return float(self.precise)


@dataclass(frozen=True)
class Gradient:
    """∂E_total/∂θ for one weight or bias θ: the sum of its chain-rule terms."""

    name: str
    symbol: sp.Symbol
    chain: tuple[Term, ...]
    precise: Number
    derivation: Derivation = field(repr=False, compare=False)

    @property
    def value(self) -> float:
        return float(self.precise)

    @property
    def chain_expr(self) -> sp.Expr:
        """Σ over the terms of the product of their factors, in the network's symbols."""
        return sp.Add(*(term.expr for term in self.chain), evaluate=False)

    @cached_property
    def expr(self) -> sp.Expr:
        """The fully composed ∂E_total/∂θ, in the inputs, weights, biases and targets."""
        return self.derivation.compose(self.chain_expr)


@dataclass(frozen=True)
class ExampleValues:
    """One example's forward pass: every neuron's net input and output, and the errors."""

    net: tuple[tuple[Number, ...], ...]
    out: tuple[tuple[Number, ...], ...]
    errors: tuple[Number, ...]

    @property
    def loss(self) -> Number:
        with mpmath.workdps(PRECISION):
            return mpmath.fsum(self.errors)


def forward_pass(spec: NetworkSpec) -> list[ExampleValues]:
    """Feed every example through the network, rounding hidden outputs if asked."""
    loss = LOSSES[spec.loss]
    error = compile_expr(loss.error(_TARGET, _OUT, spec.n_outputs), (_TARGET, _OUT))
    with mpmath.workdps(PRECISION):
        return [_feed(spec, example, error) for example in spec.examples]


def _feed(spec: NetworkSpec, example: ExampleSpec, error: Callable[..., Number]) -> ExampleValues:
    """One example through every layer: net = Σ w·x + b, out = f(net)."""
    values = [exact(x) for x in example.inputs]
    nets, outs = [], []
    for L, layer in enumerate(spec.layers):
        net = [
            dot([exact(w) for w in row], values) + exact(layer.neuron_bias(j)) for j, row in enumerate(layer.weights)
        ]
        out = _activate(layer.activation, net)
        if spec.round_activations is not None and len(spec.layers) - 1 > L:
            out = [round_half_up(value, spec.round_activations) for value in out]
        nets.append(tuple(net))
        outs.append(tuple(out))
        values = out
    errors = tuple(evaluate(error, exact(t), o) for t, o in zip(example.targets, values, strict=True))
    return ExampleValues(tuple(nets), tuple(outs), errors)


def _activate(name: str, nets: list[Number]) -> list[Number]:
    activation = ACTIVATIONS[name]
    if activation.function is None:
        # softmax, shifted by the largest net input so that no exponential overflows
        with mpmath.workdps(PRECISION):
            top = max(nets)
            exps = [mpmath.exp(net - top) for net in nets]
            total = mpmath.fsum(exps)
            return [e / total for e in exps]
    function = compile_expr(activation.function(_NET), (_NET,))
    return [evaluate(function, net) for net in nets]


class Derivation:
    """Every symbol's value, every δ, every gradient and the updated parameters of one step.

    With ``update="sequential"`` the output layer is updated first and each hidden layer's δ
    is backpropagated through the already updated weights (w⁺) of the layer above it.
    """

    def __init__(self, spec: NetworkSpec, update: Update = "simultaneous") -> None:
        self.spec = spec
        self.update = update
        self.graph = Graph(spec)
        self.deltas: list[list[list[Delta]]] = [[[] for _ in spec.layers] for _ in spec.examples]
        self.gradients: dict[str, Gradient] = {}
        self.updated: dict[str, Number] = {}
        with mpmath.workdps(PRECISION):  # every intermediate at full precision, not mpmath's default
            self.forward = forward_pass(spec)
            self.parameters = {name: exact(value) for name, value in spec.parameters().items()}
            self.values = self._symbol_values()
            self._backward()

    # -- values ---------------------------------------------------------------------------------

    @property
    def loss(self) -> Number:
        """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
        with mpmath.workdps(PRECISION):
            total = mpmath.fsum(example.loss for example in self.forward)
            return total / len(self.forward) if self.spec.reduction == "mean" else total

    def _symbol_values(self) -> dict[sp.Symbol, Number]:
        graph, spec = self.graph, self.spec
        values: dict[sp.Symbol, Number] = {graph.parameters[name]: v for name, v in self.parameters.items()}
        for p, (example, result) in enumerate(zip(spec.examples, self.forward, strict=True)):
            values.update(zip(graph.inputs[p], map(exact, example.inputs), strict=True))
            values.update(zip(graph.targets[p], map(exact, example.targets), strict=True))
            for L in range(len(spec.layers)):
                values.update(zip(graph.net[p][L], result.net[L], strict=True))
                values.update(zip(graph.out[p][L], result.out[L], strict=True))
            values.update(zip(graph.errors[p], result.errors, strict=True))
            if graph.multi:
                values[graph.example_loss[p]] = result.loss
        return values

    def trainable(self, name: str) -> bool:
        """Weights always take a step; biases only when ``train_biases`` is true."""
        return name.startswith("w") or self.spec.train_biases

    # -- backward pass --------------------------------------------------------------------------

    def _backward(self) -> None:
        spec = self.spec
        n_layers = len(spec.layers)
        learning_rate = exact(spec.learning_rate)
        for L in reversed(range(n_layers)):
            for p in range(len(spec.examples)):
                for j in range(spec.layers[L].size):
                    delta = self._output_delta(p, j) if n_layers - 1 == L else self._hidden_delta(p, L, j)
                    self.deltas[p][L].append(delta)
                    self.values[delta.symbol] = delta.precise
            for name, symbol, terms in self._layer_parameters(L):
                with mpmath.workdps(PRECISION):
                    total = mpmath.fsum(term.precise for term in terms)
                    step = learning_rate * total if self.trainable(name) else mpmath.mpf(0)
                    self.gradients[name] = Gradient(name, symbol, tuple(terms), total, self)
                    self.updated[name] = self.parameters[name] - step
        order = spec.parameter_names()
        self.gradients = {name: self.gradients[name] for name in order}
        self.updated = {name: self.updated[name] for name in order}

    def _output_delta(self, p: int, j: int) -> Delta:
        graph, spec = self.graph, self.spec
        layer = spec.layers[-1]
        neuron = graph.neurons[-1][j]
        net, out, target = graph.net[p][-1][j], graph.out[p][-1][j], graph.targets[p][j]
        delta_symbol = graph.delta[p][-1][j]
        scale = graph.reduction_scale()
        loss = LOSSES[spec.loss]
        activation = ACTIVATIONS[layer.activation]
        if activation.coupled:
            expr, rule = self._softmax_delta(p, j)
            factor = Factor(graph.total, net, _scaled(scale, expr), rule, self._value(_scaled(scale, expr)))
            return Delta(delta_symbol, neuron, p, (factor,), factor.precise)
        d_error = _scaled(scale, loss.derivative(target, out, spec.n_outputs))
        d_error_fn = compile_expr(_scaled(scale, loss.derivative(_TARGET, _OUT, spec.n_outputs)), (_TARGET, _OUT))
        d_out_fn = compile_expr(activation.derivative(_NET, _OUT), (_NET, _OUT))
        factors = (
            Factor(graph.total, out, d_error, loss.rule, evaluate(d_error_fn, self.values[target], self.values[out])),
            Factor(
                out,
                net,
                activation.derivative(net, out),
                activation.rule,
                evaluate(d_out_fn, self.values[net], self.values[out]),
            ),
        )
        return Delta(delta_symbol, neuron, p, factors, _product(factors))

    def _softmax_delta(self, p: int, j: int) -> tuple[sp.Expr, str]:
        """∂E/∂net_j through softmax: Σ_k ∂E/∂out_k · out_k (δ_kj − out_j).

        With cross-entropy this is out_j · Σ_k t_k − t_j, which is out_j − t_j when the targets
        sum to one.
        """
        graph, spec = self.graph, self.spec
        outs, targets = graph.out[p][-1], graph.targets[p]
        out_j, target_j = outs[j], targets[j]
        if spec.loss == "cross_entropy":
            # one form for every example, so that all examples share one compiled step
            if all(sum(example.targets) == 1 for example in spec.examples):
                return sp.Add(out_j, -target_j, evaluate=False), "softmax_cross_entropy"
            mass = sp.Add(*targets, evaluate=False)
            return sp.Add(sp.Mul(out_j, mass, evaluate=False), -target_j, evaluate=False), "softmax_cross_entropy"
        loss = LOSSES[spec.loss]
        slopes = [loss.derivative(t, o, spec.n_outputs) for t, o in zip(targets, outs, strict=True)]
        mean_slope = sp.Add(*(sp.Mul(g, o, evaluate=False) for g, o in zip(slopes, outs, strict=True)), evaluate=False)
        return sp.Mul(out_j, sp.Add(slopes[j], -mean_slope, evaluate=False), evaluate=False), "softmax"

    def _hidden_delta(self, p: int, L: int, j: int) -> Delta:
        graph, spec = self.graph, self.spec
        neuron = graph.neurons[L][j]
        net, out = graph.net[p][L][j], graph.out[p][L][j]
        paths = []
        for k, above in enumerate(self.deltas[p][L + 1]):
            weight = graph.weights[L + 1][k][j]
            weight_value = self.parameters[str(weight)]
            if self.update == "sequential":
                weight_value = self.updated[str(weight)]
                weight = graph.updated(weight)
            net_above = graph.net[p][L + 1][k]
            paths.append(
                (
                    Factor(graph.total, net_above, above.symbol, "delta", above.precise),
                    Factor(net_above, out, weight, "linearity", weight_value),
                )
            )
        d_error = Factor(
            graph.total,
            out,
            sp.Add(*(sp.Mul(a.expr, b.expr, evaluate=False) for a, b in paths), evaluate=False),
            "sum_over_paths",
            dot([a.precise for a, _ in paths], [b.precise for _, b in paths]),
            tuple(paths),
        )
        activation = ACTIVATIONS[spec.layers[L].activation]
        d_out_fn = compile_expr(activation.derivative(_NET, _OUT), (_NET, _OUT))
        d_out = Factor(
            out,
            net,
            activation.derivative(net, out),
            activation.rule,
            evaluate(d_out_fn, self.values[net], self.values[out]),
        )
        return Delta(graph.delta[p][L][j], neuron, p, (d_error, d_out), _product((d_error, d_out)))

    def _layer_parameters(self, L: int) -> list[tuple[str, sp.Symbol, list[Term]]]:
        """Each weight and bias of layer L with its terms: δ's factors, then ∂net/∂θ."""
        graph, spec = self.graph, self.spec
        layer = spec.layers[L]
        one = mpmath.mpf(1)
        found: dict[sp.Symbol, list[Term]] = {}
        for j in range(layer.size):
            for k, weight in enumerate(graph.weights[L][j]):
                terms = found.setdefault(weight, [])
                for p in range(len(spec.examples)):
                    source = graph.layer_inputs(p, L)[k]
                    link = Factor(graph.net[p][L][j], weight, source, "linearity", self.values[source])
                    terms.append(self._term(p, L, j, link))
        for j in range(layer.size):
            bias = graph.biases[L][j]
            terms = found.setdefault(bias, [])
            for p in range(len(spec.examples)):
                link = Factor(graph.net[p][L][j], bias, sp.Integer(1), "linearity", one)
                terms.append(self._term(p, L, j, link))
        # a shared bias collects one term per neuron and example, ordered by example
        return [(str(symbol), symbol, sorted(terms, key=lambda term: term.example)) for symbol, terms in found.items()]

    def _term(self, p: int, L: int, j: int, link: Factor) -> Term:
        delta = self.deltas[p][L][j]
        return Term((*delta.factors, link), p, delta.neuron)

    def _value(self, expr: sp.Expr) -> Number:
        """A factor's value from its symbolic form, at full precision."""
        with mpmath.workdps(PRECISION):
            free = sorted(expr.free_symbols, key=str)
            function = compile_expr(expr, tuple(free))
            return +function(*(self.values[s] for s in free))

    # -- composed forms -------------------------------------------------------------------------

    @cached_property
    def _delta_definitions(self) -> Mapping[sp.Symbol, sp.Expr]:
        """Each δ as the product of its factors, with the δs above it substituted (top-down)."""
        definitions: dict[sp.Symbol, sp.Expr] = {}
        updated = {
            self.graph.updated(self.graph.parameters[name]): self.graph.parameters[name]
            - self.spec_learning_rate * self.gradients[name].chain_expr
            for name in self.gradients
            if name.startswith("w") and self.update == "sequential"
        }
        for L in reversed(range(len(self.spec.layers))):
            for p in range(len(self.spec.examples)):
                for delta in self.deltas[p][L]:
                    product = sp.Mul(*(f.expr for f in delta.factors))
                    definitions[delta.symbol] = product.xreplace(updated).xreplace(definitions)
        return definitions

    @property
    def spec_learning_rate(self) -> sp.Rational:
        rate = self.spec.learning_rate
        return sp.Rational(rate.numerator, rate.denominator)

    def compose(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` written in the inputs, weights, biases and targets only."""
        return expr.xreplace(self._delta_definitions).xreplace(self.graph.composed)

    def value_of(self, symbol: sp.Symbol) -> Number:
        """The value of any symbol of the network in this step."""
        return self.values[symbol]


def _scaled(scale: sp.Expr, expr: sp.Expr) -> sp.Expr:
    return expr if scale == 1 else sp.Mul(scale, expr, evaluate=False)


def _product(factors: tuple[Factor, ...]) -> Number:
    with mpmath.workdps(PRECISION):
        return mpmath.fprod(f.precise for f in factors)
