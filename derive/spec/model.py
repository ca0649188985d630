"""The validated description of a network: layers, examples, loss and options, with no SymPy.

Every value a user typed is checked here and turned into exact numbers (``Fraction``); a mistake
becomes a :class:`DeriveError` naming the file, the key path and what was expected.  Numbers are
parsed as numbers: nothing from a file is ever evaluated.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import random
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from derive.errors import DeriveError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax", "leaky_relu", "softplus", "elu")
LOSSES = ("half_sse", "mse", "bce", "cross_entropy")
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
# The key path of an error about the whole file's data (a JSON list where a table of keys belongs).
TOP_LEVEL = "top level"
_MAX_DECIMAL = Decimal("1.7976931348623157e308")
_MIN_DECIMAL = Decimal("4.9406564584124654e-324") / 2
_OVERFLOWS = "overflows a double"
_UNDERFLOWS = "underflows a double to 0"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

_NETWORK_KEYS = (
    "learning_rate",
    "loss",
    "reduction",
    "train_biases",
    "round_activations",
    "layers",
    "examples",
    "batch_size",
    "shuffle",
    "momentum",
    "weight_decay",
    "previous_update",
)
_LAYER_KEYS = ("name", "activation", "weights", "bias", "negative_slope")
_REQUIRED_LAYER_KEYS = ("name", "activation", "weights", "bias")
# Every option :meth:`NetworkSpec.with_options` can change.
OPTIONS = tuple(key for key in _NETWORK_KEYS if key not in ("layers", "examples"))
_EXAMPLE_KEYS = ("inputs", "targets")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``weights[j][k]`` goes from input ``k`` into neuron ``j``."""

    name: str
    activation: str
    weights: tuple[tuple[Fraction, ...], ...]
    bias: Fraction | tuple[Fraction, ...]
    negative_slope: Fraction | None = None  # leaky_relu only; None: the activation's default

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
    batch_size: int | None = None  # examples per update; None: all of them (batch training)
    shuffle: int | None = None  # seed of each epoch's order; None: file order
    momentum: Fraction = Fraction(0)  # β in Δθ ← β·Δθ − η·∂E/∂θ
    weight_decay: Fraction = Fraction(0)  # λ in E + (λ/2)·Σ w²
    previous_update: tuple[tuple[str, Fraction], ...] = ()  # Δθ before the first update, by name

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
            bias = next(biases) if layer.shared_bias else tuple(next(biases) for _ in layer.weights)
            layers.append(replace(layer, weights=rows, bias=bias))
        return replace(self, layers=tuple(layers))

    def with_options(self, **options: Any) -> NetworkSpec:
        """The same network with options (``round_activations``, ``learning_rate``, ``loss``, …) changed.

        Every option is checked as in a file, against the rest of the network too (``loss="bce"``
        needs sigmoid or softmax outputs), and an error names the option.  Unlike a file, the API
        also takes ``learning_rate=0``: a step that moves nothing, an edge case worth showing.
        """
        unknown = [key for key in options if key not in OPTIONS]
        if unknown:
            raise DeriveError(_unknown(unknown[0], OPTIONS, "option"), key=unknown[0])
        return from_mapping(to_mapping(self) | options, name=self.name, source="", zero_rate=True)

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


# ---------------------------------------------------------------------------------------------
# Reading files and built-in examples


def builtin_names() -> list[str]:
    """The names of the built-in example networks."""
    folder = resources.files("derive") / "examples"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """The TOML source of a built-in example, comments included."""
    if name not in builtin_names():
        raise DeriveError(_unknown(name, builtin_names(), "built-in example"), key="NAME")
    return (resources.files("derive") / "examples" / f"{name}.toml").read_text(encoding="utf-8")


def load_builtin(name: str) -> NetworkSpec:
    """A built-in example by name (``mazur`` is the worked example)."""
    text = builtin_text(name)
    return from_mapping(_parse_toml(text, f"<built-in {name}>"), name=name, source=f"<built-in {name}>")


def load_path(path: str | Path) -> NetworkSpec:
    """Read a ``.toml`` or ``.json`` network file."""
    path = Path(path)
    source = str(path)
    text = _read_text(path, source)
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
    if not text:
        raise DeriveError(
            "expected a .toml or .json file or a built-in example name, got an empty string", key="NETWORK"
        )
    exists = _exists(Path(text))
    if text in builtin_names() and not exists:
        return load_builtin(text)
    if Path(text).suffix or exists or "/" in text or "\\" in text:
        return load_path(text)
    raise DeriveError(_unknown(text, builtin_names(), "built-in example or file"), key="NETWORK")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL in it
        return False


# What a network file's messages say was expected, what else would do, and where to see one.
_NETWORK_FILE = (
    "expected a .toml or .json network file",
    " or a built-in example name",
    " (see `derive example mazur`)",
)


def _read_text(path: Path, source: str, kind: tuple[str, str, str] = _NETWORK_FILE) -> str:
    """The file's text: refused with a reason if missing, unreadable, too large, binary or not UTF-8.

    ``kind`` words the messages: what file was expected, what else would do when it is missing, and
    where to see one when it is empty.
    """
    expected, otherwise, example = kind
    try:
        if path.is_dir():
            raise DeriveError(f"is a directory; {expected}", source=source)
        if path.exists() and not path.is_file():
            raise DeriveError(f"is not a regular file; {expected}", source=source)
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DeriveError(f"no such file; {expected}{otherwise}", source=source) from None
    except OSError as error:
        raise DeriveError(f"cannot be read ({error.strerror or error}); {expected}", source=source) from None
    except ValueError as error:  # e.g. a NUL in the path
        raise DeriveError(f"is not a usable path ({error}); {expected}", source=source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise DeriveError(f"is larger than {MAX_FILE_BYTES // 2**20} MiB; {expected}", source=source)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DeriveError("is UTF-16 (or UTF-32) text; expected UTF-8: save the file as UTF-8", source=source)
    if b"\x00" in raw:
        raise DeriveError("is a binary file; expected a UTF-8 text file in TOML or JSON", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise DeriveError(
            f"not UTF-8 text (byte 0x{raw[error.start]:02x}); expected UTF-8: save the file as UTF-8",
            source=source,
            key=f"line {line}, column {column}",
        ) from None
    if not text.strip():
        raise DeriveError(f"is empty; {expected}{example}", source=source)
    return text


# tomllib's message → a hint at the usual cause
_TOML_HINTS = {
    "Cannot overwrite a value": "a key given twice, or [name] and [[name]] mixed",
    "Cannot declare": "a table given twice",
    "Invalid value": 'text needs quotes ("sigmoid"); a number needs a digit before the point (0.5)',
    "Unclosed array": "a ']' is missing",
    "Unclosed inline table": "a '}' is missing",
}
_JSON_HINTS = {
    "Expecting property name enclosed in double quotes": "keys need double quotes; no comma before '}'",
    "Expecting value": "no comma before ']' or '}', no comments, text in double quotes",
    "Illegal trailing comma": "no comma before '}' or ']'",  # Python 3.13's words for a trailing comma
}


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomllib.loads(text, parse_float=_decimal)
    except tomllib.TOMLDecodeError as error:
        message, line, column = _toml_position(str(error), text)
        hint = next((f" ({hint})" for start, hint in _TOML_HINTS.items() if message.startswith(start)), "")
        raise DeriveError(
            f"not valid TOML: {message}{hint}", source=source, key=f"line {line}, column {column}"
        ) from None
    except ValueError as error:  # int() refuses a literal of thousands of digits
        return _long_literal(text, source, "TOML", error)
    except RecursionError:
        raise DeriveError("not valid TOML: lists or tables nested too deeply", source=source) from None


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=_decimal,
            parse_int=_integer,
            parse_constant=lambda name: _BadNumber(name, ""),
            object_pairs_hook=_json_object,
        )
    except json.JSONDecodeError as error:
        hint = next((f" ({hint})" for start, hint in _JSON_HINTS.items() if error.msg.startswith(start)), "")
        raise DeriveError(
            f"not valid JSON: {error.msg}{hint}", source=source, key=f"line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise DeriveError("not valid JSON: lists or objects nested too deeply", source=source) from None
    except ValueError as error:
        return _long_literal(text, source, "JSON", error)


def _toml_position(message: str, text: str) -> tuple[str, int, int]:
    """tomllib's message without its ``(at line 3, column 9)``, and that line and column."""
    found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if found:
        return found[1], int(found[2]), int(found[3])
    lines = text.split("\n")  # "(at end of document)": point just past the last character
    return message.removesuffix(" (at end of document)"), len(lines), len(lines[-1]) + 1


def _long_literal(text: str, source: str, language: str, error: ValueError) -> Any:
    long = re.search(r"[-+]?(?:0[xob])?[0-9a-fA-F_]{4000,}", text)
    if long is None:
        raise DeriveError(f"not valid {language}: {error}", source=source) from None
    line = text.count("\n", 0, long.start()) + 1
    column = long.start() - (text.rfind("\n", 0, long.start()) + 1) + 1
    raise DeriveError(
        f"a number literal of {len(long[0])} characters; expected a finite number (at most about 1.8e308)",
        source=source,
        key=f"line {line}, column {column}",
    ) from None


@dataclass(frozen=True)
class _BadNumber:
    """A number literal with no finite value a double could hold: NaN, ±Infinity, 1e99999999999999999999."""

    text: str
    reason: str


class _DuplicateKey(dict):  # type: ignore[type-arg]
    """A JSON object that gives a key twice (JSON keeps the last silently; we refuse it)."""

    def __init__(self, pairs: list[tuple[str, Any]], duplicate: str) -> None:
        super().__init__(pairs)
        self.duplicate = duplicate


def _decimal(text: str) -> Decimal | _BadNumber:
    """A float literal exactly or, if no double can hold it, the literal as written, for the error."""
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent beyond even Decimal's range
        return _BadNumber(text, _UNDERFLOWS if re.search(r"[eE]-", text) else _OVERFLOWS)
    if not value.is_finite():
        return _BadNumber(text, "")
    size = value.copy_abs()  # no arithmetic: it would round, or overflow the context
    if size > _MAX_DECIMAL:
        return _BadNumber(text, _OVERFLOWS)
    if size and size < _MIN_DECIMAL:
        return _BadNumber(text, _UNDERFLOWS)
    return value


def _integer(text: str) -> int | _BadNumber:
    if len(text.lstrip("-")) > 400:  # far beyond a double, and int() refuses thousands of digits
        return _BadNumber(text, _OVERFLOWS)
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _DuplicateKey(pairs, key)
        seen.add(key)
    return dict(pairs)


# ---------------------------------------------------------------------------------------------
# Validation


class _Checker:
    """Walks the raw data, naming each place (``layers[1].weights[0][2]``) in its errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> DeriveError:
        return DeriveError(message, source=self.source, key=key or TOP_LEVEL)

    def table(
        self, value: Any, key: str, allowed: Sequence[str], what: str, *, open_keys: bool = False
    ) -> Mapping[str, Any]:
        """A table whose keys are among ``allowed`` (any key with ``open_keys``), each given once."""
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected {what}, got {_describe(value)}")
        if isinstance(value, _DuplicateKey):
            raise self.fail(_child(key, value.duplicate), "given twice in one table; expected each key once")
        for name in value:
            if not open_keys and name not in allowed:
                raise self.fail(_child(key, name), _unknown(name, allowed, "key"))
        return value

    def whole(self, value: Any, key: str, low: int, high: int | None, what: str) -> int:
        """A whole number from ``low`` to ``high`` (no upper bound if None); ``what`` says what it counts."""
        if isinstance(value, bool) or not isinstance(value, int):
            whole_valued = isinstance(value, Decimal | float | Fraction) and value == int(value)
            hint = "; write it without a decimal point" if whole_valued else _unquote_hint(value)
            raise self.fail(key, f"expected {what}, got {_describe(value)}{hint}")
        if value < low or (high is not None and value > high):
            raise self.fail(key, f"expected {what}, got {_describe(value)}")
        return value

    def number(self, value: Any, key: str) -> Fraction:
        if isinstance(value, _BadNumber):
            raise self.fail(key, _out_of_range(_clip(value.text), value.reason))
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
            raise self.fail(key, f"expected a number, got {_describe(value)}{_unquote_hint(value)}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(key, _out_of_range(str(value), ""))
            value = Decimal(repr(value))  # the decimal the user wrote, not the binary approximation
        if isinstance(value, Decimal):
            checked = _decimal(str(value))
            if isinstance(checked, _BadNumber):
                raise self.fail(key, _out_of_range(_clip(checked.text), checked.reason))
        elif abs(value) > MAX_MAGNITUDE:
            raise self.fail(key, _out_of_range(_describe_number(value), _OVERFLOWS))
        elif value and abs(value) < MIN_MAGNITUDE:
            raise self.fail(key, _out_of_range(_describe_number(value), _UNDERFLOWS))
        return Fraction(value)

    def vector(self, value: Any, key: str, length: int, what: str, why: str) -> tuple[Fraction, ...]:
        """Exactly ``length`` numbers; ``what`` names them (``inputs``), ``why`` says why so many."""
        if not isinstance(value, list | tuple):
            raise self.fail(key, f"expected a list of {length} {what} ({why}), got {_describe(value)}")
        if len(value) != length:
            found = "an empty list" if not value else str(len(value))
            raise self.fail(key, f"expected {length} {what} ({why}), got {found}")
        return tuple(self.number(item, f"{key}[{k}]") for k, item in enumerate(value))

    def choice(self, value: Any, key: str, options: Sequence[str], what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected one of: {', '.join(options)}; got {_describe(value)}")
        if value not in options:
            raise self.fail(key, _unknown(value, options, what))
        return value


def from_mapping(data: Any, *, name: str = "network", source: str = "<dict>", zero_rate: bool = False) -> NetworkSpec:
    """Validate raw TOML/JSON data (or a dict from Python) into a :class:`NetworkSpec`.

    ``zero_rate`` also takes a learning rate of 0, as the API does (a file asks for a positive one).
    """
    check = _Checker(source)
    top = check.table(data, "", _NETWORK_KEYS, f"a table of network keys ({', '.join(_NETWORK_KEYS)})")
    if "layers" not in top:
        raise check.fail("layers", "missing; expected at least one [[layers]] table")
    layers_raw = top["layers"]
    if isinstance(layers_raw, Mapping):
        raise check.fail("layers", "expected a list of layer tables, got a single table; in TOML write [[layers]]")
    if not isinstance(layers_raw, list | tuple) or not layers_raw:
        raise check.fail("layers", f"expected a non-empty list of layer tables, got {_describe(layers_raw)}")
    if len(layers_raw) > MAX_LAYERS:
        raise check.fail("layers", f"expected at most {MAX_LAYERS} layers, got {len(layers_raw)}")

    layers: list[LayerSpec] = []
    neurons: dict[str, int] = {}  # every neuron name, and the layer that has it
    n_parameters = 0
    for index, raw in enumerate(layers_raw):
        key = f"layers[{index}]"
        previous = layers[-1] if layers else None
        layer = _layer(check, raw, key, previous, MAX_PARAMETERS - n_parameters, last=index == len(layers_raw) - 1)
        for other in layers:
            if other.name == layer.name:
                raise check.fail(f"{key}.name", f"duplicate layer name {layer.name!r}; expected a name of its own")
        for j in range(layer.size):
            neuron = layer.neuron_name(j)
            if neuron in neurons:
                raise check.fail(
                    f"{key}.name",
                    f"layer name {layer.name!r} gives neuron {neuron}, as layers[{neurons[neuron]}] does; "
                    f"expected a name that does not clash",
                )
            neurons[neuron] = index
        layers.append(layer)
        n_parameters += layer.size * (layer.fan_in + 1)

    loss = check.choice(top.get("loss", "half_sse"), "loss", LOSSES, "loss")
    if loss in ("bce", "cross_entropy") and layers[-1].activation not in ("sigmoid", "softmax"):
        raise check.fail(
            f"layers[{len(layers) - 1}].activation",
            f"loss {loss!r} takes the logarithm of the outputs; expected sigmoid or softmax, "
            f"got {layers[-1].activation!r}",
        )
    reduction = check.choice(top.get("reduction", "sum"), "reduction", REDUCTIONS, "reduction")
    examples = _examples(check, top, layers, loss)

    learning_rate = check.number(top.get("learning_rate", Fraction(1, 2)), "learning_rate")
    if learning_rate < 0 or (learning_rate == 0 and not zero_rate):
        also = " (the API also takes 0: a step that moves nothing)" if zero_rate else ""
        raise check.fail("learning_rate", f"expected a positive number, got {_show(learning_rate)}{also}")
    train_biases = top.get("train_biases", True)
    if not isinstance(train_biases, bool):
        raise check.fail(
            "train_biases", f"expected true or false, got {_describe(train_biases)}{_unquote_hint(train_biases)}"
        )
    rounding = top.get("round_activations")
    if rounding is not None and (
        isinstance(rounding, bool) or not isinstance(rounding, int) or not 0 <= rounding <= MAX_ROUNDING
    ):
        raise check.fail(
            "round_activations",
            f"expected a whole number of decimals from 0 to {MAX_ROUNDING}, got {_describe(rounding)}",
        )

    spec = NetworkSpec(
        name=name,
        layers=tuple(layers),
        examples=examples,
        learning_rate=learning_rate,
        loss=loss,
        reduction=reduction,
        train_biases=train_biases,
        round_activations=rounding,
    )
    return replace(spec, **_training_options(check, top, spec, {}))


def to_mapping(spec: NetworkSpec) -> dict[str, Any]:
    """The table :func:`from_mapping` reads back as ``spec``, its numbers exact fractions."""
    layers = []
    for layer in spec.layers:
        table: dict[str, Any] = {
            "name": layer.name,
            "activation": layer.activation,
            "weights": [list(row) for row in layer.weights],
            "bias": list(layer.bias) if isinstance(layer.bias, tuple) else layer.bias,
        }
        if layer.negative_slope is not None:
            table["negative_slope"] = layer.negative_slope
        layers.append(table)
    data: dict[str, Any] = {
        "layers": layers,
        "examples": [{"inputs": list(example.inputs), "targets": list(example.targets)} for example in spec.examples],
        "learning_rate": spec.learning_rate,
        "loss": spec.loss,
        "reduction": spec.reduction,
        "train_biases": spec.train_biases,
        "momentum": spec.momentum,
        "weight_decay": spec.weight_decay,
        "previous_update": dict(spec.previous_update),
    }
    unset = {"round_activations": spec.round_activations, "batch_size": spec.batch_size, "shuffle": spec.shuffle}
    return data | {key: value for key, value in unset.items() if value is not None}


def with_training(
    spec: NetworkSpec, options: Mapping[str, Any], names: Mapping[str, str] | None = None, source: str | None = None
) -> NetworkSpec:
    """``spec`` with the training options in ``options`` checked and set; the others kept.

    ``names`` gives the name each option has where the user typed it (``--batch-size``), for
    the error messages; by default the file's keys.
    """
    current = {
        "batch_size": spec.batch_size,
        "shuffle": spec.shuffle,
        "momentum": spec.momentum,
        "weight_decay": spec.weight_decay,
        "previous_update": dict(spec.previous_update),
    }
    check = _Checker(source or "")  # no source: an option's error names only the option
    return replace(spec, **_training_options(check, current | dict(options), spec, names or {}))


def _training_options(
    check: _Checker, raw: Mapping[str, Any], spec: NetworkSpec, names: Mapping[str, str]
) -> dict[str, Any]:
    """batch_size, shuffle, momentum, weight_decay and previous_update, checked against the network."""
    key = lambda option: names.get(option, option)  # noqa: E731
    n_examples = len(spec.examples)
    options: dict[str, Any] = {}
    batch_size = raw.get("batch_size")
    if batch_size is not None:
        what = _BATCH_SIZE.format(n_examples)
        options["batch_size"] = check.whole(batch_size, key("batch_size"), 1, n_examples, what)
    shuffle = raw.get("shuffle")
    if shuffle is not None:
        options["shuffle"] = check.whole(shuffle, key("shuffle"), 0, None, "a seed (a whole number, 0 or more)")
    momentum = check.number(raw.get("momentum", Fraction(0)), key("momentum"))
    if not 0 <= momentum < 1:
        raise check.fail(key("momentum"), f"expected a number from 0 up to but not including 1, got {_show(momentum)}")
    options["momentum"] = momentum
    decay = check.number(raw.get("weight_decay", Fraction(0)), key("weight_decay"))
    if decay < 0:
        raise check.fail(key("weight_decay"), f"expected 0 or a positive number, got {_show(decay)}")
    options["weight_decay"] = decay
    options["previous_update"] = _previous_update(check, raw.get("previous_update"), spec, momentum, key)
    return options


_BATCH_SIZE = "a whole number of examples per update, from 1 to {} (the number of examples)"


def _previous_update(
    check: _Checker, raw: Any, spec: NetworkSpec, momentum: Fraction, key: Callable[[str], str]
) -> tuple[tuple[str, Fraction], ...]:
    """Δθ of the update before the first one, by parameter name: only with momentum, only trained ones."""
    if raw is None or (isinstance(raw, Mapping) and not raw):
        return ()
    place = key("previous_update")
    table = check.table(raw, place, (), "a table of parameter names and their last update (w5 = -0.01)", open_keys=True)
    if momentum == 0:
        raise check.fail(place, "has no effect without momentum; expected momentum = β (above 0) as well")
    names = spec.parameter_names()
    given = {}
    for name, value in table.items():
        if name not in names:
            raise check.fail(_child(place, name), _unknown_parameter(name, names))
        if name.startswith("b") and not spec.train_biases:
            fixed = "the biases are kept fixed (train_biases = false); expected no update for them"
            raise check.fail(_child(place, name), fixed)
        given[name] = check.number(value, _child(place, name))
    return tuple((name, given[name]) for name in names if name in given)


def _layer(check: _Checker, raw: Any, key: str, previous: LayerSpec | None, budget: int, *, last: bool) -> LayerSpec:
    """One ``[[layers]]`` table; ``budget`` is how many parameters the limit still allows."""
    table = check.table(raw, key, _LAYER_KEYS, "a layer table with name, activation, weights and bias")
    for required in _REQUIRED_LAYER_KEYS:
        if required not in table:
            raise check.fail(f"{key}.{required}", "missing; every layer needs name, activation, weights and bias")
    name = table["name"]
    if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
        raise check.fail(
            f"{key}.name",
            f"expected a name of letters, digits and underscores starting with a letter (at most 16), "
            f"got {_describe(name)}",
        )
    activation = check.choice(table["activation"], f"{key}.activation", ACTIVATIONS, "activation")
    if activation == "softmax" and not last:
        raise check.fail(
            f"{key}.activation",
            "softmax couples the neurons of a layer, so only the last layer may use it; "
            f"expected one of {', '.join(a for a in ACTIVATIONS if a != 'softmax')} here",
        )
    negative_slope = None
    if "negative_slope" in table:
        if activation != "leaky_relu":
            raise check.fail(
                f"{key}.negative_slope",
                f"only a leaky_relu layer has a slope below zero; this layer's activation is {activation!r}",
            )
        negative_slope = check.number(table["negative_slope"], f"{key}.negative_slope")
        if not 0 <= negative_slope < 1:
            raise check.fail(
                f"{key}.negative_slope",
                f"expected a slope from 0 up to but not including 1, got {_show(negative_slope)}",
            )
    rows = _weights(check, table["weights"], f"{key}.weights", previous, budget)
    if activation == "softmax" and len(rows) < 2:
        raise check.fail(f"{key}.activation", "softmax needs at least two neurons; expected 2 or more weight rows")

    bias_raw = table["bias"]
    one_per_neuron = f"one per neuron: the weights have {len(rows)} rows"
    bias: Fraction | tuple[Fraction, ...]
    if isinstance(bias_raw, list | tuple):
        bias = check.vector(bias_raw, f"{key}.bias", len(rows), "biases", one_per_neuron)
    elif isinstance(bias_raw, bool) or not isinstance(bias_raw, int | float | Decimal | Fraction | _BadNumber):
        raise check.fail(
            f"{key}.bias",
            f"expected a number (one bias shared by the layer) or a list of {len(rows)} numbers ({one_per_neuron}), "
            f"got {_describe(bias_raw)}{_unquote_hint(bias_raw)}",
        )
    else:
        bias = check.number(bias_raw, f"{key}.bias")
    return LayerSpec(name=name, activation=activation, weights=rows, bias=bias, negative_slope=negative_slope)


def _weights(
    check: _Checker, raw: Any, key: str, previous: LayerSpec | None, budget: int
) -> tuple[tuple[Fraction, ...], ...]:
    """The matrix ``weights[j][k]``: one row per neuron, one column per input of the layer."""
    matrix = "a matrix (a list of rows, one per neuron)"
    if not isinstance(raw, list | tuple):
        raise check.fail(key, f"expected {matrix}, got {_describe(raw)}")
    if not raw:
        raise check.fail(key, f"expected {matrix} with at least one row, got an empty list")
    if not any(isinstance(row, list | tuple) for row in raw):
        raise check.fail(key, f"expected {matrix}, got a flat list; write one neuron's weights as [[w1, w2, ...]]")
    if len(raw) > MAX_NEURONS:
        raise check.fail(key, f"expected at most {MAX_NEURONS} rows (neurons per layer), got {len(raw)}")
    if previous is not None:
        width, why = previous.size, f"one per neuron of the previous layer {previous.name!r}"
    elif isinstance(raw[0], list | tuple) and raw[0]:
        width, why = len(raw[0]), "as many as row 0 has, one per input"
    else:
        width, why = 0, "one per input"
    if len(raw) * (width + 1) > budget:
        total = MAX_PARAMETERS - budget + len(raw) * (width + 1)
        raise check.fail(key, f"expected at most {MAX_PARAMETERS} parameters in all, got {total} or more")
    rows: list[tuple[Fraction, ...]] = []
    for j, row in enumerate(raw):
        place = f"{key}[{j}]"
        if not isinstance(row, list | tuple):
            raise check.fail(place, f"expected a row (a list of numbers, {why}), got {_describe(row)}")
        if not row:
            raise check.fail(place, f"expected a row of numbers ({why}), got an empty list")
        if len(row) != width:
            raise check.fail(place, f"expected {width} numbers ({why}), got {len(row)}")
        rows.append(tuple(check.number(item, f"{place}[{k}]") for k, item in enumerate(row)))
    return tuple(rows)


def _examples(check: _Checker, top: Mapping[str, Any], layers: list[LayerSpec], loss: str) -> tuple[ExampleSpec, ...]:
    if "examples" not in top:
        raise check.fail("examples", "missing; expected at least one [[examples]] table with inputs and targets")
    raw = top["examples"]
    if isinstance(raw, Mapping):
        raise check.fail(
            "examples", "expected a list of example tables, got a single table; in TOML write [[examples]]"
        )
    if not isinstance(raw, list | tuple) or not raw:
        raise check.fail("examples", f"expected a non-empty list of example tables, got {_describe(raw)}")
    if len(raw) > MAX_EXAMPLES:
        raise check.fail("examples", f"expected at most {MAX_EXAMPLES} examples, got {len(raw)}")
    first, output = layers[0], layers[-1]
    n_inputs = f"the weights of layer {first.name!r} have {first.fan_in} columns"
    n_targets = f"one per neuron of the output layer {output.name!r}"
    examples = []
    for p, item in enumerate(raw):
        key = f"examples[{p}]"
        table = check.table(item, key, _EXAMPLE_KEYS, "an example table with inputs and targets")
        for required in _EXAMPLE_KEYS:
            if required not in table:
                raise check.fail(f"{key}.{required}", "missing; every example needs inputs and targets")
        inputs = check.vector(table["inputs"], f"{key}.inputs", first.fan_in, "inputs", n_inputs)
        targets = check.vector(table["targets"], f"{key}.targets", output.size, "targets", n_targets)
        if loss in ("bce", "cross_entropy"):
            for k, target in enumerate(targets):
                if not 0 <= target <= 1:
                    raise check.fail(
                        f"{key}.targets[{k}]", f"loss {loss!r} expects targets from 0 to 1, got {_show(target)}"
                    )
        examples.append(ExampleSpec(inputs=inputs, targets=targets))
    return tuple(examples)


# ---------------------------------------------------------------------------------------------
# Wording


def _child(parent: str, name: Any) -> str:
    """The key path of ``name`` inside ``parent``: ``layers[0].name``, or quoted if not a bare key."""
    bare = isinstance(name, str) and _BARE_KEY.fullmatch(name)
    part = name if bare else json.dumps(_clip(str(name)))  # quoted, every control character escaped
    return f"{parent}.{part}" if parent else part


def _out_of_range(shown: str, reason: str) -> str:
    """What a number no double can hold is told: NaN, infinite, overflowing or underflowing."""
    if reason == _UNDERFLOWS:
        return f"expected 0 or a number of at least 5e-324 in size, got {shown}, which {reason}"
    return f"expected a finite number, got {shown}" + (f", which {reason}" if reason else "")


def _unknown(value: Any, options: Sequence[str], what: str) -> str:
    text = str(value)
    if not text.isprintable():  # the key path already shows it, escaped; once is enough
        return f"unknown {what}, with characters that do not print (expected one of: {', '.join(options)})"
    close = difflib.get_close_matches(text, list(options), n=1, cutoff=0.6) or difflib.get_close_matches(
        text.lower(), list(options), n=1, cutoff=0.6
    )
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {_clip(text)!r}{hint} (expected one of: {', '.join(options)})"


def _unknown_parameter(name: Any, names: Sequence[str]) -> str:
    """An unknown parameter name, with the network's range of names rather than thousands of them."""
    close = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    weights = [n for n in names if n.startswith("w")]
    biases = [n for n in names if n.startswith("b")]
    have = f"{weights[0]} to {weights[-1]}" + (f" and {biases[0]} to {biases[-1]}" if biases else "")
    return f"unknown parameter {_clip(str(name))!r}{hint} (this network has {have})"


def _unquote_hint(value: Any) -> str:
    """A hint when a number or boolean was written in quotes: ``"0.5"``, ``"true"``."""
    if not isinstance(value, str):
        return ""
    if value.strip().lower() in ("true", "false"):
        return "; write true or false without quotes"
    try:
        Decimal(value.strip())
    except InvalidOperation:
        return ""
    return "; write the number without quotes"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {_clip(value)!r}" if value else "an empty string"
    if isinstance(value, _BadNumber):
        return f"the number {_clip(value.text)}"
    if isinstance(value, int | float | Decimal | Fraction):
        return f"the number {_describe_number(value)}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, datetime.date | datetime.time):
        return "a date or time"
    return f"a {type(value).__name__}"


def _describe_number(value: int | float | Decimal | Fraction) -> str:
    """A number as written, shortened if it is huge: never thousands of digits in a message."""
    if isinstance(value, int) and value.bit_length() > 100:
        return f"{'-' if value < 0 else ''}{int(value.bit_length() * math.log10(2)) + 1}-digit whole number"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return _describe_number(value.numerator)
        try:
            return format(float(value), "g")
        except OverflowError:
            return "huge fraction"
    return _clip(str(value))


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else format(float(value), "g")


# ---------------------------------------------------------------------------------------------
# For the other files a user writes (answer sheets, marks): read and parse them as networks are


def read_user_file(path: Path, expected: str, example: str = "") -> str:
    """A user's text file, with the checks and messages of a network file (``expected`` names its kind)."""
    return _read_text(path, str(path), (expected, "", example))


def parse_user_data(text: str, source: str, *, json_format: bool) -> Any:
    """TOML or JSON data: floats as :class:`~decimal.Decimal` exactly as written, errors with their line.

    A JSON object that gives a key twice reports it through :func:`duplicate_key`; a number no
    double can hold is left for :func:`number_problem` to describe.
    """
    return _parse_json(text, source) if json_format else _parse_toml(text, source)


def duplicate_key(table: Any) -> str | None:
    """The key a parsed JSON object gives twice, if any."""
    return table.duplicate if isinstance(table, _DuplicateKey) else None


def number_problem(value: Any) -> str | None:
    """What is wrong with a number literal no double can hold (NaN, infinite, overflowing), if it is one."""
    return _out_of_range(_clip(value.text), value.reason) if isinstance(value, _BadNumber) else None


def describe(value: Any) -> str:
    """A parsed value in words, for a message: "the string 'x'", "a table", "the boolean true"."""
    return _describe(value)
