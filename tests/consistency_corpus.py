"""The consistency test's corpus: small networks that use every option of a network file between them.

Each activation (sigmoid, tanh, relu, leaky_relu with its negative_slope, softplus, elu, linear,
softmax) and loss (half_sse, mse, bce, cross_entropy), both reductions, batch, online and
mini-batch updates (shuffled), momentum with ``previous_update``, weight decay, hidden outputs
rounded by hand at exact halves (binary ones and decimal ones that floats miss), fixed biases, the
sequential order and ``--example P``.  Each network is small, so that every output runs in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.spec.files import builtin_text


@dataclass(frozen=True)
class Case:
    """A network of the corpus: its file, its update order, and the example whose update documents work."""

    toml: str
    update: str = "simultaneous"
    example: int | None = None  # --example P on the documents


def with_keys(name: str, keys: str) -> str:
    """A built-in network's file with top-level keys added before its first table."""
    return keys + "\n" + builtin_text(name)


CORPUS: dict[str, Case] = {
    # sigmoid, half_sse, sum, one example, biases kept fixed (the worked example)
    "mazur": Case(builtin_text("mazur")),
    # tanh and linear, mse averaged over two examples, weight decay, one bias per neuron
    "tanh_mse_decay": Case(
        """
learning_rate = 0.3
loss = "mse"
reduction = "mean"
weight_decay = 0.01
[[layers]]
name = "h"
activation = "tanh"
weights = [[0.1, 0.4], [-0.5, 0.2]]
bias = [0.3, -0.1]
[[layers]]
name = "o"
activation = "linear"
weights = [[0.7, -0.2], [0.4, 0.6]]
bias = [0.0, 0.05]
[[examples]]
inputs = [0.6, -0.4]
targets = [0.5, -0.1]
[[examples]]
inputs = [-0.2, 0.9]
targets = [0.2, 0.3]
"""
    ),
    # online (batch_size 1): the first update sees example 1, where h1 is cut by ReLU and o1 is
    # below zero on leaky ReLU's slope 0.2
    "relu_leaky_online": Case(
        """
learning_rate = 0.1
batch_size = 1
[[layers]]
name = "h"
activation = "relu"
weights = [[0.5, -0.4], [-0.3, 0.8]]
bias = [0.1, -0.2]
[[layers]]
name = "o"
activation = "leaky_relu"
negative_slope = 0.2
weights = [[0.6, -0.9]]
bias = -0.1
[[examples]]
inputs = [0.2, 0.9]
targets = [-0.2]
[[examples]]
inputs = [1.0, 0.5]
targets = [0.3]
[[examples]]
inputs = [0.7, 0.3]
targets = [0.5]
"""
    ),
    # softplus and ELU (o2 below zero), mse, momentum with the update before the first one given
    "softplus_elu_momentum": Case(
        """
learning_rate = 0.2
loss = "mse"
momentum = 0.9
[previous_update]
w1 = 0.002
w5 = -0.01
b2 = 0.02
[[layers]]
name = "h"
activation = "softplus"
weights = [[0.2, -0.5], [0.7, 0.1]]
bias = 0.1
[[layers]]
name = "o"
activation = "elu"
weights = [[0.6, -0.3], [-0.8, 0.4]]
bias = [0.05, -0.1]
[[examples]]
inputs = [0.5, -0.3]
targets = [0.2, -0.4]
"""
    ),
    # bce averaged, mini-batches of 2 of 4 examples, shuffled (the first batch is examples 2 and 4),
    # weight decay added once per update
    "bce_minibatch_shuffle": Case(
        """
learning_rate = 0.5
loss = "bce"
reduction = "mean"
batch_size = 2
shuffle = 3
weight_decay = 0.001
[[layers]]
name = "h"
activation = "elu"
weights = [[0.4, -0.6], [-0.5, 0.3]]
bias = [0.0, 0.1]
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.7, -0.8]]
bias = 0.2
[[examples]]
inputs = [0.1, 0.9]
targets = [1]
[[examples]]
inputs = [0.8, 0.2]
targets = [0]
[[examples]]
inputs = [0.5, 0.5]
targets = [1]
[[examples]]
inputs = [0.9, 0.7]
targets = [0]
"""
    ),
    # tanh and softmax with cross-entropy (δ = out − t)
    "softmax": Case(builtin_text("softmax")),
    # softmax with mse, averaged: δ through the softmax Jacobian
    "softmax_mse_mean": Case(
        """
learning_rate = 1.0
loss = "mse"
reduction = "mean"
[[layers]]
name = "h"
activation = "sigmoid"
weights = [[0.3, -0.2], [0.1, 0.4]]
bias = 0.2
[[layers]]
name = "o"
activation = "softmax"
weights = [[0.5, -0.4], [-0.3, 0.6]]
bias = [0.1, -0.1]
[[examples]]
inputs = [0.6, 0.1]
targets = [1, 0]
[[examples]]
inputs = [0.2, 0.7]
targets = [0, 1]
"""
    ),
    # leaky ReLU at its default slope (h1 below zero in example 1), cross-entropy on sigmoid
    # outputs, averaged, biases kept fixed
    "leaky_ce_fixed_biases": Case(
        """
learning_rate = 0.5
loss = "cross_entropy"
reduction = "mean"
train_biases = false
[[layers]]
name = "h"
activation = "leaky_relu"
weights = [[0.5, -0.7], [-0.4, 0.2]]
bias = 0.05
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.6, -0.5], [0.3, 0.9]]
bias = -0.1
[[examples]]
inputs = [0.3, 0.6]
targets = [0.8, 0.3]
[[examples]]
inputs = [0.9, 0.2]
targets = [0.1, 0.6]
"""
    ),
    # a linear hidden layer whose outputs are exact halves at 2 decimals: −0.125 (by hand −0.13,
    # away from zero) and 0.375 (0.38)
    "round_halves": Case(
        """
learning_rate = 0.5
round_activations = 2
[[layers]]
name = "h"
activation = "linear"
weights = [[0.25, 1.0], [0.75, 0.5]]
bias = [0.0, 0.125]
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.8, -0.6]]
bias = 0.1
[[examples]]
inputs = [0.5, -0.25]
targets = [0.7]
"""
    ),
    # halves of the file's decimals that floats miss: 0.69·0.5 − 0.8·0.25 = 0.145 (0.15 by hand; in
    # floats 0.14499999999999996) and −0.49·0.5 + 0.4·0.25 = −0.145 (−0.15; in floats −0.14499999999999999)
    "round_decimal_halves": Case(
        """
learning_rate = 0.5
round_activations = 2
[[layers]]
name = "h"
activation = "linear"
weights = [[0.69, -0.8], [-0.49, 0.4]]
bias = 0.0
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.7, 0.9]]
bias = 0.2
[[examples]]
inputs = [0.5, 0.25]
targets = [0.3]
"""
    ),
    # two ReLU layers and a linear output, mse averaged over two examples, in the sequential order
    "deep_sequential": Case(builtin_text("deep"), update="sequential"),
    # XOR online with momentum; the documents work the update of example 3
    "xor_online_momentum": Case(with_keys("xor", "batch_size = 1\nmomentum = 0.9"), example=3),
}
