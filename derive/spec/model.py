"""The validated description of a network: layers, examples, loss and options, with no SymPy.

Its numbers are exact (``Fraction``), within the limits below.  :mod:`derive.spec.checks` builds it
from raw data, checking every value a user typed; :mod:`derive.spec.files` reads it from a file or
a built-in example.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax", "leaky_relu", "softplus", "elu")
LOSSES = ("half_sse", "mse", "bce", "cross_entropy")
LAYER_TYPES = ("dense", "conv2d", "maxpool", "avgpool", "recurrent")
MAPS = ("conv2d", "maxpool", "avgpool")  # the layers that read and give feature maps
MAX_SEQUENCE = 64  # time steps of a sequence
REDUCTIONS = ("sum", "mean")

LAYER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
MAX_LAYERS = 16
MAX_NEURONS = 2_000
MAX_PARAMETERS = 50_000
MAX_EXAMPLES = 1_000
MAX_ROUNDING = 15
# The largest magnitude a float can hold: beyond it a literal has overflowed.
MAX_MAGNITUDE = Fraction(Decimal("1.7976931348623157e308"))
# Below half the smallest subnormal double a literal rounds to 0: it has underflowed.
MIN_MAGNITUDE = Fraction(Decimal("4.9406564584124654e-324")) / 2
MAX_FILE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``weights[j][k]`` goes from input ``k`` into neuron ``j``."""

    name: str
    activation: str
    weights: tuple[tuple[Fraction, ...], ...]
    bias: Fraction | tuple[Fraction, ...]
    negative_slope: Fraction | None = None  # leaky_relu only; None: the activation's default
    kind: str = "dense"  # one of LAYER_TYPES
    # conv2d and pooling: the maps read (channels, rows, columns); a conv2d's weights are its kernels,
    # one row per filter, each flattened channel by channel, row by row
    in_shape: tuple[int, int, int] | None = None
    window: tuple[int, int] | None = None  # a kernel's or a pooling window's rows and columns
    stride: int = 1
    padding: int = 0
    recurrent_weights: tuple[tuple[Fraction, ...], ...] = ()  # U: h_{t-1} → h_t, one row per neuron
    initial_state: tuple[Fraction, ...] | None = None  # h_0; None: zeros

    @property
    def size(self) -> int:
        """Neurons (dense, recurrent) or filters (conv2d); 0 for a pooling layer."""
        return len(self.weights)

    @property
    def out_shape(self) -> tuple[int, int, int] | None:
        """The maps a conv2d or pooling layer gives: (filters or channels, rows, columns)."""
        if self.in_shape is None or self.window is None:
            return None
        channels, rows, columns = self.in_shape
        padded = (rows + 2 * self.padding, columns + 2 * self.padding)
        out_rows = (padded[0] - self.window[0]) // self.stride + 1
        out_columns = (padded[1] - self.window[1]) // self.stride + 1
        return (self.size if self.kind == "conv2d" else channels, out_rows, out_columns)

    @property
    def units(self) -> int:
        """The values the layer gives the next one (at each time step): maps flattened, or neurons."""
        shape = self.out_shape
        return shape[0] * shape[1] * shape[2] if shape is not None else self.size

    @property
    def n_weights(self) -> int:
        return sum(len(row) for row in self.weights) + sum(len(row) for row in self.recurrent_weights)

    @property
    def n_biases(self) -> int:
        return 1 if self.shared_bias else len(self.bias)  # type: ignore[arg-type]

    def weight_values(self) -> list[Fraction]:
        """The layer's weights in numbering order: row by row, then the recurrent weights."""
        return [w for row in self.weights for w in row] + [u for row in self.recurrent_weights for u in row]

    @property
    def fan_in(self) -> int:
        return len(self.weights[0])

    @property
    def shared_bias(self) -> bool:
        return not isinstance(self.bias, tuple)

    def neuron_name(self, j: int) -> str:
        """``h`` gives h1, h2, …; a name ending in a digit gets an underscore (``l2`` → l2_1)."""
        separator = "_" if self.name[-1].isdigit() else ""
        return f"{self.name}{separator}{j + 1}"


@dataclass(frozen=True)
class ExampleSpec:
    """One training example: the inputs fed in and the targets wanted at the outputs."""

    inputs: tuple[Fraction, ...]  # a sequence's vectors one after another; maps channel, row, column
    targets: tuple[Fraction, ...]  # with a target at every time step, one vector after another


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network with its training data and options."""

    name: str
    layers: tuple[LayerSpec, ...]
    examples: tuple[ExampleSpec, ...]
    learning_rate: Fraction = Fraction(1, 2)
    loss: str = "half_sse"
    reduction: str = "sum"
    train_biases: bool = True
    round_activations: int | None = None
    batch_size: int | None = None  # examples per update; None: all of them (batch training)
    shuffle: int | None = None  # seed of each epoch's order; None: file order
    momentum: Fraction = Fraction(0)  # β in Δθ ← β·Δθ − η·∂E/∂θ
    weight_decay: Fraction = Fraction(0)  # λ in E + (λ/2)·Σ w²
    previous_update: tuple[tuple[str, Fraction], ...] = ()  # Δθ before the first update, by name
    steps: int | None = None  # a recurrent network's time steps; None: not a sequence
    every_step: bool = False  # a target at every time step, not only the last

    @property
    def dense(self) -> bool:
        """Every layer fully connected: the engine's direct path."""
        return all(layer.kind == "dense" for layer in self.layers)

    @property
    def n_inputs(self) -> int:
        """The inputs of one example (of one time step, for a sequence)."""
        first = self.layers[0]
        if first.in_shape is not None:
            return first.in_shape[0] * first.in_shape[1] * first.in_shape[2]
        return first.fan_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].size

    def parameter_names(self) -> list[str]:
        """w1, w2, … layer by layer, neuron by neuron, input by input; then b1, b2, … in order."""
        n_weights = sum(layer.n_weights for layer in self.layers)
        n_biases = sum(layer.n_biases for layer in self.layers)
        return [f"w{n}" for n in range(1, n_weights + 1)] + [f"b{n}" for n in range(1, n_biases + 1)]

    def parameters(self) -> dict[str, Fraction]:
        """Every weight and bias by its name, in numbering order."""
        values: list[Fraction] = [w for layer in self.layers for w in layer.weight_values()]
        for layer in self.layers:
            values.extend([layer.bias] if isinstance(layer.bias, Fraction) else layer.bias)
        return dict(zip(self.parameter_names(), values, strict=True))

    @cached_property
    def float_parameters(self) -> tuple[float, ...]:
        """Every weight and bias as a float, in numbering order: converted once per network, for training."""
        return tuple(map(float, self.parameters().values()))

    def with_float_parameters(self, values: Sequence[float]) -> NetworkSpec:
        """The same network with every weight and bias, in numbering order, the float given (exactly)."""
        if len(values) != len(self.float_parameters):
            raise ValueError(f"expected {len(self.float_parameters)} parameters, got {len(values)}")
        exact = list(map(Fraction, values))  # numbering order: every layer's weights, then every layer's biases
        at = [0]  # where the next layer's values start
        weights = [
            (_rows(exact, at, layer.weights), _rows(exact, at, layer.recurrent_weights)) for layer in self.layers
        ]
        layers = tuple(
            replace(layer, weights=rows, recurrent_weights=recurrent, bias=_bias(exact, at, layer))
            for layer, (rows, recurrent) in zip(self.layers, weights, strict=True)
        )
        trained = replace(self, layers=layers)
        trained.__dict__["float_parameters"] = tuple(values)  # the floats it was built from: exact, nothing to convert
        return trained

    def with_parameters(self, values: Mapping[str, Fraction]) -> NetworkSpec:
        """The same network with the named weights and biases replaced."""
        current = self.parameters()
        unknown = sorted(set(values) - set(current))
        if unknown:
            raise KeyError(f"no parameter named {unknown[0]!r} in this network")
        merged = {name: values.get(name, value) for name, value in current.items()}  # numbering order
        weights = iter(value for name, value in merged.items() if name.startswith("w"))
        biases = iter(value for name, value in merged.items() if name.startswith("b"))
        layers = []
        for layer in self.layers:
            rows = tuple(tuple(next(weights) for _ in row) for row in layer.weights)
            recurrent = tuple(tuple(next(weights) for _ in row) for row in layer.recurrent_weights)
            bias = next(biases) if layer.shared_bias else tuple(next(biases) for _ in layer.bias)  # type: ignore[union-attr]
            layers.append(replace(layer, weights=rows, recurrent_weights=recurrent, bias=bias))
        return replace(self, layers=tuple(layers))

    # -- training: epochs, batches and momentum ----------------------------------------------

    @property
    def batch(self) -> int:
        """The examples per update: ``batch_size``, or all of them."""
        return self.batch_size or len(self.examples)

    @property
    def updates_per_epoch(self) -> int:
        """One epoch is one pass over the examples: ⌈examples / batch⌉ updates."""
        return -(-len(self.examples) // self.batch)

    def epoch_order(self, epoch: int) -> tuple[int, ...]:
        """The examples' indices (0-based) in the order epoch ``epoch`` (1-based) visits them.

        File order, unless ``shuffle = S`` and the batches are smaller than the data: then the
        order of epoch e is ``random.Random(f"derive-shuffle:{S}:{e}").shuffle(list(range(n)))``,
        the same on every machine and in every run, drawn afresh for each epoch.
        """
        order = list(range(len(self.examples)))
        if self.shuffle is not None and self.batch < len(self.examples):
            random.Random(f"derive-shuffle:{self.shuffle}:{epoch}").shuffle(order)
        return tuple(order)

    def batches(self, epoch: int) -> tuple[tuple[int, ...], ...]:
        """The examples of each update of epoch ``epoch``: consecutive runs of :attr:`batch` in its order."""
        order = self.epoch_order(epoch)
        return tuple(order[start : start + self.batch] for start in range(0, len(order), self.batch))

    def on_batch(self, indices: Sequence[int]) -> NetworkSpec:
        """The same network trained on these examples only, as one batch: one update's data."""
        return replace(self, examples=tuple(self.examples[i] for i in indices), batch_size=None, shuffle=None)

    def previous_changes(self) -> dict[str, Fraction]:
        """Δθ before the first update, for every parameter: ``previous_update`` or 0."""
        given = dict(self.previous_update)
        return {name: given.get(name, Fraction(0)) for name in self.parameter_names()}


def _rows(
    values: list[Fraction], at: list[int], like: tuple[tuple[Fraction, ...], ...]
) -> tuple[tuple[Fraction, ...], ...]:
    """The values from ``at[0]`` on, in rows as long as ``like``'s; ``at[0]`` moves past them."""
    rows = []
    for row in like:
        rows.append(tuple(values[at[0] : at[0] + len(row)]))
        at[0] += len(row)
    return tuple(rows)


def _bias(values: list[Fraction], at: list[int], layer: LayerSpec) -> Fraction | tuple[Fraction, ...]:
    """The layer's bias, or biases (one shared, or one per neuron), from ``at[0]`` on; ``at[0]`` moves past them."""
    if isinstance(layer.bias, Fraction):
        at[0] += 1
        return values[at[0] - 1]
    biases = tuple(values[at[0] : at[0] + len(layer.bias)])
    at[0] += len(biases)
    return biases
