"""What the web page needs beyond the document: its pictures as SVG, and what its worksheet checks with.

The page's worksheet marks a student's numbers in the browser by the rule of ``derive check``
(:func:`derive.assessment.grading.agrees`, with its constants, which are written into the page from
:mod:`derive.assessment.grading` so that there is one source, and the significant figures the document
asks for, :data:`derive.document.precision.ANSWER_FIGURES` unless told).  A Spanish page reads
"0,5933" as derive check ``--lang es`` does, and "0.5933" too.  Each step's formula goes into the page as
JavaScript printed from its SymPy expression by SymPy's JavaScript code printer, every symbol read
from one array of values, so that the page recomputes a step from the student's own earlier values
just as :func:`derive.assessment.grading.grade` does.  The same printer writes the catalogue's
mistaken formulas of each step (:mod:`derive.assessment.mistakes`) and the factors a student's error
could make trivial (:mod:`derive.assessment.simplified`), so that the page names a mistake, and
refuses a trivialised carried-forward step, as ``derive check`` does.  Nothing the page computes is
sent anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp
from markupsafe import Markup
from sympy.printing.jscode import JavascriptCodePrinter

from derive.assessment.answers import MAX_NUMBER_TEXT, NUMBER_PATTERN
from derive.assessment.grading import EXACT_SLACK, FLOAT_RELATIVE, as_decimal
from derive.assessment.mistakes import Model, variants
from derive.assessment.simplified import factors, value_at
from derive.core.safe_forms import exp_minus_one, log_one_plus_exp, softplus, whole
from derive.core.steps import Step, Steps
from derive.document import Document
from derive.errors import DeriveError
from derive.outputs.diagram import computation_svg, curve_svg, network_svg, plot_svg
from derive.outputs.render import Catalog, meaning, svg_marked

# The page computes a carried-forward value in double precision and rounds it to this many
# significant digits before the rule compares: a value that is an exact short decimal (0.4 − 0.5 ·
# 0.0822 = 0.3589) comes out exact, as derive check's 40 digits give it, and the 1e-12 allowance for
# values copied from a float64 program is a hundred times wider than what the rounding moves.
REFERENCE_DIGITS = 14
# Pixels between the layers of the page's network: closer than in a quiz's picture, so that a phone,
# which scales the picture to its width, still shows the weights on the edges at a size to read.
PAGE_COLUMN = 150
# What a formula printed as JavaScript may hold: v[3], Math.exp, numbers, operators, the ?: of a
# ReLU.  Nothing else can reach the page's script, whatever a network file holds.
_SAFE_SCRIPT = re.compile(r"[\w\s.+\-*/(),?:<>=!&|\[\]]*")


class _StepFormula(JavascriptCodePrinter):
    """SymPy's JavaScript printer, each symbol read from the page's array of values: ``v[3]``."""

    def __init__(self, index: Mapping[sp.Symbol, int]) -> None:
        super().__init__()
        self.index = index
        self._printed: dict[sp.Expr, str] = {}

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return f"v[{self.index[expr]}]"

    def _print_log(self, expr: sp.log) -> str:
        """log(1 + e^x) in the form that never overflows a double (:func:`.safe_forms.softplus`)."""
        if (exponent := log_one_plus_exp(expr)) is not None:
            x = whole(self._print(exponent), exponent)
            return softplus(
                x, "Math.exp", "Math.log1p", lambda test, then, otherwise: f"({test} ? {then} : {otherwise})"
            )
        return self._print_Function(expr)  # Math.log, as SymPy's JavaScript printer writes any log

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        """e^x − 1 = Math.expm1(x), which keeps a small x's digits."""
        if (exponent := exp_minus_one(expr)) is not None:
            return f"Math.expm1({self._print(exponent)})"
        return super()._print_Add(expr, order)

    def function(self, formula: sp.Expr, key: str) -> str:
        """``(v) => …``: the formula in JavaScript, checked to hold nothing but arithmetic."""
        found = self._printed.get(formula)  # pragma: no mutate (a cache: a miss prints the formula again)
        if found is None:
            code = " ".join(self.doprint(formula).split())
            if not _SAFE_SCRIPT.fullmatch(code):
                raise DeriveError(f"the formula of step {key} printed as unexpected JavaScript: {code!r}")
            found = self._printed[formula] = f"(v) => {code}"
        return found


# A class's variants share their formulas (only the numbers differ), and so one printer, which
# prints each formula once.
@lru_cache(maxsize=16)  # pragma: no mutate (a class's symbols; a miss makes another printer)
def _printer(symbols: tuple[sp.Symbol, ...]) -> _StepFormula:
    return _StepFormula({symbol: n for n, symbol in enumerate(symbols)})


def formulas_script(steps: Steps) -> tuple[Markup, list[sp.Symbol]]:
    """Every step's formula as a JavaScript function of the array ``v``, in document order, and the
    symbols in the order the array holds their values."""
    symbols = list(dict.fromkeys([*steps.given, *(step.symbol for step in steps)]))
    printer = _printer(tuple(symbols))
    return Markup("[\n" + ",\n".join(printer.function(step.formula, step.key) for step in steps) + "\n]"), symbols


def _functions(printer: _StepFormula, key: str, formulas: list[sp.Expr]) -> str:
    """Formulas as a JavaScript array of functions of ``v``."""
    return "[" + ", ".join(printer.function(formula, key) for formula in formulas) + "]"


def _candidates(steps: Steps, step: Step) -> list[sp.Expr]:
    """The factors of a step's formula that a student's error could make trivial: exactly neither 0 nor 1."""
    found = []
    for factor in factors(step.formula):
        exact = value_at(factor, {}, steps.values) if factor.free_symbols else None
        if exact is not None and exact not in (0, 1):
            found.append(factor)
    return found


@dataclass(frozen=True)
class Diagnoses:
    """What the page's check needs to name a mistake: each step's mistaken formulas and the factors that
    may turn trivial (JavaScript, by the printer of the steps' own formulas), and the messages (JSON)."""

    mistakes: Markup
    factors: Markup
    data: dict[str, Any]


def diagnoses(steps: Steps, symbols: list[sp.Symbol], t: Catalog) -> Diagnoses:
    """The catalogue of :mod:`derive.assessment.mistakes` for every step, as the page applies it."""
    position = {symbol: n for n, symbol in enumerate(symbols)}
    printer = _printer(tuple(symbols))
    model = Model(steps)
    mistakes, trivial, said, uses = [], [], [], []
    for step in steps:
        found = list(variants(model, step))
        mistakes.append(_functions(printer, step.key, [variant.formula for _, variant in found]))
        said.append(
            [[mistake, t(f"mistakes.{mistake}", step=step.quantity, **variant.names)] for mistake, variant in found]
        )
        candidates = _candidates(steps, step)
        trivial.append(_functions(printer, step.key, candidates))
        uses.append(
            {
                "formula": sorted(position[symbol] for symbol in step.formula.free_symbols),
                "factors": [sorted(position[symbol] for symbol in factor.free_symbols) for factor in candidates],
            }
        )
    data = {
        "mistakes": said,
        "uses": uses,
        "tooFewDigits": t("mistakes.too_few_digits", digits="{digits}"),
        "simplified": t("mistakes.simplified", answer="{answer}"),
    }
    return Diagnoses(Markup("[\n" + ",\n".join(mistakes) + "\n]"), Markup("[\n" + ",\n".join(trivial) + "\n]"), data)


def checking_data(steps: Steps, symbols: list[sp.Symbol], figures: int, mark: str) -> dict[str, Any]:
    """What the page's check needs: the rule's constants, the significant figures the worksheet asks
    for, the language's decimal mark (an answer may be written with it, or with a point), and every
    step's key, blank, symbol, the symbols its formula takes and its exact value (40 digits, as
    derive check compares)."""
    position = {symbol: n for n, symbol in enumerate(symbols)}
    return {
        "minDigits": figures,
        "decimalMark": mark,
        "floatRelative": str(FLOAT_RELATIVE),
        "exactSlack": str(EXACT_SLACK),
        "number": NUMBER_PATTERN,
        "maxLength": MAX_NUMBER_TEXT,
        "referenceDigits": REFERENCE_DIGITS,
        "values": [repr(float(steps.values[symbol])) for symbol in symbols],
        "steps": [
            {
                "key": step.key,
                "blank": step.blank,
                "symbol": position[step.symbol],
                "exact": str(as_decimal(step.value)),
            }
            for step in steps
        ],
    }


def json_script(data: object) -> Markup:
    """JSON to sit inside ``<script type="application/json">``: no ``<`` can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@dataclass
class Page:
    """The page's pictures and scripts, each ready to set in the page (SVG, JSON, JavaScript)."""

    network: Markup  # the network, as the section on the network shows it
    stepper: Markup  # the same, each neuron and edge marked for the step-through's highlighting
    graphs: dict[str, Markup]  # each gradient's computation graph, by parameter name
    plots: dict[str, Markup]  # each activation's plot, by name
    curve: Markup | None
    checking: Markup  # JSON: the rule's constants and the steps, and the mistakes' messages
    formulas: Markup  # JavaScript: the steps' formulas
    mistakes: Markup  # JavaScript: each step's mistaken formulas, the catalogue's
    factors: Markup  # JavaScript: each step's factors that a student's error could make trivial
    meanings: dict[str, str]  # what each blank asks for, by key
    max_length: int  # characters an answer may have, as derive check reads them


def page(doc: Document, steps: Steps, t: Catalog) -> Page:
    """Everything the page shows besides the document's text and mathematics, its numbers written
    with the language's decimal mark."""

    def picture(svg: str) -> Markup:
        return Markup(svg_marked(svg, t.decimal_mark))

    title = t("html.network_title")
    workings = [working for section in doc.backward for working in section.gradients]
    graphs = {
        working.name: picture(
            computation_svg(working.graph, t("html.graph_title", name=working.name), f"graph-{working.name}-")
        )
        for working in workings
    }
    plotted = [delta.plot for working in workings for delta in working.deltas if delta.plot]
    plotted += [f.plot for working in workings for delta in working.deltas for f in delta.factors if f.plot]
    plots = {
        plot.activation: picture(
            plot_svg(
                plot,
                t("html.plot_title", name=t(f"activations.{plot.activation}"), low=plot.low, high=plot.high),
                doc.notation,
            )
        )
        for plot in plotted
    }
    curve = None
    if doc.curve is not None:
        curve = picture(curve_svg(doc.curve, t("html.curve_title", steps=doc.curve.steps), t("training_axis")))
    formulas, symbols = formulas_script(steps)
    diagnosed = diagnoses(steps, symbols, t)
    checking = {**checking_data(steps, symbols, doc.figures, t.decimal_mark), "diagnosis": diagnosed.data}
    return Page(
        network=picture(network_svg(doc.nodes, doc.edges, title, marked="network-", column=PAGE_COLUMN)),
        stepper=picture(network_svg(doc.nodes, doc.edges, title, marked="path-", column=PAGE_COLUMN)),
        graphs=graphs,
        plots=plots,
        curve=curve,
        checking=json_script(checking),
        formulas=formulas,
        mistakes=diagnosed.mistakes,
        factors=diagnosed.factors,
        meanings={step.key: meaning(step, t) for step in steps if step.blank is not None},
        max_length=MAX_NUMBER_TEXT,
    )
