"""The diagram of an unrolled network: every input, every neuron of every stage, every link.

A convolution's kernel entry labels each link it weighs, a recurrent weight each step's link: the
drawing shows the sharing.  A pooling link carries no parameter and no label.
"""

from __future__ import annotations

import sympy as sp

from derive.core.factors import Gradient
from derive.core.numbers import format_number
from derive.core.steps import Steps
from derive.spec.model import LayerSpec, NetworkSpec
from derive.spec.unroll import INITIAL, INPUT, input_names, kernel_weight, parameter_starts

from .matrix import escaped
from .model import DiagramEdge, DiagramNode, FeatureMap
from .typeset import Typesetter


def _source_id(graph: object, source: tuple[int, int]) -> str:
    stage, index = source
    if stage == INPUT:
        return f"i{input_names(graph.spec)[index]}"  # type: ignore[attr-defined]
    if stage == INITIAL:
        return graph.initial[index]  # type: ignore[attr-defined]
    return graph.neurons[stage][index].name  # type: ignore[attr-defined]


def unrolled_diagram(steps: Steps, typeset: Typesetter) -> tuple[list[DiagramNode], list[DiagramEdge]]:
    """Inputs (and h_0) in the first column, each stage in a column of its own, the links between."""
    derivation = steps.derivation
    graph = derivation.graph
    parameters = derivation.parameters
    names = input_names(derivation.spec)
    first = [f"i{name}" for name in names] + list(getattr(graph, "initial", []))
    tallest = max(
        [len(first)] + [len(row) + _maps(graph.stages[L], len(row)) - 1 for L, row in enumerate(graph.neurons)]
    )
    nodes = [
        DiagramNode(
            node,
            rf"i_{{{escaped(node[1:])}}}" if node.startswith("i") else _neuron_label(node),  # h1,0: h_0's entry
            node,
            *_input_place(derivation.spec, k, first, graph),
            "input",
        )
        for k, node in enumerate(first)
    ]
    edges: list[DiagramEdge] = []
    biases: set[str] = set()
    maps_drawn = derivation.spec.steps is None
    for L, row in enumerate(graph.neurons):
        shape = graph.stages[L].shape
        per_map = shape[1] * shape[2] if shape is not None else len(row)
        maps = len(row) // per_map
        for j, neuron in enumerate(row):
            # a map's first position carries the kernel's and the pooling's labels, its last the bias's (written
            # below it); the other positions share them.  A free row between maps keeps each map together.
            first, last = j % per_map == 0, j % per_map == per_map - 1
            labelled = shape is None or first
            label = _neuron_label(neuron.name)
            # a layer of a few neurons beside tall maps spreads out, two rows apart, where there is room
            spread = 2.0 if shape is None and maps_drawn and 2 * len(row) <= tallest else 1.0
            y = spread * _row(j + j // per_map, len(row) + maps - 1)
            nodes.append(DiagramNode(neuron.name, label, neuron.name, L + 1.0, y, "neuron"))
            for k, link in enumerate(graph.stages[L].units[j].links):
                weight = graph.link_weight(L, j, k)
                source = _source_id(graph, link.source)
                if weight is None:  # a pooling window's value: labelled by the pooling, no parameter
                    count = len(graph.stages[L].units[j].links)
                    # a large window's pooling is said once, on its first link
                    said = first and (count <= _LABELLED_WINDOW or k == 0)
                    label = r"\max" if graph.stages[L].kind == "maxpool" else rf"\tfrac{{1}}{{{count}}}"
                    text = "max" if graph.stages[L].kind == "maxpool" else f"1/{count}"
                    edges.append(DiagramEdge(source, neuron.name, label, text, "", "", labelled=said))
                    continue
                value = typeset.show(parameters[weight.name])
                symbol = typeset.latex(weight)
                edge = DiagramEdge(
                    source, neuron.name, f"{symbol} = {value}", weight.name, value, symbol, labelled=labelled
                )
                if derivation.spec.steps is not None and link.source[0] == INPUT:
                    # a step's input fans out to its neurons from one point: each label further along, apart
                    edge.position = round(0.26 + 0.1 * j, 2)
                edges.append(edge)
            bias = graph.bias(L, j)
            if bias is None:
                continue
            value = typeset.show(parameters[bias.name])
            if bias.name not in biases:
                biases.add(bias.name)
                nodes.append(DiagramNode.bias(bias.name, value))
            written = shape is None or last
            edges.append(
                DiagramEdge(bias.name, neuron.name, "", bias.name, value, typeset.latex(bias), labelled=written)
            )
    return nodes, edges


def _neuron_label(name: str) -> str:
    """A neuron's name as its circle shows it, c1,23 or h1,0: no space after the comma ({,}), so that it fits."""
    return rf"\mathrm{{{escaped(name).replace(',', '{,}')}}}"


_LABELLED_WINDOW = 4  # a pooling window up to 2×2 has each of its links labelled (max, 1/4)


def _maps(stage: object, units: int) -> int:
    """How many maps a stage's neurons form (1 for a layer of neurons)."""
    shape = stage.shape  # type: ignore[attr-defined]
    return units // (shape[1] * shape[2]) if shape is not None else 1


def _input_place(spec: NetworkSpec, k: int, first: list[str], graph: object) -> tuple[float, float]:
    """Where the k-th input is drawn: a layer's inputs in the first column; a sequence's input of step t
    above step t's neurons, just after the column before theirs, so that its links reach them without
    crossing the others."""
    if spec.steps is None:
        return 0.0, _row(k, len(first))
    inputs = spec.steps * spec.n_inputs
    if k >= inputs:  # an initial state h_0, before the first step
        return 0.0, _row(k - inputs, len(first) - inputs)
    step, entry = divmod(k, spec.n_inputs)
    top = (len(graph.neurons[0]) - 1) / 2  # type: ignore[attr-defined]
    # step t's first stage L is drawn in column L + 1: its inputs just after column L
    return _first_stage(graph, step + 1) + _STEP_INPUT_X, top + 1.0 + (spec.n_inputs - 1 - entry)


_STEP_INPUT_X = 0.3  # a step's input sits this far (in columns) after the column before its step


def _first_stage(graph: object, step: int) -> int:
    """The index of the first layer's stage at ``step`` (counted from 1); with a target at every step, the
    later layers' stages of the steps before come between."""
    stages = graph.stages  # type: ignore[attr-defined]
    return next(L for L, stage in enumerate(stages) if stage.layer == 0 and stage.step == step)


def _row(index: int, count: int) -> float:
    return (count - 1) / 2 - index


def unrolled_path(steps: Steps, gradient: Gradient) -> list[str]:
    """The edges (``source>target``) and neurons on every path from θ to the errors: its own links, then downstream."""
    graph = steps.derivation.graph
    found: list[str] = []
    frontier = []
    for L, stage in enumerate(graph.stages):
        for j, unit in enumerate(stage.units):
            neuron = graph.neurons[L][j].name
            for k, link in enumerate(unit.links):
                weight = graph.link_weight(L, j, k)
                if weight is not None and weight.name == gradient.name:
                    found.append(f"{_source_id(graph, link.source)}>{neuron}")
                    frontier.append((L, j))
            bias = graph.bias(L, j)
            if bias is not None and bias.name == gradient.name:
                found.append(f"{gradient.name}>{neuron}")
                frontier.append((L, j))
    seen = set()
    while frontier:
        L, j = frontier.pop()
        if (L, j) in seen:
            continue
        seen.add((L, j))
        found.append(graph.neurons[L][j].name)
        for M, stage in enumerate(graph.stages):
            for k, unit in enumerate(stage.units):
                if any(link.source == (L, j) for link in unit.links):
                    found.append(f"{graph.neurons[L][j].name}>{graph.neurons[M][k].name}")
                    frontier.append((M, k))
    return list(dict.fromkeys(found))


def feature_maps(steps: Steps, typeset: Typesetter) -> list[FeatureMap]:
    """The input channels, then each conv2d or pooling stage's maps and δ maps, as matrices (example 1)."""
    derivation = steps.derivation
    spec, graph = derivation.spec, derivation.graph
    first = spec.layers[0]
    if spec.steps is not None:
        return _through_time(steps, typeset)
    if spec.dense or first.in_shape is None:
        return []
    channels, rows, columns = first.in_shape
    found = []
    for c in range(channels):
        symbols = graph.inputs[0][c * rows * columns : (c + 1) * rows * columns]
        label = rf"\mathbf{{i}}_{{{c + 1}}}" if channels > 1 else r"\mathbf{i}"
        found.append(FeatureMap(label, _matrix([derivation.values[s] for s in symbols], columns, typeset)))
    for L, stage in enumerate(graph.stages):
        if stage.shape is None:
            continue
        maps, rows, columns = stage.shape
        name = escaped(spec.layers[stage.layer].name)
        for m in range(maps):
            part = slice(m * rows * columns, (m + 1) * rows * columns)
            for kind, table in ((r"\mathrm{out}", graph.out), (r"\delta", graph.delta)):
                values = [derivation.values[s] for s in table[0][L][part]]
                found.append(FeatureMap(f"{kind}_{{{name}{m + 1}}}", _matrix(values, columns, typeset)))
    return found


def _matrix(values: list, columns: int, typeset: Typesetter) -> str:  # type: ignore[type-arg]
    return _bmatrix([typeset.show(v) for v in values], columns)


def _bmatrix(cells: list[str], columns: int) -> str:
    """LaTeX cells, row by row, as a bmatrix of ``columns`` columns."""
    rows = [cells[r : r + columns] for r in range(0, len(cells), columns)]
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def _through_time(steps: Steps, typeset: Typesetter) -> list[FeatureMap]:
    """A recurrent layer's h_t and δ_t at every step, as column vectors (example 1)."""
    derivation = steps.derivation
    graph = derivation.graph
    found = []
    for L, stage in enumerate(graph.stages):
        if stage.kind != "recurrent":
            continue
        for kind, table in ((r"\mathbf{h}", graph.out), (r"\boldsymbol{\delta}", graph.delta)):
            values = [derivation.values[s] for s in table[0][L]]
            found.append(FeatureMap(f"{kind}_{{{stage.step}}}", _matrix(values, 1, typeset)))
    return found


def layer_rows(spec: NetworkSpec, graph: object) -> list[dict[str, object]]:
    """The layers' table: each layer once, with what it does (``layer_kinds`` key and its numbers).

    A dense network's rows are its layers; a convolution states its kernel, stride and padding, a
    pooling layer its window and stride (and whether the windows overlap), a recurrent layer its
    neurons and the steps it runs over, once, not one row per step.
    """
    if spec.dense:
        return [
            {"name": layer.name, "activation": layer.activation, "size": str(layer.size), "kind": "dense", "fields": {}}
            for layer in graph.layers  # type: ignore[attr-defined]
        ]
    return [_layer_row(layer, spec.steps) for layer in spec.layers]


def stage_rows(spec: NetworkSpec, graph: object) -> list[dict[str, str]]:
    """The rows the working goes through: the layers, or an unrolled network's stages (h,1 … h,3).

    A recurrent layer's stage is headed by its time step (``heading`` "time_step"), not as a layer of its own;
    so is a later layer's with a target at every step (o,1 is the output layer at step 1, not a hidden layer).
    """
    rows = []
    layers = graph.layers  # type: ignore[attr-defined]
    stages = getattr(graph, "stages", (None,) * len(layers))
    for layer, stage in zip(layers, stages, strict=True):
        row = {"name": layer.name, "activation": layer.activation, "size": str(layer.size)}
        row |= {"heading": "", "step": "", "layer": layer.name}
        if stage is not None and (stage.kind == "recurrent" or spec.every_step):
            heading = _step_heading(stage.kind, stage.layer == len(spec.layers) - 1)
            row |= {"heading": heading, "step": str(stage.step), "layer": spec.layers[stage.layer].name}
        rows.append(row)
    return rows


def _step_heading(kind: str, output: bool) -> str:
    """The catalog's heading of a layer at one time step: the recurrent layer's, an output's or a hidden one's."""
    return "time_step" if kind == "recurrent" else "time_step_output" if output else "time_step_hidden"


def _layer_row(layer: LayerSpec, steps: int | None) -> dict[str, object]:
    kind, fields = layer.kind, {}
    if layer.window is not None:
        window = "×".join(map(str, layer.window))
        fields = {"window": window, "stride": str(layer.stride), "padding": str(layer.padding)}
        if kind != "conv2d" and layer.stride < max(layer.window):
            kind += "_overlapping"  # a window moved less than its width: neighbouring windows share values
    elif kind == "recurrent":
        fields = {"steps": str(steps)}
    # a layer's neurons: every position of all its maps, or a dense or recurrent layer's size (once, not
    # at every step)
    return {
        "name": layer.name,
        "activation": layer.activation,
        "size": str(layer.units),
        "kind": kind,
        "fields": fields,
    }


def forward_sentences(spec: NetworkSpec, graph: object) -> list[tuple[str, dict[str, str]]]:
    """The catalog sentences that open the forward pass: how it goes, what the names mean, h_0.

    A map's neuron is named by its map, row and column (c1,23); a recurrent neuron and an input by
    their number and time step (h1,2, i_{1,2}).  The names quoted are the network's own.
    """
    neurons = graph.neurons  # type: ignore[attr-defined]
    first = spec.layers[0]
    if first.in_shape is not None:
        channels, rows, columns = first.in_shape
        r, s = min(2, rows), min(3, columns)
        _, map_rows, map_columns = first.out_shape or first.in_shape
        a, b = min(2, map_rows), min(3, map_columns)
        names = {
            "pixel": f"i_{{{input_names(spec)[(r - 1) * columns + s - 1]}}}",
            "pixel_row": str(r),
            "pixel_column": str(s),
            "neuron": escaped(neurons[0][(a - 1) * map_columns + b - 1].name),
            "row": str(a),
            "column": str(b),
            "layer": rf"$\mathrm{{{escaped(first.name)}}}$",  # in math: a name may hold an underscore
        }
        return [("forward_intro", {}), ("names_maps_channels" if channels > 1 else "names_maps", names)]
    if spec.steps is None:
        return [("forward_intro", {})]
    step = min(2, spec.steps)
    stage = _first_stage(graph, step)
    names = {
        "neuron": escaped(neurons[stage][0].name),
        "input": f"i_{{{input_names(spec)[spec.n_inputs * (step - 1)]}}}",
        "step": str(step),
        "layer": rf"$\mathrm{{{escaped(first.name)}}}$",
    }
    return [("forward_intro_steps", {"steps": str(spec.steps)}), ("names_steps", names), _initial_state(first)]


def _initial_state(layer: LayerSpec) -> tuple[str, dict[str, str]]:
    """h_0: the file's initial_state, or zeros (then step 1 has no recurrent term)."""
    values = layer.initial_state or (0,) * layer.size
    name = escaped(layer.name)
    state = ", ".join(
        rf"$\mathrm{{out}}_{{{name}{k + 1},0}} = {format_number(float(v), 12)}$" for k, v in enumerate(values)
    )
    key = "initial_state_given" if layer.initial_state is not None else "initial_state_zero"
    return key, {"state": state}


def parameter_matrices(steps: Steps, typeset: Typesetter) -> list[FeatureMap]:
    """The numbered parameters arranged as the matrices of the maps and of the recursion: each kernel K, or
    a recurrent layer's W, U and b and the next layer's V and b, each with its symbols and its values."""
    derivation = steps.derivation
    spec = derivation.spec
    if spec.steps is not None:
        return _recurrent_parameters(steps, typeset)
    if spec.dense:  # no kernel
        return []
    weight_start, _ = parameter_starts(spec)
    weights = derivation.graph.flat_weights
    found = []
    for L, layer in enumerate(spec.layers):
        if layer.kind != "conv2d":
            continue
        assert layer.in_shape is not None and layer.window is not None  # a convolution's, set by the checks
        channels, (rows, columns) = layer.in_shape[0], layer.window
        for f in range(layer.size):
            for c in range(channels):
                kernel = [weights[kernel_weight(layer, weight_start[L], f, c, k)] for k in range(rows * columns)]
                place = f"{escaped(layer.name)}{f + 1}" + (f",{c + 1}" if channels > 1 else "")
                found.append(_parameters(f"K_{{{place}}}", kernel, columns, steps, typeset))
    return found


def _parameters(label: str, symbols: list[sp.Symbol], columns: int, steps: Steps, typeset: Typesetter) -> FeatureMap:
    """A matrix of parameters by name, then by value: K = [w1 w2; w3 w4] = [0.1 0.2; …]."""
    values = [steps.derivation.parameters[symbol.name] for symbol in symbols]
    named = _bmatrix([typeset.latex(symbol) for symbol in symbols], columns)
    return FeatureMap(label, f"{named} = {_matrix(values, columns, typeset)}")


def _recurrent_parameters(steps: Steps, typeset: Typesetter) -> list[FeatureMap]:
    """W (row j: neuron j's weights on x_t), U (on h_{t−1}), b, read off the last step's links; V and b of the
    layer that reads h_t, off its links from that step."""
    derivation = steps.derivation
    graph, spec = derivation.graph, derivation.spec
    last = max(L for L, stage in enumerate(graph.stages) if stage.kind == "recurrent")
    n_in, n_hidden = spec.layers[0].fan_in, spec.layers[0].size
    inputs: list[sp.Symbol | None] = [None] * (n_hidden * n_in)
    recurrent: list[sp.Symbol | None] = [None] * (n_hidden * n_hidden)
    for j, unit in enumerate(graph.stages[last].units):
        for k, link in enumerate(unit.links):
            stage, index = link.source
            if stage == INPUT:  # x_t's inputs are numbered step after step
                inputs[j * n_in + index % n_in] = graph.link_weight(last, j, k)
            else:
                recurrent[j * n_hidden + index] = graph.link_weight(last, j, k)
    name = escaped(spec.layers[0].name)
    found = [_parameters("W", inputs, n_in, steps, typeset)]
    if None not in recurrent:  # one step and no h_0: U is never used
        found.append(_parameters("U", recurrent, n_hidden, steps, typeset))
    found += _biases(name, last, steps, typeset)
    after = last + 1
    if after < len(graph.stages) and graph.stages[after].layer == 1:
        units = graph.stages[after].units
        output = [graph.link_weight(after, j, k) for j, unit in enumerate(units) for k in range(len(unit.links))]
        found.append(_parameters("V", output, n_hidden, steps, typeset))
        found += _biases(escaped(spec.layers[1].name), after, steps, typeset)
    return found


def _biases(name: str, L: int, steps: Steps, typeset: Typesetter) -> list[FeatureMap]:
    """A stage's biases as a column, b_name (none when its layer has no bias)."""
    graph = steps.derivation.graph
    biases = [graph.bias(L, j) for j in range(len(graph.stages[L].units))]
    if None in biases:
        return []
    return [_parameters(rf"\mathbf{{b}}_{{{name}}}", biases, 1, steps, typeset)]


def introduction(spec: NetworkSpec) -> list[tuple[str, dict[str, str]]]:
    """The catalog sentences that introduce the network, with their numbers: what kind of network it is.

    A fully connected network is feed-forward: its inputs, then one layer (of one neuron or several), or a
    hidden layer and an output layer (of one neuron or several), or its shape when deeper or when a count
    is 1; a convolutional one has maps
    (channels×rows×columns) from layer to layer; a recurrent one reads a sequence, step by step.
    """
    first = spec.layers[0]
    if first.in_shape is not None:
        shapes = [first.in_shape, *(layer.out_shape or (layer.size,) for layer in spec.layers)]
        shape = " → ".join("×".join(str(n) for n in (s[1:] if len(s) == 3 and s[0] == 1 else s)) for s in shapes)
        return [("network_intro_maps", {"shape": shape})]
    if spec.steps is not None:
        shape = " → ".join(str(layer.size) for layer in spec.layers)
        numbers = {"steps": str(spec.steps), "inputs": str(spec.n_inputs), "shape": shape}
        targets = "network_targets_every_step" if spec.every_step else "network_targets_last_step"
        intro = "network_intro_recurrent_alone" if len(spec.layers) == 1 else "network_intro_recurrent"
        return [(intro, numbers), (targets, {})]
    inputs, sizes = spec.n_inputs, [layer.units for layer in spec.layers]
    # the sentences count inputs and hidden neurons in the plural: a 1 there is said by the shape instead
    if inputs > 1 and len(sizes) == 1:
        key = "network_intro_single_neuron" if sizes[0] == 1 else "network_intro_single"
        return [(key, {"inputs": str(inputs), "outputs": str(sizes[0])})]
    if inputs > 1 and len(sizes) == 2 and sizes[0] > 1:
        numbers = {"inputs": str(inputs), "hidden": str(sizes[0]), "outputs": str(sizes[1])}
        return [("network_intro_one_output" if sizes[1] == 1 else "network_intro", numbers)]
    return [("network_intro_deep", {"shape": " → ".join(map(str, [inputs, *sizes]))})]
