"""A network's backpropagation as a standalone, readable NumPy module (``derive code``).

The module computes the same E_total and ∂E_total/∂θ as the engine, written the way a textbook
vectorises it: one weight matrix per layer, one column per example, δ = ∂E_total/∂net passed back
layer by layer.  Nothing typed by a user reaches the source except numbers, printed by
``repr(float(...))``, and names matching ``[A-Za-z][A-Za-z0-9_]*``; the activation and loss
names only select entries of derive.core.functions' tables, printed as code.
The text depends on the network alone, so it is reproducible.

The parts: ``names`` (numbers, names, the numbering of θ), ``docstring``, ``data`` (PARAMETERS,
EXAMPLES, the constants), ``helpers`` (activations, slopes, losses), ``forward`` and ``backward``
(``loss_and_gradients``), ``training`` (``step``, ``train`` and the script).
"""

from __future__ import annotations

from typing import Any

from derive.core.functions import ACTIVATIONS, LOSSES
from derive.errors import DeriveError
from derive.outputs.code import backward, forward, unrolled
from derive.outputs.code.data import data
from derive.outputs.code.docstring import docstring
from derive.outputs.code.helpers import helpers
from derive.outputs.code.names import NAME, epochs
from derive.outputs.code.training import main, step
from derive.spec.model import NetworkSpec

__all__ = ["module_source"]


def module_source(network: Any) -> str:
    """The text of a standalone NumPy module computing ``network``'s loss and gradients.

    The module defines ``PARAMETERS``, ``EXAMPLES``, ``LEARNING_RATE``, ``TRAIN_BIASES``,
    ``loss_and_gradients(params=None, examples=None) -> (loss, {"w1": …, "b1": …})`` and
    ``step(params=None, examples=None, learning_rate=LEARNING_RATE) -> new parameters``.
    """
    spec = _spec_of(network)
    _check_words(spec)
    imports = "import random\n\nimport numpy as np" if epochs(spec) else "import numpy as np"
    header = [docstring(spec), f"from __future__ import annotations\n\n{imports}", data(spec)]
    definitions = [*helpers(spec), _loss_and_gradients(spec), step(spec), main()]
    # the layout ruff format gives: one blank line in the header, two around definitions
    text = "\n\n".join(block.strip("\n") for block in header)
    return text + "\n\n\n" + "\n\n\n".join(block.strip("\n") for block in definitions) + "\n"


def _spec_of(network: Any) -> NetworkSpec:
    """The spec of a Network, or the NetworkSpec itself."""
    spec = network if isinstance(network, NetworkSpec) else getattr(network, "spec", None)  # a Network
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"expected a Network or a NetworkSpec, got {type(network).__name__}")
    return spec


def _check_words(spec: NetworkSpec) -> None:
    """A spec built by hand skips the loader's checks: only known words may become code."""
    for layer in spec.layers:
        if not NAME.fullmatch(layer.name):
            raise DeriveError(f"layer name {layer.name!r} is not an identifier; it cannot name a variable")
        if layer.activation not in ACTIVATIONS:
            raise DeriveError(f"unknown activation {layer.activation!r}")
    if not spec.dense and spec.steps is None and spec.layers[-1].kind != "dense":
        raise DeriveError(
            "derive code needs a dense output layer after feature maps; the last layer is "
            f"{spec.layers[-1].kind} {spec.layers[-1].name!r}"
        )
    if spec.loss not in LOSSES or spec.reduction not in ("sum", "mean"):
        raise DeriveError(f"unknown loss {spec.loss!r} or reduction {spec.reduction!r}")


def _loss_and_gradients(spec: NetworkSpec) -> str:
    """``loss_and_gradients()``: the forward pass, δ back through the layers, the gradients by name."""
    if not spec.dense:
        return "\n".join(unrolled.loss_and_gradients(spec)) + "\n"
    body = [*forward.inputs(spec), *forward.matrices(spec), *forward.forward_pass(spec)]
    body += [*backward.backward_pass(spec), *backward.gradients(spec), *backward.numbered(spec)]
    body += [*backward.weight_decay(spec), "    return float(loss), gradients"]
    return "\n".join(body) + "\n"
