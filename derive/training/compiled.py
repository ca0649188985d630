"""Training at machine speed: one step function generated once from the symbolic derivation.

The generated Python applies, in floating point, exactly the textbook expressions of the chain
(each net input's definition, each activation, each factor of each δ), so the fast path and the
symbolic derivation cannot drift apart.  Only symbol names of our own making (validated layer
names, numbered parameters) reach the source; every value of the network and its data is passed
in as an argument, and the only numbers written in are the constants SymPy prints from exact
numbers in the definitions (a mean's 1/n, ½ of the squared error, leaky ReLU's slope).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from derive.core.chain import Derivation, Update
from derive.core.factors import Delta
from derive.core.functions import ACTIVATIONS
from derive.core.graph import Graph, SymbolName
from derive.core.rules import (
    DECAY,
    GRADIENT,
    LEARNING_RATE,
    MOMENTUM,
    PARAMETER,
    PREVIOUS_CHANGE,
    change,
    decays,
    python,
    rounded,
    unit_targets,
)
from derive.core.safe_forms import exp_minus_one, log_one_plus_exp, softplus, whole
from derive.spec.model import NetworkSpec

# The largest x whose e^x a float holds; math.exp raises OverflowError beyond it.
EXP_LIMIT = math.log(sys.float_info.max)

Examples = Sequence[tuple[Sequence[float], Sequence[float]]]
Parameters = tuple[float, ...]
# step(params, velocity, examples, learning_rate, momentum, decay) -> (loss, params, velocity)
StepFunction = Callable[
    [Parameters, Parameters | None, Examples, float, float, float], tuple[float, Parameters, Parameters | None]
]
# loss(params, examples) -> the examples' errors summed (before any reduction)
LossFunction = Callable[[Parameters, Examples], float]


def identifier(name: SymbolName) -> str:
    """The Python variable of a symbol: ``net_h1``, ``delta_o1``, ``w5`` (w5⁺ reuses w5)."""
    joiner = "" if name.kind in ("i", "w", "b") else "_"
    return f"{name.kind}{joiner}{name.subscript}"


class _Printer(PythonCodePrinter):
    def __init__(self, graph: Graph) -> None:
        super().__init__({"fully_qualified_modules": True})
        self.graph = graph

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return identifier(self.graph.names[expr])

    def _print_exp(self, expr: sp.exp) -> str:
        """e^x, infinite past a float's range: σ(−800) = 1/(1 + e^800) is then 0, as it is to 40 digits."""
        x = self._print(expr.args[0])
        return f"(math.exp({x}) if {x} < {EXP_LIMIT!r} else math.inf)"

    def _print_log(self, expr: sp.log) -> str:
        """log(1 + e^x) in the form that never overflows (:func:`.safe_forms.softplus`); log(x) otherwise."""
        if (exponent := log_one_plus_exp(expr)) is not None:
            x = whole(self._print(exponent), exponent)
            return softplus(
                x, "math.exp", "math.log1p", lambda test, then, otherwise: f"({then} if {test} else {otherwise})"
            )
        return super()._print_log(expr)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        """e^x − 1 = expm1(x), which keeps a small x's digits (infinite past a float's range, as e^x is)."""
        if (exponent := exp_minus_one(expr)) is not None:
            x = whole(self._print(exponent), exponent)
            return f"(math.expm1({x}) if {x} < {EXP_LIMIT!r} else math.inf)"
        return super()._print_Add(expr, order)


def step_source(derivation: Derivation) -> str:
    """Python source of ``step(params, velocity, examples, learning_rate, momentum, decay)``.

    It returns ``(loss, new_params, new_velocity)``: E_total of ``params`` on ``examples`` (the
    forward pass the gradients come from) and the parameters after one update.  With momentum,
    each parameter's Δθ = momentum·Δθ_previous − learning_rate·g and ``velocity`` carries the Δθ
    (in and out); without, it passes through untouched.  With weight decay each weight's gradient
    g gains decay·w.  Whether momentum and decay appear at all is the derivation's spec's: the
    numbers themselves are arguments.

    SymPy prints what is written once per neuron (activations, their slopes, the output layer's
    δ).  What is written once per weight (the sums Σ w·x + b and Σ δ·w, each gradient's δ·x) is
    written here directly, in the order SymPy would print it (see :func:`_sum_source`): SymPy's
    printer made the whole source take ten times as long at 5,000 weights.
    """
    spec, graph = derivation.spec, derivation.graph
    printer = _Printer(graph)
    code = printer.doprint
    var = _namer(graph, code)
    names = spec.parameter_names()
    momentum = bool(spec.momentum)
    p = 0  # every example shares the first one's expressions
    n_layers = len(spec.layers)
    state = _state(derivation)
    lines = ["def step(params, velocity, examples, learning_rate, momentum, decay):"]
    if momentum:
        lines.append(f"    ({', '.join(f'v_{name}' for name in names)},) = velocity")
    lines += _forward_lines(derivation, var, code, keep_states=True)

    carried: list[str] = []
    for L in reversed(range(n_layers)):
        layer_parameters = [name for name in names if _layer_of(derivation, name) == L]
        deltas = [identifier(graph.names[graph.delta[p][L][j]]) for j in range(spec.layers[L].size)]
        lines += [f"    g_{name} = 0.0" for name in layer_parameters]
        lines.append("    below = []")
        if carried:
            lines.append(f"    for ({', '.join(state)},), ({', '.join(carried)},) in zip(states, above):")
        else:
            lines.append(f"    for ({', '.join(state)},) in states:")
        for delta in derivation.deltas[p][L]:
            lines.append(f"        {var(delta.symbol)} = {_delta_source(delta, var, code)}")
        for parameter in layer_parameters:
            # each term is δ of its neuron times ∂net/∂θ, the last factor of the chain
            terms = [term for term in derivation.gradients[parameter].chain if term.example == p]
            products = [_product(graph.delta[p][L][term.neuron.index], term.factors[-1].expr) for term in terms]
            lines.append(f"        g_{parameter} += {_sum_source(products, var)}")
        lines += [f"        below.append(({', '.join(deltas)},))", "    above = below"]
        carried = deltas
        if derivation.update == "sequential":
            lines += _updates(derivation, layer_parameters)
    if derivation.update == "simultaneous":
        lines += _updates(derivation, names)
    scale = derivation.graph.reduction_scale()
    velocity = f"({', '.join(f'v_{name}' for name in names)},)" if momentum else "velocity"
    lines.append(f"    return loss * {float(scale)!r}, ({', '.join(names)},), {velocity}")
    return "\n".join(lines) + "\n"


def loss_source(derivation: Derivation) -> str:
    """Python source of ``loss(params, examples)``: the examples' errors summed, a forward pass only."""
    code = _Printer(derivation.graph).doprint
    lines = ["def loss(params, examples):", *_forward_lines(derivation, _namer(derivation.graph, code), code)]
    return "\n".join([*lines, "    return loss"]) + "\n"


def _state(derivation: Derivation) -> list[str]:
    """The variables one example's forward pass leaves: inputs, targets, every net input and output."""
    graph, p = derivation.graph, 0
    state = [identifier(graph.names[s]) for s in graph.inputs[p] + graph.targets[p]]
    for L in range(len(derivation.spec.layers)):
        state.extend(identifier(graph.names[s]) for s in graph.net[p][L] + graph.out[p][L])
    return state


def _forward_lines(
    derivation: Derivation, var: Callable[[sp.Expr], str], code: Callable[[sp.Expr], str], *, keep_states: bool = False
) -> list[str]:
    """Unpack the parameters, then each example through every layer, adding up its error."""
    spec, graph = derivation.spec, derivation.graph
    p, n_layers = 0, len(spec.layers)
    state = _state(derivation)
    lines = [
        f"    ({', '.join(spec.parameter_names())},) = params",
        "    loss = 0.0",
        *(["    states = []"] if keep_states else []),
        "    for inputs, targets in examples:",
        f"        ({', '.join(state[: spec.n_inputs])},) = inputs",
        f"        ({', '.join(state[spec.n_inputs : spec.n_inputs + spec.n_outputs])},) = targets",
    ]
    for L in range(n_layers):
        for j in range(spec.layers[L].size):
            # net_j = Σ_k w_jk · x_k + b_j · 1, graph.net_definition once evaluated
            products = [(w, x) for w, x in zip(graph.weights[L][j], graph.layer_inputs(p, L), strict=True)]
            total = _sum_source([*products, (graph.biases[L][j],)], var)
            lines.append(f"        {var(graph.net[p][L][j])} = {total}")
        coupled = ACTIVATIONS[spec.layers[L].activation].coupled
        if coupled:
            # softmax shifted by the largest net input, as the 40-digit path does: e^800 overflows a float
            outs = ", ".join(identifier(graph.names[out]) for out in graph.out[p][L])
            nets = ", ".join(var(net) for net in graph.net[p][L])
            lines.append(f"        ({outs},) = _softmax(({nets},))")
        for j in range(spec.layers[L].size):
            out = identifier(graph.names[graph.out[p][L][j]])
            if not coupled:
                lines.append(f"        {out} = {code(graph.out_definition(p, L, j))}")
            if spec.round_activations is not None and n_layers - 1 > L:
                lines.append(f"        {out} = {code(rounded(graph.out[p][L][j], spec.round_activations))}")
    errors = " + ".join(f"({code(graph.error_definition(p, j))})" for j in range(spec.n_outputs))
    lines.append(f"        loss += {errors}")
    if keep_states:
        lines.append(f"        states.append(({', '.join(state)},))")
    return lines


def _namer(graph: Graph, code: Callable[[sp.Expr], str]) -> Callable[[sp.Expr], str]:
    """The Python of a symbol (its variable) or of any other expression (SymPy's printing)."""

    def name(expr: sp.Expr) -> str:
        symbol = graph.names.get(expr) if isinstance(expr, sp.Symbol) else None
        return identifier(symbol) if symbol is not None else f"({code(expr)})"

    return name


def _sum_source(products: Sequence[Sequence[sp.Symbol]], name: Callable[[sp.Expr], str]) -> str:
    """A sum of products of distinct symbols, written as SymPy's code printer writes it.

    The printer puts each product's symbols in the order of their names, and the products in the
    order of their first names.  Keeping that order keeps every floating-point sum, and so every
    trained value, what it was when SymPy printed these lines.
    """
    ordered = sorted((sorted(product, key=_name) for product in products), key=lambda product: product[0].name)
    return " + ".join("*".join(name(symbol) for symbol in product) for product in ordered)


def _name(symbol: sp.Symbol) -> str:
    return symbol.name


def _product(delta: sp.Symbol, link: sp.Expr) -> tuple[sp.Symbol, ...]:
    """δ · ∂net/∂θ as its symbols: ∂net/∂w is an input or an output of the layer below, ∂net/∂b is 1."""
    return (delta,) if link == 1 else (delta, link)


def _delta_source(delta: Delta, name: Callable[[sp.Expr], str], code: Callable[[sp.Expr], str]) -> str:
    """δ as the product of its factors; a hidden δ's sum over paths is written out path by path."""
    first, *rest = delta.factors
    if first.rule == "sum_over_paths" and first.paths and len(rest) == 1:
        # two factors: their order does not change the product, only the sum's order matters
        paths = _sum_source([(incoming.expr, link.expr) for incoming, link in first.paths], name)
        return f"({paths})*({code(rest[0].expr)})"
    return code(sp.Mul(*(factor.expr for factor in delta.factors), evaluate=False))


def _layer_of(derivation: Derivation, name: str) -> int:
    term = derivation.gradients[name].chain[0]
    return term.neuron.layer


# The update rule's symbols as the generated step names them, θ, g and Δθ as format fields.
_UPDATE_NAMES = {
    PARAMETER: "{theta}",
    GRADIENT: "g_{theta}",
    PREVIOUS_CHANGE: "v_{theta}",
    LEARNING_RATE: "learning_rate",
    MOMENTUM: "momentum",
    DECAY: "decay",
}


def _updates(derivation: Derivation, names: Sequence[str]) -> list[str]:
    """θ ← θ + Δθ with Δθ = β·Δθ_previous − η·(g + λ·θ) (:func:`derive.core.rules.change`), printed once
    per kind of parameter and filled in for each; with momentum Δθ is kept for the next update."""
    spec = derivation.spec
    momentum = bool(spec.momentum)
    forms = {
        decay: python(change(momentum=momentum, decay=decay), _UPDATE_NAMES)
        for decay in {False, bool(spec.weight_decay)}
    }
    lines = []
    for name in names:
        if not derivation.trainable(name):
            continue
        form = forms[bool(spec.weight_decay) and decays(name)].format(theta=name)
        if momentum:
            lines += [f"    v_{name} = {form}", f"    {name} = {name} + v_{name}"]
        else:
            lines.append(f"    {name} = {name} + ({form})")
    return lines


def _softmax(nets: tuple[float, ...]) -> tuple[float, ...]:
    """out_j = e^{net_j − m} / Σ_k e^{net_k − m} with m the largest net input: softmax, without overflow."""
    top = max(nets)
    exps = [math.exp(net - top) for net in nets]
    total = math.fsum(exps)
    return tuple(e / total for e in exps)


@dataclass(frozen=True)
class Compiled:
    """The generated functions of one network structure: an update's step, and the loss alone."""

    step: StepFunction
    loss: LossFunction


def compiled(spec: NetworkSpec, update: Update) -> Compiled:
    """The functions of an update on all of ``spec``'s examples, generated once per structure.

    Networks that differ only in their numbers share them: every number is an argument.
    """
    key = (structure(spec), update)
    found = _COMPILED.get(key)
    if found is None:
        derivation = Derivation(spec, update)
        namespace: dict[str, object] = {"math": math, "_softmax": _softmax}
        source = step_source(derivation) + "\n\n" + loss_source(derivation)
        exec(compile(source, f"<derive step of {spec.name}>", "exec"), namespace)  # our own generated code
        found = Compiled(namespace["step"], namespace["loss"])  # type: ignore[arg-type]
        if len(_COMPILED) >= _CACHE_SIZE:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = found
    return found


_CACHE_SIZE = 16
_COMPILED: dict[tuple[Hashable, Update], Compiled] = {}


def clear_cache() -> None:
    """Forget every generated function (the benchmarks time the first call)."""
    _COMPILED.clear()


def structure(spec: NetworkSpec, *, examples: bool = True) -> Hashable:
    """What the generated code depends on: the shape and kinds, never the values.

    Softmax with cross-entropy writes δ = out − t when every example's targets add up to one,
    so that also counts; so does whether momentum and weight decay are used at all, and (unless
    ``examples`` is false, for code that takes any number of them) how many examples there are.
    """
    layers = tuple(
        (layer.activation, layer.size, layer.fan_in, layer.shared_bias, layer.negative_slope) for layer in spec.layers
    )
    return (
        layers,
        spec.loss,
        spec.reduction,
        len(spec.examples) if examples else None,
        unit_targets(example.targets for example in spec.examples),
        spec.train_biases,
        spec.round_activations,
        bool(spec.momentum),
        bool(spec.weight_decay),
    )


def generation_spec(spec: NetworkSpec, size: int) -> NetworkSpec:
    """A spec of ``size`` of the examples to generate a batch's step from (the numbers are arguments).

    Softmax with cross-entropy writes δ = out − t only when every example's targets add up to
    one; if some do not, the batch it is generated from holds one of those, so that every batch
    gets the general form.
    """
    indices = list(range(len(spec.examples)))
    odd = [p for p in indices if not unit_targets([spec.examples[p].targets])]
    if odd:
        indices.remove(odd[0])
        indices.insert(0, odd[0])
    return spec.on_batch(indices[:size])


class FloatTraining:
    """A network's parameters as plain floats, trained by the generated step of each batch size."""

    def __init__(self, spec: NetworkSpec, update: Update) -> None:
        self.spec = spec
        self.order = update
        self.params: Parameters = spec.float_parameters
        self.changes: Parameters | None = (
            tuple(float(value) for value in spec.previous_changes().values()) if spec.momentum else None
        )
        self.examples = [([float(x) for x in e.inputs], [float(t) for t in e.targets]) for e in spec.examples]
        self.constants = (float(spec.learning_rate), float(spec.momentum), float(spec.weight_decay))
        self.scale = 1 / len(spec.examples) if spec.reduction == "mean" else 1.0
        self._functions: dict[int, Compiled] = {}

    def _compiled(self, size: int) -> Compiled:
        """The functions for a batch of this size (the last batch of an epoch may be smaller)."""
        found = self._functions.get(size)
        if found is None:
            found = self._functions[size] = compiled(generation_spec(self.spec, size), self.order)
        return found

    def steps(self, count: int, history: list[float], goal: float) -> int:
        """Up to ``count`` updates on all the examples, E_total before each into ``history``; stops at the goal."""
        step = self._compiled(len(self.examples)).step
        params, changes, examples, constants = self.params, self.changes, self.examples, self.constants
        done = 0
        try:
            for _ in range(count):
                loss, new_params, new_changes = step(params, changes, examples, *constants)
                history.append(loss)
                if loss <= goal:
                    break  # reached before this update: keep the parameters it would change
                params, changes = new_params, new_changes
                done += 1
        finally:
            self.params, self.changes = params, changes
        return done

    def update(self, indices: tuple[int, ...]) -> None:
        """One update on these examples."""
        data = [self.examples[i] for i in indices]
        _, self.params, self.changes = self._compiled(len(data)).step(self.params, self.changes, data, *self.constants)

    def loss(self) -> float:
        """E_total over all the examples."""
        return self._compiled(len(self.examples)).loss(self.params, self.examples) * self.scale

    def parameters(self) -> Parameters:
        return self.params

    def finite(self) -> bool:
        """Whether every parameter is still a finite number."""
        return all(map(math.isfinite, self.params))

    def velocity(self) -> Parameters | None:
        return self.changes
