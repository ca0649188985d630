"""How the printed sheets are set: no display split across pages, a brief detail that reads on its own,
the teacher's note in the solutions beside the number it is about.

Pages are read with pdftotext, which shows what a reader sees, one page at a time."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from derive.document.model import Equation
from tests.conftest import require_tool, run_derive, worksheet_group
from tests.documents import compile_latex

# A continuation line of a display: what follows its first line starts with its = or + sign.
CONTINUATION = re.compile(r"^[=+]")


def page_texts(pdf: Path) -> list[str]:
    """Each page's text in the order it was typeset (pdftotext -raw), pages split at pdftotext's form feeds."""
    pdftotext = require_tool("pdftotext")
    text = subprocess.run([pdftotext, "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def first_lines(pdf: Path) -> list[str]:
    """The first line of text of every page."""
    return [next((line.strip() for line in page.splitlines() if line.strip()), "") for page in page_texts(pdf)]


def split_displays(pdf: Path) -> list[tuple[int, str]]:
    """The pages that begin with the continuation of a display begun on the page before (page, its first line).

    In typesetting order a display's first line starts with its left-hand side; the lines after it start
    with = or +. Nothing else in these documents starts a line with either sign."""
    lines = enumerate(first_lines(pdf), 1)
    return [(number, line) for number, line in lines if number > 1 and CONTINUATION.match(line)]


def continuation_lines(pdf: Path) -> int:
    """How many lines anywhere continue a display: the documents checked must have such lines to split."""
    return sum(1 for page in page_texts(pdf) for line in page.splitlines() if CONTINUATION.match(line.strip()))


def test_the_check_finds_a_display_split_across_pages(tmp_path):
    """The check itself, on a page that LaTeX is allowed to break inside a display."""
    rows = " \\\\\n".join(rf"&= {n} + {n} \cdot x" for n in range(12))
    (tmp_path / "split.tex").write_text(
        "\\documentclass{article}\\usepackage{amsmath}\\allowdisplaybreaks\\begin{document}\n"
        f"\\vspace*{{0.8\\textheight}}\nSome text.\n\\begin{{align*}}\ny {rows}\n\\end{{align*}}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    compile_latex(tmp_path / "split.tex")
    assert split_displays(tmp_path / "split.pdf")[0][0] == 2


SHEETS = [
    ("mazur", "standard", "en"),  # the worked example, whose display split across pages 4 and 5
    ("mazur", "standard", "es"),
    ("mazur", "brief", "en"),
    ("mazur", "full", "en"),
    ("deep", "full", "es"),
    ("softmax", "standard", "en"),
]


@pytest.mark.parametrize(
    ("network", "detail", "language"), [pytest.param(*sheet, marks=worksheet_group(*sheet)) for sheet in SHEETS]
)
def test_no_display_is_split_across_pages(network, detail, language, worksheet_pdfs):
    folder = worksheet_pdfs(network, detail, language)
    for sheet in ("worksheet", "solutions"):
        pdf = folder / f"{sheet}.pdf"
        assert continuation_lines(pdf) > 5, sheet  # displays of several lines, which a page could split
        assert split_displays(pdf) == [], f"{network} {detail} {language} {sheet}"


# -- the brief detail reads on its own --------------------------------------------------------------------


def paragraphs(markdown: str) -> list[str]:
    """The blocks of a Markdown text between blank lines, a display ($$ … $$) as one block."""
    return [block.strip() for block in re.split(r"\n\s*\n", markdown) if block.strip()]


def backward_pass(markdown: str, heading: str) -> list[str]:
    start = markdown.index(f"## {heading}")
    return paragraphs(markdown[start : markdown.index("\n## ", start + 3)])


@pytest.mark.parametrize(
    ("language", "heading", "rule_start", "missing"),
    [
        ("en", "The backward pass", "We use the ", "first two factors"),
        ("es", "La propagación hacia atrás (retropropagación)", "Usamos la ", "dos primeros factores"),
    ],
)
def test_the_brief_detail_reads_on_its_own(language, heading, rule_start, missing):
    blocks = backward_pass(run_derive("explain", "--detail", "brief", "--lang", language).stdout, heading)
    text = "\n".join(blocks)
    assert missing not in text  # it shows no factors to count: δ is in one line
    deltas = [n for n, block in enumerate(blocks) if re.match(r"\$\$\n\\delta_\{(\w+)\} =", block)]
    assert len(deltas) == 4  # o1, o2, h1, h2
    for n in deltas:
        neuron = re.match(r"\$\$\n\\delta_\{(\w+)\}", blocks[n])[1]
        before = blocks[n - 1]
        assert not before.startswith("$$") and f"${neuron}$" in before, before  # a sentence names it
        assert re.search(r"\b(is|gives|es|da)\b", before, re.IGNORECASE), before  # and has a verb
    # every gradient shown as δ times its input after the first δ: a sentence says why, first
    first_gradient = next(n for n in range(deltas[0] + 1, len(blocks)) if blocks[n].startswith("$$"))
    assert not blocks[first_gradient - 1].startswith("$$")
    assert "$\\delta$" in blocks[first_gradient - 1]
    # each rule is said as a sentence with its verb, never as a bare noun phrase ("Power rule and …")
    rules = [block for block in blocks if "chain rule" in block or "regla de la cadena" in block]
    assert rules
    for block in blocks:
        if block.startswith(("$$", "#", "```")):
            continue
        assert not re.match(r"(Power rule|Derivative of|Multivariable|Regla de|Derivada de)", block), block
    assert sum(block.startswith(rule_start) for block in blocks) == 3  # error, activation, sum over paths


@worksheet_group(detail="brief")
def test_the_brief_solutions_say_why_each_line_follows(worksheet_pdfs):
    text = " ".join(" ".join(page_texts(worksheet_pdfs(detail="brief") / "solutions.pdf")).split())
    assert "first two factors" not in text
    assert "We use the power rule and the chain rule" in text and "We use the multivariable chain rule" in text
    assert "The same chain rule gives the error signal of h2:" in text
    assert "With the updated parameters, a new forward pass gives the total error after the step:" in text
    assert "parameters: The" not in text  # no sentence after a colon with a capital, leading nowhere
    # the brief key leaves the pass E_total⁺ sums to the reader: its line is the quantity and its value
    key = (worksheet_pdfs(detail="brief") / "solutions.tex").read_text(encoding="utf-8")
    line = re.escape(r"E_{\text{total}}^{+} & = \answer{0.291027774} \blanktag{") + r"\d+\}$"
    assert re.search("^" + line, key, re.M), "E_total after the step, on its own"


# -- the teacher's note -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "language", "title"),
    [pytest.param("standard", "en", "A note for the teacher", marks=worksheet_group("mazur", "standard", "en"))],
)
def test_the_teachers_note_is_in_the_solutions_beside_its_number(detail, language, title, worksheet_pdfs):
    folder = worksheet_pdfs(detail=detail, language=language)
    assert not any(title in page for page in page_texts(folder / "worksheet.pdf"))
    pages = [" ".join(page.split()) for page in page_texts(folder / "solutions.pdf")]
    holding = [page for page in pages if title in page]
    assert len(holding) == 1
    page = holding[0]
    # on the page of the number it explains, the error after the step, and before the reading of it
    assert page.index("The total error goes from 0.298371109 to 0.291027774") < page.index(title)
    assert page.index(title) < page.index("Reading the result")
    assert title not in pages[-1]  # the last page is not the note's alone


THREE_INPUTS = """
learning_rate = 0.5

[[layers]]
name = "h"
activation = "sigmoid"
weights = [[0.15, 0.20, 0.25], [0.30, 0.35, 0.40]]
bias = 0.35

[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.40, 0.45]]
bias = 0.60

[[examples]]
inputs = [0.05, 0.10, 0.20]
targets = [0.01]
"""


def test_a_sum_of_more_than_three_terms_is_set_three_terms_a_line(tmp_path):
    """net_h1 = w1·i1 + w2·i2 + w3·i3 + b1·1 breaks after three terms, its numbers after two (they are
    wider), each line after the first going on with +; net_o1's three terms stay on one line."""
    (tmp_path / "three.toml").write_text(THREE_INPUTS, encoding="utf-8")
    run_derive("worksheet", str(tmp_path / "three.toml"), "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    hidden = tex[tex.index(r"\mathrm{net}_{h1} &=") :]
    lines = [line.strip() for line in hidden[: hidden.index(r"\answer")].split(r"\\*")]
    assert lines == [
        r"\mathrm{net}_{h1} &= w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + w_{3} \cdot i_{3}",
        r"&\quad + b_{1} \cdot 1",
        r"&= 0.15 \cdot 0.05 + 0.2 \cdot 0.1",
        r"&\quad + 0.25 \cdot 0.2 + 0.35 \cdot 1",
        "&=",
    ]
    output = tex[tex.index(r"\mathrm{net}_{o1} &=") :]
    assert output[: output.index(r"\answer")].count(r"\\*") == 1  # the formula, then numbers and value
    assert r"w_{8} \cdot \mathrm{out}_{h2} + b_{2} \cdot 1 \\*" in output


def _equations(value: object, seen: set[int]) -> Iterator[Equation]:
    """Every line of working in a document's model, each once."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Equation):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for entry in dataclasses.fields(value):
            yield from _equations(getattr(value, entry.name), seen)
    elif isinstance(value, list | tuple | dict):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _equations(item, seen)


@pytest.mark.parametrize("network", ["deep", "softmax", "xor", "rnn"])
def test_each_line_breaks_where_latex_measures_it_too_wide(network, tmp_path):
    """Each line of the key against the widths pdflatex measures in the key's own preamble: a line whose
    whole (value boxed, tag beside it) fits in 90 % of the text width is set on one line, one wider than
    the text is broken, its numbers and value on a second line where they fit there and a third where
    they do not; the left side gets a line of its own when it and the wider of the formula and the
    numbers are wider than the text, and not when they fit in 90 % of it."""
    from derive.core.chain import Derivation
    from derive.document import build
    from derive.spec.files import load_builtin

    run_derive("worksheet", network, "-o", str(tmp_path))
    preamble = (tmp_path / "solutions.tex").read_text(encoding="utf-8").split(r"\begin{document}")[0]
    lines = [
        line
        for line in _equations(build(Derivation(load_builtin(network))), set())
        if line.formula and line.substituted and line.layout != "split"
    ]
    measure = [r"\typeout{LINE:\the\linewidth}", r"\setbox0\hbox{\small(99)\quad}\typeout{TAG:\the\wd0}"]
    for k, line in enumerate(lines):
        parts = {
            "whole": rf"{line.lhs} = {line.formula} = {line.substituted} = \answer{{{line.value}}}",
            "lhs": line.lhs,
            "formula": rf"= {line.formula}",
            "numbers": rf"= {line.substituted} = \answer{{{line.value}}}",
        }
        measure += [
            rf"\setbox0\hbox{{$\displaystyle {text}$}}\typeout{{{k}{part}:\the\wd0}}" for part, text in parts.items()
        ]
    (tmp_path / "measure.tex").write_text(preamble + "\\begin{document}\n" + "\n".join(measure) + "\n\\end{document}\n")
    log = compile_latex(tmp_path / "measure.tex")
    width = {name: float(points) for name, points in re.findall(r"^(\w+):([\d.]+)pt$", log, re.M)}
    text, tag = width["LINE"], width["TAG"]
    for k, line in enumerate(lines):
        whole = width[f"{k}whole"] + tag
        if whole <= 0.9 * text:
            assert line.layout == "line", (line.lhs, whole, text)
        if whole > text:
            assert line.layout != "line", (line.lhs, whole, text)
        numbers = width[f"{k}numbers"] + tag  # the second line: = numbers = value, and the tag
        assert line.layout in ("line", "two", "three"), line.layout
        if line.layout == "two" and not line.lhs_alone:
            assert numbers <= text, (line.lhs, numbers, text)  # the numbers and the value fit on their line
        if line.layout == "three":
            assert numbers > 0.9 * text, (line.lhs, numbers, text)  # the value needed a line of its own
        beside = width[f"{k}lhs"] + max(width[f"{k}formula"], numbers)
        if beside <= 0.9 * text:
            assert not line.lhs_alone, (line.lhs, beside, text)
        if beside > text:
            assert line.lhs_alone, (line.lhs, beside, text)
    assert {line.layout for line in lines} >= {"line", "two"}
