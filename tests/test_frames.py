"""What the slides expect a frame to hold (derive.document.frames), against what LaTeX sets.

The deck's frames are filled from estimates: how wide a step's line is at each size, and so on how
many rows it goes; these tests measure the same lines with LaTeX, in the deck's own fonts, and
compile the decks whose frames the estimates fill most (tests/test_conv.py compiles the CNN's and
the recurrent network's).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import re
import statistics
import tomllib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from derive.document.frames import LINE_GAP, SIZES, TEXT_LINE, TEXT_WIDTH, WIDER, Frames, fits, rows_height, step_rows
from derive.document.typeset import width
from derive.publishing.latex import compile_pdfs
from derive.publishing.publish import SLIDE_FIGURES, Options, slides_document, slides_files
from derive.spec.files import builtin_names, load_builtin
from tests.conftest import require_tool


def step_lines() -> list[str]:
    """Every step of the built-in decks that the working sets on one line when it fits: the net inputs, the
    factors of each δ and each gradient's result, as ``lhs = formula = numbers = value``."""
    found: dict[str, None] = {}
    for name in builtin_names():
        doc = slides_document(load_builtin(name), Options(), SLIDE_FIGURES)
        gradients = [gradient for section in doc.backward for part in section.parts for gradient in part.gradients]
        steps = [neuron.net for example in doc.examples for row in example.layers for neuron in row]
        steps += [gradient.result for gradient in gradients]
        steps += [factor.equation for g in gradients for delta in g.deltas for factor in delta.factors]
        for eq in steps:
            found[" = ".join(part for part in (eq.lhs, eq.formula, eq.substituted, eq.value) if part)] = None
    return list(found)


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], float]:
    """LaTeX's width, in points, of each step line at each size the deck sets working in, in the deck's fonts."""
    require_tool("pdflatex")
    lines = step_lines()
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]
    boxes = "\n".join(
        rf"\setbox0\hbox{{\{size}$\displaystyle {line}$}}\typeout{{WIDTH {size} {n} \the\wd0}}"
        for n, line in enumerate(lines)
        for size in SIZES
    )
    logs: dict[str, str] = {}
    compile_pdfs(
        {"widths.tex": preamble + r"\begin{document}\begin{frame}" + boxes + r"\end{frame}\end{document}"}, logs=logs
    )
    return {
        (size, lines[int(n)]): float(points)
        for size, n, points in re.findall(r"^WIDTH (\w+) (\d+) ([\d.]+)pt", logs["widths.tex"], re.MULTILINE)
    }


def test_every_step_is_measured_at_every_size(measured):
    assert len(measured) == len(step_lines()) * len(SIZES) > 600


@pytest.mark.parametrize("size", list(SIZES))
def test_a_lines_estimated_width_is_latexs_within_a_fifth(measured, size):
    """At each size the estimate is LaTeX's width within 3 % in the middle (the median) and within 20 %
    for every line: a line the estimate puts on one row fits, a line it breaks would not, but near the edge."""
    ratios = {line: width(line) * WIDER[size] / points for (at, line), points in measured.items() if at == size}
    assert abs(statistics.median(ratios.values()) - 1) <= 0.03, statistics.median(ratios.values())
    worst = max(ratios, key=lambda line: abs(ratios[line] - 1))
    assert abs(ratios[worst] - 1) <= 0.2, (ratios[worst], worst)


def test_a_line_clearly_narrower_than_the_column_is_set_on_one_row(measured):
    """Where LaTeX's line is a quarter narrower than the column (or wider), the estimate says so too."""
    for (size, line), points in measured.items():
        for column in (0.62, 0.64, 0.69, 1.0):
            room = column * TEXT_WIDTH
            if points <= 0.75 * room:
                assert fits(line, size, column), (size, column, points, line)
            elif points >= 1.25 * room:
                assert not fits(line, size, column), (size, column, points, line)


def test_the_handout_prints_the_slides_frames_with_its_own_numbers():
    """The handout follows the slides frame for frame (its smaller type would fit more on some), so that a
    page of it and a frame on the screen share their number; its numbers keep the document's decimals."""
    from derive.outputs.render import default_renderer

    spec = load_builtin("rnn")
    catalog = default_renderer().catalog("en")
    slides = Frames(slides_document(spec, Options(), SLIDE_FIGURES), False, catalog)
    handout = Frames(slides_document(spec, Options(), 0), True, catalog, like=slides)
    places = [(i, j) for i, section in enumerate(slides.doc.backward) for j, _ in enumerate(section.parts)]
    long = [(i, j) for i, j in places if len(slides.gradient(slides.doc.backward[i].parts[j])) > 1]
    assert long  # a weight through time's working takes more than one frame
    for i, j in long:
        planned = slides.gradient(slides.doc.backward[i].parts[j])
        printed = handout.gradient(handout.doc.backward[i].parts[j])
        assert [[entry.kind for entry in frame] for frame in printed] == [[e.kind for e in frame] for frame in planned]
        values = [entry.item.value for frame in printed for entry in frame if entry.kind == "line"]
        # the document's decimals, not the slides' four significant figures
        assert all(len(value.rpartition(".")[2].lstrip("0")) > 4 for value in values if "." in value), values


def test_the_sentence_that_opens_the_forward_pass_after_the_step_takes_its_room():
    """Two neurons of the worked example share a frame; a sentence above them as tall as the frame leaves
    room for one on the first frame, not on the next."""
    from derive.document.frames import FRAME_BODY, neuron_frames

    doc = slides_document(load_builtin("mazur"), Options(), SLIDE_FIGURES)
    row = doc.after_examples[0].layers[0]
    assert [len(frame) for frame in neuron_frames(row, lead=0.0)] == [2]
    assert [len(frame) for frame in neuron_frames(row + row, lead=FRAME_BODY)] == [1, 2, 1]


def aligned(rows: list[str]) -> str:
    """Rows as the deck's ``\\stepline`` sets them, aligned at their first "=" (a sum's "+" rows indented)."""
    marked = []
    for n, row in enumerate(rows):
        if n == 0 and " = " in row:
            marked.append(row.replace(" = ", " &= ", 1))
        elif row.startswith(("= ", "+ ")):
            marked.append("&" + row if row.startswith("=") else r"&\quad " + row)
        else:
            marked.append(row + " &")
    return r"\begin{aligned} " + r" \\ ".join(marked) + r"\end{aligned}"


def test_a_steps_estimated_height_is_latexs_within_a_band(tmp_path):
    """Each step of the built-in decks, set in the rows the estimate chooses at each size and column the
    deck uses, and measured by LaTeX with its skip: the estimate's height is LaTeX's within 5 % in the
    middle at every size and within −30 % to +20 % for every step (a lone line with a tall bracket is
    the most under-estimated; the margin under the frame's body covers it)."""
    require_tool("pdflatex")
    cases = []
    for name in builtin_names():
        doc = slides_document(load_builtin(name), Options(), SLIDE_FIGURES)
        gradients = [g for section in doc.backward for part in section.parts for g in part.gradients]
        steps = [g.result for g in gradients] + [f.equation for g in gradients for d in g.deltas for f in d.factors]
        for eq in steps:
            for size, column in (
                ("footnotesize", 0.69),
                ("normalsize", 0.69),
                ("large", 0.62),
                ("Large", 1.0),
                ("LARGE", 1.0),
            ):
                cases.append((size, step_rows(eq, size, column)))
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]
    boxes = "\n".join(
        rf"\setbox0\vbox{{\hsize=300pt\{size}\noindent$\displaystyle {aligned(rows)}$\par\medskip}}"
        rf"\typeout{{HEIGHT {n} \the\ht0 \the\dp0}}"
        for n, (size, rows) in enumerate(cases)
    )
    logs: dict[str, str] = {}
    compile_pdfs(
        {"heights.tex": preamble + r"\begin{document}\begin{frame}" + boxes + r"\end{frame}\end{document}"}, logs=logs
    )
    measured = {
        int(n): float(height) + float(depth)
        for n, height, depth in re.findall(r"^HEIGHT (\d+) ([\d.]+)pt ?([\d.]+)pt", logs["heights.tex"], re.MULTILINE)
    }
    assert len(measured) == len(cases) > 600
    ratios: dict[str, list[float]] = {}
    for n, points in measured.items():
        size, rows = cases[n]
        ratio = (rows_height(rows, size, "medskip") - LINE_GAP) / points  # LaTeX's box has no interline glue
        ratios.setdefault(size, []).append(ratio)
        if any(r"\frac" in row and "^{(" in row for row in rows):  # an example's fraction, the tallest kind of row
            ratios.setdefault("an example's fraction", []).append(ratio)
        assert 0.7 <= ratio <= 1.2, (size, ratio, rows)
    assert len(ratios["an example's fraction"]) > 20
    for size, found in ratios.items():
        assert abs(statistics.median(found) - 1) <= 0.05, (size, statistics.median(found))


def test_the_listed_deltas_estimated_height_is_latexs_within_the_steps_band(tmp_path):
    """The δs a frame lists by value (a sentence, then two to a row), as the deck sets them in its working
    column: their estimated height is LaTeX's within the band a step's is (−30 % to +20 %), for an odd and an
    even number of them, with an example's superscript and without."""
    from derive.document.frames import _measure
    from derive.outputs.render import default_renderer
    from derive.spec.files import load_path
    from tests.test_conv import two_channels_two_convolutions, two_filters_avgpool

    require_tool("pdflatex")
    catalog = default_renderer().catalog("en")
    lead = re.escape("{\\small " + catalog("slides.other_deltas"))
    specs = [load_builtin("cnn")] + [
        load_path(make().write(tmp_path, make.__name__))
        for make in (two_filters_avgpool, two_channels_two_convolutions)
    ]
    cases = []
    for spec in specs:
        frames = Frames(slides_document(spec, Options(), SLIDE_FIGURES), False, catalog)
        height = _measure(frames.working_size, frames.working_column)
        parts = [part for section in frames.doc.backward for part in section.parts if part.kind != "cite"]
        listed = [
            entry for part in parts for frame in frames.gradient(part) for entry in frame if entry.kind == "listed"
        ]
        blocks = re.findall(lead + r".*?\\end\{tabular\}\\par\}", slides_files(spec)["slides.tex"], re.DOTALL)
        assert len(blocks) == len(listed) > 0
        cases += [
            (height(entry), len(entry.item), frames.working_column, block)
            for entry, block in zip(listed, blocks, strict=True)
        ]
    assert {count % 2 for _, count, _, _ in cases} == {0, 1}
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]
    boxes = "\n".join(
        rf"\setbox0\vbox{{\hsize={column * TEXT_WIDTH:.2f}pt\normalsize {block}}}"
        rf"\typeout{{HEIGHT {n} \the\ht0 \the\dp0}}"
        for n, (_, _, column, block) in enumerate(cases)
    )
    logs: dict[str, str] = {}
    compile_pdfs(
        {"listed.tex": preamble + r"\begin{document}\begin{frame}" + boxes + r"\end{frame}\end{document}"}, logs=logs
    )
    measured = re.findall(r"^HEIGHT (\d+) ([\d.]+)pt ?([\d.]+)pt", logs["listed.tex"], re.MULTILINE)
    assert len(measured) == len(cases)
    for n, height, depth in measured:
        estimated, count, _, block = cases[int(n)]
        assert 0.7 <= estimated / (float(height) + float(depth)) <= 1.2, (count, estimated, height, depth)
        # the estimate counts the rows the deck sets them in: the sentence and its skip, then a row per two δs
        rows = block.count("\\\\")
        assert rows == (count + 1) // 2 and estimated == pytest.approx((2 + rows) * TEXT_LINE * SIZES["small"])


def test_a_sentences_estimated_lines_are_latexs_or_one_more():
    """The sentences that open frames (each citing frame's naming its δs, the forward pass's after the
    step), in both languages, set by LaTeX in their column at their size: the estimate's line count is
    LaTeX's, or one more (a frame is never filled past what it holds) in at most one sentence of ten, never
    fewer; its height is those lines and LaTeX's \\smallskip below them."""
    from derive.document.frames import CHARACTER, prose_height
    from derive.outputs.render import default_renderer

    require_tool("pdflatex")
    cases = []
    for language in ("en", "es"):
        catalog = default_renderer().catalog(language)
        for name in builtin_names():
            frames = Frames(
                slides_document(load_builtin(name), Options(language=language), SLIDE_FIGURES), False, catalog
            )
            cases.append((frames.after_lead, "normalsize", 1.0))
            for section in frames.doc.backward:
                gradients = [g for part in section.parts if part.kind == "cite" for g in part.gradients]
                for group in frames.cited(gradients) if gradients else []:
                    deltas = ", ".join(f"${cite}$" for cite in dict.fromkeys(c for g in group for c in g.cites))
                    cases.append((catalog("slides.cites", deltas=deltas), frames.cited_size, frames.cited_column))
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]
    boxes = "\n".join(
        rf"\setbox0\vbox{{\hsize={column * TEXT_WIDTH:.2f}pt\{size} {text}\par\xdef\lines{{\the\prevgraf}}}}"
        rf"\typeout{{LINES {n} \lines}}"
        for n, (text, size, column) in enumerate(cases)
    )
    boxes += "".join(rf"{{\{size}\typeout{{SKIP {size} \the\baselineskip}}}}" for size in SIZES)
    boxes += r"\typeout{SMALLSKIP \the\smallskipamount}"
    logs: dict[str, str] = {}
    compile_pdfs(
        {"lines.tex": preamble + r"\begin{document}\begin{frame}" + boxes + r"\end{frame}\end{document}"}, logs=logs
    )
    measured = {int(n): int(lines) for n, lines in re.findall(r"^LINES (\d+) (\d+)", logs["lines.tex"], re.MULTILINE)}
    assert len(measured) == len(cases) > 20
    # a line of prose is its size's baselineskip, within 6 %
    skips = re.findall(r"^SKIP (\w+) ([\d.]+)pt", logs["lines.tex"], re.MULTILINE)
    assert len(skips) == len(SIZES)
    for size, skip in skips:
        assert abs(TEXT_LINE * SIZES[size] / float(skip) - 1) <= 0.06, (size, skip)
    # a sentence's height: whole lines, and below them the skip LaTeX's \smallskip is
    smallskip = float(re.search(r"^SMALLSKIP ([\d.]+)pt", logs["lines.tex"], re.MULTILINE)[1])
    over = 0
    for n, lines in measured.items():
        text, size, column = cases[n]
        estimated = (prose_height(text, size, column, "smallskip") - smallskip) / (TEXT_LINE * SIZES[size])
        assert estimated == pytest.approx(round(estimated), abs=1e-9), (estimated, text)
        assert lines <= round(estimated) <= lines + 1, (estimated, lines, size, CHARACTER, text)
        over += round(estimated) > lines
    assert over <= len(measured) // 10, over  # one more line in at most one sentence of ten


def test_the_frame_is_as_wide_and_holds_as_much_as_the_estimates_say():
    """In the deck's own preamble: the text is TEXT_WIDTH wide, and a [t] frame of two columns under a
    one-line title holds a column FRAME_BODY tall (and a point more: the margin), but not 6 pt more."""
    from derive.document.frames import FRAME_BODY

    require_tool("pdflatex")
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]

    def frame(height: float) -> str:
        return (
            r"\begin{frame}[t]{The gradient of $w_{1}$}\begin{columns}[T]\begin{column}{0.3\textwidth}x\end{column}"
            rf"\begin{{column}}{{0.68\textwidth}}\rule{{1pt}}{{{height}pt}}\end{{column}}\end{{columns}}\end{{frame}}"
        )

    body = r"\typeout{TEXTWIDTH \the\textwidth}" + frame(FRAME_BODY + 1) + frame(FRAME_BODY + 6)
    logs: dict[str, str] = {}
    compile_pdfs({"frame.tex": preamble + r"\begin{document}" + body + r"\end{document}"}, logs=logs)
    log = logs["frame.tex"]
    assert float(re.search(r"^TEXTWIDTH ([\d.]+)pt", log, re.MULTILINE)[1]) == pytest.approx(TEXT_WIDTH, abs=0.05)
    overfull = re.findall(r"Overfull \\vbox", log)
    assert len(overfull) == 1  # the second frame's column only


def stepline_forms(tex: str) -> list[list[str]]:
    r"""The forms each ``\stepline`` of a deck offers, in the deck's order (its three arguments in order: one
    line, two rows, more rows), without spaces or alignment marks (the rows' texts, wherever they align)."""
    found = []
    for start in (match.end() for match in re.finditer(r"\\stepline(?=\{)", tex)):
        forms = []
        for _ in range(3):
            assert tex[start] == "{", tex[start : start + 40]  # the arguments follow one another
            depth, end = 0, start
            while True:
                depth += {"{": 1, "}": -1}.get(tex[end], 0) if _backslashes(tex, end) % 2 == 0 else 0
                end += 1
                if depth == 0:
                    break
            forms.append(squeezed(tex[start + 1 : end - 1]))
            start = end
        found.append(forms)
    return found


def _backslashes(tex: str, end: int) -> int:
    """How many backslashes stand just before ``end``: an odd number escapes the brace there (\\{), an even
    number is a row break before it."""
    count = 0
    while end - count > 0 and tex[end - count - 1] == "\\":
        count += 1
    return count


def as_set(rows: list[str]) -> str:
    """Rows as the deck sets them: a lone row as it is, more rows in an aligned block (:func:`aligned`), without
    spaces or alignment marks."""
    return squeezed(rows[0] if len(rows) == 1 else aligned(rows))


@pytest.mark.parametrize("name", builtin_names())
def test_the_rows_a_step_is_measured_in_are_rows_the_deck_sets(name):
    r"""What the estimate measures is what the deck prints: each line of a gradient's working and each cited
    gradient, in the rows :func:`step_rows` chooses at the size and column the deck sets it in (the whole
    line, the numbers on a second row, a long sum's terms and numbers so many a row, or the formula, the
    numbers and the value each on its own), is one of the forms its own ``\stepline`` offers, met in the
    deck's order."""
    from derive.outputs.render import default_renderer

    spec = load_builtin(name)
    frames = Frames(slides_document(spec, Options(), SLIDE_FIGURES), False, default_renderer().catalog("en"))
    offered = iter(stepline_forms(slides_files(spec)["slides.tex"]))
    measured = []
    for section in frames.doc.backward:
        for part in (part for part in section.parts if part.kind != "cite"):  # the cited gradients come after
            size, column = frames.working_size, frames.working_column
            steps = [entry.item for frame in frames.gradient(part) for entry in frame if entry.kind == "line"]
            measured += [step_rows(eq, size, column) for eq in steps]
        cited = [g.result for part in section.parts if part.kind == "cite" for g in part.gradients]
        measured += [step_rows(eq, frames.cited_size, frames.cited_column) for eq in cited]
    assert len(measured) > 10
    for rows in measured:  # each in a \stepline of its own, after the one before's
        assert any(as_set(rows) in forms for forms in offered), rows


def measured_lines(spec: Any) -> list[tuple[str, Any, list[str]]]:
    """What the estimate measures in a deck's backward pass, in the deck's order: each gradient's chain rule
    (the line the deck writes for it, and the rows measured), each line of its working, each cited result."""
    from derive.document.frames import _statement_rows
    from derive.outputs.render import default_renderer

    frames = Frames(slides_document(spec, Options(), SLIDE_FIGURES), False, default_renderer().catalog("en"))
    size, column = frames.working_size, frames.working_column
    found: list[tuple[str, Any, list[str]]] = []
    for section in frames.doc.backward:
        for part in (part for part in section.parts if part.kind != "cite"):
            for entry in (entry for frame in frames.gradient(part) for entry in frame):
                if entry.kind == "statement":
                    gradient, more = entry.item, entry.more
                    written = " + ".join(gradient.statement[: len(gradient.statement) - more])
                    line = f"{gradient.lhs} = {written}" + (r" + \cdots" if more else "")
                    found.append(("statement", line, _statement_rows(gradient, more, size, column)))
                elif entry.kind == "line":
                    found.append(("line", entry.item, step_rows(entry.item, size, column)))
        cited = [g.result for part in section.parts if part.kind == "cite" for g in part.gradients]
        found += [("cited", eq, step_rows(eq, frames.cited_size, frames.cited_column)) for eq in cited]
    return found


def working_frames(name: str, body: str, wanted: set[str]) -> list[str]:
    r"""The frames of a deck's body that hold a wanted ``\stepline``, each numbered ``\measuredstep{name-n}``
    in the deck's order, without their pictures (whose column is as wide without them)."""
    count = itertools.count()
    body = re.sub(r"\\stepline(?=\{)", lambda _: rf"\measuredstep{{{name}-{next(count)}}}", body)
    frames = re.findall(r"\\begin\{frame\}.*?\\end\{frame\}", body, flags=re.DOTALL)
    return [
        re.sub(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", "", frame, flags=re.DOTALL)
        for frame in frames
        if set(re.findall(r"\\measuredstep\{([^}]*)\}", frame)) & wanted
    ]


def set_by(
    kind: str, item: Any, rows: list[str], offered: Iterator[tuple[int, list[str]]]
) -> tuple[int, list[str], int]:
    r"""The ``\stepline`` that sets a measured line (the next in the deck's order that offers it), its forms,
    and which of them the estimate measured; a chain rule on several rows is measured in as many as it has."""
    if kind != "statement":
        mine = as_set(rows)
        n, forms = next((n, forms) for n, forms in offered if mine in forms)
        return n, forms, forms.index(mine)
    n, forms = next((n, forms) for n, forms in offered if forms[0] == squeezed(item))
    if len(rows) > 1:
        assert forms[1].count("\\\\") + 1 == len(rows), (n, rows)
    return n, forms, 0 if len(rows) == 1 else 1


# The widths, as a share of the line, within which the estimate may take the other form than LaTeX does:
# its widths are LaTeX's within a fifth, and it errs towards more rows (a frame is then never overfilled)
THRESHOLD_BAND = (0.88, 1.06)


def test_each_line_is_measured_in_the_form_latex_sets_it_in():
    r"""Every built-in deck's backward pass, with each ``\stepline`` reporting the widths LaTeX measures in
    the frame's own column: the form the estimate measured (one line, the numbers on a second row, or more
    rows) is the one LaTeX sets, save where the line's width is within the band around the column's
    (at most one line in eight); a chain rule set on several rows is measured in as many rows as the deck sets."""
    require_tool("pdflatex")
    preamble, bodies, cases = "", [], []
    for name in builtin_names():
        spec = load_builtin(name)
        tex = slides_files(spec)["slides.tex"]
        head, body = tex.split(r"\begin{document}")
        assert not preamble or re.sub(r"\\subtitle\{.*\}", "", head) == re.sub(r"\\subtitle\{.*\}", "", preamble)
        preamble = head  # every deck's preamble is the same but for its subtitle
        offered = iter(enumerate(stepline_forms(tex)))
        for kind, item, rows in measured_lines(spec):
            n, forms, estimated = set_by(kind, item, rows, offered)
            cases.append((f"{name}-{n}", forms, estimated))
        bodies += working_frames(name, body.split(r"\end{document}")[0], {case[0] for case in cases})
    report = (
        r"\newcommand{\measuredstep}[4]{\setbox2\hbox{$\displaystyle #2$}\setbox4\hbox{$\displaystyle #3$}"
        r"\typeout{STEP #1 \the\wd2\space\the\wd4\space\the\linewidth}\stepline{#2}{#3}{#4}}"
    )
    document = preamble.replace(r"\documentclass[", r"\documentclass[handout,", 1) + report
    logs: dict[str, str] = {}
    compile_pdfs({"steps.tex": document + r"\begin{document}" + "\n".join(bodies) + r"\end{document}"}, logs=logs)
    widths = {
        key: (float(one) / float(line), float(two) / float(line))
        for key, one, two, line in re.findall(
            r"^STEP (\S+) ([\d.]+)pt ?([\d.]+)pt ?([\d.]+)pt", logs["steps.tex"], re.M
        )
    }
    assert len(cases) > 200 and {case[0] for case in cases} <= set(widths)
    apart = []
    for key, forms, estimated in cases:
        one, two = widths[key]
        chosen = 0 if one <= 1 else 1 if two <= 1 else 2
        if forms[chosen] != forms[estimated]:
            deciding = one if 0 in (chosen, estimated) else two
            assert THRESHOLD_BAND[0] <= deciding <= THRESHOLD_BAND[1], (key, estimated, chosen, one, two)
            apart.append(key)
    assert len(apart) <= len(cases) // 8, apart


@pytest.mark.parametrize("count", [4, 5, 6])
def test_a_long_sum_takes_at_least_two_rows_of_terms(count):
    """A sum of more than three terms is set so many terms a row, at most half of them (rounded up), however
    short: a long sum's rows show it is a sum, never one row as long as the line it replaces."""
    from derive.document.frames import terms_per_row
    from derive.document.model import Equation

    eq = Equation("g", "", "", "1", 0)
    eq.formula_terms = [f"a_{n}" for n in range(count)]
    eq.terms = [str(n) for n in range(count)]
    assert terms_per_row(eq, "normalsize", 1.0) == (count + 1) // 2


@pytest.fixture(scope="module")
def deck_lengths() -> dict[str, float]:
    r"""From LaTeX, in the deck's preamble: each size's \baselineskip (a line of prose), \medskipamount,
    \smallskipamount, \lineskip, and what stands between two tall lines set one under the other."""
    require_tool("pdflatex")
    preamble = slides_files(load_builtin("mazur"))["slides.tex"].split(r"\begin{document}")[0]
    body = "".join(rf"{{\{size}\typeout{{LENGTH {size} \the\baselineskip}}}}" for size in SIZES)
    body += r"\typeout{LENGTH medskip \the\medskipamount}\typeout{LENGTH smallskip \the\smallskipamount}"
    body += r"\typeout{LENGTH lineskip \the\lineskip}"
    # two tall lines one under the other, as a frame's working sets its steps: what stands between them
    tall = r"$\displaystyle \frac{\partial E_{\text{total}}}{\partial w_{1}} = \frac{1}{2}$"
    body += rf"\setbox0\vbox{{\noindent{tall}\par}}\setbox2\vbox{{\noindent{tall}\par\smallskip\noindent{tall}\par}}"
    body += r"\typeout{LENGTH between \the\dimexpr\ht2+\dp2-2\ht0-2\dp0\relax}"
    logs: dict[str, str] = {}
    compile_pdfs(
        {"lengths.tex": preamble + r"\begin{document}\begin{frame}" + body + r"\end{frame}\end{document}"}, logs=logs
    )
    found = {name: float(points) for name, points in re.findall(r"^LENGTH (\w+) ([\d.]+)pt", logs["lengths.tex"], re.M)}
    assert set(found) == {*SIZES, "medskip", "smallskip", "lineskip", "between"}
    return found


def long_sum(count: int) -> Any:
    """δ_h1 = Σ_k δ_ok·w_k over ``count`` outputs, with six-figure numbers: a sum too long for one row."""
    from derive.document.model import Equation

    eq = Equation(r"\delta_{h1}", "", "", "0.123456", 0)
    eq.formula_terms = [rf"\delta_{{o{n}}} \cdot w_{{{n}}}" for n in range(1, count + 1)]
    eq.terms = [rf"0.{n:06d} \cdot (-0.{n + 1:06d})" for n in range(1, count + 1)]
    return eq


def test_the_gaps_between_a_frames_lines_are_latexs_own(deck_lengths):
    r"""The estimate's skips are LaTeX's \smallskip and \medskip, and the gap it puts under every displayed
    line is \lineskip, which is what LaTeX sets between two tall lines besides the skip."""
    from derive.document.frames import SKIPS

    assert SKIPS == {"smallskip": deck_lengths["smallskip"], "medskip": deck_lengths["medskip"]}
    assert LINE_GAP == deck_lengths["lineskip"]
    assert deck_lengths["between"] == pytest.approx(LINE_GAP + SKIPS["smallskip"], abs=0.01)


def sum_height(eq: Any, each: int, size: str) -> float:
    """The estimate's height of a long sum's rows, ``each`` terms a row."""
    from derive.document.frames import _term_rows

    return rows_height(_term_rows(eq, each), size, "medskip")


def sum_fits(eq: Any, each: int, size: str, column: float) -> bool:
    """Whether a long sum's rows, ``each`` terms a row, aligned after its left side, fit the column's width."""
    from derive.document.frames import _term_rows, rows_fit

    rows = _term_rows(eq, each)
    return rows_fit(eq.lhs, [rows[0].removeprefix(eq.lhs), *rows[1:]], size, column)


@pytest.mark.parametrize(("size", "column"), [("normalsize", 0.69), ("small", 0.64), ("footnotesize", 0.69)])
def test_a_long_sum_takes_more_terms_a_row_only_to_stand_under_a_sentence_of_three_lines(size, column, deck_lengths):
    """A long sum is set as many terms a row as fit the column, unless its rows would stand taller than
    the frame's body under a sentence of three lines (LaTeX's \\baselineskip at the size) and a \\medskip;
    then with as few more as bring them under it. Sums of 6 to 40 terms, at the working's sizes."""
    from derive.document.frames import FRAME_BODY, terms_per_row

    room = FRAME_BODY - 3 * deck_lengths[size] - deck_lengths["medskip"]
    slack = 2.0  # the estimate's line is LaTeX's \baselineskip within 6 %: three lines, within two points
    widened = 0
    for count in range(6, 41):
        eq = long_sum(count)
        half = (count + 1) // 2

        fitting = next((each for each in range(half, 0, -1) if sum_fits(eq, each, size, column)), 1)
        each = terms_per_row(eq, size, column)
        assert fitting <= each <= half, (count, fitting, each)
        if each > fitting:  # widened only because the rows one fewer a row stand taller than the room
            widened += 1
            assert sum_height(eq, each - 1, size) > room - slack, (count, each, room)
        if each < half:  # and the rows it takes stand under the room
            assert sum_height(eq, each, size) <= room + slack, (count, each, room)
    assert widened > 5


@given(
    heights=st.lists(st.integers(1, 120), max_size=12),
    room=st.integers(60, 220),
    most=st.one_of(st.none(), st.integers(1, 4)),
)
@example(heights=[60, 40, 10], room=100, most=None)  # the first frame filled to the point
def test_packing_fills_each_frame_in_order_until_the_next_would_not_fit(heights, room, most):
    """What goes on a frame: everything, in order, each frame holding as many as fit its room (at least one,
    at most ``most``), and a frame ends only where the next item would overflow it or it is full."""
    from derive.document.frames import _packed

    items = list(enumerate(heights))  # each item its own, so that order and loss show
    frames = list(_packed(items, lambda item: item[1], room, most))
    assert [item for frame in frames for item in frame] == items
    for n, frame in enumerate(frames):
        used = sum(height for _, height in frame)
        assert frame and (most is None or len(frame) <= most)
        assert used <= room or len(frame) == 1
        if n + 1 < len(frames):
            assert used + frames[n + 1][0][1] > room or len(frame) == most


@pytest.mark.parametrize("detail", ["brief", "standard", "full"])
@pytest.mark.parametrize("name", builtin_names())
def test_a_gradients_frame_shows_its_first_line_at_once_and_reveals_each_later_one(name, detail):
    r"""Every frame of a gradient's working (its picture in one column, the working in the other, or the
    gradients that cite known δs beside theirs) opens with a line of working, never an empty column, and
    reveals each later line on an overlay of its own: one ``\pause`` between two lines (the δs listed by value
    count as a line), none before the first."""
    frames = deck_frames(load_builtin(name), detail=detail)
    working = [frame for frame in frames if frame.startswith(GRADIENT_TITLES) and frame.count(r"\begin{column}") == 2]
    assert working
    for frame in working:
        column = frame.split(r"\begin{column}")[2]
        lines = "".join(
            "|" if token == r"\pause" else "L" for token in re.findall(r"\\pause|\\stepline|\\begin\{tabular\}", column)
        )
        assert re.fullmatch(r"L(\|L)*", lines), (lines, frame[:300])


ENGLISH = tomllib.loads((Path(__file__).parent.parent / "templates" / "i18n" / "en.toml").read_text(encoding="utf-8"))
# a frame of gradients' working or of gradients that cite known δs, by its title; the latter by its sentence
GRADIENT_TITLES = tuple(
    "[t]{" + title.split("{")[0] for title in (ENGLISH["gradient_of"], ENGLISH["slides"]["gradients_of"])
)
CITES = ENGLISH["slides"]["cites"].split("}", 1)[1].split(",")[0]  # " known"


def frame_columns(frame: str) -> list[tuple[float, str]]:
    """A frame's columns: each one's share of the text width, and what it sets."""
    found = re.findall(r"\\begin\{column\}\{([\d.]+)\\textwidth\}(.*?)\\end\{column\}", frame, re.DOTALL)
    return [(float(share), body.strip()) for share, body in found]


def deck_frames(spec: Any, handout: bool = False, detail: str = "standard") -> list[str]:
    """The frames of a deck (or of its printed handout), each from its title on."""
    files = slides_files(spec, handout=handout, detail=detail)
    return files["slides-handout.tex" if handout else "slides.tex"].split(r"\begin{frame}")[1:]


@pytest.mark.parametrize("name", builtin_names())
def test_a_frames_columns_share_the_text_width_and_a_deeper_network_is_drawn_wider(name):
    """Every frame of two columns (a picture beside a gradient's working or the gradients that cite known
    δs, or a sum over paths beside its network) gives them 0.98 of the text width, Beamer's gap between them
    the rest; a gradient's picture takes 0.29 of it for a network drawn in two layers and 0.34 for a deeper
    one (its columns of neurons closer), the citing gradients' picture 0.02 more."""
    spec = load_builtin(name)
    drawn = len(slides_document(spec, Options(), SLIDE_FIGURES).layers)
    picture = {"working": set(), "cited": set()}
    for frame in deck_frames(spec):
        columns = frame_columns(frame)
        if len(columns) == 2:
            assert sum(share for share, _ in columns) == pytest.approx(0.98), frame[:120]
            if frame.startswith(GRADIENT_TITLES):
                picture["cited" if CITES in columns[1][1] else "working"].add(columns[0][0])
    expected = 0.29 if drawn <= 2 else 0.34
    assert picture == {"working": {expected}, "cited": {round(expected + 0.02, 2)}}


@pytest.mark.parametrize("handout", [False, True], ids=["slides", "handout"])
@pytest.mark.parametrize("name", [*builtin_names(), "mazur with weight decay"])
def test_each_frames_working_is_set_in_its_own_size(name, handout):
    r"""The sizes the deck sets its working in, read from its frames: a gradient's working \normalsize
    (\small with weight decay's longer lines), the gradients that cite known δs \large with one example and
    \normalsize with several, a forward-pass frame's two neurons \Large and one neuron \LARGE; the printed
    handout a size or two smaller (\footnotesize; \small or \footnotesize; \normalsize)."""
    spec = load_builtin(name.split()[0])
    if "decay" in name:
        spec = dataclasses.replace(spec, weight_decay=Fraction(1, 100))
    several = len(spec.examples) > 1
    working = "footnotesize" if handout else "small" if "decay" in name else "normalsize"
    cited = ("footnotesize" if several else "small") if handout else ("normalsize" if several else "large")
    neurons = {1: "normalsize", 2: "normalsize"} if handout else {1: "LARGE", 2: "Large"}
    seen = collections.Counter()
    for frame in deck_frames(spec, handout):
        columns = frame_columns(frame)
        if frame.startswith(GRADIENT_TITLES) and len(columns) == 2:
            kind = "cited" if CITES in columns[1][1] else "working"
            assert columns[1][1].startswith("\\" + {"cited": cited, "working": working}[kind]), columns[1][1][:80]
            seen[kind] += 1
        elif frame.startswith("[t]{" + ENGLISH["forward_pass"]) and r"\stepline" in frame:
            count = frame.count(r"\stepline") // 2  # a neuron's net input and output
            assert count in neurons, frame[:160]  # one neuron or two
            assert frame.split("\n", 1)[1].startswith("\\" + neurons[count] + "\n"), frame[:160]
            seen[count] += 1
    assert seen["working"] and seen["cited"] and seen[1] + seen[2]


def test_a_gradients_working_is_grouped_as_statement_then_each_delta_then_its_result():
    """How each gradient's working is grouped over its frames (groups never share a frame; a group that does
    not fit goes on in the next), in every built-in deck at each detail: a derived gradient opens with its
    chain rule's statement (a brief run has none); when it derives several δs factor by factor, each δ's lines
    make a group of their own; its result goes with the last δ's unless it sums more than two terms or lists the
    other δs by value, when it makes a group of its own."""
    from derive.document.frames import gradient_groups
    from derive.document.slides import SPELLED_AT_MOST
    from derive.spec.checks import from_mapping
    from tests.test_slides import fan_out

    networks = {name: load_builtin(name) for name in builtin_names()}
    networks |= {"fan-out": from_mapping(tomllib.loads(fan_out(5)))}  # six δs: some listed by value
    xor = networks["xor"]
    networks["xor, three examples"] = dataclasses.replace(xor, examples=xor.examples[:3])  # sums of three terms
    seen = collections.Counter()
    for (name, spec), detail in itertools.product(networks.items(), ("brief", "standard", "full")):
        doc = slides_document(spec, Options(detail=detail), SLIDE_FIGURES)
        frames = Frames(doc, False, lambda *_, **__: "")
        size, column = frames.working_size, frames.working_column
        for part in (part for section in doc.backward for part in section.parts if part.kind != "cite"):
            groups = gradient_groups(part, detail, size=size, column=column)
            entries = [entry for group in groups for entry in group]
            assert (entries[0].kind == "statement") == (part.kind == "derive"), (name, detail)
            assert [entry.kind for entry in entries[1:]].count("statement") == 0
            first = part.gradients[0]
            if part.kind != "derive" or len(first.deltas) < 2 or any(delta.inline for delta in first.deltas):
                assert len(groups) == 1, (name, detail, first.symbol)
                continue
            lines = {id(d): [f.equation for f in d.factors] + ([] if d.coupled else [d.equation]) for d in first.deltas}
            shown = [entry.item for entry in entries]
            derived = [d for d in first.deltas if any(line is item for line in lines[id(d)] for item in shown)]
            others = [d for d in first.deltas if d not in derived]
            assert len(derived) == len(first.deltas) or len(first.deltas) > SPELLED_AT_MOST  # else listed by value
            # the statement alone; each derived δ's lines; the δs listed by value and the results, alone or after
            # the last δ's lines
            tail = ([others] if others else []) + [gradient.result for gradient in part.gradients]
            with_delta = first.terms <= 2 and not others
            expected = [[entries[0].item]] + [lines[id(delta)] for delta in derived]
            expected = [*expected[:-1], expected[-1] + tail] if with_delta else [*expected, tail]
            assert [[entry.item for entry in group] for group in groups] == expected, (name, detail, first.symbol)
            kinds = ["statement"] + ["listed" if isinstance(entry.item, list) else "line" for entry in entries[1:]]
            assert [entry.kind for entry in entries] == kinds
            seen["with the last δ" if with_delta else "listed" if others else f"{first.terms} terms"] += 1
    assert seen["with the last δ"] and seen["listed"] and seen["3 terms"], seen


@pytest.mark.parametrize("name", builtin_names())
def test_a_long_chain_rule_writes_its_first_three_terms_and_says_how_many_more(name):
    r"""A gradient's chain rule on its first frame, set one row per term where it does not fit one line: all
    its terms up to four; past four, the first three and a row "+ ⋯ (and N more terms)", N the terms not
    written. Read from the rows of the statement's ``\stepline`` in the deck, against the gradient's terms."""
    from derive.outputs.render import default_renderer

    spec = load_builtin(name)
    catalog = default_renderer().catalog("en")
    frames = Frames(slides_document(spec, Options(), SLIDE_FIGURES), False, catalog)
    offered = stepline_forms(slides_files(spec)["slides.tex"])
    cut = 0
    for part in (part for section in frames.doc.backward for part in section.parts if part.kind == "derive"):
        gradient = part.gradients[0]
        lhs, terms = squeezed(gradient.lhs) + "=", [squeezed(term) for term in gradient.statement]
        ours = next(forms for forms in offered if any(form.startswith(lhs + terms[0]) for form in forms))
        aligned_rows = next(form for form in ours if form.startswith(r"\begin{aligned}"))
        rows = aligned_rows.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}").split("\\\\")
        written = [row.removeprefix(lhs).removeprefix(r"\quad+") for row in rows]
        if len(terms) <= 4:
            assert written == terms, gradient.symbol
            continue
        cut += 1
        more = squeezed(catalog("slides.terms_more", count=len(terms) - 3))
        assert written[:3] == terms[:3] and len(written) == 4, (gradient.symbol, written)
        assert written[3] == rf"\cdots\quad\text{{({more})}}", written[3]
    assert cut or name != "cnn"  # a kernel entry sums its nine positions


def squeezed(latex: str) -> str:
    """LaTeX without its spaces or alignment marks, as :func:`stepline_forms` gives each form."""
    return re.sub(r"[\s&]+", "", latex)


def top_level_terms(row: str) -> int:
    """How many terms a row of a sum has: its + signs outside braces and brackets, and one."""
    depth, count = 0, 1
    for n, character in enumerate(row):
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(character, 0)
        count += character == "+" and depth == 0 and n > 0
    return count


@pytest.mark.parametrize("name", builtin_names())
def test_the_handout_sets_a_long_sums_terms_in_two_rows(name):
    r"""The printed handout, which follows the slides' frames with longer numbers, sets each long sum (a total
    over examples, a gradient summed over terms) in two rows of terms and two of numbers, the first of each
    holding half of the terms, rounded up."""
    handout = slides_files(load_builtin(name), handout=True)["slides-handout.tex"]
    sums = [form for forms in stepline_forms(handout) for form in forms if r"\\=" in form and r"\quad+" in form]
    if name == "xor":
        assert sums  # four examples: E_total and each gradient sum four terms
    for form in sums:
        rows = form.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}").split("\\\\")
        numbers = next(n for n, row in enumerate(rows) if row.startswith("="))
        rows[-1] = rows[-1].rsplit("=", 1)[0]  # the value after the last row of numbers
        terms = [row.removeprefix(r"\quad+") if row.startswith(r"\quad+") else row.split("=", 1)[1] for row in rows]
        for block in (terms[:numbers], terms[numbers:]):
            counts = [top_level_terms(row) for row in block]
            assert counts == [math.ceil(sum(counts) / 2), sum(counts) - math.ceil(sum(counts) / 2)], (counts, form)


def wide_neuron(examples: int) -> Any:
    """A hidden neuron of seven inputs feeding one output: six of its gradients cite the δ its first derives."""
    from derive.spec.checks import from_mapping

    layers = [
        {"name": "h", "activation": "sigmoid", "weights": [[0.1, 0.2, -0.1, 0.3, 0.2, -0.2, 0.1]], "bias": 0.1},
        {"name": "o", "activation": "sigmoid", "weights": [[0.4]], "bias": 0.2},
    ]
    data = [{"inputs": [0.1 * (n + k) for n in range(7)], "targets": [0.5]} for k in range(examples)]
    return from_mapping({"learning_rate": 0.5, "layers": layers, "examples": data})


@pytest.mark.parametrize(("examples", "most"), [(1, 4), (2, 2)])
def test_gradients_that_cite_a_known_delta_go_four_to_a_frame_or_two_with_several_examples(examples, most):
    """The gradients that need no new δ share frames: at most four a frame with one example, two with several
    (each then a sum over the examples), in order, on as few frames as that allows where they fit."""
    frames = [frame for frame in deck_frames(wide_neuron(examples)) if CITES in frame]
    counts = [frame.split(CITES, 1)[1].count(r"\stepline") for frame in frames]
    hidden = 7 + 1 - 1  # h's seven weights and its bias, less the first weight, which derives δ_h1
    # the output layer's section first (its bias cites δ_o1), then h's, `most` a frame and the rest
    assert counts == [1] + [most] * (hidden // most) + ([hidden % most] if hidden % most else []), counts


@pytest.mark.parametrize(("language", "handout"), [("en", False), ("es", True)], ids=["slides", "handout"])
def test_an_examples_errors_go_on_over_as_many_frames_as_they_need(language, handout, tmp_path):
    """A recurrent network with two targets at each of four steps has eight errors an example, their sum,
    and E_total: once all on one frame, 64 to 82 pt past its foot. They go on over the next frame, titled
    "(continued)", each line once and in order, in the slides and the handout; the error frames compile
    without an overfull box (LaTeX's own check, in the deck's preamble)."""
    from derive.outputs.render import default_renderer
    from derive.spec.files import load_path
    from tests.test_recurrent import every_step

    require_tool("pdflatex")
    catalog = default_renderer().catalog(language)
    spec = load_path(every_step().write(tmp_path, "every"))
    doc = slides_document(spec, Options(language=language), SLIDE_FIGURES)
    tex = "".join(slides_files(spec, language=language, handout=handout).values())
    preamble, body = tex.split(r"\begin{document}")
    frames = re.findall(
        r"\\begin\{frame\}\[t\]\{" + re.escape(catalog("error")) + r".*?\\end\{frame\}", body, re.DOTALL
    )
    titles = [re.match(r"\\begin\{frame\}\[t\]\{(.*)\}", frame)[1] for frame in frames]
    continued = f" ({catalog('slides.continued')})"
    assert len(frames) > len(doc.examples) and sum(title.endswith(continued) for title in titles) == len(frames) - 2
    lhs = [squeezed(e.lhs) for example in doc.examples for e in [*example.errors, example.total]] + [
        squeezed(doc.total.lhs)
    ]
    shown = [form[0].split("=")[0] for frame in frames for form in stepline_forms(frame)]
    assert shown == lhs
    logs: dict[str, str] = {}
    compile_pdfs({"errors.tex": preamble + r"\begin{document}" + "\n".join(frames) + r"\end{document}"}, logs=logs)
    assert "Overfull \\vbox" not in logs["errors.tex"], handout
