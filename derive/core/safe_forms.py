"""Two shapes of the rules that a float path must not print as written: log(1 + e^x) and e^x − 1.

Every rule is written once, as the textbook writes it (:mod:`derive.core.functions`); the 40-digit
path evaluates it so.  In floats, softplus's e^x overflows past x ≈ 709.78, making log(1 + e^x)
infinite where its value is x, and ELU's e^x − 1 cancels the digits of a small x.  The printers of
the float path, the NumPy path and the generated module find these two shapes here and print the
forms that give the same value in floats (``logaddexp``, ``log1p``, ``expm1``): the NumPy printers
through :class:`NumPySafeForms`, the plain-float and JavaScript printers through :func:`softplus` in
their own syntax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp


def log_one_plus_exp(expr: sp.log) -> sp.Expr | None:
    """x when ``expr`` is log(1 + e^x), softplus's form; otherwise None."""
    terms = sp.Add.make_args(expr.args[0])
    exponentials = [term for term in terms if isinstance(term, sp.exp)]
    if len(terms) == 2 and sp.Integer(1) in terms and exponentials:
        return exponentials[0].args[0]
    return None


def exp_minus_one(expr: sp.Add) -> sp.Expr | None:
    """x when ``expr`` is e^x − 1, ELU's form below 0; otherwise None."""
    terms = expr.args
    if len(terms) == 2 and sp.Integer(-1) in terms:
        exponentials = [term for term in terms if isinstance(term, sp.exp)]
        if exponentials:
            return exponentials[0].args[0]
    return None


def softplus(x: str, exp: str, log1p: str, choose: Callable[[str, str, str], str]) -> str:
    """log(1 + e^x) = x + log(1 + e^−x) above 0 and log(1 + e^x) elsewhere, so that e^x never overflows.

    ``x`` is the argument as printed (:func:`whole`, so that −x and x > 0 read it whole); ``exp`` and
    ``log1p`` name the language's functions; ``choose(condition, then, otherwise)`` writes its
    conditional expression.
    """
    return choose(f"{x} > 0", f"{x} + {log1p}({exp}(-{x}))", f"{log1p}({exp}({x}))")


def whole(printed: str, expr: sp.Expr) -> str:
    """``printed`` in parentheses unless ``expr`` is a name: −(a − b), never −a − b, nor JavaScript's --5."""
    return printed if expr.is_Symbol else f"({printed})"


class NumPySafeForms:
    """A NumPy printer's mix-in: log(1 + e^x) as ``numpy.logaddexp(0, x)``, e^x − 1 as ``numpy.expm1(x)``."""

    def _print_log(self, expr: sp.log) -> str:
        if (x := log_one_plus_exp(expr)) is not None:
            return f"numpy.logaddexp(0.0, {self._print(x)})"  # type: ignore[attr-defined]
        return super()._print_log(expr)  # type: ignore[misc]

    def _print_Add(self, expr: sp.Add, order: Any = None) -> str:
        if (x := exp_minus_one(expr)) is not None:
            return f"numpy.expm1({self._print(x)})"  # type: ignore[attr-defined]
        return super()._print_Add(expr, order)  # type: ignore[misc]
