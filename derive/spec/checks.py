"""From raw data (TOML, JSON or a dict from Python) to a :class:`~derive.spec.model.NetworkSpec`.

Every value a user typed is checked here and turned into exact numbers (``Fraction``); a mistake
becomes a :class:`DeriveError` naming the file, the key path and what was expected.  Numbers are
parsed as numbers: nothing from a file is ever evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from derive.errors import DeriveError
from derive.spec import shaped
from derive.spec.literals import BadNumber
from derive.spec.messages import child, describe, show, unknown_name, unknown_parameter, unquote_hint
from derive.spec.model import (
    ACTIVATIONS,
    LAYER_NAME,
    LAYER_TYPES,
    LOSSES,
    MAX_EXAMPLES,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_PARAMETERS,
    MAX_ROUNDING,
    REDUCTIONS,
    ExampleSpec,
    LayerSpec,
    NetworkSpec,
)
from derive.spec.values import Checker

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
_LAYER_KEYS = ("name", "type", "activation", "weights", "bias", "negative_slope")
_ANY_LAYER_KEYS = tuple(dict.fromkeys(_LAYER_KEYS + tuple(k for keys in shaped.KEYS.values() for k in keys)))
_REQUIRED_LAYER_KEYS = ("name", "activation", "weights", "bias")
# Every option :func:`with_options` can change.
OPTIONS = tuple(key for key in _NETWORK_KEYS if key not in ("layers", "examples"))
_EXAMPLE_KEYS = ("inputs", "targets")


def from_mapping(data: Any, *, name: str = "network", source: str = "<dict>", zero_rate: bool = False) -> NetworkSpec:
    """Validate raw TOML/JSON data (or a dict from Python) into a :class:`NetworkSpec`.

    ``zero_rate`` also takes a learning rate of 0, as the API does (a file asks for a positive one).
    """
    check = Checker(source)
    top = check.table(data, "", _NETWORK_KEYS, f"a table of network keys ({', '.join(_NETWORK_KEYS)})")
    layers = _layers(check, top)
    loss = _loss(check, top, layers)
    reduction = check.choice(top.get("reduction", "sum"), "reduction", REDUCTIONS, "reduction")
    examples, steps, every_step = _examples(check, top, layers, loss)
    learning_rate = _learning_rate(check, top, zero_rate=zero_rate)
    train_biases = _train_biases(check, top)
    rounding = _round_activations(check, top)
    spec = NetworkSpec(
        name=name,
        layers=tuple(layers),
        examples=examples,
        learning_rate=learning_rate,
        loss=loss,
        reduction=reduction,
        train_biases=train_biases,
        round_activations=rounding,
        steps=steps,
        every_step=every_step,
    )
    return replace(spec, **_training_options(check, top, spec, {}))


def _layer_tables(check: Checker, top: Mapping[str, Any]) -> list[Any] | tuple[Any, ...]:
    """The raw ``[[layers]]``: a list of 1 to :data:`MAX_LAYERS` entries."""
    if "layers" not in top:
        raise check.fail("layers", "missing; expected at least one [[layers]] table")
    layers_raw = top["layers"]
    if isinstance(layers_raw, Mapping):
        raise check.fail("layers", "expected a list of layer tables, got a single table; in TOML write [[layers]]")
    if not isinstance(layers_raw, list | tuple) or not layers_raw:
        raise check.fail("layers", f"expected a non-empty list of layer tables, got {describe(layers_raw)}")
    if len(layers_raw) > MAX_LAYERS:
        raise check.fail("layers", f"expected at most {MAX_LAYERS} layers, got {len(layers_raw)}")
    return layers_raw


def _layers(check: Checker, top: Mapping[str, Any]) -> list[LayerSpec]:
    """Every layer, each fed by the one before, within :data:`MAX_PARAMETERS` in all."""
    layers_raw = _layer_tables(check, top)
    layers: list[LayerSpec] = []
    neurons: dict[str, int] = {}  # every neuron name, and the layer that has it
    n_parameters = 0
    for index, raw in enumerate(layers_raw):
        key = f"layers[{index}]"
        previous = layers[-1] if layers else None
        layer = _layer(check, raw, key, previous, MAX_PARAMETERS - n_parameters, last=index == len(layers_raw) - 1)
        _check_names(check, key, layer, layers, neurons)
        layers.append(layer)
        n_parameters += layer.n_weights + layer.n_biases
    if layers[-1].kind in ("conv2d", "maxpool", "avgpool"):  # maps, not neurons with a target each
        raise check.fail(
            f"layers[{len(layers) - 1}].type",
            f"the last layer gives the outputs compared with the targets: expected a dense layer, "
            f"got {layers[-1].kind}; add a dense layer after it",
        )
    return layers


def _check_names(check: Checker, key: str, layer: LayerSpec, earlier: list[LayerSpec], neurons: dict[str, int]) -> None:
    """The layer's name is its own and gives no neuron an earlier layer has; its neurons join ``neurons``."""
    for other in earlier:
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
        neurons[neuron] = len(earlier)  # the layer's index


def _loss(check: Checker, top: Mapping[str, Any], layers: list[LayerSpec]) -> str:
    """The loss; bce and cross-entropy take the logarithm of the outputs, so need sigmoid or softmax ones."""
    loss = check.choice(top.get("loss", "half_sse"), "loss", LOSSES, "loss")
    if loss in ("bce", "cross_entropy") and layers[-1].activation not in ("sigmoid", "softmax"):
        raise check.fail(
            f"layers[{len(layers) - 1}].activation",
            f"loss {loss!r} takes the logarithm of the outputs; expected sigmoid or softmax, "
            f"got {layers[-1].activation!r}",
        )
    return loss


def _learning_rate(check: Checker, top: Mapping[str, Any], *, zero_rate: bool) -> Fraction:
    """η > 0, or η ≥ 0 with ``zero_rate``."""
    learning_rate = check.number(top.get("learning_rate", Fraction(1, 2)), "learning_rate")
    if learning_rate < 0 or (learning_rate == 0 and not zero_rate):
        also = " (the API also takes 0: a step that moves nothing)" if zero_rate else ""
        raise check.fail("learning_rate", f"expected a positive number, got {show(learning_rate)}{also}")
    return learning_rate


def _train_biases(check: Checker, top: Mapping[str, Any]) -> bool:
    train_biases = top.get("train_biases", True)
    if not isinstance(train_biases, bool):
        raise check.fail(
            "train_biases", f"expected true or false, got {describe(train_biases)}{unquote_hint(train_biases)}"
        )
    return train_biases


def _round_activations(check: Checker, top: Mapping[str, Any]) -> int | None:
    """The decimals each activation is rounded to, from 0 to :data:`MAX_ROUNDING`; None: not rounded."""
    rounding = top.get("round_activations")
    if rounding is not None and (
        isinstance(rounding, bool) or not isinstance(rounding, int) or not 0 <= rounding <= MAX_ROUNDING
    ):
        raise check.fail(
            "round_activations",
            f"expected a whole number of decimals from 0 to {MAX_ROUNDING}, got {describe(rounding)}",
        )
    return rounding


def to_mapping(spec: NetworkSpec) -> dict[str, Any]:
    """The table :func:`from_mapping` reads back as ``spec``, its numbers exact fractions."""
    layers = []
    for L, layer in enumerate(spec.layers):
        table: dict[str, Any] = {"name": layer.name, **shaped.layer_table(layer, first=L == 0)}
        if layer.kind == "dense":
            table["activation"] = layer.activation
            table["weights"] = [list(row) for row in layer.weights]
        if layer.kind not in ("maxpool", "avgpool"):
            table["bias"] = list(layer.bias) if isinstance(layer.bias, tuple) else layer.bias
        if layer.negative_slope is not None:
            table["negative_slope"] = layer.negative_slope
        layers.append(table)
    data: dict[str, Any] = {
        "layers": layers,
        "examples": [shaped.example_table(spec, example) for example in spec.examples],
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


def with_options(spec: NetworkSpec, /, **options: Any) -> NetworkSpec:
    """``spec`` with options (``round_activations``, ``learning_rate``, ``loss``, …) changed.

    Every option is checked as in a file, against the rest of the network too (``loss="bce"``
    needs sigmoid or softmax outputs), and an error names the option.  Unlike a file, the API
    also takes ``learning_rate=0``: a step that moves nothing, an edge case worth showing.
    """
    unknown = [key for key in options if key not in OPTIONS]
    if unknown:
        raise DeriveError(unknown_name(unknown[0], OPTIONS, "option"), key=unknown[0])
    return from_mapping(to_mapping(spec) | options, name=spec.name, source="", zero_rate=True)


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
    check = Checker(source or "")  # no source: an option's error names only the option
    return replace(spec, **_training_options(check, current | dict(options), spec, names or {}))


def _training_options(
    check: Checker, raw: Mapping[str, Any], spec: NetworkSpec, names: Mapping[str, str]
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
        raise check.fail(key("momentum"), f"expected a number from 0 up to but not including 1, got {show(momentum)}")
    options["momentum"] = momentum
    decay = check.number(raw.get("weight_decay", Fraction(0)), key("weight_decay"))
    if decay < 0:
        raise check.fail(key("weight_decay"), f"expected 0 or a positive number, got {show(decay)}")
    options["weight_decay"] = decay
    options["previous_update"] = _previous_update(check, raw.get("previous_update"), spec, momentum, key)
    return options


_BATCH_SIZE = "a whole number of examples per update, from 1 to {} (the number of examples)"


def _previous_update(
    check: Checker, raw: Any, spec: NetworkSpec, momentum: Fraction, key: Callable[[str], str]
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
            raise check.fail(child(place, name), unknown_parameter(name, names))
        if name.startswith("b") and not spec.train_biases:
            fixed = "the biases are kept fixed (train_biases = false); expected no update for them"
            raise check.fail(child(place, name), fixed)
        given[name] = check.number(value, child(place, name))
    return tuple((name, given[name]) for name in names if name in given)


def _layer(check: Checker, raw: Any, key: str, previous: LayerSpec | None, budget: int, *, last: bool) -> LayerSpec:
    """One ``[[layers]]`` table; ``budget`` is how many parameters the limit still allows."""
    table = check.table(raw, key, _ANY_LAYER_KEYS, "a layer table with name, activation, weights and bias")
    kind = check.choice(table.get("type", "dense"), f"{key}.type", LAYER_TYPES, "layer type")
    if kind != "dense":
        return _shaped_layer(check, table, key, previous, kind)
    for name_ in table:
        if name_ not in _LAYER_KEYS:
            raise check.fail(
                f"{key}.{name_}",
                f"a dense layer has no {name_!r}; set type (conv2d, maxpool, avgpool, recurrent) for it",
            )
    for required in _REQUIRED_LAYER_KEYS:
        if required not in table:
            raise check.fail(f"{key}.{required}", "missing; every layer needs name, activation, weights and bias")
    name = table["name"]
    if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
        raise check.fail(
            f"{key}.name",
            f"expected a name of letters, digits and underscores starting with a letter (at most 16), "
            f"got {describe(name)}",
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
                f"expected a slope from 0 up to but not including 1, got {show(negative_slope)}",
            )
    rows = _weights(check, table["weights"], f"{key}.weights", previous, budget)
    if activation == "softmax" and len(rows) < 2:
        raise check.fail(f"{key}.activation", "softmax needs at least two neurons; expected 2 or more weight rows")

    bias_raw = table["bias"]
    one_per_neuron = f"one per neuron: the weights have {len(rows)} rows"
    bias: Fraction | tuple[Fraction, ...]
    if isinstance(bias_raw, list | tuple):
        bias = check.vector(bias_raw, f"{key}.bias", len(rows), "biases", one_per_neuron)
    elif isinstance(bias_raw, bool) or not isinstance(bias_raw, int | float | Decimal | Fraction | BadNumber):
        raise check.fail(
            f"{key}.bias",
            f"expected a number (one bias shared by the layer) or a list of {len(rows)} numbers ({one_per_neuron}), "
            f"got {describe(bias_raw)}{unquote_hint(bias_raw)}",
        )
    else:
        bias = check.number(bias_raw, f"{key}.bias")
    return LayerSpec(name=name, activation=activation, weights=rows, bias=bias, negative_slope=negative_slope)


def _weights(
    check: Checker, raw: Any, key: str, previous: LayerSpec | None, budget: int
) -> tuple[tuple[Fraction, ...], ...]:
    """The matrix ``weights[j][k]``: one row per neuron, one column per input of the layer."""
    matrix = "a matrix (a list of rows, one per neuron)"
    if not isinstance(raw, list | tuple):
        raise check.fail(key, f"expected {matrix}, got {describe(raw)}")
    if not raw:
        raise check.fail(key, f"expected {matrix} with at least one row, got an empty list")
    if not any(isinstance(row, list | tuple) for row in raw):
        raise check.fail(key, f"expected {matrix}, got a flat list; write one neuron's weights as [[w1, w2, ...]]")
    if len(raw) > MAX_NEURONS:
        raise check.fail(key, f"expected at most {MAX_NEURONS} rows (neurons per layer), got {len(raw)}")
    if previous is not None and previous.out_shape is not None:
        width, why = (
            previous.units,
            f"one per value of the maps of {previous.name!r} {_shape(previous.out_shape)}, flattened",
        )
    elif previous is not None:
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
            raise check.fail(place, f"expected a row (a list of numbers, {why}), got {describe(row)}")
        if not row:
            raise check.fail(place, f"expected a row of numbers ({why}), got an empty list")
        if len(row) != width:
            raise check.fail(place, f"expected {width} numbers ({why}), got {len(row)}")
        rows.append(tuple(check.number(item, f"{place}[{k}]") for k, item in enumerate(row)))
    return tuple(rows)


def _shape(shape: tuple[int, int, int]) -> str:
    return "×".join(map(str, shape))


def _shaped_layer(
    check: Checker, table: Mapping[str, Any], key: str, previous: LayerSpec | None, kind: str
) -> LayerSpec:
    """A conv2d, pooling or recurrent layer (:mod:`derive.spec.shaped`)."""
    shaped.check_keys(check, table, key, kind)
    shaped.place(check, kind, key, previous)
    name = table["name"]
    if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
        raise check.fail(
            f"{key}.name",
            f"expected a name of letters, digits and underscores starting with a letter (at most 16), "
            f"got {describe(name)}",
        )
    if kind == "conv2d":
        return shaped.conv_layer(check, table, key, previous, name)
    if kind == "recurrent":
        return shaped.recurrent_layer(check, table, key, name)
    assert previous is not None
    return shaped.pool_layer(check, table, key, previous, name, kind)


def _examples(
    check: Checker, top: Mapping[str, Any], layers: list[LayerSpec], loss: str
) -> tuple[tuple[ExampleSpec, ...], int | None, bool]:
    if "examples" not in top:
        raise check.fail("examples", "missing; expected at least one [[examples]] table with inputs and targets")
    raw = top["examples"]
    if isinstance(raw, Mapping):
        raise check.fail(
            "examples", "expected a list of example tables, got a single table; in TOML write [[examples]]"
        )
    if not isinstance(raw, list | tuple) or not raw:
        raise check.fail("examples", f"expected a non-empty list of example tables, got {describe(raw)}")
    if len(raw) > MAX_EXAMPLES:
        raise check.fail("examples", f"expected at most {MAX_EXAMPLES} examples, got {len(raw)}")
    first, output = layers[0], layers[-1]
    n_inputs = f"the weights of layer {first.name!r} have {first.fan_in} columns"
    n_targets = f"one per neuron of the output layer {output.name!r}"
    examples = []
    steps: int | None = None
    every_step: bool | None = None
    for p, item in enumerate(raw):
        key = f"examples[{p}]"
        table = check.table(item, key, _EXAMPLE_KEYS, "an example table with inputs and targets")
        for required in _EXAMPLE_KEYS:
            if required not in table:
                raise check.fail(f"{key}.{required}", "missing; every example needs inputs and targets")
        if first.kind == "recurrent":
            inputs = shaped.sequence(check, table["inputs"], f"{key}.inputs", first.fan_in, steps)
            steps = len(inputs) // first.fan_in
            targets, every_step = shaped.sequence_targets(
                check, table["targets"], f"{key}.targets", output, steps, every_step
            )
        elif first.in_shape is not None:
            inputs = shaped.image(check, table["inputs"], f"{key}.inputs", first.in_shape)
            targets = check.vector(table["targets"], f"{key}.targets", output.size, "targets", n_targets)
        else:
            inputs = check.vector(table["inputs"], f"{key}.inputs", first.fan_in, "inputs", n_inputs)
            targets = check.vector(table["targets"], f"{key}.targets", output.size, "targets", n_targets)
        if loss in ("bce", "cross_entropy"):
            for k, target in enumerate(targets):
                if not 0 <= target <= 1:
                    raise check.fail(
                        f"{key}.targets[{k}]", f"loss {loss!r} expects targets from 0 to 1, got {show(target)}"
                    )
        examples.append(ExampleSpec(inputs=inputs, targets=targets))
    return tuple(examples), steps, bool(every_step)
