"""What a reader reads around the numbers: the network drawing and the sentences that state a relation.

The drawing is read back from the web page's SVG: every weight's edge must run from its input
neuron to its neuron (the arrowhead at the neuron), carry its own label with the file's value, and
each gradient's highlighted path must be the paths from that parameter to the error, worked out
here from the layers.  Sentences such as "the error goes from A to B, a change of C" are parsed
and the relation they state (C = B − A; a finite difference's quotient) is recomputed here.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import tomllib
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT, run_derive

SVG = "{http://www.w3.org/2000/svg}"
NETWORKS = ["mazur", "deep", "xor", "softmax"]
NUMBER = r"-?\d+(?:[.,]\d+)?(?:\{,\}\d+)?"


def number(text: str) -> float:
    """A number as a document writes it, with a decimal point or (Spanish) a decimal comma."""
    return float(text.replace("{,}", ".").replace(",", "."))


def catalog(language: str = "en") -> dict:
    """A language's catalog (templates/i18n), the sentences the documents print."""
    return tomllib.loads((ROOT / "templates" / "i18n" / f"{language}.toml").read_text(encoding="utf-8"))


def spec_of(name: str) -> dict:
    return tomllib.loads(run_derive("example", name).stdout)


def weights(spec: dict) -> list[tuple[str, str, str, float]]:
    """(w-name, source, target, value) in derive's numbering, worked out from the layers."""
    found, n = [], 1
    inputs = [f"i{k + 1}" for k in range(len(spec["examples"][0]["inputs"]))]
    for layer in spec["layers"]:
        names = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        for j, row in enumerate(layer["weights"]):
            for k, value in enumerate(row):
                found.append((f"w{n}", inputs[k], names[j], float(value)))
                n += 1
        inputs = names
    return found


@pytest.fixture(scope="module", params=NETWORKS)
def page(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("meaning") / f"{request.param}.html"
    run_derive("html", request.param, "-o", str(path))
    return request.param, path.read_text(encoding="utf-8")


def network_picture(text: str) -> ET.Element:
    start = text.index("<svg", text.index('<figure class="diagram">'))
    return ET.fromstring(text[start : text.index("</svg>", start) + len("</svg>")])


def distance_to_segment(point: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = point, a, b
    length = (bx - ax) ** 2 + (by - ay) ** 2
    t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length))
    return math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


Box = list[tuple[float, float]]


def rotation(label: ET.Element) -> tuple[float, float, float]:
    """A label's ``rotate(angle cx cy)``: its angle in degrees and the point it turns about."""
    found = re.fullmatch(r"rotate\(([-\d.]+) ([\d.]+) ([\d.]+)\)", label.get("transform"))
    return float(found[1]), float(found[2]), float(found[3])


def text_box(label: ET.Element) -> Box:
    """The corners of a label's letters as a browser sets them: centred on x, from the baseline y up by
    the cap height (0.7 em), 0.55 em a character, turned by its ``rotate(angle cx cy)``."""
    size = float(label.get("font-size"))
    x, y = float(label.get("x")), float(label.get("y"))
    half = 0.55 * size * len(label.text) / 2
    corners = [(x - half, y), (x + half, y), (x + half, y - 0.7 * size), (x - half, y - 0.7 * size)]
    angle, cx, cy = rotation(label)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(cx + (px - cx) * c - (py - cy) * s, cy + (px - cx) * s + (py - cy) * c) for px, py in corners]


def boxes_overlap(first: Box, second: Box) -> bool:
    """Two convex boxes overlap unless some edge's normal separates them (the separating axis theorem)."""
    for box in (first, second):
        for (ax, ay), (bx, by) in zip(box, box[1:] + box[:1], strict=True):
            normal = (ay - by, bx - ax)
            one = [normal[0] * px + normal[1] * py for px, py in first]
            two = [normal[0] * px + normal[1] * py for px, py in second]
            if max(one) <= min(two) or max(two) <= min(one):
                return False
    return True


def test_the_arrowhead_points_along_its_edge_towards_the_neuron(page):
    """The marker at each edge's end (``orient="auto"``: its x axis along the edge, from start to end) is a
    triangle whose tip is its reference point, at the far end of its x range, and whose base lies behind
    it: the head points at the neuron, not back at the input."""
    name, text = page
    svg = network_picture(text)
    ends = {line.get("marker-end") for line in svg.iter(f"{SVG}line") if line.get("data-edge")}
    markers = {f"url(#{marker.get('id')})": marker for marker in svg.iter(f"{SVG}marker")}
    assert ends and ends <= set(markers), (ends, set(markers))
    for end in ends:
        marker = markers[end]
        assert marker.get("orient") == "auto"
        path = marker.find(f"{SVG}path").get("d")
        corners = [(float(x), float(y)) for x, y in re.findall(r"([-\d.]+)[ ,]([-\d.]+)", path)]
        tip = (float(marker.get("refX")), float(marker.get("refY")))
        assert len(corners) == 3 and tip in corners, f"{name}: the arrowhead {path!r} has no tip at {tip}, its end"
        base = [corner for corner in corners if corner != tip]
        assert all(x < tip[0] for x, _ in base), f"{name}: the arrowhead {path!r} points back along its edge"
        assert min(y for _, y in base) < tip[1] < max(y for _, y in base), path


def test_every_weight_runs_from_its_input_to_its_neuron_with_its_own_label(page):
    name, text = page
    svg = network_picture(text)
    circles = list(svg.iter(f"{SVG}circle"))
    centres = {c.get("data-node"): (float(c.get("cx")), float(c.get("cy")), float(c.get("r"))) for c in circles}
    lines = {line.get("data-edge"): line for line in svg.iter(f"{SVG}line")}
    labels = {label.get("data-edge"): label for label in svg.iter(f"{SVG}text") if label.get("data-edge")}
    boxes = {}
    for weight, source, target, value in weights(spec_of(name)):
        edge = f"{source}>{target}"
        line = lines[edge]
        start = (float(line.get("x1")), float(line.get("y1")))
        end = (float(line.get("x2")), float(line.get("y2")))
        sx, sy, sr = centres[source]
        tx, ty, tr = centres[target]
        assert math.hypot(start[0] - sx, start[1] - sy) == pytest.approx(sr, abs=1), f"{edge} leaves {source}'s rim"
        assert math.hypot(end[0] - tx, end[1] - ty) == pytest.approx(tr, abs=1), f"{edge} ends at {target}'s rim"
        assert line.get("marker-end") and not line.get("marker-start"), f"{edge}: the arrowhead points at {target}"
        assert sx < tx, f"{edge} runs forward, from the inputs towards the outputs"
        label = labels[edge]
        shown = re.fullmatch(rf"(w\d+) = ({NUMBER})", label.text)
        assert shown and shown[1] == weight and number(shown[2]) == value, f"{edge} is labelled {label.text!r}"
        angle, cx, cy = map(
            float, re.fullmatch(r"rotate\(([-\d.]+) ([\d.]+) ([\d.]+)\)", label.get("transform")).groups()
        )
        assert distance_to_segment((cx, cy), start, end) < 1.5, f"{weight}'s label is not on its edge {edge}"
        slope = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
        assert angle == pytest.approx(slope, abs=0.2), f"{weight}'s label does not follow its edge"
        boxes[weight] = text_box(label)
    for first, second in itertools.combinations(boxes, 2):
        assert not boxes_overlap(boxes[first], boxes[second]), f"the labels of {first} and {second} overlap"
    for weight, box in boxes.items():
        for node, (x, y, r) in centres.items():
            inside = [corner for corner in box if math.hypot(corner[0] - x, corner[1] - y) < r - 3]
            assert not inside, f"{weight}'s label runs under neuron {node}"


def expected_path(spec: dict, source: str, target: str | list[str]) -> set[str]:
    """A parameter's edges (a weight's one, a bias's into each neuron it feeds), those neurons, and every
    edge and neuron from there forward to the outputs."""
    layers = [[f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))] for layer in spec["layers"]]
    targets = [target] if isinstance(target, str) else target
    path, reached = {f"{source}>{neuron}" for neuron in targets} | set(targets), targets
    level = next(L for L, names in enumerate(layers) if targets[0] in names)
    for above in layers[level + 1 :]:
        path |= {f"{node}>{neuron}" for node in reached for neuron in above} | set(above)
        reached = above
    return path


def test_each_gradients_highlighted_path_is_its_paths_to_the_error(page):
    name, text = page
    spec = spec_of(name)
    marked = {
        html.unescape(key): set(html.unescape(path).split())
        for key, path in re.findall(r'data-step="(dE/d[wb]\d+)" data-path="([^"]*)"', text)
    }
    assert any(key.startswith("dE/dw") for key in marked), "the page marks no weight's path"
    for weight, source, target, _ in weights(spec):
        if f"dE/d{weight}" in marked:
            assert marked[f"dE/d{weight}"] == expected_path(spec, source, target), weight
    assert any(key.startswith("dE/db") for key in marked), "the page marks no bias's path"
    for bias, targets, _ in biases(spec):
        if f"dE/d{bias}" in marked:
            assert marked[f"dE/d{bias}"] == expected_path(spec, bias, targets), bias


def recurrent_edges(spec: dict) -> list[tuple[str, str, str]]:
    """The unrolled links of a recurrent layer and the output read at its last step, by the textbook's rules
    (h_t = f(W x_t + U h_(t-1) + b), h_0 = 0 and so not drawn; o = g(V h_T + c)), each as (from, to, parameter),
    the parameters numbered as the file lists them: W by rows, then U, then V; then the biases."""
    recurrent, output = spec["layers"]
    steps, hidden = len(spec["examples"][0]["inputs"]), len(recurrent["weights"])
    w = iter(range(1, 100))
    W = [[f"w{next(w)}" for _ in row] for row in recurrent["weights"]]
    U = [[f"w{next(w)}" for _ in row] for row in recurrent["recurrent_weights"]]
    V = [[f"w{next(w)}" for _ in row] for row in output["weights"]]
    b = [f"b{j + 1}" for j in range(hidden + len(output["weights"]))]
    edges = []
    for t in range(1, steps + 1):
        for j in range(hidden):
            edges += [(f"i{i + 1},{t}", f"h{j + 1},{t}", W[j][i]) for i in range(len(W[j]))]
            edges += [(f"h{k + 1},{t - 1}", f"h{j + 1},{t}", U[j][k]) for k in range(hidden) if t > 1]
            edges.append((b[j], f"h{j + 1},{t}", b[j]))
    for o, row in enumerate(V):
        edges += [(f"h{k + 1},{steps}", f"o{o + 1}", row[k]) for k in range(hidden)]
        edges.append((b[hidden + o], f"o{o + 1}", b[hidden + o]))
    return edges


def path_through(edges: list[tuple[str, str, str]], parameter: str) -> set[str]:
    """A parameter's own links (every step's), the neurons they feed, and every link and neuron from there on."""
    path = {f"{source}>{target}" for source, target, name in edges if name == parameter}
    reached = [target for source, target, name in edges if name == parameter]
    while reached:
        neuron = reached.pop()
        path.add(neuron)
        for source, target, _ in edges:
            if source == neuron:
                path.add(f"{source}>{target}")
                reached.append(target)
    return path


def test_each_gradients_highlighted_path_through_time_is_its_paths_to_the_error(tmp_path):
    """The recurrent network's page lights, for each parameter, its own link at every step and every link and
    neuron from there to the error: U's weights from the second step on, W's and the biases' at every step."""
    path = tmp_path / "rnn.html"
    run_derive("html", "rnn", "-o", str(path))
    marked = {
        html.unescape(key): set(html.unescape(lit).split())
        for key, lit in re.findall(r'data-step="(dE/d[wb]\d+)" data-path="([^"]*)"', path.read_text(encoding="utf-8"))
    }
    edges = recurrent_edges(spec_of("rnn"))
    parameters = dict.fromkeys(name for _, _, name in edges)
    assert set(marked) == {f"dE/d{name}" for name in parameters}
    for name in parameters:
        assert marked[f"dE/d{name}"] == path_through(edges, name), name


SENTENCES = {
    "en": (r"The total error goes from \$(N)\$ to \$(N)\$, a change of \$(N)\$\.", "goes from"),
    "es": (r"El error total pasa de \$(N)\$ a \$(N)\$, un cambio de \$(N)\$\.", "pasa de"),
}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", ["mazur", "xor", "deep"])
def test_the_change_of_the_error_is_after_minus_before(name, language):
    text = run_derive("explain", name, "--lang", language).stdout
    pattern = SENTENCES[language][0].replace("N", NUMBER)
    found = re.findall(pattern, text)
    assert found, f"no sentence on the change of the error in the {language} explanation of {name}"
    for before, after, change in found:
        before, after, change = number(before), number(after), number(change)
        assert change == pytest.approx(after - before, abs=2e-9), (before, after, change)
        assert (change < 0) == (after < before)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_finite_difference_sentence_states_its_own_quotient(language):
    """(E(θ + ε) − E(θ − ε)) / 2ε, as the sentence writes it, is the quotient it states, and the gradient."""
    text = run_derive("explain", "--lang", language).stdout
    quotient = rf"\$\(({NUMBER}) - ({NUMBER})\) / ({NUMBER}) = ({NUMBER})\$"
    found = re.findall(rf"\$\\pm ({NUMBER})\$.*?\$({NUMBER})\$.*?\$({NUMBER})\$.*?{quotient}", text)
    assert found, "no finite-difference sentence"
    for nudge, low, high, high_again, low_again, width, quotient in found:
        assert (number(high_again), number(low_again)) == (number(high), number(low))
        assert number(width) == pytest.approx(2 * number(nudge))
        assert number(quotient) == pytest.approx((number(high) - number(low)) / number(width), abs=1e-7)
        assert number(quotient) == pytest.approx(0.082167041, abs=1e-6)  # the tutorial's ∂E/∂w5
    # the check is of ∂E_total/∂w5, the first gradient, by nudging w5 itself
    named = re.findall(
        rf"\$\\partial E_\{{\\text\{{total\}}\}} / \\partial (w_\{{\d+\}}) = ({NUMBER})\$[^$]*\$(w_\{{\d+\}})\$", text
    )
    assert [(gradient, parameter) for gradient, _, parameter in named] == [("w_{5}", "w_{5}")]
    assert number(named[0][1]) == pytest.approx(0.082167041, abs=1e-9)


def test_the_vanishing_gradient_sentence_states_the_sigmoids_largest_slope():
    """σ′ = σ(1 − σ) is largest at 0, where it is 1/4 (SymPy): the worked example (sigmoid) says so; a
    network whose first layer is another activation (deep's ReLU) does not claim it."""
    import sympy as sp

    x = sp.Symbol("x")
    slope = sp.diff(1 / (1 + sp.exp(-x)), x)
    largest = slope.subs(x, 0)
    assert sp.solve(sp.diff(slope, x), x) == [0] and largest == sp.Rational(1, 4)
    sentences = catalog()
    said = sentences["reading_vanishing"].format(bound=float(largest))
    assert said in run_derive().stdout
    assert sentences["reading_vanishing"].split("{bound}")[0] not in run_derive("explain", "deep").stdout


READING = re.compile(
    r"Output \$\\mathrm\{out\}_\{(\w+)\} = (-?[\d.]+)\$ is (below|above) its target \$(-?[\d.]+)\$, so its error "
    r"signal is (negative|positive) and gradient descent (raises|lowers) the output: \$w_\{(\d+)\}\$ (rises|falls) "
    r"from \$(-?[\d.]+)\$ to \$(-?[\d.]+)\$\."
)


@pytest.mark.parametrize("name", ["mazur", "cnn", "rnn"])
def test_the_reading_of_a_layered_network_is_its_first_output_weights_move(name):
    """The reading, of the worked example and of a convolutional and a recurrent network (whose last layer
    is found through the unrolled graph): per output, the value and target its error line states, the
    sign and direction that follow, and the first weight into it (by the network file's numbering: mazur's
    o1 takes w5–w6 and o2 w7–w8, cnn's o1 w5–w8, rnn's o1 w7–w8) moving as its update row states."""
    text = run_derive("explain", name).stdout
    found = READING.findall(text)
    first = {"mazur": [("o1", "5"), ("o2", "7")], "cnn": [("o1", "5")], "rnn": [("o1", "7")]}[name]
    assert [(output, weight) for output, *_, weight, _, _, _ in found] == first  # one sentence per output
    for output, value, side, target, sign, push, weight, move, before, after in found:
        value, target, before, after = float(value), float(target), float(before), float(after)
        assert (side == "below") == (value < target) and (sign == "negative") == (value < target)
        assert (push == "raises") == (value < target) and (move == "rises") == (after > before)
        error_line = re.search(
            re.escape(f"E_{{{output}}} = ") + r".*?\\left\(([-\d.]+) - ([-\d.]+)\\right\)\^\{2\}", text
        )
        assert (float(error_line[1]), float(error_line[2])) == (target, value)  # the error line's t and out
        update = re.search(re.escape(f"| $w_{{{weight}}}^{{+}} = ") + r"(-?[\d.]+) - .*? \| (-?[\d.]+) \|", text)
        assert (float(update[1]), float(update[2])) == (before, after)
    sentences = catalog()
    ratio = sentences["reading_ratio"].split("{ratio}")[0]
    assert (ratio in text) == (name == "mazur")  # the ratio of two fully connected layers' gradients only


def test_an_update_row_of_a_table_writes_its_derivative_with_a_slash(tmp_path):
    """A table's row is one line high: the worksheet's update rows write ∂E/∂w inline, not as a fraction."""
    run_derive("worksheet", "-o", str(tmp_path))
    rows = [line for line in (tmp_path / "worksheet.tex").read_text(encoding="utf-8").splitlines() if "^{+}$ &" in line]
    assert len(rows) == 8
    for number, row in enumerate(rows, start=1):
        assert f"$= w_{{{number}}} - \\eta \\cdot \\partial E_{{\\text{{total}}}} / \\partial w_{{{number}}}$" in row, (
            row
        )
        assert "\\frac" not in row


def biases(spec: dict) -> list[tuple[str, list[str], float]]:
    """(b-name, the neurons it enters, value) in derive's numbering: a list gives each neuron its own, a
    number is shared by the layer."""
    found = []
    for layer in spec["layers"]:
        names = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        if isinstance(layer["bias"], list):
            found += [([name], float(value)) for name, value in zip(names, layer["bias"], strict=True)]
        else:
            found.append((names, float(layer["bias"])))
    return [(f"b{n}", targets, value) for n, (targets, value) in enumerate(found, start=1)]


def columns(spec: dict) -> list[list[str]]:
    """The drawing's columns, left to right: the inputs, then each layer's neurons."""
    inputs = [f"i{k + 1}" for k in range(len(spec["examples"][0]["inputs"]))]
    return [inputs] + [[f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))] for layer in spec["layers"]]


TIKZ_NODE = re.compile(r"\\node\[(input|neuron)\] \((\w+)\) at \(([-\d.]+), ([-\d.]+)\) \{\$(\w+)_\{(\d+)\}\$\};")
TIKZ_WEIGHT = re.compile(
    rf"\\draw\[->\] \((\w+)\) -- node\[weight, pos=[\d.]+\] \{{\$w_\{{(\d+)\}} = ({NUMBER})\$\}} \((\w+)\);"
)
TIKZ_BIAS = re.compile(
    rf"\\node\[bias\] \((b\d+)-(\w+)\) at \(\[yshift=-\d+mm\](\w+)\) \{{\$b_\{{(\d+)\}} = ({NUMBER})\$\}};\n"
    r"\s*\\draw\[->\] \((b\d+)-(\w+)\) -- \((\w+)\);"
)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_worksheets_drawing_places_names_and_joins_as_the_file_says(name, tmp_path):
    """The worksheet's TikZ network, read back: each input and neuron in its layer's column (x = the layer,
    the inputs at 0), its rows one apart from the top down and centred on 0, named i_k or layer_j; each
    weight's arrow from its input to its neuron labelled with its name and the file's value; each bias
    written under every neuron it enters, with an arrow into it."""
    spec = spec_of(name)
    run_derive("worksheet", name, "-o", str(tmp_path))
    tex = (tmp_path / "worksheet.tex").read_text(encoding="utf-8")
    picture = tex[tex.index(r"\begin{tikzpicture}") : tex.index(r"\end{tikzpicture}")]
    placed = {
        node: (kind, float(x), float(y), f"{letter}{index}")
        for kind, node, x, y, letter, index in TIKZ_NODE.findall(picture)
    }
    expected = {}
    for column, nodes in enumerate(columns(spec)):
        for row, node in enumerate(nodes):
            expected[node] = ("input" if column == 0 else "neuron", float(column), (len(nodes) - 1) / 2 - row, node)
    assert placed == expected
    drawn = [(f"w{n}", source, target, number(value)) for source, n, value, target in TIKZ_WEIGHT.findall(picture)]
    assert drawn == weights(spec)
    written: dict[str, tuple[list[str], float]] = {}
    for node, target, under, n, value, arrow, arrow_target, into in TIKZ_BIAS.findall(picture):
        assert node == f"b{n}" == arrow and target == under == arrow_target == into, (node, target)
        written.setdefault(node, ([], number(value)))[0].append(target)
    assert [(bias, *written[bias]) for bias in written] == biases(spec)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_explanations_mermaid_network_names_and_joins_as_the_file_says(name):
    """The Markdown's Mermaid network: each input and neuron a circle named for itself, each bias a box
    with its name and the file's value, each weight an arrow from its input to its neuron labelled with
    its name and value, each bias an arrow into every neuron it enters."""
    spec = spec_of(name)
    text = run_derive("explain", name).stdout
    graph = text[text.index("```mermaid\ngraph LR\n") : text.index("```", text.index("```mermaid\ngraph LR\n") + 3)]
    circles = re.findall(r"^  (\w+)\(\(\"(\w+)\"\)\)$", graph, re.M)
    assert circles == [(node, node) for nodes in columns(spec) for node in nodes]
    boxes = {
        node: (label, number(value))
        for node, label, value in re.findall(rf"^  (b\d+)\[\"(b\d+) = ({NUMBER})\"\]$", graph, re.M)
    }
    assert boxes == {bias: (bias, value) for bias, _, value in biases(spec)}
    arrows = [
        (f"w{n}", source, target, number(value))
        for source, n, value, target in re.findall(rf"^  (\w+) -- \"w(\d+) = ({NUMBER})\" --> (\w+)$", graph, re.M)
    ]
    assert arrows == weights(spec)
    into = re.findall(r"^  (b\d+) --> (\w+)$", graph, re.M)
    assert sorted(into) == sorted((bias, target) for bias, targets, _ in biases(spec) for target in targets)


def said_ratio(ratio: float) -> str:
    """A ratio as a sentence says it: whole from 10 on, one decimal below (halves up)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(repr(float(ratio))).quantize(Decimal(1) if ratio >= 10 else Decimal("0.1"), ROUND_HALF_UP))


# Two-layer networks whose first layer's gradients are larger than the output layer's, about as large,
# smaller by less than the δs shrink (inputs larger than the hidden outputs), and smaller although the
# δs do not shrink (linear hidden neurons with large weights, small inputs).
RATIO_NETWORKS = {
    "larger": {
        "layers": [
            {"name": "h", "activation": "tanh", "weights": [[0.3, -0.2], [0.1, 0.4]], "bias": 0.1},
            {"name": "o", "activation": "relu", "weights": [[-0.4, -0.3], [0.5, 0.6]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.5, 0.9], "targets": [0.5, 0.2]}],
    },
    "same": {
        "layers": [
            {"name": "h", "activation": "linear", "weights": [[1.0, 0.0], [0.0, 1.0]], "bias": 0.0},
            {"name": "o", "activation": "linear", "weights": [[1.0, 1.0]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.5, 0.5], "targets": [0.2]}],
    },
    "half larger": {  # linear layers: the ratio is 1/w, here 1/1.5
        "learning_rate": 0.1,
        "layers": [
            {"name": "h", "activation": "linear", "weights": [[1.0, 0.0], [0.0, 1.0]], "bias": 0.0},
            {"name": "o", "activation": "linear", "weights": [[1.5, 1.5]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.5, 0.5], "targets": [0.2]}],
    },
    "a little smaller": {  # 1/0.6 = 1.7
        "layers": [
            {"name": "h", "activation": "linear", "weights": [[1.0, 0.0], [0.0, 1.0]], "bias": 0.0},
            {"name": "o", "activation": "linear", "weights": [[0.6, 0.6]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.5, 0.5], "targets": [0.2]}],
    },
    "tenfold": {  # 1/0.095 = 10.53: said whole, 11
        "layers": [
            {"name": "h", "activation": "linear", "weights": [[1.0, 0.0], [0.0, 1.0]], "bias": 0.0},
            {"name": "o", "activation": "linear", "weights": [[0.095, 0.095]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.5, 0.5], "targets": [0.2]}],
    },
    "offset": {
        "layers": [
            {"name": "h", "activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, -0.1]], "bias": 0.0},
            {"name": "o", "activation": "sigmoid", "weights": [[0.2, 0.3]], "bias": 0.0},
        ],
        "examples": [{"inputs": [3.0, 4.0], "targets": [0.9]}],
    },
    "inputs": {
        "layers": [
            {"name": "h", "activation": "linear", "weights": [[3.0, 2.5], [2.0, 3.5]], "bias": 0.0},
            {"name": "o", "activation": "sigmoid", "weights": [[2.0, 3.0]], "bias": 0.0},
        ],
        "examples": [{"inputs": [0.1, 0.2], "targets": [0.1]}],
    },
}


def network_file(tmp_path, name: str, spec: dict) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"learning_rate": 0.5, "loss": "half_sse", **spec}))
    return str(path)


@pytest.mark.parametrize("name", ["mazur", "deep", "xor", "softmax", *RATIO_NETWORKS])
def test_the_gradient_ratio_sentence_states_the_reference_runs_ratios(name, tmp_path):
    """The reading's ratio of the output layer's mean |∂E/∂w| to the first layer's, and of their mean |δ|,
    from the NumPy reference step. A first layer with larger gradients is said to have them, "times
    larger"; within 5 % the two are about as large. Smaller ones are put on the δs; when the two ratios
    differ by more than a fifth the sentence gives both (the inputs' share), and when the δs do not
    shrink (their ratio under 1.05) it puts the difference on the inputs alone. The slides say the same."""
    import numpy as np

    from derive.spec.files import load_builtin, load_path
    from tests import reference_training as reference

    source = network_file(tmp_path, name, RATIO_NETWORKS[name]) if name in RATIO_NETWORKS else name
    spec = load_path(source) if name in RATIO_NETWORKS else load_builtin(name)
    step = reference.step(reference.from_spec(spec))
    last = len(spec.layers) - 1
    gradients = np.mean(np.abs(step.gradients[last][0])) / np.mean(np.abs(step.gradients[0][0]))
    signals = np.mean(np.abs([d[last] for d in step.deltas])) / np.mean(np.abs([d[0] for d in step.deltas]))
    sentences, slides = catalog(), catalog()["slides"]
    if 1 / 1.05 < gradients < 1.05:
        expected, points = sentences["reading_ratio_same"], [slides["reading_ratio_same"]]
    elif gradients < 1:
        said = said_ratio(1 / gradients)
        expected = sentences["reading_ratio_larger"].format(ratio=said)
        points = [slides["reading_ratio_larger"].format(ratio=said)]
    elif signals < 1.05:
        expected = sentences["reading_ratio_inputs"].format(ratio=said_ratio(gradients))
        points = [slides["reading_ratio"].format(ratio=said_ratio(gradients)), slides["reading_inputs"]]
    elif abs(gradients / signals - 1) > 0.2:  # both ratios, the values the δs multiply adding or taking back
        key = "reading_ratio" if gradients > signals else "reading_ratio_offset"
        expected = sentences[key].format(ratio=said_ratio(gradients), deltas=said_ratio(signals))
        points = [slides["reading_ratio"].format(ratio=said_ratio(gradients))]
        points.append(slides[key.replace("ratio", "deltas")].format(deltas=said_ratio(signals)))
    else:
        expected = sentences["reading_ratio_deltas"].format(ratio=said_ratio(gradients))
        points = [slides["reading_ratio"].format(ratio=said_ratio(gradients)), slides["reading_shrink"]]
    text = run_derive("explain", source).stdout
    reading = text[text.index(sentences["reading_title"]) :]
    assert expected in reading
    others = [key for key in sentences if key.startswith("reading_ratio") and sentences[key] != expected]
    assert not [key for key in others if sentences[key].split("{")[0] in reading.replace(expected, "")]
    run_derive("slides", source, "-o", str(tmp_path / "slides"))
    frame = (tmp_path / "slides" / "slides.tex").read_text(encoding="utf-8").split(r"{Reading the result}")[1]
    frame = frame[: frame.index(r"\end{frame}")]
    said_points = re.findall(r"^\\item (.*)$", frame, re.M)[-len(points) :]
    assert said_points == points


BATCH_READING = re.compile(
    r"In example 1, output \$\\mathrm\{out\}_\{(\w+)\}\^\{\(1\)\} = (-?[\d.]+)\$ is (below|above) its target "
    r"\$(-?[\d.]+)\$, so this example pushes the output (up|down); summed over all the examples, \$w_\{(\d+)\}\$ "
    r"(rises|falls) from \$(-?[\d.]+)\$ to \$(-?[\d.]+)\$\."
)


def test_the_batch_reading_of_a_deeper_network_is_its_output_layers_first_weight():
    """deep (three layers, two examples): example 1's output and target from the NumPy reference's forward
    pass, the push that follows, and the output layer's first weight (w9, not a hidden layer's) moving as
    the reference step moves it."""
    from derive import example
    from tests import reference_training as reference

    net = reference.from_spec(example("deep").spec)
    passed = reference.forward(net, *net.examples[0])
    after = reference.step(net).after.layers[-1].weights[0][0]
    found = BATCH_READING.findall(run_derive("explain", "deep").stdout)
    assert len(found) == 1
    output, value, side, target, push, weight, move, before, moved = found[0]
    assert (output, weight) == ("o1", "9")
    assert float(value) == pytest.approx(passed.outs[-1][0], abs=5e-9) and float(target) == net.examples[0][1][0]
    assert (side == "below") == (float(value) < float(target)) and (push == "up") == (side == "below")
    assert float(before) == net.layers[-1].weights[0][0] and float(moved) == pytest.approx(after, abs=5e-9)
    assert (move == "rises") == (after > net.layers[-1].weights[0][0])


# o1 exactly at its target (sigmoid(0) = 0.5); a ReLU output below 0 (δ = 0 though out ≠ t); cross-entropy
# on a sigmoid output with a target of 0 (δ = −t·(1 − out) = 0) and on outputs above their targets (δ < 0);
# two examples.
PUSH_NETWORKS = {
    "level": {
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.0, 0.0], [0.3, 0.2]], "bias": [0.0, 0.1]}],
        "examples": [{"inputs": [0.5, -0.4], "targets": [0.5, 0.9]}],
    },
    "flat": RATIO_NETWORKS["larger"],
    "still": {
        "loss": "cross_entropy",
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.6, 0.2], [-0.3, 0.1]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, 0.9], "targets": [0.0, 0.8]}],
    },
    "at its target, against": {  # sigmoid(0) = 0.5 = t, yet δ = −t·(1 − out) = −0.25
        "loss": "cross_entropy",
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.0, 0.0], [0.3, 0.2]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, -0.4], "targets": [0.5, 0.4]}],
    },
    "decay": {  # weight decay λ = 1: w7 falls though o2's push raises it
        "weight_decay": 1,
        "layers": [
            {"name": "h", "activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]], "bias": 0.35},
            {"name": "o", "activation": "sigmoid", "weights": [[0.4, 0.45], [0.5, 0.55]], "bias": 0.6},
        ],
        "examples": [{"inputs": [0.05, 0.1], "targets": [0.01, 0.99]}],
    },
    "softmax, cancelled": {  # out = (0.5, 0.5) above t = (0, 0): δ = out·(g − Σ g·out) = 0, ∂E/∂out = 0.5
        "layers": [{"name": "o", "activation": "softmax", "weights": [[0.0, 0.0], [0.0, 0.0]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, -0.4], "targets": [0.0, 0.0]}],
    },
    "softmax at its target": {  # out = (0.5, 0.5): o1 at t = 0.5, yet δ = out·(g − Σ g·out) = 0.1 > 0
        "layers": [{"name": "o", "activation": "softmax", "weights": [[0.0, 0.0], [0.0, 0.0]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, -0.4], "targets": [0.5, 0.9]}],
    },
    "softmax below, against": {  # out = 1/3 each: o1 below t = 0.4, yet δ = out·(g − Σ g·out) = 1/90 > 0
        "layers": [{"name": "o", "activation": "softmax", "weights": [[0.0, 0.0]] * 3, "bias": 0.0}],
        "examples": [{"inputs": [0.5, -0.4], "targets": [0.4, 0.9, 0.0]}],
    },
    "against": {
        "loss": "cross_entropy",
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.6, 0.2], [-0.3, 0.1]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, 0.9], "targets": [0.2, 0.3]}],
    },
    "a negative input": {  # o1 above its target, pushed down: w1 = 0.6 rises, since it multiplies i1 = −0.5
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.6, 0.2], [0.3, -0.1]], "bias": 0.0}],
        "examples": [{"inputs": [-0.5, 0.9], "targets": [0.1, 0.9]}],
    },
    "a negative hidden output": {  # tanh's out_h1 < 0: the output weights it multiplies move against the push
        "layers": [
            {"name": "h", "activation": "tanh", "weights": [[-0.8, 0.2], [0.25, 0.3]], "bias": 0.1},
            {"name": "o", "activation": "sigmoid", "weights": [[0.4, 0.45], [0.5, 0.55]], "bias": 0.6},
        ],
        "examples": [{"inputs": [0.5, 0.1], "targets": [0.01, 0.99]}],
    },
    "batch": {
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.0, 0.0], [0.6, 0.2]], "bias": 0.0}],
        "examples": [{"inputs": [0.5, 0.9], "targets": [0.5, 0.2]}, {"inputs": [0.1, 0.2], "targets": [0.9, 0.3]}],
    },
}


def sentence_pattern(template: str, **words: str) -> re.Pattern:
    """A catalog sentence as a pattern: the given fields as written, every other field a number."""
    parts = re.split(r"\{(\w+)\}", template)  # literal, field, literal, …
    fields = [re.escape(words[part]) if part in words else f"({NUMBER})" for part in parts[1::2]]
    pairs = zip(parts[::2], [*fields, ""], strict=True)
    return re.compile("".join(re.escape(literal) + field for literal, field in pairs))


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", PUSH_NETWORKS)
def test_the_reading_of_each_output_follows_its_error_signal_and_its_weights_move(name, language, tmp_path):
    """Each output's reading sentence from the NumPy reference: its side of the target (out − t), the sign
    of its δ in example 1, and its first weight's move over the step. An output at its target, or with a
    δ of 0 away from it, asks for no change; a δ whose sign is not that of out − t is said to be so."""
    import numpy as np

    from derive.spec.files import load_path
    from tests import reference_training as reference

    source = network_file(tmp_path, name, PUSH_NETWORKS[name])
    net = reference.from_spec(load_path(source))
    step = reference.step(net)
    passed, targets = step.passes[0], net.examples[0][1]
    batch = "_batch" if len(net.examples) > 1 else ""
    sentences = catalog(language)
    text = run_derive("explain", source, "--lang", language).stdout
    first = 1 + sum(layer.weights.size for layer in net.layers[:-1])
    for j, (out, target, signal) in enumerate(zip(passed.outs[-1], targets, step.deltas[0][-1], strict=True)):
        side = "above" if out > target else "below" if out < target else "equal"
        sign = "positive" if signal > 0 else "negative" if signal < 0 else "zero"
        if signal == 0 and out == target:
            kind = "level"
        elif signal == 0 and net.layers[-1].activation == "softmax":  # the others' errors cancel its own
            kind = "cancel"
        elif signal == 0:  # ∂E/∂out · f′(net) = 0: which factor is 0, as the sentence says
            slope = reference.jacobian(net.layers[-1].activation, passed.nets[-1], passed.outs[-1])[j, j]
            assert slope == 0 or reference.loss_slope(net.loss, targets, passed.outs[-1])[j] == 0
            kind = "flat" if slope == 0 else "flat_loss"
        else:
            kind = "against" if np.sign(signal) != np.sign(out - target) else "high" if out > target else "low"
        before, after = net.layers[-1].weights[j][0], step.after.layers[-1].weights[j][0]
        move = "rises" if after > before else "falls" if after < before else "stays"
        push = -(step.gradients[-1][0][j][0] - net.weight_decay * before)  # E_total's gradient alone
        if move != "stays" and push and (push > 0) != (after > before):  # decay or momentum outweighs it
            move += "_momentum" if net.momentum else "_decay"
        # ∂E/∂w = δ·x: the value w multiplies in example 1, an input or the layer below's first output
        multiplied = passed.outs[-2][0] if len(net.layers) > 1 else net.examples[0][0][0]
        name = r"\mathrm{out}_{h1}" if len(net.layers) > 1 else "i_{1}"
        turned = move in ("rises", "falls") and push != 0 and multiplied < 0 and not batch
        move += "_input" if turned else ""
        mark = r"^{(1)}" if batch else ""
        weight = first + j * net.layers[-1].weights.shape[1]
        words = {"out": rf"\mathrm{{out}}_{{o{j + 1}}}{mark}", "weight": f"w_{{{weight}}}", "input": name}
        words["signal"] = sentences[f"reading_{sign}"]
        sentence = sentences[f"reading{batch}_{kind}"].replace("{side}", sentences[f"reading_{side}"])
        found = sentence_pattern(sentence.replace("{moves}", sentences[f"reading_{move}"]), **words)
        match = found.search(text)
        assert match, (kind, found.pattern)
        numbers = [number(value) for value in match.groups()]
        assert numbers[:2] == pytest.approx([out, target], abs=5e-9)
        assert numbers[2:] == pytest.approx([before, after, multiplied][: len(numbers) - 2], abs=5e-9)
        assert len(numbers) == (5 if turned else 4 if move != "stays" else 3)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", NETWORKS)
def test_the_backward_pass_goes_from_the_output_layer_down_each_section_named_for_its_layer(name, language):
    """The explanation's backward sections, as the file's layers give them: the output layer first, then
    each hidden layer down to the first, each called output or hidden in the reader's language."""
    layers = [layer["name"] for layer in spec_of(name)["layers"]]
    text = run_derive("explain", name, "--lang", language).stdout
    sentences = catalog(language)
    expected = [sentences["output_layer"].format(name=layers[-1])]
    expected += [sentences["hidden_layer"].format(name=layer) for layer in reversed(layers[:-1])]
    start = text.index(f"\n## {sentences['backward_pass']}\n")
    backward = text[start : text.index("\n## ", start + 1)]
    headings = re.findall(r"^### (.*)$", backward, re.M)
    assert headings[: len(expected)] == expected  # then the general delta rule, a section of its own
    assert headings[len(expected) :] == [sentences["delta_rule_title"]], headings


def test_a_recurrent_layers_backward_sections_group_its_parameters_by_what_they_weigh():
    """rnn: after the output layer, the recurrent layer's U (numbered after its W, as the file's layers give
    them) in one section and its W with its biases in another, each listing its parameters."""
    layer, output = spec_of("rnn")["layers"]
    w = sum(len(row) for row in layer["weights"])
    u = sum(len(row) for row in layer["recurrent_weights"])
    recurrent = [f"$w_{{{n}}}$" for n in range(w + 1, w + u + 1)]
    inputs = [f"$w_{{{n}}}$" for n in range(1, w + 1)] + [f"$b_{{{n}}}$" for n in range(1, len(layer["bias"]) + 1)]
    sentences = catalog()
    expected = [
        sentences["output_layer"].format(name=output["name"]),
        sentences["recurrent_weights"].format(name=layer["name"], parameters=", ".join(recurrent)),
        sentences["input_weights"].format(name=layer["name"], parameters=", ".join(inputs)),
    ]
    headings = re.findall(r"^### (.*)$", run_derive("explain", "rnn").stdout, re.M)
    assert headings[: len(expected)] == expected


def test_the_first_gradient_that_only_cites_a_delta_says_so_once():
    """Standard detail: w6, the first gradient whose δ was derived before it (for w5), says that with δ_o1
    known it needs only its input, and no later gradient repeats it; w5, the first, is checked without the
    chain rule; brief detail says once, at its first gradient, why a gradient is δ times an input."""
    sentences = catalog()
    text = run_derive("explain").stdout
    cites = sentences["cites"].format(deltas=r"$\delta_{o1}$")
    assert text.count(sentences["cites"].split("{deltas}")[0]) == 1
    assert re.search(r"#### The gradient of \$w_\{6\}\$\s+" + re.escape(cites), text)
    # the check without the chain rule stands under the first gradient it checks, w5's
    check = text.index("A check of $\\partial E_{\\text{total}} / \\partial w_{5}")
    assert text.index("#### The gradient of $w_{5}$") < check < text.index("#### The gradient of $w_{6}$")
    brief = run_derive("explain", "--detail", "brief").stdout
    assert brief.count(sentences["brief"]["gradients"]) == 1
    assert sentences["brief"]["gradients"] not in text


def test_a_network_of_one_layer_says_no_ratio_between_layers(tmp_path):
    """The ratio compares the first layer's gradients with the output layer's: a network of one layer
    has no two layers to compare, and its reading says nothing of a ratio."""
    layer = {"name": "o", "activation": "sigmoid", "weights": [[0.1, 0.2]], "bias": 0.1}
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"layers": [layer], "examples": [{"inputs": [1, 2], "targets": [0.5]}]}))
    text = run_derive("explain", str(path)).stdout
    sentences = catalog()
    assert sentences["reading_title"] in text  # the reading is there, without a ratio
    for key in [key for key in sentences if key.startswith("reading_ratio")] + ["reading_vanishing"]:
        assert sentences[key].split("{")[0] not in text, key


@pytest.mark.parametrize(("first", "output", "said"), [("sigmoid", "linear", True), ("relu", "sigmoid", False)])
def test_the_vanishing_gradient_sentence_follows_the_first_layers_activation(first, output, said, tmp_path):
    """The sigmoid's bound on its slope is said of a network whose first layer is sigmoid, whatever its
    output layer, and not of one whose first layer is not."""
    layers = [
        {"name": "h", "activation": first, "weights": [[0.1, 0.2], [0.3, -0.4]], "bias": 0.1},
        {"name": "o", "activation": output, "weights": [[0.5, -0.6]], "bias": 0.2},
    ]
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"layers": layers, "examples": [{"inputs": [1, 2], "targets": [0.5]}]}))
    sentences = catalog()
    assert (sentences["reading_vanishing"].split("{")[0] in run_derive("explain", str(path)).stdout) is said


def test_a_first_layer_that_does_not_learn_says_no_ratio(tmp_path):
    """Inputs of 0 give the first layer's weights gradients of 0: no ratio of the layers' gradients exists,
    and the reading says none (rather than a ratio of nothing)."""
    layers = [
        {"name": "h", "activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, -0.4]], "bias": 0.1},
        {"name": "o", "activation": "sigmoid", "weights": [[0.5, -0.6]], "bias": 0.2},
    ]
    path = tmp_path / "still.json"
    path.write_text(json.dumps({"layers": layers, "examples": [{"inputs": [0, 0], "targets": [0.9]}]}))
    text = run_derive("explain", str(path)).stdout
    sentences = catalog()
    assert sentences["reading_title"] in text
    assert sentences["reading_ratio"].split("{")[0] not in text


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_output_layer_with_a_target_at_every_step_is_headed_as_the_output_layer(language, tmp_path):
    """A recurrent network with a target at every step: its output layer acts at every step, and its
    backward section is the output layer's, named for the file's layer (o), not for its first step (o,1),
    in the Markdown, the page and the solutions; the forward pass names h1,2 as neuron 1 of h at step 2."""
    from tests.test_recurrent import every_step

    path = every_step().write(tmp_path, "every")
    text = run_derive("explain", str(path), "--lang", language).stdout
    sentences = catalog(language)
    output = sentences["output_layer"].format(name="o")
    run_derive("html", str(path), "--lang", language, "-o", str(tmp_path / "every.html"))
    assert f"<h3>{output}</h3>" in (tmp_path / "every.html").read_text(encoding="utf-8")
    run_derive("worksheet", str(path), "--lang", language, "-o", str(tmp_path / "sheets"))
    assert f"\\subsection*{{{output}}}" in (tmp_path / "sheets" / "solutions.tex").read_text(encoding="utf-8")
    names = sentences["names_steps"].format(neuron="h1,2", layer=r"$\mathrm{h}$", step="2", input="i_{1,2}")
    assert names in text  # the neuron named is h's at step 2 (not o's at step 1)
    headings = re.findall(r"^### (.*)$", text, re.M)
    assert output in headings
    assert not [heading for heading in headings if re.search(r"layer \w+,\d", heading)], headings
    # a given h_0: W, U and b all act from step 1, one section (W's 3×2, U's 3×3, the shared bias)
    parameters = ", ".join([*(f"$w_{{{n}}}$" for n in range(1, 16)), "$b_{1}$"])
    assert sentences["recurrent_parameters"].format(name="h", parameters=parameters) in headings, headings


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("targets", ["last step", "every step", "every step, two layers after"])
def test_each_stage_of_the_forward_pass_is_headed_by_its_time_step_and_layer(targets, language, tmp_path):
    """Every forward pass (each example's, and after the step) goes stage by stage: the recurrent layer at step
    t is headed "Time step t: recurrent layer h (h,t)"; the layers after it, with a target at every step, are
    headed by their step too, as the output layer or a hidden layer (o at step 1 is not a hidden layer); read
    only at the last step, the output layer is headed as the network's output layer."""
    from tests.cnn_reference import Net
    from tests.test_recurrent import builtin_rnn, every_step

    net = builtin_rnn() if targets == "last step" else every_step()
    if targets.endswith("two layers after"):
        weights = [[0.3, -0.2, 0.5], [0.1, 0.6, -0.4]]
        dense = {"type": "dense", "name": "d", "activation": "tanh", "weights": weights, "bias": [0.0, 0.1]}
        output = {**net.layers[1], "weights": [[0.6, -0.4], [0.3, 0.5]]}
        net = Net([net.layers[0], dense, output], net.examples)
    text = run_derive("explain", str(net.write(tmp_path, "net")), "--lang", language).stdout
    t = catalog(language)
    steps = len(net.examples[0][0])
    after = [layer["name"] for layer in net.layers[1:]]
    expected = []
    for step in range(1, steps + 1):
        expected.append(t["time_step"].format(step=step, layer="h", name=f"h,{step}"))
        if targets != "last step":
            keys = ["time_step_hidden"] * (len(after) - 1) + ["time_step_output"]
            expected += [
                t[key].format(step=step, layer=name, name=f"{name},{step}")
                for key, name in zip(keys, after, strict=True)
            ]
    if targets == "last step":
        expected.append(t["output_layer"].format(name=after[-1]))
    headings = re.findall(r"^\*\*(.*)\*\*$", text, re.MULTILINE)
    passes = [n for n, heading in enumerate(headings) if heading == expected[0]]
    assert len(passes) >= len(net.examples) + 1  # each example's forward pass, and the pass after the step
    for first in passes:
        assert headings[first : first + len(expected)] == expected


def test_a_weight_used_at_every_step_is_summed_over_its_uses_not_over_paths(tmp_path):
    """The slides' "sum over paths" frame is the multivariable chain rule of one use of a hidden weight whose
    neuron feeds several: a recurrent network's weights act once a step, each use reaching E_total on its
    own, so their gradients sum one term per step (the chain rule's statement) and no path-sum frame
    (which wrote those terms with a dangling "·" and grouped them as one step's δ factor) is made."""
    from derive import load
    from derive.document import build
    from derive.document.slides import path_sum
    from tests.test_recurrent import alone_two_tanh, every_step

    for network in (every_step().write(tmp_path, "every"), alone_two_tanh().write(tmp_path, "alone")):
        doc = build(load(network).derivation)
        assert path_sum(doc) is None
        spec = load(network).spec
        uses = spec.steps * len(spec.examples)  # a term per step of each example (U's from the second step)
        recurrent = [g for s in doc.backward for p in s.parts for g in p.gradients if p.kind == "derive"]
        terms = [len(g.statement) for g in recurrent]
        assert terms and all(1 < count <= uses for count in terms) and uses in terms, terms


def test_a_recurrent_layer_over_two_steps_groups_its_u_apart(tmp_path):
    """Over two steps, U acts once, from step 1's state into step 2: still a recurrent weight, in U's
    section apart from W and the biases."""
    toml = run_derive("example", "rnn").stdout
    assert "inputs = [[0.5], [-0.1], [0.8]]" in toml
    (tmp_path / "two.toml").write_text(toml.replace("inputs = [[0.5], [-0.1], [0.8]]", "inputs = [[0.5], [-0.1]]"))
    headings = re.findall(r"^### (.*)$", run_derive("explain", str(tmp_path / "two.toml")).stdout, re.M)
    sentences = catalog()
    u = ", ".join(f"$w_{{{n}}}$" for n in range(3, 7))
    assert sentences["recurrent_weights"].format(name="h", parameters=u) in headings, headings


def test_a_recurrent_layers_parameters_stay_in_its_own_section_below_two_dense_layers(tmp_path):
    """Below two dense layers, a recurrent layer with a given initial state has W, U and b act from the
    first step, so its groups are one section: each section holds exactly its own layer's gradients, the
    recurrent one all of W, U and b in their numbering order, none of them in the dense layer's."""
    from tests.test_recurrent import deeper_last_step

    text = run_derive("explain", str(deeper_last_step().write(tmp_path, "deeper"))).stdout
    sections = re.split(r"^### ", text[: text.index("### Backpropagation through time")], flags=re.M)[1:]
    gradients = {
        section.splitlines()[0].split(":")[0]: re.findall(r"^#### The gradient of \$(\w)_\{(\d+)\}\$", section, re.M)
        for section in sections
    }
    named = {heading: [f"{kind}{number}" for kind, number in found] for heading, found in gradients.items()}
    assert named == {
        "Output layer o": ["w22", "w23", "b4"],
        "Hidden layer d": [*(f"w{n}" for n in range(16, 22)), "b2", "b3"],
        "Recurrent layer h": [*(f"w{n}" for n in range(1, 16)), "b1"],
    }


# -- the network introduced by its shape ---------------------------------------------------------------

ONE_NEURON = {
    "learning_rate": 0.5,
    "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2]], "bias": 0.1}],
    "examples": [{"inputs": [0.5, 0.9], "targets": [0.2]}],
}
ONE_LAYER = {
    **ONE_NEURON,
    "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2], [0.1, 0.4], [0.2, 0.2]], "bias": 0.1}],
    "examples": [{"inputs": [0.5, 0.9], "targets": [0.2, 0.3, 0.1]}],
}


ONE_ONE_ONE = {
    **ONE_NEURON,
    "layers": [
        {"name": "h", "activation": "sigmoid", "weights": [[0.3]], "bias": 0.1},
        {"name": "o", "activation": "sigmoid", "weights": [[0.2]], "bias": 0.1},
    ],
    "examples": [{"inputs": [0.5], "targets": [0.2]}],
}
INTRODUCED = {  # what a lecturer would write: no "1 inputs", no "an output layer of 1"
    "one neuron": (
        "A feed-forward network with 2 inputs and a single neuron, its output.",
        "Una red neuronal prealimentada (feed-forward) con 2 entradas y una sola neurona, la de salida.",
    ),
    "one layer": (
        "A feed-forward network with 2 inputs and one layer of 3 neurons, its outputs.",
        "Una red neuronal prealimentada (feed-forward) con 2 entradas y una sola capa de 3 neuronas, las de salida.",
    ),
    "mazur": (
        "A feed-forward network with 2 inputs, a hidden layer of 2 neurons and an output layer of 2.",
        "Una red neuronal prealimentada (feed-forward) con 2 entradas, una capa oculta de 2 neuronas y una capa de "
        "salida de 2.",
    ),
    "xor": (
        "A feed-forward network with 2 inputs, a hidden layer of 2 neurons and a single output neuron.",
        "Una red neuronal prealimentada (feed-forward) con 2 entradas, una capa oculta de 2 neuronas y una sola "
        "neurona de salida.",
    ),
    "deep": (
        "A feed-forward network of shape 2 → 2 → 2 → 1: the inputs, then the neurons of each layer.",
        "Una red neuronal prealimentada (feed-forward) de forma 2 → 2 → 2 → 1: las entradas y luego las neuronas "
        "de cada capa.",
    ),
    "one input, one hidden neuron": (
        "A feed-forward network of shape 1 → 1 → 1: the inputs, then the neurons of each layer.",
        "Una red neuronal prealimentada (feed-forward) de forma 1 → 1 → 1: las entradas y luego las neuronas de "
        "cada capa.",
    ),
    "one input": (
        "A feed-forward network of shape 1 → 2 → 1: the inputs, then the neurons of each layer.",
        "Una red neuronal prealimentada (feed-forward) de forma 1 → 2 → 1: las entradas y luego las neuronas de "
        "cada capa.",
    ),
    "one input, one neuron": (
        "A feed-forward network of shape 1 → 1: the inputs, then the neurons of each layer.",
        "Una red neuronal prealimentada (feed-forward) de forma 1 → 1: las entradas y luego las neuronas de cada capa.",
    ),
    "one hidden neuron": (
        "A feed-forward network of shape 2 → 1 → 1: the inputs, then the neurons of each layer.",
        "Una red neuronal prealimentada (feed-forward) de forma 2 → 1 → 1: las entradas y luego las neuronas de "
        "cada capa.",
    ),
}
ONE_INPUT = {
    **ONE_NEURON,
    "layers": [
        {"name": "h", "activation": "sigmoid", "weights": [[0.3], [0.1]], "bias": 0.1},
        {"name": "o", "activation": "sigmoid", "weights": [[0.2, 0.4]], "bias": 0.1},
    ],
    "examples": [{"inputs": [0.5], "targets": [0.2]}],
}
ONE_HIDDEN = {
    **ONE_NEURON,
    "layers": [
        {"name": "h", "activation": "sigmoid", "weights": [[0.3, 0.2]], "bias": 0.1},
        {"name": "o", "activation": "sigmoid", "weights": [[0.2]], "bias": 0.1},
    ],
}


def map_shapes(spec: dict) -> list[tuple[int, ...]]:
    """A convolutional network's values from layer to layer, by the textbook's sizes: a window of k at stride s
    over n positions padded by p on each side leaves (n + 2p − k) / s + 1, in as many maps as the layer has
    filters (a pooling layer keeps its input's maps); a dense layer, its neurons."""
    maps, rows, columns = ([1] + spec["layers"][0]["input_shape"])[-3:]
    shapes: list[tuple[int, ...]] = [(maps, rows, columns)]
    for layer in spec["layers"]:
        if "weights" in layer:
            shapes.append((len(layer["weights"]),))
            continue
        k = layer.get("size")
        if "kernels" in layer:  # filters × (channels ×) rows × columns
            kernels = layer["kernels"]
            maps, k = len(kernels), len(kernels[0][0] if isinstance(kernels[0][0][0], list) else kernels[0])
        stride, padding = layer.get("stride", 1), layer.get("padding", 0)
        rows, columns = (rows + 2 * padding - k) // stride + 1, (columns + 2 * padding - k) // stride + 1
        shapes.append((maps, rows, columns))
    return shapes


def written_shape(shape: tuple[int, ...]) -> str:
    """A shape as the documents write it: maps × rows × columns, the maps left out when there is one."""
    return "×".join(map(str, shape[1:] if len(shape) == 3 and shape[0] == 1 else shape))


def two_channels() -> dict:
    """The built-in cnn on two channels of 3×3, padded by 1, with two filters of 2×2 (4×4 positions each),
    then its pooling (3×3 of each map) and one output."""
    spec = spec_of("cnn")
    spec["layers"][0] |= {"input_shape": [2, 3, 3], "padding": 1, "bias": [0.1, -0.1]}
    spec["layers"][0]["kernels"] = [
        [[[0.5, -0.25], [0.25, 0.75]], [[0.1, 0.2], [-0.3, 0.4]]],
        [[[-0.2, 0.3], [0.6, 0.1]], [[0.2, -0.4], [0.1, 0.3]]],
    ]
    spec["layers"][2]["weights"] = [[(n % 7 - 3) / 10 for n in range(18)]]
    spec["examples"] = [
        {"inputs": [[[(c + r + k) % 5 / 10 for k in range(3)] for r in range(3)] for c in range(2)], "targets": [1.0]}
    ]
    return spec


MAP_NAMES = re.compile(
    r"The names give the place in a map: \$i_\{(?:(\d),)?(\d)(\d)\}\$ is the input (of channel 1 )?in row (\d), "
    r"column (\d), and \$(\w+?)(\d),(\d)(\d)\$ is the neuron of layer \$\\mathrm\{(\w+)\}\$ in map 1, row (\d), "
    r"column (\d) \(the map first"
)


@pytest.mark.parametrize("name", ["cnn", "two channels"])
def test_the_names_of_a_maps_input_and_neuron_are_read_as_the_sentence_says(name, tmp_path):
    """The forward pass's sentence on names: the input it names stands where it says (channel, row and column in
    its subscript, the channel only when there are several), and the neuron is the first layer's, in map 1, at
    the row and column it says, within the layer's maps."""
    spec = two_channels() if name == "two channels" else spec_of("cnn")
    path = tmp_path / "network.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    first = spec["layers"][0]
    channels, rows, columns = [1, *first["input_shape"]][-3:]
    text = run_derive("explain", str(path)).stdout
    found = MAP_NAMES.search(text)
    assert found, "no sentence on the names of a map's input and neuron"
    channel, pixel_row, pixel_column, of_channel, row, column = found.groups()[:6]
    layer, neuron_map, neuron_row, neuron_column, said_layer, said_row, said_column = found.groups()[6:]
    assert (channel is not None) == (of_channel is not None) == (channels > 1)
    assert channel in (None, "1") and (pixel_row, pixel_column) == (row, column)
    assert 1 <= int(row) <= rows and 1 <= int(column) <= columns
    assert layer == said_layer == first["name"] and neuron_map == "1"
    assert (neuron_row, neuron_column) == (said_row, said_column)
    padding, stride, kernel = first.get("padding", 0), first.get("stride", 1), len(first["kernels"][0][-1])
    positions = (rows + 2 * padding - kernel) // stride + 1
    assert 1 <= int(said_row) <= positions and 1 <= int(said_column) <= positions
    assert f"\\mathrm{{net}}_{{{layer}{neuron_map},{neuron_row}{neuron_column}}}" in text  # a neuron worked out


def wider_pooling() -> dict:
    """The built-in cnn on a 5×5 input, its 4×4 maps averaged in 2×2 windows at stride 2 (windows that do not
    overlap), so that the dense layer reads 2×2 as before."""
    spec = spec_of("cnn")
    spec["layers"][0]["input_shape"] = [5, 5]
    spec["layers"][1] |= {"type": "avgpool", "stride": 2}
    spec["examples"] = [{"inputs": [[(3 * r + c) % 7 / 10 for c in range(5)] for r in range(5)], "targets": [1.0]}]
    return spec


@pytest.mark.parametrize("name", ["cnn", "wider pooling", "two channels", "rnn"])
def test_the_layers_table_gives_each_layers_neurons_and_what_it_does(name, tmp_path):
    """The explanation's table of layers: each layer's neurons (a map's positions, worked out here from the
    window and the stride; a recurrent layer's neurons, not their copies at every step) and what it does, a
    pooling window moved less than its width marked as overlapping."""
    spec = {"wider pooling": wider_pooling, "two channels": two_channels}.get(name, lambda: spec_of(name))()
    path = tmp_path / "network.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    text = run_derive("explain", str(path)).stdout
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (.*) \|$", text.split("| layer | neurons |")[1], re.MULTILINE)
    shapes = map_shapes(spec)[1:] if "input_shape" in spec["layers"][0] else None
    assert [row[0] for row in rows] == [layer["name"] for layer in spec["layers"]]
    for n, (layer, (_, neurons, does)) in enumerate(zip(spec["layers"], rows, strict=True)):
        expected = math.prod(shapes[n]) if shapes else len(layer["weights"])
        assert int(neurons) == expected, layer["name"]
        if layer.get("type") in ("maxpool", "avgpool"):
            overlapping = layer.get("stride", 1) < layer["size"]
            assert does.endswith("(overlapping windows)") == overlapping, does
            assert does.startswith("max" if layer["type"] == "maxpool" else "average"), does
        if layer.get("type") == "recurrent":
            assert f"over {len(spec['examples'][0]['inputs'])} time steps" in does, does


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_convolutional_and_a_recurrent_network_are_introduced_by_their_shapes(language):
    """The first sentence gives the convolutional network's maps from layer to layer, and the recurrent one's
    sequence (its steps, each step's inputs) and layers, as worked out here from the network file."""
    cnn, rnn = spec_of("cnn"), spec_of("rnn")
    sequence = rnn["examples"][0]["inputs"]
    numbers = {
        "shape": " → ".join(map(written_shape, map_shapes(cnn))),
        "steps": len(sequence),
        "inputs": len(sequence[0]),
        "layers": " → ".join(str(len(layer["weights"])) for layer in rnn["layers"]),
    }
    expected = {
        "en": (
            "A convolutional network, its values from layer to layer of shape {shape} (",
            "A recurrent network that reads sequences of {steps} time steps, the input of each step a vector of "
            "length {inputs}, with layers of {layers} neurons.",
        ),
        "es": (
            "Una red convolucional, cuyos valores tienen de capa en capa la forma {shape} (",
            "Una red recurrente que lee secuencias de {steps} pasos de tiempo, cuya entrada en cada paso es un "
            "vector de longitud {inputs}, con capas de {layers} neuronas.",
        ),
    }[language]
    for name, sentence in zip(("cnn", "rnn"), expected, strict=True):
        assert sentence.format(**numbers) in run_derive("explain", name, "--lang", language).stdout, name


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", list(INTRODUCED))
def test_a_dense_network_is_introduced_by_its_inputs_and_layers(name, language, tmp_path):
    """The network's first sentence, as written here for each shape: the same in the explanation, the web
    page, the worksheet and the exam."""
    networks = {
        "one neuron": ONE_NEURON,
        "one layer": ONE_LAYER,
        "one input, one hidden neuron": ONE_ONE_ONE,
        "one input": ONE_INPUT,
        "one hidden neuron": ONE_HIDDEN,
        "one input, one neuron": {
            **ONE_NEURON,
            "layers": [{**ONE_NEURON["layers"][0], "weights": [[0.3]]}],
            "examples": [{"inputs": [0.5], "targets": [0.2]}],
        },
    }
    network = networks.get(name) or spec_of(name)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network), encoding="utf-8")
    expected = INTRODUCED[name][language == "es"]
    assert expected in run_derive("explain", str(path), "--lang", language).stdout
    run_derive("html", str(path), "--lang", language, "-o", str(tmp_path / "page.html"))
    assert expected in html.unescape((tmp_path / "page.html").read_text(encoding="utf-8"))
    run_derive("worksheet", str(path), "--lang", language, "-o", str(tmp_path / "sheets"))
    run_derive("worksheet", str(path), "--exercise", "exam", "--lang", language, "-o", str(tmp_path / "exam"))
    for document in ("sheets/worksheet.tex", "exam/exam.tex"):
        assert expected in (tmp_path / document).read_text(encoding="utf-8"), document


@pytest.mark.parametrize("name", ["mazur", "softmax", "cnn", "rnn"])
@pytest.mark.parametrize("command", ["explain", "worksheet"])
def test_the_in_notation_writes_no_net_anywhere(name, command, tmp_path):
    """--notation in names every net input in (the textbook's in_j): no sentence, rule or line keeps net."""
    if command == "explain":
        text = run_derive("explain", name, "--notation", "in").stdout
    else:
        run_derive("worksheet", name, "--notation", "in", "-o", str(tmp_path))
        text = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    assert r"\mathrm{in}" in text and r"\mathrm{net}" not in text


@pytest.mark.parametrize("target", [0.01, 1e25])
def test_the_finite_difference_quotient_is_written_to_seven_decimals_at_any_size(target, tmp_path):
    """The check's quotient to 7 decimals, whether ∂E/∂w5 is 0.08 or, with a linear output far from a target
    of 10²⁵, −5.9·10²⁴ (which 28 significant digits would not hold to 7 decimals); it agrees with the gradient."""
    network = spec_of("mazur")
    network["layers"][1]["activation"] = "linear"
    network["examples"][0]["targets"] = [target, 0.5]
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network), encoding="utf-8")
    text = run_derive("explain", str(path)).stdout
    gradient, quotient = re.search(
        r"A check of \$\\partial E_\{\\text\{total\}\} / \\partial w_\{5\} = (-?[\d.]+)\$.*?/ 0\.0002 = (-?[\d.]+)\$",
        text,
    ).groups()
    assert re.fullmatch(r"-?\d+\.\d{7}", quotient), quotient
    assert float(quotient) == pytest.approx(float(gradient), rel=1e-6, abs=1e-7)
