"""LaTeX to PDF: documents compiled side by side, without shell escape, all of them or none.

A class's documents share their preamble and most of their pictures: the preamble is loaded once
into a format (mylatexformat), and a picture that a template marks as the same wherever it appears
is drawn once, into a PDF page that every document includes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from pathlib import Path

from derive.errors import DeriveError
from derive.outputs.fonts import fallback_fonts, lua_fonts
from derive.outputs.render import SHARED_PICTURE
from derive.publishing.engines import LUALATEX, PDFLATEX, engine_for, engine_path
from derive.publishing.texcache import TexCache, recorded_inputs, tex_cache

LATEX_TIMEOUT = 180  # seconds for one compilation


def compile_pdfs(
    sources: Mapping[str, str],
    *,
    files: Mapping[str, str | bytes] | None = None,
    jobs: int | None = None,
    logs: dict[str, str] | None = None,
) -> dict[str, bytes]:
    """Compile each ``.tex`` source to a PDF, without shell escape: all of them, or none.

    pdflatex compiles text in Latin letters, lualatex a document with a name in another script
    (:mod:`derive.publishing.engines`).

    The sources compile side by side, one pdflatex process per core (``jobs``), in one private
    temporary folder; ``files`` are written there too without being compiled (pictures, or the
    fragments a document ``\\input``s), so that a class's combined document compiles in the same
    call as the documents it gathers.  LaTeX runs a second (and third) time only when its log
    asks for it: a rerun warning, a label that changed, an undefined reference.  From FORMAT_FROM
    documents with one preamble on, that preamble is loaded once (a format), and the pictures their
    templates mark as shared are drawn once (:func:`_shared_pictures`); either falls back to the
    ordinary way when it cannot be done.  Formats and pictures are kept for the next compilation
    (:mod:`derive.publishing.texcache`), so that, with the cache on, every document takes that
    way, however few.  If any document fails, the first failure in the order of ``sources`` is
    raised and no PDF is returned.  ``logs``, if given, receives each document's last LaTeX log (by
    source name), and the log of the pictures drawn for them, for a reader of their warnings.
    """
    from concurrent.futures import ThreadPoolExecutor  # only when compiling: not at every start-up

    names = list(sources)
    fragments = [text for text in (files or {}).values() if isinstance(text, str)]
    engines = {name: engine_for([sources[name], *fragments]) for name in names}
    lualatex = [name for name in names if engines[name] == LUALATEX]
    fonts = {name: lua_fonts(fallback_fonts([sources[name], *fragments])) for name in lualatex}
    programs = {engine: engine_path(engine) for engine in set(engines.values())}
    for name in [*names, *(files or {})]:
        if Path(name).name != name or not name or name.startswith("."):
            raise DeriveError(f"refusing to compile {name!r}: expected a plain file name")
    with tempfile.TemporaryDirectory(prefix="derive-latex-") as folder:
        _write(folder, {**(files or {}), **sources})
        plain = {name: text for name, text in sources.items() if engines[name] == PDFLATEX}
        if plain:
            cache = tex_cache(programs[PDFLATEX])
            formats = _preamble_formats(programs[PDFLATEX], plain, folder, cache)
            _write(folder, _shared_pictures(programs[PDFLATEX], plain, formats, folder, cache))
        else:
            formats = {}
        workers = max(1, min(jobs or available_cores(), len(names)))
        # the longest first (a class's combined PDF), so that the short ones fill the other cores meanwhile
        longest = sorted(names, key=lambda name: -len(sources[name]))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # threads wait; each pdflatex is a process
            running = {
                name: pool.submit(_run_latex, programs[engines[name]], name, folder, formats.get(name), fonts.get(name))
                for name in longest
            }
            try:
                pdfs = {f"{Path(name).stem}.pdf": running[name].result() for name in names}
            except BaseException:
                for future in running.values():
                    future.cancel()  # those not started yet; the running ones are stopped
                _stop_latex()
                raise
        if logs is not None:  # the documents', and those of the pictures drawn for them (now or before)
            logs.update({name: _log_text(Path(folder) / f"{Path(name).stem}.log") for name in names})
            logs.update(
                {path.with_suffix(".tex").name: _log_text(path) for path in Path(folder).glob("derive-pictures-*.log")}
            )
        return pdfs


def _log_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


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


def _preamble_formats(pdflatex: str, sources: Mapping[str, str], folder: str, cache: TexCache | None) -> dict[str, str]:
    """For each group of at least FORMAT_FROM sources with the same preamble, a format of it; with a
    ``cache``, for every group, the format kept from an earlier compilation if there is one.

    Maps each such source to its format's name; a preamble that cannot be dumped (or a TeX
    without mylatexformat) leaves its sources to compile the ordinary way.
    """
    formats: dict[str, str] = {}
    for number, (preamble, names) in enumerate(_preamble_groups(sources).items(), start=1):
        job = f"derive-preamble-{number}"
        if (cache is None and len(names) < FORMAT_FROM) or not preamble.endswith("\n"):
            continue  # mylatexformat skips a document's preamble by its lines: \begin{document} starts one
        key = cache.key(job, " ".join(_OPTIONS), preamble) if cache else ""
        kept = cache.load(key, ".fmt") if cache else None
        if kept is not None:
            _write(folder, {f"{job}.fmt": kept})
        elif not _dump_format(pdflatex, preamble, job, folder):
            continue
        elif cache:
            read = recorded_inputs(Path(folder) / f"{job}.fls", folder)
            cache.store(key, ".fmt", (Path(folder) / f"{job}.fmt").read_bytes(), read)
        formats.update(dict.fromkeys(names, job))
    return formats


def _dump_format(pdflatex: str, preamble: str, job: str, folder: str) -> bool:
    """Dump ``preamble`` as the format ``job`` (mylatexformat); whether that worked."""
    (Path(folder) / f"{job}.tex").write_text(f"{preamble}{_BEGIN}\n\\end{{document}}\n", encoding="utf-8")
    command = [
        pdflatex,
        "-ini",
        *_OPTIONS,
        "-recorder",
        f"-jobname={job}",
        "&pdflatex",
        "mylatexformat.ltx",
        f"{job}.tex",
    ]
    return _latex(command, folder).returncode == 0 and (Path(folder) / f"{job}.fmt").exists()


def _preamble_groups(sources: Mapping[str, str]) -> dict[str, list[str]]:
    """The sources by their preamble (the text before ``\\begin{document}``), in the order first met."""
    groups: dict[str, list[str]] = {}
    for name, text in sources.items():
        if _BEGIN in text:
            groups.setdefault(text[: text.index(_BEGIN)], []).append(name)
    return groups


# A picture marked by its template as the same wherever it is placed: a class's sheets share most
# of their pictures, and drawing them is most of a sheet's compilation.
_SHARED = re.compile(re.escape(SHARED_PICTURE) + r"\n(\\begin\{tikzpicture\}.*?\\end\{tikzpicture\})", re.S)
# Each picture shipped out alone, on a page of its own size plus a margin (TikZ leaves half of an
# edge's line outside the box it reports), its page and box written to the log for the documents.
_MARGIN = "2pt"
_PAGE_PER_PICTURE = (
    "\\pdfhorigin=0pt \\pdfvorigin=0pt \\hoffset=0pt \\voffset=0pt\n"
    "\\def\\derivepage{\\edef\\derivebox{\\the\\wd0:\\the\\ht0:\\the\\dp0}%\n"
    f"\\pdfpagewidth=\\dimexpr\\wd0+2\\dimexpr{_MARGIN}\\relax\\relax\n"
    f"\\pdfpageheight=\\dimexpr\\ht0+\\dp0+2\\dimexpr{_MARGIN}\\relax\\relax\n"
    f"\\shipout\\hbox{{\\kern{_MARGIN}\\vbox{{\\kern{_MARGIN}\\box0\\kern{_MARGIN}}}}}%\n"
    "\\typeout{derive-picture:\\the\\ReadonlyShipoutCounter:\\derivebox}}\n"
)
# a beamer deck: its frames are typeset once per overlay; a picture with an overlay specification
# (``\only<2>``, ``\draw<2->``, ``\onslide+<2>``, ``\begin{onlyenv}<2>``, ``visible on=<2->``,
# ``\pause``) differs from one overlay to the next (a false match, ``arrows=<->``, is only drawn in place)
_BEAMER = re.compile(r"^\\documentclass(\[[^\]]*\])?\{beamer\}", re.M)
_OVERLAY = re.compile(r"(?:\\[A-Za-z]+[*+]?|\}|=)\s*<[^<>{}]*>|\\pause\b")
# pgfpages re-lays every shipped page (two slides on a sheet): a picture's page would not be its own
_RELAID = re.compile(r"\\usepackage(\[[^\]]*\])?\{[^}]*\bpgfpages\b")
_DRAWN = re.compile(r"^derive-picture:(\d+):([-\d.]+pt):([-\d.]+pt):([-\d.]+pt)$", re.M)


@dataclass(frozen=True)
class Drawn:
    """A picture drawn once: its page of the pictures PDF and its box (TeX dimensions)."""

    page: int
    width: str
    height: str
    depth: str


def _shared_pictures(
    pdflatex: str, sources: Mapping[str, str], formats: Mapping[str, str], folder: str, cache: TexCache | None
) -> dict[str, str]:
    """The sources rewritten to include their marked pictures from one PDF, each picture drawn once.

    A marked picture is drawn once where it would otherwise be drawn again and again: in two or more
    documents of one format, anywhere in a beamer deck (a frame is typeset once for each of its
    overlays, and the deck runs twice for its frame count) unless it changes with the overlays, and,
    with a ``cache``, in any document: the next compilation of the same pictures takes them from it.
    It is drawn on a page of its own in ``derive-pictures-<n>.pdf``; each document places that page
    where the picture was, in a box of the picture's size and depth, on the picture's last line, so
    that LaTeX's line numbers stay the source's.  A pictures document that does not compile, or
    whose pages are not its pictures, leaves its documents to draw their pictures themselves.
    """
    rewritten: dict[str, str] = {}
    for number, (preamble, names) in enumerate(_preamble_groups(sources).items(), start=1):
        job = formats.get(names[0])
        deck = _BEAMER.search(preamble) is not None
        if not (job or deck) or _RELAID.search(preamble):
            continue  # a document or two, drawn side by side: a pictures document first would only add its run
        # in the order first met (not a set's): the same sources give the same PDFs, byte for byte
        found = [dict.fromkeys(_SHARED.findall(sources[name])) for name in names]
        counts = Counter(picture for pictures in found for picture in pictures)
        shared = [
            picture
            for picture, documents in counts.items()
            if (deck or documents > 1 or cache) and not (deck and _OVERLAY.search(picture))
        ]
        pictures = f"derive-pictures-{number}"
        drawn = _kept_or_drawn(pdflatex, shared, preamble, job, pictures, folder, cache) if shared else {}
        if drawn:
            rewritten.update({name: _included(sources[name], drawn, pictures) for name in names})
    return rewritten


def _kept_or_drawn(
    pdflatex: str, shared: list[str], preamble: str, job: str | None, pictures: str, folder: str, cache: TexCache | None
) -> dict[str, Drawn]:
    """The pictures as an earlier compilation drew them (their PDF, boxes and log, kept in ``cache``), or
    drawn now (:func:`_draw`) and kept.  The entry is named by the format's own bytes too: a format
    dumped again after a package changed draws them again."""
    if cache is None:
        return _draw(pdflatex, shared, preamble, job, pictures, folder)
    made_by = hashlib.sha256((Path(folder) / f"{job}.fmt").read_bytes()).hexdigest() if job else ""
    key = cache.key(pictures, made_by, preamble, _PAGE_PER_PICTURE, " ".join(_OPTIONS), *shared)
    kept = cache.load(key, ".pictures")
    if kept is not None:
        header, _, pdf = kept.partition(b"\n")
        found = json.loads(header)
        _write(folder, {f"{pictures}.pdf": pdf, f"{pictures}.log": found["log"]})
        return {picture: Drawn(*box) for picture, box in zip(shared, found["boxes"], strict=True)}
    drawn = _draw(pdflatex, shared, preamble, job, pictures, folder)
    if drawn:
        log = _log_text(Path(folder) / f"{pictures}.log")
        header = json.dumps({"boxes": [astuple(drawn[picture]) for picture in shared], "log": log}).encode()
        read = recorded_inputs(Path(folder) / f"{pictures}.fls", folder)
        cache.store(key, ".pictures", header + b"\n" + (Path(folder) / f"{pictures}.pdf").read_bytes(), read)
    return drawn


def _draw(
    pdflatex: str, shared: list[str], preamble: str, job: str | None, pictures: str, folder: str
) -> dict[str, Drawn]:
    """Each picture on its own page of ``pictures``.pdf, after ``preamble`` or from its format ``job``.

    None if that fails: the documents then draw their pictures themselves.
    """
    body = "".join(f"\\setbox0=\\hbox{{%\n{picture}}}\\derivepage\n" for picture in shared)
    _write(folder, {f"{pictures}.tex": f"{preamble}{_BEGIN}\n{_PAGE_PER_PICTURE}{body}\\end{{document}}\n"})
    try:
        result = _latex(
            [pdflatex, *_OPTIONS, "-recorder", *([f"-fmt={job}"] if job else []), f"{pictures}.tex"], folder
        )
    except DeriveError:  # too slow: the documents draw their own
        return {}
    log = Path(folder) / f"{pictures}.log"
    boxes = _DRAWN.findall(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else []
    pages = [int(page) for page, *_ in boxes]
    if result.returncode != 0 or pages != list(range(1, len(shared) + 1)):
        return {}  # a preamble that ships pages of its own, or a picture that needs its document
    return {picture: Drawn(int(page), *box) for picture, (page, *box) in zip(shared, boxes, strict=True)}


def _included(text: str, drawn: Mapping[str, Drawn], pictures: str) -> str:
    """``text`` with each drawn picture replaced by its page of ``pictures``.pdf, in as many lines.

    The page goes in a box of the picture's width, height and depth, its margin overhanging, and
    straight from pdfTeX (``\\pdfximage``): the document's graphicx settings (``draft``, a default
    width) are not the picture's.
    """

    def include(match: re.Match[str]) -> str:
        picture = match.group(1)
        if picture not in drawn:
            return match.group(0)
        one = drawn[picture]
        image = f"\\pdfximage page {one.page} {{{pictures}.pdf}}\\pdfrefximage\\pdflastximage"
        shifted = f"\\kern-{_MARGIN}\\lower\\dimexpr{one.depth}+{_MARGIN}\\relax\\hbox{{{image}}}"
        size = f"\\wd0={one.width}\\ht0={one.height}\\dp0={one.depth}"
        lines = "%\n" * picture.count("\n")
        # a group closed by a brace, not by a control word, which would swallow the space after it
        return f"{SHARED_PICTURE}\n{lines}\\leavevmode{{\\setbox0=\\hbox{{{shifted}}}{size}\\box0}}"

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
    except BaseException:  # Ctrl-C or SIGTERM while waiting: the run stops with us
        process.kill()
        raise
    finally:
        _RUNNING.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, output, errors)


# The TeX processes running now: stopped when the run is interrupted (Ctrl-C, SIGTERM), so that
# the temporary folder can be removed at once rather than when they finish.
_RUNNING: set[subprocess.Popen[str]] = set()


def _stop_latex() -> None:
    for process in list(_RUNNING):
        process.kill()


def _run_latex(pdflatex: str, name: str, folder: str, preamble: str | None = None, fonts: str | None = None) -> bytes:
    """Run pdflatex on ``name`` in ``folder`` until its log stops asking for another run; the PDF.

    With ``preamble``, the run starts from that format (the document's own preamble is skipped); with
    ``fonts``, lualatex falls back to those fonts only (``latex/_fonts.tex.j2`` reads them).
    """
    stem = Path(name).stem
    log = Path(folder) / f"{stem}.log"
    first = f"\\def\\derivefallbackfonts{{{fonts}}}\\input{{{name}}}" if fonts else name
    command = [pdflatex, *_OPTIONS, *([f"-fmt={preamble}"] if preamble else []), f"-jobname={stem}", first]
    for _ in range(MAX_RUNS):
        result = _latex(command, folder)
        text = _log_text(log) if log.exists() else result.stdout
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
