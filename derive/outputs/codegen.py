"""A network's backpropagation as a standalone, readable NumPy module (``derive code``).

The module computes the same E_total and ∂E_total/∂θ as the engine, written the way a textbook
vectorises it: one weight matrix per layer, one column per example, δ = ∂E_total/∂net passed back
layer by layer.  Nothing typed by a user reaches the source except numbers, printed by
``repr(float(...))``, and names matching ``[A-Za-z][A-Za-z0-9_]*``; the activation and loss names
only select fragments written here.  The text depends on the network alone, so it is reproducible.
"""

from __future__ import annotations

import re
import textwrap
from fractions import Fraction
from typing import Any

from derive.core.functions import ACTIVATIONS
from derive.errors import DeriveError
from derive.spec.model import LayerSpec, NetworkSpec

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MAX_TITLE = 64
# Larger matrices are described by their range of names rather than drawn in the docstring.
_MAX_DRAWN_ROWS = 8
_MAX_DRAWN_COLUMNS = 6
_MAX_LISTED_NEURONS = 6

# Each activation: its function and the slope ∂out/∂net in terms of net and out (softmax has no
# elementwise slope: its outputs are coupled, see _SOFTMAX_DELTA).
_ACTIVATION_CODE = {
    "sigmoid": '''
def sigmoid(net: np.ndarray) -> np.ndarray:
    """σ(net) = 1 / (1 + e^(-net))."""
    return 1.0 / (1.0 + np.exp(-net))


def sigmoid_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = σ(net)·(1 - σ(net)) = out·(1 - out), written with the output."""
    return out * (1.0 - out)
''',
    "tanh": '''
def tanh(net: np.ndarray) -> np.ndarray:
    """tanh(net) = (e^net - e^(-net)) / (e^net + e^(-net))."""
    return np.tanh(net)


def tanh_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 - tanh(net)² = 1 - out², written with the output."""
    return 1.0 - out**2
''',
    "relu": '''
def relu(net: np.ndarray) -> np.ndarray:
    """ReLU(net) = net where net > 0, else 0."""
    return np.where(net > 0, net, 0.0)


def relu_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else 0 (0 at the kink net = 0)."""
    return np.where(net > 0, 1.0, 0.0)
''',
    "linear": '''
def linear(net: np.ndarray) -> np.ndarray:
    """The identity: out = net."""
    return net


def linear_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1."""
    return np.ones_like(net)
''',
    "leaky_relu": '''
def leaky_relu(net: np.ndarray, slope: float) -> np.ndarray:
    """Leaky ReLU(net) = net where net > 0, else slope·net (the slope below zero: 0.01 by default)."""
    return np.where(net > 0, net, slope * net)


def leaky_relu_slope(net: np.ndarray, out: np.ndarray, slope: float) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else the slope below zero (taken at the kink net = 0)."""
    return np.where(net > 0, 1.0, slope)
''',
    "softplus": '''
def softplus(net: np.ndarray) -> np.ndarray:
    """softplus(net) = log(1 + e^net), as np.logaddexp(0, net) so that e^net cannot overflow."""
    return np.logaddexp(0.0, net)


def softplus_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = e^net / (1 + e^net) = 1 / (1 + e^(-net)): the logistic function of net."""
    return 1.0 / (1.0 + np.exp(-net))
''',
    "elu": '''
def elu(net: np.ndarray) -> np.ndarray:
    """ELU(net) = net where net > 0, else e^net - 1 (α = 1); the minimum keeps e^net finite."""
    return np.where(net > 0, net, np.expm1(np.minimum(net, 0.0)))


def elu_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else e^net = out + 1, written with the output."""
    return np.where(net > 0, 1.0, out + 1.0)
''',
    "softmax": '''
def softmax(net: np.ndarray) -> np.ndarray:
    """out_j = e^net_j / Σ_k e^net_k in each column (example).

    Shifting every net by the column's largest leaves the quotient unchanged and keeps each
    exponential from overflowing.
    """
    exps = np.exp(net - net.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)
''',
}

_SOFTMAX_DELTA = '''
def softmax_delta(out: np.ndarray, dE_dout: np.ndarray) -> np.ndarray:
    """δ = ∂E/∂net through softmax, from g = ∂E/∂out, one column per example.

    Every output depends on every net input of the layer: the Jacobian is
    J[k, j] = ∂out_k/∂net_j = out_k·([k = j] - out_j), i.e. J = diag(out) - out·outᵀ.
    δ = Jᵀ·g = out·(g - Σ_k g_k·out_k), computed without building the n×n matrix.
    """
    return out * (dE_dout - np.sum(dE_dout * out, axis=0, keepdims=True))
'''

# Each loss: E of one example summed over its outputs (one column per example, so np.sum adds
# the examples too), and ∂E/∂out.  mse divides by n, the number of outputs (rows).
_LOSS_CODE = {
    "half_sse": (
        '''
def half_sse(targets: np.ndarray, out: np.ndarray) -> float:
    """E = ½ Σ_o (t_o - out_o)², added up over the examples (columns)."""
    return 0.5 * float(np.sum((targets - out) ** 2))
''',
        '''
def half_sse_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(t_o - out_o): the power rule, then the inner derivative -1."""
    return -(targets - out)
''',
    ),
    "mse": (
        '''
def mse(targets: np.ndarray, out: np.ndarray) -> float:
    """E = (1/n) Σ_o (t_o - out_o)² over the n outputs, added up over the examples."""
    return float(np.sum((targets - out) ** 2)) / out.shape[0]
''',
        '''
def mse_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(2/n)·(t_o - out_o)."""
    return -2.0 / out.shape[0] * (targets - out)
''',
    ),
    "bce": (
        '''
def bce(targets: np.ndarray, out: np.ndarray) -> float:
    """E = -Σ_o [t_o·log(out_o) + (1 - t_o)·log(1 - out_o)], added up over the examples."""
    return -float(np.sum(targets * np.log(out) + (1.0 - targets) * np.log(1.0 - out)))
''',
        '''
def bce_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(t_o/out_o - (1 - t_o)/(1 - out_o))."""
    return -(targets / out - (1.0 - targets) / (1.0 - out))
''',
    ),
    "cross_entropy": (
        '''
def cross_entropy(targets: np.ndarray, out: np.ndarray) -> float:
    """E = -Σ_o t_o·log(out_o), added up over the examples."""
    return -float(np.sum(targets * np.log(out)))
''',
        '''
def cross_entropy_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -t_o/out_o."""
    return -targets / out
''',
    ),
}

_LOSS_FORMULA = {
    "half_sse": "E = ½ Σ_o (t_o - out_o)²",
    "mse": "E = (1/n) Σ_o (t_o - out_o)², n = {n} outputs",
    "bce": "E = -Σ_o [t_o·log(out_o) + (1 - t_o)·log(1 - out_o)]",
    "cross_entropy": "E = -Σ_o t_o·log(out_o)",
}

_ROUNDING_CODE = '''
def round_half_up(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round as done by hand, halves away from zero (0.59327 → 0.5933)."""
    scale = 10.0**decimals
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale
'''

_PARAMETERS_CODE = '''
def with_defaults(params: Parameters | None) -> Parameters:
    """PARAMETERS, with the values in ``params`` replacing theirs; an unknown name is an error."""
    if params is None:
        return dict(PARAMETERS)
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise KeyError(f"unknown parameters: {', '.join(unknown)}")
    return {**PARAMETERS, **{name: float(value) for name, value in params.items()}}
'''


def module_source(network: Any) -> str:
    """The text of a standalone NumPy module computing ``network``'s loss and gradients.

    The module defines ``PARAMETERS``, ``EXAMPLES``, ``LEARNING_RATE``, ``TRAIN_BIASES``,
    ``loss_and_gradients(params=None, examples=None) -> (loss, {"w1": …, "b1": …})`` and
    ``step(params=None, examples=None, learning_rate=LEARNING_RATE) -> new parameters``.
    """
    spec = network if isinstance(network, NetworkSpec) else getattr(network, "spec", None)  # a Network
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"expected a Network or a NetworkSpec, got {type(network).__name__}")
    # a spec built by hand skips the loader's checks: only known words may become code
    for layer in spec.layers:
        if not _NAME.fullmatch(layer.name):
            raise DeriveError(f"layer name {layer.name!r} is not an identifier; it cannot name a variable")
        if layer.activation not in _ACTIVATION_CODE:
            raise DeriveError(f"unknown activation {layer.activation!r}")
    if spec.loss not in _LOSS_CODE or spec.reduction not in ("sum", "mean"):
        raise DeriveError(f"unknown loss {spec.loss!r} or reduction {spec.reduction!r}")
    imports = "import random\n\nimport numpy as np" if _epochs(spec) else "import numpy as np"
    header = [_docstring(spec), f"from __future__ import annotations\n\n{imports}", _data(spec)]
    definitions = [*_helpers(spec), _loss_and_gradients(spec), _step(spec), _main()]
    # the layout ruff format gives: one blank line in the header, two around definitions
    text = "\n\n".join(block.strip("\n") for block in header)
    return text + "\n\n\n" + "\n\n\n".join(block.strip("\n") for block in definitions) + "\n"


# ---------------------------------------------------------------------------------------------
# Numbers and names: the only things that come from the spec


def _number(value: Fraction | int) -> str:
    """A float literal: repr of the nearest double, never text from the user's file."""
    return repr(float(value))


def _title(spec: NetworkSpec) -> str:
    name = spec.name
    if _NAME.fullmatch(name) and len(name) <= _MAX_TITLE:
        return f"Backpropagation for the network {name}, written out with NumPy."
    return "Backpropagation for a small network, written out with NumPy."


def _comment(text: str) -> list[str]:
    """A comment inside a function, wrapped to ruff's default line length."""
    return textwrap.wrap(text, width=88, initial_indent="    # ", subsequent_indent="    # ", break_long_words=False)


def _constant(layer: LayerSpec) -> str:
    """The activation's constant as a last argument (``, 0.01`` for leaky ReLU), or nothing."""
    activation = ACTIVATIONS[layer.activation]
    if activation.constant is None:
        return ""
    value = layer.negative_slope if layer.negative_slope is not None else activation.default
    return f", {_number(value)}"  # type: ignore[arg-type]


def _var(prefix: str, layer: LayerSpec) -> str:
    """A layer's variable: ``W_h``, ``net_h``, ``delta_h``…; distinct layers give distinct names."""
    return f"{prefix}_{layer.name}"


class _Numbering:
    """Where each layer's weights and biases start in the w1, w2, …, b1, b2, … numbering."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.weights: list[int] = []
        self.biases: list[int] = []
        weight, bias = 1, 1
        for layer in spec.layers:
            self.weights.append(weight)
            self.biases.append(bias)
            weight += layer.size * layer.fan_in
            bias += 1 if layer.shared_bias else layer.size


# ---------------------------------------------------------------------------------------------
# The docstring


def _docstring(spec: NetworkSpec) -> str:
    shape = " → ".join(
        [f"{spec.n_inputs} input{'s' if spec.n_inputs > 1 else ''}"]
        + [f"{layer.size} {layer.activation} ({layer.name})" for layer in spec.layers]
    )
    n_examples = len(spec.examples)
    examples = f"{n_examples} example{'s' if n_examples > 1 else ''}"
    reduction = (
        f"summed over the {examples} (reduction sum)"
        if spec.reduction == "sum"
        else f"averaged over the {examples} (reduction mean)"
    )
    loss = _LOSS_FORMULA[spec.loss].format(n=spec.n_outputs)
    biases = "biases are trained too" if spec.train_biases else "biases are kept fixed (train_biases false)"
    lines = [
        f'"""{_title(spec)}',
        "",
        "Generated by `derive code`. loss_and_gradients() runs the examples forward through the",
        "network and the chain rule backward: it returns the loss E_total and ∂E_total/∂θ for every",
        "weight and bias θ. step() takes one step of gradient descent, θ ← θ - η·∂E_total/∂θ.",
        "",
        f"Network:  {shape}",
        f"Loss:     {spec.loss}, {loss}",
        f"          E_total is E {reduction}",
        f"Training: learning rate η = {_number(spec.learning_rate)}; {biases}",
    ]
    if spec.round_activations is not None:
        lines.append(f"Rounding: hidden outputs are rounded to {int(spec.round_activations)} decimals, as by hand")
    lines += [
        "",
        "Parameters are numbered as derive numbers them: the weights w1, w2, … layer by layer,",
        "neuron by neuron, input by input; then the biases b1, b2, …, one per layer when the layer",
        "shares its bias, else one per neuron. W[j, k] is the weight from input k into neuron j,",
        "so each layer computes net = W @ x + b and out = f(net).",
    ]
    numbering = _Numbering(spec)
    for L, layer in enumerate(spec.layers):
        source = "the inputs" if L == 0 else spec.layers[L - 1].name
        lines += ["", f"    Layer {layer.name}: {layer.size} {layer.activation} {_neurons(layer)}, fed by {source}"]
        lines += _weights_picture(layer, numbering.weights[L])
        lines.append(_biases_description(layer, numbering.biases[L]))
    lines += [
        "",
        "Use it as a script (python this_file.py prints the loss and the gradients) or import it:",
        "",
        "    loss, gradients = loss_and_gradients()             # at PARAMETERS and EXAMPLES",
        '    loss, gradients = loss_and_gradients({"w1": 0.5})  # other values for some parameters',
        "    parameters = step()                                # the parameters after one step",
        '"""',
    ]
    return "\n".join(lines) + "\n"


def _neurons(layer: LayerSpec) -> str:
    kind = "neuron" if layer.size == 1 else "neurons"
    if layer.size <= _MAX_LISTED_NEURONS:
        return f"{kind} " + ", ".join(layer.neuron_name(j) for j in range(layer.size))
    return f"{kind} {layer.neuron_name(0)} … {layer.neuron_name(layer.size - 1)}"


def _weights_picture(layer: LayerSpec, first: int) -> list[str]:
    """``W_h = [[w1, w2], [w3, w4]]`` drawn as a matrix, or its range of names when large."""
    name = _var("W", layer)
    last = first + layer.size * layer.fan_in - 1
    if layer.size > _MAX_DRAWN_ROWS or layer.fan_in > _MAX_DRAWN_COLUMNS:
        return [f"        {name} = w{first} … w{last}, {layer.size}×{layer.fan_in}, filled row by row"]
    width = len(f"w{last}")
    rows = [
        ", ".join(f"w{first + j * layer.fan_in + k}".ljust(width) for k in range(layer.fan_in)).rstrip()
        for j in range(layer.size)
    ]
    lead = f"        {name} = ["
    lines = []
    for j, row in enumerate(rows):
        start = lead if j == 0 else " " * len(lead)
        end = "]]" if j == len(rows) - 1 else "],"
        lines.append(f"{start}[{row}{end}")
    return lines


def _biases_description(layer: LayerSpec, first: int) -> str:
    name = _var("b", layer)
    if layer.shared_bias:
        neurons = {1: "its neuron", 2: "both neurons"}.get(layer.size, f"all {layer.size} neurons")
        return f"        {name} = b{first}, one bias shared by {neurons}"
    if layer.size <= _MAX_DRAWN_ROWS:
        return f"        {name} = [{', '.join(f'b{first + j}' for j in range(layer.size))}], one per neuron"
    return f"        {name} = b{first} … b{first + layer.size - 1}, one per neuron"


# ---------------------------------------------------------------------------------------------
# The data and the helper functions


def _data(spec: NetworkSpec) -> str:
    lines = ["Parameters = dict[str, float]", "Example = tuple[list[float], list[float]]  # (inputs, targets)", ""]
    lines.append("# The weights and biases, by their numbered names.")
    lines.append("PARAMETERS: Parameters = {")
    lines += [f'    "{name}": {_number(value)},' for name, value in spec.parameters().items()]
    lines += ["}", "", "# The training examples: (inputs, targets).", "EXAMPLES: list[Example] = ["]
    for example in spec.examples:
        inputs = ", ".join(_number(x) for x in example.inputs)
        targets = ", ".join(_number(t) for t in example.targets)
        lines.append(f"    ([{inputs}], [{targets}]),")
    lines += ["]", "", f"LEARNING_RATE = {_number(spec.learning_rate)}"]
    if spec.train_biases:
        lines.append("TRAIN_BIASES = True  # step() updates the biases as well as the weights")
    else:
        lines.append("TRAIN_BIASES = False  # step() leaves the biases as they are")
    if spec.round_activations is not None:
        lines.append(f"ROUND_ACTIVATIONS = {int(spec.round_activations)}  # decimals kept of each hidden output")
    if spec.weight_decay:
        lines.append(f"WEIGHT_DECAY = {_number(spec.weight_decay)}  # λ: each step descends E_total + (λ/2)·Σ w²")
    if spec.momentum:
        lines.append(f"MOMENTUM = {_number(spec.momentum)}  # β: Δθ ← β·Δθ - η·∂E/∂θ, θ ← θ + Δθ")
    if _epochs(spec):
        lines.append(f"BATCH_SIZE = {spec.batch}  # examples per update")
        if spec.shuffle is None:
            lines.append("SHUFFLE = None  # file order every epoch")
        else:
            lines.append(f"SHUFFLE = {spec.shuffle}  # seed of each epoch's order")
    if spec.momentum:
        lines += ["", "# Δθ of the update before the first one (0 where not given).", "PREVIOUS_UPDATE: Parameters = {"]
        lines += [f'    "{name}": {_number(value)},' for name, value in spec.previous_changes().items()]
        lines.append("}")
    return "\n".join(lines) + "\n"


def _epochs(spec: NetworkSpec) -> bool:
    """Whether the module trains by epochs (``train()``): online, mini-batches, shuffling or momentum."""
    return spec.batch_size is not None or spec.shuffle is not None or bool(spec.momentum)


def _softmax_cross_entropy(spec: NetworkSpec) -> bool:
    return spec.layers[-1].activation == "softmax" and spec.loss == "cross_entropy"


def _helpers(spec: NetworkSpec) -> list[str]:
    """Only the activations, slopes and losses this network uses, in a fixed order."""
    used = {layer.activation for layer in spec.layers}
    helpers = [_PARAMETERS_CODE]
    if spec.round_activations is not None and len(spec.layers) > 1:
        helpers.append(_ROUNDING_CODE)
    helpers += [_ACTIVATION_CODE[name] for name in _ACTIVATION_CODE if name in used]
    if spec.layers[-1].activation == "softmax" and not _softmax_cross_entropy(spec):
        helpers.append(_SOFTMAX_DELTA)
    error, slope = _LOSS_CODE[spec.loss]
    helpers.append(error)
    if not _softmax_cross_entropy(spec):
        helpers.append(slope)
    return helpers


# ---------------------------------------------------------------------------------------------
# loss_and_gradients, step and the script


def _loss_and_gradients(spec: NetworkSpec) -> str:
    numbering = _Numbering(spec)
    layers = spec.layers
    last = len(layers) - 1
    scale = (
        "scale = 1.0  # reduction sum: E_total adds up the examples' errors"
        if spec.reduction == "sum"
        else "scale = 1.0 / len(examples)  # reduction mean: E_total averages the examples' errors"
    )
    body = [
        "def loss_and_gradients(",
        "    params: Parameters | None = None, examples: list[Example] | None = None",
        ") -> tuple[float, Parameters]:",
        '    """E_total and ∂E_total/∂θ for every weight and bias θ, by backpropagation.',
        "",
        "    params: values by name (w1, …, b1, …); names left out keep their PARAMETERS value.",
        "    examples: (inputs, targets) pairs, EXAMPLES by default.",
        '    """',
        "    params = with_defaults(params)",
        "    examples = EXAMPLES if examples is None else examples",
        "    # One column per example: x is inputs × examples, t is outputs × examples.",
        "    x = np.array([inputs for inputs, _ in examples], dtype=float).T",
        "    t = np.array([targets for _, targets in examples], dtype=float).T",
        f"    {scale}",
        "",
        "    # Each layer's weights as a matrix, W[j, k] from input k into neuron j (filled row by",
        "    # row, as numbered), and its biases as a column added to every example.",
    ]
    for L, layer in enumerate(layers):
        first, count = numbering.weights[L], layer.size * layer.fan_in
        names = f'[params[f"w{{n}}"] for n in range({first}, {first + count})]'
        body.append(f"    {_var('W', layer)} = np.array({names}).reshape({layer.size}, {layer.fan_in})")
        bias = numbering.biases[L]
        if layer.shared_bias:
            body.append(f'    {_var("b", layer)} = np.full(({layer.size}, 1), params["b{bias}"])  # one shared bias')
        else:
            names = f'[params[f"b{{n}}"] for n in range({bias}, {bias + layer.size})]'
            body.append(f"    {_var('b', layer)} = np.array({names}).reshape({layer.size}, 1)")

    body += ["", "    # Forward pass: net = W @ x + b (the weighted sum), then out = f(net)."]
    for L, layer in enumerate(layers):
        source = "x" if L == 0 else _var("out", layers[L - 1])
        net, out = _var("net", layer), _var("out", layer)
        body.append(f"    {net} = {_var('W', layer)} @ {source} + {_var('b', layer)}")
        body.append(f"    {out} = {layer.activation}({net}{_constant(layer)})")
        if spec.round_activations is not None and L != last:
            body.append(f"    {out} = round_half_up({out}, ROUND_ACTIVATIONS)  # the next layer sees these")
    output = layers[-1]
    body.append(f"    loss = scale * {spec.loss}(t, {_var('out', output)})")

    body += ["", "    # Backward pass: δ = ∂E_total/∂net for every neuron, output layer first."]
    body += _output_delta(spec)
    for L in reversed(range(last)):
        layer, above = layers[L], layers[L + 1]
        here, there = layer.name, above.name
        body += _comment(
            f"Layer {here}: ∂E_total/∂out_{here} = {_var('W', above)}ᵀ @ {_var('delta', above)}, the sum over every "
            f"path through layer {there} (∂net_{there}/∂out_{here} is the weight), times ∂out_{here}/∂net_{here}, "
            f"the slope of {layer.activation}."
        )
        body += [
            f"    {_var('delta', layer)} = ({_var('W', above)}.T @ {_var('delta', above)})"
            f" * {layer.activation}_slope({_var('net', layer)}, {_var('out', layer)}{_constant(layer)})",
        ]

    body += [
        "",
        "    # Gradients: ∂net_j/∂w_jk = x_k, so ∂E_total/∂w_jk = Σ over the examples of δ_j·x_k;",
        "    # ∂net_j/∂b_j = 1, so ∂E_total/∂b_j = Σ δ_j (and a shared bias adds up its neurons' δ).",
    ]
    for L, layer in enumerate(layers):
        source = "x" if L == 0 else _var("out", layers[L - 1])
        delta = _var("delta", layer)
        body.append(f"    {_var('dW', layer)} = {delta} @ {source}.T")
        if layer.shared_bias:
            body.append(f"    {_var('db', layer)} = np.array([{delta}.sum()])  # shared: all neurons of {layer.name}")
        else:
            body.append(f"    {_var('db', layer)} = {delta}.sum(axis=1)")

    weights = ", ".join(f"{_var('dW', layer)}.ravel()" for layer in layers)
    biases = ", ".join(_var("db", layer) for layer in layers)
    body += [
        "",
        "    # Back to the numbered names: the weights row by row, layer by layer, then the biases.",
        f"    weights = np.concatenate([{weights}])",
        f"    biases = np.concatenate([{biases}])",
        '    gradients = {f"w{n}": float(g) for n, g in enumerate(weights, start=1)}',
        '    gradients.update({f"b{n}": float(g) for n, g in enumerate(biases, start=1)})',
    ]
    if spec.weight_decay:
        body += [
            "",
            "    # Weight decay: the step descends E_total + (λ/2)·Σ w² over the weights, so every",
            "    # weight's gradient gains λ·w (the biases' do not); the loss returned is E_total.",
            "    for name, value in params.items():",
            '        if name.startswith("w"):',
            "            gradients[name] += WEIGHT_DECAY * value",
        ]
    body.append("    return float(loss), gradients")
    return "\n".join(body) + "\n"


def _output_delta(spec: NetworkSpec) -> list[str]:
    """δ of the output layer: from the loss's slope and the activation's (or softmax's Jacobian)."""
    output = spec.layers[-1]
    net, out, delta = _var("net", output), _var("out", output), _var("delta", output)
    if _softmax_cross_entropy(spec):
        return [
            *_comment(
                f"Layer {output.name}, softmax with cross-entropy: ∂E/∂out_k = -t_k/out_k and the softmax "
                "Jacobian out_k·([k = j] - out_j) multiply out to δ_j = out_j·Σ_k t_k - t_j "
                "(out_j - t_j when the targets add up to one)."
            ),
            f"    {delta} = scale * ({out} * t.sum(axis=0, keepdims=True) - t)",
        ]
    if output.activation == "softmax":
        return [
            *_comment(f"Layer {output.name}: ∂E_total/∂out from the loss, then through the softmax Jacobian."),
            f"    dE_dout = scale * {spec.loss}_slope(t, {out})",
            f"    {delta} = softmax_delta({out}, dE_dout)",
        ]
    return [
        *_comment(f"Layer {output.name}: δ = ∂E_total/∂out · ∂out/∂net, the loss's slope times the activation's."),
        f"    {delta} = scale * {spec.loss}_slope(t, {out})"
        f" * {output.activation}_slope({net}, {out}{_constant(output)})",
    ]


def _step(spec: NetworkSpec) -> str:
    rule = (
        "every weight and bias takes the step."
        if spec.train_biases
        else "the weights take the step; the biases keep their values (TRAIN_BIASES is False)."
    )
    if spec.momentum:
        return _momentum_step(rule) + _train(spec)
    plain = f'''
def step(
    params: Parameters | None = None,
    examples: list[Example] | None = None,
    learning_rate: float = LEARNING_RATE,
) -> Parameters:
    """The parameters after one step of gradient descent, θ ← θ - η·∂E_total/∂θ.

    The update is simultaneous: every gradient comes from the same forward pass, and
    {rule}
    """
    params = with_defaults(params)
    _, gradients = loss_and_gradients(params, examples)
    updated = {{}}
    for name, value in params.items():
        if name.startswith("w") or TRAIN_BIASES:
            updated[name] = value - learning_rate * gradients[name]
        else:
            updated[name] = value  # a bias, kept fixed
    return updated
'''
    return plain + (_train(spec) if _epochs(spec) else "")


def _momentum_step(rule: str) -> str:
    return f'''
def step(
    params: Parameters | None = None,
    examples: list[Example] | None = None,
    learning_rate: float = LEARNING_RATE,
    previous: Parameters | None = None,
) -> tuple[Parameters, Parameters]:
    """One step of gradient descent with momentum: the parameters after it, and each Δθ.

    Δθ ← β·Δθ - η·∂E_total/∂θ and θ ← θ + Δθ, with β = MOMENTUM and the Δθ before this step
    from ``previous`` (PREVIOUS_UPDATE by default). The update is simultaneous: every gradient
    comes from the same forward pass, and {rule}
    """
    params = with_defaults(params)
    previous = dict(PREVIOUS_UPDATE) if previous is None else previous
    _, gradients = loss_and_gradients(params, examples)
    updated, changes = {{}}, {{}}
    for name, value in params.items():
        if name.startswith("w") or TRAIN_BIASES:
            changes[name] = MOMENTUM * previous[name] - learning_rate * gradients[name]
        else:
            changes[name] = 0.0  # a bias, kept fixed
        updated[name] = value + changes[name]
    return updated, changes
'''


def _train(spec: NetworkSpec) -> str:
    """``epoch_batches()`` and ``train()``: epochs of updates, each on its batch, as ``derive train`` runs them."""
    update = "params = step(params, batch)"
    if spec.momentum:
        update = "params, previous = step(params, batch, previous=previous)"
    previous = "\n    previous = dict(PREVIOUS_UPDATE)" if spec.momentum else ""
    return f'''

def epoch_batches(epoch: int) -> list[list[int]]:
    """The examples of each update of epoch ``epoch`` (1-based): runs of BATCH_SIZE in its order.

    The order is the file's, or with SHUFFLE a fresh one for every epoch, drawn as derive draws it.
    """
    order = list(range(len(EXAMPLES)))
    if SHUFFLE is not None and BATCH_SIZE < len(EXAMPLES):
        random.Random(f"derive-shuffle:{{SHUFFLE}}:{{epoch}}").shuffle(order)
    return [
        order[start : start + BATCH_SIZE] for start in range(0, len(order), BATCH_SIZE)
    ]


def train(
    epochs: int, params: Parameters | None = None
) -> tuple[Parameters, list[float]]:
    """``epochs`` passes over the examples, one update per batch: the parameters, and the history.

    The history holds E_total over all the examples before the first update and after each.
    """
    params = with_defaults(params){previous}
    history = [loss_and_gradients(params)[0]]
    for epoch in range(1, epochs + 1):
        for indices in epoch_batches(epoch):
            batch = [EXAMPLES[i] for i in indices]
            {update}
            history.append(loss_and_gradients(params)[0])
    return params, history
'''


def _main() -> str:
    return """
if __name__ == "__main__":
    loss, gradients = loss_and_gradients()
    print(f"E_total = {loss!r}")
    for name, gradient in gradients.items():
        print(f"dE_total/d{name} = {gradient!r}")
"""
