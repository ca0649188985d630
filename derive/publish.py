"""From a network to finished files: the explanation, worksheets, solutions, PDFs.

Everything is rendered, and compiled when asked, before anything is written; files are then
written atomically (a temporary file renamed into place), so a failed run leaves earlier output
intact and writes nothing of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from derive.chain import Derivation
from derive.document import Document, from_steps
from derive.errors import DeriveError
from derive.render import Renderer, default_renderer
from derive.spec import NetworkSpec
from derive.steps import build_steps
from derive.training import train
from derive.variants import variant

LATEX_TIMEOUT = 180  # seconds for one compilation
CURVE_STEPS = 1000  # the training run drawn at the end of the solutions


def document(
    spec: NetworkSpec,
    *,
    renderer: Renderer,
    language: str,
    notation: str | None = None,
    digits: int = 9,
    only: Sequence[str] = (),
    matrix: bool = False,
    curve_steps: int = 0,
) -> Document:
    """The document data of a network, in the language's default notation unless one is given."""
    notation = notation or renderer.catalog(language)("notation")
    steps = build_steps(Derivation(spec), only)
    history = train(spec, curve_steps).history if curve_steps else ()
    return from_steps(steps, notation=notation, digits=digits, only=only, matrix=matrix, history=history)


def explanation(
    spec: NetworkSpec,
    *,
    language: str = "en",
    notation: str | None = None,
    digits: int = 9,
    only: Sequence[str] = (),
    matrix: bool = False,
    renderer: Renderer | None = None,
) -> str:
    """The Markdown explanation of one step of backpropagation (and its matrix form)."""
    renderer = renderer or default_renderer()
    options = {"language": language, "notation": notation, "digits": digits, "only": only, "matrix": matrix}
    doc = document(spec, renderer=renderer, **options)
    return renderer.render("markdown/explanation.md.j2", language, doc=doc)


def worksheet_files(
    spec: NetworkSpec,
    *,
    language: str = "en",
    notation: str | None = None,
    digits: int = 9,
    only: Sequence[str] = (),
    matrix: bool = False,
    curve_steps: int = CURVE_STEPS,
    variants: int = 0,
    seed: int = 0,
    student: int | None = None,
    renderer: Renderer | None = None,
) -> dict[str, str]:
    """``worksheet.tex`` and ``solutions.tex``; with variants, numbered pairs and ``answers.tex``.

    ``student`` marks ``spec`` as that student's variant (its number in the titles), so that one
    student's pair is byte-identical to theirs among all the variants.  The solutions end with the
    error curve of ``curve_steps`` steps of training (0: none).
    """
    renderer = renderer or default_renderer()
    options = {
        "renderer": renderer,
        "language": language,
        "notation": notation,
        "digits": digits,
        "only": only,
        "matrix": matrix,
        "curve_steps": curve_steps,
    }
    if not variants:
        doc = document(spec, **options)
        return {
            "worksheet.tex": renderer.render("latex/worksheet.tex.j2", language, doc=doc, variant=student),
            "solutions.tex": renderer.render("latex/solutions.tex.j2", language, doc=doc, variant=student),
        }
    files: dict[str, str] = {}
    docs = []
    for number in range(1, variants + 1):
        doc = document(variant(spec, seed, number), **options)
        docs.append(doc)
        for kind in ("worksheet", "solutions"):
            files[f"{kind}-{number:02d}.tex"] = renderer.render(
                f"latex/{kind}.tex.j2", language, doc=doc, variant=number
            )
    files["answers.tex"] = renderer.render("latex/answers.tex.j2", language, docs=docs)
    return files


# ---------------------------------------------------------------------------------------------
# LaTeX to PDF


def compile_pdfs(
    sources: Mapping[str, str], *, files: Mapping[str, str | bytes] | None = None, jobs: int | None = None
) -> dict[str, bytes]:
    """Compile each ``.tex`` source to a PDF with pdflatex, without shell escape: all of them, or none.

    The sources compile side by side, one pdflatex process per core (``jobs``), in one private
    temporary folder; ``files`` are written there too without being compiled (pictures, or the
    fragments a document ``\\input``s), so that a class's combined document compiles in the same
    call as the documents it gathers.  LaTeX runs a second (and third) time only when its log
    asks for it: a rerun warning, a label that changed, an undefined reference.  If any document
    fails, the first failure in the order of ``sources`` is raised and no PDF is returned.
    """
    from concurrent.futures import ThreadPoolExecutor  # only when compiling: not at every start-up

    pdflatex = _pdflatex()
    names = list(sources)
    for name in [*names, *(files or {})]:
        if Path(name).name != name or not name or name.startswith("."):
            raise DeriveError(f"refusing to compile {name!r}: expected a plain file name")
    with tempfile.TemporaryDirectory(prefix="derive-latex-") as folder:
        for name, content in {**(files or {}), **sources}.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (Path(folder) / name).write_bytes(data)
        formats = _preamble_formats(pdflatex, sources, folder)
        workers = max(1, min(jobs or available_cores(), len(names)))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # threads wait; each pdflatex is a process
            running = {name: pool.submit(_run_latex, pdflatex, name, folder, formats.get(name)) for name in names}
            try:
                return {f"{Path(name).stem}.pdf": running[name].result() for name in names}
            except BaseException:
                for future in running.values():
                    future.cancel()  # those not started yet; the running ones finish into the bin
                raise


def available_cores() -> int:
    """The cores this process may run on (a container or a taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _pdflatex() -> str:
    found = shutil.which("pdflatex")
    if found is None:
        raise DeriveError(
            "--pdf needs LaTeX (pdflatex), which is not installed; on Debian or Ubuntu: "
            "apt-get install texlive-latex-extra texlive-pictures"
        )
    return found


# What a LaTeX log says when the document needs another run to settle: a changed label or
# reference, or a package's own rerun request (rerunfilecheck, pgfplots, hyperref, longtable, …).
RERUN = re.compile(
    r"Rerun to get|Label\(s\) may have changed|undefined references|Please \(?re\)?run|rerun LaTeX", re.I
)
MAX_RUNS = 3


# Documents that share a preamble, from this many on, compile from a format with that preamble
# loaded once (mylatexformat): a quarter less work each, for the cost of about one document.
FORMAT_FROM = 4
_BEGIN = "\\begin{document}"
_ENVIRONMENT = {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1", "openout_any": "p", "shell_escape": "f"}
_OPTIONS = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]


def _preamble_formats(pdflatex: str, sources: Mapping[str, str], folder: str) -> dict[str, str]:
    """For each group of at least FORMAT_FROM sources with the same preamble, a format of it.

    Maps each such source to its format's name; a preamble that cannot be dumped (or a TeX
    without mylatexformat) leaves its sources to compile the ordinary way.
    """
    groups: dict[str, list[str]] = {}
    for name, text in sources.items():
        if _BEGIN in text:
            groups.setdefault(text[: text.index(_BEGIN)], []).append(name)
    formats: dict[str, str] = {}
    for number, (preamble, names) in enumerate(groups.items(), start=1):
        if len(names) < FORMAT_FROM:
            continue
        job = f"derive-preamble-{number}"
        (Path(folder) / f"{job}.tex").write_text(f"{preamble}{_BEGIN}\n\\end{{document}}\n", encoding="utf-8")
        command = [pdflatex, "-ini", *_OPTIONS, f"-jobname={job}", "&pdflatex", "mylatexformat.ltx", f"{job}.tex"]
        if _latex(command, folder).returncode == 0 and (Path(folder) / f"{job}.fmt").exists():
            formats.update(dict.fromkeys(names, job))
    return formats


def _latex(command: list[str], folder: str) -> subprocess.CompletedProcess[str]:
    """One TeX run in ``folder``: reproducible dates, files written only there, no shell escape."""
    try:
        return subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=LATEX_TIMEOUT,
            env=dict(os.environ, **_ENVIRONMENT),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DeriveError(f"LaTeX took longer than {LATEX_TIMEOUT} s on {command[-1]} and was stopped") from None


def _run_latex(pdflatex: str, name: str, folder: str, preamble: str | None = None) -> bytes:
    """Run pdflatex on ``name`` in ``folder`` until its log stops asking for another run; the PDF.

    With ``preamble``, the run starts from that format (the document's own preamble is skipped).
    """
    stem = Path(name).stem
    log = Path(folder) / f"{stem}.log"
    command = [pdflatex, *_OPTIONS, *([f"-fmt={preamble}"] if preamble else []), name]
    for _ in range(MAX_RUNS):
        result = _latex(command, folder)
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else result.stdout
        if result.returncode != 0:
            raise DeriveError(latex_failure(name, text))
        if not RERUN.search(text):
            break
    return (Path(folder) / f"{stem}.pdf").read_bytes()


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
