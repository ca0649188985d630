"""The validated description of a network: layers, examples, loss and options, with no SymPy.

Every value a user typed is checked here and turned into exact numbers (``Fraction``); a mistake
becomes a :class:`DeriveError` naming the file, the key path and what was expected.  Numbers are
parsed as numbers: nothing from a file is ever evaluated.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from derive.errors import DeriveError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
LOSSES = ("half_sse", "mse", "bce", "cross_entropy")
REDUCTIONS = ("sum", "mean")
UPDATE_ORDERS = ("simultaneous", "sequential")

LAYER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
MAX_LAYERS = 16
MAX_NEURONS = 2_000
MAX_PARAMETERS = 50_000
MAX_EXAMPLES = 1_000
MAX_ROUNDING = 15
# The largest magnitude a float can hold: beyond it a literal has overflowed.
MAX_MAGNITUDE = Fraction(Decimal("1.7976931348623157e308"))

_NETWORK_KEYS = (
    "learning_rate",
    "loss",
    "reduction",
    "train_biases",
    "round_activations",
    "layers",
    "examples",
)
_LAYER_KEYS = ("name", "activation", "weights", "bias")
_EXAMPLE_KEYS = ("inputs", "targets")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``weights[j][k]`` goes from input ``k`` into neuron ``j``."""

    name: str
    activation: str
    weights: tuple[tuple[Fraction, ...], ...]
    bias: Fraction | tuple[Fraction, ...]

    @property
    def size(self) -> int:
        return len(self.weights)

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

    def neuron_bias(self, j: int) -> Fraction:
        return self.bias if isinstance(self.bias, Fraction) else self.bias[j]


@dataclass(frozen=True)
class ExampleSpec:
    """One training example: the inputs fed in and the targets wanted at the outputs."""

    inputs: tuple[Fraction, ...]
    targets: tuple[Fraction, ...]


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

    @property
    def n_inputs(self) -> int:
        return self.layers[0].fan_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].size

    def parameter_names(self) -> list[str]:
        """w1, w2, … layer by layer, neuron by neuron, input by input; then b1, b2, … in order."""
        n_weights = sum(layer.size * layer.fan_in for layer in self.layers)
        n_biases = sum(1 if layer.shared_bias else layer.size for layer in self.layers)
        return [f"w{n}" for n in range(1, n_weights + 1)] + [f"b{n}" for n in range(1, n_biases + 1)]

    def parameters(self) -> dict[str, Fraction]:
        """Every weight and bias by its name, in numbering order."""
        values: list[Fraction] = [w for layer in self.layers for row in layer.weights for w in row]
        for layer in self.layers:
            values.extend([layer.bias] if isinstance(layer.bias, Fraction) else layer.bias)
        return dict(zip(self.parameter_names(), values, strict=True))

    def with_parameters(self, values: Mapping[str, Fraction]) -> NetworkSpec:
        """The same network with the named weights and biases replaced."""
        merged = self.parameters() | dict(values)
        weights = iter(merged[f"w{n}"] for n in range(1, len(merged) + 1) if f"w{n}" in merged)
        biases = iter(merged[f"b{n}"] for n in range(1, len(merged) + 1) if f"b{n}" in merged)
        layers = []
        for layer in self.layers:
            rows = tuple(tuple(next(weights) for _ in row) for row in layer.weights)
            bias = next(biases) if layer.shared_bias else tuple(next(biases) for _ in layer.weights)
            layers.append(replace(layer, weights=rows, bias=bias))
        return replace(self, layers=tuple(layers))

    def with_options(self, **options: Any) -> NetworkSpec:
        """The same network with options (``round_activations``, ``learning_rate``, …) changed."""
        return replace(self, **options)


# ---------------------------------------------------------------------------------------------
# Reading files and built-in examples


def builtin_names() -> list[str]:
    """The names of the built-in example networks."""
    folder = resources.files("derive") / "examples"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """The TOML source of a built-in example, comments included."""
    if name not in builtin_names():
        raise DeriveError(_unknown(name, builtin_names(), "built-in example"), key="NETWORK")
    return (resources.files("derive") / "examples" / f"{name}.toml").read_text(encoding="utf-8")


def load_builtin(name: str) -> NetworkSpec:
    """A built-in example by name (``mazur`` is the worked example)."""
    text = builtin_text(name)
    return from_mapping(_parse_toml(text, f"<built-in {name}>"), name=name, source=f"<built-in {name}>")


def load_path(path: str | Path) -> NetworkSpec:
    """Read a ``.toml`` or ``.json`` network file."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise DeriveError("is a directory; expected a .toml or .json network file", source=source)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DeriveError("no such file", source=source) from None
    except OSError as error:
        raise DeriveError(f"cannot be read ({error.strerror or error})", source=source) from None
    if b"\x00" in raw:
        raise DeriveError("is a binary file; expected a UTF-8 text file in TOML or JSON", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DeriveError(f"is not UTF-8 text (byte {error.start}); save it as UTF-8", source=source) from None
    if path.suffix.lower() == ".json" or (path.suffix.lower() != ".toml" and text.lstrip().startswith("{")):
        data = _parse_json(text, source)
    else:
        data = _parse_toml(text, source)
    return from_mapping(data, name=path.stem, source=source)


def resolve(network: str | Path | None) -> NetworkSpec:
    """A file path, or the name of a built-in example (default ``mazur``)."""
    if network is None:
        return load_builtin("mazur")
    text = str(network)
    if text in builtin_names() and not Path(text).exists():
        return load_builtin(text)
    if Path(text).suffix or Path(text).exists() or "/" in text or "\\" in text:
        return load_path(text)
    raise DeriveError(_unknown(text, builtin_names(), "built-in example or file"), key="NETWORK")


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise DeriveError(f"not valid TOML: {error}", source=source) from None


def _parse_json(text: str, source: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=reject_constant)
    except json.JSONDecodeError as error:
        raise DeriveError(
            f"not valid JSON: {error.msg} (at line {error.lineno}, column {error.colno})", source=source
        ) from None
    except ValueError as error:
        raise DeriveError(f"not valid JSON: {error} is not a number; write a finite number", source=source) from None
    except RecursionError:
        raise DeriveError("not valid JSON: nested too deeply", source=source) from None


# ---------------------------------------------------------------------------------------------
# Validation


class _Checker:
    """Walks the raw data, naming each place (``layers[1].weights[0][2]``) in its errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> DeriveError:
        return DeriveError(message, source=self.source, key=key or None)

    def table(self, value: Any, key: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a table of keys, got {_describe(value)}")
        for name in value:
            if name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, _unknown(str(name), allowed, "key"))
        return value

    def number(self, value: Any, key: str) -> Fraction:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
            raise self.fail(key, f"expected a number, got {_describe(value)}")
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            raise self.fail(key, f"expected a finite number, got {value}")
        if isinstance(value, float):
            value = Decimal(repr(value))  # the decimal the user wrote, not the binary approximation
        exact = Fraction(value)
        if abs(exact) > MAX_MAGNITUDE:
            raise self.fail(key, "number too large (it overflows a double); expected a finite number")
        return exact

    def vector(self, value: Any, key: str, length: int | None = None, what: str = "numbers") -> tuple[Fraction, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail(key, f"expected a list of {what}, got {_describe(value)}")
        if not value:
            raise self.fail(key, f"expected a non-empty list of {what}")
        if length is not None and len(value) != length:
            raise self.fail(key, f"expected {length} {what}, got {len(value)}")
        return tuple(self.number(item, f"{key}[{k}]") for k, item in enumerate(value))

    def choice(self, value: Any, key: str, options: Sequence[str]) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected one of {', '.join(options)}, got {_describe(value)}")
        if value not in options:
            raise self.fail(key, _unknown(value, options, "value"))
        return value


def from_mapping(data: Any, *, name: str = "network", source: str = "<dict>") -> NetworkSpec:
    """Validate raw TOML/JSON data (or a dict from Python) into a :class:`NetworkSpec`."""
    check = _Checker(source)
    top = check.table(data, "", _NETWORK_KEYS)
    layers_raw = top.get("layers")
    if layers_raw is None:
        raise check.fail("layers", "missing; expected at least one [[layers]] table")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise check.fail("layers", f"expected a non-empty list of layer tables, got {_describe(layers_raw)}")
    if len(layers_raw) > MAX_LAYERS:
        raise check.fail("layers", f"{len(layers_raw)} layers; at most {MAX_LAYERS} are supported")

    layers: list[LayerSpec] = []
    fan_in: int | None = None
    for index, raw in enumerate(layers_raw):
        layer = _layer(check, raw, f"layers[{index}]", fan_in, last=index == len(layers_raw) - 1)
        if any(other.name == layer.name for other in layers):
            raise check.fail(f"layers[{index}].name", f"duplicate layer name {layer.name!r}; names must differ")
        layers.append(layer)
        fan_in = layer.size

    n_parameters = sum(layer.size * (layer.fan_in + 1) for layer in layers)
    if n_parameters > MAX_PARAMETERS:
        raise check.fail("layers", f"{n_parameters} parameters; at most {MAX_PARAMETERS} are supported")

    loss = check.choice(top.get("loss", "half_sse"), "loss", LOSSES)
    examples = _examples(check, top.get("examples"), layers[0].fan_in, layers[-1].size, loss)
    if loss in ("bce", "cross_entropy") and layers[-1].activation not in ("sigmoid", "softmax"):
        raise check.fail(
            f"layers[{len(layers) - 1}].activation",
            f"loss {loss!r} takes the logarithm of the outputs; expected sigmoid or softmax, "
            f"got {layers[-1].activation!r}",
        )

    learning_rate = check.number(top.get("learning_rate", Fraction(1, 2)), "learning_rate")
    if learning_rate <= 0:
        raise check.fail("learning_rate", f"expected a positive number, got {_show(learning_rate)}")
    train_biases = top.get("train_biases", True)
    if not isinstance(train_biases, bool):
        raise check.fail("train_biases", f"expected true or false, got {_describe(train_biases)}")
    rounding = top.get("round_activations")
    if rounding is not None and (
        isinstance(rounding, bool) or not isinstance(rounding, int) or not 0 <= rounding <= MAX_ROUNDING
    ):
        raise check.fail(
            "round_activations",
            f"expected a whole number of decimals from 0 to {MAX_ROUNDING}, got {_describe(rounding)}",
        )

    return NetworkSpec(
        name=name,
        layers=tuple(layers),
        examples=examples,
        learning_rate=learning_rate,
        loss=loss,
        reduction=check.choice(top.get("reduction", "sum"), "reduction", REDUCTIONS),
        train_biases=train_biases,
        round_activations=rounding,
    )


def _layer(check: _Checker, raw: Any, key: str, fan_in: int | None, *, last: bool) -> LayerSpec:
    table = check.table(raw, key, _LAYER_KEYS)
    for required in _LAYER_KEYS:
        if required not in table:
            raise check.fail(f"{key}.{required}", "missing; every layer needs name, activation, weights and bias")
    name = table["name"]
    if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
        raise check.fail(
            f"{key}.name",
            f"expected a name of letters, digits and underscores starting with a letter (at most 16), "
            f"got {_describe(name)}",
        )
    activation = check.choice(table["activation"], f"{key}.activation", ACTIVATIONS)
    if activation == "softmax" and not last:
        raise check.fail(f"{key}.activation", "softmax couples the neurons of a layer; it may only be the last layer's")

    rows_raw = table["weights"]
    if not isinstance(rows_raw, list) or not rows_raw:
        raise check.fail(f"{key}.weights", f"expected a non-empty matrix (a list of rows), got {_describe(rows_raw)}")
    if len(rows_raw) > MAX_NEURONS:
        raise check.fail(f"{key}.weights", f"{len(rows_raw)} neurons; at most {MAX_NEURONS} per layer are supported")
    rows: list[tuple[Fraction, ...]] = []
    for j, row in enumerate(rows_raw):
        if not isinstance(row, list):
            raise check.fail(
                f"{key}.weights[{j}]", f"expected a row (a list of numbers), got {_describe(row)}; weights is a matrix"
            )
        width = fan_in if fan_in is not None else len(rows[0]) if rows else None
        if width is not None and len(row) != width and row:
            origin = "the previous layer has" if fan_in is not None else "row 0 has"
            raise check.fail(f"{key}.weights[{j}]", f"expected {width} numbers ({origin} {width}), got {len(row)}")
        rows.append(check.vector(row, f"{key}.weights[{j}]"))
    if activation == "softmax" and len(rows) < 2:
        raise check.fail(f"{key}.activation", "softmax needs at least two neurons")

    bias_raw = table["bias"]
    if isinstance(bias_raw, list | tuple):
        bias: Fraction | tuple[Fraction, ...] = check.vector(
            bias_raw, f"{key}.bias", len(rows), "biases (one per neuron)"
        )
    else:
        bias = check.number(bias_raw, f"{key}.bias")
    return LayerSpec(name=name, activation=activation, weights=tuple(rows), bias=bias)


def _examples(check: _Checker, raw: Any, n_inputs: int, n_outputs: int, loss: str) -> tuple[ExampleSpec, ...]:
    if raw is None:
        raise check.fail("examples", "missing; expected at least one [[examples]] table with inputs and targets")
    if not isinstance(raw, list) or not raw:
        raise check.fail("examples", f"expected a non-empty list of example tables, got {_describe(raw)}")
    if len(raw) > MAX_EXAMPLES:
        raise check.fail("examples", f"{len(raw)} examples; at most {MAX_EXAMPLES} are supported")
    examples = []
    for p, item in enumerate(raw):
        key = f"examples[{p}]"
        table = check.table(item, key, _EXAMPLE_KEYS)
        for required in _EXAMPLE_KEYS:
            if required not in table:
                raise check.fail(f"{key}.{required}", "missing; every example needs inputs and targets")
        inputs = check.vector(
            table["inputs"], f"{key}.inputs", n_inputs, "inputs (the first layer's weights have that many columns)"
        )
        targets = check.vector(table["targets"], f"{key}.targets", n_outputs, "targets (one per output neuron)")
        if loss in ("bce", "cross_entropy"):
            for k, target in enumerate(targets):
                if not 0 <= target <= 1:
                    raise check.fail(
                        f"{key}.targets[{k}]", f"loss {loss!r} needs targets from 0 to 1, got {_show(target)}"
                    )
        examples.append(ExampleSpec(inputs=inputs, targets=targets))
    return tuple(examples)


def _unknown(value: str, options: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {value!r}{hint} (expected one of: {', '.join(options)})"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float | Decimal | Fraction):
        return f"the number {_show(Fraction(value)) if isinstance(value, Fraction) else value}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    return f"a {type(value).__name__}"


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else format(float(value), "g")
