"""Recurrent layers unrolled through time: derive's gradients against a NumPy recurrence written here
(central differences), against sympy.diff of the composed loss, and against backpropagation through
time as the textbook writes it: δ_t = f′(net_t) ⊙ (Vᵀ e_t + Uᵀ δ_{t+1}), ∂E/∂U = Σ_t δ_t h_{t−1}ᵀ,
∂E/∂W = Σ_t δ_t x_tᵀ.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

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

SEQUENCE = [[0.5], [-0.1], [0.8]]
ROOT = Path(__file__).resolve().parent.parent


def builtin_rnn() -> Net:
    """The built-in example ``rnn``, written again from its description."""
    layers = [
        {
            "type": "recurrent",
            "name": "h",
            "activation": "tanh",
            "weights": [[0.5], [-0.3]],
            "recurrent_weights": [[0.1, 0.2], [-0.4, 0.3]],
            "bias": [0.0, 0.1],
        },
        {"type": "dense", "name": "o", "activation": "linear", "weights": [[1.0, -1.0]], "bias": [0.05]},
    ]
    return Net(layers, [(SEQUENCE, [0.3])])


def every_step() -> Net:
    """Two inputs per step, three hidden neurons with an initial state, two outputs at every one of 4 steps."""
    layers = [
        {
            "type": "recurrent",
            "name": "h",
            "activation": "tanh",
            "weights": [[0.4, -0.2], [0.1, 0.3], [-0.5, 0.2]],
            "recurrent_weights": [[0.2, -0.1, 0.3], [0.1, 0.4, -0.2], [-0.3, 0.2, 0.1]],
            "bias": 0.05,
            "initial_state": [0.1, -0.2, 0.3],
        },
        {
            "type": "dense",
            "name": "o",
            "activation": "sigmoid",
            "weights": [[0.6, -0.4, 0.2], [0.3, 0.5, -0.7]],
            "bias": [0.1, 0.0],
        },
    ]
    inputs = [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1], [0.4, 0.4]]
    targets = [[0.9, 0.1], [0.2, 0.7], [0.5, 0.5], [0.1, 0.8]]
    second = ([[0.1, 0.2], [-0.3, 0.4], [0.6, -0.5], [0.0, 0.3]], [[0.3, 0.3], [0.8, 0.1], [0.4, 0.6], [0.7, 0.2]])
    return Net(layers, [(inputs, targets), second])


def deeper_last_step() -> Net:
    """A ReLU-free stack after the recurrence: two dense layers applied at the last step only."""
    net = every_step()
    layers = [
        net.layers[0],
        {
            "type": "dense",
            "name": "d",
            "activation": "tanh",
            "weights": [[0.3, -0.2, 0.5], [0.1, 0.6, -0.4]],
            "bias": [0.0, 0.1],
        },
    ]
    layers.append({"type": "dense", "name": "o", "activation": "linear", "weights": [[0.7, -0.9]], "bias": [0.2]})
    return Net(layers, [(net.examples[0][0], [0.25])])


def alone_one_neuron() -> Net:
    """One tanh neuron and nothing after it: h_t is the output, compared with a target at every step,
    and the input of step t+1 — its δ_t takes both paths."""
    layer = {
        "type": "recurrent",
        "name": "h",
        "activation": "tanh",
        "weights": [[0.7]],
        "recurrent_weights": [[0.5]],
        "bias": [0.1],
    }
    return Net([layer], [(SEQUENCE, [[0.2], [0.0], [0.5]])])


def alone_two_tanh() -> Net:
    """Two tanh neurons alone, targets at every step (w3 was −0.066 when δ_t dropped the path to h_t+1)."""
    layer = {
        "type": "recurrent",
        "name": "h",
        "activation": "tanh",
        "weights": [[0.5], [-0.3]],
        "recurrent_weights": [[0.1, 0.2], [-0.4, 0.3]],
        "bias": [0.0, 0.1],
    }
    return Net([layer], [(SEQUENCE, [[0.3, 0.1], [0.0, 0.2], [0.1, 0.4]])])


def alone_two_sigmoid_bce() -> Net:
    """Two sigmoid neurons alone with binary cross-entropy, an initial state and two examples."""
    layer = {
        "type": "recurrent",
        "name": "h",
        "activation": "sigmoid",
        "weights": [[0.6, -0.2], [0.3, 0.4]],
        "recurrent_weights": [[0.5, -0.3], [0.2, 0.1]],
        "bias": [0.1, -0.2],
        "initial_state": [0.2, -0.1],
    }
    first = ([[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]], [[0.9, 0.1], [0.2, 0.7], [0.5, 0.5]])
    second = ([[0.1, 0.2], [-0.3, 0.4], [0.6, -0.5]], [[0.3, 0.6], [0.8, 0.1], [0.4, 0.9]])
    return Net([layer], [first, second], loss_name="bce")


NETWORKS = {
    "target at the last step": builtin_rnn,
    "a target at every step": every_step,
    "two layers after it": deeper_last_step,
    "alone, one neuron, targets at every step": alone_one_neuron,
    "alone, two tanh neurons, targets at every step": alone_two_tanh,
    "alone, sigmoid and bce, targets at every step": alone_two_sigmoid_bce,
}
ALONE = [alone_one_neuron, alone_two_tanh, alone_two_sigmoid_bce]


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_derive_gradients_equal_central_differences_of_a_numpy_recurrence(make, tmp_path):
    net = make()
    path = net.write(tmp_path, "net")
    found = json.loads(run_derive("gradients", str(path), "--json").stdout)
    expected = net.central_differences()
    assert list(found["gradients"]) == list(expected)  # W, then U, then the dense weights; then the biases
    for name, value in expected.items():
        assert close(found["gradients"][name], value), (name, found["gradients"][name], value)
    assert close(found["loss"], net.loss(), 1e-12)


@pytest.mark.parametrize(
    "make", [builtin_rnn, every_step, *ALONE], ids=["last step", "every step", "alone 1", "alone tanh", "alone bce"]
)
def test_every_gradient_is_sympy_diff_of_the_composed_loss(make, tmp_path):
    net = make()
    inputs, targets = net.examples[0]
    every = np.ndim(targets) == 2
    steps = 2 if every else 3  # short sequences keep sympy.diff of the composed loss quick
    net.examples = [(inputs[:steps], targets[:steps] if every else targets)]
    derivation = Derivation(load_path(net.write(tmp_path, "net")))
    graph = derivation.graph
    loss, values = graph.composed_loss, graph.numbers()
    with mpmath.workdps(40):
        for name, gradient in derivation.gradients.items():
            reference = mpmath.mpf(str(sp.N(sp.diff(loss, graph.parameters[name]).xreplace(values), 40)))
            composed = at_60_digits(gradient.expr, values)
            assert abs(reference - gradient.precise) < mpmath.mpf(10) ** -30, name
            assert abs(composed - reference) < mpmath.mpf(10) ** -30, name


@pytest.mark.parametrize("make", [builtin_rnn, every_step], ids=["last step", "every step"])
def test_backpropagation_through_time_as_the_textbook_writes_it(make, tmp_path):
    """δ_t = f′(net_t) ⊙ (Vᵀ e_t + Uᵀ δ_{t+1}); ∂E/∂W = Σ_t δ_t x_tᵀ, ∂E/∂U = Σ_t δ_t h_{t−1}ᵀ, ∂E/∂b = Σ_t δ_t."""
    net = make()
    derivation = Derivation(load_path(net.write(tmp_path, "net")))
    recurrent, output = net.layers[0], net.layers[1]
    W, U = np.array(recurrent["weights"]), np.array(recurrent["recurrent_weights"])
    V = np.array(output["weights"])
    grad_W, grad_U, grad_V = np.zeros_like(W), np.zeros_like(U), np.zeros_like(V)
    for inputs, targets in net.examples:
        states, _ = net.hidden_states(inputs)
        steps = len(states)
        h0 = np.array(recurrent.get("initial_state", np.zeros(len(W))))
        every = np.ndim(targets) == 2
        errors = []  # e_t = ∂E/∂net of the output at step t (0 where there is no target)
        for t in range(steps):
            y_net = V @ states[t] + np.array(output["bias"])
            y = y_net if output["activation"] == "linear" else 1 / (1 + np.exp(-y_net))
            slope = np.ones_like(y) if output["activation"] == "linear" else y * (1 - y)
            target = np.array(targets[t]) if every else np.array(targets)
            wanted = every or t == steps - 1
            errors.append((y - target) * slope if wanted else np.zeros_like(y))
            grad_V += np.outer(errors[-1], states[t])
        delta_next = np.zeros(len(W))
        for t in reversed(range(steps)):
            delta = (1 - states[t] ** 2) * (V.T @ errors[t] + U.T @ delta_next)
            before = states[t - 1] if t else h0
            grad_W += np.outer(delta, np.array(inputs[t]))
            grad_U += np.outer(delta, before)
            delta_next = delta
    found = {name: gradient.value for name, gradient in derivation.gradients.items()}
    expected = list(np.ravel(grad_W)) + list(np.ravel(grad_U)) + list(np.ravel(grad_V))
    for n, value in enumerate(expected):
        assert close(found[f"w{n + 1}"], value, 1e-12, 1e-15), n


def test_a_recurrent_weight_gradient_is_a_sum_over_time_steps():
    derivation = Derivation(load_builtin("rnn"))
    # W's entries act at steps 1, 2 and 3; U's at steps 2 and 3 (h_0 = 0 adds nothing)
    assert [len(derivation.gradients[name].chain) for name in ("w1", "w2", "w3", "w6")] == [3, 3, 2, 2]
    assert [term.neuron.name for term in derivation.gradients["w1"].chain] == ["h1,1", "h1,2", "h1,3"]


def test_the_builtin_example_is_the_network_the_issue_describes():
    spec = load_builtin("rnn")
    assert spec.steps == 3 and not spec.every_step
    assert [layer.kind for layer in spec.layers] == ["recurrent", "dense"]
    assert spec.layers[0].size == 2 and spec.layers[0].activation == "tanh" and spec.layers[1].activation == "linear"
    expected = builtin_rnn().central_differences()
    for name, gradient in Derivation(spec).gradients.items():
        assert close(gradient.value, expected[name]), name


BASE = {
    "layers": [
        {
            "type": "recurrent",
            "name": "h",
            "activation": "tanh",
            "weights": [[0.5], [-0.3]],
            "recurrent_weights": [[0.1, 0.2], [-0.4, 0.3]],
            "bias": [0.0, 0.1],
        },
        {"name": "o", "activation": "linear", "weights": [[1.0, -1.0]], "bias": [0.05]},
    ],
    "examples": [{"inputs": [[0.5], [-0.1], [0.8]], "targets": [0.3]}],
}


def changed(edit):
    data = json.loads(json.dumps(BASE))
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (
            lambda d: d["examples"][0].update(inputs=[[0.5], [-0.1, 0.2], [0.8]]),
            "examples[0].inputs[1]",
            "expected 1 numbers",
        ),
        (lambda d: d["layers"].reverse(), "layers[1].type", "first layer"),
        (lambda d: d["layers"][0].update(recurrent_weights=[[0.1, 0.2]]), "layers[0].recurrent_weights", "2×2"),
        (lambda d: d["examples"][0].update(targets=[[0.3], [0.1]]), "examples[0].targets", "one per time step"),
        (
            lambda d: d["examples"].append({"inputs": [[0.1], [0.2]], "targets": [0.0]}),
            "examples[1].inputs",
            "3 time steps",
        ),
        (lambda d: d["layers"][0].update(initial_state=[0.1]), "layers[0].initial_state", "one per neuron"),
        (lambda d: d["examples"][0].update(inputs=[0.5, -0.1, 0.8]), "examples[0].inputs", "a sequence"),
    ],
)
def test_a_shape_that_does_not_fit_is_a_one_line_error_naming_the_key(edit, key, words):
    with pytest.raises(DeriveError) as error:
        from_mapping(changed(edit), source="net.json")
    message = str(error.value)
    assert key in message and words in message, message
    assert "\n" not in message


def test_explain_shows_backpropagation_through_time_step_by_step():
    """h_t and δ_t read back from the explanation: h_t is the NumPy recurrence; Σ_t δ_t x_tᵀ is ∂E/∂W."""
    from tests.test_conv import matrices

    shown = matrices(run_derive("explain", "rnn").stdout)
    net = builtin_rnn()
    states, _ = net.hidden_states(SEQUENCE)
    gradients = net.central_differences()
    grad_W = np.zeros(2)
    for t in range(3):
        np.testing.assert_allclose(shown[rf"\mathbf{{h}}_{{{t + 1}}}"][:, 0], states[t], atol=1e-9)
        grad_W += shown[rf"\boldsymbol{{\delta}}_{{{t + 1}}}"][:, 0] * SEQUENCE[t][0]
    assert abs(grad_W[0] - gradients["w1"]) < 1e-8 and abs(grad_W[1] - gradients["w2"]) < 1e-8


@pytest.mark.parametrize(
    "make", [builtin_rnn, every_step, deeper_last_step, alone_two_tanh], ids=["rnn", "every", "deeper", "alone"]
)
def test_explain_maps_the_numbered_weights_onto_W_U_V_and_b(make, tmp_path):
    """W, U, b (and V, b of the layer after) read back: the network's arrays, the reference's w's in their
    cells, and h_t = tanh(W x_t + U h_{t−1} + b) with them is the h_t shown."""
    from tests.test_conv import assert_named, matrices, named_matrices

    net = make()
    text = run_derive("explain", str(net.write(tmp_path, "net"))).stdout
    shown, named = matrices(text), named_matrices(text)
    recurrent = net.layers[0]
    expected = {"W": recurrent["weights"], "U": recurrent["recurrent_weights"], r"\mathbf{b}_{h}": recurrent["bias"]}
    if len(net.layers) > 1:
        after = net.layers[1]
        expected |= {"V": after["weights"], rf"\mathbf{{b}}_{{{after['name']}}}": after["bias"]}
    assert set(named) == set(expected)
    for label, values in expected.items():
        column = np.asarray(values, dtype=float).reshape(-1, 1) if label.startswith(r"\mathbf") else values
        assert_named(named[label], column, net)
    W, U, b = (named[label][1] for label in expected if label in ("W", "U", r"\mathbf{b}_{h}"))
    h = np.asarray(recurrent.get("initial_state", np.zeros(len(b))), dtype=float).reshape(-1, 1)
    for t, x in enumerate(net.examples[0][0]):
        h = np.tanh(W @ np.asarray(x, dtype=float).reshape(-1, 1) + U @ h + b)
        np.testing.assert_allclose(shown[rf"\mathbf{{h}}_{{{t + 1}}}"], h, atol=1e-9)


def test_the_builtin_rnn_names_w1_to_w8_and_b1_to_b3_as_the_review_writes_them():
    from tests.test_conv import named_matrices

    named = named_matrices(run_derive("explain", "rnn").stdout)
    assert named["W"][0] == [["w1"], ["w2"]] and named["U"][0] == [["w3", "w4"], ["w5", "w6"]]
    assert named["V"][0] == [["w7", "w8"]]
    assert named[r"\mathbf{b}_{h}"][0] == [["b1"], ["b2"]] and named[r"\mathbf{b}_{o}"][0] == [["b3"]]


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize(("name", "kind"), [("cnn", "convolutional"), ("rnn", "recurrent")])
def test_the_documents_introduce_the_network_as_what_it_is(name, kind, lang, tmp_path):
    """Neither network is called feed-forward: the explanation and the exam say convolutional or recurrent."""
    words = {"en": kind, "es": {"convolutional": "convolucional", "recurrent": "recurrente"}[kind]}[lang]
    explanation = run_derive("explain", name, "--lang", lang).stdout
    run_derive("worksheet", name, "--exercise", "exam", "--lang", lang, "-o", str(tmp_path / "exam"))
    exam = (tmp_path / "exam" / "exam.tex").read_text(encoding="utf-8")
    for text in (explanation, exam):
        assert "feed-forward" not in text and "prealimentada" not in text
        assert f"{'A' if lang == 'en' else 'Una red'} {words}" in text or f"{words} network" in text


# -- a recurrent layer alone: h_t is an output and the next step's input -----------------------------

SLOPES = {"tanh": lambda h: 1 - h**2, "sigmoid": lambda h: h * (1 - h)}


def own_error_slope(net: Net, h, target):
    """∂E_t/∂h_t: h − t for half the squared error; (h − t) / (h (1 − h)) for the binary cross-entropy."""
    return (h - target) / (h * (1 - h)) if net.loss_name == "bce" else h - target


def textbook_bptt(net: Net):
    """Each example's δ_t = f′(net_t) ⊙ (∂E_t/∂h_t + Uᵀ δ_{t+1}), δ_{T+1} = 0, and the gradient vector
    W, U, b as Σ_t δ_t x_tᵀ, Σ_t δ_t h_{t−1}ᵀ, Σ_t δ_t."""
    layer = net.layers[0]
    W, U = np.array(layer["weights"], dtype=float), np.array(layer["recurrent_weights"], dtype=float)
    h0 = np.array(layer.get("initial_state", np.zeros(len(W))), dtype=float)
    grad_W, grad_U, grad_b = np.zeros_like(W), np.zeros_like(U), np.zeros(len(W))
    all_deltas = []
    for inputs, targets in net.examples:
        states, _ = net.hidden_states(inputs)
        deltas = [np.zeros(len(W))] * len(states)
        after = np.zeros(len(W))
        for t in reversed(range(len(states))):
            own = own_error_slope(net, states[t], np.array(targets[t], dtype=float))
            deltas[t] = after = SLOPES[layer["activation"]](states[t]) * (own + U.T @ after)
            grad_W += np.outer(after, np.array(inputs[t], dtype=float))
            grad_U += np.outer(after, states[t - 1] if t else h0)
            grad_b += after
        all_deltas.append(deltas)
    return all_deltas, np.concatenate([grad_W.ravel(), grad_U.ravel(), grad_b])


@pytest.mark.parametrize("make", ALONE, ids=["one neuron", "tanh", "sigmoid bce"])
def test_a_recurrent_output_layer_adds_its_own_error_to_the_path_through_the_next_step(make, tmp_path):
    """Every δ derive gives is the textbook recursion's, and so is every gradient (relative 1e-12)."""
    net = make()
    derivation = Derivation(load_path(net.write(tmp_path, "net")))
    deltas, gradient = textbook_bptt(net)
    for p, per_step in enumerate(deltas):
        for t, expected in enumerate(per_step):  # the layer alone: stage t is step t+1
            found = [delta.value for delta in derivation.deltas[p][t]]
            np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-15)
    found = [g.value for g in derivation.gradients.values()]
    np.testing.assert_allclose(found, gradient, rtol=1e-12, atol=1e-15)
    # before the last step, ∂E_total/∂out_h adds the path through its own error to those through h_t+1
    factor = derivation.deltas[0][0][0].factors[0]
    assert factor.rule == "error_and_paths" and len(factor.paths) == 1 + len(deltas[0][0])
    assert derivation.deltas[0][-1][0].factors[0].rule != "error_and_paths"  # the last step: its own error only


@pytest.mark.parametrize("make", ALONE, ids=["one neuron", "tanh", "sigmoid bce"])
def test_training_a_recurrent_output_layer_follows_a_numpy_descent(make):
    """Three steps of θ ← θ − η·g, g by the textbook recursion, land where derive's float engine and
    its 40-digit derivations do."""
    from derive.training.descent import precise_updates, train

    net = make()
    spec = from_mapping(json.loads(json.dumps(net_data(net))), source="net.json")
    theta = net.theta()
    for _ in range(3):
        theta = theta - net.learning_rate * textbook_bptt(net.with_theta(theta))[1]
    trained = train(spec, steps=3).spec.parameters()
    updates = precise_updates(spec)
    for _ in range(3):
        derivation = next(updates)
    for name, expected in zip(net.names(), theta, strict=True):
        assert close(float(trained[name]), expected, 1e-12, 1e-15), name
        assert close(float(derivation.updated[name]), expected, 1e-12, 1e-15), name


def net_data(net: Net) -> dict:
    """The network file ``Net.write`` writes, as a mapping."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return json.loads(net.write(Path(folder), "net").read_text(encoding="utf-8"))


def test_the_explanation_writes_the_own_error_path_and_the_recursion(tmp_path):
    """∂E_total/∂out_h1,2 is the sum of three paths (its own error, then h1,3 and h2,3), with its value;
    h_t and δ_t read back from the explanation are the textbook's."""
    from tests.test_conv import matrices

    net = alone_two_tanh()
    text = run_derive("explain", str(net.write(tmp_path, "net"))).stdout
    assert r"\partial E_t / \partial \mathbf{h}_t + U^{\top}" in text  # the recursion, said for this network
    own = (
        r"\frac{\partial E_{\text{total}}}{\partial E_{h1,2}} \cdot "
        r"\frac{\partial E_{h1,2}}{\partial \mathrm{out}_{h1,2}}"
    )
    assert own in text and r"\frac{\partial E_{\text{total}}}{\partial \mathrm{net}_{h1,3}}" in text
    for lang in ("en", "es"):  # the rule said in the catalog's words, and the network introduced as alone
        catalog = tomllib.loads((ROOT / "templates" / "i18n" / f"{lang}.toml").read_text(encoding="utf-8"))
        said = text if lang == "en" else run_derive("explain", str(tmp_path / "net.json"), "--lang", lang).stdout
        assert catalog["rules"]["error_and_paths"].split("{")[0][:60] in said, lang
        assert catalog["network_intro_recurrent_alone"].rsplit(". ", 1)[1] in said, lang  # its outputs the network's
    shown = matrices(text)
    deltas, _ = textbook_bptt(net)
    states, _ = net.hidden_states(SEQUENCE)
    for t in range(3):
        np.testing.assert_allclose(shown[rf"\mathbf{{h}}_{{{t + 1}}}"][:, 0], states[t], atol=1e-9)
        np.testing.assert_allclose(shown[rf"\boldsymbol{{\delta}}_{{{t + 1}}}"][:, 0], deltas[0][t], atol=1e-9)


def test_check_grades_the_combined_factor_and_carries_a_dropped_path_forward(tmp_path):
    """A student who writes ∂E_total/∂out_h1,2 as its own error's slope alone (the path through step 3
    dropped) is wrong there; their δ from that value earns the carried-forward mark."""
    net = alone_two_tanh()
    path = net.write(tmp_path, "net")
    deltas, _ = textbook_bptt(net)
    states, _ = net.hidden_states(SEQUENCE)
    h, target = states[1][0], net.examples[0][1][1][0]
    combined = deltas[0][1][0] / (1 - h**2)
    answers = tmp_path / "answers.toml"
    answers.write_text(f'"dE/dout_h1,2" = {combined:.10f}\n"delta_h1,2" = {deltas[0][1][0]:.10f}\n', encoding="utf-8")
    graded = {s["key"]: s for s in json.loads(run_derive("check", str(answers), str(path), "--json").stdout)["steps"]}
    assert graded["dE/dout_h1,2"]["verdict"] == "correct" and graded["delta_h1,2"]["verdict"] == "correct"
    dropped = h - target
    carried = dropped * (1 - h**2)
    answers.write_text(f'"dE/dout_h1,2" = {dropped:.10f}\n"delta_h1,2" = {carried:.10f}\n', encoding="utf-8")
    graded = {s["key"]: s for s in json.loads(run_derive("check", str(answers), str(path), "--json").stdout)["steps"]}
    assert graded["dE/dout_h1,2"]["verdict"] == "wrong" and graded["dE/dout_h1,2"]["mistake"]["id"] == "missing_path"
    assert graded["delta_h1,2"]["verdict"] not in ("wrong", "missing"), graded["delta_h1,2"]
    keys = run_derive("keys", str(path)).stdout
    assert "dE/dout_h1,2" in keys and "dE/dE_h1,2" not in keys  # the paths' factors are not blanks of their own


def test_gradients_json_names_the_error_of_every_step(tmp_path):
    """With targets at every step, ``forward`` holds E_o1,1 … E_o2,4, each ½ (t − out)² at its step."""
    net = every_step()
    found = json.loads(run_derive("gradients", str(net.write(tmp_path, "net")), "--json").stdout)["forward"]
    for row, (inputs, targets) in zip(found, net.examples, strict=True):
        outputs = net.outputs(inputs)
        errors = {k: v for k, v in row.items() if k.startswith("E_o")}
        assert len(errors) == len(targets) * len(targets[0])
        for t, (target, output) in enumerate(zip(targets, outputs, strict=True)):
            for j in range(len(target)):
                assert close(errors[f"E_o{j + 1},{t + 1}"], 0.5 * (target[j] - output[j]) ** 2, 1e-12), (t, j)


@pytest.mark.parametrize(
    "command",
    [
        ("html", "-o", "page.html"),
        ("slides", "--only", "w3", "-o", "slides"),
        ("worksheet", "--exercise", "exam", "-o", "exam"),
        ("quiz", "--format", "moodle", "-o", "quiz.xml"),
        ("explain", "--lang", "es"),
    ],
    ids=lambda c: c[0],
)
def test_every_command_runs_on_a_recurrent_output_layer(command, tmp_path):
    path = alone_two_tanh().write(tmp_path, "net")
    result = run_derive(command[0], str(path), *command[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("make", [every_step, alone_two_tanh], ids=["dense output", "alone"])
def test_train_lists_the_output_of_every_step_after_training(make, tmp_path):
    """One row per target: with targets at every step, each step's outputs beside their targets."""
    net = make()
    text = run_derive("train", str(net.write(tmp_path, "net")), "--steps", "2").stdout
    rows = text.split("Outputs after training")[1].splitlines()
    targets = net.examples[0][1]
    name = net.layers[-1]["name"]
    for t, target in enumerate(targets):
        for j, value in enumerate(target):
            row = next(r.split() for r in rows if r.split()[:2] == ["1", f"{name}{j + 1},{t + 1}"])
            assert float(row[3]) == pytest.approx(value)


@pytest.mark.parametrize("name", ["rnn", "cnn"])
def test_the_spanish_vectors_and_maps_use_the_decimal_comma(name):
    """h_t and δ_t (rnn), the feature and δ maps (cnn): every decimal in a matrix written 0{,}5, as the rest."""
    import re

    text = run_derive("explain", name, "--lang", "es").stdout
    matrices = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", text)
    assert matrices
    assert not [body for body in matrices if re.search(r"\d\.\d", body)]
    assert any("{,}" in body for body in matrices)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_the_solutions_pdf_shows_the_maps_or_the_steps_through_time(name, lang, tmp_path):
    """The solutions (not the worksheet) carry the section, compile without an overfull box, and show the
    NumPy h_t (rnn) or feature map (cnn) with the language's decimal mark; the parameters by their w's."""
    from tests.cnn_reference import conv2d
    from tests.documents import compile_latex, pdf_text
    from tests.test_conv import IMAGE, builtin_cnn

    run_derive("worksheet", name, "--lang", lang, "-o", str(tmp_path))
    for document in ("worksheet", "solutions"):
        assert "Overfull \\hbox" not in compile_latex(tmp_path / f"{document}.tex"), document
    title = {
        ("cnn", "en"): "The maps as matrices",
        ("cnn", "es"): "Los mapas como matrices",
        ("rnn", "en"): "Backpropagation through time",
        ("rnn", "es"): "Retropropagación a través del tiempo",
    }[name, lang]
    assert title not in pdf_text(tmp_path / "worksheet.pdf")
    section = pdf_text(tmp_path / "solutions.pdf").split(title, 1)[1]
    if name == "rnn":
        net = builtin_rnn()
        expected = np.concatenate(net.hidden_states(SEQUENCE)[0][:3])
        assert re.search(r"w3\s+w4", section) and re.search(r"w7\s+w8", section)
    else:
        kernel = np.array(builtin_cnn().layers[0]["kernels"], dtype=float)
        expected = np.maximum(conv2d(np.array(IMAGE)[None], kernel[:, None], [0.1], 1, 0), 0).ravel()
        assert re.search(r"w1\s+w2", section) and re.search(r"w3\s+w4", section)
    mark = "," if lang == "es" else "."
    for value in expected:
        shown = ("−" if value < 0 else "") + f"{abs(value):.9f}".rstrip("0").rstrip(".").replace(".", mark)
        assert shown in section, shown
