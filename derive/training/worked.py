"""Which update a command, a document or the API works: one decision, made in one place.

With batch training (the default) it is the one update on all the examples.  Online
(``batch_size = 1``) or with mini-batches it is the first batch's update of the first epoch, or
the update whose batch holds example P (``--example P``), worked from the weights the earlier
updates left and, with momentum, from the Δθ of the update before it.  Every command that states
a number of "the update" (gradients, keys, explain, worksheet, slides, html, quiz, check) and
``Network.step()`` / ``Network.steps()`` call :func:`worked`; training's first update is the same
one by construction (:func:`derive.training.descent.update_spec` of update 1 is the file's spec
on its first batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from derive.core.chain import Derivation, Update, check_update
from derive.errors import DeriveError
from derive.spec.model import NetworkSpec
from derive.training.descent import update_spec


@dataclass(frozen=True)
class Worked:
    """The update worked: its number in the first epoch, its batch, and its derivation."""

    network: NetworkSpec  # the whole network, every example
    number: int  # the update of the first epoch, from 1
    order: Update = "simultaneous"

    @property
    def batch(self) -> tuple[int, ...]:
        """The examples of this update, as indices into the network's examples (file order from 0)."""
        return tuple(self.network.batches(1)[self.number - 1])

    @property
    def kind(self) -> str:
        """``batch`` (every example at once), ``online`` (one example) or ``minibatch``."""
        if self.network.updates_per_epoch == 1:
            return "batch"
        return "online" if self.network.batch == 1 else "minibatch"

    @cached_property
    def spec(self) -> NetworkSpec:
        """The spec whose derivation is this update: its batch, and the parameters it starts from."""
        return update_spec(self.network, self.number, 1, self.order)

    @cached_property
    def derivation(self) -> Derivation:
        return Derivation(self.spec, self.order)

    def example_numbers(self) -> list[int] | None:
        """The examples of this update by their number in the file (from 1); None with batch training."""
        return None if self.kind == "batch" else [index + 1 for index in self.batch]


def worked(spec: NetworkSpec, example: int | None = None, order: Update = "simultaneous") -> Worked:
    """The update worked on ``spec``: the first, or (online and mini-batch) the one holding ``example``."""
    check_update(order)
    return Worked(spec, 1 if example is None else update_of_example(spec, example), order)


def update_of_example(spec: NetworkSpec, example: int) -> int:
    """The update of the first epoch whose batch holds example ``example`` (1-based, file order)."""
    if isinstance(example, bool) or not isinstance(example, int) or not 1 <= example <= len(spec.examples):
        raise DeriveError(f"expected an example from 1 to {len(spec.examples)}, got {example!r}", key="--example")
    if spec.updates_per_epoch == 1:
        raise DeriveError(
            "every update uses every example here (batch training); --example chooses the update of one example "
            "when batch_size is smaller than the number of examples",
            key="--example",
        )
    return next(u for u, batch in enumerate(spec.batches(1), 1) if example - 1 in batch)
