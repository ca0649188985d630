"""Training against an independent NumPy trainer written from the textbook (tests/reference_training.py).

Both of derive's paths, the 40-digit derivation (``Network.step``, the step model) and the compiled
float step (``Network.train``), are compared with the reference, never with each other: on networks
of three and four layers, for every loss and reduction, in both update orders.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from derive import Network, example
from derive.core.chain import UPDATE_ORDERS, Derivation
from derive.core.steps import build_steps
from derive.spec.model import LOSSES, REDUCTIONS
from tests import reference_training as reference
from tests.test_gradients import away_from_kinks, networks

HIDDEN = ["sigmoid", "tanh", "relu", "linear"]
# the output layer of each loss, for 3 and 4 layers: softmax and the elementwise activations both
OUTPUT = {
    "half_sse": {3: "sigmoid", 4: "softmax"},
    "mse": {3: "linear", 4: "tanh"},
    "bce": {3: "sigmoid", 4: "sigmoid"},
    "cross_entropy": {3: "softmax", 4: "sigmoid"},
}


def network(depth: int, loss: str, reduction: str, train_biases: bool = True) -> Network:
    """``depth`` layers with every hidden activation in turn, shared and per-neuron biases, three examples.

    Values have two decimals, drawn from a seed of the network's own; ReLU units stay clear of 0.
    """
    for attempt in itertools.count():
        rng = random.Random(f"{depth}-{loss}-{reduction}-{train_biases}-{attempt}")
        data = _draw(rng, depth, loss)
        data |= {"reduction": reduction, "train_biases": train_biases}
        built = Network.from_dict(data, name=f"{depth}-layer {loss} {reduction}")
        if away_from_kinks(built):
            return built
    raise AssertionError("unreachable")


def _draw(rng: random.Random, depth: int, loss: str) -> dict:
    def value(low: int, high: int) -> Fraction:
        return Fraction(rng.randint(low, high), 100)

    n_outputs = 3 if OUTPUT[loss][depth] == "softmax" else 2
    # small enough for the documents' 40 gradients, which the step model serves
    sizes = [2, *(rng.randint(2, 3 if depth == 3 else 2) for _ in range(depth - 1)), n_outputs]
    layers = []
    for index, (fan_in, size) in enumerate(itertools.pairwise(sizes)):
        activation = OUTPUT[loss][depth] if index == depth - 1 else HIDDEN[(index + depth) % len(HIDDEN)]
        weights = [[value(-90, 90) for _ in range(fan_in)] for _ in range(size)]
        bias = [value(-50, 50) for _ in range(size)] if index % 2 else value(-50, 50)
        layers.append({"name": f"l{index}x", "activation": activation, "weights": weights, "bias": bias})
    examples = []
    for _ in range(3):
        if loss == "cross_entropy" and OUTPUT[loss][depth] == "softmax":
            winner = rng.randrange(n_outputs)
            targets = [int(k == winner) for k in range(n_outputs)]
        else:
            targets = [value(5, 95) for _ in range(n_outputs)]
        examples.append({"inputs": [value(-100, 100) for _ in range(2)], "targets": targets})
    learning_rate = 0.5 if loss != "mse" else 0.1
    return {"loss": loss, "learning_rate": learning_rate, "layers": layers, "examples": examples}


CASES = [
    pytest.param(depth, loss, reduction, order, id=f"{depth} layers-{loss}-{reduction}-{order}")
    for depth in (3, 4)
    for loss in LOSSES
    for reduction in REDUCTIONS
    for order in UPDATE_ORDERS
]


def assert_close(actual: dict[str, float], expected: dict[str, float], rel: float, absolute: float) -> None:
    assert list(actual) == list(expected)
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=rel, abs=absolute), name


@pytest.mark.parametrize(("depth", "loss", "reduction", "order"), CASES)
def test_every_quantity_of_a_step_matches_the_reference(depth, loss, reduction, order):
    """Each step of the working (forward, errors, each δ and its factors, gradients, updates, E after)."""
    net = network(depth, loss, reduction)
    expected = reference.quantities(net.spec, order)
    steps = build_steps(Derivation(net.spec, order), ())
    assert {step.key for step in steps} == set(expected)
    for step in steps:
        assert float(step.value) == pytest.approx(expected[step.key], rel=1e-12, abs=1e-15), step.key


@pytest.mark.parametrize(("depth", "loss", "reduction", "order"), CASES)
def test_the_precise_step_matches_the_reference(depth, loss, reduction, order):
    net = network(depth, loss, reduction)
    done = reference.step(reference.from_spec(net.spec), order)
    assert net.loss() == pytest.approx(done.loss, rel=1e-13)
    assert_close(net.step(update=order).parameters(), done.after.parameters(), rel=1e-12, absolute=1e-15)


@pytest.mark.parametrize(("depth", "loss", "reduction", "order"), CASES)
def test_compiled_training_matches_the_reference(depth, loss, reduction, order):
    net = network(depth, loss, reduction)
    history, trained = reference.train(reference.from_spec(net.spec), 25, order)
    result = net.train(25, update=order)
    assert result.history == pytest.approx(history, rel=1e-11, abs=1e-15)
    assert_close(result.network.parameters(), trained.parameters(), rel=1e-10, absolute=1e-13)


@pytest.mark.parametrize("order", UPDATE_ORDERS)
@pytest.mark.parametrize("depth", [3, 4])
def test_fixed_biases_stay_and_the_weights_follow_the_reference(depth, order):
    net = network(depth, "half_sse", "sum", train_biases=False)
    history, trained = reference.train(reference.from_spec(net.spec), 10, order)
    result = net.train(10, update=order)
    assert result.history == pytest.approx(history, rel=1e-11)
    assert_close(result.network.parameters(), trained.parameters(), rel=1e-10, absolute=1e-13)
    biases = {name: value for name, value in net.parameters().items() if name.startswith("b")}
    assert {name: result.network.parameters()[name] for name in biases} == biases
    assert_close(
        net.step(update=order).parameters(),
        reference.step(reference.from_spec(net.spec), order).after.parameters(),
        1e-12,
        1e-15,
    )


@pytest.mark.parametrize("order", UPDATE_ORDERS)
def test_long_training_of_four_layers_follows_the_reference(order):
    net = network(4, "mse", "mean")
    history, trained = reference.train(reference.from_spec(net.spec), 400, order)
    result = net.train(400, update=order)
    assert history[-1] < 0.75 * history[0]  # it learns: the comparison is not of two flat lines
    assert result.history == pytest.approx(history, rel=1e-9)
    assert_close(result.network.parameters(), trained.parameters(), rel=1e-8, absolute=1e-11)


def test_the_orders_differ_below_the_output_layer():
    """The sequential order changes every layer under the top one, and only those (the reference says so)."""
    net = example("deep")
    simultaneous = reference.step(reference.from_spec(net.spec), "simultaneous").after.parameters()
    sequential = reference.step(reference.from_spec(net.spec), "sequential").after.parameters()
    assert [name for name in simultaneous if simultaneous[name] != sequential[name]] == [
        "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2", "b3",
    ]  # fmt: skip
    assert f"{sequential['w1']:.8f}" == "0.50607544" and f"{simultaneous['w1']:.8f}" == "0.50606900"
    assert net.step(update="sequential").parameters()["w1"] == pytest.approx(sequential["w1"], rel=1e-14)
    assert net.train(1, update="sequential").network.parameters()["w1"] == pytest.approx(sequential["w1"], rel=1e-14)


@pytest.mark.parametrize("name", ["mazur", "softmax", "deep", "xor"])
@pytest.mark.parametrize("order", UPDATE_ORDERS)
def test_the_built_in_examples_train_as_the_reference_does(name, order):
    net = example(name)
    history, trained = reference.train(reference.from_spec(net.spec), 100, order)
    result = net.train(100, update=order)
    assert result.history == pytest.approx(history, rel=1e-10)
    assert_close(result.network.parameters(), trained.parameters(), rel=1e-9, absolute=1e-12)


def test_the_reference_reproduces_the_published_training():
    """The classic English version's figures after 10,000 sequential steps, from the reference alone."""
    history, trained = reference.train(reference.from_spec(example().spec), 10_000, "sequential")
    outputs = reference.forward(trained, *trained.examples[0]).outs[-1]
    assert [f"{o:.9f}" for o in outputs] == ["0.015912196", "0.984065734"]
    assert f"{history[1]:.9f}" == "0.291027924" and f"{history[-1]:.9f}" == "0.000035085"


def clear_of_saturation(net: reference.Net, order: str, steps: int, margin: float = 1e-5) -> bool:
    """Whether a cross-entropy's outputs stay ``margin`` clear of 0 and 1 over the training compared.

    Nearer, the reference's float log(1 − out) cancels (at out = 1.0 it is −∞), and its δ, a difference
    of terms of size 1/(1 − out), keeps about 1e-16/(1 − out) of error: 1e-5 clear, its E_total is a
    reference to 1e-10 for derive's, which the derivation computes at 40 digits; to 1e-12, 1e-3 clear.
    """
    if net.loss not in ("bce", "cross_entropy"):
        return True
    with np.errstate(all="ignore"):
        for done in range(steps + 1):
            trained = reference.train(net, done, order)[1]
            outs = [reference.forward(trained, *example).outs[-1] for example in trained.examples]
            if not all(np.all((out > margin) & (out < 1 - margin)) for out in outs):
                return False
    return True


@given(networks(), st.sampled_from(UPDATE_ORDERS))
def test_random_networks_train_as_the_reference_does(network_, order):
    assume(away_from_kinks(network_))
    assume(clear_of_saturation(reference.from_spec(network_.spec), order, 2))
    history, trained = reference.train(reference.from_spec(network_.spec), 2, order)
    result = network_.train(2, update=order)
    assert result.history == pytest.approx(history, rel=1e-10, abs=1e-14)
    assert_close(result.network.parameters(), trained.parameters(), rel=1e-10, absolute=1e-13)
    assert_close(
        network_.step(update=order).parameters(),
        reference.step(reference.from_spec(network_.spec), order).after.parameters(),
        1e-11,
        1e-14,
    )


@pytest.mark.parametrize("name", ["deep", "xor"])
def test_the_composed_sequential_gradient_is_the_reference_one(name):
    """Gradient.expr in the sequential order substitutes w⁺ = w − η ∂E/∂w for the weights above:
    evaluated at the given numbers, it is the gradient the reference takes through the new weights."""
    derivation = Derivation(example(name).spec, "sequential")
    expected = reference.quantities(example(name).spec, "sequential")
    at = derivation.graph.numbers()
    for parameter in ("w1", "w2", "b1"):
        value = sp.N(derivation.gradients[parameter].expr.xreplace(at), 30)
        assert float(value) == pytest.approx(expected[f"dE/d{parameter}"], rel=1e-12), parameter


TRAINING_OPTIONS = {
    "online, shuffled, momentum, decay": dict(
        batch_size=1,
        shuffle=2,
        momentum=Fraction(9, 10),
        weight_decay=Fraction(1, 100),
        previous_update={"w1": Fraction(1, 100), "b2": Fraction(-1, 50)},
    ),
    "mini-batches of 3 in file order": dict(batch_size=3),
    "mini-batches of 2, shuffled, momentum": dict(batch_size=2, shuffle=7, momentum=Fraction(1, 2)),
    "full batch, decay and momentum": dict(momentum=Fraction(3, 4), weight_decay=Fraction(1, 10)),
}


def xor_with(options: dict) -> Network:
    return example("xor").with_options(train_biases=True, **options)


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("order", UPDATE_ORDERS)
@pytest.mark.parametrize("name", list(TRAINING_OPTIONS))
def test_both_fast_paths_train_with_options_as_the_reference_does(name, order, matrices):
    """Online and mini-batch updates, momentum and weight decay: 9 updates, the history and the weights."""
    from derive.training.descent import train

    net = xor_with(TRAINING_OPTIONS[name])
    history, trained = reference.train(reference.from_spec(net.spec), 9, order)
    fast = train(net.spec, 9, order, matrices=matrices)
    assert fast.history == pytest.approx(history, rel=1e-11)
    expected = trained.parameters()
    got = {key: float(value) for key, value in fast.spec.parameters().items()}
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-11, abs=1e-14), key


@pytest.mark.parametrize("order", UPDATE_ORDERS)
@pytest.mark.parametrize("name", ["full batch, decay and momentum", "online, shuffled, momentum, decay"])
def test_the_40_digit_step_with_momentum_and_decay_is_the_references(name, order):
    """One update on all the examples from ``previous_update``: Δθ = β·Δθ_previous − η·(∂E/∂θ + λθ)."""
    net = xor_with({k: v for k, v in TRAINING_OPTIONS[name].items() if k not in ("batch_size", "shuffle")})
    done = reference.step(reference.from_spec(net.spec), order)
    stepped = net.step(update=order).parameters()
    for key, value in done.after.parameters().items():
        assert stepped[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("matrices", [False, True])
def test_training_until_a_goal_counts_the_updates_the_reference_needs(matrices):
    """The first step whose E_total is at most the goal, found in the reference's own history."""
    from derive.training.descent import train

    spec = example().spec
    history, _ = reference.train(reference.from_spec(spec), 400)
    goal = 0.05
    needed = next(step for step, loss in enumerate(history) if loss <= goal)
    assert 0 < needed < 400
    result = train(spec, 400, until=goal, matrices=matrices)
    assert result.stopped_at is not None
    assert (result.steps, result.stopped_at.step) == (needed, needed)
    assert result.history[:-1] == pytest.approx(history[:needed], rel=1e-12)
