"""The derivation as data: for every weight and bias, the chain-rule terms and their factors.

Backpropagation's order is kept: each neuron's δ = ∂E_total/∂net is derived once, top layer first,
and shared by every weight that needs it, so deriving all gradients costs O(number of weights).
Net inputs, outputs and δ stay symbols in the chains; the composed form in the inputs, weights,
biases and targets is built only when asked (:attr:`Gradient.expr`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, cached_property
from typing import Literal, get_args

import mpmath
import sympy as sp

from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.graph import MOMENTUM, WEIGHT_DECAY, Graph, Neuron
from derive.core.numbers import PRECISION, Number, compile_expr, dot, evaluate, exact, full_precision, round_half_up
from derive.errors import DeriveError
from derive.spec.model import ExampleSpec, LayerSpec, NetworkSpec

Update = Literal["simultaneous", "sequential"]
UPDATE_ORDERS: tuple[str, ...] = get_args(Update)

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
        with full_precision():
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
    """∂E_total/∂θ for one weight or bias θ: the sum of its chain-rule terms.

    With ``weight_decay = λ`` each update descends E_total + (λ/2)·Σ w² (the weights, not the
    biases), so a weight's gradient gains one more term, ``decay``: ∂[(λ/2)·Σ w²]/∂w = λ·w, the
    factor ∂E_decay/∂w with rule ``weight_decay``.  ``precise`` is the sum of the chain's terms
    and that term.
    """

    name: str
    symbol: sp.Symbol
    chain: tuple[Term, ...]
    precise: Number
    derivation: Derivation = field(repr=False, compare=False)
    decay: Factor | None = None

    @property
    def value(self) -> float:
        return float(self.precise)

    @property
    def chain_expr(self) -> sp.Expr:
        """Σ over the terms of the product of their factors (+ λ·w with weight decay), in the network's symbols."""
        terms = [term.expr for term in self.chain]
        if self.decay is not None:
            terms.append(self.decay.expr)
        return sp.Add(*terms, evaluate=False)

    @cached_property
    def expr(self) -> sp.Expr:
        """The fully composed ∂E_total/∂θ, in the inputs, weights, biases and targets."""
        return self.derivation.compose(self.chain_expr)

    def latex(self, digits: int = 9) -> str:
        """∂E_total/∂θ = its chain of factors = their values = the gradient, in LaTeX.

        >>> from derive import example
        >>> text = example().gradients()["w5"].latex(4)
        >>> print(text.split(" = ")[0])
        \\frac{\\partial E_{\\text{total}}}{\\partial w_{5}}
        >>> print(text.split(" = ")[-2], "=", text.split(" = ")[-1])
        0.7414 \\cdot 0.1868 \\cdot 0.5933 = 0.0822
        """
        from derive.core.numbers import format_number
        from derive.core.printing import TextbookPrinter, number_latex, partial_latex

        printer = TextbookPrinter(self.derivation.graph.names)

        def label(factor: Factor) -> str:
            return partial_latex(printer.doprint(factor.of), printer.doprint(factor.wrt))

        lhs = partial_latex(printer.doprint(self.derivation.graph.total), printer.doprint(self.symbol))
        terms = [term.factors for term in self.chain] + ([(self.decay,)] if self.decay else [])
        chain = " + ".join(r" \cdot ".join(label(f) for f in factors) for factors in terms)
        values = " + ".join(r" \cdot ".join(number_latex(f.precise, digits) for f in factors) for factors in terms)
        return f"{lhs} = {chain} = {values} = {format_number(self.precise, digits)}"

    def _repr_latex_(self) -> str:
        """Jupyter shows a gradient as its chain, with the numbers."""
        return f"$$ {self.latex()} $$"


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


def check_update(update: str) -> None:
    """An update order is one of UPDATE_ORDERS: a misspelt one must not quietly mean another."""
    if update not in UPDATE_ORDERS:
        expected = ", ".join(UPDATE_ORDERS)
        raise DeriveError(f"unknown update order {update!r} (expected one of: {expected})", key="update")


# Each activation's and loss's functions, compiled once per process rather than once per neuron.


@cache
def _activation_function(name: str, constant: Fraction | None) -> Callable[..., Number]:
    """out = f(net) as a high-precision function of net (with the layer's constant, if any)."""
    # Built unevaluated, it compiles to the same code; evaluated, SymPy's first sum in the process
    # would import its tensor module, about 50 ms of start-up: more than the worked example's work.
    with sp.evaluate(False):
        expr = ACTIVATIONS[name].output(_NET, constant)
    return compile_expr(expr, (_NET,))


@cache
def _activation_slope(name: str, constant: Fraction | None) -> Callable[..., Number]:
    """∂out/∂net = f'(net, out) as a high-precision function."""
    return compile_expr(ACTIVATIONS[name].slope(_NET, _OUT, constant), (_NET, _OUT))


@cache
def _loss_error(name: str, n_outputs: int) -> Callable[..., Number]:
    """E_o(t, out) as a high-precision function."""
    return compile_expr(LOSSES[name].error(_TARGET, _OUT, n_outputs), (_TARGET, _OUT))


@cache
def _loss_slope(name: str, n_outputs: int, scale: sp.Rational) -> Callable[..., Number]:
    """∂E_total/∂out_o = scale · ∂E_o/∂out_o as a high-precision function."""
    return compile_expr(_scaled(scale, LOSSES[name].derivative(_TARGET, _OUT, n_outputs)), (_TARGET, _OUT))


def forward_pass(spec: NetworkSpec) -> list[ExampleValues]:
    """Feed every example through the network, rounding hidden outputs if asked."""
    with full_precision():
        return _forward_pass(spec, _exact_parameters(spec))


def total_loss(spec: NetworkSpec) -> Number:
    """E_total at 40 digits from a forward pass alone: no gradients."""
    return _reduce(spec, forward_pass(spec))


def _reduce(spec: NetworkSpec, forward: Sequence[ExampleValues]) -> Number:
    """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
    with full_precision():
        total = mpmath.fsum(example.loss for example in forward)
        return total / len(forward) if spec.reduction == "mean" else total


def _exact_parameters(spec: NetworkSpec) -> tuple[list[list[list[Number]]], list[list[Number]]]:
    """Every layer's weight matrix and per-neuron biases as high-precision numbers, converted once."""
    weights = [[[exact(w) for w in row] for row in layer.weights] for layer in spec.layers]
    biases = []
    for layer in spec.layers:
        if isinstance(layer.bias, tuple):
            biases.append([exact(b) for b in layer.bias])
        else:
            biases.append([exact(layer.bias)] * layer.size)
    return weights, biases


def _forward_pass(
    spec: NetworkSpec, parameters: tuple[list[list[list[Number]]], list[list[Number]]]
) -> list[ExampleValues]:
    error = _loss_error(spec.loss, spec.n_outputs)
    return [_feed(spec, example, error, parameters) for example in spec.examples]


def _feed(
    spec: NetworkSpec,
    example: ExampleSpec,
    error: Callable[..., Number],
    parameters: tuple[list[list[list[Number]]], list[list[Number]]],
) -> ExampleValues:
    """One example through every layer: net = Σ w·x + b, out = f(net)."""
    values = [exact(x) for x in example.inputs]
    nets, outs = [], []
    for L, (layer, weights, biases) in enumerate(zip(spec.layers, *parameters, strict=True)):
        net = [dot(row, values) + bias for row, bias in zip(weights, biases, strict=True)]
        out = _activate(layer, net)
        if spec.round_activations is not None and len(spec.layers) - 1 > L:
            out = [round_half_up(value, spec.round_activations) for value in out]
        nets.append(tuple(net))
        outs.append(tuple(out))
        values = out
    _check_domain(spec, values)
    errors = tuple(evaluate(error, exact(t), o) for t, o in zip(example.targets, values, strict=True))
    return ExampleValues(tuple(nets), tuple(outs), errors)


def _check_domain(spec: NetworkSpec, outputs: Sequence[Number]) -> None:
    """bce and cross-entropy take logarithms: an output saturated at 0 or 1 makes them infinite."""
    if spec.loss not in ("bce", "cross_entropy"):
        return
    for j, out in enumerate(outputs):
        if out <= 0 or (spec.loss == "bce" and out >= 1):
            neuron = spec.layers[-1].neuron_name(j)
            raise DeriveError(
                f"output {neuron} is {'1' if out >= 1 else '0'} to {PRECISION} digits, where the logarithm of "
                f"loss {spec.loss!r} is infinite; use smaller weights or inputs so that the outputs stay "
                "strictly between 0 and 1"
            )


def _activate(layer: LayerSpec, nets: list[Number]) -> list[Number]:
    if ACTIVATIONS[layer.activation].function is None:
        # softmax, shifted by the largest net input so that no exponential overflows
        with full_precision():
            top = max(nets)
            exps = [mpmath.exp(net - top) for net in nets]
            total = mpmath.fsum(exps)
            return [e / total for e in exps]
    function = _activation_function(layer.activation, layer.negative_slope)
    return [evaluate(function, net) for net in nets]


class Derivation:
    """Every symbol's value, every δ, every gradient and the updated parameters of one update.

    The update uses every example the spec holds (``batch_size`` and ``shuffle`` are for
    training: ``derive.training.descent.update_spec`` gives the spec of each online or mini-batch
    update).  With ``update="sequential"`` the output layer is updated first and each hidden
    layer's δ is backpropagated through the already updated weights (w⁺) of the layer above it.

    Each parameter moves by ``changes[name]`` = Δθ = β·Δθ_previous − η·∂E/∂θ (β the momentum;
    ``previous_changes`` holds the Δθ_previous used: the file's ``previous_update``, else 0), so
    ``updated[name]`` = θ + Δθ; a fixed bias has Δθ = 0.  Without momentum Δθ = −η·∂E/∂θ.
    """

    def __init__(self, spec: NetworkSpec, update: Update = "simultaneous") -> None:
        check_update(update)
        self.spec = spec
        self.update = update
        self.deltas: list[list[list[Delta]]] = [[[] for _ in spec.layers] for _ in spec.examples]
        self.gradients: dict[str, Gradient] = {}
        self.updated: dict[str, Number] = {}
        self.changes: dict[str, Number] = {}
        # every intermediate at full precision, not mpmath's default
        with full_precision(), _collector_paused():
            self.graph = Graph(spec)
            exact_parameters = _exact_parameters(spec)
            self.forward = _forward_pass(spec, exact_parameters)
            weights, biases = exact_parameters
            values = [w for layer in weights for row in layer for w in row]
            for layer, layer_biases in zip(spec.layers, biases, strict=True):
                values.extend(layer_biases[:1] if layer.shared_bias else layer_biases)
            self.parameters = dict(zip(spec.parameter_names(), values, strict=True))
            self.previous_changes = {name: exact(value) for name, value in spec.previous_changes().items()}
            self.values = self._symbol_values()
            self._backward()

    # -- values ---------------------------------------------------------------------------------

    @property
    def loss(self) -> Number:
        """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
        return _reduce(self.spec, self.forward)

    @property
    def penalty(self) -> Number:
        """(λ/2)·Σ w² over the weights (not the biases): 0 without weight decay."""
        with full_precision():
            weights = [value for name, value in self.parameters.items() if name.startswith("w")]
            return exact(self.spec.weight_decay) / 2 * mpmath.fsum(w * w for w in weights)

    @property
    def objective(self) -> Number:
        """E_total + (λ/2)·Σ w²: what the update descends (E_total itself without weight decay)."""
        with full_precision():
            return self.loss + self.penalty

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
        """δ layer by layer from the top, then the gradients of the layer's parameters.

        Called at full precision.  Everything done once per weight is kept to a few object
        creations and multiplications: the symbolic work is per neuron.
        """
        spec, graph = self.spec, self.graph
        n_layers = len(spec.layers)
        learning_rate = exact(spec.learning_rate)
        momentum = exact(spec.momentum)
        decay = exact(spec.weight_decay)
        zero = mpmath.mpf(0)
        for L in reversed(range(n_layers)):
            for p in range(len(spec.examples)):
                if n_layers - 1 == L:
                    row = [self._output_delta(p, j) for j in range(spec.layers[L].size)]
                else:
                    # ∂E_total/∂net_k of the layer above: one factor per neuron k, shared by every path through k
                    above = [
                        Factor(graph.total, graph.net[p][L + 1][k], delta.symbol, "delta", delta.precise)
                        for k, delta in enumerate(self.deltas[p][L + 1])
                    ]
                    row = [self._hidden_delta(p, L, j, above) for j in range(spec.layers[L].size)]
                self.deltas[p][L].extend(row)
                self.values.update((delta.symbol, delta.precise) for delta in row)
            for name, symbol, terms, products in self._layer_parameters(L):
                weight_decay = self._decay(symbol, decay) if decay and name.startswith("w") else None
                if weight_decay is not None:
                    products = [*products, weight_decay.precise]
                # fsum of a single term is that term: no call for it, once per weight
                total = products[0] if len(products) == 1 else mpmath.fsum(products)
                self.gradients[name] = Gradient(name, symbol, terms, total, self, weight_decay)
                step = learning_rate * total if self.trainable(name) else zero
                if momentum and self.trainable(name):
                    self.changes[name] = momentum * self.previous_changes[name] - step
                    self.updated[name] = self.parameters[name] + self.changes[name]
                else:
                    self.changes[name] = -step
                    self.updated[name] = self.parameters[name] - step
        order = spec.parameter_names()
        self.gradients = {name: self.gradients[name] for name in order}
        self.updated = {name: self.updated[name] for name in order}
        self.changes = {name: self.changes[name] for name in order}

    def _decay(self, weight: sp.Symbol, decay: Number) -> Factor:
        """The weight-decay term of a weight's gradient: ∂[(λ/2)·Σ w²]/∂w = λ·w."""
        expr = sp.Mul._from_args((WEIGHT_DECAY, weight))  # λ·w, unevaluated
        return Factor(self.graph.penalty, weight, expr, "weight_decay", decay * self.parameters[weight.name])

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
        d_error_fn = _loss_slope(spec.loss, spec.n_outputs, scale)
        d_out_fn = _activation_slope(layer.activation, layer.negative_slope)
        factors = (
            Factor(graph.total, out, d_error, loss.rule, evaluate(d_error_fn, self.values[target], self.values[out])),
            Factor(
                out,
                net,
                activation.slope(net, out, layer.negative_slope),
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

    def _hidden_delta(self, p: int, L: int, j: int, above: list[Factor]) -> Delta:
        """δ_j = (Σ_k δ_k · w_kj) · f'(net_j), over the paths through each neuron k of the layer above."""
        graph, spec = self.graph, self.spec
        neuron = graph.neurons[L][j]
        net, out = graph.net[p][L][j], graph.out[p][L][j]
        sequential = self.update == "sequential"
        weights = self.updated if sequential else self.parameters
        paths = []
        products = []
        for k, incoming in enumerate(above):
            weight = graph.weights[L + 1][k][j]
            weight_value = weights[weight.name]
            if sequential:
                weight = graph.updated(weight)
            link = Factor(incoming.wrt, out, weight, "linearity", weight_value)
            paths.append((incoming, link))
            # δ_k · w_kj unevaluated; built from its two symbols directly, as Mul(..., evaluate=False)
            # would after sympifying, checking and caching them: this runs once per weight.
            products.append(sp.Mul._from_args((incoming.expr, weight)))
        d_error = Factor(
            graph.total,
            out,
            sp.Add._from_args(products),  # as Add(*products, evaluate=False), without the cache's deep compare
            "sum_over_paths",
            dot([a.precise for a in above], [b.precise for _, b in paths]),
            tuple(paths),
        )
        layer = spec.layers[L]
        activation = ACTIVATIONS[layer.activation]
        d_out = Factor(
            out,
            net,
            activation.slope(net, out, layer.negative_slope),
            activation.rule,
            evaluate(_activation_slope(layer.activation, layer.negative_slope), self.values[net], self.values[out]),
        )
        return Delta(graph.delta[p][L][j], neuron, p, (d_error, d_out), _product((d_error, d_out)))

    def _layer_parameters(self, L: int) -> list[tuple[str, sp.Symbol, tuple[Term, ...], list[Number]]]:
        """Each weight and bias of layer L with its terms (δ's factors, then ∂net/∂θ) and their values.

        A term's value is its δ times ∂net/∂θ: ``fprod`` of the δ's factors and the link rounds
        exactly as δ's own product followed by one multiplication, so this is ``Term.precise``
        without multiplying the δ's factors again for every weight.
        """
        graph, spec = self.graph, self.spec
        values = self.values
        examples = range(len(spec.examples))
        deltas = [self.deltas[p][L] for p in examples]
        sources = [graph.layer_inputs(p, L) for p in examples]
        nets = [graph.net[p][L] for p in examples]
        found = []
        for j, row in enumerate(graph.weights[L]):
            for k, weight in enumerate(row):
                terms, products = [], []
                for p in examples:
                    delta, source = deltas[p][j], sources[p][k]
                    value = values[source]
                    link = Factor(nets[p][j], weight, source, "linearity", value)
                    terms.append(Term((*delta.factors, link), p, delta.neuron))
                    products.append(delta.precise * value)
                found.append((weight.name, weight, tuple(terms), products))
        one, one_expr = mpmath.mpf(1), sp.Integer(1)
        # a shared bias collects one term per neuron and example, ordered by example, then neuron
        neurons: dict[sp.Symbol, list[int]] = {}
        for j, bias in enumerate(graph.biases[L]):
            neurons.setdefault(bias, []).append(j)
        for bias, indices in neurons.items():
            terms, products = [], []
            for p in examples:
                for j in indices:
                    delta = deltas[p][j]
                    link = Factor(nets[p][j], bias, one_expr, "linearity", one)
                    terms.append(Term((*delta.factors, link), p, delta.neuron))
                    products.append(delta.precise)  # δ · ∂net/∂b, and ∂net/∂b = 1
            found.append((bias.name, bias, tuple(terms), products))
        return found

    def _value(self, expr: sp.Expr) -> Number:
        """A factor's value from its symbolic form, at full precision."""
        with full_precision():
            free = sorted(expr.free_symbols, key=str)
            function = compile_expr(expr, tuple(free))
            return +function(*(self.values[s] for s in free))

    # -- composed forms -------------------------------------------------------------------------

    @cached_property
    def _updated_weights(self) -> Mapping[sp.Symbol, sp.Expr]:
        """In the sequential order, each w⁺ the hidden chains use as w + β·Δw_previous − η ∂E_total/∂w.

        Built from the top layer down, so that the w⁺ of the layers above, in a lower weight's
        chain, are already written out.
        """
        if self.update != "sequential":
            return {}
        momentum = _rational(self.spec.momentum)
        previous = self.spec.previous_changes()
        weights = [(name, gradient) for name, gradient in self.gradients.items() if name.startswith("w")]
        updated: dict[sp.Symbol, sp.Expr] = {}
        for name, gradient in sorted(weights, key=lambda item: -item[1].chain[0].neuron.layer):
            # w⁺ = w + β·Δw_previous − η·∂E/∂w
            change = momentum * _rational(previous[name]) - self.spec_learning_rate * gradient.chain_expr
            updated[self.graph.updated(gradient.symbol)] = (gradient.symbol + change).xreplace(updated)
        return updated

    @cached_property
    def _delta_definitions(self) -> Mapping[sp.Symbol, sp.Expr]:
        """Each δ as the product of its factors, with the δs above it substituted (top-down)."""
        definitions: dict[sp.Symbol, sp.Expr] = {}
        updated = self._updated_weights
        for L in reversed(range(len(self.spec.layers))):
            for p in range(len(self.spec.examples)):
                for delta in self.deltas[p][L]:
                    product = sp.Mul(*(f.expr for f in delta.factors))
                    definitions[delta.symbol] = product.xreplace(updated).xreplace(definitions)
        return definitions

    @property
    def spec_learning_rate(self) -> sp.Rational:
        return _rational(self.spec.learning_rate)

    def compose(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` written in the inputs, weights, biases and targets only (λ and β as their numbers)."""
        constants = {WEIGHT_DECAY: _rational(self.spec.weight_decay), MOMENTUM: _rational(self.spec.momentum)}
        # a hidden chain holds w⁺ itself (in Σ δ·w⁺) as well as inside its δs
        composed = expr.xreplace(self._updated_weights).xreplace(self._delta_definitions)
        return composed.xreplace(self.graph.composed).xreplace(constants)

    def _repr_markdown_(self) -> str | None:
        """Jupyter shows a whole derivation as the step-by-step explanation (see :data:`DISPLAYS`)."""
        display = DISPLAYS.get("markdown")
        return display(self) if display else None


# How notebooks show a derivation.  The document layers sit above this module, so they are wired in
# from above (by :mod:`derive.app.network`, the API) rather than imported here.
DISPLAYS: dict[str, Callable[[Derivation], str]] = {}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a derivation is built.

    The build only adds objects that stay reachable, several per weight; each collection it would
    trigger walks them, and SymPy's whole heap, and finds nothing to free.  Left on, the cost per
    weight grows with the network (by a third from 1,000 to 20,000 weights); paused, it stays flat.
    The collector is restored on the way out, even on an error, and left alone if it was off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rational(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def _scaled(scale: sp.Expr, expr: sp.Expr) -> sp.Expr:
    return expr if scale == 1 else sp.Mul(scale, expr, evaluate=False)


def _product(factors: tuple[Factor, ...]) -> Number:
    with full_precision():
        return mpmath.fprod(f.precise for f in factors)
