"""A gradient's computation graph: every path from the parameter forward to E_total.

Backpropagation multiplies the local derivatives along each path and adds up the paths; the
graph shows the paths of the first example, each edge labelled with its local derivative in
symbols (the values come as the working derives them).
"""

from __future__ import annotations

from collections import Counter

import sympy as sp

from derive.core.factors import Gradient
from derive.core.functions import ACTIVATIONS
from derive.core.printing import symbol_text
from derive.core.steps import Steps

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

    def edge(self, source: sp.Symbol, target: sp.Symbol) -> None:
        """An edge labelled with its local derivative ∂target/∂source, in symbols: no value before it is derived."""
        typeset, nodes = self.typeset, self.nodes
        derivative = typeset.inline(target, source)
        text = f"∂{nodes[target].text}/∂{nodes[source].text}"
        # the label on the outer side of its branch (x grows downwards on the page), clear of the others
        side = "below" if nodes[target].x + nodes[source].x > 0 else "above"
        self.edges.append(GraphEdge(str(source), str(target), derivative, text, side))


def computation_graph(steps: Steps, gradient: Gradient, typeset: Typesetter) -> ComputationGraph:
    """Every path from θ to E_total in the first example, each edge with its local derivative."""
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    p = 0
    drawing = _Drawing(typeset)
    node, edge = drawing.node, drawing.edge
    terms = [term for term in gradient.chain if term.example == p]
    if not spec.dense:
        return _term_graph(drawing, gradient, terms, graph.multi)
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
                edge(start, net)
            else:
                for k in present[L - 1]:
                    edge(graph.out[p][L - 1][k], net)
            if not coupled:
                edge(net, node(graph.out[p][L][j], column + 1, centre))
        column += 1 if coupled else 2
    total = node(graph.total, column, 0.0)
    for j in present[last]:
        coupled = ACTIVATIONS[spec.layers[last].activation].coupled
        edge(graph.net[p][last][j] if coupled else graph.out[p][last][j], total)
    example = 1 if graph.multi else None
    _part_crossing_labels(drawing.edges)
    return ComputationGraph(list(drawing.nodes.values()), drawing.edges, example, column + 1)


def _term_graph(drawing: _Drawing, gradient: Gradient, terms: list, multi: bool) -> ComputationGraph:  # type: ignore[type-arg]
    """An unrolled network's graph: each term's path θ → net → out → E_total, one row per position or step.

    Drawing every neuron a shared parameter reaches would fill a page; each term's own path is
    what its chain multiplies (the sum over the paths above a neuron is its δ's first factor).
    """
    start = drawing.node(gradient.symbol, 0, 0.0)
    total = None
    shown = terms[:4]  # at most four rows: the sum's other terms are alike
    for row, term in enumerate(shown):
        centre = row - (len(shown) - 1) / 2
        previous = start
        for column, factor in enumerate(reversed(term.factors), start=1):
            if factor.of == term.factors[0].of:  # E_total: one node for every row
                total = total or drawing.node(factor.of, len(term.factors), 0.0)
                drawing.edge(previous, total)
                break
            current = drawing.node(factor.of, column, centre)
            drawing.edge(previous, current)
            previous = current
    return ComputationGraph(
        list(drawing.nodes.values()), drawing.edges, 1 if multi else None, 1 + max(len(t.factors) for t in shown)
    )


def _part_crossing_labels(edges: list[GraphEdge]) -> None:
    """Where every path fans out and in again (a shared bias's graph), edges cross midway: their
    labels go near where each edge starts, so that they do not meet at the crossing."""
    into = Counter(edge.target for edge in edges)
    out_of = Counter(edge.source for edge in edges)
    for edge in edges:
        if into[edge.target] > 1 and out_of[edge.source] > 1:
            edge.position = 0.25
