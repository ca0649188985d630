"""The layers that are not fully connected: conv2d, maxpool, avgpool and recurrent, checked key by key.

Every shape that does not fit (a kernel larger than the padded input, a stride that does not tile
it, kernels of different shapes, a recurrent layer anywhere but first, a sequence of ragged
vectors) is a one-line error naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from derive.spec.messages import describe
from derive.spec.model import ACTIVATIONS, MAPS, MAX_PARAMETERS, MAX_SEQUENCE, LayerSpec
from derive.spec.values import Checker

MAX_SIDE = 32  # rows or columns of a map
MAX_CHANNELS = 16

KEYS = {
    "conv2d": ("name", "type", "activation", "input_shape", "kernels", "bias", "stride", "padding", "negative_slope"),
    "maxpool": ("name", "type", "size", "stride"),
    "avgpool": ("name", "type", "size", "stride"),
    "recurrent": (
        "name",
        "type",
        "activation",
        "weights",
        "recurrent_weights",
        "bias",
        "initial_state",
        "negative_slope",
    ),
}
REQUIRED = {
    "conv2d": ("name", "activation", "kernels", "bias"),
    "maxpool": ("name", "size"),
    "avgpool": ("name", "size"),
    "recurrent": ("name", "activation", "weights", "recurrent_weights", "bias"),
}


def check_keys(check: Checker, table: Mapping[str, Any], key: str, kind: str) -> None:
    """Only the keys a layer of this type has, and every one it needs."""
    for name in table:
        if name not in KEYS[kind]:
            raise check.fail(f"{key}.{name}", f"a {kind} layer has no {name!r}; expected only {', '.join(KEYS[kind])}")
    for required in REQUIRED[kind]:
        if required not in table:
            raise check.fail(f"{key}.{required}", f"missing; a {kind} layer needs {', '.join(REQUIRED[kind])}")


def place(check: Checker, kind: str, key: str, previous: LayerSpec | None) -> None:
    """A recurrent layer comes first; a conv2d first or after maps; a pooling layer after maps."""
    if kind == "recurrent" and previous is not None:
        raise check.fail(f"{key}.type", "a recurrent layer must be the first layer; expected it at layers[0]")
    if previous is not None and previous.kind not in MAPS and kind in MAPS:
        raise check.fail(
            f"{key}.type", f"a {kind} layer reads feature maps; expected it first or after a conv2d or pooling layer"
        )
    if previous is None and kind in ("maxpool", "avgpool"):
        raise check.fail(f"{key}.type", f"a {kind} layer reads feature maps; expected a conv2d layer before it")


def activation(check: Checker, table: Mapping[str, Any], key: str, kind: str) -> str:
    chosen = check.choice(table["activation"], f"{key}.activation", ACTIVATIONS, "activation")
    if chosen == "softmax":
        raise check.fail(f"{key}.activation", f"softmax couples a layer's neurons; a {kind} layer cannot use it")
    return chosen


def _shape(check: Checker, raw: Any, key: str) -> tuple[int, int, int]:
    """``[rows, columns]`` or ``[channels, rows, columns]``."""
    if not isinstance(raw, list | tuple) or len(raw) not in (2, 3):
        raise check.fail(key, f"expected [rows, columns] or [channels, rows, columns], got {describe(raw)}")
    limits = [MAX_CHANNELS, MAX_SIDE, MAX_SIDE][3 - len(raw) :]
    sizes = [
        check.whole(v, f"{key}[{n}]", 1, limit, f"a whole number from 1 to {limit}")
        for n, (v, limit) in enumerate(zip(raw, limits, strict=True))
    ]
    return (1, *sizes) if len(sizes) == 2 else tuple(sizes)  # type: ignore[return-value]


def _stride_padding(check: Checker, table: Mapping[str, Any], key: str, default: int) -> tuple[int, int]:
    stride = check.whole(
        table.get("stride", default), f"{key}.stride", 1, MAX_SIDE, f"a whole number from 1 to {MAX_SIDE}"
    )
    padding = check.whole(table.get("padding", 0), f"{key}.padding", 0, 8, "a whole number from 0 to 8")
    return stride, padding


def _tiles(
    check: Checker,
    key: str,
    in_shape: tuple[int, int, int],
    window: tuple[int, int],
    stride: int,
    padding: int,
    what: str,
) -> None:
    """The window fits the padded input, and the stride takes it exactly to the last row and column."""
    for side, size, length in (("rows", window[0], in_shape[1]), ("columns", window[1], in_shape[2])):
        padded = length + 2 * padding
        if size > padded:
            raise check.fail(
                f"{key}.{what}", f"{what} of {size} {side} is larger than the input's {padded} (padding included)"
            )
        if (padded - size) % stride:
            raise check.fail(
                f"{key}.stride",
                f"stride {stride} does not tile the {padded} {side} (padding included) with a {what} of {size}; "
                f"expected a stride that divides {padded - size}",
            )


def conv_layer(check: Checker, table: Mapping[str, Any], key: str, previous: LayerSpec | None, name: str) -> LayerSpec:
    """A 2-D convolution: one kernel per filter, a bias per filter (or one shared)."""
    if previous is None:
        if "input_shape" not in table:
            raise check.fail(
                f"{key}.input_shape", "missing; a first conv2d layer needs [rows, columns] or [channels, rows, columns]"
            )
        in_shape = _shape(check, table["input_shape"], f"{key}.input_shape")
    else:
        if "input_shape" in table:
            raise check.fail(
                f"{key}.input_shape", f"only the first layer gives input_shape; this one reads {previous.name!r}"
            )
        in_shape = previous.out_shape  # type: ignore[assignment]
    kernels, window = _kernels(check, table["kernels"], f"{key}.kernels", in_shape[0])
    stride, padding = _stride_padding(check, table, key, 1)
    _tiles(check, key, in_shape, window, stride, padding, "kernels")
    bias = _bias(check, table["bias"], f"{key}.bias", len(kernels), "filter")
    return LayerSpec(
        name=name,
        activation=activation(check, table, key, "conv2d"),
        weights=kernels,
        bias=bias,
        negative_slope=slope(check, table, key),
        kind="conv2d",
        in_shape=in_shape,
        window=window,
        stride=stride,
        padding=padding,
    )


def _kernels(
    check: Checker, raw: Any, key: str, channels: int
) -> tuple[tuple[tuple[Fraction, ...], ...], tuple[int, int]]:
    """Each filter's kernel flattened channel by channel, row by row; and the kernels' rows and columns."""
    if not isinstance(raw, list | tuple) or not raw:
        raise check.fail(key, f"expected a list of kernels, one per filter, got {describe(raw)}")
    flat, window = [], None
    for f, kernel in enumerate(raw):
        place = f"{key}[{f}]"
        depth3 = (
            isinstance(kernel, list | tuple)
            and kernel
            and isinstance(kernel[0], list | tuple)
            and kernel[0]
            and isinstance(kernel[0][0], list | tuple)
        )
        planes = kernel if depth3 else [kernel]
        if len(planes) != channels:
            raise check.fail(
                place,
                f"expected {channels} channels ([channels][rows][columns]), one per input channel, got {len(planes)}",
            )
        values = []
        for c, plane in enumerate(planes):
            where = f"{place}[{c}]" if depth3 else place
            rows = _matrix(check, plane, where)
            shape = (len(rows), len(rows[0]))
            if window is None:
                window = shape
            elif shape != window:
                raise check.fail(
                    where, f"expected a {window[0]}×{window[1]} kernel as the first one, got {shape[0]}×{shape[1]}"
                )
            values.extend(v for row in rows for v in row)
        flat.append(tuple(values))
    if len(flat) * len(flat[0]) > MAX_PARAMETERS:
        raise check.fail(key, f"expected at most {MAX_PARAMETERS} parameters in all")
    return tuple(flat), window  # type: ignore[return-value]


def _matrix(check: Checker, raw: Any, key: str) -> list[tuple[Fraction, ...]]:
    """A non-empty rectangular matrix of numbers."""
    if not isinstance(raw, list | tuple) or not raw or not all(isinstance(row, list | tuple) for row in raw):
        raise check.fail(key, f"expected a matrix (a list of rows of numbers), got {describe(raw)}")
    width = len(raw[0])
    rows = []
    for r, row in enumerate(raw):
        if not row or len(row) != width:
            raise check.fail(f"{key}[{r}]", f"expected {width} numbers (as row 0 has), got {len(row)}")
        rows.append(tuple(check.number(v, f"{key}[{r}][{s}]") for s, v in enumerate(row)))
    return rows


def _bias(check: Checker, raw: Any, key: str, count: int, what: str) -> Fraction | tuple[Fraction, ...]:
    if isinstance(raw, list | tuple):
        return check.vector(raw, key, count, "biases", f"one per {what}")
    return check.number(raw, key)


def slope(check: Checker, table: Mapping[str, Any], key: str) -> Fraction | None:
    if "negative_slope" not in table:
        return None
    if table.get("activation") != "leaky_relu":
        raise check.fail(f"{key}.negative_slope", "only a leaky_relu layer has a slope below zero")
    value = check.number(table["negative_slope"], f"{key}.negative_slope")
    if not 0 <= value < 1:
        raise check.fail(f"{key}.negative_slope", "expected a slope from 0 up to but not including 1")
    return value


def pool_layer(
    check: Checker, table: Mapping[str, Any], key: str, previous: LayerSpec, name: str, kind: str
) -> LayerSpec:
    """Max or average pooling over square windows of ``size``, moved by ``stride`` (default: size)."""
    in_shape = previous.out_shape
    assert in_shape is not None
    size = check.whole(table["size"], f"{key}.size", 1, MAX_SIDE, f"a window size from 1 to {MAX_SIDE}")
    stride, _ = _stride_padding(check, table, key, size)
    _tiles(check, key, in_shape, (size, size), stride, 0, "size")
    return LayerSpec(
        name=name,
        activation="linear",
        weights=(),
        bias=(),
        kind=kind,
        in_shape=in_shape,
        window=(size, size),
        stride=stride,
    )


def recurrent_layer(check: Checker, table: Mapping[str, Any], key: str, name: str) -> LayerSpec:
    """An Elman layer: W (input → hidden), U (hidden → hidden), a bias, and h_0 (default zeros)."""
    weights = _matrix(check, table["weights"], f"{key}.weights")
    n = len(weights)
    recurrent = _matrix(check, table["recurrent_weights"], f"{key}.recurrent_weights")
    if len(recurrent) != n or len(recurrent[0]) != n:
        raise check.fail(
            f"{key}.recurrent_weights",
            f"expected a {n}×{n} matrix (h_(t-1) → h_t: weights has {n} rows), "
            f"got {len(recurrent)}×{len(recurrent[0])}",
        )
    initial = None
    if "initial_state" in table:
        initial = check.vector(table["initial_state"], f"{key}.initial_state", n, "numbers", "one per neuron")
    return LayerSpec(
        name=name,
        activation=activation(check, table, key, "recurrent"),
        weights=tuple(weights),
        bias=_bias(check, table["bias"], f"{key}.bias", n, "neuron"),
        negative_slope=slope(check, table, key),
        kind="recurrent",
        recurrent_weights=tuple(recurrent),
        initial_state=initial,
    )


def sequence(check: Checker, raw: Any, key: str, width: int, steps: int | None) -> tuple[Fraction, ...]:
    """A sequence of vectors of ``width`` numbers each, as many as the first example has."""
    if not isinstance(raw, list | tuple) or not raw or not all(isinstance(v, list | tuple) for v in raw):
        raise check.fail(
            key, f"expected a sequence: a list of vectors of {width} numbers, one per time step, got {describe(raw)}"
        )
    if len(raw) > MAX_SEQUENCE:
        raise check.fail(key, f"expected at most {MAX_SEQUENCE} time steps, got {len(raw)}")
    if steps is not None and len(raw) != steps:
        raise check.fail(key, f"expected {steps} time steps, as examples[0] has, got {len(raw)}")
    values: list[Fraction] = []
    for t, vector in enumerate(raw):
        values.extend(check.vector(vector, f"{key}[{t}]", width, "numbers", "one per input of the recurrent layer"))
    return tuple(values)


def image(check: Checker, raw: Any, key: str, shape: tuple[int, int, int]) -> tuple[Fraction, ...]:
    """An input of ``shape``: [rows][columns], or [channels][rows][columns] with channels."""
    channels, rows, columns = shape
    planes = raw if channels > 1 else [raw]
    if channels > 1 and (not isinstance(raw, list | tuple) or len(raw) != channels):
        raise check.fail(
            key,
            f"expected {channels} channels of {rows}×{columns} ([channels][rows][columns], as input_shape), "
            f"got {describe(raw)}",
        )
    values: list[Fraction] = []
    for c, plane in enumerate(planes):
        where = f"{key}[{c}]" if channels > 1 else key
        if (
            not isinstance(plane, list | tuple)
            or len(plane) != rows
            or not all(isinstance(row, list | tuple) for row in plane)
        ):
            raise check.fail(
                where, f"expected {rows} rows of {columns} numbers (the shape of input_shape), got {describe(plane)}"
            )
        for r, row in enumerate(plane):
            values.extend(check.vector(row, f"{where}[{r}]", columns, "numbers", "the columns of input_shape"))
    return tuple(values)


def sequence_targets(
    check: Checker, raw: Any, key: str, output: LayerSpec, steps: int, every_step: bool | None
) -> tuple[tuple[Fraction, ...], bool]:
    """One vector (the last step's targets) or one per time step; every example the same way."""
    nested = isinstance(raw, list | tuple) and bool(raw) and all(isinstance(v, list | tuple) for v in raw)
    if every_step is not None and nested != every_step:
        expected = "one vector per time step" if every_step else "one vector (the last step's targets)"
        raise check.fail(key, f"expected {expected}, as examples[0] has")
    why = f"one per neuron of the output layer {output.name!r}"
    if not nested:
        return check.vector(raw, key, output.size, "targets", why), False
    if len(raw) != steps:
        raise check.fail(key, f"expected {steps} vectors of targets, one per time step of the inputs, got {len(raw)}")
    values: list[Fraction] = []
    for t, vector in enumerate(raw):
        values.extend(check.vector(vector, f"{key}[{t}]", output.size, "targets", why))
    return tuple(values), True


def layer_table(layer: LayerSpec, *, first: bool) -> dict[str, Any]:
    """The keys :func:`conv_layer`, :func:`pool_layer` or :func:`recurrent_layer` read back as ``layer``."""
    if layer.kind == "dense":
        return {}
    table: dict[str, Any] = {"type": layer.kind}
    if layer.kind == "conv2d":
        assert layer.in_shape is not None and layer.window is not None
        channels = layer.in_shape[0]
        size = layer.window[0] * layer.window[1]
        table["activation"] = layer.activation
        if first:
            table["input_shape"] = list(layer.in_shape)
        table["kernels"] = [
            [
                [
                    list(row[c * size + r * layer.window[1] : c * size + (r + 1) * layer.window[1]])
                    for r in range(layer.window[0])
                ]
                for c in range(channels)
            ]
            for row in layer.weights
        ]
        table["stride"], table["padding"] = layer.stride, layer.padding
    elif layer.kind == "recurrent":
        table["activation"] = layer.activation
        table["weights"] = [list(row) for row in layer.weights]
        table["recurrent_weights"] = [list(row) for row in layer.recurrent_weights]
        if layer.initial_state is not None:
            table["initial_state"] = list(layer.initial_state)
    else:
        assert layer.window is not None
        table["size"], table["stride"] = layer.window[0], layer.stride
    return table


def example_table(spec: Any, example: Any) -> dict[str, Any]:
    """An example as a file writes it: maps as [channels][rows][columns], sequences as vectors."""
    first = spec.layers[0]
    inputs: Any = list(example.inputs)
    targets: Any = list(example.targets)
    if first.in_shape is not None:
        channels, rows, columns = first.in_shape
        planes = [
            [inputs[(c * rows + r) * columns : (c * rows + r + 1) * columns] for r in range(rows)]
            for c in range(channels)
        ]
        inputs = planes if channels > 1 else planes[0]
    elif spec.steps is not None:
        width = first.fan_in
        inputs = [inputs[t * width : (t + 1) * width] for t in range(spec.steps)]
        if spec.every_step:
            n = spec.layers[-1].size
            targets = [targets[t * n : (t + 1) * n] for t in range(spec.steps)]
    return {"inputs": inputs, "targets": targets}
