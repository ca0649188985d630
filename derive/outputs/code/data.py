"""The data written into the module: the parameters, the examples and the training constants."""

from __future__ import annotations

from derive.outputs.code.names import epochs, number
from derive.spec.model import NetworkSpec

_TYPES = ["Parameters = dict[str, float]", "Example = tuple[list[float], list[float]]  # (inputs, targets)"]


def data(spec: NetworkSpec) -> str:
    """The type aliases, PARAMETERS, EXAMPLES, the training constants and PREVIOUS_UPDATE if any."""
    lines = [*_TYPES, "", *_parameters(spec), "", *_examples(spec), "", *_constants(spec)]
    if spec.momentum:
        lines += ["", *_previous_update(spec)]
    return "\n".join(lines) + "\n"


def _parameters(spec: NetworkSpec) -> list[str]:
    lines = ["# The weights and biases, by their numbered names.", "PARAMETERS: Parameters = {"]
    lines += [f'    "{name}": {number(value)},' for name, value in spec.parameters().items()]
    return [*lines, "}"]


def _examples(spec: NetworkSpec) -> list[str]:
    lines = ["# The training examples: (inputs, targets).", "EXAMPLES: list[Example] = ["]
    for example in spec.examples:
        inputs = ", ".join(number(x) for x in example.inputs)
        targets = ", ".join(number(t) for t in example.targets)
        lines.append(f"    ([{inputs}], [{targets}]),")
    return [*lines, "]"]


def _constants(spec: NetworkSpec) -> list[str]:
    """LEARNING_RATE and TRAIN_BIASES, then only the options this network sets."""
    lines = [f"LEARNING_RATE = {number(spec.learning_rate)}"]
    if spec.train_biases:
        lines.append("TRAIN_BIASES = True  # step() updates the biases as well as the weights")
    else:
        lines.append("TRAIN_BIASES = False  # step() leaves the biases as they are")
    if spec.round_activations is not None:
        lines.append(f"ROUND_ACTIVATIONS = {int(spec.round_activations)}  # decimals kept of each hidden output")
    if spec.weight_decay:
        lines.append(f"WEIGHT_DECAY = {number(spec.weight_decay)}  # λ: each step descends E_total + (λ/2)·Σ w²")
    if spec.momentum:
        lines.append(f"MOMENTUM = {number(spec.momentum)}  # β: Δθ ← β·Δθ - η·∂E/∂θ, θ ← θ + Δθ")
    if epochs(spec):
        lines.append(f"BATCH_SIZE = {spec.batch}  # examples per update")
        if spec.shuffle is None:
            lines.append("SHUFFLE = None  # file order every epoch")
        else:
            lines.append(f"SHUFFLE = {spec.shuffle}  # seed of each epoch's order")
    return lines


def _previous_update(spec: NetworkSpec) -> list[str]:
    lines = ["# Δθ of the update before the first one (0 where not given).", "PREVIOUS_UPDATE: Parameters = {"]
    lines += [f'    "{name}": {number(value)},' for name, value in spec.previous_changes().items()]
    return [*lines, "}"]
