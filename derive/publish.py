"""From a network to finished files: the explanation, worksheets, solutions, PDFs.

Everything is rendered, and compiled when asked, before anything is written; files are then
written atomically (a temporary file renamed into place), so a failed run leaves earlier output
intact and writes nothing of its own.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derive.chain import Derivation
from derive.document import Document, default_ask, from_steps
from derive.errors import DeriveError
from derive.render import Renderer, default_renderer, meaning
from derive.spec import NetworkSpec
from derive.steps import build_steps
from derive.training import train
from derive.variants import variant

LATEX_TIMEOUT = 180  # seconds for one compilation
CURVE_STEPS = 1000  # the training run drawn at the end of the solutions and the explanation
EXERCISES = ("numbers", "formulas", "exam")
PAPERS = ("a4", "letter")


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
    renderer: Renderer | None = None

    @property
    def templates(self) -> Renderer:
        return self.renderer or default_renderer()


def document(spec: NetworkSpec, options: Options, *, curve_steps: int = 0, ask: Sequence[str] = ()) -> Document:
    """The document data of a network, in the language's default notation unless one is given.

    With ``ask`` (keys, or ``["default"]`` for E_total, two gradients and their updates), the document
    carries an exam's questions, each with its meaning in the document's language.
    """
    catalog = options.templates.catalog(options.language)
    steps = build_steps(Derivation(spec), options.only, options.detail)
    keys = default_ask(steps) if list(ask) == ["default"] else list(ask)
    history = train(spec, curve_steps).history if curve_steps else ()
    doc = from_steps(
        steps,
        notation=options.notation or catalog("notation"),
        digits=options.digits,
        only=options.only,
        detail=options.detail,
        matrix=options.matrix,
        history=history,
        ask=keys,
    )
    for question in doc.questions:
        question.meaning = meaning(steps.find(question.key), catalog)
    return doc


def explanation(spec: NetworkSpec, curve_steps: int = CURVE_STEPS, **options: Any) -> str:
    """The Markdown explanation of one step of backpropagation (its matrix form, its training curve)."""
    chosen = Options(**options)
    doc = document(spec, chosen, curve_steps=curve_steps)
    return chosen.templates.render("markdown/explanation.md.j2", chosen.language, doc=doc)


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
    **options: Any,
) -> dict[str, str]:
    """The exercise and its answer key; with variants, numbered pairs and ``answers.tex``.

    ``numbers`` and ``formulas`` write ``worksheet.tex`` and ``solutions.tex``, ``exam`` writes
    ``exam.tex`` and ``exam-solutions.tex``. ``student`` marks ``spec`` as that student's variant (its
    number in the titles), so that one student's files are byte-identical to theirs among all the
    variants. ``combined`` adds ``class-worksheets.tex`` and ``class-solutions.tex``: every student's
    sheet in one document, headed with their name from ``roster`` or their number.
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
        sheets.append(Sheet(document(mine, chosen, curve_steps=curve_steps, ask=ask), number, name))
    context = {"kind": exercise, "paper": chosen.paper, "student": None}
    render = chosen.templates.render
    files: dict[str, str] = {}
    for sheet in sheets:
        suffix = f"-{sheet.variant:02d}" if variants else ""
        for kind in kinds:
            files[f"{kind}{suffix}.tex"] = render(
                f"latex/{kind}.tex.j2", chosen.language, doc=sheet.doc, variant=sheet.variant, **context
            )
    if variants:
        docs = [sheet.doc for sheet in sheets]
        files["answers.tex"] = render("latex/answers.tex.j2", chosen.language, docs=docs, **context)
    if combined:
        for kind, name in zip(kinds, ("class-worksheets.tex", "class-solutions.tex"), strict=True):
            # the sheets share one notation: the first one's document sets the templates' shared names
            first = sheets[0].doc
            files[name] = render(
                "latex/class.tex.j2", chosen.language, sheets=sheets, kind_of_sheet=kind, doc=first, **context
            )
    return files


def slides_files(spec: NetworkSpec, **options: Any) -> dict[str, str]:
    """``slides.tex``: a Beamer deck revealing the derivation factor by factor."""
    chosen = Options(**options)
    doc = document(spec, chosen)
    return {"slides.tex": chosen.templates.render("beamer/slides.tex.j2", chosen.language, doc=doc)}


def read_roster(path: Path, variants: int) -> list[str]:
    """The ``student`` column of a roster CSV, one name per variant in order (fewer names than variants is fine)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise DeriveError(
            f"cannot be read ({reason}); expected a CSV file with a student column", source=source
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DeriveError("is empty; expected a CSV file with a header row naming a student column", source=source)
    header = [cell.strip().lower() for cell in rows[0]]
    if "student" not in header:
        raise DeriveError(f"has no student column (its header is: {', '.join(rows[0])})", source=source, key="line 1")
    column = header.index("student")
    names = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise DeriveError(
                f"expected {len(header)} cells, as the header has, got {len(row)}", source=source, key=f"line {number}"
            )
        names.append(row[column].strip())
    if len(names) > variants:
        raise DeriveError(
            f"lists {len(names)} students but only {variants} variants are asked for; use --variants {len(names)}",
            source=source,
        )
    return names


# ---------------------------------------------------------------------------------------------
# LaTeX to PDF


def compile_pdfs(sources: Mapping[str, str]) -> dict[str, bytes]:
    """Compile each ``.tex`` source in a private temporary folder, without shell escape."""
    command = _latex_command()
    pdfs = {}
    with tempfile.TemporaryDirectory(prefix="derive-latex-") as folder:
        for name, text in sources.items():
            stem = Path(name).stem
            (Path(folder) / name).write_text(text, encoding="utf-8")
            _run_latex(command, name, folder)
            pdfs[f"{stem}.pdf"] = (Path(folder) / f"{stem}.pdf").read_bytes()
    return pdfs


def _latex_command() -> list[list[str]]:
    """latexmk if installed (it reruns as needed), else pdflatex twice."""
    if shutil.which("latexmk"):
        return [["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "-quiet"]]
    if shutil.which("pdflatex"):
        run = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]
        return [run, run]
    raise DeriveError(
        "--pdf needs LaTeX (latexmk or pdflatex), which is not installed; on Debian or Ubuntu: "
        "apt-get install texlive-latex-extra texlive-pictures latexmk"
    )


def _run_latex(commands: list[list[str]], name: str, folder: str) -> None:
    environment = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", openout_any="p", shell_escape="f")
    for command in commands:
        try:
            result = subprocess.run(
                [*command, name],
                cwd=folder,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=LATEX_TIMEOUT,
                env=environment,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise DeriveError(f"LaTeX took longer than {LATEX_TIMEOUT} s on {name} and was stopped") from None
        if result.returncode != 0:
            log = Path(folder) / f"{Path(name).stem}.log"
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else result.stdout
            raise DeriveError(latex_failure(name, text))


def latex_failure(name: str, log: str) -> str:
    """What went wrong in LaTeX, in a sentence a teacher understands."""
    missing = re.search(r"! LaTeX Error: File `([^']+)\.(sty|cls)' not found", log)
    if missing:
        return (
            f"LaTeX could not compile {name}: the LaTeX package '{missing.group(1)}' is not installed "
            "(on Debian or Ubuntu it comes with texlive-latex-extra, texlive-pictures or texlive-lang-spanish)"
        )
    error = re.search(r"^! (.+)$", log, flags=re.MULTILINE)
    line = re.search(r"^l\.(\d+)", log, flags=re.MULTILINE)
    where = f" at line {line.group(1)}" if line else ""
    what = error.group(1).strip() if error else "it stopped with an error"
    return f"LaTeX could not compile {name}{where}: {what} (if you changed a template, check that line)"


# ---------------------------------------------------------------------------------------------
# Writing


def write_files(folder: Path, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write every file into ``folder`` atomically; names may not leave the folder."""
    for name in files:
        if Path(name).name != name or name in ("", ".", ".."):
            raise DeriveError(f"refusing to write {name!r} outside {folder}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DeriveError(f"cannot create the folder ({error.strerror})", source=str(folder)) from None
    if not folder.is_dir():
        raise DeriveError("is not a folder", source=str(folder))
    return [write_file(folder / name, content) for name, content in files.items()]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(path: Path, content: str | bytes) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_dir():
        raise DeriveError("is a folder; expected a file name", source=str(path))
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(path)) from None
    return path
