"""A step as a line of working: ``lhs = formula = numbers substituted = value``, in LaTeX.

One :class:`Typesetter` serves every section of a document: it prints a step's formula in the
textbook's symbols and again with every symbol replaced by its value, so that the formula, the
substitution and the value always come from the same expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import sympy as sp

from derive.core.factors import Factor
from derive.core.numbers import Number, exact, format_exact
from derive.core.printing import TextbookPrinter, number_latex, partial_inline, partial_latex
from derive.core.steps import LEARNING_RATE, Step, Steps

from .model import Equation
from .precision import shown as shown_value

# A sum of more than this many terms is split across lines in LaTeX.
LONG_SUM = 3
# How many points of mathematics fit on a line of an A4 page beside a tag, with a margin for the
# estimate's error (about 10 pt); a value's digit takes about VALUE_WIDTH, its box and tag BOX_AND_TAG.
LINE_WIDTH = 440
VALUE_WIDTH = 5.5
BOX_AND_TAG = 45


class Typesetter:
    """Prints steps in a notation (``net`` or ``in``) with values shown to ``digits`` decimals."""

    def __init__(self, steps: Steps, notation: str, digits: int, *, mark_unrounded: bool = False) -> None:
        self.steps = steps
        self.digits = digits
        self.mark_unrounded = mark_unrounded  # only an answer key marks them: checking costs a re-evaluation
        graph = steps.derivation.graph
        self.graph = graph
        self.symbols = TextbookPrinter(graph.names, notation)
        self.labels = self._labels(partial_latex)
        # the same, with ∂a/∂b written with a slash, for lines set inside text or a table
        self.inline_symbols = TextbookPrinter(graph.names, notation, labels=self._labels(partial_inline))
        self.symbols.labels = self.labels
        self.numbers = TextbookPrinter(graph.names, notation, steps.values, digits, self.labels)
        self.unrounded = False  # whether any line's value differs from what its rounded numbers give

    def _labels(self, partial: Callable[[str, str], str]) -> dict[sp.Symbol, str]:
        """The LaTeX of the step symbols the graph does not name: derivatives and η."""
        labels = {LEARNING_RATE: r"\eta"}
        # with weight decay a step descends E = E_total + E_decay: its gradients are of E
        decay = bool(self.steps.derivation.spec.weight_decay)
        for step in self.steps:
            if step.symbol not in self.graph.names and step.of is not None and step.wrt is not None:
                of = "E" if decay and step.kind == "gradient" else self.latex(step.of)
                labels[step.symbol] = partial(of, self.latex(step.wrt))
        return labels

    @property
    def net_label(self) -> str:
        return self.symbols.net_label

    def latex(self, expr: sp.Expr) -> str:
        return self.symbols.doprint(expr)

    def show(self, value: Number | float) -> str:
        """The value as every document shows it (:func:`.precision.shown`)."""
        return shown_value(value, self.digits)

    def partial(self, factor: Factor) -> str:
        """∂of/∂wrt of a chain factor, as a fraction."""
        return partial_latex(self.latex(factor.of), self.latex(factor.wrt))

    def inline(self, of: sp.Symbol, wrt: sp.Symbol) -> str:
        """∂of/∂wrt for running text."""
        return partial_inline(self.latex(of), self.latex(wrt))

    def equation(self, step: Step, *, lhs: str | None = None, formula: bool = True, inline: bool = False) -> Equation:
        """The step's line; ``formula=False`` shows only the quantity and its value.

        ``inline`` writes the derivatives in the formula with a slash, for a line set in a table.
        """
        shown = self.show(step.value)
        answer = step.blank or 0
        lhs = self.latex(step.symbol) if lhs is None else lhs
        if not formula:
            return Equation(lhs, "", "", shown, answer, key=step.key, answer_text=shown)
        formula_text = (self.inline_symbols if inline else self.symbols).doprint(step.formula)
        substituted = self.numbers.doprint(step.formula)
        if substituted in (shown, number_latex(step.value, self.digits), formula_text):
            substituted = ""
        if formula_text == shown:  # ∂net/∂b = 1: nothing to show but the value
            formula_text = ""
        equation = Equation(lhs, formula_text, substituted, shown, answer, key=step.key, answer_text=shown)
        equation.unrounded = self.mark_unrounded and bool(substituted) and self.from_rounded(step) != shown
        self.unrounded = self.unrounded or equation.unrounded
        if isinstance(step.formula, sp.Add) and len(step.formula.args) > LONG_SUM:
            # long sums get broken across lines in LaTeX: keep their terms apart
            formula_terms = [self.latex(term) for term in step.formula.args]
            number_terms = [self.numbers.doprint(term) for term in step.formula.args]
            if not any(text.startswith("-") for text in formula_terms + number_terms):
                equation.formula_terms, equation.terms = formula_terms, number_terms
        equation.layout = layout(equation)
        # align* puts every line's right side after the widest left side: a wide one goes on a line of its own
        numbers = width(equation.substituted) + VALUE_WIDTH * len(equation.value) + BOX_AND_TAG
        equation.lhs_alone = width(equation.lhs) + max(width(equation.formula), numbers) > LINE_WIDTH
        return equation

    def from_rounded(self, step: Step) -> str:
        """The step's value from the rounded numbers its line shows, rounded as its value is shown.

        A sum of products of the rounded decimals is worked exactly (a tie such as 0.0008771355 is
        rounded as a decimal, not as its binary neighbour); any other formula to 40 digits.
        """
        shown = {
            symbol: Fraction(Decimal(self.show(self.steps.values[symbol]))) for symbol in step.formula.free_symbols
        }
        exactly = step.formula.xreplace(
            {symbol: sp.Rational(v.numerator, v.denominator) for symbol, v in shown.items()}
        )
        if isinstance(exactly, sp.Rational):
            return format_exact(Fraction(exactly.p, exactly.q), self.digits)
        return self.show(self.steps.evaluate(step, {symbol: exact(value) for symbol, value in shown.items()}))


_UNSPACED = re.compile(r"\\(?:left|right|mathrm|text|operatorname|tfrac|,|;|quad)")
_SCRIPT = re.compile(r"[_^]\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_SCRIPT_MARKUP = re.compile(r"[{}\\]")
_OPERATOR = re.compile(r"\\cdot|=|\+|(?<![{(])-")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_NOT_PLAIN = re.compile(r"\\[A-Za-z]+|[{}\s=+]")


@lru_cache(maxsize=1 << 14)  # each line's parts are measured for each layout tried, in every document
def width(latex: str) -> float:
    """About how wide, in points, a piece of displayed LaTeX mathematics prints at 11 pt.

    A linear fit to widths LaTeX measured for the lines of the built-in examples: plain characters,
    sub- and superscript characters, operators with their spacing, and commands (∂, δ, e, …).
    """
    text = _narrowest_fractions(_UNSPACED.sub("", latex))
    scripts = sum(len(_SCRIPT_MARKUP.sub("", found)) for found in _SCRIPT.findall(text))
    text = _SCRIPT.sub("", text)
    operators = len(_OPERATOR.findall(text))
    text = text.replace("\\cdot", "")
    commands = len(_COMMAND.findall(text))
    plain = len(_NOT_PLAIN.sub("", text))
    return 4.8 * plain + 2.7 * scripts + 11 * operators + 6.6 * commands + 8


def _narrowest_fractions(text: str) -> str:
    """Each \\frac{a}{b} replaced by the wider of a and b: a fraction is as wide as its widest part."""
    while (start := text.find(r"\frac{")) >= 0:
        numerator, after = _group(text, start + len(r"\frac"))
        denominator, end = _group(text, after)
        wider = numerator if len(numerator) >= len(denominator) else denominator
        text = text[:start] + "{" + wider + "}" + text[end:]
    return text


def slashed(latex: str) -> str:
    r"""Each \frac{a}{b} written a/b, for a line of text; a part with an operator in parentheses.

    >>> slashed(r"\frac{1}{1 + e^{- x}}")
    '1/\\left(1 + e^{- x}\\right)'
    """
    while (start := latex.find(r"\frac{")) >= 0:
        numerator, after = _group(latex, start + len(r"\frac"))
        denominator, end = _group(latex, after)
        parts = [rf"\left({part}\right)" if re.search(r"[-+ ]", part) else part for part in (numerator, denominator)]
        latex = latex[:start] + "/".join(parts) + latex[end:]
    return latex


def _group(text: str, start: int) -> tuple[str, int]:
    """The contents of the brace group opening at ``start``, and the index just after it."""
    depth, index = 0, start
    while True:
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        index += 1
        if depth == 0:
            return text[start + 1 : index - 1], index


def layout(equation: Equation) -> str:
    """``line`` when the whole equation fits on a line; ``two`` when the numbers and the value fit on a
    second; ``three`` when the value needs a line of its own; ``split`` for a long sum."""
    if equation.formula_terms:
        return "split"
    whole = " = ".join(part for part in (equation.lhs, equation.formula, equation.substituted) if part)
    value = VALUE_WIDTH * len(equation.value) + BOX_AND_TAG
    if width(whole) + value <= LINE_WIDTH:
        return "line"
    if width(equation.substituted) + value <= LINE_WIDTH:
        return "two"
    return "three"
