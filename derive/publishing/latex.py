"""LaTeX to PDF: documents compiled side by side, without shell escape, all of them or none.

A class's documents share their preamble and most of their pictures: the preamble is loaded once
into a format (mylatexformat), and a picture that a template marks as the same wherever it appears
is drawn once, into a PDF page that every document includes.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from derive.errors import DeriveError
from derive.outputs.render import SHARED_PICTURE
from derive.publishing.engines import PDFLATEX, engine_for, engine_path

LATEX_TIMEOUT = 180  # seconds for one compilation


def compile_pdfs(
    sources: Mapping[str, str], *, files: Mapping[str, str | bytes] | None = None, jobs: int | None = None
) -> dict[str, bytes]:
    """Compile each ``.tex`` source to a PDF, without shell escape: all of them, or none.

    pdflatex compiles text in Latin letters, lualatex a document with a name in another script
    (:mod:`derive.publishing.engines`).

    The sources compile side by side, one pdflatex process per core (``jobs``), in one private
    temporary folder; ``files`` are written there too without being compiled (pictures, or the
    fragments a document ``\\input``s), so that a class's combined document compiles in the same
    call as the documents it gathers.  LaTeX runs a second (and third) time only when its log
    asks for it: a rerun warning, a label that changed, an undefined reference.  If any document
    fails, the first failure in the order of ``sources`` is raised and no PDF is returned.
    """
    from concurrent.futures import ThreadPoolExecutor  # only when compiling: not at every start-up

    names = list(sources)
    fragments = [text for text in (files or {}).values() if isinstance(text, str)]
    engines = {name: engine_for([sources[name], *fragments]) for name in names}
    programs = {engine: engine_path(engine) for engine in set(engines.values())}
    for name in [*names, *(files or {})]:
        if Path(name).name != name or not name or name.startswith("."):
            raise DeriveError(f"refusing to compile {name!r}: expected a plain file name")
    with tempfile.TemporaryDirectory(prefix="derive-latex-") as folder:
        _write(folder, {**(files or {}), **sources})
        plain = {name: text for name, text in sources.items() if engines[name] == PDFLATEX}
        formats = _preamble_formats(programs[PDFLATEX], plain, folder) if plain else {}
        _write(folder, _shared_pictures(programs[PDFLATEX], plain, formats, folder) if formats else {})
        workers = max(1, min(jobs or available_cores(), len(names)))
        # the longest first (a class's combined PDF), so that the short ones fill the other cores meanwhile
        longest = sorted(names, key=lambda name: -len(sources[name]))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # threads wait; each pdflatex is a process
            running = {
                name: pool.submit(_run_latex, programs[engines[name]], name, folder, formats.get(name))
                for name in longest
            }
            try:
                return {f"{Path(name).stem}.pdf": running[name].result() for name in names}
            except BaseException:
                for future in running.values():
                    future.cancel()  # those not started yet; the running ones are stopped
                _stop_latex()
                raise


def _write(folder: str, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (Path(folder) / name).write_bytes(data)


def available_cores() -> int:
    """The cores this process may run on (a container or a taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


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
# openin_any=p: TeX reads no file by an absolute path or from a parent folder (a template's \input{/etc/passwd});
# its own packages, found through kpathsea, are still read
_ENVIRONMENT = {
    "SOURCE_DATE_EPOCH": "0",
    "FORCE_SOURCE_DATE": "1",
    "openout_any": "p",
    "openin_any": "p",
    "shell_escape": "f",
}
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


# a picture marked by its template as the same wherever it is placed: a class's sheets share most
# of their pictures, and drawing them is most of a sheet's compilation
_SHARED = re.compile(re.escape(SHARED_PICTURE) + r"\n(\\begin\{tikzpicture\}.*?\\end\{tikzpicture\})", re.S)
# each picture shipped out alone, on a page of its own size, its top-left corner at the page's
_PAGES = (
    "\\pdfhorigin=0pt \\pdfvorigin=0pt \\hoffset=0pt \\voffset=0pt\n"
    "\\def\\derivepage{\\pdfpagewidth=\\wd0 \\pdfpageheight=\\dimexpr\\ht0+\\dp0\\relax\\shipout\\box0 }\n"
)


def _shared_pictures(
    pdflatex: str, sources: Mapping[str, str], formats: Mapping[str, str], folder: str
) -> dict[str, str]:
    """The sources rewritten to include their marked pictures from one PDF drawn once per format.

    A marked picture found in two or more of a format's documents is drawn on a page of its own in
    ``derive-pictures-<n>.pdf``; each document includes that page in its place, on the picture's
    last line, so that LaTeX's line numbers stay the source's.  A pictures document that does not
    compile leaves its documents to draw their pictures themselves.
    """
    rewritten: dict[str, str] = {}
    for job in sorted(set(formats.values())):
        names = [name for name in sources if formats.get(name) == job]
        counts = Counter(picture for name in names for picture in set(_SHARED.findall(sources[name])))
        shared = [picture for picture, documents in counts.items() if documents > 1]
        if not shared:
            continue
        drawn = job.replace("preamble", "pictures")
        text = sources[names[0]]
        body = "".join(f"\\setbox0=\\hbox{{%\n{picture}}}\\derivepage\n" for picture in shared)
        page = f"{text[: text.index(_BEGIN)]}{_BEGIN}\n{_PAGES}{body}\\end{{document}}\n"
        (Path(folder) / f"{drawn}.tex").write_text(page, encoding="utf-8")
        if _latex([pdflatex, *_OPTIONS, f"-fmt={job}", f"{drawn}.tex"], folder).returncode != 0:
            continue
        pages = {picture: number for number, picture in enumerate(shared, start=1)}
        rewritten.update({name: _included(sources[name], pages, drawn) for name in names})
    return rewritten


def _included(text: str, pages: Mapping[str, int], drawn: str) -> str:
    """``text`` with each picture of ``pages`` replaced by its page of ``drawn``.pdf, in as many lines."""

    def include(match: re.Match[str]) -> str:
        picture = match.group(1)
        if picture not in pages:
            return match.group(0)
        lines = "%\n" * picture.count("\n")
        return f"{SHARED_PICTURE}\n{lines}\\includegraphics[page={pages[picture]}]{{{drawn}.pdf}}"

    return _SHARED.sub(include, text)


def _latex(command: list[str], folder: str) -> subprocess.CompletedProcess[str]:
    """One TeX run in ``folder``: reproducible dates, files read and written only there, no shell escape."""
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=dict(os.environ, **_ENVIRONMENT),
        stdin=subprocess.DEVNULL,
    )
    _RUNNING.add(process)
    try:
        output, errors = process.communicate(timeout=LATEX_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise DeriveError(f"LaTeX took longer than {LATEX_TIMEOUT} s on {command[-1]} and was stopped") from None
    finally:
        _RUNNING.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, output, errors)


# The TeX processes running now: stopped when the run is interrupted (Ctrl-C, SIGTERM), so that
# the temporary folder can be removed at once rather than when they finish.
_RUNNING: set[subprocess.Popen[str]] = set()


def _stop_latex() -> None:
    for process in list(_RUNNING):
        process.kill()


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
    lost = re.search(r"Missing character: There is no (.) \(U\+([0-9A-F]+)\)", log)
    if lost:
        return (
            f"LaTeX could not compile {name}: no installed font has the character {lost.group(1)} "
            f"(U+{lost.group(2)}); expected names in scripts the Noto fonts cover (Latin, Greek, Cyrillic, "
            "Arabic, Hebrew, CJK, Devanagari, Thai, emoji)"
        )
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
