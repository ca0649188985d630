"""A step as a line of working: ``lhs = formula = numbers substituted = value``, in LaTeX.

One :class:`Typesetter` serves every section of a document: it prints a step's formula in the
textbook's symbols and again with every symbol replaced by its value, so that the formula, the
substitution and the value always come from the same expression.
"""

from __future__ import annotations

import sympy as sp

from derive.chain import Factor
from derive.numbers import Number, format_number
from derive.printing import TextbookPrinter, number_latex, partial_latex
from derive.steps import LEARNING_RATE, Step, Steps

from .model import Equation

# A sum of more than this many terms is split across lines in LaTeX.
LONG_SUM = 3


class Typesetter:
    """Prints steps in a notation (``net`` or ``in``) with values shown to ``digits`` decimals."""

    def __init__(self, steps: Steps, notation: str, digits: int) -> None:
        self.steps = steps
        self.digits = digits
        graph = steps.derivation.graph
        self.graph = graph
        self.symbols = TextbookPrinter(graph.names, notation)
        self.labels = self._labels()
        self.symbols.labels = self.labels
        self.numbers = TextbookPrinter(graph.names, notation, steps.values, digits, self.labels)

    def _labels(self) -> dict[sp.Symbol, str]:
        """The LaTeX of the step symbols the graph does not name: derivatives, η, E_total⁺."""
        labels = {LEARNING_RATE: r"\eta"}
        for step in self.steps:
            if step.symbol in self.graph.names:
                continue
            if step.of is not None and step.wrt is not None:
                labels[step.symbol] = partial_latex(self.latex(step.of), self.latex(step.wrt))
            else:
                labels[step.symbol] = self.latex(self.graph.total) + "^{+}"
        return labels

    @property
    def net_label(self) -> str:
        return self.symbols.net_label

    def latex(self, expr: sp.Expr) -> str:
        return self.symbols.doprint(expr)

    def show(self, value: Number | float) -> str:
        return format_number(value, self.digits)

    def partial(self, factor: Factor) -> str:
        """∂of/∂wrt of a chain factor."""
        return partial_latex(self.latex(factor.of), self.latex(factor.wrt))

    def equation(self, step: Step, *, lhs: str | None = None, formula: bool = True) -> Equation:
        """The step's line; ``formula=False`` shows only the quantity and its value."""
        shown = self.show(step.value)
        answer = step.blank or 0
        lhs = self.latex(step.symbol) if lhs is None else lhs
        if not formula:
            return Equation(lhs, "", "", shown, answer, key=step.key)
        formula_text = self.latex(step.formula)
        substituted = self.numbers.doprint(step.formula)
        if substituted in (shown, number_latex(step.value, self.digits), formula_text):
            substituted = ""
        if formula_text == shown:  # ∂net/∂b = 1: nothing to show but the value
            formula_text = ""
        equation = Equation(lhs, formula_text, substituted, shown, answer, key=step.key)
        if isinstance(step.formula, sp.Add) and len(step.formula.args) > LONG_SUM:
            # long sums get broken across lines in LaTeX: keep their terms apart
            formula_terms = [self.latex(term) for term in step.formula.args]
            number_terms = [self.numbers.doprint(term) for term in step.formula.args]
            if not any(text.startswith("-") for text in formula_terms + number_terms):
                equation.formula_terms, equation.terms = formula_terms, number_terms
        return equation
