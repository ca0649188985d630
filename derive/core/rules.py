"""The rules every path applies, each written once as SymPy: the update, the rounding of hidden
outputs, and softmax with cross-entropy's error signal.

The activations and losses live beside their derivatives in :mod:`derive.core.functions`; these
are the other rules.  The 40-digit path evaluates them; the float path, the NumPy path and
``derive code`` print them with SymPy's code printers, so no path can apply a rule of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from derive.core.numbers import Number, compile_expr, evaluate

# ---------------------------------------------------------------------------------------------
# Rounding hidden outputs, as by hand


# A half the file's decimals meant (0.145) is a hair below it in binary (0.14499999999999996 as a
# double): within a few units of the last binary place below a half, a value is that half.  Four
# units of a double's last place; of the 40-digit path's (136 bits), likewise.
FLOAT_SLACK = sp.Rational(1, 2**51)
PRECISE_SLACK = sp.Rational(1, 2**130)


def rounded(value: sp.Expr, decimals: int, slack: sp.Rational = FLOAT_SLACK) -> sp.Expr:
    """``value`` to ``decimals`` places as by hand, halves away from zero: sign(x)·⌊|x|·10^k·(1 + s) + ½⌋ / 10^k.

    −0.125 to two places is −0.13, as 0.125 is 0.13; the slack s makes a decimal half that binary
    holds a hair below it (0.145) a half too.  The division by 10^k comes last, so that a float path
    gets the double nearest the rounded decimal.
    """
    scale = sp.Integer(10) ** decimals
    magnitude = sp.Mul(sp.Abs(value), scale, 1 + slack, evaluate=False)
    whole = sp.floor(sp.Add(magnitude, sp.Rational(1, 2), evaluate=False))
    return sp.Mul(sp.sign(value), whole, sp.Pow(scale, -1, evaluate=False), evaluate=False)


_VALUE = sp.Symbol("x")


def round_value(value: Number, decimals: int) -> Number:
    """The 40-digit path's rounding: :func:`rounded` evaluated at full precision (0.59327 → 0.5933)."""
    return evaluate(compile_expr(rounded(_VALUE, decimals, PRECISE_SLACK), (_VALUE,)), value)


# ---------------------------------------------------------------------------------------------
# The update of a parameter

# η, β and λ are the symbols every formula of the working uses (the graph's, the steps').
PARAMETER, GRADIENT, PREVIOUS_CHANGE = sp.symbols("theta g Delta_previous")
LEARNING_RATE, MOMENTUM, DECAY = sp.symbols("eta beta lambda")


def change(*, momentum: bool, decay: bool) -> sp.Expr:
    """Δθ = β·Δθ_previous − η·(g + λ·θ), θ⁺ = θ + Δθ, its terms kept in the order written.

    Without momentum the first term drops; without weight decay (and for every bias) λ·θ does.
    """
    gradient = sp.Add(GRADIENT, sp.Mul(DECAY, PARAMETER, evaluate=False), evaluate=False) if decay else GRADIENT
    descent = sp.Mul(-1, LEARNING_RATE, gradient, evaluate=False)
    if not momentum:
        return descent
    return sp.Add(sp.Mul(MOMENTUM, PREVIOUS_CHANGE, evaluate=False), descent, evaluate=False)


def updated(*, momentum: bool, decay: bool) -> sp.Expr:
    """θ⁺ = θ + Δθ."""
    return sp.Add(PARAMETER, change(momentum=momentum, decay=decay), evaluate=False)


def change_terms(*, momentum: bool, decay: bool) -> dict[sp.Symbol, sp.Expr]:
    """Δθ as Σ c·x over x in (Δθ_previous, g, θ): what an engine that updates in place applies, term by term."""
    expanded = sp.expand(change(momentum=momentum, decay=decay))
    terms = {symbol: expanded.coeff(symbol) for symbol in (PREVIOUS_CHANGE, GRADIENT, PARAMETER)}
    return {symbol: coefficient for symbol, coefficient in terms.items() if coefficient != 0}


class _NamedPrinter(PythonCodePrinter):
    """Python of a rule, its symbols named by a table, its terms in the order written."""

    def __init__(self, names: Mapping[sp.Symbol, str]) -> None:
        super().__init__({"fully_qualified_modules": True, "order": "none"})
        self.names = names

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names[expr]


def python(rule: sp.Expr, names: Mapping[sp.Symbol, str]) -> str:
    """``rule`` as Python, each symbol written as ``names`` says (``learning_rate*g_w1``)."""
    return _NamedPrinter(names).doprint(rule)


def decays(name: str) -> bool:
    """Weight decay acts on the weights (``w…``), never on the biases."""
    return name.startswith("w")


def rational(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


# ---------------------------------------------------------------------------------------------
# Softmax with cross-entropy


def unit_targets(targets: Iterable[Sequence[Fraction]]) -> bool:
    """Whether every example's targets add up to one, so that softmax with cross-entropy has δ = out − t."""
    return all(sum(example) == 1 for example in targets)


def softmax_cross_entropy_delta(out: sp.Expr, target: sp.Expr, targets_total: sp.Expr) -> sp.Expr:
    """δ_j = ∂E/∂net_j = out_j·Σ_k t_k − t_j, which is out_j − t_j when the targets add up to one."""
    if targets_total == 1:
        return sp.Add(out, -target, evaluate=False)
    return sp.Add(sp.Mul(out, targets_total, evaluate=False), -target, evaluate=False)
