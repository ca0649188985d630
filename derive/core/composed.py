"""The composed forms: a chain written out in the inputs, weights, biases and targets alone.

Net inputs, outputs and δ stay symbols in the chains; these substitutions are built only when a
composed form is asked for (:attr:`derive.core.factors.Gradient.expr`), once per derivation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import sympy as sp

from derive.core import rules
from derive.core.factors import Delta, Gradient
from derive.core.graph import Graph
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.core.rules import MOMENTUM, rational
from derive.spec.model import NetworkSpec


class Composition:
    """Each δ and, in the sequential order, each w⁺ written out, top layer first, for :meth:`compose`."""

    def __init__(
        self,
        spec: NetworkSpec,
        graph: Graph,
        update: str,
        gradients: Mapping[str, Gradient],
        deltas: Sequence[Sequence[Sequence[Delta]]],
    ) -> None:
        self.spec = spec
        self.graph = graph
        self.update = update
        self.gradients = gradients
        self.deltas = deltas

    @cached_property
    def updated_weights(self) -> Mapping[sp.Symbol, sp.Expr]:
        """In the sequential order, each w⁺ the hidden chains use as w + β·Δw_previous − η ∂E_total/∂w.

        Built from the top layer down, so that the w⁺ of the layers above, in a lower weight's
        chain, are already written out.
        """
        if self.update != "sequential":
            return {}
        constants = {
            rules.MOMENTUM: rational(self.spec.momentum),
            rules.LEARNING_RATE: rational(self.spec.learning_rate),
        }
        change = rules.change(momentum=True, decay=False).xreplace(constants)
        previous = self.spec.previous_changes()
        weights = [(name, gradient) for name, gradient in self.gradients.items() if name.startswith("w")]
        updated: dict[sp.Symbol, sp.Expr] = {}
        for name, gradient in sorted(weights, key=lambda item: -item[1].chain[0].neuron.layer):
            # w⁺ = w + Δw, Δw = β·Δw_previous − η·∂E/∂w (rules.change)
            step = change.xreplace(
                {rules.PREVIOUS_CHANGE: rational(previous[name]), rules.GRADIENT: gradient.chain_expr}
            )
            updated[self.graph.updated(gradient.symbol)] = (gradient.symbol + step).xreplace(updated)
        return updated

    @cached_property
    def delta_definitions(self) -> Mapping[sp.Symbol, sp.Expr]:
        """Each δ as the product of its factors, with the δs above it substituted (top-down)."""
        definitions: dict[sp.Symbol, sp.Expr] = {}
        updated = self.updated_weights
        for L in reversed(range(len(self.graph.neurons))):  # layers, or an unrolled network's stages
            for p in range(len(self.spec.examples)):
                for delta in self.deltas[p][L]:
                    product = sp.Mul(*(f.expr for f in delta.factors))
                    definitions[delta.symbol] = product.xreplace(updated).xreplace(definitions)
        return definitions

    def compose(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` written in the inputs, weights, biases and targets only (λ and β as their numbers)."""
        constants = {WEIGHT_DECAY: rational(self.spec.weight_decay), MOMENTUM: rational(self.spec.momentum)}
        # a hidden chain holds w⁺ itself (in Σ δ·w⁺) as well as inside its δs
        composed = expr.xreplace(self.updated_weights).xreplace(self.delta_definitions)
        return composed.xreplace(self.graph.composed).xreplace(constants)
