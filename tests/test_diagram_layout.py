"""The network drawing of the LaTeX documents, read back from its TikZ coordinates: no edge runs through a
neuron it does not join, and no label (a weight's on its edge, a bias's under its neuron) covers a neuron,
another label, or (a bias's) an edge.

The geometry is TikZ's own: a node's centre at (x·xscale, y·yscale) cm, a circle of 9 mm, an edge from
rim to rim, a weight's label at ``pos`` along it and sloped above it, a bias's label ``yshift`` below its
neuron.  A label's box is sized from its characters (\\scriptsize: 0.12 cm a character, 0.26 cm high),
near enough to tell a label clear of a neuron from one on it.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import run_derive

RADIUS = 0.45  # cm: minimum size=9mm
CHARACTER, HEIGHT = 0.12, 0.26  # cm: a \scriptsize label's character and height, inner sep included

Point = tuple[float, float]
Box = list[Point]


def picture(tex: str) -> str:
    """The network's tikzpicture: the first that styles neurons."""
    start = tex.index(r"\begin{tikzpicture}[x=")
    assert "neuron/.style" in tex[start : start + 800]
    return tex[start : tex.index(r"\end{tikzpicture}", start)]


def shown(latex: str) -> str:
    """The characters a label prints: w_{1} = 0.5 → w1 = 0.5."""
    return re.sub(r"\\[a-z]+|[{}_$^]", "", latex.replace("{,}", ","))


def box(centre: Point, angle: float, width: float, height: float) -> Box:
    (x, y), c, s = centre, math.cos(angle), math.sin(angle)
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
    return [(x + a * c - b * s, y + a * s + b * c) for a, b in corners]


def to_segment(point: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = point, a, b
    length = (bx - ax) ** 2 + (by - ay) ** 2
    t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length)) if length else 0.0
    return math.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay))


def separated(first: Box, second: Box) -> bool:
    """Two convex polygons (a segment is one of two corners) are apart if an edge's normal separates them."""
    for shape in (first, second):
        for (ax, ay), (bx, by) in zip(shape, shape[1:] + shape[:1], strict=True):
            normal = (ay - by, bx - ax)
            if normal == (0, 0):
                continue
            one = [normal[0] * x + normal[1] * y for x, y in first]
            two = [normal[0] * x + normal[1] * y for x, y in second]
            if max(one) <= min(two) or max(two) <= min(one):
                return True
    return False


def covers_circle(shape: Box, centre: Point) -> bool:
    """A label's box reaches into a neuron's circle: the centre inside it, or a side nearer than the radius."""
    inside = not separated(shape, [centre, centre])
    sides = zip(shape, shape[1:] + shape[:1], strict=True)
    return inside or min(to_segment(centre, a, b) for a, b in sides) < RADIUS


def layout(name: str, folder: Path) -> dict:
    run_derive("worksheet", name, "-o", str(folder))
    tikz = picture((folder / "solutions.tex").read_text(encoding="utf-8"))
    x_scale, y_scale = (float(v) for v in re.search(r"x=([\d.]+)cm, y=([\d.]+)cm", tikz).groups())
    nodes = {
        node: (float(x) * x_scale, float(y) * y_scale)
        for node, x, y in re.findall(r"\\node\[(?:input|neuron)[^\]]*\] \(([^)]+)\) at \(([-\d.]+), ([-\d.]+)\)", tikz)
    }
    names = re.findall(r"\\node\[(?:input|neuron)[^\]]*\] \([^)]+\) at \([^)]+\) \{\$(.+?)\$\};", tikz)
    edges, labels, along_edges = [], {}, {}
    for source, pos, text, target in re.findall(
        r"\\draw\[[^\]]*\] \(([^)]+)\) -- (?:node\[weight, pos=([\d.]+)\] \{\$(.+?)\$\} )?\(([^)]+)\);", tikz
    ):
        if source not in nodes:
            continue  # a bias's arrow, from its label
        a, b = nodes[source], nodes[target]
        length = math.dist(a, b)
        ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
        start, end = (a[0] + ux * RADIUS, a[1] + uy * RADIUS), (b[0] - ux * RADIUS, b[1] - uy * RADIUS)
        edges.append((source, target, start, end))
        if pos:
            along = along_edges[f"{source}>{target}"] = float(pos)
            at = (start[0] + (end[0] - start[0]) * along, start[1] + (end[1] - start[1]) * along)
            if ux < 0:  # sloped text stays upright: "above" is then on the other side
                ux, uy = -ux, -uy
            centre = (at[0] - uy * HEIGHT / 2, at[1] + ux * HEIGHT / 2)
            labels[f"{source}>{target}"] = box(centre, math.atan2(uy, ux), CHARACTER * len(shown(text)), HEIGHT)
    biases = {}
    for label, drop, target, text in re.findall(
        r"\\node\[bias\] \(([^)]+)\) at \(\[yshift=-([\d.]+)mm\]([^)]+)\) \{\$(.+?)\$\};", tikz
    ):
        x, y = nodes[target]
        biases[label] = (target, box((x, y - float(drop) / 10), 0.0, CHARACTER * len(shown(text)), HEIGHT))
    return {"nodes": nodes, "names": names, "edges": edges, "labels": labels, "biases": biases, "along": along_edges}


@pytest.fixture(scope="module", params=["rnn", "cnn", "mazur"])
def drawing(request, tmp_path_factory):
    return request.param, layout(request.param, tmp_path_factory.mktemp(f"layout-{request.param}"))


def test_no_edge_runs_through_a_neuron_it_does_not_join(drawing):
    name, found = drawing
    for source, target, start, end in found["edges"]:
        for node, centre in found["nodes"].items():
            if node not in (source, target):
                assert to_segment(centre, start, end) >= RADIUS, f"{name}: {source} → {target} runs through {node}"


def test_each_weight_is_written_along_its_own_edge_between_its_neurons(drawing):
    """TikZ's ``pos`` runs from the edge's source (0) to its target (1): a label outside that would sit
    past a neuron, beside another edge's arrow."""
    name, found = drawing
    assert found["along"], f"{name}: no weight is written on the drawing"
    outside = {edge: along for edge, along in found["along"].items() if not 0.1 <= along <= 0.9}
    assert outside == {}, f"{name}: these labels are not along their edges"


def test_no_label_covers_a_neuron_or_another_label(drawing):
    name, found = drawing
    labels = dict(found["labels"]) | {label: shape for label, (_, shape) in found["biases"].items()}
    assert found["labels"] and found["biases"]
    for label, shape in labels.items():
        for node, centre in found["nodes"].items():
            assert not covers_circle(shape, centre), f"{name}: the label of {label} covers {node}"
    for first, second in itertools.combinations(labels, 2):
        assert separated(labels[first], labels[second]), f"{name}: the labels of {first} and {second} overlap"


def test_no_edge_crosses_a_bias_label(drawing):
    name, found = drawing
    for label, (_, shape) in found["biases"].items():
        for source, target, start, end in found["edges"]:
            assert separated(shape, [start, end]), f"{name}: {source} → {target} crosses {label}"


def test_a_neuron_name_has_no_space_after_its_comma(drawing):
    """A comma in math mode is followed by a thin space, which pushes c1,11 over its circle: {,} is not."""
    name, found = drawing
    assert found["names"]
    for label in found["names"]:
        if not label.startswith(r"\mathrm"):
            continue  # an input's i_{1,3}: a subscript's comma adds no space
        assert "," not in label.replace("{,}", ""), f"{name}: {label} spaces its comma"


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("cnn", [f"{row}{column}" for row in range(1, 5) for column in range(1, 5)]),  # the 4×4 image
        ("rnn", ["1,1", "1,2", "1,3"]),  # one input at each of three steps
    ],
)
def test_each_input_is_drawn_under_its_own_name(name, inputs, tmp_path):
    """The first column holds the inputs, each labelled i with its position (i_{23}: row 2, column 3;
    i_{1,2}: input 1 at step 2), in the order of the file."""
    run_derive("worksheet", name, "-o", str(tmp_path))
    tikz = picture((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    drawn = re.findall(r"\\node\[input\] \(([^)]+)\) at \([^)]+\) \{\$(.+?)\$\};", tikz)
    assert [label for _, label in drawn] == [f"i_{{{position}}}" for position in inputs]
    assert [node for node, _ in drawn] == [f"i{position.replace(',', '-')}" for position in inputs]


def cnn_with_dense_layer(neurons: int, filters: int = 1) -> dict:
    """The built-in cnn with ``filters`` kernels (each a 3×3 map, pooled to 2×2) and a sigmoid layer d of
    ``neurons`` neurons between its pooling and its output."""
    network = tomllib.loads(run_derive("example", "cnn").stdout)
    conv, pool, output = network["layers"]
    kernel = conv["kernels"][0]
    conv["kernels"] = [[[w * (f + 1) for w in row] for row in kernel] for f in range(filters)]
    conv["bias"] = conv["bias"] * filters
    inputs = 4 * filters  # each filter's 2×2 pooled map
    weights = [[0.1 * ((i + j) % 5) - 0.2 for j in range(inputs)] for i in range(neurons)]
    middle = {"name": "d", "activation": "sigmoid", "weights": weights, "bias": 0.1}
    network["layers"] = [conv, pool, middle, {**output, "weights": [[0.1 * (j % 3) for j in range(neurons)]]}]
    return network


def rows_drawn(network: Path, folder: Path) -> dict[str, list[float]]:
    """Each column's nodes' heights in the solutions' drawing, in rows (TikZ's y before its scale), by the
    column's x."""
    run_derive("worksheet", str(network), "--only", "w1", "-o", str(folder))
    tikz = picture((folder / "solutions.tex").read_text(encoding="utf-8"))
    columns: dict[str, list[float]] = {}
    for x, y in re.findall(r"\\node\[(?:input|neuron)\] \([^)]+\) at \(([-\d.]+), ([-\d.]+)\)", tikz):
        columns.setdefault(x, []).append(float(y))
    return columns


@pytest.mark.parametrize(
    ("filters", "neurons", "apart"),
    [
        (1, 2, 2.0),
        (1, 8, 2.0),  # 15 rows, within the 16 inputs'
        (1, 9, 1.0),  # 17 would not fit
        (2, 9, 2.0),  # beside two 3×3 maps and the free row between them, 19 rows: 17 fit
        (2, 10, 1.0),  # 19 would make the layer as tall as the maps' column, and no taller is allowed
    ],
)
def test_a_short_layer_beside_tall_maps_is_spread_two_rows_apart_where_it_fits(filters, neurons, apart, tmp_path):
    """Every column is centred on the same line, none taller than the tallest of the 16 inputs and the maps'
    column (9 rows a map, a free row between maps); a dense layer beside them spreads its neurons two rows
    apart when twice its neurons fit in that height, and keeps them one row apart when they do not."""
    import json

    (tmp_path / "network.json").write_text(json.dumps(cnn_with_dense_layer(neurons, filters)), encoding="utf-8")
    columns = rows_drawn(tmp_path / "network.json", tmp_path)
    tallest = max(16, 9 * filters + filters - 1)
    for x, rows in columns.items():
        assert max(rows) + min(rows) == 0, f"column {x} is not centred"
        assert max(rows) - min(rows) <= tallest - 1, f"column {x} is taller than the tallest column"
    layer = columns["3.0"]
    assert len(layer) == neurons
    assert {round(a - b, 6) for a, b in itertools.pairwise(layer)} == {apart}


def test_two_maps_keep_a_free_row_between_them_and_a_recurrent_layer_is_not_spread(tmp_path):
    """Two filters' 3×3 maps: each map's nine positions in nine rows in a row, a free row, the next map;
    their 1×1 average-pooled maps one free row apart. An rnn's columns have no maps: one row apart."""
    import tests.test_conv as conv
    import tests.test_recurrent as recurrent

    columns = rows_drawn(conv.two_filters_avgpool().write(tmp_path, "cnn"), tmp_path / "cnn")
    conv_rows, pool_rows = columns["1.0"], columns["2.0"]
    assert [round(a - b, 6) for a, b in itertools.pairwise(conv_rows)] == [1.0] * 8 + [2.0] + [1.0] * 8
    assert pool_rows == [1.0, -1.0]
    columns = rows_drawn(recurrent.every_step().write(tmp_path, "rnn"), tmp_path / "rnn")
    for x in ("1.0", "2.0"):  # the recurrent layer's three neurons and the output's two at step 1
        assert {round(a - b, 6) for a, b in itertools.pairwise(columns[x])} == {1.0}, x


def drawn_labels(name: str | Path, folder: Path) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """The solutions' drawing of a built-in network: each labelled link's label by (source, target), and
    each bias label with the neuron it is written under."""
    run_derive("worksheet", str(name), "-o", str(folder))
    tikz = picture((folder / "solutions.tex").read_text(encoding="utf-8"))
    links = re.findall(r"\\draw\[->\] \(([^)]+)\) -- node\[weight, pos=[\d.]+\] \{\$(.+?)\$\} \(([^)]+)\);", tikz)
    biases = re.findall(r"\\node\[bias\] \([^)]+\) at \(\[yshift=-\d+mm\]([^)]+)\) \{\$(.+?)\$\};", tikz)
    return {(source, target): label for source, label, target in links}, set(biases)


def test_the_cnn_drawing_writes_each_parameter_of_the_file_on_its_own_link(tmp_path):
    """The kernel's entries on the links of the first position's window (w1…w4 row by row, from i_(1+a)(1+b)
    to c1,11), max on each link of the first pooling window, the dense weights w5…w8 from the pooled map
    row by row to o1; the filter's bias under the map's last position, the output's under o1. The values
    are the file's, read here with tomllib."""
    network = tomllib.loads(run_derive("example", "cnn").stdout)
    (kernel,), weights = network["layers"][0]["kernels"], network["layers"][2]["weights"][0]
    expected = {
        (f"i{a + 1}{b + 1}", "c1-11"): f"w_{{{2 * a + b + 1}}} = {kernel[a][b]:g}" for a in range(2) for b in range(2)
    }
    expected |= {(f"c1-{a + 1}{b + 1}", "p1-11"): r"\max" for a in range(2) for b in range(2)}
    expected |= {(f"p1-{m // 2 + 1}{m % 2 + 1}", "o1"): f"w_{{{5 + m}}} = {w:g}" for m, w in enumerate(weights)}
    links, biases = drawn_labels("cnn", tmp_path)
    assert links == expected
    bias, output_bias = network["layers"][0]["bias"][0], network["layers"][2]["bias"][0]
    assert biases == {("c1-33", f"b_{{1}} = {bias:g}"), ("o1", f"b_{{2}} = {output_bias:g}")}


def test_the_rnn_drawing_writes_each_parameter_of_the_file_at_every_step(tmp_path):
    """W on each step's input link, U (w3…w6 row by row) on each link from the step before, V on the links
    to the output after the last step; each neuron's bias under it at every step."""
    network = tomllib.loads(run_derive("example", "rnn").stdout)
    recurrent, output = network["layers"]
    steps, size = len(network["examples"][0]["inputs"]), len(recurrent["weights"])
    expected = {}
    for t in range(1, steps + 1):
        for j in range(size):
            expected[(f"i1-{t}", f"h{j + 1}-{t}")] = f"w_{{{j + 1}}} = {recurrent['weights'][j][0]:g}"
            for k in range(size if t > 1 else 0):  # h_0 = 0: no recurrent link into the first step
                number = size + size * j + k + 1
                expected[(f"h{k + 1}-{t - 1}", f"h{j + 1}-{t}")] = (
                    f"w_{{{number}}} = {recurrent['recurrent_weights'][j][k]:g}"
                )
    for k, w in enumerate(output["weights"][0]):
        expected[(f"h{k + 1}-{steps}", "o1")] = f"w_{{{size + size * size + k + 1}}} = {w:g}"
    links, biases = drawn_labels("rnn", tmp_path)
    assert links == expected
    written = {
        (f"h{j + 1}-{t}", f"b_{{{j + 1}}} = {b:g}")
        for t in range(1, steps + 1)
        for j, b in enumerate(recurrent["bias"])
    }
    assert biases == written | {("o1", f"b_{{{size + 1}}} = {output['bias'][0]:g}")}


def test_two_filters_each_label_their_own_map_and_a_large_window_says_its_pooling_once(tmp_path):
    """Each filter's kernel on the links into its own map's first position (w1…w4 into c1,11, w5…w8 into
    c2,11); a 3×3 average pooling window (9 links) says 1/9 once, on its first link, in each map."""
    import tests.test_conv as conv

    net = conv.two_filters_avgpool()
    links, biases = drawn_labels(net.write(tmp_path, "network"), tmp_path)
    kernels, dense = net.layers[0]["kernels"], net.layers[2]["weights"]
    expected = {
        (f"i{a + 1}{b + 1}", f"c{f + 1}-11"): f"w_{{{4 * f + 2 * a + b + 1}}} = {kernels[f][a][b]:g}"
        for f in range(2)
        for a in range(2)
        for b in range(2)
    }
    expected |= {(f"c{f + 1}-11", f"p{f + 1}-11"): r"\tfrac{1}{9}" for f in range(2)}
    expected |= {
        (f"p{m + 1}-11", f"o{j + 1}"): f"w_{{{9 + 2 * j + m}}} = {dense[j][m]:g}" for j in range(2) for m in range(2)
    }
    assert links == expected
    assert {neuron for neuron, _ in biases} == {"c1-33", "c2-33", "o1", "o2"}  # each map's last position


def test_a_given_initial_state_is_drawn_as_its_neurons_at_step_0(tmp_path):
    """h_0 from the file: one circle per recurrent neuron in the first column, named as the neurons are
    at their steps (h1,0 beside h1,1), below the inputs."""
    import tests.test_recurrent as recurrent

    net = recurrent.every_step()
    run_derive("worksheet", str(net.write(tmp_path, "network")), "-o", str(tmp_path))
    tikz = picture((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    states = re.findall(r"\\node\[input\] \((h\d+-0)\) at \(0\.0, [-\d.]+\) \{\$(.+?)\$\};", tikz)
    names = [f"h{j + 1}" for j in range(len(net.layers[0]["weights"]))]
    assert states == [(f"{name}-0", rf"\mathrm{{{name}{{,}}0}}") for name in names]
    assert all(rf"\mathrm{{{name}{{,}}1}}" in tikz for name in names)  # the same names at step 1


def test_the_labels_of_links_fanning_out_from_one_input_sit_apart(tmp_path):
    """A step's input feeds each neuron of its step from one point: the weights' labels on those links sit
    at different distances along them (TikZ's pos), so that none is written over another near the input."""
    run_derive("worksheet", "rnn", "-o", str(tmp_path))
    tikz = picture((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    by_source: dict[str, list[float]] = {}
    for source, pos in re.findall(r"\\draw\[->\] \((i[^)]+)\) -- node\[weight, pos=([\d.]+)\]", tikz):
        by_source.setdefault(source, []).append(float(pos))
    assert by_source and all(len(set(p)) == len(p) > 1 for p in by_source.values()), by_source


def test_a_pooling_link_is_named_by_its_pooling_in_the_graph(tmp_path):
    """The explanation's graph of the cnn writes max on the links of the first pooling window; an average
    pooling writes 1/n, the share each value gets."""
    import json

    text = run_derive("explain", "cnn").stdout
    assert re.findall(r"^  c1,\d\d -- \"([^\"]+)\" --> p1,11$", text, re.M) == ["max"] * 4
    network = tomllib.loads(run_derive("example", "cnn").stdout)
    network["layers"][1]["type"] = "avgpool"
    (tmp_path / "avg.json").write_text(json.dumps(network), encoding="utf-8")
    text = run_derive("explain", str(tmp_path / "avg.json")).stdout
    assert re.findall(r"^  c1,\d\d -- \"([^\"]+)\" --> p1,11$", text, re.M) == ["1/4"] * 4


@pytest.mark.parametrize("targets", ["last step", "every step"])
def test_a_steps_inputs_stand_above_its_neurons_just_after_the_column_before(targets, tmp_path):
    """A sequence's inputs of step t are drawn above step t's neurons, 0.3 of a column after the column before
    theirs (with a target at every step, the outputs of step t − 1 stand between): the first input highest,
    one row apart, the last one row above the step's highest neuron, so that their links reach step t
    without crossing the neurons of the steps before; a given initial state h_0 stands in the first
    column, each entry level with the neuron of step 1 it feeds."""
    import tests.test_recurrent as recurrent

    make = recurrent.deeper_last_step if targets == "last step" else recurrent.every_step
    network = make().write(tmp_path, "sequence")  # two inputs at each of four steps, h_0 given
    run_derive("worksheet", str(network), "-o", str(tmp_path))
    tikz = picture((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    inputs = {
        (int(entry), int(step)): (float(x), float(y))
        for entry, step, x, y in re.findall(r"\\node\[input\] \(i(\d+)-(\d+)\) at \(([-\d.]+), ([-\d.]+)\)", tikz)
    }
    hidden = re.findall(r"\\node\[neuron\] \(h\d+-(\d+)\) at \(([-\d.]+), ([-\d.]+)\)", tikz)
    assert sorted(inputs) == [(entry, step) for entry in (1, 2) for step in range(1, 5)]
    for (entry, step), (x, y) in inputs.items():
        column = {float(a) for t, a, _ in hidden if int(t) == step}
        assert len(column) == 1, column  # a step's hidden neurons in one column
        highest = max(float(b) for t, _, b in hidden if int(t) == step)
        assert x == pytest.approx(column.pop() - 1 + 0.3), (entry, step)
        assert y == pytest.approx(highest + 1 + (2 - entry)), (entry, step)
    # a given initial state h_0 stands in the first column, each entry level with the neuron of step 1 it feeds
    initial = re.findall(r"\\node\[input\] \(h(\d+)-0\) at \(([-\d.]+), ([-\d.]+)\)", tikz)
    first = {
        int(n): float(b)
        for n, t, b in re.findall(r"\\node\[neuron\] \(h(\d+)-(\d+)\) at \([-\d.]+, ([-\d.]+)\)", tikz)
        if t == "1"
    }
    assert len(initial) == 3
    assert all(float(x) == 0 and float(y) == first[int(n)] for n, x, y in initial), (initial, first)
