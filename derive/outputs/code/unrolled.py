"""``loss_and_gradients`` for a network with conv2d, pooling or recurrent layers, one example at a time.

An image network runs its layers in turn on maps (channels, rows, columns), a dense layer reading
them flattened channel by channel, row by row; δ goes back layer by layer, a kernel's gradient
adding one term per position of its map.  A recurrent network runs the recurrence forward through
time, the layers after it at every step with a target, then backpropagation through time:
δ_s = (∂E/∂h_s + Uᵀ δ_(s+1)) ⊙ f′(net_s), W, U and b adding one term per step.
"""

from __future__ import annotations

from derive.outputs.code import backward
from derive.outputs.code.forward import SIGNATURE
from derive.outputs.code.names import Numbering, comment, constant, number, var
from derive.spec.model import LayerSpec, NetworkSpec

_POOLS = ("maxpool", "avgpool")
_POOL_FUNCTION = {"maxpool": "max_pool", "avgpool": "avg_pool"}


def loss_and_gradients(spec: NetworkSpec) -> list[str]:
    """The function's lines: the parameters as arrays, the loop over the examples, the numbered gradients."""
    lines = [*SIGNATURE, _scale(spec), *_arrays(spec), *_zero_gradients(spec)]
    lines += ["    loss = 0.0", "    for inputs, targets in examples:"]
    lines += _sequence_example(spec) if spec.steps is not None else _image_example(spec)
    return [*lines, *_numbered(spec)]


def _scale(spec: NetworkSpec) -> str:
    if spec.reduction == "sum":
        return "    scale = 1.0  # reduction sum: E_total adds up the examples' errors"
    return "    scale = 1.0 / len(examples)  # reduction mean: E_total averages the examples' errors"


def _indented(lines: list[str], by: int) -> list[str]:
    return [" " * by + line if line else line for line in lines]


def _comment(text: str) -> list[str]:
    """A comment wrapped as inside the function, to be indented with the lines around it."""
    return [line.removeprefix("    ") for line in comment(text)]


# -- the parameters ------------------------------------------------------------------------------


def _filled(first: int, count: int, shape: tuple[int, ...]) -> str:
    names = f'[params[f"w{{n}}"] for n in range({first}, {first + count})]'
    return f"np.array({names}).reshape{shape}"


def _arrays(spec: NetworkSpec) -> list[str]:
    """Each layer's weights as arrays filled in numbering order, and its biases as a vector."""
    numbering = Numbering(spec)
    if spec.steps is None:
        order = (
            "a kernel K[f, c, a, b] filter by filter, channel by channel, row by row; "
            "W[j, k] (input k into neuron j) row by row."
        )
    else:
        order = "W[j, k] (input k into neuron j) and U[j, m] (h_m of the step before into neuron j) row by row."
    lines = ["", *comment(f"Each layer's parameters as arrays, filled in the order they are numbered: {order}")]
    for L, layer in enumerate(spec.layers):
        first = numbering.weights[L]
        if layer.kind == "conv2d":
            shape = (layer.size, *layer.in_shape[:1], *layer.window)  # type: ignore[index, misc]
            lines.append(f"    {var('K', layer)} = {_filled(first, layer.n_weights, shape)}")
        elif layer.kind == "recurrent":
            inputs = layer.size * layer.fan_in
            lines.append(f"    {var('W', layer)} = {_filled(first, inputs, (layer.size, layer.fan_in))}")
            lines.append(f"    {var('U', layer)} = {_filled(first + inputs, layer.size**2, (layer.size, layer.size))}")
        elif layer.kind == "dense":
            lines.append(f"    {var('W', layer)} = {_filled(first, layer.n_weights, (layer.size, layer.fan_in))}")
        if layer.kind not in _POOLS:
            lines.append(_biases(layer, numbering.biases[L]))
    return lines


def _biases(layer: LayerSpec, first: int) -> str:
    what = "filter" if layer.kind == "conv2d" else "neuron"
    if layer.shared_bias:
        return f'    {var("b", layer)} = np.full({layer.size}, params["b{first}"])  # one bias shared by every {what}'
    names = f'[params[f"b{{n}}"] for n in range({first}, {first + layer.size})]'
    return f"    {var('b', layer)} = np.array({names})  # one per {what}"


def _weight_arrays(layer: LayerSpec) -> list[str]:
    """The names of a layer's weight arrays, in numbering order."""
    if layer.kind == "conv2d":
        return ["K"]
    if layer.kind == "recurrent":
        return ["W", "U"]
    return ["W"] if layer.kind == "dense" else []


def _zero_gradients(spec: NetworkSpec) -> list[str]:
    lines = ["", "    # The gradients, added up over the examples (and over every position or time step)."]
    for layer in spec.layers:
        for array in _weight_arrays(layer):
            lines.append(f"    {var('d' + array, layer)} = np.zeros_like({var(array, layer)})")
        if layer.kind not in _POOLS:
            size = 1 if layer.shared_bias else layer.size
            lines.append(f"    {var('db', layer)} = np.zeros({size})")
    return lines


def _bias_gradient(layer: LayerSpec, delta: str) -> str:
    """∂E/∂b adds δ: one entry per neuron or filter (a map's δ summed over its positions), or one shared."""
    if layer.shared_bias:
        return f"{var('db', layer)} += {delta}.sum()  # one bias, shared: every δ adds to it"
    if layer.kind == "conv2d":
        return f"{var('db', layer)} += {delta}.sum(axis=(1, 2))  # b_f acts at every position of map f"
    return f"{var('db', layer)} += {delta}"


def _numbered(spec: NetworkSpec) -> list[str]:
    """The gradients back under the numbered names: the weight arrays in order, then the biases."""
    weights = ", ".join(
        f"{var('d' + array, layer)}.ravel()" for layer in spec.layers for array in _weight_arrays(layer)
    )
    biases = ", ".join(var("db", layer) for layer in spec.layers if layer.kind not in _POOLS)
    return [
        "",
        "    # Back to the numbered names: the weight arrays as filled, layer by layer, then the biases.",
        f"    weights = np.concatenate([{weights}])",
        f"    biases = np.concatenate([{biases}])",
        '    gradients = {f"w{n}": float(g) for n, g in enumerate(weights, start=1)}',
        '    gradients.update({f"b{n}": float(g) for n, g in enumerate(biases, start=1)})',
        *backward.weight_decay(spec),
        "    return float(loss), gradients",
    ]


# -- the dense layers at the top -----------------------------------------------------------------


def _activate(spec: NetworkSpec, layer: LayerSpec, net: str, out: str, *, output: bool) -> list[str]:
    """out = f(net), rounded as by hand when the file asks and the layer is not the output."""
    lines = [f"{out} = {layer.activation}({net}{constant(layer)})"]
    if spec.round_activations is not None and not output:
        lines.append(f"{out} = round_half_up({out}, ROUND_ACTIVATIONS)  # the next layer sees these")
    return lines


def _dense_forward(spec: NetworkSpec, first: int, source: str) -> list[str]:
    """net = W @ x + b and out = f(net) for the dense layers from ``first`` to the output."""
    lines = []
    for L in range(first, len(spec.layers)):
        layer = spec.layers[L]
        fed = source if L == first else var("out", spec.layers[L - 1])
        net, out = var("net", layer), var("out", layer)
        lines.append(f"{net} = {var('W', layer)} @ {fed} + {var('b', layer)}")
        lines += _activate(spec, layer, net, out, output=L == len(spec.layers) - 1)
    output = var("out", spec.layers[-1])
    return [*lines, f"loss += scale * {spec.loss}(t, {output})"]


def _output_delta(spec: NetworkSpec) -> list[str]:
    """δ of the output layer, as the fully connected module writes it (one example: vectors)."""
    return [line.removeprefix("    ") for line in backward.output_delta(spec)]


def _dense_backward(spec: NetworkSpec, first: int, source: str) -> list[str]:
    """From the output layer down to layer ``first``: the gradients, then ∂E/∂out of the layer below."""
    lines = _output_delta(spec)
    for L in reversed(range(first, len(spec.layers))):
        layer = spec.layers[L]
        fed = source if L == first else var("out", spec.layers[L - 1])
        delta = var("delta", layer)
        lines.append(f"{var('dW', layer)} += np.outer({delta}, {fed})")
        lines.append(_bias_gradient(layer, delta))
        if L > first:
            below = spec.layers[L - 1]
            lines.append(f"{var('dE_dout', below)} = {var('W', layer)}.T @ {delta}")
            lines.append(_delta_line(below))
    return lines


def _delta_line(layer: LayerSpec) -> str:
    """δ = ∂E/∂out · ∂out/∂net, the slope of the layer's activation."""
    return (
        f"{var('delta', layer)} = {var('dE_dout', layer)}"
        f" * {layer.activation}_slope({var('net', layer)}, {var('out', layer)}{constant(layer)})"
    )


# -- an image network ----------------------------------------------------------------------------


def _image_example(spec: NetworkSpec) -> list[str]:
    """One example through the maps and the dense layers, and back."""
    channels, rows, columns = spec.layers[0].in_shape  # type: ignore[misc]
    top = next(L for L, layer in enumerate(spec.layers) if layer.kind == "dense")
    flat = f"{var('out', spec.layers[top - 1])}.ravel()"
    lines = [
        f"x = np.array(inputs, dtype=float).reshape({channels}, {rows}, {columns})  # channels, rows, columns",
        "t = np.array(targets, dtype=float)",
        "",
        "# Forward pass: the maps layer by layer, then the dense layers on them flattened",
        "# (channel by channel, row by row).",
    ]
    for L in range(top):
        lines += _map_forward(spec, L)
    lines += _dense_forward(spec, top, flat)
    lines += [
        "",
        "# Backward pass: δ = ∂E/∂net, the output layer first; a kernel's gradient adds one term",
        "# per position of its map, and pooling passes ∂E/∂out back to the values it read.",
        *_dense_backward(spec, top, flat),
        f"{var('dE_dout', spec.layers[top - 1])} = ({var('W', spec.layers[top])}.T @ {var('delta', spec.layers[top])})"
        f".reshape({var('out', spec.layers[top - 1])}.shape)",
    ]
    for L in reversed(range(top)):
        lines += _map_backward(spec, L)
    return _indented(lines, 8)


def _map_source(spec: NetworkSpec, L: int) -> str:
    return "x" if L == 0 else var("out", spec.layers[L - 1])


def _map_forward(spec: NetworkSpec, L: int) -> list[str]:
    layer, source = spec.layers[L], _map_source(spec, L)
    if layer.kind in _POOLS:
        call = f"{_POOL_FUNCTION[layer.kind]}({source}, size={layer.window[0]}, stride={layer.stride})"  # type: ignore[index]
        lines = [f"{var('out', layer)} = {call}"]
        if spec.round_activations is not None:
            lines.append(f"{var('out', layer)} = round_half_up({var('out', layer)}, ROUND_ACTIVATIONS)")
        return lines
    net = var("net", layer)
    call = f"conv2d({source}, {var('K', layer)}, {var('b', layer)}, stride={layer.stride}, padding={layer.padding})"
    return [f"{net} = {call}", *_activate(spec, layer, net, var("out", layer), output=False)]


def _map_backward(spec: NetworkSpec, L: int) -> list[str]:
    """A map layer's gradients from ∂E/∂out, then ∂E/∂out of the layer below (none below the first)."""
    layer, source = spec.layers[L], _map_source(spec, L)
    d_out = var("dE_dout", layer)
    if layer.kind in _POOLS:
        if L == 0:
            return []
        below = spec.layers[L - 1]
        call = (
            f"{_POOL_FUNCTION[layer.kind]}_backward({source}, {d_out}, size={layer.window[0]}, stride={layer.stride})"  # type: ignore[index]
        )
        return [f"{var('dE_dout', below)} = {call}", *([] if below.kind in _POOLS else [_delta_line(below)])]
    delta = var("delta", layer)
    settings = f"stride={layer.stride}, padding={layer.padding}"
    lines = []
    lines.append(f"{var('dK', layer)} += kernel_gradient({source}, {delta}, {var('K', layer)}, {settings})")
    lines.append(_bias_gradient(layer, delta))
    if L > 0:
        below = spec.layers[L - 1]
        call = f"conv2d_backward({delta}, {var('K', layer)}, {source}.shape, {settings})"
        lines.append(f"{var('dE_dout', below)} = {call}")
        if below.kind not in _POOLS:
            lines.append(_delta_line(below))
    return lines


# -- a recurrent network -------------------------------------------------------------------------


def _sequence_example(spec: NetworkSpec) -> list[str]:
    """The recurrence forward, the layers above at the steps with targets, then backpropagation through time."""
    hidden = spec.layers[0]
    n, width = hidden.size, hidden.fan_in
    net, out, d_out = var("net", hidden), var("out", hidden), var("dE_dout", hidden)
    initial = (
        f"{out}[0] = INITIAL_STATE  # h_0, as the file gives it"
        if hidden.initial_state is not None
        else f"# {out}[0] = h_0 stays zero"
    )
    slope = f"{hidden.activation}_slope({net}[s], {out}[s]{constant(hidden)})"
    lines = [
        "steps = len(inputs)",
        "# Row s holds step s = 1 … steps; row 0 of out is h_0 (and of x, unused).",
        f"x = np.vstack([np.zeros({width}), np.array(inputs, dtype=float)])",
        f"{net} = np.zeros((steps + 1, {n}))",
        f"{out} = np.zeros((steps + 1, {n}))",
        initial,
        "",
        f"# Forward through time: net_s = {var('W', hidden)} @ x_s + {var('U', hidden)} @ h_(s-1) "
        f"+ {var('b', hidden)}, h_s = {hidden.activation}(net_s).",
        "for s in range(1, steps + 1):",
        f"    {net}[s] = {var('W', hidden)} @ x[s] + {var('U', hidden)} @ {out}[s - 1] + {var('b', hidden)}",
        *_indented(_activate(spec, hidden, f"{net}[s]", f"{out}[s]", output=len(spec.layers) == 1), 4),
        "",
        *_targets(spec),
        "",
        *_comment(
            "Backpropagation through time, from the last step: δ_s = (∂E/∂h_s from the layers above "
            f"+ {var('U', hidden)}ᵀ δ_(s+1)) ⊙ f′(net_s). W, U and b act at every step, so each "
            "gradient adds one term per step."
        ),
        f"delta_after = np.zeros({n})  # δ_(steps+1): no step comes after the last",
        "for s in range(steps, 0, -1):",
        "    # ∂E/∂h_s: from the layers above at step s, and through U from step s + 1",
        f"    dE_dh = {d_out}[s] + {var('U', hidden)}.T @ delta_after",
        f"    {var('delta', hidden)} = dE_dh * {slope}",
        f"    {var('dW', hidden)} += np.outer({var('delta', hidden)}, x[s])",
        f"    {var('dU', hidden)} += np.outer({var('delta', hidden)}, {out}[s - 1])",
        f"    {_bias_gradient(hidden, var('delta', hidden))}",
        f"    delta_after = {var('delta', hidden)}",
    ]
    return _indented(lines, 8)


def _targets(spec: NetworkSpec) -> list[str]:
    """The layers above the recurrence at each step with a target: forward, the loss, and back to h_s."""
    hidden = spec.layers[0]
    d_out = var("dE_dout", hidden)
    n_out = spec.layers[-1].size
    body: list[str]
    if len(spec.layers) == 1:  # the hidden state is the output
        body = [
            f"loss += scale * {spec.loss}(t, {var('out', hidden)}[s])",
            f"{d_out}[s] = scale * {spec.loss}_slope(t, {var('out', hidden)}[s])",
        ]
    else:
        source = f"{var('out', hidden)}[s]"
        above = spec.layers[1]
        body = [*_dense_forward(spec, 1, source), *_dense_backward(spec, 1, source)]
        body.append(f"{d_out}[s] = {var('W', above)}.T @ {var('delta', above)}")
    above = " and ".join(layer.name for layer in spec.layers[1:])
    # where the error is taken: the output layer above, or the recurrent state itself
    where = (
        f"forward through {above}, the error at {spec.layers[-1].name}," if above else f"{hidden.name} is the output:"
    )
    lines = [
        "# ∂E/∂h_s that reaches h_s from the layers above, step by step",
        f"{d_out} = np.zeros((steps + 1, {hidden.size}))",
    ]
    if spec.every_step:
        return [
            *lines,
            f"# Every step has targets: at each step, {where} and δ back to h_s.",
            f"targets_at = np.vstack([np.zeros({n_out}), np.array(targets, dtype=float)])",
            "for s in range(1, steps + 1):",
            "    t = targets_at[s]",
            *_indented(body, 4),
        ]
    return [
        *lines,
        f"# The targets are at the last step only: there, {where} and δ back to h_s.",
        "s = steps",
        "t = np.array(targets, dtype=float)",
        *body,
    ]


def initial_state(spec: NetworkSpec) -> list[str]:
    """The constant INITIAL_STATE, when the file gives h_0."""
    state = spec.layers[0].initial_state
    if spec.steps is None or state is None:
        return []
    return [f"INITIAL_STATE = np.array([{', '.join(number(v) for v in state)}])  # h_0 of the recurrent layer"]
