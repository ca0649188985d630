"""Gradient descent over many updates: the 40-digit updates, a float engine and a matrix engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from derive.spec.model import NetworkSpec

# parameters × examples from which an update is computed in floats (:mod:`derive.training.floats`):
# the 40-digit derivation of 50,000 parameters takes about 4 s and 240 MiB on one example, and
# grows with the examples
FLOAT_FROM = 200_000


def in_floats(spec: NetworkSpec) -> bool:
    """Whether an update of ``spec`` is computed in floats: large, and no hand rounding to mimic.

    Here rather than in the float engine, so that deciding costs no NumPy import.
    """
    parameters = len(spec.parameter_names())
    return parameters * len(spec.examples) >= FLOAT_FROM and spec.round_activations is None
