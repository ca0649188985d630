"""LaTeX in the textbook's notation: ``\\mathrm{net}_{h1}``, ``\\mathrm{out}_{o1}``, ``E_{\\text{total}}``, ``w_{5}``.

The same printer also writes a formula with the numbers substituted (``0.15 \\cdot 0.05 + …``),
so the formula, the substitution and the value always come from one expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from derive.core.graph import SymbolName
from derive.core.numbers import DEFAULT_DIGITS, Number, format_number

NOTATIONS = ("net", "in")


def kinked_cases(expr: sp.Piecewise) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(above, net, below) of ReLU's family, ``above`` where net > 0 and ``below`` elsewhere; else None."""
    (value, condition), (otherwise, _) = expr.args if len(expr.args) == 2 else (expr.args[0], (None, None))
    if isinstance(condition, sp.StrictGreaterThan) and condition.rhs == 0 and otherwise is not None:
        return value, condition.lhs, otherwise
    return None


class TextbookPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the network's symbol names and the order terms were written in.

    ``net_label`` is ``net`` (the English tutorial) or ``in`` (the Spanish source's ``in_{h1}``).
    With ``values``, every symbol that has one is printed as its number instead; ``labels`` gives
    the LaTeX of symbols the graph does not name (a step's ∂E_total/∂out_{o1}, the learning rate η).
    """

    printmethod = "_textbook_latex"

    def __init__(
        self,
        names: Mapping[sp.Symbol, SymbolName],
        net_label: str = "net",
        values: Mapping[sp.Symbol, Number] | None = None,
        digits: int = DEFAULT_DIGITS,
        labels: Mapping[sp.Symbol, str] | None = None,
    ) -> None:
        super().__init__({"order": "none", "mul_symbol": "dot", "ln_notation": True})
        self.symbol_names = names
        self.labels = labels or {}
        self.net_label = net_label
        self.values = values
        self.digits = digits
        self.bare = False  # a number alone in a function's brackets needs no parentheses of its own

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if self.values is not None and expr in self.values:
            if self.bare:
                return format_number(self.values[expr], self.digits)
            return number_latex(self.values[expr], self.digits)
        if expr in self.labels:
            return self.labels[expr]
        name = self.symbol_names.get(expr)
        if name is None:
            return super()._print_Symbol(expr, style)
        return symbol_latex(name, self.net_label)

    def _print_Mul(self, expr: sp.Mul) -> str:
        # ½(t − out)² as the textbook writes it, not SymPy's (t − out)²/2
        first, *rest = expr.args
        if isinstance(first, sp.Rational) and first.q != 1 and rest:
            sign = "- " if first < 0 else ""
            body = sp.Mul(*rest, evaluate=False)
            return rf"{sign}\tfrac{{{abs(first.p)}}}{{{first.q}}} {self.parenthesize(body, 50)}"
        return super()._print_Mul(expr)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        # a term that starts with its own minus sign, −(t − out)·out kept unevaluated, is subtracted:
        # "a - (t - out) · out", not SymPy's "a + - (t - out) · out"
        return super()._print_Add(expr, order).replace(" + - ", " - ")

    def _print_Function(self, expr: sp.Function, exp: str | None = None) -> str:
        # tanh(−0.05), not tanh((−0.05)): a lone symbol's number is already inside the function's brackets
        self.bare = len(expr.args) == 1 and isinstance(expr.args[0], sp.Symbol)
        try:
            return super()._print_Function(expr, exp)
        finally:
            self.bare = False

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        # ReLU reads better as max(0, x) and its slope as an indicator than as SymPy's cases;
        # leaky ReLU as max(a·x, x); the rest of the family (ELU, slopes) as cases on the sign of x.
        cases = kinked_cases(expr)
        if cases is None:
            return super()._print_Piecewise(expr)
        value, net, otherwise = cases
        argument = self._bracketed(net)
        if otherwise == 0:
            if value == net:
                return rf"\max\left(0, {argument}\right)"
            return rf"[{argument} > 0]"
        below = otherwise.as_coeff_Mul() if isinstance(otherwise, sp.Mul) else (None, None)
        if value == net and below[1] == net and 0 <= below[0] < 1:
            return rf"\max\left({self._print(otherwise)}, {argument}\right)"
        if self.values is not None and net in self.values:
            # with the numbers in, only the case that applies: e^{-1.77} - 1, not both cases again
            return self._print(value if self.values[net] > 0 else otherwise)
        return (
            rf"\begin{{cases}} {self._print(value)} & {argument} > 0 \\ "
            rf"{self._print(otherwise)} & {argument} \le 0 \end{{cases}}"
        )

    def _bracketed(self, expr: sp.Expr) -> str:
        """``expr`` alone in brackets or before a comparison: a number without parentheses, max(0, −0.05)."""
        self.bare = isinstance(expr, sp.Symbol)
        try:
            return self._print(expr)
        finally:
            self.bare = False


def number_latex(value: Number | float, digits: int = DEFAULT_DIGITS) -> str:
    """A value as it is substituted into a formula: negative numbers in parentheses."""
    text = format_number(value, digits)
    return rf"\left({text}\right)" if text.startswith("-") else text


@lru_cache(maxsize=1 << 14)  # a document prints each symbol in every line it appears in
def symbol_latex(name: SymbolName, net_label: str = "net") -> str:
    """``\\mathrm{net}_{h1}``, ``w_{5}``, ``\\delta_{o1}``, ``\\mathrm{out}_{o1}^{(2)}``, ``E_{\\text{total}}``.

    Names of several letters are set upright, as one name and not a product of letters; a value after
    the step is marked ``w_{5}^{+}``.
    """
    kind = {"net": net_label, "delta": r"\delta"}.get(name.kind, name.kind)
    if len(kind) > 1 and not kind.startswith("\\"):
        kind = rf"\mathrm{{{kind}}}"
    # the total and the decay penalty are words, not products of letters
    words = ("total", "decay")
    subscript = rf"\text{{{name.subscript}}}" if name.subscript in words else name.subscript.replace("_", r"\_")
    text = f"{kind}_{{{subscript}}}" if subscript else kind
    if name.change:
        text = rf"\Delta {text}"
    plus = "+" if name.updated else ""
    example = f"({name.example})" if name.example is not None else ""
    return text + f"^{{{plus}{example}}}" if plus or example else text


def symbol_text(name: SymbolName, net_label: str = "net") -> str:
    """The plain-text name of a symbol, for diagrams: ``net_o1``, ``w5``, ``E_total``, ``out_o1(2)``."""
    kind = {"net": net_label, "delta": "δ"}.get(name.kind, name.kind)
    joiner = "" if name.kind in ("i", "w", "b") or not name.subscript else "_"
    text = f"{kind}{joiner}{name.subscript}"
    if name.change:
        text = f"Δ{text}"
    if name.updated:
        text += "⁺"
    if name.example is not None:
        text += f"({name.example})"
    return text


def partial_latex(of: str, wrt: str) -> str:
    """∂of/∂wrt as a fraction, for displayed equations."""
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"


def partial_inline(of: str, wrt: str) -> str:
    """∂of/∂wrt with a slash, for running text (a fraction would squash the lines)."""
    return rf"\partial {of} / \partial {wrt}"


class PlainPrinter(StrPrinter):
    """A formula as plain text, in the order it was written: ``w5·out_h1 + w6·out_h2 + b2·1``.

    ``labels`` gives the text of a symbol (``net_h1``, ``∂E_total/∂out_o1``); with ``values``, a
    symbol that has one prints as that text instead (a number, negative ones in parentheses).
    """

    def __init__(self, labels: Mapping[sp.Symbol, str], values: Mapping[sp.Symbol, str] | None = None) -> None:
        super().__init__({"order": "none"})
        self.labels = labels
        self.values = values or {}

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr in self.values:
            text = self.values[expr]
            return f"({text})" if text.startswith("-") else text
        return self.labels.get(expr, expr.name)

    def _print_Function(self, expr: sp.Function) -> str:
        # tanh(-0.05), not tanh((-0.05)): a lone symbol's number is already inside the function's brackets
        if len(expr.args) == 1:
            return f"{expr.func.__name__}({self._bracketed(expr.args[0])})"
        return super()._print_Function(expr)

    def _bracketed(self, expr: sp.Expr) -> str:
        """``expr`` alone in brackets or before a comparison: a number without parentheses, max(0, -0.05)."""
        return self.values[expr] if expr in self.values else self._print(expr)

    def _print_Mul(self, expr: sp.Mul) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        """ReLU's family as the textbook page writes it: max(0, net_h1), [net_h1 > 0], or the two cases
        in words; with the numbers in, only the case that applies."""
        cases = kinked_cases(expr)
        if cases is None:
            return super()._print_Piecewise(expr)
        value, net, otherwise = cases
        argument = self._bracketed(net)
        if otherwise == 0:
            return f"max(0, {argument})" if value == net else f"[{argument} > 0]"
        if net in self.values:
            return self._print(value if Decimal(self.values[net]) > 0 else otherwise)
        return f"{self._print(value)} if {argument} > 0, else {self._print(otherwise)}"
