"""Chain-rule gradients against sympy.diff of the composed loss, finite differences and autograd."""

from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from derive import Network, example
from derive.core.checks import finite_difference
from tests.reference import check_gradients, sympy_gradients

ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear", "leaky_relu", "softplus", "elu"]
# Activations with a kink at net = 0, where finite differences and the two sides disagree.
KINKED = ("relu", "leaky_relu")


def layer(name, activation, weights, bias):
    return {"name": name, "activation": activation, "weights": weights, "bias": bias}


SHAPES = {
    "several examples, mean": {
        "reduction": "mean",
        "layers": [layer("h", "sigmoid", [[0.1, 0.2], [0.3, -0.4]], 0.1), layer("o", "sigmoid", [[0.5, 0.6]], 0.2)],
        "examples": [
            {"inputs": [0.0, 1.0], "targets": [1.0]},
            {"inputs": [1.0, 0.0], "targets": [1.0]},
            {"inputs": [1.0, 1.0], "targets": [0.0]},
        ],
    },
    "per-neuron biases": {
        "layers": [
            layer("h", "tanh", [[0.1, 0.2], [0.3, -0.4], [0.25, 0.5]], [0.1, -0.2, 0.3]),
            layer("o", "linear", [[0.5, 0.6, -0.7]], [0.2]),
        ],
        "examples": [{"inputs": [0.5, -1.5], "targets": [0.25]}],
    },
    "deeper relu, mse averaged": {
        "loss": "mse",
        "reduction": "mean",
        "layers": [
            layer("a", "relu", [[0.5, -0.2], [0.3, 0.8]], [0.1, 0.2]),
            layer("b", "relu", [[0.6, 0.4], [-0.3, 0.9]], 0.05),
            layer("c", "relu", [[0.7, 0.2], [0.1, 0.5]], [0.0, 0.1]),
            layer("o", "linear", [[1.2, -0.4], [0.3, 0.8]], 0.0),
        ],
        "examples": [{"inputs": [1.0, 2.0], "targets": [1.0, 0.5]}, {"inputs": [0.5, 0.25], "targets": [0.0, 1.0]}],
    },
    "softmax with cross-entropy": {
        "loss": "cross_entropy",
        "layers": [
            layer("h", "tanh", [[0.15, 0.2], [0.25, 0.3]], 0.35),
            layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.6),
        ],
        "examples": [{"inputs": [0.05, 0.1], "targets": [0, 1, 0]}, {"inputs": [0.5, -0.1], "targets": [1, 0, 0]}],
    },
    "softmax with soft targets and squared error": {
        "loss": "half_sse",
        "layers": [layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], [0.1, 0.2, 0.3])],
        "examples": [{"inputs": [0.5, 1.0], "targets": [0.2, 0.3, 0.1]}],
    },
    "cross-entropy with targets not summing to one": {
        "loss": "cross_entropy",
        "layers": [layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55]], 0.0)],
        "examples": [{"inputs": [0.5, 1.0], "targets": [0.5, 0.25]}],
    },
    "bce": {
        "loss": "bce",
        "layers": [
            layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35),
            layer("o", "sigmoid", [[0.4, 0.45], [0.5, 0.55]], [0.6, -0.6]),
        ],
        "examples": [{"inputs": [0.05, 0.1], "targets": [0.0, 1.0]}],
    },
    "leaky ReLU, softplus and ELU with weight decay": {
        "loss": "mse",
        "weight_decay": 0.1,
        "layers": [
            {**layer("a", "leaky_relu", [[0.5, -0.2], [-0.3, 0.8]], [0.1, -0.25]), "negative_slope": 0.2},
            layer("b", "softplus", [[0.6, -0.4], [-0.3, 0.9]], 0.05),
            layer("c", "elu", [[0.7, -1.2], [-0.1, 0.5]], [-0.5, 0.1]),
            layer("o", "linear", [[1.2, -0.4]], 0.0),
        ],
        "examples": [{"inputs": [1.0, 2.0], "targets": [1.0]}, {"inputs": [-0.5, 0.25], "targets": [0.0]}],
    },
    "layer names ending in digits": {
        "layers": [layer("l1", "sigmoid", [[0.1, 0.2]], 0.0), layer("l2", "sigmoid", [[0.3]], 0.0)],
        "examples": [{"inputs": [1.0, 0.5], "targets": [0.5]}],
    },
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_fixed_shapes(shape):
    check_gradients(Network.from_dict(SHAPES[shape], name=shape))


def test_composed_gradient_is_sympy_diff_of_the_loss():
    """Gradient.expr, built by substituting the chain, equals sympy.diff of the composed loss."""
    network = Network.from_dict(SHAPES["per-neuron biases"], name="biases")
    derivation = network.derivation
    graph = derivation.graph
    exact = sympy_gradients(network.spec)
    base = set(graph.parameters.values()) | {s for row in graph.inputs + graph.targets for s in row}
    at = graph.numbers()
    for name, gradient in network.gradients().items():
        assert gradient.expr.free_symbols <= base
        assert sp.N(gradient.expr.subs(at), 30) == pytest.approx(float(exact[name]), rel=1e-14)
        difference = sp.diff(graph.composed_loss, graph.parameters[name]) - gradient.expr
        assert abs(sp.N(difference.subs(at), 30)) < 1e-25


@st.composite
def networks(draw):
    weight = st.integers(-100, 100).map(lambda n: Fraction(n, 100))
    n_inputs = draw(st.integers(1, 3))
    depth = draw(st.integers(1, 3))
    loss = draw(st.sampled_from(["half_sse", "mse", "bce", "cross_entropy"]))
    layers = []
    fan_in = n_inputs
    for index in range(depth):
        last = index == depth - 1
        if last and loss in ("bce", "cross_entropy"):
            activation = draw(st.sampled_from(["sigmoid", "softmax"]))
        else:
            activation = draw(st.sampled_from(ACTIVATIONS + (["softmax"] if last else [])))
        size = draw(st.integers(2 if activation == "softmax" else 1, 3))
        weights = [[draw(weight) for _ in range(fan_in)] for _ in range(size)]
        bias = draw(st.one_of(weight, st.lists(weight, min_size=size, max_size=size)))
        layers.append(layer(f"l{index}x", activation, weights, bias))
        if activation == "leaky_relu" and draw(st.booleans()):
            layers[-1]["negative_slope"] = draw(st.integers(0, 99).map(lambda n: Fraction(n, 100)))
        fan_in = size
    value = st.integers(0, 100).map(lambda n: Fraction(n, 100))
    examples = [
        {"inputs": [draw(weight) * 2 for _ in range(n_inputs)], "targets": [draw(value) for _ in range(fan_in)]}
        for _ in range(draw(st.integers(1, 3)))
    ]
    return Network.from_dict(
        {
            "loss": loss,
            "reduction": draw(st.sampled_from(["sum", "mean"])),
            "learning_rate": 0.5,
            "weight_decay": draw(st.sampled_from([0, Fraction(1, 100), Fraction(1, 4)])),
            "layers": layers,
            "examples": examples,
        },
        name="random",
    )


def away_from_kinks(network: Network) -> bool:
    """ReLU is not differentiable at 0; finite differences need the nets away from it."""
    spec = network.spec
    for result in network.derivation.forward:
        for L, layer in enumerate(spec.layers):
            if layer.activation in KINKED and any(abs(net) < mpmath.mpf("1e-3") for net in result.net[L]):
                return False
    return True


@given(networks())
def test_random_networks(network):
    assume(away_from_kinks(network))
    check_gradients(network)


def test_the_finite_difference_check_is_two_forward_passes():
    """core.checks: E_total at w5 ∓ ε from a NumPy forward pass of Mazur's network written here, and their slope."""

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def loss(w5: float) -> float:
        hidden = sigmoid(np.array([[0.15, 0.20], [0.25, 0.30]]) @ [0.05, 0.10] + 0.35)
        out = sigmoid(np.array([[w5, 0.45], [0.50, 0.55]]) @ hidden + 0.60)
        return float(0.5 * np.sum((np.array([0.01, 0.99]) - out) ** 2))

    check = finite_difference(example("mazur").spec, "w5")
    low, high = loss(0.40 - 1e-4), loss(0.40 + 1e-4)
    assert check.nudge == Decimal("0.0001") and check.width == Decimal("0.0002")
    assert float(check.low) == pytest.approx(low, abs=1e-12)  # each side rounded to 12 decimals
    assert float(check.high) == pytest.approx(high, abs=1e-12)
    assert float(check.slope) == pytest.approx((high - low) / 2e-4, abs=1e-8)
    assert float(check.slope) == pytest.approx(0.082167041, abs=1e-8)  # the post's ∂E/∂w5
