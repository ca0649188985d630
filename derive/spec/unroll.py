"""A network with conv2d, pooling or recurrent layers unrolled into stages of neurons with shared parameters.

A stage is one layer at one time step: every value it computes is a neuron whose net input is a
sum of links (a parameter times a source value) plus a bias.  A convolution's kernel entry is the
weight of one link at every position it visits; a recurrent layer's W and U are the weights of the
same links at every time step.  A pooling neuron has no parameters: its links are the values of
its window, which it takes the maximum or the mean of.  Names say where a neuron sits:

* ``c1,23``: filter 1 of layer ``c``, row 2, column 3 (``c1,2.3`` when a map is wider than 9);
* ``p1,11``: channel 1 of pooling layer ``p``, row 1, column 1;
* ``h2,3``: neuron 2 of recurrent layer ``h`` at time step 3; ``o1,3`` a dense layer after it,
  at step 3 (only its last step, named ``o1``, when the target is at the last step only);
* inputs ``i23`` (row 2, column 3; ``i1,23`` with channels) and ``i1,3`` (input 1 at step 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.spec.model import LayerSpec, NetworkSpec

INPUT = -1  # the stage of an example's inputs
INITIAL = -2  # the stage of a recurrent layer's initial state h_0, when the file gives one


@dataclass(frozen=True)
class Link:
    """One term of a net input: the value ``source`` (stage, index) times weight ``weight``.

    ``weight`` is the index of the parameter in the network's weights (0-based, w1 is 0); None for
    a pooling link, whose coefficient is the pooling's (1 for the maximum, 1/n for the mean).
    """

    source: tuple[int, int]
    weight: int | None


@dataclass(frozen=True)
class Unit:
    """One neuron of a stage: its name, the links of its net input and its bias (an index, or None)."""

    name: str
    links: tuple[Link, ...]
    bias: int | None


@dataclass(frozen=True)
class Stage:
    """One layer (``layer``, its index in the spec) at one time step (``step``, 1-based; None: no time)."""

    layer: int
    step: int | None
    kind: str
    activation: str
    negative_slope: object
    units: tuple[Unit, ...]
    shape: tuple[int, int, int] | None = None  # the maps it gives: (channels, rows, columns)


def position(index: int, rows: int, columns: int, *, dotted: bool) -> str:
    """``23`` for row 2, column 3 of a map (``2.3`` when a map is wider than 9), from a flat index."""
    row, column = divmod(index, columns)
    return f"{row + 1}.{column + 1}" if dotted else f"{row + 1}{column + 1}"


def _dotted(*shapes: tuple[int, int, int] | None) -> bool:
    return any(shape is not None and max(shape[1:]) > 9 for shape in shapes)


def input_names(spec: NetworkSpec) -> list[str]:
    """The inputs' subscripts, in the order of an example's ``inputs``."""
    first = spec.layers[0]
    if first.in_shape is not None:
        channels, rows, columns = first.in_shape
        dotted = _dotted(first.in_shape)
        names = []
        for c in range(channels):
            for k in range(rows * columns):
                place = position(k, rows, columns, dotted=dotted)
                names.append(f"{c + 1},{place}" if channels > 1 else place)
        return names
    if spec.steps is not None:
        return [f"{k + 1},{t + 1}" for t in range(spec.steps) for k in range(spec.n_inputs)]
    return [str(k + 1) for k in range(spec.n_inputs)]


def unroll(spec: NetworkSpec) -> tuple[Stage, ...]:
    """Every stage in an order where each neuron comes after every value it reads."""
    weight_start, bias_start = parameter_starts(spec)
    if spec.steps is not None:
        return _unroll_sequence(spec, weight_start, bias_start)
    stages: list[Stage] = []
    for L, layer in enumerate(spec.layers):
        source = INPUT if L == 0 else L - 1
        if layer.kind == "conv2d":
            units = _conv_units(layer, source, weight_start[L], bias_start[L])
        elif layer.kind in ("maxpool", "avgpool"):
            units = _pool_units(layer, source)
        else:
            units = _dense_units(
                layer, layer.neuron_name, [(source, k) for k in range(layer.fan_in)], weight_start[L], bias_start[L]
            )
        activation = "linear" if layer.kind in ("maxpool", "avgpool") else layer.activation
        stages.append(Stage(L, None, layer.kind, activation, layer.negative_slope, units, layer.out_shape))
    return tuple(stages)


def parameter_starts(spec: NetworkSpec) -> tuple[list[int], list[int]]:
    """Each layer's first weight and first bias (0-based): the parameters are numbered layer after layer."""
    weight_start, bias_start = [], []
    w = b = 0
    for layer in spec.layers:
        weight_start.append(w)
        bias_start.append(b)
        w += layer.n_weights
        b += layer.n_biases
    return weight_start, bias_start


def kernel_weight(layer: LayerSpec, weight_start: int, f: int, c: int, offset: int) -> int:
    """The weight of filter f's kernel on channel c at ``offset`` (row by row): filter, channel, row, column."""
    assert layer.in_shape is not None and layer.window is not None
    per_channel = layer.window[0] * layer.window[1]
    return weight_start + (f * layer.in_shape[0] + c) * per_channel + offset


def _bias_index(layer: LayerSpec, start: int, j: int) -> int:
    return start if layer.shared_bias else start + j


def _dense_units(
    layer: LayerSpec, name: object, sources: list[tuple[int, int]], weight_start: int, bias_start: int
) -> tuple[Unit, ...]:
    """A fully connected layer: neuron j's link k has weight j·fan_in + k of the layer."""
    units = []
    for j in range(layer.size):
        links = tuple(Link(source, weight_start + j * layer.fan_in + k) for k, source in enumerate(sources))
        units.append(Unit(name(j), links, _bias_index(layer, bias_start, j)))  # type: ignore[operator]
    return tuple(units)


def _windows(layer: LayerSpec) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Each output position (row, column) and the (row, column, offset) of its window's entries in
    the padded input, ``offset`` the entry's place in the window (row by row)."""
    assert layer.in_shape is not None and layer.window is not None
    _, out_rows, out_columns = layer.out_shape  # type: ignore[misc]
    rows, columns = layer.window
    found = []
    for r in range(out_rows):
        for s in range(out_columns):
            entries = [
                (r * layer.stride + a - layer.padding, s * layer.stride + c - layer.padding, a * columns + c)
                for a in range(rows)
                for c in range(columns)
            ]
            found.append((r, s, entries))
    return found


def _conv_units(layer: LayerSpec, source: int, weight_start: int, bias_start: int) -> tuple[Unit, ...]:
    """net_{f,rs} = Σ_c Σ_ab k_{f,c,ab} · x_{c, r·stride+a−padding, s·stride+b−padding} + b_f (zeros outside)."""
    assert layer.in_shape is not None and layer.window is not None
    channels, rows, columns = layer.in_shape
    shape = layer.out_shape
    dotted = _dotted(layer.in_shape, shape)
    units = []
    for f in range(layer.size):
        for r, s, entries in _windows(layer):
            links = []
            for c in range(channels):
                for row, column, offset in entries:
                    if 0 <= row < rows and 0 <= column < columns:  # a padding zero adds nothing
                        weight = kernel_weight(layer, weight_start, f, c, offset)
                        links.append(Link((source, c * rows * columns + row * columns + column), weight))
            place = f"{r + 1}.{s + 1}" if dotted else f"{r + 1}{s + 1}"
            units.append(Unit(f"{layer.name}{f + 1},{place}", tuple(links), _bias_index(layer, bias_start, f)))
    return tuple(units)


def _pool_units(layer: LayerSpec, source: int) -> tuple[Unit, ...]:
    """One neuron per channel and window: its links are the window's values, with no parameters."""
    assert layer.in_shape is not None
    channels, rows, columns = layer.in_shape
    dotted = _dotted(layer.in_shape, layer.out_shape)
    units = []
    for c in range(channels):
        for r, s, entries in _windows(layer):
            links = tuple(
                Link((source, c * rows * columns + row * columns + column), None) for row, column, _ in entries
            )
            place = f"{r + 1}.{s + 1}" if dotted else f"{r + 1}{s + 1}"
            units.append(Unit(f"{layer.name}{c + 1},{place}", links, None))
    return tuple(units)


def _unroll_sequence(spec: NetworkSpec, weight_start: list[int], bias_start: list[int]) -> tuple[Stage, ...]:
    """The recurrent layer at steps 1…T, each followed by the dense layers after it at that step.

    h_t reads x_t through W and h_{t−1} through U (nothing at t = 1 unless an initial state is
    given, which is then a constant: see :attr:`LayerSpec.initial_state`).  With the target at the
    last step only, the dense layers are unrolled at that step alone: earlier ones reach no loss.
    A given h_0 is stage :data:`INITIAL`.
    """
    recurrent = spec.layers[0]
    steps = spec.steps or 0
    n_in = recurrent.fan_in
    n_hidden = recurrent.size
    stages: list[Stage] = []
    previous_hidden: int | None = None
    for t in range(steps):
        units = []
        for j in range(n_hidden):
            links = [Link((INPUT, t * n_in + k), weight_start[0] + j * n_in + k) for k in range(n_in)]
            u_start = weight_start[0] + n_hidden * n_in + j * n_hidden
            before = previous_hidden if previous_hidden is not None else INITIAL
            if previous_hidden is not None or recurrent.initial_state is not None:  # h_0 = 0 adds nothing
                links += [Link((before, m), u_start + m) for m in range(n_hidden)]
            units.append(
                Unit(f"{recurrent.neuron_name(j)},{t + 1}", tuple(links), _bias_index(recurrent, bias_start[0], j))
            )
        stages.append(Stage(0, t + 1, "recurrent", recurrent.activation, recurrent.negative_slope, tuple(units)))
        previous_hidden = len(stages) - 1
        if not spec.every_step and t < steps - 1:
            continue
        below = previous_hidden
        for L in range(1, len(spec.layers)):
            layer = spec.layers[L]
            step = t + 1
            name = (
                (lambda j, layer=layer, step=step: f"{layer.neuron_name(j)},{step}")
                if spec.every_step
                else layer.neuron_name
            )
            sources = [(below, k) for k in range(layer.fan_in)]
            units_L = _dense_units(layer, name, sources, weight_start[L], bias_start[L])
            stages.append(Stage(L, t + 1, "dense", layer.activation, layer.negative_slope, units_L))
            below = len(stages) - 1
    return tuple(stages)


def output_stages(spec: NetworkSpec, stages: tuple[Stage, ...]) -> list[int]:
    """The stages whose neurons are compared with targets, in the order of an example's ``targets``."""
    last = len(spec.layers) - 1
    found = [s for s, stage in enumerate(stages) if stage.layer == last]
    return found if spec.every_step else found[-1:]
