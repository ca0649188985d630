"""From a network to finished files: the explanation, worksheets, solutions, PDFs.

Everything is rendered, and compiled when asked, before anything is written; files are then
written all or nothing by :mod:`derive.publishing.writing`, so a failed run leaves earlier output
intact and writes nothing of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from derive.core.steps import Steps, build_steps
from derive.document import Document, ExamSetting, from_steps, schedule_of
from derive.document.frames import Frames
from derive.document.slides import PATH_PALETTE, path_sum, to_figures
from derive.errors import DeriveError
from derive.outputs.render import Renderer, default_renderer, meaning
from derive.publishing.latex import compile_pdfs
from derive.publishing.webpage import page
from derive.spec.files import read_user_file
from derive.spec.model import NetworkSpec
from derive.spec.variants import variant
from derive.training.descent import train
from derive.training.worked import worked

CURVE_STEPS = 1000  # the training run drawn at the end of the solutions and the explanation
EXERCISES = ("numbers", "formulas", "exam")
PAPERS = ("a4", "letter")
SLIDE_FIGURES = 4  # significant figures on a slide: enough to follow, short enough to read from afar
SLIDE_DECIMALS = 20  # the slides' document, before its numbers are rounded to SLIDE_FIGURES


@dataclass(frozen=True)
class Options:
    """How a document is written: its language and notation, the digits shown, which gradients, how fully."""

    language: str = "en"
    notation: str | None = None
    digits: int = 9
    only: Sequence[str] = ()
    detail: str = "standard"
    matrix: bool = False
    paper: str = "a4"
    example: int | None = None  # online or mini-batch learning: work the update of this example
    renderer: Renderer | None = None

    @property
    def templates(self) -> Renderer:
        return self.renderer or default_renderer()


def document_steps(spec: NetworkSpec, options: Options) -> Steps:
    """The steps of the update a document works on (:func:`derive.training.worked.worked`)."""
    return build_steps(worked(spec, options.example).derivation, options.only, options.detail)


def document(
    spec: NetworkSpec,
    options: Options,
    *,
    curve_steps: int = 0,
    ask: Sequence[str] = (),
    steps: Steps | None = None,
    mark_unrounded: bool = False,
    exam: ExamSetting | None = None,
) -> Document:
    """The document data of a network, in the language's default notation unless one is given.

    With ``ask`` (keys, or ``["default"]`` for the default exam), the document carries an exam's
    questions, each value asked with its meaning in the document's language, marked as ``exam`` sets. A network that
    learns online or in mini-batches is worked on one update: the first, or ``options.example``'s.
    ``steps`` are :func:`document_steps` when the caller has them already. ``mark_unrounded`` marks
    the values not the product of their rounded numbers, as an answer key does.
    """
    catalog = options.templates.catalog(options.language)
    steps = steps or document_steps(spec, options)
    setting = exam or ExamSetting()
    history = train(spec, curve_steps).shown_history() if curve_steps else ()  # ends at 40 digits
    doc = from_steps(
        steps,
        notation=options.notation or catalog("notation"),
        digits=options.digits,
        only=options.only,
        detail=options.detail,
        matrix=options.matrix,
        history=history,
        ask=list(ask),
        schedule=schedule_of(worked(spec, options.example)),
        mark_unrounded=mark_unrounded,
        marks=setting.marks,
        figures=setting.figures,
    )
    for part in (part for question in doc.questions for part in question.parts if part.key):
        step = steps.find(part.key)
        trained = step.kind == "update" and step.blank is not None  # the exam says "update", not "step"
        part.meaning = catalog("exam.update", parameter=step.subject) if trained else meaning(step, catalog)
    return doc


def explanation(spec: NetworkSpec, curve_steps: int = CURVE_STEPS, **options: Any) -> str:
    """The Markdown explanation of one step of backpropagation (its matrix form, its training curve)."""
    chosen = Options(**options)
    doc = document(spec, chosen, curve_steps=curve_steps)
    return chosen.templates.render("markdown/explanation.md.j2", chosen.language, doc=doc)


def html_page(
    spec: NetworkSpec,
    *,
    worksheet: bool = False,
    curve_steps: int = CURVE_STEPS,
    scorm: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """The explanation as one self-contained web page; with ``worksheet``, every blank an input the
    page checks by the rule of derive check; with ``scorm``, also the other variants and the bridge
    to an LMS (:mod:`derive.publishing.scorm`)."""
    chosen = Options(**options)
    steps = document_steps(spec, chosen)
    doc = document(spec, chosen, curve_steps=0 if worksheet else curve_steps, steps=steps)
    catalog = chosen.templates.catalog(chosen.language)
    extra = {"scorm": scorm} if scorm is not None else {}
    return chosen.templates.render(
        "html/page.html.j2", chosen.language, doc=doc, page=page(doc, steps, catalog), worksheet=worksheet, **extra
    )


@dataclass(frozen=True)
class Sheet:
    """One student's document, with their number among the variants and their name from a roster."""

    doc: Document
    variant: int | None
    student: str | None


def worksheet_files(
    spec: NetworkSpec,
    *,
    exercise: str = "numbers",
    ask: Sequence[str] = (),
    variants: int = 0,
    seed: int = 0,
    student: int | None = None,
    roster: Sequence[str] = (),
    combined: bool = False,
    curve_steps: int = CURVE_STEPS,
    exam: ExamSetting | None = None,
    **options: Any,
) -> dict[str, str]:
    """The exercise and its answer key; with variants, numbered pairs and ``answers.tex``.

    ``numbers`` and ``formulas`` write ``worksheet.tex`` and ``solutions.tex``, ``exam`` writes
    ``exam.tex`` and ``exam-solutions.tex``. ``student`` marks ``spec`` as that student's variant (its
    number in the titles), so that one student's files are byte-identical to theirs among all the
    variants. Each sheet is headed with the student's name from ``roster`` or their number.
    ``combined`` adds ``class-worksheets.tex`` and ``class-solutions.tex``: every student's compiled
    sheet gathered into one document (compile them after the sheets, with :func:`class_pdfs`).
    ``exam`` sets an exam's marks, time, figures asked and header.
    """
    chosen = Options(**options)
    if exercise not in EXERCISES:
        raise DeriveError(f"unknown exercise {exercise!r} (expected one of: {', '.join(EXERCISES)})", key="--exercise")
    if chosen.paper not in PAPERS:
        raise DeriveError(f"unknown paper {chosen.paper!r} (expected one of: {', '.join(PAPERS)})", key="--paper")
    kinds = ("exam", "exam-solutions") if exercise == "exam" else ("worksheet", "solutions")
    ask = (ask or ["default"]) if exercise == "exam" else ()
    numbers = range(1, variants + 1) if variants else [student]
    sheets = []
    for number in numbers:
        mine = variant(spec, seed, number) if variants else spec
        name = roster[number - 1] if variants and number - 1 < len(roster) else None
        sheet = document(mine, chosen, curve_steps=curve_steps, ask=ask, mark_unrounded=True, exam=exam)
        sheets.append(Sheet(sheet, number, name))
    setting = exam or ExamSetting()
    header = {"setting": setting, "minutes": setting.duration(sheets[0].doc.marks)}
    context = {"kind": exercise, "paper": chosen.paper, "exam": header}
    render = chosen.templates.render
    files: dict[str, str] = {}
    for sheet in sheets:
        for kind in kinds:
            files[f"{kind}{_suffix(sheet, variants)}.tex"] = render(
                f"latex/{kind}.tex.j2",
                chosen.language,
                doc=sheet.doc,
                variant=sheet.variant,
                student=sheet.student,
                **context,
            )
    if variants:
        docs = [sheet.doc for sheet in sheets]
        files["answers.tex"] = render("latex/answers.tex.j2", chosen.language, docs=docs, **context)
    if combined:
        for kind, name in zip(kinds, CLASS_DOCUMENTS, strict=True):
            pdfs = [f"{kind}{_suffix(sheet, variants)}.pdf" for sheet in sheets]
            files[name] = render("latex/class.tex.j2", chosen.language, pdfs=pdfs, **context)
    return files


CLASS_DOCUMENTS = ("class-worksheets.tex", "class-solutions.tex")


def _suffix(sheet: Sheet, variants: int) -> str:
    return f"-{sheet.variant:02d}" if variants else ""


def class_pdfs(texts: Mapping[str, str], *, every: bool) -> dict[str, bytes]:
    """The PDFs of :func:`worksheet_files`' documents: the sheets first (one pdflatex per core), then the
    class's combined documents gathering them, which only copy their pages.  Without ``every``, only
    the combined PDFs are returned (the sheets are compiled for them, not kept)."""
    combined = {name: text for name, text in texts.items() if name in CLASS_DOCUMENTS}
    sheets = {name: text for name, text in texts.items() if name not in combined}
    if not every:
        sheets = {name: text for name, text in sheets.items() if name != "answers.tex"}
    pdfs = compile_pdfs(sheets)
    gathered = compile_pdfs(combined, files=pdfs) if combined else {}
    return (pdfs if every else {}) | gathered


def slides_files(
    spec: NetworkSpec, *, handout: bool = False, figures: int = SLIDE_FIGURES, **options: Any
) -> dict[str, str]:
    """``slides.tex``: a Beamer deck revealing the derivation factor by factor, its numbers to ``figures``
    significant figures, to be read from the back of a hall (0: the document's decimals).

    ``handout`` prints each frame once, with everything revealed, for paper, with the document's decimals.
    """
    chosen = Options(**options)
    catalog = chosen.templates.catalog(chosen.language)
    shown = Frames(slides_document(spec, chosen, figures), False, catalog)
    doc = slides_document(spec, chosen, 0) if handout else shown.doc
    figures = 0 if handout else figures
    text = chosen.templates.render(
        "beamer/slides.tex.j2",
        chosen.language,
        doc=doc,
        handout=handout,
        figures=figures,
        digits=chosen.digits,
        paths=path_sum(doc),
        path_palette=PATH_PALETTE,
        frames=Frames(doc, True, catalog, like=shown) if handout else shown,
    )
    return {"slides-handout.tex" if handout else "slides.tex": text}


def slides_document(spec: NetworkSpec, chosen: Options, figures: int) -> Document:
    """The document a deck shows: each number rounded once to ``figures`` significant figures, from one
    that carries many more decimals (0: the document's own decimals, as the handout prints them)."""
    if not figures:
        return document(spec, chosen)
    return to_figures(document(spec, replace(chosen, digits=SLIDE_DECIMALS)), figures)


ROSTER_FILE = "expected a CSV file with a student column"
MAX_NAME = 100  # characters in a student's name: a heading, not a paragraph


def read_roster(path: Path, variants: int) -> list[str]:
    """The ``student`` column of a roster CSV, one name per variant in order (fewer names than variants is fine).

    The file is read as every other file a user gives is (a regular UTF-8 file of at most 16 MiB); a name
    is one printable line of at most MAX_NAME characters.
    """
    source = str(path)
    text = read_user_file(path, ROSTER_FILE)
    rows = _roster_rows(text, source)
    if not rows or not any(cell.strip() for cell in rows[0][1]):
        raise DeriveError("is empty; expected a CSV file with a header row naming a student column", source=source)
    header = [cell.strip().lower() for cell in rows[0][1]]
    if "student" not in header:
        heading = ", ".join(rows[0][1])[:200]
        raise DeriveError(f"has no student column (its header is: {heading})", source=source, key="line 1")
    column = header.index("student")
    names = []
    for number, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise DeriveError(
                f"expected {len(header)} cells, as the header has, got {len(row)}", source=source, key=f"line {number}"
            )
        names.append(_student_name(row[column].strip(), source, number))
    if len(names) > variants:
        raise DeriveError(
            f"lists {len(names)} students but only {variants} variants are asked for; use --variants {len(names)}",
            source=source,
        )
    return names


def _roster_rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    """The rows, each with the line it starts on; a cell past the CSV reader's size is refused by line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    line = 1
    try:
        for cells in reader:
            rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as error:
        reason = "a cell longer than the CSV reader takes" if "field limit" in str(error) else str(error)
        raise DeriveError(f"not valid CSV: {reason}", source=source, key=f"line {reader.line_num}") from None
    return rows


def _student_name(name: str, source: str, line: int) -> str:
    if len(name) > MAX_NAME:
        message = f"a student's name of {len(name):,} characters; expected at most {MAX_NAME}"
        raise DeriveError(message, source=source, key=f"line {line}")
    unprintable = next((char for char in name if not char.isprintable()), None)
    if unprintable is not None:
        raise DeriveError(
            f"the name has the character {unprintable!r}, which cannot be printed; expected a name on one line",
            source=source,
            key=f"line {line}",
        )
    return name
