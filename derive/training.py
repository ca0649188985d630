"""Gradient descent over many steps, on the step function generated from the chain.

The loop runs in floating point (:mod:`derive.compiled`); the error after the last step is
computed again by the 40-digit path, so that the history ends on the precise value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from derive.chain import Derivation, Update
from derive.compiled import compiled_step
from derive.errors import DeriveError
from derive.spec import UPDATE_ORDERS, NetworkSpec

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Run:
    """E_total before training and after every step, and the network the steps left."""

    history: list[float]
    spec: NetworkSpec


def check_update(update: str) -> None:
    if update not in UPDATE_ORDERS:
        expected = ", ".join(UPDATE_ORDERS)
        raise DeriveError(f"unknown update order {update!r} (expected one of: {expected})", key="update")


def train(spec: NetworkSpec, steps: int, update: Update = "simultaneous", progress: Progress | None = None) -> Run:
    """``steps`` steps of θ ← θ − η ∂E_total/∂θ; ``progress(done, steps)`` about 200 times along the way."""
    check_update(update)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise DeriveError(f"expected a whole number of steps, 0 or more, got {steps!r}", key="steps")
    step = compiled_step(spec, update)
    names = spec.parameter_names()
    params = tuple(float(value) for value in spec.parameters().values())
    examples = [([float(x) for x in e.inputs], [float(t) for t in e.targets]) for e in spec.examples]
    rate = float(spec.learning_rate)
    history: list[float] = []
    chunk = max(1, steps // 200) if progress else max(1, steps)
    while len(history) < steps:
        start = len(history)
        try:
            for _ in range(min(chunk, steps - start)):
                loss, params = step(params, examples, rate)
                history.append(loss)
        except OverflowError:
            raise _diverged(len(history) + 1, "a value grew too large for a float") from None
        except (ZeroDivisionError, ValueError):
            raise _diverged(len(history) + 1, "a value left the domain of its function") from None
        # checked once a chunk, so that the loop itself stays as fast as the generated step
        if not all(math.isfinite(value) for value in history[start:]) or not all(map(math.isfinite, params)):
            first = next((n for n, value in enumerate(history[start:], start) if not math.isfinite(value)), None)
            raise _diverged(first + 1 if first is not None else len(history), "the values are no longer finite")
        if progress:
            progress(len(history), steps)
    trained = spec.with_parameters({n: Fraction(v) for n, v in zip(names, params, strict=True)})
    history.append(float(Derivation(trained).loss))
    return Run(history, trained)


def _diverged(step: int, reason: str) -> DeriveError:
    return DeriveError(f"training diverged at step {step} ({reason}); try a smaller learning_rate")
