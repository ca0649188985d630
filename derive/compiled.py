"""Training at machine speed: one step function generated once from the symbolic derivation.

The generated Python applies, in floating point, exactly the textbook expressions of the chain
(each net input's definition, each activation, each factor of each δ), so the fast path and the
symbolic derivation cannot drift apart.  Only symbol names of our own making (validated layer
names, numbered parameters) reach the source; every number is passed in as an argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from derive.chain import Derivation, Update
from derive.graph import Graph, SymbolName
from derive.spec import NetworkSpec

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


def step_source(derivation: Derivation) -> str:
    """Python source of ``step(params, examples, learning_rate) -> (loss, new_params)``."""
    spec, graph = derivation.spec, derivation.graph
    printer = _Printer(graph)
    code = printer.doprint
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
            net = identifier(graph.names[graph.net[p][L][j]])
            lines.append(f"        {net} = {code(graph.net_definition(p, L, j).doit())}")
        for j in range(spec.layers[L].size):
            out = identifier(graph.names[graph.out[p][L][j]])
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
            product = sp.Mul(*(f.expr for f in delta.factors), evaluate=False)
            lines.append(f"        {identifier(graph.names[delta.symbol])} = {code(product)}")
        for name in layer_parameters:
            # each term is δ of its neuron times ∂net/∂θ, the last factor of the chain
            terms = [term for term in derivation.gradients[name].chain if term.example == p]
            total = sp.Add(*(graph.delta[p][L][t.neuron.index] * t.factors[-1].expr for t in terms))
            lines.append(f"        g_{name} += {code(total)}")
        lines += [f"        below.append(({', '.join(deltas)},))", "    above = below"]
        carried = deltas
        if derivation.update == "sequential":
            lines += _updates(derivation, layer_parameters)
    if derivation.update == "simultaneous":
        lines += _updates(derivation, names)
    scale = derivation.graph.reduction_scale()
    lines.append(f"    return loss * {float(scale)!r}, ({', '.join(names)},)")
    return "\n".join(lines) + "\n"


def _layer_of(derivation: Derivation, name: str) -> int:
    term = derivation.gradients[name].chain[0]
    return term.neuron.layer


def _updates(derivation: Derivation, names: Sequence[str]) -> list[str]:
    return [f"    {name} = {name} - learning_rate * g_{name}" for name in names if derivation.trainable(name)]


def _round_half_up(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(value * scale + 0.5) / scale


@lru_cache(maxsize=16)
def compiled_step(spec: NetworkSpec, update: Update) -> StepFunction:
    """The step function of a network's structure, generated and compiled once."""
    source = step_source(Derivation(spec, update))
    namespace: dict[str, object] = {"math": math, "_round_half_up": _round_half_up}
    exec(compile(source, f"<derive step of {spec.name}>", "exec"), namespace)  # our own generated code
    return namespace["step"]  # type: ignore[return-value]
