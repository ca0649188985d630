"""``derive code`` for conv2d, pooling and recurrent networks: the generated module, run on its own, against
central differences of the NumPy forward pass written in tests/cnn_reference.py (explicit loops for the
convolution and the pooling, the recurrence by hand), relative 1e-6.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from derive import example
from derive import load as load_network
from derive.outputs.code import module_source
from tests import test_conv, test_recurrent
from tests.cnn_reference import Net, close
from tests.conftest import run_derive
from tests.test_codegen import load, ruff

NETWORKS = {**test_conv.NETWORKS, **test_recurrent.NETWORKS}


def generated(net: Net, folder, name: str = "net"):
    """The module ``derive code`` writes for ``net``'s file, imported afresh."""
    path = net.write(folder, name)
    return load(run_derive("code", str(path)).stdout, folder)


def assert_gradients(found: tuple[float, dict[str, float]], net: Net, scale: float = 1.0) -> None:
    loss, gradients = found
    expected = net.central_differences()
    assert list(gradients) == list(expected)  # w1… in layer order (kernels, W then U), then b1…
    for name, value in expected.items():
        assert close(gradients[name], scale * value), (name, gradients[name], scale * value)
    assert close(loss, scale * net.loss(), 1e-12)


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_the_module_computes_the_central_differences_of_a_numpy_forward_pass(make, tmp_path):
    net = make()
    module = generated(net, tmp_path)
    assert_gradients(module.loss_and_gradients(), net)


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_other_parameter_values_and_examples(make, tmp_path):
    """loss_and_gradients(params, examples) at other values: the reference net with those values."""
    net = make()
    module = generated(net, tmp_path)
    theta = net.theta() * 0.9 + 0.01 * np.arange(len(net.theta())) % 0.07
    moved = net.with_theta(theta)
    moved.examples = moved.examples[:1]
    params = dict(zip(net.names(), (float(v) for v in theta), strict=True))
    assert_gradients(module.loss_and_gradients(params, moved.examples), moved)


def test_the_mean_reduction_divides_by_the_examples(tmp_path):
    net = test_conv.two_filters_avgpool()
    path = net.write(tmp_path, "net")
    text = path.read_text(encoding="utf-8").replace('"learning_rate"', '"reduction": "mean", "learning_rate"', 1)
    path.write_text(text, encoding="utf-8")
    module = load(run_derive("code", str(path)).stdout, tmp_path)
    assert_gradients(module.loss_and_gradients(), net, scale=1 / len(net.examples))


class FrozenRouting(Net):
    """The reference net with each max-pooling window's choice fixed where it was at the start: the first
    maximum in row order.  Its central differences are the one-sided gradient a tie's rule gives."""

    routes: dict | None = None

    def with_theta(self, theta):
        moved = super().with_theta(theta)
        frozen = FrozenRouting(moved.layers, moved.examples, moved.learning_rate)
        frozen.routes = self.routes
        return frozen


def frozen_pool(net: FrozenRouting):
    from tests import cnn_reference

    plain = cnn_reference.pool
    chosen: dict = {}

    def pool(x, size, stride, kind):
        if kind != "maxpool":
            return plain(x, size, stride, kind)
        out = np.zeros((x.shape[0], (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1))
        for c in range(out.shape[0]):
            for r in range(out.shape[1]):
                for s in range(out.shape[2]):
                    window = [x[c, r * stride + a, s * stride + b] for a in range(size) for b in range(size)]
                    if net.routes is None:
                        chosen[(c, r, s)] = window.index(max(window))  # list.index: the first maximum
                    out[c, r, s] = window[(net.routes or chosen)[(c, r, s)]]
        return out

    return pool, chosen


def test_max_pooling_routes_a_tie_to_the_first_maximum(tmp_path, monkeypatch):
    net = test_conv.builtin_cnn()
    # c1,11 and c1,12 are both 1.6 but read different windows: the route decides ∂E/∂k
    net.examples = [([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], [1.0])]
    module = generated(net, tmp_path)
    frozen = FrozenRouting(net.layers, net.examples, net.learning_rate)
    from tests import cnn_reference

    pool, chosen = frozen_pool(frozen)
    monkeypatch.setattr(cnn_reference, "pool", pool)
    frozen.loss()
    frozen.routes = dict(chosen)
    out_c = np.maximum(
        cnn_reference.conv2d(
            np.array(net.examples[0][0])[None], np.array([[[[0.5, -0.25], [0.25, 0.75]]]]), [0.1], 1, 0
        ),
        0,
    )
    assert out_c[0, 0, 0] == out_c[0, 0, 1]  # a tie the rule decides
    assert_gradients(module.loss_and_gradients(), frozen)


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_the_builtin_examples_run_as_scripts_and_pass_ruff(name, tmp_path):
    net = {"cnn": test_conv.builtin_cnn, "rnn": test_recurrent.builtin_rnn}[name]()
    path = tmp_path / f"{name}.py"
    path.write_text(run_derive("code", name).stdout, encoding="utf-8")
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    loss = float(lines[0].removeprefix("E_total = "))
    printed = {key: float(value) for key, value in (line.removeprefix("dE_total/d").split(" = ") for line in lines[1:])}
    assert_gradients((loss, printed), net)
    for command in (["check"], ["format", "--check"]):
        checked = subprocess.run(
            [*ruff(), *command, "--no-cache", "--isolated", str(path)], capture_output=True, text=True, timeout=120
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_step_descends_along_the_reference_gradient(tmp_path):
    net = test_recurrent.every_step()
    module = generated(net, tmp_path)
    expected = net.central_differences()
    updated = module.step()
    for name, value in module.PARAMETERS.items():
        assert close(updated[name], value - module.LEARNING_RATE * expected[name]), name


def test_maps_without_a_dense_output_layer_are_refused_in_one_line(tmp_path):
    path = tmp_path / "maps.json"
    layer = {
        "type": "conv2d",
        "name": "c",
        "activation": "relu",
        "input_shape": [2, 2],
        "kernels": [[[1.0]]],
        "bias": 0.0,
    }
    path.write_text(json.dumps({"layers": [layer], "examples": [{"inputs": [[1, 2], [3, 4]], "targets": [1]}]}))
    result = run_derive("code", str(path), check=False)
    assert result.returncode == 2 and not result.stdout
    assert len(result.stderr.strip().splitlines()) <= 2
    assert "layers[0].type: the last layer gives the outputs compared with the targets" in result.stderr


def test_a_hand_built_network_of_maps_alone_is_refused_by_the_module_writer():
    """A NetworkSpec built in Python skips the file's checks: the module writer refuses maps as outputs itself."""
    import dataclasses

    from derive.errors import DeriveError

    cnn = example("cnn").spec
    maps_alone = dataclasses.replace(cnn, layers=cnn.layers[:2])
    with pytest.raises(
        DeriveError, match="derive code needs a dense output layer after feature maps; the last layer is maxpool 'p'"
    ):
        module_source(maps_alone)


def depth(values) -> int:
    """How deeply lists nest: 0 for a number, 1 for a vector, 2 for a matrix."""
    return 1 + depth(values[0]) if isinstance(values, list) else 0


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_the_example_type_says_how_an_example_nests(make, tmp_path):
    """The comment above ``Example`` says what the network's examples hold: an image as [rows][columns]
    or, with channels, [channels][rows][columns]; a sequence as a vector per time step, its targets a
    vector per step too or the last step's alone; and EXAMPLES holds the file's first example."""
    net = make()
    inputs, targets = net.examples[0]
    if net.layers[0]["type"] == "recurrent":
        expected = "a vector per time step" + ("; targets too" if depth(targets) == 2 else "; targets: the last step's")
    else:
        expected = "an image, [channels][rows][columns]" if depth(inputs) == 3 else "an image, [rows][columns]"
    source = run_derive("code", str(net.write(tmp_path, "net"))).stdout
    assert re.search(r"^# \(inputs, targets\): (.*)$", source, re.M)[1] == expected
    first = load(source, tmp_path).EXAMPLES[0]
    assert [np.asarray(part, dtype=float).tolist() for part in first] == [
        np.asarray(part, dtype=float).tolist() for part in (inputs, targets)
    ]


@pytest.mark.parametrize(("width", "opened"), [(88, False), (89, True)])
def test_an_image_row_is_opened_exactly_when_ruff_would(width, opened, tmp_path):
    """A row of numbers stays on one line up to ruff's 88 columns and is opened one number a line beyond,
    as ``ruff format`` lays it out (the layout checked by ruff itself, and the row's line read)."""
    digits = "0." + "1234567890"[: width - 80]  # three 19-character numbers and this one: the row's width
    wide = "0.12345678901234568"
    toml = run_derive("example", "cnn").stdout
    assert "inputs = [[0.2, 0.8, 0.6, 0.1]," in toml  # the first row, made as wide as asked
    toml = toml.replace("inputs = [[0.2, 0.8, 0.6, 0.1],", f"inputs = [[{wide}, {wide}, {wide}, {digits}],")
    (tmp_path / "wide.toml").write_text(toml, encoding="utf-8")
    path = tmp_path / "wide.py"
    path.write_text(run_derive("code", str(tmp_path / "wide.toml")).stdout, encoding="utf-8")
    row = f"            [{wide}, {wide}, {wide}, {digits}],"
    assert len(row) == width
    lines = path.read_text(encoding="utf-8").splitlines()
    assert (row in lines) is not opened
    if opened:  # one number a line, as ruff opens it
        at = lines.index(f"                {wide},")
        assert lines[at - 1 : at + 5] == [
            "            [",
            *[f"                {n}," for n in (wide, wide, wide, digits)],
            "            ],",
        ]
    checked = subprocess.run(
        [*ruff(), "format", "--check", "--no-cache", "--isolated", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("name", "order"),
    [
        (
            "cnn",
            "a kernel K[f, c, a, b] filter by filter, channel by channel, row by row; "
            "W[j, k] (input k into neuron j) row by row.",
        ),
        ("rnn", "W[j, k] (input k into neuron j) and U[j, m] (h_m of the step before into neuron j) row by row."),
    ],
)
def test_the_module_says_how_it_fills_each_layers_arrays(name, order):
    """A reader matching w1, w2, … to the arrays is told the order, which is NumPy's reshape's (row by row,
    the last index fastest): a convolution's kernels, or a recurrent layer's W and U."""
    source = run_derive("code", name).stdout
    start = source.index("# Each layer's parameters as arrays")
    comment = " ".join(line.strip().removeprefix("# ") for line in source[start:].splitlines()[:3])
    assert comment == f"Each layer's parameters as arrays, filled in the order they are numbered: {order}"
    fills = re.findall(
        r"^    \w+ = np\.array\(\[params\[f\"w\{n\}\"\] for n in range\(\d+, \d+\)\]\)(.*)$", source, re.M
    )
    assert fills and all(re.fullmatch(r"\.reshape\([\d, ]+\)", rest) for rest in fills)  # C order: row by row
    # a convolution's biases are one per filter (a map shares its filter's), a dense or recurrent layer's per neuron
    biases = dict(re.findall(r"^    b_(\w+) = np\.array\(.*\)  # one per (\w+)$", source, re.M))
    assert biases == ({"c": "filter", "o": "neuron"} if name == "cnn" else {"h": "neuron", "o": "neuron"})


@pytest.mark.parametrize("name", ["cnn", "rnn", "average pooling"])
def test_hidden_outputs_rounded_by_hand_are_rounded_in_the_module(name, tmp_path):
    """With ``round_activations``, every hidden output (a map, a pooled value, a hidden state) is rounded
    half up before the next layer reads it, and the output is not: the module's E_total and gradients are
    the 40-digit derivation's of the rounded network, and differ from the unrounded network's. (A maximum
    of rounded maps is rounded already; an average of them is not.)"""
    if name == "average pooling":
        plain = load_network(test_conv.two_filters_avgpool().write(tmp_path, "pooled"))
    else:
        plain = example(name)
    # to 1 decimal: the cnn's maps and pooled values are exact to 2
    rounded = plain.with_options(round_activations=1)
    loss, gradients = load(module_source(rounded.spec), tmp_path).loss_and_gradients()
    plain_loss, _ = load(module_source(plain.spec), tmp_path).loss_and_gradients()
    derivation = rounded.derivation
    assert close(loss, float(derivation.loss), 1e-12) and not close(loss, plain_loss, 1e-6)
    for parameter, gradient in derivation.gradients.items():
        assert close(gradients[parameter], float(gradient.precise), 1e-9), parameter


def test_the_recurrent_loop_is_introduced_by_the_formula_it_computes():
    """The comment above the loop through time states net_s = W x_s + U h_(s−1) + b, h_s = f(net_s): the
    line under it computes that sum, term for term, and f is the layer's activation."""
    source = run_derive("code", "rnn").stdout
    stated = re.search(r"# Forward through time: net_s = (.*), h_s = (\w+)\(net_s\)\.\n(.*)\n(.*)\n", source)
    assert stated, "the loop through time is introduced by its formula"
    formula, activation, loop, computed = stated.groups()
    assert formula == "W_h @ x_s + U_h @ h_(s-1) + b_h"
    assert activation == example("rnn").spec.layers[0].activation
    assert loop.strip() == "for s in range(1, steps + 1):"
    as_code = formula.replace("x_s", "x[s]").replace("h_(s-1)", "out_h[s - 1]")
    assert computed.strip() == f"net_h[s] = {as_code}"


def test_backpropagation_through_time_is_introduced_by_the_delta_it_computes():
    """δ_s = (∂E/∂h_s from the layers above + Uᵀ δ_(s+1)) ⊙ f′(net_s), from the last step back: the comment
    says it, and the loop under it runs s from the last step to the first and computes those terms."""
    source = run_derive("code", "rnn").stdout
    start = source.index("# Backpropagation through time")
    lines = source[start:].splitlines()
    comment = " ".join(line.strip().removeprefix("# ") for line in lines[:3])
    assert comment == (
        "Backpropagation through time, from the last step: δ_s = (∂E/∂h_s from the layers above + U_hᵀ δ_(s+1)) "
        "⊙ f′(net_s). W, U and b act at every step, so each gradient adds one term per step."
    )
    loop = [line.strip() for line in lines[3:10]]
    assert loop[1] == "for s in range(steps, 0, -1):"
    assert "dE_dh = dE_dout_h[s] + U_h.T @ delta_after" in loop
    assert "delta_h = dE_dh * tanh_slope(net_h[s], out_h[s])" in loop


def every_step_two_layers_above() -> test_recurrent.Net:
    """test_recurrent's every-step network with a tanh layer d between the recurrence and the output o."""
    net = test_recurrent.every_step()
    hidden, output = net.layers
    states, outputs = len(hidden["weights"]), len(output["weights"])  # d: as many neurons as o has
    weights = [[0.1 * ((i + 2 * j) % 5) - 0.2 for j in range(states)] for i in range(outputs)]
    middle = {"type": "dense", "name": "d", "activation": "tanh", "weights": weights, "bias": [0.05] * outputs}
    square = [[0.3 if i == j else -0.1 for j in range(outputs)] for i in range(outputs)]
    layers = [hidden, middle, {**output, "weights": square}]
    return test_recurrent.Net(layers, net.examples)


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (test_recurrent.every_step, "forward through o, the error at o,"),
        (every_step_two_layers_above, "forward through d and o, the error at o,"),
        (test_recurrent.alone_two_tanh, "h is the output:"),
    ],
)
def test_targets_at_every_step_are_introduced_by_where_the_error_is_taken(make, where, tmp_path):
    """With a target at every step, the module says what each step runs: forward through the dense layers
    above the recurrence and the error at the output layer, or, alone, the recurrent state as the output."""
    source = run_derive("code", str(make().write(tmp_path, "net"))).stdout
    said = re.findall(r"# Every step has targets: at each step, (.*) and δ back to h_s\.", source)
    assert said == [where]
