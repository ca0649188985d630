"""Two shapes of the rules that a float path must not print as written: log(1 + e^x) and e^x − 1.

Every rule is written once, as the textbook writes it (:mod:`derive.core.functions`); the 40-digit
path evaluates it so.  In floats, softplus's e^x overflows past x ≈ 709.78, making log(1 + e^x)
infinite where its value is x, and ELU's e^x − 1 cancels the digits of a small x.  The printers of
the float path, the NumPy path and the generated module find these two shapes here and print the
forms that give the same value in floats (``logaddexp``, ``log1p``, ``expm1``).
"""

from __future__ import annotations

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
