"""Convolution and pooling layers: derive's gradients against a NumPy forward pass written here with
explicit loops (central differences), against sympy.diff of the composed loss, and against the
textbook's closed forms (∂E/∂k_ab = Σ_rs δ_rs x_{r+a,s+b}; the δ passed down is the full convolution
of the δ map with the flipped kernel).
"""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive.core.chain import Derivation
from derive.errors import DeriveError
from derive.spec.checks import from_mapping
from derive.spec.files import load_builtin, load_path
from tests.cnn_reference import Net, at_60_digits, close
from tests.conftest import run_derive

IMAGE = [[0.2, 0.8, 0.6, 0.1], [0.5, -0.1, 0.9, 0.0], [0.3, 0.4, 0.3, 0.7], [0.1, 0.2, -0.5, 0.6]]
TWO_CHANNELS = [
    [
        [0.3, -0.2, 0.5, 0.1, 0.9],
        [0.7, 0.2, -0.4, 0.6, 0.0],
        [-0.1, 0.8, 0.3, -0.6, 0.4],
        [0.5, 0.1, 0.9, 0.2, -0.3],
        [0.2, -0.7, 0.6, 0.4, 0.8],
    ],
    [
        [-0.5, 0.4, 0.1, 0.3, -0.2],
        [0.6, -0.3, 0.7, 0.2, 0.5],
        [0.1, 0.9, -0.4, 0.8, 0.3],
        [-0.2, 0.3, 0.5, -0.1, 0.7],
        [0.4, 0.6, 0.2, 0.9, -0.5],
    ],
]


def builtin_cnn() -> Net:
    """The built-in example ``cnn``, written again from its description."""
    layers = [
        {
            "type": "conv2d",
            "name": "c",
            "activation": "relu",
            "input_shape": [4, 4],
            "kernels": [[[0.5, -0.25], [0.25, 0.75]]],
            "bias": [0.1],
        },
        {"type": "maxpool", "name": "p", "size": 2, "stride": 1},
        {"type": "dense", "name": "o", "activation": "sigmoid", "weights": [[0.4, -0.3, 0.2, 0.5]], "bias": [-0.2]},
    ]
    return Net(layers, [(IMAGE, [1.0])])


def two_filters_avgpool() -> Net:
    """Two filters, an average pooling, two sigmoid outputs, two examples."""
    layers = [
        {
            "type": "conv2d",
            "name": "c",
            "activation": "tanh",
            "input_shape": [4, 4],
            "kernels": [[[0.3, -0.2], [0.1, 0.4]], [[-0.5, 0.2], [0.6, 0.1]]],
            "bias": [0.05, -0.1],
        },
        {"type": "avgpool", "name": "p", "size": 3},
        {
            "type": "dense",
            "name": "o",
            "activation": "sigmoid",
            "weights": [[0.7, -0.4], [0.2, 0.9]],
            "bias": [0.1, -0.3],
        },
    ]
    second = [[0.1 * ((3 * r + 5 * s) % 7) - 0.3 for s in range(4)] for r in range(4)]
    return Net(layers, [(IMAGE, [1.0, 0.0]), (second, [0.2, 0.6])])


def channels_stride_padding() -> Net:
    """Two input channels, padding 1 and stride 2, then a second convolution over the two filters' maps."""
    layers = [
        {
            "type": "conv2d",
            "name": "c",
            "activation": "tanh",
            "input_shape": [2, 5, 5],
            "kernels": [
                [
                    [[0.2, -0.1, 0.3], [0.4, 0.1, -0.2], [0.0, 0.3, 0.1]],
                    [[-0.3, 0.2, 0.1], [0.1, -0.4, 0.2], [0.3, 0.1, -0.1]],
                ],
                [
                    [[0.1, 0.2, -0.3], [-0.2, 0.3, 0.1], [0.2, -0.1, 0.4]],
                    [[0.3, 0.1, 0.2], [0.2, -0.2, -0.1], [-0.4, 0.1, 0.3]],
                ],
            ],
            "bias": 0.05,
            "stride": 2,
            "padding": 1,
        },
        {
            "type": "conv2d",
            "name": "d",
            "activation": "sigmoid",
            "kernels": [[[[0.5, -0.3], [0.2, 0.4]], [[-0.2, 0.6], [0.3, -0.1]]]],
            "bias": [0.1],
        },
        {"type": "maxpool", "name": "p", "size": 2},
        {"type": "dense", "name": "o", "activation": "linear", "weights": [[1.5]], "bias": [0.2]},
    ]
    return Net(layers, [(TWO_CHANNELS, [0.4])])


NETWORKS = {
    "one filter, max pooling": builtin_cnn,
    "two filters, average pooling": two_filters_avgpool,
    "channels, stride, padding": channels_stride_padding,
}


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_derive_gradients_equal_central_differences_of_a_numpy_forward_pass(make, tmp_path):
    net = make()
    path = net.write(tmp_path, "net")
    found = json.loads(run_derive("gradients", str(path), "--json").stdout)
    expected = net.central_differences()
    assert list(found["gradients"]) == list(expected)  # the numbering: kernels, dense weights, then biases
    for name, value in expected.items():
        assert close(found["gradients"][name], value), (name, found["gradients"][name], value)
    assert close(found["loss"], net.loss(), 1e-12)


def test_the_builtin_example_is_the_network_the_issue_describes():
    spec = load_builtin("cnn")
    assert [layer.kind for layer in spec.layers] == ["conv2d", "maxpool", "dense"]
    assert [layer.activation for layer in spec.layers if layer.kind != "maxpool"] == ["relu", "sigmoid"]
    assert spec.layers[0].size == 1  # one kernel
    net = builtin_cnn()
    derivation = Derivation(spec)
    expected = net.central_differences()
    for name, gradient in derivation.gradients.items():
        assert close(gradient.value, expected[name]), name


@pytest.mark.parametrize("make", [builtin_cnn, two_filters_avgpool], ids=["max", "average"])
def test_every_gradient_is_sympy_diff_of_the_composed_loss(make, tmp_path):
    net = make()
    net.examples = net.examples[:1]  # one example keeps the composed loss quick to differentiate
    spec = load_path(net.write(tmp_path, "net"))
    derivation = Derivation(spec)
    graph = derivation.graph
    loss, values = graph.composed_loss, graph.numbers()
    with mpmath.workdps(40):
        for name, gradient in derivation.gradients.items():
            symbol = graph.parameters[name]
            reference = mpmath.mpf(str(sp.N(sp.diff(loss, symbol).xreplace(values), 40)))
            composed = at_60_digits(gradient.expr, values)
            assert abs(reference - gradient.precise) < mpmath.mpf(10) ** -30, name
            assert abs(composed - reference) < mpmath.mpf(10) ** -30, name


def test_a_kernel_entry_is_the_sum_over_positions_of_delta_times_the_input_it_meets():
    """∂E/∂k_ab = Σ_rs δ_rs · x_{r+a, s+b}: the valid cross-correlation of the input with the δ map."""
    derivation = Derivation(load_builtin("cnn"))
    deltas = np.array([float(d.precise) for d in derivation.deltas[0][0]]).reshape(3, 3)
    x = np.array(IMAGE)
    for a in range(2):
        for b in range(2):
            expected = sum(deltas[r, s] * x[r + a, s + b] for r in range(3) for s in range(3))
            name = f"w{2 * a + b + 1}"
            assert close(derivation.gradients[name].value, expected, 1e-12)
            assert len(derivation.gradients[name].chain) == 9  # one term per position of the feature map


def test_max_pooling_routes_delta_to_the_first_maximum_and_average_pooling_shares_it():
    derivation = Derivation(load_builtin("cnn"))
    conv = [d for d in derivation.deltas[0][0]]
    zero = [d.neuron.name for d in conv if d.precise == 0]
    # c1,23 is the maximum of two windows, c1,12 and c1,21 of one each; the rest get nothing
    assert sorted(set(d.neuron.name for d in conv) - set(zero)) == ["c1,12", "c1,21", "c1,23"]
    paths = {d.neuron.name: len(d.factors[0].paths) for d in conv}
    assert paths["c1,23"] == 2 and paths["c1,12"] == 1
    tie = builtin_cnn()
    tie.examples = [([[1.0, 1.0, 0.0, 0.0]] * 4, [1.0])]
    spec = from_mapping(
        {
            "layers": [dict(layer) for layer in tie.layers],
            "examples": [{"inputs": tie.examples[0][0], "targets": [1.0]}],
        }
    )
    first = Derivation(spec).deltas[0][0]
    routed = [d.neuron.name for d in first if d.factors[0].paths]
    assert routed[0] == "c1,11"  # a tie goes to the first maximum in row order
    average = Derivation(load_path_dict(two_filters_avgpool()))
    shares = {link.expr for d in average.deltas[0][0] for _, link in d.factors[0].paths}
    assert shares == {sp.Rational(1, 9)}


def load_path_dict(net: Net):
    data = {
        "learning_rate": net.learning_rate,
        "layers": net.layers,
        "examples": [{"inputs": i, "targets": t} for i, t in net.examples],
    }
    return from_mapping(json.loads(json.dumps(data, default=lambda a: np.asarray(a).tolist())))


def test_the_delta_passed_down_is_the_full_convolution_of_the_delta_map_with_the_flipped_kernel():
    """∂E/∂out_c = Σ_f full_correlation(δ_d[f], rot180(K_d[f, c])) for stride 1, no padding."""
    net = channels_stride_padding()
    derivation = Derivation(load_path_dict(net))
    second = net.layers[1]
    kernels = np.array(second["kernels"])  # filters, channels, rows, columns
    rows, columns = 3, 3  # layer c's maps: (5 + 2 − 3) / 2 + 1
    delta_d = np.array([float(d.precise) for d in derivation.deltas[0][1]]).reshape(1, 2, 2)
    found = np.array([float(d.factors[0].precise) for d in derivation.deltas[0][0]]).reshape(2, rows, columns)
    for c in range(2):
        expected = np.zeros((rows, columns))
        flipped = kernels[0, c, ::-1, ::-1]
        padded = np.zeros((2 + 2, 2 + 2))
        padded[1:3, 1:3] = delta_d[0]
        for r in range(rows):
            for s in range(columns):
                expected[r, s] = sum(padded[r + a, s + b] * flipped[a, b] for a in range(2) for b in range(2))
        np.testing.assert_allclose(found[c], expected, rtol=1e-12, atol=1e-15)


def test_parameters_are_numbered_filter_by_filter_channel_by_channel_row_by_row():
    spec = load_path_dict(channels_stride_padding())
    values = spec.parameters()
    first = channels_stride_padding().layers[0]["kernels"]
    assert [float(values[f"w{n + 1}"]) for n in range(36)] == list(np.ravel(first))
    assert float(values["w37"]) == 0.5 and float(values["w45"]) == 1.5
    assert [name for name in values if name.startswith("b")] == ["b1", "b2", "b3"]


BASE = {
    "layers": [
        {
            "type": "conv2d",
            "name": "c",
            "activation": "relu",
            "input_shape": [3, 3],
            "kernels": [[[0.5, -0.5], [0.25, 1.0]]],
            "bias": [0.1],
        },
        {"type": "maxpool", "name": "p", "size": 2},
        {"name": "o", "activation": "sigmoid", "weights": [[0.3]], "bias": [0.0]},
    ],
    "examples": [{"inputs": [[0.1, 0.2, 0.3], [0.0, -0.1, 0.4], [0.5, 0.2, -0.3]], "targets": [1.0]}],
}


def changed(path: str, value):
    data = json.loads(json.dumps(BASE))
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key", "words"),
    [
        ("layers.0.kernels", [[[1, 2, 3, 4], [1, 2, 3, 4]]], "layers[0].kernels", "larger than"),
        ("layers.0.stride", 2, "layers[0].stride", "does not tile"),
        ("layers.1.size", 3, "layers[1].size", "larger than"),
        ("layers.0.kernels", [[[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]], "layers[0].kernels[1]", "2×2"),
        ("layers.0.kernels", [[[[1, 2], [3, 4]], [[1, 2], [3, 4]]]], "layers[0].kernels[0]", "channels"),
        ("layers.0.input_shape", [3], "layers[0].input_shape", "[rows, columns]"),
        ("layers.0.weights", [[1]], "layers[0].weights", "no 'weights'"),
        ("layers.1.type", "pool", "layers[1].type", "layer type"),
        ("layers.2.weights", [[0.3, 0.1]], "layers[2].weights[0]", "1×1×1"),
        ("examples.0.inputs", [[0.1, 0.2], [0.0, 0.4]], "examples[0].inputs", "3 rows of 3"),
        ("layers.0.bias", [0.1, 0.2], "layers[0].bias", "one per filter"),
        ("layers", BASE["layers"][:1], "layers[0].type", "expected a dense layer, got conv2d"),  # maps as outputs
        ("layers", BASE["layers"][:2], "layers[1].type", "expected a dense layer, got maxpool"),
    ],
)
def test_a_shape_that_does_not_fit_is_a_one_line_error_naming_the_key(path, value, key, words):
    with pytest.raises(DeriveError) as error:
        from_mapping(changed(path, value), source="net.json")
    message = str(error.value)
    assert key in message and words in message, message
    assert "\n" not in message


def test_the_command_line_refuses_a_bad_shape_with_exit_status_2(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(changed("layers.0.stride", 2)), encoding="utf-8")
    result = run_derive("gradients", str(path), check=False)
    assert result.returncode == 2 and not result.stdout
    assert len(result.stderr.strip().splitlines()) <= 2 and "layers[0].stride" in result.stderr


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_training_on_floats_follows_the_40_digit_updates(name):
    """Three updates of the stage-by-stage float engine land where three derivations do."""
    from derive.training.descent import precise_updates, train

    spec = load_builtin(name)
    trained = train(spec, steps=3).spec.parameters()
    updates = precise_updates(spec)
    for _ in range(3):
        derivation = next(updates)
    for parameter, value in derivation.updated.items():
        assert close(float(trained[parameter]), float(value), 1e-12, 1e-15), parameter


@pytest.mark.parametrize("name", ["cnn", "rnn"])
@pytest.mark.parametrize(
    "command",
    [
        ("explain",),
        ("keys",),
        ("train", "--steps", "20"),
        ("html", "-o", "page.html"),
        ("quiz", "--format", "moodle", "-o", "quiz.xml"),
        ("worksheet", "--only", "w1,b1", "--detail", "brief", "-o", "sheet"),
        ("slides", "--only", "w1", "--detail", "brief", "-o", "slides"),
        ("worksheet", "--exercise", "exam", "--only", "w1,b1", "-o", "exam"),
        ("scorm", "--variants", "2", "--seed", "1", "-o", "package.zip"),
        ("code", "-o", "module.py"),
    ],
    ids=lambda c: c[0] if isinstance(c, tuple) else c,
)
def test_every_command_runs_on_the_builtin_examples(name, command, tmp_path):
    result = run_derive(*command[:1], name, *command[1:], cwd=tmp_path)
    assert result.returncode == 0 and not result.stderr.strip().startswith("derive:")


def matrices(text: str) -> dict[str, np.ndarray]:
    """Every ``label = \\begin{bmatrix} … \\end{bmatrix}`` of a document, read back as numbers."""
    import re

    found = {}
    for label, body in re.findall(r"^(\S+) = \\begin\{bmatrix\} ([^\n]*?) \\end\{bmatrix\}$", text, re.MULTILINE):
        if "bmatrix" not in body:  # a matrix of parameters (names = values) is named_matrices'
            found[label] = np.array(_cells(body, float))
    return found


def _cells(body: str, read):
    return [[read(v.replace("{,}", ".")) for v in row.split(" & ")] for row in body.split(r" \\ ")]


def named_matrices(text: str) -> dict[str, tuple[list[list[str]], np.ndarray]]:
    """Every ``label = [names] = [values]`` of a document: the parameters' names (w3) and their values."""
    import re

    pattern = r"^(\S+) = \\begin\{bmatrix\} (.*?) \\end\{bmatrix\} = \\begin\{bmatrix\} (.*?) \\end\{bmatrix\}$"
    found = {}
    for label, names, values in re.findall(pattern, text, re.MULTILINE):
        plain = _cells(names, lambda name: re.sub(r"[_{}]", "", name))
        found[label] = (plain, np.array(_cells(values, float)))
    return found


def assert_named(shown: tuple[list[list[str]], np.ndarray], expected, net: Net) -> None:
    """The matrix shown holds the expected values, and each cell's name is the reference's numbering's."""
    names, values = shown
    by_name = dict(zip(net.names(), net.theta(), strict=True))
    np.testing.assert_allclose(values, np.broadcast_to(np.asarray(expected, dtype=float), values.shape), atol=1e-12)
    np.testing.assert_allclose([[by_name[n] for n in row] for row in names], values, atol=1e-12)


def test_explain_shows_the_feature_map_and_its_delta_map_as_matrices():
    """The maps read back from the explanation: out is the NumPy convolution; Σ δ·x over the δ map is ∂E/∂k."""
    text = run_derive("explain", "cnn").stdout
    shown = matrices(text)
    net = builtin_cnn()
    layer = net.layers[0]
    from tests.cnn_reference import conv2d

    expected = np.maximum(conv2d(np.array(IMAGE)[None], np.array(layer["kernels"])[:, None], [0.1], 1, 0), 0)[0]
    np.testing.assert_allclose(shown[r"\mathrm{out}_{c1}"], expected, atol=1e-9)
    np.testing.assert_allclose(shown[r"\mathbf{i}"], np.array(IMAGE))
    deltas = shown[r"\delta_{c1}"]
    gradients = net.central_differences()
    for a in range(2):
        for b in range(2):
            summed = sum(deltas[r, s] * IMAGE[r + a][s + b] for r in range(3) for s in range(3))
            assert abs(summed - gradients[f"w{2 * a + b + 1}"]) < 1e-8


def two_channels_two_convolutions() -> Net:
    """Two channels of 4×4 (small enough to explain), two filters, then a convolution over their two maps."""
    layers = [dict(layer) for layer in channels_stride_padding().layers]
    layers[0].update(input_shape=[2, 4, 4], stride=1, padding=0)
    layers[0]["kernels"] = [[np.asarray(k)[:2, :2].tolist() for k in kernels] for kernels in layers[0]["kernels"]]
    layers[-1]["weights"] = [[1.5, -0.5, 0.25, 0.75]]
    del layers[2]  # no pooling: d's 2×2 map is read by o
    return Net(layers, [([np.asarray(c)[:4, :4].tolist() for c in TWO_CHANNELS], [0.4])])


def test_explain_shows_each_channel_and_each_filters_maps_as_matrices(tmp_path):
    """Two channels and two filters read back: i_1 and i_2 are the example's channels, out_{c1} and out_{c2}
    each filter's NumPy convolution over both, and each filter's δ map times each channel's input, summed over
    the map, is the derivative of its kernel's entry on that channel (central differences)."""
    from tests.cnn_reference import conv2d

    net = two_channels_two_convolutions()
    text = run_derive("explain", str(net.write(tmp_path, "net"))).stdout
    shown, named = matrices(text), named_matrices(text)
    image = np.array(net.examples[0][0], dtype=float)
    layer = net.layers[0]
    kernels = np.array(layer["kernels"], dtype=float)
    for c in range(2):
        np.testing.assert_allclose(shown[rf"\mathbf{{i}}_{{{c + 1}}}"], image[c])
    expected = np.tanh(conv2d(image, kernels, [layer["bias"]] * 2, 1, 0))
    gradients = net.central_differences()
    for f in range(2):
        np.testing.assert_allclose(shown[rf"\mathrm{{out}}_{{c{f + 1}}}"], expected[f], atol=1e-9)
        delta = shown[rf"\delta_{{c{f + 1}}}"]
        for c in range(2):
            names = named[f"K_{{c{f + 1},{c + 1}}}"][0]
            for a, b in np.ndindex(2, 2):
                summed = sum(delta[r, s] * image[c, r + a, s + b] for r, s in np.ndindex(*delta.shape))
                assert summed == pytest.approx(gradients[names[a][b]], abs=1e-8), names[a][b]


def convolution_after_pooling() -> Net:
    """The built-in cnn with a second convolution over its pooled 2×2 map: a kernel after a layer without one."""
    layers = builtin_cnn().layers
    second = {
        "type": "conv2d",
        "name": "d",
        "activation": "tanh",
        "kernels": [[[0.3, -0.6], [0.2, 0.1]]],
        "bias": [0.0],
    }
    layers[2:2] = [second]
    layers[3] = {**layers[3], "weights": [[0.9]]}
    return Net(layers, [(IMAGE, [1.0])])


@pytest.mark.parametrize(
    "make",
    [builtin_cnn, two_filters_avgpool, two_channels_two_convolutions, convolution_after_pooling],
    ids=["one", "two filters", "channels", "after pooling"],
)
def test_explain_shows_each_kernel_by_its_numbered_weights(make, tmp_path):
    """K_{cf,c} read back: filter f's kernel on channel c, the reference's w's in its cells."""
    net = make()
    shown = named_matrices(run_derive("explain", str(net.write(tmp_path, "net"))).stdout)
    kernels = [(n, layer) for n, layer in enumerate(net.layers) if layer["type"] == "conv2d"]
    assert len(shown) == sum(np.size(layer["kernels"]) // np.shape(layer["kernels"])[-1] ** 2 for _, layer in kernels)
    for _, layer in kernels:
        array = np.asarray(layer["kernels"], dtype=float)
        array = array if array.ndim == 4 else array[:, None]
        for f, c in np.ndindex(array.shape[:2]):
            place = f"{f + 1}" + (f",{c + 1}" if array.shape[1] > 1 else "")
            assert_named(shown[f"K_{{{layer['name']}{place}}}"], array[f, c], net)


def test_the_builtin_kernel_is_w1_to_w4_row_by_row():
    """The explanation itself: K_{c1} = [w1 w2; w3 w4]."""
    names, _ = named_matrices(run_derive("explain", "cnn").stdout)["K_{c1}"]
    assert names == [["w1", "w2"], ["w3", "w4"]]


def test_the_diagram_writes_the_kernel_once_on_the_first_positions_receptive_field():
    """The kernel's entries label the links into c1,11 only, from i_(1+a)(1+b); the other positions' links are bare."""
    import re

    text = run_derive("explain", "cnn").stdout
    labelled = re.findall(r"^  (\S+) -- \"(w\d+) = [^\"]*\" --> (\S+)$", text, re.MULTILINE)
    into_maps = {weight: (source, target) for source, weight, target in labelled if target.startswith("c")}
    assert into_maps == {f"w{2 * a + b + 1}": (f"i{a + 1}{b + 1}", "c1,11") for a in range(2) for b in range(2)}
    bare = re.findall(r"^  (i\d\d) --> (c1,\d\d)$", text, re.MULTILINE)
    assert len(bare) == 9 * 4 - 4  # every other link of the 3×3 map's windows, drawn without a label


def test_the_slides_summarise_a_kernel_entrys_error_signals_and_the_feature_map(tmp_path):
    """Standard detail: a few δ of w1 derived factor by factor, every other listed by value; the map's first
    positions worked, the rest listed. Full detail derives every one."""
    import re

    def deck(*options: str) -> str:
        folder = tmp_path / "-".join(options or ("standard",))
        run_derive("slides", "cnn", *options, "-o", str(folder))
        return (folder / "slides.tex").read_text(encoding="utf-8")

    def slope_derived(text: str, neuron: str) -> bool:
        return rf"\frac{{\partial \mathrm{{out}}_{{{neuron}}}}}{{\partial \mathrm{{net}}_{{{neuron}}}}} =" in text

    positions = [f"c1,{r}{s}" for r in range(1, 4) for s in range(1, 4)]
    standard, full = deck(), deck("--detail", "full")
    # full detail derives all nine δs and positions, on as many frames as hold their lines (61)
    assert standard.count(r"\begin{frame}") < full.count(r"\begin{frame}") <= 65
    derived = [neuron for neuron in positions if slope_derived(standard, neuron)]
    listed = re.findall(r"\$\\delta_\{(c1,\d\d)\} = [-\d.]+\$", standard)
    assert 1 <= len(derived) <= 2 and sorted(derived + listed) == positions  # each δ once: derived or listed
    assert all(slope_derived(full, neuron) for neuron in positions)
    # the forward pass, before and after the update: c1,11 and c1,12 worked, the other seven listed by value
    listed = re.findall(r"\$\\mathrm\{net\}_\{(c1,\d\d)\}(?:\^\{\+\})? = [-\d.]+\$ & \$\\mathrm\{out\}", standard)
    assert listed == positions[2:] * 2


@pytest.mark.parametrize(
    ("network", "language", "detail"),
    [("cnn", "en", "standard"), ("rnn", "es", "standard"), ("cnn", "en", "brief"), ("xor", "en", "full")],
)
def test_a_layered_deck_fits_every_frame_in_a_lecture_length(tmp_path, network, language, detail):
    """The whole deck, as `derive slides` makes it, compiles with nothing cut off at a frame's foot (no
    overfull box: a kernel entry's nine-term chain rule, a feature map's five-term net input, a weight
    through time's working go on in another frame; a brief δ line aligned after its long left side; the
    XOR's gradients over four examples at the full detail), is of class length (with a frame for every δ
    and position it ran past a hundred pages; the full detail, which derives them all, longer), and its
    handout prints the same frames."""
    import re
    import subprocess

    from tests.conftest import require_tool
    from tests.documents import compile_latex, pdf_text

    run_derive("slides", network, "--lang", language, "--detail", detail, "-o", str(tmp_path))
    run_derive("slides", network, "--lang", language, "--detail", detail, "--handout", "-o", str(tmp_path))
    log = compile_latex(tmp_path / "slides.tex")
    assert "Overfull" not in log, next(line for line in log.splitlines() if "Overfull" in line)
    pages = subprocess.run(
        [require_tool("pdfinfo"), str(tmp_path / "slides.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert int(re.search(r"Pages:\s+(\d+)", pages).group(1)) <= (100 if detail != "full" else 150)
    frames = [
        (tmp_path / name).read_text(encoding="utf-8").count(r"\begin{frame}")
        for name in ("slides.tex", "slides-handout.tex")
    ]
    assert frames[0] == frames[1], frames
    if network == "cnn" and detail == "standard":
        # w1 is in the net input of each of the map's nine positions: three terms written, six more said
        kernel = builtin_cnn().layers[0]["kernels"][0]
        positions = (len(IMAGE) - len(kernel) + 1) * (len(IMAGE[0]) - len(kernel[0]) + 1)
        text = " ".join(pdf_text(tmp_path / "slides.pdf").split())
        assert f"and {positions - 3} more terms of the same form" in text


def not_any_maximum() -> list[str]:
    """The feature-map positions (c1,rs) that are the first maximum of no 2×2, stride-1 window, from NumPy."""
    from tests.cnn_reference import conv2d

    layer = builtin_cnn().layers[0]
    out = np.maximum(conv2d(np.array(IMAGE)[None], np.array(layer["kernels"])[:, None], [0.1], 1, 0), 0)[0]
    maxima = {
        (r + k // 2, s + k % 2) for r in range(2) for s in range(2) for k in [int(np.argmax(out[r : r + 2, s : s + 2]))]
    }
    return [f"c1,{r + 1}{s + 1}" for r in range(3) for s in range(3) if (r, s) not in maxima]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("max pooling, not a weight", "1 when this output is the window's maximum", "0 when it is not")),
        ("es", ("no es un peso sino la derivada del max pooling", "1 cuando esta salida es el máximo", "0 cuando no")),
    ],
)
def test_the_pooling_factor_is_explained_by_its_own_rule_and_a_non_maximum_gets_0(lang, words):
    """Before the first ∂E/∂out of the feature map the text says max pooling's 1 at the maximum, 0 elsewhere;
    every position that is no window's maximum (NumPy) has ∂E/∂out = 0."""
    text = run_derive("explain", "cnn", "--lang", lang).stdout
    first = not_any_maximum()[0]
    line = rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{{first}}}}} = 0"
    paragraph = text[: text.index(line)].rstrip().removesuffix("$$").rstrip().rsplit("\n\n", 1)[-1]
    assert all(word in paragraph for word in words), paragraph
    for neuron in not_any_maximum():
        assert rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{{neuron}}}}} = 0" in text, neuron
    assert ("weight of the connection" if lang == "en" else "peso de la conexión") not in paragraph


@pytest.mark.parametrize(
    ("lang", "conv", "pool", "kernel_note", "names"),
    [
        (
            "en",
            ("kernel 2×2", "stride 1", "padding 0", "ReLU"),
            ("max pooling 2×2", "stride 1", "overlapping windows"),
            "(every position of the kernel)",
            "$c1,23$ is the neuron of layer $\\mathrm{c}$ in map 1, row 2, column 3",
        ),
        (
            "es",
            ("kernel 2×2", "(stride) 1", "(padding) 0", "ReLU"),
            ("max pooling 2×2", "(stride) 1", "ventanas solapadas"),
            "(cada posición del kernel)",
            "$c1,23$ es la neurona de la capa $\\mathrm{c}$ en el mapa 1, fila 2, columna 3",
        ),
    ],
)
def test_the_cnn_document_says_its_kernel_pooling_and_names_and_nothing_of_time_steps(
    lang, conv, pool, kernel_note, names
):
    """The layers' table gives the kernel, stride and padding of c, the window and stride of p (overlapping,
    as stride 1 < 2); the shared-weight note and the names are the kernel's; pooling edges are labelled max."""
    text = run_derive("explain", "cnn", "--lang", lang).stdout
    rows = {cells[0]: cells[2] for line in text.splitlines() if len(cells := line.strip("| ").split(" | ")) == 3}
    assert all(word in rows["c"] for word in conv) and all(word in rows["p"] for word in pool), rows
    assert kernel_note in text and ("time step" not in text and "paso de tiempo" not in text)
    assert names in text
    assert '"max = ' not in text and '  c1,12 -- "max" --> p1,11' in text


def test_the_worksheet_writes_the_value_of_every_factor_it_gives(tmp_path):
    """A worksheet line with no blank and no formula (∂out_p/∂net_p, a non-maximum's ∂E/∂out) ends in its value."""
    import re

    run_derive("worksheet", "cnn", "-o", str(tmp_path))
    tex = (tmp_path / "worksheet.tex").read_text()
    assert not re.search(r"^\\frac\{[^&]*\}\{[^&]*\} &\s*(\\\\)?$", tex, re.MULTILINE)
    assert r"\frac{\partial \mathrm{out}_{p1,11}}{\partial \mathrm{net}_{p1,11}} & = 1" in tex
    for neuron in not_any_maximum():
        assert rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{{neuron}}}}} & = 0" in tex, neuron
