"""The backward pass of an unrolled network: δ stage by stage from the top, through shared parameters.

A neuron's ∂E_total/∂out is the sum over the paths to the neurons that read it: a convolution's
neuron feeds the pooling windows it lies in, a hidden state h_t feeds the output at step t and
h_{t+1}.  On a path the link ∂net_k/∂out_j is the weight of the link (the kernel entry, U_kj),
1 into a max-pooling window's first maximum (0 elsewhere: no path), or 1/n into an average.
A shared parameter's gradient is the sum of δ · x over every link it weighs, at every position
and time step: ∂E/∂k_ab = Σ_rs δ_rs · x_{r+a, s+b}, ∂E/∂U = Σ_t δ_t h_{t−1}ᵀ.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import mpmath
import sympy as sp

from derive.core import rules
from derive.core.backward import _CHANGE_ARGUMENTS, _activation_slope, _loss_slope, _product, _scaled, trainable
from derive.core.factors import Composer, Delta, Factor, Gradient, Term
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.numbers import Number, compile_expr, evaluate, exact
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.core.unrolled import UnrolledGraph, first_maximum
from derive.spec.unroll import Stage

# The rule of a pooling link ∂net_pool/∂out: the catalog's key.
POOL_RULES = {"maxpool": "max_pool", "avgpool": "average_pool"}


class UnrolledBackward:
    """Every δ, gradient and update of an unrolled network (the fields of ``BackwardPass``)."""

    def __init__(
        self,
        derivation: Composer,
        graph: UnrolledGraph,
        parameters: Mapping[str, Number],
        previous_changes: Mapping[str, Number],
        values: dict[sp.Symbol, Number],
    ) -> None:
        self.derivation = derivation
        self.spec = graph.spec
        self.graph = graph
        self.parameters = parameters
        self.previous_changes = previous_changes
        self.values = values
        n_stages = len(graph.stages)
        self.deltas: list[list[list[Delta]]] = [[[] for _ in range(n_stages)] for _ in self.spec.examples]
        self.gradients: dict[str, Gradient] = {}
        self.updated: dict[str, Number] = {}
        self.changes: dict[str, Number] = {}
        self.readers = readers(graph)
        self.target_of = {place: m for m, place in enumerate(graph.outputs)}

    def run(self) -> None:
        """δ from the last stage down, then every parameter's gradient and update."""
        graph = self.graph
        for L in reversed(range(len(graph.stages))):
            for p in range(len(self.spec.examples)):
                row = [self._delta(p, L, j) for j in range(len(graph.stages[L].units))]
                self.deltas[p][L].extend(row)
                self.values.update((delta.symbol, delta.precise) for delta in row)
        self._gradients()

    def _delta(self, p: int, L: int, j: int) -> Delta:
        graph = self.graph
        stage = graph.stages[L]
        net, out = graph.net[p][L][j], graph.out[p][L][j]
        slope_factor = activation_factor(stage, net, out, self.values)
        if (L, j) in self.target_of and ACTIVATIONS[stage.activation].coupled:
            return self._softmax_delta(p, L, j)
        if (L, j) in self.target_of and (L, j) not in self.readers:
            m = self.target_of[(L, j)]
            factors = (loss_factor(graph, self.values, p, m, graph.total), slope_factor)
        else:  # a hidden neuron, or an output that the next step reads too (h_t of a recurrent output layer)
            factors = (self._paths(p, L, j), slope_factor)
        return Delta(graph.delta[p][L][j], graph.neurons[L][j], p, factors, _product(factors))

    def _paths(self, p: int, L: int, j: int) -> Factor:
        """∂E_total/∂out_j = Σ over the neurons k that read out_j of δ_k · ∂net_k/∂out_j.

        An output that the next step reads too (h_t of a recurrent output layer, with a target at
        every step) has one path more, first: through its own error, ∂E_total/∂E_j · ∂E_j/∂out_j.
        That is the textbook's δ_t = f′(net_t) ⊙ (∂E_t/∂h_t + Uᵀ δ_(t+1)).
        """
        graph = self.graph
        out = graph.out[p][L][j]
        paths, products, values = [], [], []
        rule = "sum_over_paths"
        if (L, j) in self.target_of:  # ∂E_total/∂E_o (1, or the mean's 1/n) · ∂E_o/∂out_o
            m = self.target_of[(L, j)]
            scale = graph.reduction_scale()
            rule = "mean" if scale != 1 else "sum"
            share = Factor(graph.total, graph.errors[p][m], scale, rule, exact(Fraction(int(scale.p), int(scale.q))))
            d_error = loss_factor(graph, self.values, p, m, graph.errors[p][m])
            paths.append((share, d_error))
            products.append(_scaled(share.expr, d_error.expr))
            values.append(share.precise * d_error.precise)
            rule = "error_and_paths"
        for K, k, n in self.readers.get((L, j), []):
            link = self._link(p, K, k, n, out)
            if link is None:
                continue  # not the window's maximum: ∂net_k/∂out_j = 0, no path
            delta = self.deltas[p][K][k]
            incoming = Factor(graph.total, graph.net[p][K][k], delta.symbol, "delta", delta.precise)
            paths.append((incoming, link))
            products.append(sp.Mul(delta.symbol, link.expr, evaluate=False))
            values.append(delta.precise * link.precise)
        expr = sp.Add._from_args(tuple(products)) if len(products) > 1 else products[0] if products else sp.Integer(0)
        value = mpmath.fsum(values) if values else mpmath.mpf(0)
        return Factor(graph.total, out, expr, rule, value, tuple(paths))

    def _link(self, p: int, K: int, k: int, n: int, out: sp.Symbol) -> Factor | None:
        """∂net_k/∂out_j for link n of neuron k of stage K: its weight, 1 (the maximum), 1/n (the mean), or None (0)."""
        graph = self.graph
        stage = graph.stages[K]
        net = graph.net[p][K][k]
        unit = stage.units[k]
        if stage.kind == "maxpool":
            window = [self.values[graph.source(p, link.source)] for link in unit.links]
            if first_maximum(window) != n:
                return None
            return Factor(net, out, sp.Integer(1), POOL_RULES[stage.kind], mpmath.mpf(1))
        if stage.kind == "avgpool":
            share = sp.Rational(1, len(unit.links))
            return Factor(net, out, share, POOL_RULES[stage.kind], exact(share))
        weight = graph.link_weight(K, k, n)
        assert weight is not None
        return Factor(net, out, weight, "linearity", self.parameters[weight.name])

    def _softmax_delta(self, p: int, L: int, j: int) -> Delta:
        graph, spec = self.graph, self.spec
        outs = graph.out[p][L]
        targets = [graph.targets[p][self.target_of[(L, k)]] for k in range(len(outs))]
        scale = graph.reduction_scale()
        if spec.loss == "cross_entropy":
            unit = rules.unit_targets(example.targets for example in spec.examples)
            mass = sp.Integer(1) if unit else sp.Add(*targets, evaluate=False)
            expr, rule = rules.softmax_cross_entropy_delta(outs[j], targets[j], mass), "softmax_cross_entropy"
        else:
            loss = LOSSES[spec.loss]
            slopes = [loss.derivative(t, o, spec.n_outputs) for t, o in zip(targets, outs, strict=True)]
            mean = sp.Add(*(sp.Mul(g, o, evaluate=False) for g, o in zip(slopes, outs, strict=True)), evaluate=False)
            expr, rule = sp.Mul(outs[j], sp.Add(slopes[j], -mean, evaluate=False), evaluate=False), "softmax"
        expr = _scaled(scale, expr)
        free = sorted(expr.free_symbols, key=str)
        value = +compile_expr(expr, tuple(free))(*(self.values[s] for s in free))
        factor = Factor(graph.total, graph.net[p][L][j], expr, rule, value)
        return Delta(graph.delta[p][L][j], graph.neurons[L][j], p, (factor,), value)

    # -- gradients and updates ----------------------------------------------------------------

    def _gradients(self) -> None:
        spec = self.spec
        learning_rate, momentum = exact(spec.learning_rate), exact(spec.momentum)
        decay = exact(spec.weight_decay)
        zero = mpmath.mpf(0)
        change = compile_expr(rules.change(momentum=bool(momentum), decay=False), _CHANGE_ARGUMENTS)
        for symbol, pairs in parameter_terms(self.graph, self.deltas, self.values).items():
            name = symbol.name
            terms = tuple(term for term, _ in pairs)
            products = [value for _, value in pairs]
            weight_decay = None
            if decay and rules.decays(name):
                expr = sp.Mul._from_args((WEIGHT_DECAY, symbol))
                weight_decay = Factor(self.graph.penalty, symbol, expr, "weight_decay", decay * self.parameters[name])
                products.append(weight_decay.precise)
            total = mpmath.fsum(products) if products else zero
            self.gradients[name] = Gradient(name, symbol, terms, total, self.derivation, weight_decay)
            if trainable(spec, name):
                self.changes[name] = change(total, self.previous_changes.get(name, zero), learning_rate, momentum)
            else:
                self.changes[name] = zero
            self.updated[name] = self.parameters[name] + self.changes[name]


def readers(graph: UnrolledGraph) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """Who reads each neuron's output: (stage, neuron) → [(stage, neuron, link)]."""
    found: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for L, stage in enumerate(graph.stages):
        for k, unit in enumerate(stage.units):
            for n, link in enumerate(unit.links):
                if link.source[0] >= 0:
                    found.setdefault(link.source, []).append((L, k, n))
    return found


def activation_factor(stage: Stage, net: sp.Symbol, out: sp.Symbol, values: Mapping[sp.Symbol, Number]) -> Factor:
    """∂out/∂net = f′(net), by the activation's rule."""
    activation = ACTIVATIONS[stage.activation]
    slope = _activation_slope(stage.activation, stage.negative_slope)  # type: ignore[arg-type]
    expr = activation.slope(net, out, stage.negative_slope)  # type: ignore[arg-type]
    return Factor(out, net, expr, activation.rule, evaluate(slope, values[net], values[out]))


def loss_factor(graph: UnrolledGraph, values: Mapping[sp.Symbol, Number], p: int, m: int, of: sp.Symbol) -> Factor:
    """∂of/∂out of target m's output: ∂E_o/∂out_o, the loss's derivative; as ∂E_total/∂out_o, times the mean's 1/n."""
    spec = graph.spec
    (stage, j), target = graph.outputs[m], graph.targets[p][m]
    out = graph.out[p][stage][j]
    scale = graph.reduction_scale() if of == graph.total else sp.Integer(1)
    d_error = _scaled(scale, LOSSES[spec.loss].derivative(target, out, spec.n_outputs))
    value = evaluate(_loss_slope(spec.loss, spec.n_outputs, scale), values[target], values[out])
    return Factor(of, out, d_error, LOSSES[spec.loss].rule, value)


def parameter_terms(
    graph: UnrolledGraph, deltas: list[list[list[Delta]]], values: Mapping[sp.Symbol, Number]
) -> dict[sp.Symbol, list[tuple[Term, Number]]]:
    """Every parameter's terms, example by example, stage by stage, position by position."""
    found: dict[sp.Symbol, list[tuple[Term, Number]]] = {s: [] for s in graph.flat_weights + graph.flat_biases}
    one = mpmath.mpf(1)
    for p in range(len(graph.spec.examples)):
        for L, stage in enumerate(graph.stages):
            for j, unit in enumerate(stage.units):
                delta = deltas[p][L][j]
                net = graph.net[p][L][j]
                for link in unit.links:
                    if link.weight is None:
                        continue
                    weight = graph.flat_weights[link.weight]
                    source = graph.source(p, link.source)
                    value = values[source]
                    factor = Factor(net, weight, source, "linearity", value)
                    found[weight].append((Term((*delta.factors, factor), p, delta.neuron), delta.precise * value))
                bias = graph.bias(L, j)
                if bias is not None:
                    factor = Factor(net, bias, sp.Integer(1), "linearity", one)
                    found[bias].append((Term((*delta.factors, factor), p, delta.neuron), delta.precise))
    return found
