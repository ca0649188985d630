"""Gradient descent over many updates, on the step function generated from the chain.

One **update** (a step) changes the parameters once, from the gradient of one batch of examples:
all of them by default, one at a time (online) with ``batch_size = 1``, or mini-batches of k in
order (reshuffled every epoch with ``shuffle = S``).  One **epoch** is one pass over the
examples.  With momentum β, Δθ ← β·Δθ − η·∂E/∂θ and θ ← θ + Δθ; with weight decay λ each
update descends E + (λ/2)·Σ w².

The loop runs in floating point, on code generated from the chain: plain floats for small updates
(:mod:`derive.training.compiled`), NumPy matrices for larger ones (:mod:`derive.training.vectorised`).  The history
records E_total over all the examples before training and after every update, every entry from the
same float path; :meth:`Run.precise_loss` gives the last at 40 digits, for the documents that show it.
:func:`precise_updates` and :func:`update_spec` give the same updates at 40 digits, one derivation
each, for the documents and the tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

from derive.core.chain import Derivation, Update, check_update
from derive.core.forward import total_loss
from derive.core.numbers import Number, to_fraction
from derive.errors import DeriveError
from derive.spec.model import NetworkSpec
from derive.training import in_floats
from derive.training.compiled import FloatTraining, structure
from derive.training.unrolled import UnrolledTraining

if TYPE_CHECKING:
    from derive.training.vectorised import MatrixTraining

Progress = Callable[[int, int], None]
MAX_UPDATES = 10_000_000


@dataclass(frozen=True)
class StopPoint:
    """Where training reached its error goal: epoch and update within it (0, 0: before training)."""

    epoch: int
    update: int
    step: int  # updates done in all
    loss: float


@dataclass(frozen=True)
class Run:
    """E_total before training and after every update, and the network the updates left.

    With momentum the network carries the last Δθ as its ``previous_update``, so that training
    it further continues where this run stopped.  ``stopped_at`` is set when ``goal`` was reached.
    The trained network (:attr:`spec`, exact fractions) is built when first asked for: training
    itself ends on floats.
    """

    history: list[float]
    start: NetworkSpec
    parameters: tuple[float, ...]  # every weight and bias the updates left, in numbering order
    velocity: tuple[float, ...] | None = None  # with momentum, the last Δθ of each
    updates_per_epoch: int = 1
    goal: float | None = None
    stopped_at: StopPoint | None = None

    @cached_property
    def spec(self) -> NetworkSpec:
        """The trained network: the start's, with the parameters reached and, with momentum, their last Δθ."""
        trained = self.start.with_float_parameters(self.parameters)
        if self.velocity is None:
            return trained
        names = self.start.parameter_names()
        return _with_changes(trained, dict(zip(names, map(Fraction, self.velocity), strict=True)))

    def precise_loss(self) -> float:
        """E_total over all the examples after the last update, at 40 digits (a forward pass of :attr:`spec`);
        in floats for a network too large for that."""
        return final_loss(self.spec)

    def shown_history(self) -> list[float]:
        """The history with its last E_total from :meth:`precise_loss`, as the documents show it."""
        return [*self.history[:-1], self.precise_loss()]

    @property
    def steps(self) -> int:
        """The updates made."""
        return len(self.history) - 1

    @property
    def epochs(self) -> int:
        """The epochs begun: the last one may be partial when training stopped within it."""
        return -(-self.steps // self.updates_per_epoch)

    def position(self, step: int) -> tuple[int, int]:
        """Update number ``step`` (1-based) as (epoch, update within the epoch); (0, 0) for step 0."""
        if step == 0:
            return 0, 0
        return (step - 1) // self.updates_per_epoch + 1, (step - 1) % self.updates_per_epoch + 1


def planned_updates(spec: NetworkSpec, steps: int | None, epochs: int | None) -> int:
    """How many updates ``steps`` updates or ``epochs`` epochs make: exactly one of them is given."""
    if (steps is None) == (epochs is None):
        raise DeriveError("give the number of steps or of epochs (one of them, not both)", key="steps")
    count, key = (steps, "steps") if steps is not None else (epochs, "epochs")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise DeriveError(f"expected a whole number of {key}, 0 or more, got {count!r}", key=key)
    total = count if steps is not None else count * spec.updates_per_epoch
    if total > MAX_UPDATES:
        raise DeriveError(f"expected at most {MAX_UPDATES:,} updates in all, got {total:,}", key=key)
    return total


def check_goal(until: float | None) -> None:
    if until is not None and (isinstance(until, bool) or not isinstance(until, int | float) or not until > 0):
        raise DeriveError(f"expected an error goal above 0, got {until!r}", key="until")
    if until is not None and not math.isfinite(until):
        raise DeriveError(f"expected a finite error goal, got {until!r}", key="until")


def train(
    spec: NetworkSpec,
    steps: int | None = None,
    update: Update = "simultaneous",
    progress: Progress | None = None,
    *,
    epochs: int | None = None,
    until: float | None = None,
    matrices: bool | None = None,
) -> Run:
    """``steps`` updates (or ``epochs`` passes over the examples) of gradient descent.

    With ``until``, training stops as soon as E_total over all the examples is at most that
    goal.  ``progress(done, total)`` is called about 200 times along the way.  ``matrices``
    chooses the generated code: NumPy matrices (True) or plain floats (False); by default the
    faster for the network's size (see :func:`uses_matrices`).
    """
    check_update(update)
    total = planned_updates(spec, steps, epochs)
    check_goal(until)
    loop = _Loop(spec, update, until, uses_matrices(spec) if matrices is None else matrices)
    chunk = max(1, total // 200) if progress else max(1, total)
    while loop.done < total and loop.stopped_at is None:
        loop.run(min(chunk, total - loop.done))
        if progress:
            progress(loop.done, total)
    return loop.finish()


# Measured (benchmarks/run.py, the "train path" rows): an update on plain floats costs about its
# multiply-adds (weights × examples in the batch), one on matrices about NumPy's overhead per
# call, a few calls per layer. Matrices win from about 64 multiply-adds per layer.
MATRICES_FROM = 64


def uses_matrices(spec: NetworkSpec) -> bool:
    """Whether training runs on NumPy matrices rather than plain floats: enough work per layer."""
    if not spec.dense:
        return False  # an unrolled network trains stage by stage (derive.training.unrolled)
    weights = sum(layer.size * layer.fan_in for layer in spec.layers)
    return weights * spec.batch >= MATRICES_FROM * len(spec.layers)


class _Loop:
    """The training loop: the generated code for each batch, the history, the goal, divergence."""

    def __init__(self, spec: NetworkSpec, update: Update, until: float | None, matrices: bool) -> None:
        self.spec = spec
        self.goal = until
        self.engine: FloatTraining | MatrixTraining | UnrolledTraining
        if not spec.dense:
            if update != "simultaneous":
                raise DeriveError(
                    "the sequential update order is defined for fully connected layers only", key="--update"
                )
            self.engine = UnrolledTraining(spec)
        elif matrices:
            from derive.training.vectorised import MatrixTraining  # NumPy: imported only for the networks that use it

            self.engine = MatrixTraining(spec, update, structure(spec, examples=False))
        else:
            self.engine = FloatTraining(spec, update)
        self.full_batch = spec.updates_per_epoch == 1
        self.history: list[float] = []
        self.done = 0
        self.stopped_at: StopPoint | None = None
        self.epoch, self.epoch_batches = 0, spec.batches(1)
        if not self.full_batch:  # the history starts from the loss before any update
            self.history.append(self.engine.loss())
            self._check_goal()

    def _check_goal(self) -> None:
        if self.goal is not None and self.history and self.history[-1] <= self.goal:
            epoch, update = (0, 0) if not self.done else _position(self.done, self.spec.updates_per_epoch)
            self.stopped_at = StopPoint(epoch, update, self.done, self.history[-1])

    def run(self, count: int) -> None:
        """``count`` more updates, or fewer if the goal is reached; divergence is a clear error."""
        self._guarded(lambda: self._updates(count))

    def _updates(self, count: int) -> None:
        if self.full_batch:  # each update's forward pass gives E_total before it: the history comes free
            goal = -math.inf if self.goal is None else self.goal
            self.done += self.engine.steps(count, self.history, goal)
            self._check_goal()
        else:
            self._batches(count)

    def _guarded(self, work: Callable[[], None]) -> None:
        """``work`` (which extends the history); a value out of a float's range or domain is a clear error."""
        start = len(self.history)
        try:
            work()
        except OverflowError:
            raise _diverged(len(self.history) + self.full_batch, "a value grew too large for a float") from None
        except (ZeroDivisionError, ValueError):
            raise _diverged(len(self.history) + self.full_batch, "a value left the domain of its function") from None
        # checked once a chunk, so that the loop itself stays as fast as the generated step
        if not all(map(math.isfinite, self.history[start:])) or not self.engine.finite():
            first = next((n for n, value in enumerate(self.history[start:], start) if not math.isfinite(value)), None)
            step = first + (1 if self.full_batch else 0) if first is not None else self.done
            raise _diverged(step, "the values are no longer finite")

    def _batches(self, count: int) -> None:
        """Each update on its batch, then E_total over all the examples at the parameters it left."""
        for _ in range(count):
            epoch, update = _position(self.done + 1, self.spec.updates_per_epoch)
            if self.epoch != epoch:
                self.epoch, self.epoch_batches = epoch, self.spec.batches(epoch)
            self.engine.update(self.epoch_batches[update - 1])
            self.done += 1
            self.history.append(self.engine.loss())
            self._check_goal()
            if self.stopped_at is not None:
                return

    def finish(self) -> Run:
        """The run: with batch training unstopped, E_total after the last update from one more forward pass."""
        if self.full_batch and self.stopped_at is None:
            self._guarded(lambda: self.history.append(self.engine.loss()))
        parameters, velocity = self.engine.parameters(), self.engine.velocity()
        per_epoch = self.spec.updates_per_epoch
        return Run(self.history, self.spec, parameters, velocity, per_epoch, self.goal, self.stopped_at)


def final_loss(trained: NetworkSpec) -> float:
    """E_total at the parameters reached: at 40 digits, or in floats for a network too large for that."""
    if not in_floats(trained):
        return float(total_loss(trained))
    from derive.training.floats import float_loss  # NumPy: imported only for the networks that use it

    return float_loss(trained)


def _position(step: int, per_epoch: int) -> tuple[int, int]:
    return (step - 1) // per_epoch + 1, (step - 1) % per_epoch + 1


def _with_changes(spec: NetworkSpec, changes: dict[str, Fraction]) -> NetworkSpec:
    """The spec carrying the last Δθ of every trained parameter as its ``previous_update``."""
    trained = [name for name in spec.parameter_names() if name.startswith("w") or spec.train_biases]
    return replace(spec, previous_update=tuple((name, changes[name]) for name in trained))


def _diverged(step: int, reason: str) -> DeriveError:
    return DeriveError(f"training diverged at step {step} ({reason}); try a smaller learning_rate")


# ---------------------------------------------------------------------------------------------
# The same updates at 40 digits


def precise_updates(spec: NetworkSpec, update: Update = "simultaneous") -> Iterator[Derivation]:
    """Every update of training at 40 digits, in order, without end: the derivation of each.

    Update u's derivation is built on :func:`update_spec`'s spec: that update's batch only, the
    weights the earlier updates left (their exact binary values) and, with momentum, their last Δθ.
    """
    check_update(update)
    current = spec
    for count in itertools.count(1):
        derivation = Derivation(current.on_batch(_batch(spec, count)), update)
        yield derivation
        current = after_update(current, derivation)


def after_update(spec: NetworkSpec, derivation: Derivation) -> NetworkSpec:
    """``spec`` (all its examples and options) with the parameters and Δθ an update left."""
    moved = spec.with_parameters({name: to_fraction(value) for name, value in derivation.updated.items()})
    if not spec.momentum:
        return moved
    return _with_changes(moved, {name: to_fraction(value) for name, value in derivation.changes.items()})


def loss_after_update(spec: NetworkSpec, update: Update = "simultaneous") -> Number:
    """E_total over ``spec``'s examples after one update of them in the given order, at 40 digits."""
    return total_loss(after_update(spec, Derivation(spec, update)))


def update_spec(spec: NetworkSpec, number: int = 1, epoch: int = 1, update: Update = "simultaneous") -> NetworkSpec:
    """The spec whose :class:`Derivation` is update ``number`` of epoch ``epoch`` (both 1-based).

    It holds only that update's batch of examples, the weights and biases the earlier updates
    left (computed at 40 digits) and, with momentum, the Δθ of the update before as its
    ``previous_update``.  With batch training (the default) update 1 of epoch 1 is ``spec``.

    >>> from derive.spec.checks import with_options
    >>> from derive.spec.files import load_builtin
    >>> online = with_options(load_builtin("xor"), batch_size=1)
    >>> second = update_spec(online, 2)
    >>> len(second.examples), second.examples[0] == online.examples[1], float(second.parameters()["w5"])
    (1, True, 0.6445591425311559)
    """
    check_update(update)
    per_epoch = spec.updates_per_epoch
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise DeriveError(f"expected an epoch from 1 on, got {epoch!r}", key="epoch")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= per_epoch:
        wanted = f"an update from 1 to {per_epoch} (the updates of an epoch)"
        raise DeriveError(f"expected {wanted}, got {number!r}", key="update")
    if per_epoch == 1 and epoch == 1:
        return spec
    current = spec
    for count in range(1, (epoch - 1) * per_epoch + number):  # the updates before it
        current = after_update(current, Derivation(current.on_batch(_batch(spec, count)), update))
    return current.on_batch(_batch(spec, (epoch - 1) * per_epoch + number))


def _batch(spec: NetworkSpec, count: int) -> tuple[int, ...]:
    """The examples of update number ``count`` (1-based, counted over all epochs)."""
    epoch, update = _position(count, spec.updates_per_epoch)
    return spec.batches(epoch)[update - 1]
