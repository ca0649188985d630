"""The data written into the module: the parameters, the examples and the training constants."""

from __future__ import annotations

from typing import Any

from derive.outputs.code.names import epochs, number
from derive.outputs.code.unrolled import initial_state
from derive.spec.model import NetworkSpec
from derive.spec.shaped import example_table

_TYPES = ["Parameters = dict[str, float]", "Example = tuple[list[float], list[float]]  # (inputs, targets)"]


def _types(spec: NetworkSpec) -> list[str]:
    """The aliases; an example of maps or of a sequence nests its lists as the file does."""
    if spec.dense:
        return _TYPES
    if spec.steps is None:
        channels = spec.layers[0].in_shape[0] > 1  # type: ignore[index]
        what = "an image, [channels][rows][columns]" if channels else "an image, [rows][columns]"
    else:
        what = "a vector per time step" + ("; targets too" if spec.every_step else "; targets: the last step's")
    return [_TYPES[0], f"# (inputs, targets): {what}", "Example = tuple[list, list]"]


def data(spec: NetworkSpec) -> str:
    """The type aliases, PARAMETERS, EXAMPLES, the training constants and PREVIOUS_UPDATE if any."""
    lines = [*_types(spec), "", *_parameters(spec), "", *_examples(spec), "", *_constants(spec)]
    if spec.momentum:
        lines += ["", *_previous_update(spec)]
    return "\n".join(lines) + "\n"


def _parameters(spec: NetworkSpec) -> list[str]:
    lines = ["# The weights and biases, by their numbered names.", "PARAMETERS: Parameters = {"]
    lines += [f'    "{name}": {number(value)},' for name, value in spec.parameters().items()]
    return [*lines, "}"]


def _examples(spec: NetworkSpec) -> list[str]:
    lines = ["# The training examples: (inputs, targets).", "EXAMPLES: list[Example] = ["]
    if not spec.dense:
        for example in spec.examples:
            table = example_table(spec, example)
            lines += _laid_out((table["inputs"], table["targets"]), 4)
        return [*lines, "]"]
    for example in spec.examples:
        inputs = ", ".join(number(x) for x in example.inputs)
        targets = ", ".join(number(t) for t in example.targets)
        lines.append(f"    ([{inputs}], [{targets}]),")
    return [*lines, "]"]


def _nested(values: Any) -> str:
    """Nested lists of numbers (a tuple in parentheses), each number printed by :func:`number`."""
    if isinstance(values, tuple):
        return "(" + ", ".join(_nested(value) for value in values) + ")"
    if isinstance(values, list):
        return "[" + ", ".join(_nested(value) for value in values) + "]"
    return number(values)


def _laid_out(values: Any, indent: int) -> list[str]:
    """``values`` and a comma on one line if it fits in 88 columns, else opened one item a line, as ruff formats it."""
    line = " " * indent + _nested(values) + ","
    if len(line) <= 88 or not isinstance(values, list | tuple):
        return [line]
    opening, closing = ("(", ")") if isinstance(values, tuple) else ("[", "]")
    inner = [text for value in values for text in _laid_out(value, indent + 4)]
    return [" " * indent + opening, *inner, " " * indent + closing + ","]


def _constants(spec: NetworkSpec) -> list[str]:
    """LEARNING_RATE and TRAIN_BIASES, then only the options this network sets."""
    lines = [*initial_state(spec), f"LEARNING_RATE = {number(spec.learning_rate)}"]
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
