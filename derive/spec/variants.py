"""Per-student variants: the same network with its own random starting values.

Values have two decimals, drawn from ranges that keep the hand arithmetic reasonable (weights,
biases and inputs from 0.05 to 0.95; targets from 0.01 to 0.99, or one class for softmax with
cross-entropy). The same seed always gives the same variants.
"""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

from derive.spec.model import ExampleSpec, NetworkSpec

MAX_VARIANTS = 200  # students of one seed: `--variants N`, `--variant K`, a class file's variant column


def _two_decimals(rng: random.Random, low: int, high: int) -> Fraction:
    return Fraction(rng.randint(low, high), 100)


def variant(spec: NetworkSpec, seed: int, number: int) -> NetworkSpec:
    """Variant ``number`` (1-based) of ``spec`` for ``seed``."""
    rng = random.Random(f"derive-variant:{seed}:{number}")  # a string seed hashes stably across runs
    values = {name: _two_decimals(rng, 5, 95) for name in spec.parameter_names()}
    one_hot = spec.loss == "cross_entropy" or spec.layers[-1].activation == "softmax"
    examples = []
    for example in spec.examples:
        inputs = tuple(_two_decimals(rng, 5, 95) for _ in example.inputs)
        if one_hot:
            winner = rng.randrange(len(example.targets))
            targets = tuple(Fraction(int(k == winner)) for k in range(len(example.targets)))
        else:
            targets = tuple(_two_decimals(rng, 1, 99) for _ in example.targets)
        examples.append(ExampleSpec(inputs, targets))
    return replace(spec.with_parameters(values), examples=tuple(examples), name=f"{spec.name}-{number:02d}")
