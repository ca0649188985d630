"""Recurrent layers unrolled through time: derive's gradients against a NumPy recurrence written here
(central differences), against sympy.diff of the composed loss, and against backpropagation through
time as the textbook writes it: δ_t = f′(net_t) ⊙ (Vᵀ e_t + Uᵀ δ_{t+1}), ∂E/∂U = Σ_t δ_t h_{t−1}ᵀ,
∂E/∂W = Σ_t δ_t x_tᵀ.
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

SEQUENCE = [[0.5], [-0.1], [0.8]]


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


NETWORKS = {
    "target at the last step": builtin_rnn,
    "a target at every step": every_step,
    "two layers after it": deeper_last_step,
}


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


@pytest.mark.parametrize("make", [builtin_rnn, every_step], ids=["last step", "every step"])
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
        (
            lambda d: (d["layers"].pop(), d["examples"][0].update(targets=[[0.1, 0.2], [0.0, 0.3], [0.2, 0.1]])),
            "examples[0].targets",
            "a layer after the recurrent layer",
        ),
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
