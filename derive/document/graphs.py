"""A gradient's computation graph: every path from the parameter forward to E_total.

Backpropagation multiplies the local derivatives along each path and adds up the paths; the
graph shows the paths of the first example, each edge labelled with its local derivative.
"""

from __future__ import annotations

import sympy as sp

from derive.chain import Gradient
from derive.functions import ACTIVATIONS
from derive.numbers import Number
from derive.printing import symbol_text
from derive.steps import Steps

from .model import ComputationGraph, GraphEdge, GraphNode
from .typeset import Typesetter


class _Drawing:
    """Nodes placed by level (steps up from the parameter) and edges with their labels."""

    def __init__(self, typeset: Typesetter) -> None:
        self.typeset = typeset
        self.nodes: dict[sp.Symbol, GraphNode] = {}
        self.edges: list[GraphEdge] = []

    def node(self, symbol: sp.Symbol, level: int, x: float) -> sp.Symbol:
        if symbol not in self.nodes:
            typeset = self.typeset
            text = symbol_text(typeset.graph.names[symbol], typeset.net_label)
            self.nodes[symbol] = GraphNode(str(symbol), typeset.latex(symbol), text, level, x)
        return symbol

    def edge(self, source: sp.Symbol, target: sp.Symbol, value: Number) -> None:
        """An edge labelled ∂target/∂source = value; labels placed so that crossing edges part."""
        typeset, nodes = self.typeset, self.nodes
        of, wrt = typeset.latex(target), typeset.latex(source)
        shown = typeset.show(value)
        derivative = rf"\partial {of} / \partial {wrt}"
        label = f"{derivative} = {shown}"
        text = f"∂{nodes[target].text}/∂{nodes[source].text} = {shown}"
        start, end = nodes[source].x, nodes[target].x
        if start == end:  # vertical: the label on the outer side, leaving the middle to slanted edges
            side, position = ("left" if start < 0 else "right"), 0.5
        else:
            side, position = "right", (0.3 if end > start else 0.7)
        self.edges.append(GraphEdge(str(source), str(target), derivative, label, text, shown, side, position))


def computation_graph(steps: Steps, gradient: Gradient, typeset: Typesetter) -> ComputationGraph:
    """Every path from θ to E_total in the first example, each edge with its local derivative."""
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    p = 0
    drawing = _Drawing(typeset)
    node, edge = drawing.node, drawing.edge
    terms = [term for term in gradient.chain if term.example == p]
    first = terms[0].neuron.layer
    last = len(spec.layers) - 1
    start = node(gradient.symbol, 0, 0.0)
    column = 1
    present: dict[int, list[int]] = {}
    for L in range(first, last + 1):
        present[L] = [t.neuron.index for t in terms] if L == first else list(range(spec.layers[L].size))
        coupled = ACTIVATIONS[spec.layers[L].activation].coupled
        for position, j in enumerate(present[L]):
            centre = position - (len(present[L]) - 1) / 2
            net = node(graph.net[p][L][j], column, centre)
            if L == first:
                link = next(t for t in terms if t.neuron.index == j).factors[-1]
                edge(start, net, link.precise)
            else:
                for k in present[L - 1]:
                    edge(graph.out[p][L - 1][k], net, derivation.parameters[str(graph.weights[L][j][k])])
            if not coupled:
                out = node(graph.out[p][L][j], column + 1, centre)
                edge(net, out, derivation.deltas[p][L][j].factors[-1].precise)
        column += 1 if coupled else 2
    total = node(graph.total, column, 0.0)
    for j in present[last]:
        delta = derivation.deltas[p][last][j]
        if ACTIVATIONS[spec.layers[last].activation].coupled:
            edge(graph.net[p][last][j], total, delta.precise)
        else:
            edge(graph.out[p][last][j], total, delta.factors[0].precise)
    return ComputationGraph(list(drawing.nodes.values()), drawing.edges, 1 if graph.multi else None)
