"""LaTeX in the textbook's notation: ``net_{h1}``, ``out_{o1}``, ``E_{total}``, ``w_{5}``."""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter

from derive.graph import SymbolName

NOTATIONS = ("net", "in")


class TextbookPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the network's symbol names and the order terms were written in.

    ``net_label`` is ``net`` (the English tutorial) or ``in`` (the Spanish source's ``in_{h1}``).
    """

    printmethod = "_textbook_latex"

    def __init__(self, names: Mapping[sp.Symbol, SymbolName], net_label: str = "net") -> None:
        super().__init__({"order": "none", "mul_symbol": "dot"})
        self.symbol_names = names
        self.net_label = net_label

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        name = self.symbol_names.get(expr)
        if name is None:
            return super()._print_Symbol(expr, style)
        return symbol_latex(name, self.net_label)


def symbol_latex(name: SymbolName, net_label: str = "net") -> str:
    """``net_{h1}``, ``w_{5}``, ``\\delta_{o1}``, ``out_{o1}^{(2)}``, ``E^{(2)}``."""
    kind = {"net": net_label, "delta": r"\delta"}.get(name.kind, name.kind)
    subscript = name.subscript.replace("_", r"\_")  # layer names may hold underscores
    text = f"{kind}_{{{subscript}}}" if subscript else kind
    if name.updated:
        text += "^{+}"
    if name.example is not None:
        text += f"^{{({name.example})}}"
    return text


def partial_latex(of: str, wrt: str) -> str:
    """∂of/∂wrt as a fraction."""
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"
