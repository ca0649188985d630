"""The rest of ``loss_and_gradients``: δ layer by layer, the gradients, and their numbered names."""

from __future__ import annotations

import sympy as sp

from derive.core.rules import softmax_cross_entropy_delta
from derive.outputs.code.names import comment, constant, printed, softmax_cross_entropy, source, var
from derive.spec.model import NetworkSpec


def backward_pass(spec: NetworkSpec) -> list[str]:
    """δ = ∂E_total/∂net for every layer, the output layer first."""
    lines = ["", "    # Backward pass: δ = ∂E_total/∂net for every neuron, output layer first."]
    lines += output_delta(spec)
    for L in reversed(range(len(spec.layers) - 1)):
        lines += _hidden_delta(spec, L)
    return lines


# softmax with cross-entropy's δ (derive.core.rules): the module's arrays for out, t and Σ_k t_k
_OUT, _TARGET, _TOTAL = _SOFTMAX = sp.symbols("out t total")
_SOFTMAX_NAMES = {_TARGET: "t", _TOTAL: "t.sum(axis=0, keepdims=True)"}


def output_delta(spec: NetworkSpec) -> list[str]:
    """δ of the output layer: from the loss's slope and the activation's (or softmax's Jacobian)."""
    output = spec.layers[-1]
    net, out, delta = var("net", output), var("out", output), var("delta", output)
    if softmax_cross_entropy(spec):
        return [
            *comment(
                f"Layer {output.name}, softmax with cross-entropy: ∂E/∂out_k = -t_k/out_k and the softmax "
                "Jacobian out_k·([k = j] - out_j) multiply out to δ_j = out_j·Σ_k t_k - t_j "
                "(out_j - t_j when the targets add up to one)."
            ),
            f"    {delta} = scale * ({printed(softmax_cross_entropy_delta(*_SOFTMAX), {**_SOFTMAX_NAMES, _OUT: out})})",
        ]
    if output.activation == "softmax":
        return [
            *comment(f"Layer {output.name}: ∂E_total/∂out from the loss, then through the softmax Jacobian."),
            f"    dE_dout = scale * {spec.loss}_slope(t, {out})",
            f"    {delta} = softmax_delta({out}, dE_dout)",
        ]
    return [
        *comment(f"Layer {output.name}: δ = ∂E_total/∂out · ∂out/∂net, the loss's slope times the activation's."),
        f"    {delta} = scale * {spec.loss}_slope(t, {out})"
        f" * {output.activation}_slope({net}, {out}{constant(output)})",
    ]


def _hidden_delta(spec: NetworkSpec, L: int) -> list[str]:
    """δ of hidden layer ``L`` = (Wᵀ @ δ of the layer above) · the slope of its activation."""
    layer, above = spec.layers[L], spec.layers[L + 1]
    here, there = layer.name, above.name
    return [
        *comment(
            f"Layer {here}: ∂E_total/∂out_{here} = {var('W', above)}ᵀ @ {var('delta', above)}, the sum over every "
            f"path through layer {there} (∂net_{there}/∂out_{here} is the weight), times ∂out_{here}/∂net_{here}, "
            f"the slope of {layer.activation}."
        ),
        f"    {var('delta', layer)} = ({var('W', above)}.T @ {var('delta', above)})"
        f" * {layer.activation}_slope({var('net', layer)}, {var('out', layer)}{constant(layer)})",
    ]


def gradients(spec: NetworkSpec) -> list[str]:
    """∂E_total/∂W = δ @ inputᵀ and ∂E_total/∂b = Σ δ over the examples, layer by layer."""
    lines = [
        "",
        "    # Gradients: ∂net_j/∂w_jk = x_k, so ∂E_total/∂w_jk = Σ over the examples of δ_j·x_k;",
        "    # ∂net_j/∂b_j = 1, so ∂E_total/∂b_j = Σ δ_j (and a shared bias adds up its neurons' δ).",
    ]
    for L, layer in enumerate(spec.layers):
        delta = var("delta", layer)
        lines.append(f"    {var('dW', layer)} = {delta} @ {source(spec, L)}.T")
        if layer.shared_bias:
            lines.append(f"    {var('db', layer)} = np.array([{delta}.sum()])  # shared: all neurons of {layer.name}")
        else:
            lines.append(f"    {var('db', layer)} = {delta}.sum(axis=1)")
    return lines


def numbered(spec: NetworkSpec) -> list[str]:
    """The gradients back under the numbered names: the weights row by row, layer by layer, then the biases."""
    weights = ", ".join(f"{var('dW', layer)}.ravel()" for layer in spec.layers)
    biases = ", ".join(var("db", layer) for layer in spec.layers)
    return [
        "",
        "    # Back to the numbered names: the weights row by row, layer by layer, then the biases.",
        f"    weights = np.concatenate([{weights}])",
        f"    biases = np.concatenate([{biases}])",
        '    gradients = {f"w{n}": float(g) for n, g in enumerate(weights, start=1)}',
        '    gradients.update({f"b{n}": float(g) for n, g in enumerate(biases, start=1)})',
    ]


def weight_decay(spec: NetworkSpec) -> list[str]:
    """With weight decay λ, each weight's gradient gains λ·w (the gradient of (λ/2)·Σ w²); else nothing."""
    if not spec.weight_decay:
        return []
    return [
        "",
        "    # Weight decay: the step descends E_total + (λ/2)·Σ w² over the weights, so every",
        "    # weight's gradient gains λ·w (the biases' do not); the loss returned is E_total.",
        "    for name, value in params.items():",
        '        if name.startswith("w"):',
        "            gradients[name] += WEIGHT_DECAY * value",
    ]
