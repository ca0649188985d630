"""The derivation as data: for every weight and bias, the chain-rule terms and their factors.

A :class:`Derivation` composes the parts: the forward pass (:mod:`derive.core.forward`), the
backward pass with every δ, gradient and update (:mod:`derive.core.backward`), whose pieces are the
values of :mod:`derive.core.factors`, and the composed forms (:mod:`derive.core.composed`).
Net inputs, outputs and δ stay symbols in the chains; the composed form in the inputs, weights,
biases and targets is built only when asked (:attr:`Gradient.expr`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Literal, get_args

import mpmath
import sympy as sp

from derive.core.backward import BackwardPass, trainable
from derive.core.composed import Composition
from derive.core.factors import Delta, Gradient
from derive.core.forward import exact_parameters, feed_examples, named_parameters, reduce_loss, symbol_values
from derive.core.graph import Graph
from derive.core.numbers import Number, exact, full_precision
from derive.core.rules import rational
from derive.core.through import UnrolledBackward
from derive.core.unrolled import UnrolledGraph, feed_unrolled, unrolled_values
from derive.errors import DeriveError
from derive.spec.model import NetworkSpec

Update = Literal["simultaneous", "sequential"]
UPDATE_ORDERS: tuple[str, ...] = get_args(Update)


def check_update(update: str) -> None:
    """An update order is one of UPDATE_ORDERS: a misspelt one must not quietly mean another."""
    if update not in UPDATE_ORDERS:
        expected = ", ".join(UPDATE_ORDERS)
        raise DeriveError(f"unknown update order {update!r} (expected one of: {expected})", key="update")


def named_parameters_flat(spec: NetworkSpec) -> dict[str, Number]:
    """Each weight's and bias's value by its name, as high-precision numbers."""
    return {name: exact(value) for name, value in spec.parameters().items()}


class Derivation:
    """Every symbol's value, every δ, every gradient and the updated parameters of one update.

    The update uses every example the spec holds (``batch_size`` and ``shuffle`` are for
    training: ``derive.training.descent.update_spec`` gives the spec of each online or mini-batch
    update).  With ``update="sequential"`` the output layer is updated first and each hidden
    layer's δ is backpropagated through the already updated weights (w⁺) of the layer above it.

    Each parameter moves by ``changes[name]`` = Δθ = β·Δθ_previous − η·∂E/∂θ (β the momentum;
    ``previous_changes`` holds the Δθ_previous used: the file's ``previous_update``, else 0), so
    ``updated[name]`` = θ + Δθ; a fixed bias has Δθ = 0.  Without momentum Δθ = −η·∂E/∂θ.
    """

    def __init__(self, spec: NetworkSpec, update: Update = "simultaneous") -> None:
        check_update(update)
        self.spec = spec
        self.update = update
        # every intermediate at full precision, not mpmath's default
        if not spec.dense:
            self._unrolled(spec, update)
            return
        with full_precision(), _collector_paused():
            self.graph = Graph(spec)
            parameters = exact_parameters(spec)
            self.forward = feed_examples(spec, parameters)
            self.parameters = named_parameters(spec, parameters)
            self.previous_changes = {name: exact(value) for name, value in spec.previous_changes().items()}
            self.values = symbol_values(self.graph, spec, self.parameters, self.forward)
            backward = BackwardPass(self, spec, self.graph, update, self.parameters, self.previous_changes, self.values)
            backward.run()
        self.deltas: list[list[list[Delta]]] = backward.deltas
        self.gradients: dict[str, Gradient] = backward.gradients
        self.updated: dict[str, Number] = backward.updated
        self.changes: dict[str, Number] = backward.changes

    def _unrolled(self, spec: NetworkSpec, update: Update) -> None:
        """A network with conv2d, pooling or recurrent layers: its stages in place of layers."""
        if update != "simultaneous":
            raise DeriveError(
                "the sequential update order is defined for fully connected layers; "
                "a shared kernel or recurrent weight takes one simultaneous update",
                key="update",
            )
        with full_precision(), _collector_paused():
            graph = UnrolledGraph(spec)
            self.graph = graph
            self.parameters = named_parameters_flat(spec)
            self.forward = feed_unrolled(graph, self.parameters)
            self.previous_changes = {name: exact(value) for name, value in spec.previous_changes().items()}
            self.values = unrolled_values(graph, self.parameters, self.forward)
            backward = UnrolledBackward(self, graph, self.parameters, self.previous_changes, self.values)
            backward.run()
        self.deltas = backward.deltas
        self.gradients = backward.gradients
        self.updated = backward.updated
        self.changes = backward.changes

    # -- values ---------------------------------------------------------------------------------

    @property
    def loss(self) -> Number:
        """E_total: the examples' errors summed, or averaged with ``reduction = "mean"``."""
        return reduce_loss(self.spec, self.forward)

    @property
    def penalty(self) -> Number:
        """(λ/2)·Σ w² over the weights (not the biases): 0 without weight decay."""
        with full_precision():
            weights = [value for name, value in self.parameters.items() if name.startswith("w")]
            return exact(self.spec.weight_decay) / 2 * mpmath.fsum(w * w for w in weights)

    @property
    def objective(self) -> Number:
        """E_total + (λ/2)·Σ w²: what the update descends (E_total itself without weight decay)."""
        with full_precision():
            return self.loss + self.penalty

    def trainable(self, name: str) -> bool:
        """Weights always take a step; biases only when ``train_biases`` is true."""
        return trainable(self.spec, name)

    # -- composed forms -------------------------------------------------------------------------

    @property
    def spec_learning_rate(self) -> sp.Rational:
        return rational(self.spec.learning_rate)

    @cached_property
    def _composition(self) -> Composition:
        """Each δ and w⁺ written out, built on the first :meth:`compose`."""
        return Composition(self.spec, self.graph, self.update, self.gradients, self.deltas)

    def compose(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` written in the inputs, weights, biases and targets only (λ and β as their numbers)."""
        return self._composition.compose(expr)

    def _repr_markdown_(self) -> str | None:
        """Jupyter shows a whole derivation as the step-by-step explanation (see :data:`DISPLAYS`)."""
        display = DISPLAYS.get("markdown")
        return display(self) if display else None


# How notebooks show a derivation.  The document layers sit above this module, so they are wired in
# from above (by :mod:`derive.app.network`, the API) rather than imported here.
DISPLAYS: dict[str, Callable[[Derivation], str]] = {}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a derivation is built.

    The build only adds objects that stay reachable, several per weight; each collection it would
    trigger walks them, and SymPy's whole heap, and finds nothing to free.  Left on, the cost per
    weight grows with the network (by a third from 1,000 to 20,000 weights); paused, it stays flat.
    The collector is restored on the way out, even on an error, and left alone if it was off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
