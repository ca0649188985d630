"""The start of ``loss_and_gradients``: the examples as columns, each layer's W and b, the forward pass."""

from __future__ import annotations

from derive.outputs.code.names import Numbering, constant, source, var
from derive.spec.model import LayerSpec, NetworkSpec

SIGNATURE = [
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
]
_COLUMNS = [
    "    # One column per example: x is inputs × examples, t is outputs × examples.",
    "    x = np.array([inputs for inputs, _ in examples], dtype=float).T",
    "    t = np.array([targets for _, targets in examples], dtype=float).T",
]


def inputs(spec: NetworkSpec) -> list[str]:
    """The signature and docstring, then x and t (one column per example) and the reduction's scale."""
    scale = (
        "scale = 1.0  # reduction sum: E_total adds up the examples' errors"
        if spec.reduction == "sum"
        else "scale = 1.0 / len(examples)  # reduction mean: E_total averages the examples' errors"
    )
    return [*SIGNATURE, *_COLUMNS, f"    {scale}"]


def matrices(spec: NetworkSpec) -> list[str]:
    """Each layer's W (row by row, as numbered) and b (a column added to every example)."""
    numbering = Numbering(spec)
    lines = [
        "",
        "    # Each layer's weights as a matrix, W[j, k] from input k into neuron j (filled row by",
        "    # row, as numbered), and its biases as a column added to every example.",
    ]
    for L, layer in enumerate(spec.layers):
        first, count = numbering.weights[L], layer.size * layer.fan_in
        names = f'[params[f"w{{n}}"] for n in range({first}, {first + count})]'
        lines.append(f"    {var('W', layer)} = np.array({names}).reshape({layer.size}, {layer.fan_in})")
        lines.append(_biases(layer, numbering.biases[L]))
    return lines


def _biases(layer: LayerSpec, first: int) -> str:
    if layer.shared_bias:
        return f'    {var("b", layer)} = np.full(({layer.size}, 1), params["b{first}"])  # one shared bias'
    names = f'[params[f"b{{n}}"] for n in range({first}, {first + layer.size})]'
    return f"    {var('b', layer)} = np.array({names}).reshape({layer.size}, 1)"


def forward_pass(spec: NetworkSpec) -> list[str]:
    """net = W @ x + b and out = f(net), layer by layer (hidden outputs rounded if asked), then the loss."""
    last = len(spec.layers) - 1
    lines = ["", "    # Forward pass: net = W @ x + b (the weighted sum), then out = f(net)."]
    for L, layer in enumerate(spec.layers):
        net, out = var("net", layer), var("out", layer)
        lines.append(f"    {net} = {var('W', layer)} @ {source(spec, L)} + {var('b', layer)}")
        lines.append(f"    {out} = {layer.activation}({net}{constant(layer)})")
        if spec.round_activations is not None and L != last:
            lines.append(f"    {out} = round_half_up({out}, ROUND_ACTIVATIONS)  # the next layer sees these")
    lines.append(f"    loss = scale * {spec.loss}(t, {var('out', spec.layers[-1])})")
    return lines
