"""One step of the working, its key, and the parts of the working the steps are grouped in.

The public face is :mod:`derive.core.steps`, which re-exports every name here; the builders of
:mod:`derive.core.builders` make these objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.core.factors import Delta, Gradient
from derive.core.graph import SymbolName
from derive.core.numbers import Number


@dataclass(frozen=True)
class Step:
    """One computed quantity: ``symbol = formula = value``, asked for in blank ``blank``.

    ``kind`` says what the quantity is (net, out, error, example_error, total, factor, delta,
    link, gradient, update, after); ``rule`` is the catalog key of the rule that gives it.
    """

    key: str
    blank: int | None
    symbol: sp.Symbol
    kind: str
    rule: str
    formula: sp.Expr
    value: Number
    quantity: str  # plain text: net_h1, ∂E_total/∂out_o1, δ_o1, w5⁺
    example: int | None = None  # 1-based, when the network has several examples
    subject: str = ""  # the neuron or parameter the quantity belongs to: h1, o1, w5
    after: bool = False  # a quantity of the forward pass after the step (net_h1+, E_total+)
    of: sp.Symbol | None = None  # a derivative ∂of/∂wrt: the graph symbols it relates
    wrt: sp.Symbol | None = None


@dataclass(frozen=True)
class NeuronSteps:
    """A neuron's net input and output in one example."""

    name: str
    net: Step
    out: Step


@dataclass(frozen=True)
class ExampleSteps:
    """One example's forward pass: every neuron, each output's error, and the example's error."""

    number: int | None
    layers: tuple[tuple[NeuronSteps, ...], ...]
    errors: tuple[Step, ...]
    total: Step | None
    order: tuple[Step, ...]  # every step in the order worked: a softmax layer's net inputs before its outputs


@dataclass(frozen=True)
class DeltaSteps:
    """A δ met for the first time: its factors' steps (in the order of ``delta.factors``), then δ.

    With a softmax output the δ is a single factor, ∂E_total/∂net, and ``step`` is that factor's.
    """

    delta: Delta
    factors: tuple[Step, ...]
    step: Step

    @property
    def coupled(self) -> bool:
        """Softmax: δ is the one factor ∂E_total/∂net."""
        return len(self.delta.factors) == 1

    @property
    def inline(self) -> bool:
        """The brief detail: the factors are written inside δ's one line, not as steps."""
        return not self.factors


@dataclass(frozen=True)
class GradientSteps:
    """A gradient's working: the δs it needs that are new, each term's link ∂net/∂θ, the result."""

    gradient: Gradient
    deltas: tuple[DeltaSteps, ...]
    links: tuple[Step, ...]
    result: Step

    @property
    def layer(self) -> int:
        return self.gradient.chain[0].neuron.layer


def step_key(name: SymbolName) -> str:
    """The key of a graph symbol: ``net_h1``, ``delta_o1``, ``E_total``, ``out_h1@2``, ``w5+``."""
    if name.kind == "E" and not name.subscript:
        base = "E_total"  # one example's error, E^{(p)}: as the JSON output's per-example E_total
    else:
        joiner = "" if name.kind in ("i", "w", "b") or not name.subscript else "_"
        base = f"{name.kind}{joiner}{name.subscript}"
    if name.updated:
        base += "+"
    return f"{base}@{name.example}" if name.example is not None else base


def factor_key(of: SymbolName, wrt: SymbolName, example: int | None) -> str:
    """``da/db`` for ∂a/∂b, and ``dE/db`` for ∂E_total/∂b; ``@p`` for example p."""
    plain = [step_key(SymbolName(name.kind, name.subscript, None, name.updated)) for name in (of, wrt)]
    top = "E" if plain[0] == "E_total" else plain[0]
    key = f"d{top}/d{plain[1]}"
    return f"{key}@{example}" if example is not None else key


def is_copy(formula: sp.Expr) -> bool:
    """A formula that only repeats a value already written or given (out_h1, i_1, the constant 1)."""
    return isinstance(formula, sp.Symbol | sp.Number)
