"""What the exercise gives: the network drawn with its weights, the table of initial values."""

from __future__ import annotations

from collections.abc import Sequence

from derive.core.factors import Gradient
from derive.core.steps import Steps

from .matrix import escaped
from .model import DiagramEdge, DiagramNode, Parameter
from .typeset import Typesetter
from .unrolled import unrolled_diagram, unrolled_path


def diagram(steps: Steps, typeset: Typesetter) -> tuple[list[DiagramNode], list[DiagramEdge]]:
    """Inputs, neurons and biases placed in columns, the weights on the edges."""
    if not steps.derivation.spec.dense:
        return unrolled_diagram(steps, typeset)
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    nodes: list[DiagramNode] = []
    edges: list[DiagramEdge] = []
    parameters = derivation.parameters
    columns = [[f"i{k + 1}" for k in range(spec.n_inputs)]] + [[n.name for n in row] for row in graph.neurons]
    for k in range(spec.n_inputs):
        nodes.append(DiagramNode(f"i{k + 1}", f"i_{{{k + 1}}}", f"i{k + 1}", 0.0, _row(k, spec.n_inputs), "input"))
    for L, row in enumerate(graph.neurons):
        for j, neuron in enumerate(row):
            label = f"{escaped(spec.layers[L].name)}_{{{j + 1}}}"
            nodes.append(DiagramNode(neuron.name, label, neuron.name, L + 1.0, _row(j, len(row)), "neuron"))
            for k, weight in enumerate(graph.weights[L][j]):
                value = typeset.show(parameters[str(weight)])
                symbol = typeset.latex(weight)
                edges.append(DiagramEdge(columns[L][k], neuron.name, f"{symbol} = {value}", str(weight), value, symbol))
        for bias in dict.fromkeys(graph.biases[L]):
            bias_id = str(bias)
            value = typeset.show(parameters[bias_id])
            nodes.append(DiagramNode.bias(bias_id, value))
            for j, neuron in enumerate(row):
                if graph.biases[L][j] == bias:
                    edges.append(DiagramEdge(bias_id, neuron.name, "", bias_id, value, typeset.latex(bias)))
    return nodes, edges


def _row(index: int, count: int) -> float:
    """The height of node ``index`` in a column of ``count``, columns centred on 0."""
    return (count - 1) / 2 - index


def parameter_rows(steps: Steps, typeset: Typesetter, edges: Sequence[DiagramEdge]) -> list[Parameter]:
    """Each weight and bias: its symbol, where it connects from and to, its value."""
    rows = []
    graph = steps.derivation.graph
    for name, value in steps.derivation.parameters.items():
        mine = [edge for edge in edges if edge.weight == name]
        sources = list(dict.fromkeys(edge.source for edge in mine if not name.startswith("b")))
        targets = [edge.target for edge in mine]
        rows.append(Parameter(name, typeset.latex(graph.parameters[name]), sources, targets, typeset.show(value)))
    return rows


def path(steps: Steps, gradient: Gradient) -> list[str]:
    """The network's edges (``source>target``) and neurons on every path from θ to the outputs.

    The parameter's own edges (a weight's one, or a bias's into each neuron it feeds), then every
    edge and neuron downstream: the layers are fully connected, so each is on some path.
    """
    if not steps.derivation.spec.dense:
        return unrolled_path(steps, gradient)
    graph = steps.derivation.graph
    columns = [[f"i{k + 1}" for k in range(steps.derivation.spec.n_inputs)]]
    columns += [[neuron.name for neuron in row] for row in graph.neurons]
    first = gradient.chain[0].neuron.layer
    starts = sorted({term.neuron.index for term in gradient.chain})
    if gradient.name.startswith("w"):
        k = next(k for row in graph.weights[first] for k, weight in enumerate(row) if weight == gradient.symbol)
        found = [f"{columns[first][k]}>{columns[first + 1][j]}" for j in starts]
    else:
        found = [f"{gradient.name}>{columns[first + 1][j]}" for j in starts]
    found += [columns[first + 1][j] for j in starts]
    sources = [columns[first + 1][j] for j in starts]
    for column in columns[first + 2 :]:
        found += [f"{source}>{target}" for source in sources for target in column] + column
        sources = column
    return found
