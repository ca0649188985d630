"""The chain rule's pieces as values: each factor ∂of/∂wrt, each term (a product of factors), each δ
and each gradient (the sum of its terms), with their textbook forms and 40-digit values.

A :class:`Gradient` keeps the derivation it belongs to, which composes its chain when asked
(:attr:`Gradient.expr`); :mod:`derive.core.chain` builds them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import mpmath
import sympy as sp

from derive.core.graph import Graph, Neuron
from derive.core.numbers import Number, full_precision


class Composer(Protocol):
    """What a gradient asks of its derivation: the graph's names, and an expression composed."""

    graph: Graph

    def compose(self, expr: sp.Expr) -> sp.Expr: ...


@dataclass(frozen=True)
class Factor:
    """∂of/∂wrt: its textbook form in the network's symbols, the rule behind it, and its value.

    A hidden neuron's ∂E_total/∂out is a sum over the paths through the next layer; ``paths``
    holds each path's factors (∂E_total/∂net_k, ∂net_k/∂out_j).
    """

    of: sp.Symbol
    wrt: sp.Symbol
    expr: sp.Expr
    rule: str
    precise: Number
    paths: tuple[tuple[Factor, ...], ...] = ()

    @property
    def value(self) -> float:
        return float(self.precise)


@dataclass(frozen=True)
class Term:
    """One product of factors: one example's contribution through one neuron."""

    factors: tuple[Factor, ...]
    example: int
    neuron: Neuron

    @property
    def precise(self) -> Number:
        with full_precision():
            return mpmath.fprod(f.precise for f in self.factors)

    @property
    def value(self) -> float:
        return float(self.precise)

    @property
    def expr(self) -> sp.Expr:
        """The product of the factors' symbolic forms."""
        return sp.Mul(*(f.expr for f in self.factors), evaluate=False)


@dataclass(frozen=True)
class Delta:
    """δ = ∂E_total/∂net of one neuron in one example, and the factors that give it."""

    symbol: sp.Symbol
    neuron: Neuron
    example: int
    factors: tuple[Factor, ...]
    precise: Number

    @property
    def value(self) -> float:
        return float(self.precise)


@dataclass(frozen=True)
class Gradient:
    """∂E_total/∂θ for one weight or bias θ: the sum of its chain-rule terms.

    With ``weight_decay = λ`` each update descends E_total + (λ/2)·Σ w² (the weights, not the
    biases), so a weight's gradient gains one more term, ``decay``: ∂[(λ/2)·Σ w²]/∂w = λ·w, the
    factor ∂E_decay/∂w with rule ``weight_decay``.  ``precise`` is the sum of the chain's terms
    and that term.
    """

    name: str
    symbol: sp.Symbol
    chain: tuple[Term, ...]
    precise: Number
    derivation: Composer = field(repr=False, compare=False)
    decay: Factor | None = None

    @property
    def value(self) -> float:
        return float(self.precise)

    @property
    def of_total(self) -> Number:
        """∂E_total/∂θ alone: the sum of the chain's terms, without weight decay's λ·w."""
        with full_precision():
            return mpmath.fsum(term.precise for term in self.chain)

    @property
    def chain_expr(self) -> sp.Expr:
        """Σ over the terms of the product of their factors (+ λ·w with weight decay), in the network's symbols."""
        terms = [term.expr for term in self.chain]
        if self.decay is not None:
            terms.append(self.decay.expr)
        return sp.Add(*terms, evaluate=False)

    @cached_property
    def expr(self) -> sp.Expr:
        """The fully composed ∂E_total/∂θ, in the inputs, weights, biases and targets."""
        return self.derivation.compose(self.chain_expr)

    def latex(self, digits: int = 9) -> str:
        """∂E_total/∂θ = its chain of factors = their values = the gradient, in LaTeX.

        >>> from derive import example
        >>> text = example().gradients()["w5"].latex(4)
        >>> print(text.split(" = ")[0])
        \\frac{\\partial E_{\\text{total}}}{\\partial w_{5}}
        >>> print(text.split(" = ")[-2], "=", text.split(" = ")[-1])
        0.7414 \\cdot 0.1868 \\cdot 0.5933 = 0.0822
        """
        from derive.core.numbers import format_number
        from derive.core.printing import TextbookPrinter, number_latex, partial_latex

        printer = TextbookPrinter(self.derivation.graph.names)

        def label(factor: Factor) -> str:
            return partial_latex(printer.doprint(factor.of), printer.doprint(factor.wrt))

        lhs = partial_latex(printer.doprint(self.derivation.graph.total), printer.doprint(self.symbol))
        terms = [term.factors for term in self.chain] + ([(self.decay,)] if self.decay else [])
        chain = " + ".join(r" \cdot ".join(label(f) for f in factors) for factors in terms)
        values = " + ".join(r" \cdot ".join(number_latex(f.precise, digits) for f in factors) for factors in terms)
        return f"{lhs} = {chain} = {values} = {format_number(self.precise, digits)}"

    def _repr_latex_(self) -> str:
        """Jupyter shows a gradient as its chain, with the numbers."""
        return f"$$ {self.latex()} $$"
