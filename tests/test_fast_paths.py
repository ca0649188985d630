"""The fast paths give the symbolic derivation's numbers: compiled training, shared δs, skipped contexts.

No test here measures time; ``benchmarks/run.py`` does that.
"""

import gc
import itertools
import random
from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from derive import Network, example
from derive.chain import Derivation
from derive.functions import ACTIVATIONS
from derive.numbers import PRECISION, exact, full_precision
from derive.printing import TextbookPrinter
from derive.report import factor_latex, gradients_json
from derive.training import train


def layer(name, activation, weights, bias):
    return {"name": name, "activation": activation, "weights": weights, "bias": bias}


def sigmoid_network(sizes, n_examples=1, seed=0, **options):
    """inputs → hidden → … → outputs, all sigmoid, with two-decimal values drawn from ``seed``."""
    rng = random.Random(seed)
    value = lambda low, high: Fraction(rng.randint(low, high), 100)  # noqa: E731
    layers = [
        layer(
            f"l{index}x",
            "sigmoid",
            [[value(-100, 100) for _ in range(fan_in)] for _ in range(size)],
            [value(-50, 50) for _ in range(size)] if index % 2 else value(-50, 50),
        )
        for index, (fan_in, size) in enumerate(itertools.pairwise(sizes))
    ]
    examples = [
        {"inputs": [value(0, 100) for _ in range(sizes[0])], "targets": [value(0, 100) for _ in range(sizes[-1])]}
        for _ in range(n_examples)
    ]
    return Network.from_dict({"layers": layers, "examples": examples, **options}, name="-".join(map(str, sizes)))


# about 500 weights: 10·15 + 15·15 + 15·8 = 495
LARGE = sigmoid_network([10, 15, 15, 8], n_examples=2, seed=5)

NETWORKS = {
    "worked example": example(),
    "worked example, rounded by hand": example().with_options(round_activations=4),
    "biases trained, several examples, mean": sigmoid_network(
        [3, 4, 2], n_examples=3, seed=1, reduction="mean", train_biases=True
    ),
    "biases fixed": sigmoid_network([3, 4, 2], seed=2, train_biases=False),
    "tanh, relu and linear": Network.from_dict(
        {
            "loss": "mse",
            "layers": [
                layer("a", "tanh", [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [0.1, -0.1, 0.2]),
                layer("b", "relu", [[0.7, 0.2, -0.1], [0.3, 0.5, 0.9]], 0.05),
                layer("o", "linear", [[1.2, -0.4], [0.3, 0.8]], 0.0),
            ],
            "examples": [{"inputs": [1.0, 2.0], "targets": [1.0, 0.5]}, {"inputs": [0.5, 0.25], "targets": [0.0, 1.0]}],
        },
        name="mixed",
    ),
    "softmax with cross-entropy": Network.from_dict(
        {
            "loss": "cross_entropy",
            "layers": [
                layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35),
                layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.6),
            ],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0, 1, 0]}, {"inputs": [0.5, -0.1], "targets": [1, 0, 0]}],
        },
        name="softmax",
    ),
    "bce": sigmoid_network([4, 5, 3], n_examples=2, seed=3, loss="bce"),
    "495 weights": LARGE,
}


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_compiled_step_matches_the_precise_step(name, update, matrices):
    network = NETWORKS[name]
    precise = network.step(update=update).parameters()
    fast = train(network.spec, 1, update, matrices=matrices)
    assert fast.history[0] == pytest.approx(network.loss(), rel=1e-12, abs=1e-15)
    trained = {name: float(value) for name, value in fast.spec.parameters().items()}
    assert list(trained) == list(precise)
    for parameter, value in precise.items():
        assert trained[parameter] == pytest.approx(value, rel=1e-12, abs=1e-14), parameter


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
def test_compiled_training_follows_the_precise_steps(update, matrices):
    """Three compiled steps of the 495-weight network against three high-precision steps."""
    network = LARGE
    steps = 3
    fast = train(network.spec, steps, update, matrices=matrices)
    precise = network
    for step in range(steps):
        assert fast.history[step] == pytest.approx(precise.loss(), rel=1e-12), step
        precise = precise.step(update=update)
    assert fast.history[-1] == pytest.approx(precise.loss(), rel=1e-12)
    for parameter, value in precise.parameters().items():
        assert float(fast.spec.parameters()[parameter]) == pytest.approx(value, rel=1e-11, abs=1e-13), parameter


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", ["worked example", "biases trained, several examples, mean", "495 weights"])
def test_shared_deltas_give_the_chain_products(name, update):
    """Each gradient, summed from its δ times ∂net/∂θ, is exactly the sum of its terms' full products."""
    derivation = Derivation(NETWORKS[name].spec, update)
    with mpmath.workdps(PRECISION):
        for gradient in derivation.gradients.values():
            assert gradient.precise == mpmath.fsum(term.precise for term in gradient.chain), gradient.name
        for row in (delta for per_example in derivation.deltas for layer_ in per_example for delta in layer_):
            assert row.precise == mpmath.fprod(factor.precise for factor in row.factors)
            total, *_ = row.factors
            if total.paths:
                assert total.precise == mpmath.fsum(a.precise * b.precise for a, b in total.paths)


def test_updated_weights_take_one_step_from_the_gradients():
    derivation = Derivation(LARGE.spec)
    rate = exact(LARGE.spec.learning_rate)
    with mpmath.workdps(PRECISION):
        for name, gradient in derivation.gradients.items():
            assert derivation.updated[name] == derivation.parameters[name] - rate * gradient.precise


@pytest.mark.parametrize("outside", [None, 15, 60])
def test_numbers_are_exact_to_the_full_precision_whatever_the_caller_works_at(outside):
    callers = mpmath.mp.dps
    value = Fraction(1, 3)
    with mpmath.workdps(PRECISION):
        reference = mpmath.mpf(1) / 3
    if outside is None:
        assert exact(value) == reference
    else:
        with mpmath.workdps(outside):
            assert exact(value) == reference
            with full_precision():
                assert mpmath.mp.dps == PRECISION
            assert mpmath.mp.dps == outside
    assert mpmath.mp.dps == callers  # the caller's precision is left as it was


def test_gradients_do_not_depend_on_the_callers_precision():
    with mpmath.workdps(15):
        low = {name: g.precise for name, g in Derivation(LARGE.spec).gradients.items()}
    high = {name: g.precise for name, g in Derivation(LARGE.spec).gradients.items()}
    assert low == high


@pytest.mark.parametrize("name", [name for name, activation in ACTIVATIONS.items() if activation.function])
def test_activations_built_unevaluated_are_the_same_expressions(name):
    """The engine builds out = f(net) unevaluated (no tensor import at start-up): the same tree."""
    net = sp.Symbol("net_h1")
    with sp.evaluate(False):
        unevaluated = ACTIVATIONS[name].output(net)
    assert sp.srepr(unevaluated) == sp.srepr(ACTIVATIONS[name].output(net))


def test_the_garbage_collector_is_restored():
    assert gc.isenabled()
    Derivation(example().spec)
    assert gc.isenabled()
    gc.disable()
    try:
        Derivation(example().spec)
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_json_prints_each_shared_factor_once_as_sympy_would(name, update):
    """gradients --json prints a factor shared by many weights once, with SymPy's own LaTeX."""
    derivation = Derivation(NETWORKS[name].spec, update)
    printer = TextbookPrinter(derivation.graph.names)
    chains = gradients_json(derivation)["chains"]
    for parameter, gradient in derivation.gradients.items():
        expected = [
            [
                dict(zip(("factor", "expr"), factor_latex(f, printer), strict=True)) | {"value": f.value}
                for f in term.factors
            ]
            for term in gradient.chain
        ]
        assert chains[parameter] == expected, parameter
