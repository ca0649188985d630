"""Training at machine speed: one step function generated once from the symbolic derivation.

The generated Python applies, in floating point, exactly the textbook expressions of the chain
(each net input's definition, each activation, each factor of each δ), so the fast path and the
symbolic derivation cannot drift apart.  Only symbol names of our own making (validated layer
names, numbered parameters) reach the source; every number is passed in as an argument.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from derive.chain import Delta, Derivation, Update
from derive.functions import ACTIVATIONS
from derive.graph import Graph, SymbolName
from derive.spec import NetworkSpec

# The largest x whose e^x a float holds; math.exp raises OverflowError beyond it.
EXP_LIMIT = math.log(sys.float_info.max)

StepFunction = Callable[
    [Sequence[float], Sequence[tuple[Sequence[float], Sequence[float]]], float], tuple[float, tuple[float, ...]]
]


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


def step_source(derivation: Derivation) -> str:
    """Python source of ``step(params, examples, learning_rate) -> (loss, new_params)``.

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
    p = 0  # every example shares the first one's expressions
    n_layers = len(spec.layers)
    state = [identifier(graph.names[s]) for s in graph.inputs[p] + graph.targets[p]]
    lines = [
        "def step(params, examples, learning_rate):",
        f"    ({', '.join(names)},) = params",
        "    loss = 0.0",
        "    states = []",
        "    for inputs, targets in examples:",
        f"        ({', '.join(state[: spec.n_inputs])},) = inputs",
        f"        ({', '.join(state[spec.n_inputs :])},) = targets",
    ]
    for L in range(n_layers):
        for j in range(spec.layers[L].size):
            # net_j = Σ_k w_jk · x_k + b_j · 1, graph.net_definition once evaluated
            products = [(w, x) for w, x in zip(graph.weights[L][j], graph.layer_inputs(p, L), strict=True)]
            total = _sum_source([*products, (graph.biases[L][j],)], var)
            lines.append(f"        {var(graph.net[p][L][j])} = {total}")
        if ACTIVATIONS[spec.layers[L].activation].coupled:
            # softmax shifted by the largest net input, as the 40-digit path does: e^800 overflows a float
            outs = ", ".join(identifier(graph.names[out]) for out in graph.out[p][L])
            nets = ", ".join(var(net) for net in graph.net[p][L])
            lines.append(f"        ({outs},) = _softmax(({nets},))")
        for j in range(spec.layers[L].size):
            out = identifier(graph.names[graph.out[p][L][j]])
            if not ACTIVATIONS[spec.layers[L].activation].coupled:
                lines.append(f"        {out} = {code(graph.out_definition(p, L, j))}")
            if spec.round_activations is not None and n_layers - 1 > L:
                lines.append(f"        {out} = _round_half_up({out}, {spec.round_activations})")
        state.extend(identifier(graph.names[s]) for s in graph.net[p][L] + graph.out[p][L])
    errors = " + ".join(f"({code(graph.error_definition(p, j))})" for j in range(spec.n_outputs))
    lines += [f"        loss += {errors}", f"        states.append(({', '.join(state)},))"]

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
            pairs = [(graph.delta[p][L][term.neuron.index], term.factors[-1].expr) for term in terms]
            products = _products(pairs)
            if products is None:  # some ∂net/∂θ is not a plain symbol: SymPy prints the sum
                total = code(sp.Add(*(delta * link for delta, link in pairs)))
            else:
                total = _sum_source(products, var)
            lines.append(f"        g_{parameter} += {total}")
        lines += [f"        below.append(({', '.join(deltas)},))", "    above = below"]
        carried = deltas
        if derivation.update == "sequential":
            lines += _updates(derivation, layer_parameters)
    if derivation.update == "simultaneous":
        lines += _updates(derivation, names)
    scale = derivation.graph.reduction_scale()
    lines.append(f"    return loss * {float(scale)!r}, ({', '.join(names)},)")
    return "\n".join(lines) + "\n"


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


def _products(pairs: Sequence[tuple[sp.Symbol, sp.Expr]]) -> list[tuple[sp.Symbol, ...]] | None:
    """Each δ · ∂net/∂θ as its symbols (a bias's ∂net/∂b is 1, and δ · 1 is δ), if all are symbols."""
    products: list[tuple[sp.Symbol, ...]] = []
    for delta, link in pairs:
        if link == 1:
            products.append((delta,))
        elif isinstance(link, sp.Symbol):
            products.append((delta, link))
        else:
            return None
    return products


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


def _updates(derivation: Derivation, names: Sequence[str]) -> list[str]:
    return [f"    {name} = {name} - learning_rate * g_{name}" for name in names if derivation.trainable(name)]


def _softmax(nets: tuple[float, ...]) -> tuple[float, ...]:
    """out_j = e^{net_j − m} / Σ_k e^{net_k − m} with m the largest net input: softmax, without overflow."""
    top = max(nets)
    exps = [math.exp(net - top) for net in nets]
    total = math.fsum(exps)
    return tuple(e / total for e in exps)


def _round_half_up(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(value * scale + 0.5) / scale


@lru_cache(maxsize=16)
def compiled_step(spec: NetworkSpec, update: Update) -> StepFunction:
    """The step function of a network's structure, generated and compiled once."""
    source = step_source(Derivation(spec, update))
    namespace: dict[str, object] = {"math": math, "_round_half_up": _round_half_up, "_softmax": _softmax}
    exec(compile(source, f"<derive step of {spec.name}>", "exec"), namespace)  # our own generated code
    return namespace["step"]  # type: ignore[return-value]
