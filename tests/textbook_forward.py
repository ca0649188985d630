"""A forward pass written from the textbook formulas in NumPy, and its central finite differences.

The consistency test (tests/test_consistency.py) anchors ``derive gradients --json`` here: nothing
in this module imports derive.  The network is read from the same mapping a network file holds
(TOML or JSON, numbers as floats).

    net⁽ˡ⁾ = W⁽ˡ⁾ out⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   out⁽ˡ⁾ = f(net⁽ˡ⁾),   E_total = Σ_p E⁽ᵖ⁾ (÷ n with mean)
    ∂E/∂θ ≈ [−E(θ+2h) + 8E(θ+h) − 8E(θ−h) + E(θ−2h)] / 12h      (weight decay: E + (λ/2)·Σ w²)

Hidden outputs rounded by hand (``round_activations``) round halves away from zero; for the
derivatives the rounding is held fixed (its offset at the point itself), as the hand working
takes the rounded value and differentiates the activation.  The sequential order's gradients
come from the same differences with the layers above linearised around the forward pass on
their updated weights: ∂net⁽ᵏ⁾/∂out⁽ᵏ⁻¹⁾ = W⁽ᵏ⁾⁺ there, as its δs are backpropagated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

Array = np.ndarray
Params = dict[str, float]
STEP = 1e-4  # h of the differences: truncation ~h⁴, rounding ~1e-16/h, both far below 1e-6 relative

ACTIVATIONS: dict[str, Callable[[Array, float], Array]] = {
    "sigmoid": lambda net, a: 1.0 / (1.0 + np.exp(-net)),
    "tanh": lambda net, a: np.tanh(net),
    "relu": lambda net, a: np.where(net > 0, net, 0.0),
    "leaky_relu": lambda net, a: np.where(net > 0, net, a * net),
    "softplus": lambda net, a: np.log1p(np.exp(net)),
    "elu": lambda net, a: np.where(net > 0, net, np.expm1(np.minimum(net, 0.0))),
    "linear": lambda net, a: net.copy(),
    "softmax": lambda net, a: np.exp(net - net.max()) / np.exp(net - net.max()).sum(),
}
ERRORS: dict[str, Callable[[Array, Array], Array]] = {
    "half_sse": lambda t, o: 0.5 * (t - o) ** 2,
    "mse": lambda t, o: (t - o) ** 2 / len(t),
    "bce": lambda t, o: -(t * np.log(o) + (1 - t) * np.log(1 - o)),
    "cross_entropy": lambda t, o: -t * np.log(o),
}


def neuron_name(layer: str, j: int) -> str:
    """h1, h2, …; ``l2_1`` when the layer's name ends in a digit."""
    return f"{layer}_{j + 1}" if layer[-1].isdigit() else f"{layer}{j + 1}"


@dataclass(frozen=True)
class Textbook:
    """A network as its file describes it: the mapping, read with floats."""

    data: Mapping[str, Any]

    @property
    def layers(self) -> list[Mapping[str, Any]]:
        return list(self.data["layers"])

    @property
    def examples(self) -> list[tuple[Array, Array]]:
        return [(np.array(e["inputs"], float), np.array(e["targets"], float)) for e in self.data["examples"]]

    def option(self, key: str, default: Any) -> Any:
        return self.data.get(key, default)

    def parameters(self) -> Params:
        """w1, w2, … layer by layer, neuron by neuron, input by input; then b1, b2, … (one per shared bias)."""
        weights = [float(w) for layer in self.layers for row in layer["weights"] for w in row]
        biases = [float(b) for layer in self.layers for b in np.atleast_1d(layer["bias"])]
        return {f"w{n}": w for n, w in enumerate(weights, 1)} | {f"b{n}": b for n, b in enumerate(biases, 1)}

    def trained(self, name: str) -> bool:
        return name.startswith("w") or self.option("train_biases", True)

    def matrices(self, params: Params) -> list[tuple[Array, Array]]:
        """Each layer's W (neurons × inputs) and its bias column, from the named parameters."""
        w, b, made = 1, 1, []
        for layer in self.layers:
            rows, columns = len(layer["weights"]), len(layer["weights"][0])
            W = np.array([[params[f"w{w + j * columns + k}"] for k in range(columns)] for j in range(rows)])
            w += rows * columns
            shared = not isinstance(layer["bias"], list)
            bias = np.full(rows, params[f"b{b}"]) if shared else np.array([params[f"b{b + j}"] for j in range(rows)])
            b += 1 if shared else rows
            made.append((W, bias))
        return made

    def layer_of(self, name: str) -> int:
        """The index of the layer a parameter belongs to."""
        counts = [len(layer["weights"]) * len(layer["weights"][0]) for layer in self.layers]
        biases = [1 if not isinstance(layer["bias"], list) else len(layer["weights"]) for layer in self.layers]
        number = int(name[1:])
        for L, count in enumerate(counts if name[0] == "w" else biases):
            if number <= count:
                return L
            number -= count
        raise KeyError(name)


def hand_round(values: Array, decimals: int) -> Array:
    """Rounded as by hand, halves away from zero (−0.125 → −0.13, 0.145 → 0.15).

    The hand sees the decimal the file's decimals make, not its float: a float within 12 significant
    digits of a half (0.29 · 0.5 is 0.14499999999999999 in floats) is taken as that half.
    """
    quantum = Decimal(1).scaleb(-decimals)
    return np.array([float(Decimal(f"{v:.12g}").quantize(quantum, rounding=ROUND_HALF_UP)) for v in values])


@dataclass
class Pass:
    """One example's pass: every layer's net inputs and outputs, and the rounding offsets it applied."""

    nets: list[Array]
    outs: list[Array]
    offsets: list[Array]


@dataclass(frozen=True)
class Nudge:
    """A small change to one neuron's net input or output in one example, for ∂E/∂net and ∂E/∂out."""

    example: int
    layer: int
    neuron: int
    where: str  # "net" or "out"
    amount: float


@dataclass(frozen=True)
class Linearised:
    """Layers above ``below`` as straight lines through ``base`` with slopes W⁺ (the sequential order)."""

    below: int
    base: list[Pass]
    slopes: list[Array]


def feed(
    book: Textbook,
    params: Params,
    p: int,
    *,
    held: Pass | None = None,
    nudge: Nudge | None = None,
    linear: Linearised | None = None,
) -> Pass:
    """Example p forward: net = W·x + b, out = f(net), hidden outputs rounded by hand if asked."""
    x, _ = book.examples[p]
    rounding = book.option("round_activations", None)
    layers, matrices = book.layers, book.matrices(params)
    made = Pass([], [], [])
    for L, ((W, bias), layer) in enumerate(zip(matrices, layers, strict=True)):
        if linear is not None and L > linear.below:
            base = linear.base[p]
            net = base.nets[L] + linear.slopes[L] @ (x - base.outs[L - 1])
        else:
            net = W @ x + bias
        if nudge is not None and (nudge.example, nudge.layer, nudge.where) == (p, L, "net"):
            net = net + np.eye(len(net))[nudge.neuron] * nudge.amount
        out = ACTIVATIONS[layer["activation"]](net, float(layer.get("negative_slope", 0.01)))
        offset = np.zeros_like(out)
        if rounding is not None and L < len(layers) - 1:
            offset = held.offsets[L] if held is not None else hand_round(out, rounding) - out
        out = out + offset
        if nudge is not None and (nudge.example, nudge.layer, nudge.where) == (p, L, "out"):
            out = out + np.eye(len(out))[nudge.neuron] * nudge.amount
        made.nets.append(net)
        made.outs.append(out)
        made.offsets.append(offset)
        x = out
    return made


def example_errors(book: Textbook, p: int, passed: Pass) -> Array:
    return ERRORS[book.option("loss", "half_sse")](book.examples[p][1], passed.outs[-1])


def total(book: Textbook, errors: Sequence[float]) -> float:
    """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
    value = float(np.sum(errors))
    return value / len(errors) if book.option("reduction", "sum") == "mean" else value


def loss(book: Textbook, params: Params, **options: Any) -> float:
    """E_total over the book's examples; ``held`` is a list of passes whose rounding stays fixed."""
    held = options.pop("held", None)
    errors = [
        example_errors(book, p, feed(book, params, p, held=held[p] if held else None, **options)).sum()
        for p in range(len(book.examples))
    ]
    return total(book, errors)


def objective(book: Textbook, params: Params, **options: Any) -> float:
    """What an update descends: E_total + (λ/2)·Σ w² over the weights."""
    decay = float(book.option("weight_decay", 0))
    return loss(book, params, **options) + decay / 2 * sum(v * v for n, v in params.items() if n.startswith("w"))


def central_difference(function: Callable[[float], float], step: float = STEP) -> float:
    return (-function(2 * step) + 8 * function(step) - 8 * function(-step) + function(-2 * step)) / (12 * step)


def passes(book: Textbook, params: Params) -> list[Pass]:
    return [feed(book, params, p) for p in range(len(book.examples))]


def gradients(book: Textbook, params: Params, linear: Linearised | None = None, names: Sequence[str] = ()) -> Params:
    """∂(E_total + decay)/∂θ by central differences, the rounding held at its offsets."""
    held = passes(book, params)
    chosen = names or list(params)
    return {
        name: central_difference(
            lambda d, name=name: objective(book, params | {name: params[name] + d}, held=held, linear=linear)
        )
        for name in chosen
    }


def update(book: Textbook, params: Params, gradient: Params) -> tuple[Params, Params]:
    """θ⁺ = θ + β·Δθ − η·∂E/∂θ for every trained parameter (Δθ: ``previous_update``), and each change."""
    rate, momentum = float(book.option("learning_rate", 0.5)), float(book.option("momentum", 0))
    previous = {name: float(value) for name, value in book.option("previous_update", {}).items()}
    changes = {
        name: (momentum * previous.get(name, 0.0) - rate * gradient[name]) if book.trained(name) else 0.0
        for name in params
    }
    return {name: params[name] + changes[name] for name in params}, changes


def sequential_update(book: Textbook, params: Params) -> Params:
    """The sequential order: the output layer first, each layer below through the weights above updated."""
    base = passes(book, params)
    updated = dict(params)
    layers = len(book.layers)
    for L in reversed(range(layers)):
        slopes = [W for W, _ in book.matrices(updated)]
        names = [name for name in params if book.layer_of(name) == L]
        gradient = gradients(book, params, Linearised(L, base, slopes), names)
        moved, _ = update(book, params, gradient | {n: 0.0 for n in params if n not in names})
        updated |= {name: moved[name] for name in names}
    return updated


def forward_values(book: Textbook, params: Params, suffix: str = "") -> dict[str, float]:
    """Every net input, output and error by its key (``net_h1``, ``E_o1``, ``E_total``; ``@p`` with
    several examples), ``suffix`` after the name (``+`` for the pass after the step)."""
    multi = len(book.examples) > 1
    values: dict[str, float] = {}
    errors = []
    for p, passed in enumerate(passes(book, params)):
        at = f"@{p + 1}" if multi else ""
        for L, layer in enumerate(book.layers):
            for j in range(len(passed.nets[L])):
                neuron = neuron_name(layer["name"], j)
                values[f"net_{neuron}{suffix}{at}"] = float(passed.nets[L][j])
                values[f"out_{neuron}{suffix}{at}"] = float(passed.outs[L][j])
        example = example_errors(book, p, passed)
        for j, error in enumerate(example):
            values[f"E_{neuron_name(book.layers[-1]['name'], j)}{suffix}{at}"] = float(error)
        errors.append(float(example.sum()))
        if multi:
            values[f"E_total{suffix}{at}"] = errors[-1]
    values[f"E_total{suffix}"] = total(book, errors)
    return values


def error_signals(book: Textbook, params: Params) -> dict[str, float]:
    """δ = ∂E_total/∂net and ∂E_total/∂out of every neuron (``delta_h1``, ``dE/dout_h1``), by differences."""
    held = passes(book, params)
    multi = len(book.examples) > 1
    values: dict[str, float] = {}
    for p, passed in enumerate(held):
        at = f"@{p + 1}" if multi else ""
        for L, layer in enumerate(book.layers):
            for j in range(len(passed.nets[L])):
                neuron = neuron_name(layer["name"], j)
                for where, key in (("net", f"delta_{neuron}{at}"), ("out", f"dE/dout_{neuron}{at}")):
                    place = (p, L, j, where)
                    values[key] = central_difference(
                        lambda d, place=place: loss(book, params, held=held, nudge=Nudge(*place, d))
                    )
    return values
