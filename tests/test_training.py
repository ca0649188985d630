"""Training as the textbooks teach it, against a NumPy loop written here from the textbook formulas.

Online and mini-batch updates, shuffling, momentum, weight decay, both update orders, over
several epochs: derive's compiled (float) training, its 40-digit updates and the derivation of
any single update all agree with :func:`reference_training`, which shares no code with derive
(it reads only the network's numbers and the documented order of the examples).
"""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from derive import Network, example
from derive.core.chain import Derivation
from derive.core.numbers import PRECISION, exact, to_fraction
from derive.errors import DeriveError
from derive.training.descent import loss_after_update, precise_updates, train, update_spec
from tests import reference_training as reference
from tests.conftest import run_derive
from tests.test_gradients import layer
from tests.test_reference_training import clear_of_saturation

# ---------------------------------------------------------------------------------------------
# The reference: backpropagation in NumPy, straight from the textbook


class Kink(Exception):
    """A net input at ReLU's kink, where two float computations may take different sides."""


def activate(name: str, net: np.ndarray, slope: float) -> np.ndarray:
    if name == "sigmoid":
        return 1 / (1 + np.exp(-net))
    if name == "tanh":
        return np.tanh(net)
    if name == "linear":
        return net.copy()
    if name == "relu":
        return np.maximum(net, 0.0)
    if name == "leaky_relu":
        return np.where(net > 0, net, slope * net)
    if name == "softplus":
        return np.log(1 + np.exp(net))
    if name == "elu":
        return np.where(net > 0, net, np.exp(np.minimum(net, 0)) - 1)
    if name == "softmax":
        e = np.exp(net - net.max())
        return e / e.sum()
    raise ValueError(name)


def derivative(name: str, net: np.ndarray, slope: float) -> np.ndarray:
    """f'(net), each from its definition (not from the output, as derive writes it)."""
    if name in ("relu", "leaky_relu") and np.any(np.abs(net) < 1e-9):
        raise Kink
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-net))
        return s * (1 - s)
    if name == "tanh":
        return 1 / np.cosh(net) ** 2
    if name == "linear":
        return np.ones_like(net)
    if name == "relu":
        return (net > 0).astype(float)
    if name == "leaky_relu":
        return np.where(net > 0, 1.0, slope)
    if name == "softplus":
        return np.exp(net) / (1 + np.exp(net))
    if name == "elu":
        return np.where(net > 0, 1.0, np.exp(np.minimum(net, 0)))
    raise ValueError(name)


def error(loss: str, t: np.ndarray, out: np.ndarray) -> float:
    if loss == "half_sse":
        return float(np.sum((t - out) ** 2) / 2)
    if loss == "mse":
        return float(np.sum((t - out) ** 2) / len(out))
    if loss == "bce":
        return float(-np.sum(t * np.log(out) + (1 - t) * np.log(1 - out)))
    return float(-np.sum(t * np.log(out)))


def error_slope(loss: str, t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out for one example."""
    if loss == "half_sse":
        return -(t - out)
    if loss == "mse":
        return -2 * (t - out) / len(out)
    if loss == "bce":
        return -(t / out - (1 - t) / (1 - out))
    return -t / out


class Reference:
    """A network as NumPy arrays: W[L] (neurons × inputs), b[L] (one per neuron, or one shared)."""

    def __init__(self, spec) -> None:
        self.spec = spec
        self.W = [np.array([[float(w) for w in row] for row in lay.weights]) for lay in spec.layers]
        self.b = [
            np.array([float(lay.bias)]) if lay.shared_bias else np.array([float(b) for b in lay.bias])
            for lay in spec.layers
        ]
        self.slopes = [float(lay.negative_slope) if lay.negative_slope is not None else 0.01 for lay in spec.layers]
        previous = dict(spec.previous_update)
        self.vW, self.vb = [], []
        names = iter(spec.parameter_names())
        for W in self.W:
            self.vW.append(np.array([[float(previous.get(next(names), 0)) for _ in row] for row in W]))
        for b in self.b:
            self.vb.append(np.array([float(previous.get(next(names), 0)) for _ in b]))

    def bias(self, L: int) -> np.ndarray:
        return np.full(self.spec.layers[L].size, self.b[L][0]) if self.spec.layers[L].shared_bias else self.b[L]

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nets, outs = [], [x]
        for L, lay in enumerate(self.spec.layers):
            net = self.W[L] @ outs[-1] + self.bias(L)
            nets.append(net)
            outs.append(activate(lay.activation, net, self.slopes[L]))
        return nets, outs

    def loss(self, examples) -> float:
        """E_total over ``examples`` (summed, or averaged with reduction mean)."""
        total = sum(error(self.spec.loss, t, self.forward(x)[1][-1]) for x, t in examples)
        return total / len(examples) if self.spec.reduction == "mean" else total

    def update(self, batch, order: str) -> None:
        """One update on ``batch``: δ_out = ∂E/∂out ⊙ f'(net), δ = (Wᵀδ) ⊙ f'(net) below, ∂E/∂W = Σ δ xᵀ."""
        spec = self.spec
        scale = 1 / len(batch) if spec.reduction == "mean" else 1.0
        rate, beta, lam = float(spec.learning_rate), float(spec.momentum), float(spec.weight_decay)
        passes = [self.forward(x) for x, _ in batch]
        deltas = []
        for (nets, outs), (_, t) in zip(passes, batch, strict=True):
            out, last = outs[-1], spec.layers[-1]
            g = scale * error_slope(spec.loss, t, out)
            if last.activation == "softmax":  # Jacobian out_k([k = j] − out_j), applied as Jᵀg
                deltas.append(out * (g - np.dot(g, out)))
            else:
                deltas.append(g * derivative(last.activation, nets[-1], self.slopes[-1]))
        for L in reversed(range(len(spec.layers))):
            gW = sum(np.outer(d, outs[L]) for d, (_, outs) in zip(deltas, passes, strict=True)) + lam * self.W[L]
            gb = sum(deltas)
            if spec.layers[L].shared_bias:
                gb = np.array([gb.sum()])
            old_W = self.W[L].copy()
            self.vW[L] = beta * self.vW[L] - rate * gW
            self.W[L] = self.W[L] + self.vW[L]
            if spec.train_biases:
                self.vb[L] = beta * self.vb[L] - rate * gb
                self.b[L] = self.b[L] + self.vb[L]
            through = self.W[L] if order == "sequential" else old_W  # the weights δ goes back through
            if L:
                deltas = [
                    (through.T @ d) * derivative(spec.layers[L - 1].activation, nets[L - 1], self.slopes[L - 1])
                    for d, (nets, _) in zip(deltas, passes, strict=True)
                ]

    def parameters(self) -> list[float]:
        return [*(w for W in self.W for w in W.ravel()), *(b for B in self.b for b in B)]


def epoch_order(n: int, batch: int, shuffle: int | None, epoch: int) -> list[int]:
    """The order the README documents: file order, or random.Random("derive-shuffle:S:e").shuffle."""
    order = list(range(n))
    if shuffle is not None and batch < n:
        random.Random(f"derive-shuffle:{shuffle}:{epoch}").shuffle(order)
    return order


def reference_training(spec, updates: int, order: str = "simultaneous") -> tuple[list[float], list[float]]:
    """E_total over all the examples before training and after each update, and the parameters left."""
    net = Reference(spec)
    examples = [
        (np.array([float(x) for x in e.inputs]), np.array([float(t) for t in e.targets])) for e in spec.examples
    ]
    n = len(examples)
    batch = spec.batch_size or n
    history = [net.loss(examples)]
    done = 0
    for epoch in itertools.count(1):
        ordered = epoch_order(n, batch, spec.shuffle, epoch)
        for start in range(0, n, batch):
            if done == updates:
                return history, net.parameters()
            net.update([examples[p] for p in ordered[start : start + batch]], order)
            history.append(net.loss(examples))
            done += 1
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Random networks with random training options


weights = st.integers(-100, 100).map(lambda n: Fraction(n, 100))


@st.composite
def trained_networks(draw):
    """A small network of any activation and loss, with batch size, shuffle, momentum and weight decay."""
    loss = draw(st.sampled_from(["half_sse", "mse", "bce", "cross_entropy"]))
    n_inputs, depth = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    layers, fan_in = [], n_inputs
    hidden = ["sigmoid", "tanh", "relu", "linear", "leaky_relu", "softplus", "elu"]
    for index in range(depth):
        last = index == depth - 1
        if last and loss in ("bce", "cross_entropy"):
            activation = draw(st.sampled_from(["sigmoid", "softmax"]))
        else:
            activation = draw(st.sampled_from(hidden + (["sigmoid", "softmax"] if last else [])))
        size = draw(st.integers(2 if activation == "softmax" else 1, 3))
        bias = draw(st.one_of(weights, st.lists(weights, min_size=size, max_size=size)))
        layers.append(
            layer(f"l{index}x", activation, [[draw(weights) for _ in range(fan_in)] for _ in range(size)], bias)
        )
        if activation == "leaky_relu":
            layers[-1]["negative_slope"] = draw(st.sampled_from([Fraction(1, 100), Fraction(1, 5)]))
        fan_in = size
    fraction = st.integers(1, 99).map(lambda n: Fraction(n, 100))
    n_examples = draw(st.integers(1, 4))
    data = {
        "loss": loss,
        "reduction": draw(st.sampled_from(["sum", "mean"])),
        "learning_rate": draw(st.sampled_from([Fraction(1, 10), Fraction(1, 2)])),
        "train_biases": draw(st.booleans()),
        "layers": layers,
        "examples": [
            {"inputs": [draw(weights) * 2 for _ in range(n_inputs)], "targets": [draw(fraction) for _ in range(fan_in)]}
            for _ in range(n_examples)
        ],
        "batch_size": draw(st.integers(1, n_examples)),
        "momentum": draw(st.sampled_from([0, Fraction(1, 2), Fraction(9, 10)])),
        "weight_decay": draw(st.sampled_from([0, Fraction(1, 100), Fraction(1, 5)])),
    }
    if draw(st.booleans()):
        data["shuffle"] = draw(st.integers(0, 9))
    if data["momentum"] and draw(st.booleans()):
        names = [f"w{n + 1}" for n in range(n_inputs * len(layers[0]["weights"]))]
        data["previous_update"] = {name: draw(weights) / 10 for name in names[:2]}
    return Network.from_dict(data, name="random")


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b)) + 1e-14


def assert_same(fast: list[float], reference: list[float]) -> None:
    assert len(fast) == len(reference)
    for n, (a, b) in enumerate(zip(fast, reference, strict=True)):
        assert close(a, b), (n, a, b)


def reference_or_skip(spec, updates: int, order: str) -> tuple[list[float], list[float]]:
    try:
        with np.errstate(all="raise"):
            return reference_training(spec, updates, order)
    except (Kink, FloatingPointError):
        assume(False)  # at a kink, or saturated: floats may rightly differ
        raise


@given(trained_networks(), st.sampled_from(["simultaneous", "sequential"]), st.integers(1, 3), st.booleans())
def test_compiled_training_is_the_textbook_loop(network, order, epochs, matrices):
    """Online, mini-batch, shuffled, momentum, weight decay and their combinations, over several epochs.

    Both generated paths: the step on plain floats, and the NumPy matrices of larger networks.
    """
    spec = network.spec
    updates = epochs * spec.updates_per_epoch
    history, parameters = reference_or_skip(spec, updates, order)
    result = train(spec, epochs=epochs, update=order, matrices=matrices)
    assert_same(result.history, history)
    assert_same([float(value) for value in result.spec.parameters().values()], parameters)
    assert result.epochs == epochs and result.steps == updates


@given(trained_networks(), st.sampled_from(["simultaneous", "sequential"]))
def test_the_40_digit_updates_are_the_textbook_loop(network, order):
    """Each precise update's derivation: its batch only, and E_total over all the examples after it."""
    spec = network.spec
    updates = min(6, 2 * spec.updates_per_epoch)
    history, parameters = reference_or_skip(spec, updates, order)
    # a cross-entropy's float E_total near saturation is no reference to 1e-12 (log(1 − out) cancels)
    assume(clear_of_saturation(reference.from_spec(spec), order, updates, margin=1e-3))
    fast = network.train(updates, update=order)
    for count, derivation in enumerate(itertools.islice(precise_updates(spec, order), updates), start=1):
        assert len(derivation.spec.examples) <= spec.batch
        moved = spec.with_parameters({name: to_fraction(value) for name, value in derivation.updated.items()})
        loss = float(Derivation(moved).loss)
        assert close(loss, history[count]) and close(loss, fast.history[count]), count
    precise = [float(value) for value in derivation.updated.values()]
    assert_same(precise, parameters)
    assert_same(precise, list(fast.network.parameters().values()))


@given(trained_networks())
def test_update_spec_is_the_update_after_the_earlier_ones(network):
    spec = network.spec
    per_epoch = spec.updates_per_epoch
    epoch, number = 2, per_epoch  # the last update of the second epoch
    # a saturated cross-entropy's float reference loses digits in 1 − out; the 40-digit update does not
    assume(clear_of_saturation(reference.from_spec(spec), "simultaneous", per_epoch * 2, margin=1e-3))
    _, parameters = reference_or_skip(spec, per_epoch * 2, "simultaneous")
    derivation = network.update_derivation(number, epoch)
    order = epoch_order(len(spec.examples), spec.batch, spec.shuffle, epoch)
    batch = order[(number - 1) * spec.batch : number * spec.batch]
    assert derivation.spec.examples == tuple(spec.examples[p] for p in batch)
    assert_same([float(v) for v in derivation.updated.values()], parameters)


# ---------------------------------------------------------------------------------------------
# One update's derivation: momentum and weight decay as data


def decayed(**options) -> Network:
    return example().with_options(weight_decay=Fraction(1, 10), **options)


def test_weight_decay_is_a_term_of_each_weights_gradient():
    plain, network = example(), decayed()
    derivation = network.derivation
    rate = exact(Fraction(1, 10))
    with mpmath.workdps(PRECISION):
        for name, gradient in derivation.gradients.items():
            before = plain.derivation.gradients[name]
            if name.startswith("w"):
                assert gradient.decay.rule == "weight_decay"
                assert gradient.decay.precise == rate * derivation.parameters[name]
                assert str(gradient.decay.expr) == f"lambda*{name}"
                assert gradient.precise == mpmath.fsum([*(t.precise for t in gradient.chain), gradient.decay.precise])
                assert float(gradient.precise) == pytest.approx(
                    float(before.precise + rate * derivation.parameters[name])
                )
            else:
                assert gradient.decay is None and gradient.precise == before.precise
    w5 = derivation.gradients["w5"]
    assert "+ \\frac{\\partial E_{\\text{decay}}}{\\partial w_{5}}" in w5.latex()
    penalty = rate / 2 * sum(derivation.parameters[n] ** 2 for n in derivation.parameters if n.startswith("w"))
    with mpmath.workdps(PRECISION):
        assert derivation.penalty == pytest.approx(penalty, rel=1e-30)
        assert derivation.objective == derivation.loss + derivation.penalty


def test_momentum_changes_and_the_previous_ones():
    network = example().with_options(momentum=Fraction(9, 10), previous_update={"w5": Fraction(-1, 100)})
    derivation = network.derivation
    rate, beta = exact(Fraction(1, 2)), exact(Fraction(9, 10))
    with mpmath.workdps(PRECISION):
        assert derivation.previous_changes["w5"] == exact(Fraction(-1, 100)) and derivation.previous_changes["w1"] == 0
        for name, gradient in derivation.gradients.items():
            if derivation.trainable(name):
                change = beta * derivation.previous_changes[name] - rate * gradient.precise
            else:
                change = 0
            assert derivation.changes[name] == change
            assert derivation.updated[name] == derivation.parameters[name] + change
    # the next step starts from this one's Δθ
    stepped = network.step()
    assert dict(stepped.spec.previous_update)["w5"] == to_fraction(derivation.changes["w5"])
    assert "b1" not in dict(stepped.spec.previous_update)  # the worked example keeps its biases fixed


def test_defaults_change_nothing():
    derivation = example().derivation
    assert all(gradient.decay is None for gradient in derivation.gradients.values())
    assert derivation.penalty == 0 and derivation.objective == derivation.loss
    rate = exact(Fraction(1, 2))
    with mpmath.workdps(PRECISION):
        for name, gradient in derivation.gradients.items():
            step = rate * gradient.precise if derivation.trainable(name) else 0
            assert derivation.changes[name] == -step and derivation.updated[name] == derivation.parameters[name] - step


def test_train_then_train_more_is_one_run_with_momentum():
    network = example("xor").with_options(momentum=Fraction(1, 2))
    once = network.train(20)
    twice = network.train(12).network.train(8)
    assert once.network.parameters() == pytest.approx(twice.network.parameters(), rel=1e-13)


# ---------------------------------------------------------------------------------------------
# Epochs, goals and the command line


def test_epochs_count_passes_over_the_examples():
    online = example("xor").with_options(batch_size=1)
    assert online.spec.updates_per_epoch == 4
    result = online.train(epochs=3)
    assert result.steps == 12 and result.epochs == 3
    mini = example("xor").with_options(batch_size=3)
    assert mini.spec.batches(1) == ((0, 1, 2), (3,))
    assert mini.train(epochs=2).steps == 4
    assert example("xor").train(epochs=5).steps == 5


def test_until_stops_at_the_goal_with_the_epoch_and_update():
    online = example("xor").with_options(batch_size=1, momentum=Fraction(9, 10))
    result = online.train(epochs=1000, until=0.01)
    stop = result.stopped_at
    assert stop is not None and stop.loss <= 0.01 and result.history[-1] == stop.loss
    assert all(loss > 0.01 for loss in result.history[:-1])
    assert (stop.epoch - 1) * 4 + stop.update == stop.step == result.steps
    short = online.train(epochs=2, until=0.01)
    assert short.stopped_at is None and short.steps == 8
    already = online.train(epochs=2, until=1.0)
    assert already.stopped_at.step == 0 and already.steps == 0
    batch = example("xor").train(steps=5000, until=0.01)
    assert batch.stopped_at.update == 1 and batch.stopped_at.epoch == batch.stopped_at.step == batch.steps


def test_train_command_reports_epochs_and_the_goal():
    args = ["train", "xor", "--epochs", "1000", "--batch-size", "1", "--momentum", "0.9", "--until", "0.01"]
    text = run_derive(*args).stdout
    assert "in 30 epochs of 4 (online, in file order)" in text and "momentum 0.9" in text
    assert "E_total reached 0.01 or below at epoch 30, update 3 (step 119)" in text
    data = json.loads(run_derive(*args, "--json").stdout)
    assert data["epochs"] == 30 and data["stopped_at"] == {
        "epoch": 30,
        "update": 3,
        "step": 119,
        "loss": data["loss"][-1],
    }
    missed = json.loads(run_derive("train", "xor", "--epochs", "3", "--until", "0.01", "--json").stdout)
    assert missed["stopped_at"] is None and missed["epochs"] == 3 and len(missed["loss"]) == 4
    assert (
        "did not reach 0.01 or below within 3 epochs (3 steps)"
        in run_derive("train", "xor", "--epochs", "3", "--until", "0.01").stdout
    )


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "net.toml"
    options = "train_biases = true\nbatch_size = 2\nmomentum = 0.5"
    path.write_text(run_derive("example", "xor").stdout.replace("train_biases = true", options), encoding="utf-8")
    from_file = json.loads(run_derive("train", str(path), "--epochs", "3", "--json").stdout)
    by_flags = json.loads(
        run_derive("train", "xor", "--epochs", "3", "--batch-size", "2", "--momentum", "0.5", "--json").stdout
    )
    assert from_file["loss"] == by_flags["loss"] and len(from_file["loss"]) == 7
    online = json.loads(run_derive("train", str(path), "--epochs", "3", "--batch-size", "1", "--json").stdout)
    assert len(online["loss"]) == 13


def test_gradients_of_an_online_network_show_its_first_update():
    network = example("xor").with_options(
        batch_size=1, shuffle=3, momentum=Fraction(1, 2), weight_decay=Fraction(1, 100)
    )
    first = network.spec.batches(1)[0]
    derivation = network.derivation
    assert derivation.spec.examples == tuple(network.spec.examples[p] for p in first)
    from derive.outputs.report import gradients_json, gradients_text

    data = gradients_json(derivation, [p + 1 for p in first])
    assert data["examples"] == [first[0] + 1] and data["momentum"] == 0.5 and data["weight_decay"] == 0.01
    assert data["changes"]["w5"] == float(derivation.changes["w5"])
    decay_term = data["chains"]["w5"][-1]
    assert decay_term == [
        {
            "factor": "\\frac{\\partial E_{\\text{decay}}}{\\partial w_{5}}",
            "expr": "\\lambda \\cdot w_{5}",
            "value": float(derivation.gradients["w5"].decay.precise),
        }
    ]
    text = gradients_text(derivation, 9, [p + 1 for p in first])
    assert f"The first update uses example {first[0] + 1} of the file." in text
    assert "of which λ·w" in text and "previous Δ" in text


def test_update_spec_checks_its_numbers():
    online = example("xor").with_options(batch_size=1)
    with pytest.raises(DeriveError, match="expected an update from 1 to 4"):
        update_spec(online.spec, 5)
    with pytest.raises(DeriveError, match="expected an epoch from 1 on"):
        update_spec(online.spec, 1, 0)
    assert update_spec(example().spec) == example().spec
    with pytest.raises(DeriveError, match="steps or of epochs"):
        online.train(3, epochs=2)
    with pytest.raises(DeriveError, match="error goal above 0"):
        online.train(3, until=0.0)


def test_the_readme_xor_figures():
    """The README's table: epochs and updates to E_total ≤ 0.01 on XOR, with and without momentum."""
    xor = example("xor")
    runs = {
        "online, momentum 0.9": xor.with_options(batch_size=1, momentum=Fraction(9, 10)),
        "online, no momentum": xor.with_options(batch_size=1),
        "batch": xor,
    }
    found = {name: network.train(epochs=2000, until=0.01).stopped_at for name, network in runs.items()}
    assert {name: (stop.epoch, stop.step) for name, stop in found.items()} == {
        "online, momentum 0.9": (30, 119),
        "online, no momentum": (288, 1152),
        "batch": (310, 310),
    }


@st.composite
def wider_networks(draw):
    """Networks of 4 to 12 neurons a layer and 2 to 6 examples: the sizes the NumPy matrices train."""
    sizes = draw(st.lists(st.integers(4, 12), min_size=3, max_size=4))
    activations = st.sampled_from(["sigmoid", "tanh", "softplus", "elu", "leaky_relu", "linear"])
    layers = []
    for index, (fan_in, size) in enumerate(itertools.pairwise(sizes)):
        activation = "sigmoid" if index == len(sizes) - 2 else draw(activations)
        rows = [[draw(weights) / 2 for _ in range(fan_in)] for _ in range(size)]
        bias = draw(st.one_of(weights, st.lists(weights, min_size=size, max_size=size)))
        layers.append(layer(f"l{index}x", activation, rows, bias))
    n_examples = draw(st.integers(2, 6))
    unit = st.integers(1, 99).map(lambda n: Fraction(n, 100))
    data = {
        "loss": draw(st.sampled_from(["half_sse", "mse", "bce"])),
        "reduction": draw(st.sampled_from(["sum", "mean"])),
        "learning_rate": Fraction(1, 4),
        "layers": layers,
        "examples": [
            {"inputs": [draw(weights) for _ in range(sizes[0])], "targets": [draw(unit) for _ in range(sizes[-1])]}
            for _ in range(n_examples)
        ],
        "batch_size": draw(st.integers(1, n_examples)),
        "momentum": draw(st.sampled_from([0, Fraction(9, 10)])),
        "weight_decay": draw(st.sampled_from([0, Fraction(1, 100)])),
    }
    return Network.from_dict(data, name="wider")


@given(wider_networks(), st.sampled_from(["simultaneous", "sequential"]))
def test_matrices_on_wider_networks_are_the_textbook_loop(network, order):
    """The NumPy path where it is chosen: against the textbook loop and the 40-digit updates."""
    spec = network.spec
    updates = 2 * spec.updates_per_epoch
    history, parameters = reference_or_skip(spec, updates, order)
    result = train(spec, updates, order, matrices=True)
    assert_same(result.history, history)
    assert_same([float(value) for value in result.spec.parameters().values()], parameters)
    last = next(itertools.islice(precise_updates(spec, order), updates - 1, None))
    assert_same([float(value) for value in last.updated.values()], parameters)


def test_the_loss_after_a_sequential_update_is_the_hand_written_loop():
    """loss_after_update: Mazur's network, the output layer updated first, the hidden δ through its new weights."""

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    x, targets, rate = np.array([0.05, 0.10]), np.array([0.01, 0.99]), 0.5
    weights = [np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])]
    biases = [0.35, 0.60]  # fixed: the example does not train them

    def forward(weights):
        outs = [x]
        for w, b in zip(weights, biases, strict=True):
            outs.append(sigmoid(w @ outs[-1] + b))
        return outs

    outs = forward(weights)
    delta = (outs[-1] - targets) * outs[-1] * (1 - outs[-1])  # half squared error, sigmoid
    for L in reversed(range(len(weights))):
        weights[L] = weights[L] - rate * np.outer(delta, outs[L])
        if L:  # back through the weights just updated
            delta = (weights[L].T @ delta) * outs[L] * (1 - outs[L])
    expected = 0.5 * np.sum((targets - forward(weights)[-1]) ** 2)
    assert float(loss_after_update(example("mazur").spec, "sequential")) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.291027924, abs=1e-9)  # the post's E_total after the step
