"""A plain NumPy trainer written from the textbook formulas, independent of derive's engine.

Nothing here uses derive's graph, chain, compiled or numbers modules; the network is read from the
validated spec (the layers' matrices, the examples, the options) and nothing else.

    forward    net⁽ˡ⁾ = W⁽ˡ⁾ x⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   out⁽ˡ⁾ = f(net⁽ˡ⁾)
    output δ   δ⁽ᴸ⁾ = J_f(net⁽ᴸ⁾)ᵀ ∂E/∂out⁽ᴸ⁾      (J_f diagonal, f', except for softmax)
    hidden δ   δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ f'(net⁽ˡ⁾)
    gradients  ∂E/∂W⁽ˡ⁾ = Σ_p δ⁽ˡ⁾_p x⁽ˡ⁻¹⁾_pᵀ,   ∂E/∂b⁽ˡ⁾ = Σ_p δ⁽ˡ⁾_p  (a shared bias sums its neurons too)
    decay      ∂E/∂W⁽ˡ⁾ gains λ W⁽ˡ⁾: the gradient of E + (λ/2) Σ w² (biases are not decayed)
    update     θ ← θ − η ∂E/∂θ, or with momentum Δθ ← β Δθ − η ∂E/∂θ, θ ← θ + Δθ
    batches    an epoch visits the examples in file order, or shuffled by
               random.Random(f"derive-shuffle:{S}:{e}") as the README documents, in runs of the batch size

Orders: ``simultaneous`` takes every gradient from one forward pass, then updates everything;
``sequential`` updates the output layer first and backpropagates each layer's δ through the already
updated weights of the layer above.  Other training modes plug in as the two seams say: ``rule``
(momentum, weight decay: a rule with state of its own, called once per layer and kind of parameter)
and ``batches`` (online and mini-batch: which examples each update sees).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from derive.spec.model import NetworkSpec

Array = np.ndarray


# -- the textbook functions -----------------------------------------------------------------------


def activate(name: str, net: Array, slope: float = 0.01) -> Array:
    """f(net), elementwise but for softmax; ``slope`` is leaky ReLU's below 0."""
    if name == "sigmoid":
        with np.errstate(over="ignore"):  # e^800 is inf in floats, and 1/(1 + inf) the 0 it should be
            return 1.0 / (1.0 + np.exp(-net))
    if name == "tanh":
        return np.tanh(net)
    if name == "relu":
        return np.maximum(net, 0.0)
    if name == "leaky_relu":
        return np.where(net > 0, net, slope * net)
    if name == "softplus":  # log(1 + e^net) = log(e^0 + e^net), which stays finite where e^net overflows
        return np.logaddexp(0.0, net)
    if name == "elu":  # net above 0, e^net − 1 below
        return np.where(net > 0, net, np.expm1(np.minimum(net, 0.0)))
    if name == "linear":
        return net.copy()
    if name == "softmax":
        exps = np.exp(net - net.max())
        return exps / exps.sum()
    raise ValueError(name)


def jacobian(name: str, net: Array, out: Array, slope: float = 0.01) -> Array:
    """∂out_i/∂net_j; diagonal but for softmax, whose Jacobian is diag(out) − out outᵀ."""
    if name == "softmax":
        return np.diag(out) - np.outer(out, out)
    if name == "sigmoid":
        slope = out * (1.0 - out)
    elif name == "tanh":
        slope = 1.0 - out**2
    elif name == "relu":
        slope = (net > 0).astype(float)  # no derivative at 0: the subgradient 0, as the README states
    elif name == "leaky_relu":
        slope = np.where(net > 0, 1.0, slope)  # at 0 the lower slope, as ReLU's 0
    elif name == "softplus":  # the logistic function
        slope = 1.0 / (1.0 + np.exp(-net))
    elif name == "elu":
        slope = np.where(net > 0, 1.0, np.exp(np.minimum(net, 0.0)))
    elif name == "linear":
        slope = np.ones_like(net)
    else:
        raise ValueError(name)
    return np.diag(slope)


def output_errors(name: str, targets: Array, out: Array) -> Array:
    """Each output's share of one example's error; the example's error is their sum."""
    if name == "half_sse":
        return 0.5 * (targets - out) ** 2
    if name == "mse":
        return (targets - out) ** 2 / len(out)
    if name == "bce":
        return -(targets * np.log(out) + (1 - targets) * np.log(1 - out))
    if name == "cross_entropy":
        return -targets * np.log(out)
    raise ValueError(name)


def loss_slope(name: str, targets: Array, out: Array) -> Array:
    """∂E/∂out of one example's error."""
    n = len(out)
    if name == "half_sse":
        return -(targets - out)
    if name == "mse":
        return -2.0 * (targets - out) / n
    if name == "bce":
        return -(targets / out - (1 - targets) / (1 - out))
    if name == "cross_entropy":
        return -targets / out
    raise ValueError(name)


# -- the network as matrices ----------------------------------------------------------------------


@dataclass
class Layer:
    name: str
    activation: str
    weights: Array  # weights[j, k]: from input k into neuron j
    bias: Array  # one value per neuron (all equal when shared)
    shared: bool
    slope: float = 0.01  # leaky ReLU's slope below 0

    def neuron(self, j: int) -> str:
        return f"{self.name}{'_' if self.name[-1].isdigit() else ''}{j + 1}"


@dataclass
class Net:
    layers: list[Layer]
    examples: list[tuple[Array, Array]]
    loss: str
    mean: bool
    learning_rate: float
    train_biases: bool
    round_to: int | None = None  # hidden outputs rounded half up to this many decimals, as by hand
    weight_decay: float = 0.0  # λ
    momentum: float = 0.0  # β
    previous: dict[str, float] = field(default_factory=dict)  # Δθ before the first update, by name
    batch: int | None = None  # examples per update; None: all
    shuffle: int | None = None  # the seed of each epoch's order

    def copy(self) -> Net:
        layers = [
            Layer(la.name, la.activation, la.weights.copy(), la.bias.copy(), la.shared, la.slope) for la in self.layers
        ]
        return replace(self, layers=layers)

    def parameters(self) -> dict[str, float]:
        """Numbered as the README says: w1, w2, … layer by layer, neuron by neuron, input by input; then b1, b2, …"""
        weights = [w for layer in self.layers for w in layer.weights.ravel()]
        biases = [b for layer in self.layers for b in (layer.bias[:1] if layer.shared else layer.bias)]
        named = {f"w{n}": float(w) for n, w in enumerate(weights, 1)}
        return named | {f"b{n}": float(b) for n, b in enumerate(biases, 1)}


def from_spec(spec: NetworkSpec) -> Net:
    layers = []
    for layer in spec.layers:
        weights = np.array([[float(w) for w in row] for row in layer.weights])
        shared = not isinstance(layer.bias, tuple)
        bias = np.full(layer.size, float(layer.bias)) if shared else np.array([float(b) for b in layer.bias])
        slope = 0.01 if layer.negative_slope is None else float(layer.negative_slope)
        layers.append(Layer(layer.name, layer.activation, weights, bias, shared, slope))
    examples = [
        (np.array([float(x) for x in e.inputs]), np.array([float(t) for t in e.targets])) for e in spec.examples
    ]
    return Net(
        layers,
        examples,
        spec.loss,
        spec.reduction == "mean",
        float(spec.learning_rate),
        spec.train_biases,
        spec.round_activations,
        weight_decay=float(spec.weight_decay),
        momentum=float(spec.momentum),
        previous={name: float(change) for name, change in spec.previous_update},
        batch=spec.batch_size,
        shuffle=spec.shuffle,
    )


# -- one pass -------------------------------------------------------------------------------------


@dataclass
class Forward:
    """One example: the input of every layer, every net input and output, and the error."""

    inputs: list[Array] = field(default_factory=list)
    nets: list[Array] = field(default_factory=list)
    outs: list[Array] = field(default_factory=list)
    errors: Array | None = None


def forward(net: Net, x: Array, targets: Array) -> Forward:
    result = Forward()
    for index, layer in enumerate(net.layers):
        result.inputs.append(x)
        z = layer.weights @ x + layer.bias
        x = activate(layer.activation, z, layer.slope)
        if net.round_to is not None and index < len(net.layers) - 1:
            # a student rounds each hidden output (0.59327 → 0.5933) and works on with the rounded value
            scale = 10.0**net.round_to
            x = np.floor(x * scale + 0.5) / scale
        result.nets.append(z)
        result.outs.append(x)
    result.errors = output_errors(net.loss, targets, x)
    return result


def total_loss(net: Net, examples: Sequence[int] | None = None) -> float:
    chosen = range(len(net.examples)) if examples is None else examples
    total = sum(float(np.sum(forward(net, *net.examples[p]).errors)) for p in chosen)
    return total / len(chosen) if net.mean else total


def output_delta(net: Net, passed: Forward, targets: Array, scale: float) -> Array:
    last = net.layers[-1]
    slope = scale * loss_slope(net.loss, targets, passed.outs[-1])
    return jacobian(last.activation, passed.nets[-1], passed.outs[-1], last.slope).T @ slope


def hidden_delta(layer: Layer, above: Layer, delta_above: Array, net_in: Array, out: Array) -> Array:
    """δ = (Wᵀ δ_above) ⊙ f'(net): the sum over the paths through the layer above."""
    return jacobian(layer.activation, net_in, out, layer.slope).T @ (above.weights.T @ delta_above)


def layer_gradients(
    layer: Layer, deltas: Sequence[Array], inputs: Sequence[Array], decay: float = 0.0
) -> tuple[Array, Array]:
    """∂E/∂W = Σ_p δ_p x_pᵀ + λW and ∂E/∂b = Σ_p δ_p; a shared bias gets the sum over its neurons, in each entry."""
    grad_w = sum(np.outer(d, x) for d, x in zip(deltas, inputs, strict=True)) + decay * layer.weights
    grad_b = sum(deltas)
    if layer.shared:
        grad_b = np.full_like(grad_b, grad_b.sum())
    return grad_w, grad_b


# -- update rules and batches: the seams for the other training modes -----------------------------

Rule = Callable[[int, str, Array, Array], Array]


def gradient_descent(rate: float) -> Rule:
    """θ ← θ − η ∂E/∂θ; called with the layer's index and the kind ("weights" or "bias")."""

    def rule(layer: int, kind: str, value: Array, gradient: Array) -> Array:
        return value - rate * gradient

    return rule


def momentum_rule(net: Net) -> Rule:
    """Δθ ← β Δθ − η ∂E/∂θ, θ ← θ + Δθ; each Δθ starts from the network's ``previous`` (0 if not given)."""
    names = iter(net.parameters())
    changes: dict[tuple[int, str], Array] = {}
    for index, layer in enumerate(net.layers):
        changes[index, "weights"] = np.array([net.previous.get(next(names), 0.0) for _ in layer.weights.ravel()])
        changes[index, "weights"] = changes[index, "weights"].reshape(layer.weights.shape)
    for index, layer in enumerate(net.layers):
        if layer.shared:
            changes[index, "bias"] = np.full(len(layer.bias), net.previous.get(next(names), 0.0))
        else:
            changes[index, "bias"] = np.array([net.previous.get(next(names), 0.0) for _ in layer.bias])

    def rule(layer: int, kind: str, value: Array, gradient: Array) -> Array:
        changes[layer, kind] = net.momentum * changes[layer, kind] - net.learning_rate * gradient
        return value + changes[layer, kind]

    return rule


def textbook_rule(net: Net) -> Rule:
    """Plain gradient descent, or momentum when the network has a β."""
    return momentum_rule(net) if net.momentum else gradient_descent(net.learning_rate)


def full_batch(net: Net) -> Iterable[list[int]]:
    """Every update sees every example (the batch)."""
    while True:
        yield list(range(len(net.examples)))


def epochs(net: Net) -> Iterator[list[int]]:
    """Each epoch's batches: its order cut into runs of the batch size (the last may be shorter)."""
    n = len(net.examples)
    size = net.batch or n
    for epoch in itertools.count(1):
        order = list(range(n))
        if net.shuffle is not None and size < n:
            random.Random(f"derive-shuffle:{net.shuffle}:{epoch}").shuffle(order)
        for start in range(0, n, size):
            yield order[start : start + size]


@dataclass
class Step:
    """What one update computed: the loss before it, the deltas, the gradients and the layers after it."""

    loss: float
    passes: list[Forward]
    deltas: list[list[Array]]  # deltas[p][l]
    gradients: list[tuple[Array, Array]]  # per layer: ∂E/∂W, ∂E/∂b
    through: Net  # the weights the hidden δs were backpropagated through
    after: Net


def step(
    net: Net, order: str = "simultaneous", rule: Rule | None = None, examples: Sequence[int] | None = None
) -> Step:
    """One update of ``net`` (left unchanged) on ``examples`` (default: all of them)."""
    rule = rule or textbook_rule(net)
    chosen = list(range(len(net.examples))) if examples is None else list(examples)
    scale = 1.0 / len(chosen) if net.mean else 1.0
    passes = [forward(net, *net.examples[p]) for p in chosen]
    before = sum(float(np.sum(passed.errors)) for passed in passes) * scale
    after = net.copy()
    # the weights each hidden δ is backpropagated through: the new ones in the sequential order
    through = after if order == "sequential" else net
    n_layers = len(net.layers)
    deltas: list[list[Array]] = [[np.zeros(0)] * n_layers for _ in chosen]
    gradients: list[tuple[Array, Array]] = [(np.zeros(0), np.zeros(0))] * n_layers
    for index in reversed(range(n_layers)):
        for i, (p, passed) in enumerate(zip(chosen, passes, strict=True)):
            if index == n_layers - 1:
                deltas[i][index] = output_delta(net, passed, net.examples[p][1], scale)
            else:
                deltas[i][index] = hidden_delta(
                    net.layers[index],
                    through.layers[index + 1],
                    deltas[i][index + 1],
                    passed.nets[index],
                    passed.outs[index],
                )
        layer = net.layers[index]
        grad_w, grad_b = layer_gradients(
            layer, [d[index] for d in deltas], [f.inputs[index] for f in passes], net.weight_decay
        )
        gradients[index] = (grad_w, grad_b)
        if order == "sequential":
            _update(after, index, rule, grad_w, grad_b)
    if order == "simultaneous":
        for index in range(n_layers):
            _update(after, index, rule, *gradients[index])
    elif order != "sequential":
        raise ValueError(order)
    return Step(before, passes, deltas, gradients, through, after)


def _update(net: Net, index: int, rule: Rule, grad_w: Array, grad_b: Array) -> None:
    layer = net.layers[index]
    layer.weights = rule(index, "weights", layer.weights, grad_w)
    if net.train_biases:
        layer.bias = rule(index, "bias", layer.bias, grad_b)


def train(
    net: Net,
    steps: int,
    order: str = "simultaneous",
    rule: Rule | None = None,
    batches: Callable[[Net], Iterable[list[int]]] = epochs,
) -> tuple[list[float], Net]:
    """``steps`` updates: E_total (over all examples) before each and after the last, and the network left.

    One rule for the whole run, so that momentum's Δθ carries from each update to the next.
    """
    rule = rule or textbook_rule(net)
    history = []
    chosen = iter(batches(net))
    for _ in range(steps):
        history.append(total_loss(net))
        net = step(net, order, rule, next(chosen)).after
    history.append(total_loss(net))
    return history, net


# -- every quantity of the working, by the step model's key ---------------------------------------


def quantities(spec: NetworkSpec, order: str = "simultaneous") -> dict[str, float]:
    """The value of every key of ``derive keys`` for one step, computed by the reference.

    Keys (see the README): ``net_h1``, ``out_h1``, ``E_o1``, ``E_total``, ``dE/dout_o1``,
    ``dout_o1/dnet_o1``, ``delta_o1``, ``dnet_o1/dw5``, ``dE/dw5``, ``w5+``, ``E_total+``; ``@p`` per
    example when there are several; a ``+`` after a forward quantity is its value after the step.
    """
    net = from_spec(spec)
    done = step(net, order)
    multi = len(net.examples) > 1
    values: dict[str, float] = {}
    at = lambda key, p: f"{key}@{p + 1}" if multi else key  # noqa: E731
    after_passes = [forward(done.after, *example) for example in net.examples]
    scale = 1.0 / len(net.examples) if net.mean else 1.0
    for p, (passed, again) in enumerate(zip(done.passes, after_passes, strict=True)):
        for suffix, run in (("", passed), ("+", again)):
            for index, layer in enumerate(net.layers):
                for j in range(len(layer.bias)):
                    values[at(f"net_{layer.neuron(j)}{suffix}", p)] = float(run.nets[index][j])
                    values[at(f"out_{layer.neuron(j)}{suffix}", p)] = float(run.outs[index][j])
            for j, error in enumerate(run.errors):
                values[at(f"E_{net.layers[-1].neuron(j)}{suffix}", p)] = float(error)
            if multi:
                values[at(f"E_total{suffix}", p)] = float(np.sum(run.errors))
        _backward_keys(net, done, p, passed, scale, values, at)
    values["E_total"] = done.loss
    values["E_total+"] = total_loss(done.after)
    values |= {f"{name}+": value for name, value in done.after.parameters().items()}
    gradients = Net(
        [
            Layer(la.name, la.activation, g_w, g_b, la.shared)
            for la, (g_w, g_b) in zip(net.layers, done.gradients, strict=True)
        ],
        [],
        net.loss,
        net.mean,
        0.0,
        False,
    ).parameters()
    values |= {f"dE/d{name}": value for name, value in gradients.items()}
    return values


def _backward_keys(net: Net, done: Step, p: int, passed: Forward, scale: float, values: dict, at) -> None:
    """δ, its factors and each ∂net/∂θ of example ``p``."""
    names = iter(net.parameters())
    weight_names = [[[next(names) for _ in row] for row in layer.weights] for layer in net.layers]
    bias_numbers = iter(range(1, 10**6))
    for index, layer in enumerate(net.layers):
        neurons = [layer.neuron(j) for j in range(len(layer.bias))]
        delta = done.deltas[p][index]
        if index == len(net.layers) - 1:
            d_out = scale * loss_slope(net.loss, net.examples[p][1], passed.outs[-1])
        else:
            d_out = done.through.layers[index + 1].weights.T @ done.deltas[p][index + 1]
        slope = np.diag(jacobian(layer.activation, passed.nets[index], passed.outs[index], layer.slope))
        biases = [next(bias_numbers)] * len(neurons) if layer.shared else [next(bias_numbers) for _ in neurons]
        for j, neuron in enumerate(neurons):
            values[at(f"delta_{neuron}", p)] = float(delta[j])
            if layer.activation != "softmax":  # softmax's first factor is ∂E/∂net itself
                values[at(f"dE/dout_{neuron}", p)] = float(d_out[j])
                values[at(f"dout_{neuron}/dnet_{neuron}", p)] = float(slope[j])
            for k, weight in enumerate(weight_names[index][j]):
                values[at(f"dnet_{neuron}/d{weight}", p)] = float(passed.inputs[index][k])
            values[at(f"dnet_{neuron}/db{biases[j]}", p)] = 1.0
