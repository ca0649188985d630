"""The backward pass at 40 digits: every δ, every gradient, and the update of every parameter.

Backpropagation's order is kept: each neuron's δ = ∂E_total/∂net is derived once, top layer first,
and shared by every weight that needs it, so deriving all gradients costs O(number of weights).
Each parameter then moves by Δθ = β·Δθ_previous − η·∂E/∂θ, with ∂E/∂w = ∂E_total/∂w + λ·w: θ⁺ = θ + Δθ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import cache

import mpmath
import sympy as sp

from derive.core import rules
from derive.core.factors import Composer, Delta, Factor, Gradient, Term
from derive.core.forward import NET, OUT, TARGET
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.graph import Graph
from derive.core.numbers import Number, compile_expr, dot, evaluate, exact, full_precision
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.spec.model import NetworkSpec

# Each activation's and loss's slope, compiled once per process rather than once per neuron.


@cache
def _activation_slope(name: str, constant: Fraction | None) -> Callable[..., Number]:
    """∂out/∂net = f'(net, out) as a high-precision function."""
    return compile_expr(ACTIVATIONS[name].slope(NET, OUT, constant), (NET, OUT))


@cache
def _loss_slope(name: str, n_outputs: int, scale: sp.Rational) -> Callable[..., Number]:
    """∂E_total/∂out_o = scale · ∂E_o/∂out_o as a high-precision function."""
    return compile_expr(_scaled(scale, LOSSES[name].derivative(TARGET, OUT, n_outputs)), (TARGET, OUT))


_CHANGE_ARGUMENTS = (rules.GRADIENT, rules.PREVIOUS_CHANGE, rules.LEARNING_RATE, rules.MOMENTUM)


def trainable(spec: NetworkSpec, name: str) -> bool:
    """Weights always take a step; biases only when ``train_biases`` is true."""
    return name.startswith("w") or spec.train_biases


class BackwardPass:
    """δ layer by layer from the top, then the gradients and updates of the layer's parameters.

    With ``update="sequential"`` each hidden layer's δ is backpropagated through the already
    updated weights (w⁺) of the layer above it.  ``values`` gains every δ's value as it is derived.
    """

    def __init__(
        self,
        derivation: Composer,
        spec: NetworkSpec,
        graph: Graph,
        update: str,
        parameters: Mapping[str, Number],
        previous_changes: Mapping[str, Number],
        values: dict[sp.Symbol, Number],
    ) -> None:
        self.derivation = derivation  # each gradient's, which composes it when asked
        self.spec = spec
        self.graph = graph
        self.update = update
        self.parameters = parameters
        self.previous_changes = previous_changes
        self.values = values
        self.deltas: list[list[list[Delta]]] = [[[] for _ in spec.layers] for _ in spec.examples]
        self.gradients: dict[str, Gradient] = {}
        self.updated: dict[str, Number] = {}
        self.changes: dict[str, Number] = {}

    def run(self) -> None:
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
        # Δθ = β·Δθ_previous − η·g, g the gradient with weight decay's λ·w already in it (rules.change)
        change = compile_expr(rules.change(momentum=bool(momentum), decay=False), _CHANGE_ARGUMENTS)
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
            for name, symbol, terms, products in _layer_parameters(graph, spec, self.values, self.deltas, L):
                weight_decay = self._decay(symbol, decay) if decay and rules.decays(name) else None
                if weight_decay is not None:
                    products = [*products, weight_decay.precise]
                # fsum of a single term is that term: no call for it, once per weight
                total = products[0] if len(products) == 1 else mpmath.fsum(products)
                self.gradients[name] = Gradient(name, symbol, terms, total, self.derivation, weight_decay)
                if trainable(spec, name):
                    arguments = (total, self.previous_changes.get(name, zero), learning_rate, momentum)
                    self.changes[name] = change(*arguments)
                else:
                    self.changes[name] = zero  # a fixed bias
                self.updated[name] = self.parameters[name] + self.changes[name]
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
            expr, rule = _softmax_delta(graph, spec, p, j)
            factor = Factor(graph.total, net, _scaled(scale, expr), rule, _value(_scaled(scale, expr), self.values))
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


def _softmax_delta(graph: Graph, spec: NetworkSpec, p: int, j: int) -> tuple[sp.Expr, str]:
    """∂E/∂net_j through softmax: Σ_k ∂E/∂out_k · out_k (δ_kj − out_j).

    With cross-entropy this is out_j · Σ_k t_k − t_j, which is out_j − t_j when the targets
    sum to one.
    """
    outs, targets = graph.out[p][-1], graph.targets[p]
    out_j, target_j = outs[j], targets[j]
    if spec.loss == "cross_entropy":
        # one form for every example, so that all examples share one compiled step
        unit = rules.unit_targets(example.targets for example in spec.examples)
        mass = sp.Integer(1) if unit else sp.Add(*targets, evaluate=False)
        return rules.softmax_cross_entropy_delta(out_j, target_j, mass), "softmax_cross_entropy"
    loss = LOSSES[spec.loss]
    slopes = [loss.derivative(t, o, spec.n_outputs) for t, o in zip(targets, outs, strict=True)]
    mean_slope = sp.Add(*(sp.Mul(g, o, evaluate=False) for g, o in zip(slopes, outs, strict=True)), evaluate=False)
    return sp.Mul(out_j, sp.Add(slopes[j], -mean_slope, evaluate=False), evaluate=False), "softmax"


def _layer_parameters(
    graph: Graph,
    spec: NetworkSpec,
    values: Mapping[sp.Symbol, Number],
    all_deltas: list[list[list[Delta]]],
    L: int,
) -> list[tuple[str, sp.Symbol, tuple[Term, ...], list[Number]]]:
    """Each weight and bias of layer L with its terms (δ's factors, then ∂net/∂θ) and their values.

    A term's value is its δ times ∂net/∂θ: ``fprod`` of the δ's factors and the link rounds
    exactly as δ's own product followed by one multiplication, so this is ``Term.precise``
    without multiplying the δ's factors again for every weight.
    """
    examples = range(len(spec.examples))
    deltas = [all_deltas[p][L] for p in examples]
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


def _value(expr: sp.Expr, values: Mapping[sp.Symbol, Number]) -> Number:
    """A factor's value from its symbolic form, at full precision."""
    with full_precision():
        free = sorted(expr.free_symbols, key=str)
        function = compile_expr(expr, tuple(free))
        return +function(*(values[s] for s in free))


def _scaled(scale: sp.Expr, expr: sp.Expr) -> sp.Expr:
    return expr if scale == 1 else sp.Mul(scale, expr, evaluate=False)


def _product(factors: tuple[Factor, ...]) -> Number:
    with full_precision():
        return mpmath.fprod(f.precise for f in factors)
