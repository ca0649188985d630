"""Diagrams, computation graphs, the matrix form and training curves, checked by their renderers."""

import itertools
import math
import re
import tomllib
from fractions import Fraction

import numpy as np
import pytest

from derive import Network, example
from derive.core.layerwise import delta_ratio, shared_bias_gradient, summed_deltas, summed_outer, weight_gradient_ratio
from derive.core.samples import activation_samples
from derive.document import build
from derive.publishing.publish import explanation
from tests.conftest import ROOT, run_derive
from tests.documents import compile_latex, katex_failures, mermaid_diagrams, mermaid_failures, pdf_text
from tests.reference import autograd_gradients
from tests.reference_training import quantities

NETWORKS = ["mazur", "softmax", "deep", "xor"]


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("detail", ["full", "standard", "brief"])
def test_every_mermaid_diagram_parses(name, detail):
    """The network, the computation graphs the detail draws, each activation's plot and the training curve."""
    text = run_derive("explain", name, "--detail", detail).stdout
    diagrams = mermaid_diagrams(text)
    steps = example(name).steps(detail=detail)
    graphs = {"full": len(steps.backward), "brief": 0}.get(detail, sum(bool(g.deltas) for g in steps.backward))
    activations = {layer.activation for layer in example(name).spec.layers} - {"softmax"}
    assert [d.split("\n")[0] for d in diagrams].count("graph LR") == 1 + graphs
    assert [d.split("\n")[0] for d in diagrams].count("xychart-beta") == len(activations) + 1
    assert mermaid_failures(text) == []


def test_network_diagram_has_the_weights_on_its_edges():
    (network, *_) = mermaid_diagrams(run_derive().stdout)
    assert 'h1 -- "w5 = 0.4" --> o1' in network
    assert 'b1["b1 = 0.35"]' in network


def test_a_hidden_weight_graph_shows_every_path():
    """Every path from w1 to E_total, each edge labelled with its local derivative in symbols only.

    The values come as the working derives them: a graph that showed them first would give the answers away.
    """
    doc = build(example().derivation)
    hidden = next(step for section in doc.backward for step in section.gradients if step.name == "w1")
    edges = {(edge.source, edge.target): edge.text for edge in hidden.graph.edges}
    assert edges == {
        ("w1", "net_h1"): "∂net_h1/∂w1",
        ("net_h1", "out_h1"): "∂out_h1/∂net_h1",
        ("out_h1", "net_o1"): "∂net_o1/∂out_h1",
        ("out_h1", "net_o2"): "∂net_o2/∂out_h1",
        ("net_o1", "out_o1"): "∂out_o1/∂net_o1",
        ("net_o2", "out_o2"): "∂out_o2/∂net_o2",
        ("out_o1", "E_total"): "∂E_total/∂out_o1",
        ("out_o2", "E_total"): "∂E_total/∂out_o2",
    }
    assert not any(re.search(r"\d\.\d", edge.derivative) for edge in hidden.graph.edges)


def test_matrix_form_with_the_example_numbers():
    text = run_derive("explain", "--matrix").stdout
    assert "## The matrix form" in text
    assert r"\begin{bmatrix} 0.138498562 \\ -0.038098237 \end{bmatrix}" in text
    assert r"\begin{bmatrix} 0.082167041 & 0.082667628 \\ -0.02260254 & -0.022740242 \end{bmatrix}" in text
    assert r"\left(W_{o}^{\top} \boldsymbol{\delta}_{o}\right) \odot \sigma'(\mathbf{net}_{h})" in text
    assert "entry $(1, 1)$ is $\\delta_{o1} \\cdot \\mathrm{out}_{h1}$" in text
    assert katex_failures(text) == []


@pytest.mark.parametrize(
    ("name", "first"), [("mazur", "matrix_output"), ("softmax", "matrix_softmax"), ("deep", "matrix_output")]
)
def test_the_matrix_form_says_how_each_layers_error_signals_arise(name, first):
    """The output layer's error signals come from the loss's slope (or, at softmax, straight from the
    outputs and targets), said once, first; every layer below is told as the weights carrying them back."""
    from tests.test_reading_meaning import catalog

    sentences = catalog()
    text = run_derive("explain", name, "--matrix").stdout
    start = text.index("## The matrix form")
    matrix = text[start : text.find("\n## ", start)]
    said = [
        key
        for position, key in sorted(
            (match.start(), key)
            for key in ("matrix_output", "matrix_softmax", "matrix_hidden")
            for match in re.finditer(re.escape(sentences[key].split("$")[0]), matrix)
        )
    ]
    assert said == [first] + ["matrix_hidden"] * (len(example(name).spec.layers) - 1)
    layers = [layer.name for layer in example(name).spec.layers]
    headings = re.findall(r"^### (.*)$", matrix, re.M)
    expected = [sentences["output_layer"].format(name=layers[-1])]
    assert headings == expected + [sentences["hidden_layer"].format(name=layer) for layer in reversed(layers[:-1])]
    for layer, above in itertools.pairwise(layers):  # each hidden layer's δ from the layer above it
        carried = rf"\\left\(W_{{{above}}}\^{{\\top}} \\boldsymbol{{\\delta}}_{{{above}}}"
        assert re.search(rf"\\boldsymbol{{\\delta}}_{{{layer}}}(\^{{\(1\)}})? = {carried}", matrix), layer
    output = layers[-1]
    if first == "matrix_softmax":  # softmax with cross-entropy and one-hot targets: δ = out − t
        assert (
            rf"\boldsymbol{{\delta}}_{{{output}}} = \left(\mathbf{{out}}_{{{output}}} - \mathbf{{t}}\right) = "
            in matrix
        )
    else:
        assert re.search(rf"\\boldsymbol{{\\delta}}_{{{output}}}(\^{{\(1\)}})? = \\nabla_", matrix)


def test_the_matrix_form_of_several_examples_numbers_each_examples_vectors():
    """deep's two examples: each layer's δ vector and weight gradient once per example, marked (1) then (2),
    then their sum."""
    text = run_derive("explain", "deep", "--matrix").stdout
    matrix = text[text.index("## The matrix form") :]
    for layer in ("o", "g", "h"):
        marks = re.findall(rf"^\\boldsymbol{{\\delta}}_{{{layer}}}\^{{\((\d)\)}} =", matrix, re.M)
        assert marks == ["1", "2"], layer
        gradient = re.escape(rf"\left(\frac{{\partial E_{{\text{{total}}}}}}{{\partial W_{{{layer}}}}}\right)")
        assert re.findall(
            rf"^{gradient}\^{{\((\d)\)}} = \\boldsymbol{{\\delta}}_{{{layer}}}\^{{\((\d)\)}}", matrix, re.M
        ) == [
            ("1", "1"),
            ("2", "2"),
        ]


def test_the_matrix_form_spells_a_layer_name_with_an_underscore_as_the_file_does(tmp_path):
    """Layers named hid_a and out_b: every vector and matrix of the matrix form is subscripted with the
    name as spelled (the underscore escaped, not a second subscript), and KaTeX renders it."""
    import json

    layers = [
        {"name": "hid_a", "activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]], "bias": 0.35},
        {"name": "out_b", "activation": "sigmoid", "weights": [[0.4, 0.45], [0.5, 0.55]], "bias": 0.6},
    ]
    path = tmp_path / "named.json"
    path.write_text(json.dumps({"layers": layers, "examples": [{"inputs": [0.05, 0.1], "targets": [0.01, 0.99]}]}))
    text = run_derive("explain", str(path), "--matrix").stdout
    matrix = text[text.index("## The matrix form") :]
    assert r"\left(W_{out\_b}^{\top} \boldsymbol{\delta}_{out\_b}\right) \odot \sigma'(\mathbf{net}_{hid\_a})" in matrix
    assert (
        r"\frac{\partial E_{\text{total}}}{\partial W_{out\_b}} = \boldsymbol{\delta}_{out\_b} \, \mathbf{out}_{hid\_a}"
        in matrix
    )
    assert not re.search(r"_\{(hid|out)_[ab]", matrix)  # no name left with a bare underscore
    assert katex_failures(matrix) == []


@pytest.mark.parametrize("name", NETWORKS)
def test_matrix_entries_are_the_gradients(name):
    """Every ∂E/∂W matrix (summed over the examples) holds the independent autograd gradients."""
    network = example(name)
    doc = build(network.derivation, matrix=True, digits=12)
    expected = autograd_gradients(network.spec)
    numbering = iter(f"w{n}" for n in range(1, 10_000))
    by_layer = {}
    for layer in network.spec.layers:
        by_layer[layer.name] = [[next(numbering) for _ in row] for row in layer.weights]
    for layer in doc.matrix:
        matrix = layer.weights[-1].value
        rows = [
            row.split(" & ")
            for row in matrix.removeprefix(r"\begin{bmatrix} ").removesuffix(r" \end{bmatrix}").split(r" \\ ")
        ]
        for names, values in zip(by_layer[layer.name], rows, strict=True):
            for weight, value in zip(names, values, strict=True):
                assert float(value) == pytest.approx(expected[weight], rel=1e-9, abs=1e-12)


def test_the_matrix_sums_are_the_gradients():
    """layerwise: Σ_p δ xᵀ, Σ_p δ and a shared bias's Σ over the neurons too are autograd's ∂E/∂W and ∂E/∂b.

    The deep example has two examples, per-neuron biases (h), a shared one (g) and a single output (o).
    """
    derivation = example("deep").derivation
    expected = autograd_gradients(derivation.spec)
    names = [[["w1", "w2"], ["w3", "w4"]], [["w5", "w6"], ["w7", "w8"]], [["w9", "w10"]]]
    for L, weights in enumerate(names):
        wanted = [[expected[name] for name in row] for row in weights]
        assert np.array(summed_outer(derivation, L), dtype=float) == pytest.approx(np.array(wanted), abs=1e-12)
    biases = [float(value) for value in summed_deltas(derivation, 0)]
    assert biases == pytest.approx([expected["b1"], expected["b2"]], abs=1e-12)
    assert float(shared_bias_gradient(derivation, 1)) == pytest.approx(expected["b3"], abs=1e-12)
    assert float(shared_bias_gradient(derivation, 2)) == pytest.approx(expected["b4"], abs=1e-12)


def test_the_layer_ratios_are_the_mean_sizes():
    """layerwise: mean |∂E/∂w| and mean |δ| of the output layer over the first's, from independent values."""
    spec = example("deep").spec
    gradients, values = autograd_gradients(spec), quantities(spec)
    output, first = ["w9", "w10"], ["w1", "w2", "w3", "w4"]
    expected = np.mean([abs(gradients[w]) for w in output]) / np.mean([abs(gradients[w]) for w in first])
    deltas = {neuron: [abs(values[f"delta_{neuron}@{p}"]) for p in (1, 2)] for neuron in ("o1", "h1", "h2")}
    expected_deltas = np.mean(deltas["o1"]) / np.mean(deltas["h1"] + deltas["h2"])
    derivation = example("deep").derivation
    assert float(weight_gradient_ratio(derivation)) == pytest.approx(expected, rel=1e-9)
    assert float(delta_ratio(derivation)) == pytest.approx(expected_deltas, rel=1e-9)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# Each activation and its derivative written with math, independently of functions.py (leaky ReLU with 0.01).
CURVES = {
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "softplus": (lambda x: math.log1p(math.exp(x)), _sigmoid),
    "elu": (lambda x: x if x > 0 else math.expm1(x), lambda x: 1.0 if x > 0 else math.exp(x)),
    "linear": (lambda x: x, lambda x: 1.0),
}


@pytest.mark.parametrize("name", list(CURVES))
def test_the_activation_samples_are_the_functions(name):
    """samples: 33 net inputs evenly from −4 to 4, each with f(net) and f'(net) as math computes them."""
    constant = Fraction(1, 100) if name == "leaky_relu" else None
    samples = activation_samples(name, constant, 4, 33)
    f, slope = CURVES[name]
    assert [float(x) for x, _, _ in samples] == [-4 + k / 4 for k in range(33)]
    for x, value, derivative in samples:
        assert float(value) == pytest.approx(f(float(x)), rel=1e-12, abs=1e-15)
        assert float(derivative) == pytest.approx(slope(float(x)), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["mazur", "softmax", "xor"])
def test_matrix_form_compiles_in_latex(name, tmp_path):
    run_derive("worksheet", name, "--matrix", "-o", str(tmp_path))
    for document in ("solutions", "worksheet"):
        log = compile_latex(tmp_path / f"{document}.tex")
        assert "Overfull \\hbox" not in log
    text = pdf_text(tmp_path / "solutions.pdf")
    assert "The matrix form" in text and "Repeating the step" in text


def test_train_table_and_plot(tmp_path):
    png, svg = tmp_path / "loss.png", tmp_path / "loss.svg"
    result = run_derive("train", "--steps", "2000", "--plot", str(png))
    steps = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+\d\.\d+$", result.stdout, flags=re.MULTILINE)]
    assert steps[:6] == [0, 1, 2, 3, 4, 5] and steps[-1] == 2000 and 10 in steps and 1000 in steps
    assert png.read_bytes().startswith(b"\x89PNG")
    run_derive("train", "--steps", "50", "--plot", str(svg))
    assert "<svg" in svg.read_text()


def test_plot_refuses_other_formats_before_training(tmp_path):
    target = tmp_path / "loss.pdf"
    result = run_derive("train", "--steps", "10", "--plot", str(target), check=False)
    assert result.returncode == 2 and "expected a .png or .svg" in result.stderr
    assert not target.exists() and result.stdout == ""


RULES = tomllib.loads((ROOT / "templates" / "i18n" / "en.toml").read_text(encoding="utf-8"))["rules"]


def layer(name, activation, weights, bias):
    return {"name": name, "activation": activation, "weights": weights, "bias": bias}


# Every activation and loss, each in a network of its own kind: (data, the rules its derivation cites)
EVERY_RULE = {
    "tanh, relu, sigmoid and linear, mean squared error": (
        {
            "loss": "mse",
            "layers": [
                layer("a", "tanh", [[0.1, -0.2], [0.3, 0.4]], [0.1, -0.1]),
                layer("b", "relu", [[0.7, 0.2], [0.3, 0.5]], 0.05),
                layer("c", "sigmoid", [[0.2, -0.3], [0.4, 0.1]], 0.1),
                layer("o", "linear", [[1.2, -0.4]], 0.0),
            ],
            "examples": [{"inputs": [1.0, 2.0], "targets": [0.5]}],
        },
        ["tanh", "relu", "logistic", "linear", "power", "sum_over_paths", "linearity"],
    ),
    "leaky ReLU, softplus and ELU, half squared error": (
        {
            "loss": "half_sse",
            "layers": [
                {**layer("a", "leaky_relu", [[0.1, -0.2], [0.3, 0.4]], [0.1, -0.1]), "negative_slope": 0.2},
                layer("b", "softplus", [[0.7, 0.2], [0.3, 0.5]], 0.05),
                layer("c", "elu", [[0.2, -0.3], [-0.4, 0.1]], -0.1),
                layer("o", "sigmoid", [[1.2, -0.4]], 0.0),
            ],
            "examples": [{"inputs": [1.0, 2.0], "targets": [0.5]}],
        },
        ["leaky_relu", "softplus", "elu", "logistic", "power", "sum_over_paths", "linearity"],
    ),
    "half squared error, sigmoid": (
        {
            "loss": "half_sse",
            "layers": [layer("o", "sigmoid", [[0.4, 0.45], [0.5, 0.55]], 0.6)],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.01, 0.99]}],
        },
        ["power", "logistic", "linearity"],
    ),
    "cross-entropy, sigmoid": (
        {
            "loss": "cross_entropy",
            "layers": [layer("o", "sigmoid", [[0.4, 0.45], [0.5, 0.55]], 0.6)],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.25, 1.0]}],
        },
        ["logarithm", "logistic"],
    ),
    "binary cross-entropy": (
        {
            "loss": "bce",
            "layers": [layer("o", "sigmoid", [[0.4, 0.45], [0.5, 0.55]], 0.6)],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.0, 1.0]}],
        },
        ["logarithm", "logistic"],
    ),
    "softmax with squared error": (
        {
            "loss": "half_sse",
            "layers": [layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.1)],
            "examples": [{"inputs": [0.5, 1.0], "targets": [0.2, 0.3, 0.5]}],
        },
        ["softmax"],
    ),
    "softmax with cross-entropy": (
        {
            "loss": "cross_entropy",
            "layers": [layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.1)],
            "examples": [{"inputs": [0.5, 1.0], "targets": [0, 1, 0]}],
        },
        ["softmax_cross_entropy"],
    ),
    "softmax with cross-entropy, targets not adding up to 1": (
        {
            "loss": "cross_entropy",
            "layers": [layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.1)],
            "examples": [{"inputs": [0.5, 1.0], "targets": [0.5, 0.25, 0]}],
        },
        ["softmax_cross_entropy"],
    ),
}
# the textbook symbol of each activation's slope in the matrix form
SLOPES = {
    "tanh": r"\tanh'(",
    "relu": r"\operatorname{ReLU}'(",
    "sigmoid": r"\sigma'(",
    "linear": r"\operatorname{id}'(",
    "leaky_relu": r"\operatorname{LReLU}'(",
    "softplus": r"\operatorname{softplus}'(",
    "elu": r"\operatorname{ELU}'(",
}


@pytest.mark.parametrize("name", list(EVERY_RULE))
def test_every_rule_and_activation_is_named_in_the_explanation(name):
    """Each factor's rule is stated in the catalog's words, each slope in the textbook's symbol."""
    data, rules = EVERY_RULE[name]
    spec = Network.from_dict(data, name="rules").spec
    text = explanation(spec, matrix=True)
    for rule in rules:
        words = RULES[rule].split("{")[0][:60]  # the sentence up to its first placeholder
        assert words in text, rule
    for activation in {layer["activation"] for layer in data["layers"]} - {"softmax"}:
        assert SLOPES[activation] + r"\mathbf" in text, activation
    if "relu" in rules:  # ReLU written as the textbook writes it, not as a case distinction
        assert r"= \max\left(0, \mathrm{net}_{b1}\right)" in text and r"\begin{cases}" not in text


def test_the_error_factors_keep_their_textbook_forms():
    """The mean's ½ stays outside the power rule's −2(t − out); out·Σt − t keeps the order it is derived in."""
    deep = explanation(example("deep").spec)
    assert (
        r"\frac{\partial E_{\text{total}}}{\partial \mathrm{out}_{o1}^{(1)}} = "
        r"\tfrac{1}{2} \left(- 2 \cdot \left(t_{o1}^{(1)} - \mathrm{out}_{o1}^{(1)}\right)\right)"
    ) in deep
    data, _ = EVERY_RULE["softmax with cross-entropy, targets not adding up to 1"]
    soft = explanation(Network.from_dict(data, name="soft").spec)
    assert (
        r"\frac{\partial E_{\text{total}}}{\partial \mathrm{net}_{o1}} = "
        r"\mathrm{out}_{o1} \cdot \left(t_{o1} + t_{o2} + t_{o3}\right) - t_{o1}"
    ) in soft
    # softmax with squared error: out_j · (∂E/∂out_j − Σ_k ∂E/∂out_k · out_k), each product as derived,
    # a product that starts with a minus sign subtracted ("a - (t - out) · out", never "+ -")
    data, _ = EVERY_RULE["softmax with squared error"]
    squared = explanation(Network.from_dict(data, name="squared").spec)
    slope = r"- (t_{o%d} - \mathrm{out}_{o%d})"
    assert (
        rf"\partial \mathrm{{net}}_{{o1}}}} = \mathrm{{out}}_{{o1}} \cdot \left({slope % (1, 1)} - "
        rf"\left({slope % (1, 1)} \cdot \mathrm{{out}}_{{o1}} {slope % (2, 2)} \cdot \mathrm{{out}}_{{o2}} - "
    ) in squared
    assert " + - " not in squared


# -- the figures read back: each plotted point is the textbook's value there ----------------------------------

TEXTBOOK = {  # f(net) and f'(net), from the textbooks' formulas (ReLU's slope at its kink: 0, derive's subgradient)
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0),
    "linear": (lambda x: x, lambda x: 1.0),
}
PLOT = re.compile(
    r"\\begin\{axis\}\[width=0\.6\\textwidth, height=4\.2cm, xmin=(-?\d+), xmax=(-?\d+),.*?"
    r"\\addplot\[thick, mark=none\] coordinates \{(.*?)\};\n\\addlegendentry\{\$(.*?)\$\}\n"
    r"\\addplot\[thick, dashed, mark=none\] coordinates \{(.*?)\};",
    re.S,
)


def four_decimals(text: str, value: float) -> bool:
    """``text`` is ``value`` rounded to 4 decimals, trailing zeros dropped, as the plots print a point."""
    return len(text.partition(".")[2]) <= 4 and abs(float(text) - value) <= 0.5e-4 + 1e-12


LEGENDS = {r"\sigma": "sigmoid", r"\tanh": "tanh", r"\operatorname{ReLU}": "relu", r"\operatorname{id}": "linear"}


@pytest.mark.parametrize("name", ["mazur", "deep", "softmax"])
def test_each_activation_plot_draws_the_function_and_its_slope_from_minus_4_to_4(name, tmp_path):
    """The solutions' pgfplots of each activation: 33 points a quarter apart from −4 to 4 (0, a ReLU's kink,
    among them), the axis spanning exactly those, f and f′ at each as the textbook computes them."""
    run_derive("worksheet", name, "-o", str(tmp_path))
    plots = PLOT.findall((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    drawn = [LEGENDS[legend] for *_, legend, _ in plots]
    assert sorted(drawn) == sorted({layer.activation for layer in example(name).spec.layers} - {"softmax"})
    for (low, high, function, _, slope), activation in zip(plots, drawn, strict=True):
        points = [re.findall(r"\((-?[\d.]+), (-?[\d.]+)\)", line) for line in (function, slope)]
        assert [x for x, _ in points[0]] == [x for x, _ in points[1]] == [f"{k / 4:g}" for k in range(-16, 17)], (
            "33 points, a quarter apart"
        )
        assert (low, high) == ("-4", "4")
        for line, textbook in zip(points, TEXTBOOK[activation], strict=True):
            assert all(four_decimals(y, textbook(float(x))) for x, y in line), activation


@pytest.mark.parametrize("rate", ["0.5", "0.01"])  # the worked example's, and one too slow to span decades
def test_the_training_curve_is_the_reference_runs_error_at_the_steps_it_draws(rate, tmp_path):
    """The worked example trained CURVE_STEPS (1,000) steps: the solutions' curve has every one of the first
    ten steps and then every tenth step (a hundredth of the run) to its last, each at the error the NumPy
    reference run reaches there, on a log axis when the error spans more than a factor of 100; the axis ends
    at the last step; the sentence gives the first and the last error; the Markdown's chart has the hundred
    and one evenly spread values to 6 decimals, as log10 when the error spans decades."""
    from derive import load
    from tests import reference_training as reference

    toml = run_derive("example").stdout
    assert "learning_rate = 0.5\n" in toml
    (tmp_path / "net.toml").write_text(toml.replace("learning_rate = 0.5\n", f"learning_rate = {rate}\n"))
    history, _ = reference.train(reference.from_spec(load(tmp_path / "net.toml").spec), 1000)
    log = max(history) / min(history) > 100
    assert log == (rate == "0.5")
    run_derive("worksheet", str(tmp_path / "net.toml"), "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    axis = re.search(r"xmin=0, xmax=(\d+), xlabel=\{step\}.*?\]\n\\addplot.*?coordinates \{\n(.*?)\};", tex, re.S)
    points = [(int(step), float(loss)) for step, loss in re.findall(r"\((\d+), ([-\d.e]+)\)", axis[2])]
    assert int(axis[1]) == 1000 and ("ymode=log" in axis[0]) == log
    assert [step for step, _ in points] == [*range(11), *range(20, 1001, 10)]
    for step, loss in points:
        assert loss == pytest.approx(history[step], rel=1e-9), step
    said = re.search(r"the total error falls from \$([\d.]+)\$ to \$([\d.]+)\$:", tex)
    assert [float(said[1]), float(said[2])] == pytest.approx([history[0], history[-1]], abs=0.5e-9)
    markdown = run_derive("explain", str(tmp_path / "net.toml")).stdout
    chart = re.search(r'title "(log10 )?E_total"\n  x-axis "step" 0 --> (\d+)\n  line \[(.*?)\]', markdown)
    assert bool(chart[1]) == log and int(chart[2]) == 1000
    shown = chart[3].split(", ")
    assert all(len(value.partition(".")[2]) <= 6 for value in shown), "6 decimals at most"
    drawn = [math.log10(history[10 * k]) if log else history[10 * k] for k in range(101)]
    assert [float(value) for value in shown] == pytest.approx(drawn, abs=0.5e-6 + 1e-12)


def test_a_computation_graphs_labels_sit_on_the_outer_side_of_their_branch(tmp_path):
    """In every computation graph of the full solutions, an edge's label is written below it when the edge
    lies below the graph's centre line (its two ends' heights sum below 0), above it otherwise: the
    branches' labels face outwards, clear of each other where the branches meet."""
    run_derive("worksheet", "--detail", "full", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    graphs = re.findall(r"quantity/\.style=.*?\\end\{tikzpicture\}", tex, re.S)
    assert len(graphs) == len(example().steps(detail="full").backward)  # one for each gradient derived
    sides = []
    for graph in graphs:
        height = {
            node: float(y)
            for node, y in re.findall(r"\\node\[quantity\] \(([\w-]+)\) at \([\d.]+, (-?[\d.]+)\)", graph)
        }
        for source, side, target in re.findall(
            r"\\draw\[->\] \(([\w-]+)\) -- node\[local, (\w+), pos=[\d.]+\]\s*\{.*?\} \(([\w-]+)\);", graph
        ):
            sides.append(side)
            assert side == ("below" if height[source] + height[target] < 0 else "above"), (source, target)
    assert {"above", "below"} <= set(sides)  # w1…w4's graphs branch through both outputs


@pytest.mark.parametrize("name", ["mazur", "softmax", "cnn", "rnn"])
def test_a_computation_graph_runs_level_by_level_from_the_parameter_to_the_error(name, tmp_path):
    """In every computation graph of the full solutions the parameter stands at level 0 and E_total at the
    last level, and each edge (one local derivative) joins a level to the next: no level is skipped, a
    softmax layer's (net inputs straight to E_total) included."""
    run_derive("worksheet", name, "--detail", "full", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    for graph in re.findall(r"quantity/\.style=.*?\\end\{tikzpicture\}", tex, re.S):
        placed = re.findall(r"\\node\[quantity\] \(([\w-]+)\) at \((\d+), -?[\d.]+\)", graph)
        level = {node: int(x) for node, x in placed}
        edges = re.findall(r"\\draw\[->\] \(([\w-]+)\) -- node\[local.*?\(([\w-]+)\);", graph)
        assert len(level) == graph.count(r"\node[quantity]") and len(edges) == graph.count(r"\draw[->]")
        assert edges and all(level[target] - level[source] == 1 for source, target in edges), edges
        parameter = next(node for node in level if re.fullmatch(r"[wb]\d+", node))
        assert level[parameter] == 0 and level["E_total"] == max(level.values()), level
        assert sorted(set(level.values())) == list(range(level["E_total"] + 1))


@pytest.mark.parametrize("name", ["mazur", "softmax", "deep", "cnn", "rnn"])
def test_a_computation_graphs_columns_are_centred_one_apart(name, tmp_path):
    """Each level's quantities stand one apart, centred on the graph's middle line."""
    run_derive("worksheet", name, "--detail", "full", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    graphs = re.findall(r"quantity/\.style=.*?\\end\{tikzpicture\}", tex, re.S)
    if name == "cnn":
        assert any(len(re.findall(r"\\node\[quantity\] \(net_c", graph)) == 4 for graph in graphs)
    for graph in graphs:
        placed = re.findall(r"\\node\[quantity\] \(([\w-]+)\) at \((\d+), (-?[\d.]+)\)", graph)
        assert len(placed) == graph.count(r"\node[quantity]")  # every node read (a cnn's net_c1-11 too)
        for level in {x for _, x, _ in placed}:
            heights = sorted(float(y) for _, x, y in placed if x == level)
            assert sum(heights) == pytest.approx(0) and all(
                b - a == pytest.approx(1) for a, b in itertools.pairwise(heights)
            ), heights
        if name == "cnn":  # a kernel entry acts at 9 positions: four rows drawn, the others alike
            assert max(sum(x == level for _, x, _ in placed) for level in {x for _, x, _ in placed}) <= 4


def test_the_graph_of_a_network_of_several_examples_says_it_draws_example_1():
    """deep has two examples: the first graph says it draws the first example's paths (the sum over the
    examples is in the working); the worked example, of one example, says nothing of examples."""
    from tests.test_reading_meaning import catalog

    sentences = catalog()
    assert sentences["graph_intro"].format(example=1) in run_derive("explain", "deep", "--detail", "full").stdout
    assert sentences["graph_intro_one"] in run_derive("explain", "--detail", "full").stdout


def test_the_graph_of_a_convolution_over_several_examples_says_it_draws_example_1(tmp_path):
    """Two filters over two images (tests/test_conv.py): a kernel entry's graph, drawn as its terms' paths,
    says it draws example 1, as a dense network's does."""
    from tests.test_conv import two_filters_avgpool
    from tests.test_reading_meaning import catalog

    text = run_derive("explain", str(two_filters_avgpool().write(tmp_path, "two")), "--detail", "full").stdout
    sentences = catalog()
    assert sentences["graph_intro"].format(example=1) in text
    assert sentences["graph_intro_one"] not in text


def test_where_paths_fan_out_and_in_again_a_label_sits_a_quarter_along_its_edge(tmp_path):
    """In b1's graph (one bias into both hidden neurons, each into both outputs) the edges out_h → net_o
    cross midway; each of those edges leaves a quantity with several edges out and enters one with several
    in, and its label is written a quarter of the way along, clear of the crossing; every other label
    halfway. The worked example's other graphs have no such edge."""
    run_derive("worksheet", "--detail", "full", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    quarters = 0
    for graph in re.findall(r"quantity/\.style=.*?\\end\{tikzpicture\}", tex, re.S):
        edges = re.findall(r"\\draw\[->\] \(([\w-]+)\) -- node\[local, \w+, pos=([\d.]+)\]", graph)
        targets = re.findall(r"\\draw\[->\] \([\w-]+\) -- node\[local.*?\(([\w-]+)\);", graph)
        out_of = {source: sum(s == source for s, _ in edges) for source, _ in edges}
        into = {target: targets.count(target) for target in targets}
        for (source, position), target in zip(edges, targets, strict=True):
            crossing = out_of[source] > 1 and into[target] > 1
            assert float(position) == (0.25 if crossing else 0.5), (source, target)
            quarters += crossing
    assert quarters == 4  # out_h1 → net_o1, out_h1 → net_o2, out_h2 → net_o1, out_h2 → net_o2


@pytest.mark.parametrize("name", ["mazur", "softmax", "deep", "cnn", "rnn"])
def test_a_computation_graphs_picture_is_as_tall_as_its_levels(name):
    """The page draws each graph in a picture that holds every quantity's box and leaves no empty level
    below the lowest (the picture's height comes from the graph's levels)."""
    from derive.outputs.diagram import computation_svg

    doc = build(example(name).derivation, detail="full")
    graphs = [step.graph for section in doc.backward for step in section.gradients if step.graph]
    assert graphs
    for graph in graphs:
        svg = computation_svg(graph, "graph", "g")
        height = float(re.search(r'<svg[^>]* height="([\d.]+)"', svg)[1])
        boxes = [(float(y), float(h)) for y, h in re.findall(r'<rect[^>]* y="([\d.]+)"[^>]* height="([\d.]+)"', svg)]
        tops = sorted({y for y, _ in boxes})
        level = min((b - a for a, b in itertools.pairwise(tops)), default=height)  # two levels' distance
        lowest = max(y + h for y, h in boxes)
        assert lowest <= height < lowest + level, (lowest, height, level)


def test_a_softmax_output_joins_e_total_by_its_net_input_in_every_graph(tmp_path):
    """A softmax layer's outputs all depend on each net input, so its graphs go from each net input
    straight to E_total, with no out node of that layer."""
    run_derive("worksheet", "softmax", "--detail", "full", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    output = example("softmax").spec.layers[-1]
    assert output.activation == "softmax"
    for graph in re.findall(r"quantity/\.style=.*?\\end\{tikzpicture\}", tex, re.S):
        assert not re.search(rf"\\node\[quantity\] \(out_{output.name}", graph)
        assert re.search(rf"\(net_{output.name}\d+\) -- node\[local.*?\(E_total\);", graph)


def _bmatrix(body: str) -> np.ndarray:
    return np.array([[float(entry) for entry in row.split("&")] for row in body.split(r"\\")])


def _evaluated(substituted: str, matrices: list[np.ndarray]) -> np.ndarray:
    """A line of the matrix form with its numbers substituted, worked out: ⊙ entry by entry, two matrices
    side by side multiplied, \\tfrac{p}{q} a scalar; read as arithmetic of names and numbers only."""
    import ast
    import operator

    text = re.sub(r"\\tfrac\{(\d+)\}\{(\d+)\}", r"(\1/\2) *", substituted)
    text = text.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\odot", "*")
    text = re.sub(r"(M\d+|\))\s+(?=M\d+|\()", r"\1 @ ", text)  # juxtaposition: a matrix product
    operations = {
        ast.Mult: operator.mul,
        ast.MatMult: operator.matmul,
        ast.Sub: operator.sub,
        ast.Div: operator.truediv,
    }

    def value(node: ast.expr) -> np.ndarray | float:
        if isinstance(node, ast.BinOp):
            return operations[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Name):
            return matrices[int(node.id[1:])]
        assert isinstance(node, ast.Constant), ast.dump(node)
        return node.value

    return value(ast.parse(text, mode="eval").body)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("loss", "said", "formula"),
    [
        ("cross_entropy", "matrix_softmax", r"\left(\mathbf{out}_{o} - \mathbf{t}\right)"),
        (
            "half_sse",
            "matrix_softmax_jacobian",
            r"J_{\operatorname{softmax}}^{\top} \nabla_{\mathbf{out}_{o}} E_{total}",
        ),
    ],
)
def test_a_softmax_layers_error_signals_are_introduced_as_their_formula_works_them(
    tmp_path, language, loss, said, formula
):
    """Cross-entropy against one-hot targets: δ = out − t, "straight from the outputs and the targets";
    any other error: δ = Jᵀ∇E, each output depending on every net input, and the sentence says so."""
    from derive import load
    from tests.test_reading_meaning import catalog

    file = tmp_path / "softmax.toml"
    file.write_text(run_derive("example", "softmax").stdout.replace('"cross_entropy"', f'"{loss}"', 1))
    text = explanation(load(file).spec, matrix=True, language=language)
    sentences = {key: catalog(language)[key] for key in ("matrix_softmax", "matrix_softmax_jacobian")}
    start = text.index(sentences[said])
    assert all(other not in text for key, other in sentences.items() if key != said)
    line = text[text.index("$$", start) + 2 : text.index("$$", text.index("$$", start) + 2)].strip()
    _, written, *substituted, value = line.split(" = ")
    assert written == formula and value.startswith(r"\begin{bmatrix}")
    # out − t is worked with its numbers; Jᵀ∇E is not written out, its value follows the formula
    assert len(substituted) == (1 if said == "matrix_softmax" else 0), line


_DE = r"\frac{\partial E_{\text{total}}}{\partial "


def _per_example(lines: list[str]) -> list[str]:
    """Each line with ``(P)`` written once for each of two examples, ``(1)`` then ``(2)``."""
    return [line.replace("(P)", f"({p})") for line in lines for p in ((1, 2) if "(P)" in line else (0,))]


MATRIX_FORMULAS = {
    # δ = ∇E ⊙ f'(net) at the output, (Wᵀδ above) ⊙ f'(net) below; ∂E/∂W = δ · (the layer's input)ᵀ;
    # ∂E/∂b = 1ᵀδ for a bias the layer's neurons share, δ for one each; over examples, summed
    "mazur": [
        r"\boldsymbol{\delta}_{o} = \nabla_{\mathbf{out}_{o}} E_{total} \odot \sigma'(\mathbf{net}_{o})",
        _DE + r"W_{o}} = \boldsymbol{\delta}_{o} \, \mathbf{out}_{h}{}^{\top}",
        _DE + r"b_{2}} = \mathbf{1}^{\top} \boldsymbol{\delta}_{o}",
        r"\boldsymbol{\delta}_{h} = \left(W_{o}^{\top} \boldsymbol{\delta}_{o}\right) \odot \sigma'(\mathbf{net}_{h})",
        _DE + r"W_{h}} = \boldsymbol{\delta}_{h} \, \mathbf{i}{}^{\top}",
        _DE + r"b_{1}} = \mathbf{1}^{\top} \boldsymbol{\delta}_{h}",
    ],
    "deep": _per_example(
        [
            r"\boldsymbol{\delta}_{o}^{(P)} = \nabla_{\mathbf{out}_{o}^{(P)}} E_{total} \odot "
            r"\operatorname{id}'(\mathbf{net}_{o}^{(P)})",
            r"\left(" + _DE + r"W_{o}}\right)^{(P)} = \boldsymbol{\delta}_{o}^{(P)} \, \mathbf{out}_{g}^{(P)}{}^{\top}",
            _DE + r"W_{o}} = \left(" + _DE + r"W_{o}}\right)^{(1)} + \left(" + _DE + r"W_{o}}\right)^{(2)}",
            _DE + r"b_{4}} = \mathbf{1}^{\top} \sum_p \boldsymbol{\delta}_{o}^{(p)}",
            r"\boldsymbol{\delta}_{g}^{(P)} = \left(W_{o}^{\top} \boldsymbol{\delta}_{o}^{(P)}\right) \odot "
            r"\operatorname{ReLU}'(\mathbf{net}_{g}^{(P)})",
            r"\left(" + _DE + r"W_{g}}\right)^{(P)} = \boldsymbol{\delta}_{g}^{(P)} \, \mathbf{out}_{h}^{(P)}{}^{\top}",
            _DE + r"W_{g}} = \left(" + _DE + r"W_{g}}\right)^{(1)} + \left(" + _DE + r"W_{g}}\right)^{(2)}",
            _DE + r"b_{3}} = \mathbf{1}^{\top} \sum_p \boldsymbol{\delta}_{g}^{(p)}",
            r"\boldsymbol{\delta}_{h}^{(P)} = \left(W_{g}^{\top} \boldsymbol{\delta}_{g}^{(P)}\right) \odot "
            r"\operatorname{ReLU}'(\mathbf{net}_{h}^{(P)})",
            r"\left(" + _DE + r"W_{h}}\right)^{(P)} = \boldsymbol{\delta}_{h}^{(P)} \, \mathbf{i}^{(P)}{}^{\top}",
            _DE + r"W_{h}} = \left(" + _DE + r"W_{h}}\right)^{(1)} + \left(" + _DE + r"W_{h}}\right)^{(2)}",
            _DE + r"\mathbf{b}_{h}} = \sum_p \boldsymbol{\delta}_{h}^{(p)}",
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(MATRIX_FORMULAS))
def test_the_matrix_form_writes_each_layers_textbook_formulas(name):
    """Each line's symbol and formula, as a textbook writes the vectorised backward pass (the numbers
    substituted into them are checked by test_every_line_of_the_matrix_form_holds_with_its_numbers)."""
    text = run_derive("explain", name, "--matrix").stdout
    start = text.index("## The matrix form")
    matrix = text[start : text.find("\n## ", start)]
    lines = [line for line in matrix.splitlines() if " = " in line and not line[0].isalpha()]
    assert [" = ".join(line.split(" = ")[:2]) for line in lines] == MATRIX_FORMULAS[name]
    for line in lines:  # then the numbers substituted, if the line has them, and the value
        *substituted, value = line.split(" = ")[2:]
        assert all(r"\begin{bmatrix}" in part for part in substituted) and len(substituted) <= 1, line
        assert re.fullmatch(r"\\begin\{bmatrix\} .* \\end\{bmatrix\}|-?\d+\.\d+", value), line


@pytest.mark.parametrize(("name", "first_weights"), [("mazur", {"o": 5, "h": 1}), ("deep", {"o": 9, "g": 5, "h": 1})])
def test_each_matrix_entry_sentence_names_its_weight_chain_and_value(name, first_weights):
    """Each layer's sentence "entry (1, 1) of ∂E/∂W is δ_1 · x_1, that is ∂E/∂w = value": the layer's
    matrix, its first neuron's δ times the layer's first input (summed over examples when there are
    several), the weight numbered first into that neuron, and its gradient, which autograd computes alike."""
    text = run_derive("explain", name, "--matrix").stdout
    network = example(name)
    gradients = autograd_gradients(network.spec)
    multi = len(network.spec.examples) > 1
    inputs = {"o": r"\mathrm{out}_{g1}" if multi else r"\mathrm{out}_{h1}", "g": r"\mathrm{out}_{h1}", "h": "i_{1}"}
    partial = re.escape(r"\frac{\partial E_{\text{total}}}{\partial ")
    entry = rf"^Entry \$\(j, k\)\$ of \${partial}W_\{{(\w+)\}}\}}\$ .*?"
    sentence = rf"entry \$\(1, 1\)\$ is \$(.*?)\$, that is \${partial}w_\{{(\d+)\}}\}} = (-?[\d.]+)\$\."
    found = re.findall(entry + sentence, text, re.M)
    assert [layer for layer, *_ in found] == list(first_weights)
    for layer, chain, weight, value in found:
        each = r"^{(p)}" if multi else ""
        term = rf"\delta_{{{layer}1}}{each} \cdot {inputs[layer]}{each}"
        assert chain == (rf"\sum_p {term}" if multi else term)
        assert int(weight) == first_weights[layer]
        assert math.isclose(float(value), gradients[f"w{weight}"], rel_tol=1e-6, abs_tol=1e-9), layer


@pytest.mark.parametrize("name", ["mazur", "deep", "softmax", "xor", "softmax, squared error", "softmax, averaged"])
def test_every_line_of_the_matrix_form_holds_with_its_numbers(name, tmp_path):
    """Each line symbol = formula = numbers substituted = value of the matrix form: the substituted
    matrices, multiplied as written (⊙ entry by entry, a product, a difference), give the value shown, to
    the digits shown; a δ vector's value is the δs derived in the working."""
    source = name
    if name == "softmax, squared error":  # one-hot targets, but δ = Jᵀ∇E, not out − t
        file = tmp_path / "squared.toml"
        file.write_text(run_derive("example", "softmax").stdout.replace('"cross_entropy"', '"half_sse"', 1))
        source = str(file)
    if name == "softmax, averaged":  # δ = (out − t) / 2 of each of two examples
        file = tmp_path / "averaged.toml"
        text = run_derive("example", "softmax").stdout.replace('reduction = "sum"', 'reduction = "mean"', 1)
        file.write_text(text + "\n[[examples]]\ninputs = [0.3, 0.9]\ntargets = [1, 0, 0]\n")
        source = str(file)
    text = run_derive("explain", source, "--matrix").stdout
    start = text.index("## The matrix form")
    matrix = text[start : text.find("\n## ", start)]
    assert name != "softmax, squared error" or r"J_{\operatorname{softmax}}^{\top}" in matrix
    assert name != "softmax, averaged" or all(
        rf"= \tfrac{{1}}{{2}} \left(\mathbf{{out}}_{{o}}^{{({p})}} - \mathbf{{t}}^{{({p})}}\right) =" in matrix
        for p in (1, 2)
    )
    checked = 0
    for line in matrix.splitlines():
        parts = line.split(" = ")
        if len(parts) != 4 or r"\begin{bmatrix}" not in parts[2]:
            continue
        matrices: list[np.ndarray] = []

        def placeholder(found: re.Match, matrices: list[np.ndarray] = matrices) -> str:
            matrices.append(_bmatrix(found[1]))
            return f"M{len(matrices) - 1}"

        substituted = re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", placeholder, parts[2])
        value = _bmatrix(re.fullmatch(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", parts[3].strip())[1])
        worked = _evaluated(substituted, matrices)
        assert worked.shape == value.shape and np.allclose(worked, value, rtol=1e-7, atol=2e-9), line
        checked += 1
    assert checked >= 2 * len(example(name.split(",")[0]).spec.layers) - 1  # a δ and a weight gradient per layer


@pytest.mark.parametrize("network", ["softmax", "deep"])
def test_the_matrix_form_on_a_worksheet_adds_no_blank(tmp_path, network):
    """The matrix form restates the working by layers: a worksheet with it has the same blanks, each
    numbered once, as the worksheet without it (a matrix line is never a blank to fill), on paper and on
    the page, whose worksheet shows the matrix form."""
    tags, inputs = {}, {}
    for form in ("plain", "matrix"):
        matrix = ["--matrix"] if form == "matrix" else []
        run_derive("worksheet", network, *matrix, "-o", str(tmp_path / form))
        sheet = (tmp_path / form / "worksheet.tex").read_text(encoding="utf-8")
        tags[form] = [int(number) for number in re.findall(r"\\blanktag\{(\d+)\}", sheet)]
        run_derive("html", network, "--worksheet", *matrix, "-o", str(tmp_path / f"{form}.html"))
        page = (tmp_path / f"{form}.html").read_text(encoding="utf-8")
        inputs[form] = [int(number) for number in re.findall(r'data-blank="(\d+)"', page)]
    assert tags["plain"] and len(set(tags["plain"])) == len(tags["plain"])
    assert len(set(tags["matrix"])) == len(tags["matrix"]) and sorted(tags["matrix"]) == sorted(tags["plain"])
    assert 'id="matrix"' in page and inputs["plain"] and inputs["matrix"] == inputs["plain"]


def test_the_matrix_forms_gradient_over_two_examples_is_the_sum_of_each_examples():
    """deep has two examples: each weight matrix's gradient is written as its example 1 and example 2
    terms summed, and the matrix shown equals the sum of the two matrices worked before it."""
    text = run_derive("explain", "deep", "--matrix").stdout
    partial = r"\\frac\{\\partial E_\{\\text\{total\}\}\}\{\\partial W_\{(\w+)\}\}"
    matrix = r"\\begin\{bmatrix\} (.*?) \\end\{bmatrix\}"
    each = {
        (layer, int(p)): rows
        for layer, p, rows in re.findall(rf"^\\left\({partial}\\right\)\^\{{\((\d)\)\}} = .* = {matrix}$", text, re.M)
    }
    summed = re.findall(
        rf"^{partial} = \\left\({partial}\\right\)\^\{{\(1\)\}} \+ \\left\({partial}\\right\)\^\{{\(2\)\}} = {matrix}$",
        text,
        re.M,
    )
    assert summed and {layer for layer, *_ in summed} == {layer for layer, _ in each}

    def values(rows: str) -> list[list[Fraction]]:
        return [[Fraction(entry) for entry in row.split(" & ")] for row in rows.split(r" \\ ")]

    for layer, first, second, rows in summed:
        assert layer == first == second
        added = [
            [a + b for a, b in zip(r1, r2, strict=True)]
            for r1, r2 in zip(values(each[layer, 1]), values(each[layer, 2]), strict=True)
        ]
        shown = values(rows)
        assert all(
            abs(s - a) <= Fraction(2, 10**9)
            for row_s, row_a in zip(shown, added, strict=True)
            for s, a in zip(row_s, row_a, strict=True)
        ), layer
