"""PDFs of a whole class: compiled side by side, LaTeX rerun only when it asks, all or nothing."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from derive.errors import DeriveError
from derive.outputs.render import SHARED_PICTURE
from derive.publishing import latex
from tests.conftest import require_tool, run_derive
from tests.documents import pdf_text

PREAMBLE = "\\documentclass{article}\n\\usepackage{amsmath}\n"


def document(body: str, preamble: str = PREAMBLE) -> str:
    return f"{preamble}\\begin{{document}}\n{body}\n\\end{{document}}\n"


def texts(pdfs: dict[str, bytes], tmp_path) -> dict[str, str]:
    found = {}
    for name, data in pdfs.items():
        path = tmp_path / name
        path.write_bytes(data)
        found[name] = " ".join(pdf_text(path).split())
    return found


def page_images(pdf: bytes, folder) -> list[np.ndarray]:
    """Each page of ``pdf`` in grey levels at 100 dpi (pdftoppm)."""
    (folder / "pages.pdf").write_bytes(pdf)
    for old in folder.glob("page-*.pgm"):
        old.unlink()
    subprocess.run([require_tool("pdftoppm"), "-r", "100", "-gray", "pages.pdf", "page"], cwd=folder, check=True)
    images = []
    for path in sorted(folder.glob("page-*.pgm")):
        _, size, _, pixels = path.read_bytes().split(b"\n", 3)
        width, height = map(int, size.split())
        images.append(np.frombuffer(pixels, dtype=np.uint8).reshape(height, width))
    return images


def unlike(one: np.ndarray, other: np.ndarray) -> int:
    """The pixels of ``one`` more than a quarter of the grey scale away from every pixel of ``other``
    within one pixel of them: anti-aliasing and a sub-pixel offset do not count, a shift of two does."""
    padded = np.pad(other.astype(int), 1, mode="edge")
    height, width = one.shape
    nearest = np.min(
        [
            np.abs(one.astype(int) - padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ],
        axis=0,
    )
    return int(np.count_nonzero(nearest > 64))


def word_left(pdf: bytes, word: str, folder) -> float:
    """Where ``word`` starts on its page, in points (pdftotext's boxes): a space lost before it shows."""
    (folder / "words.pdf").write_bytes(pdf)
    boxes = subprocess.run(
        [require_tool("pdftotext"), "-bbox", "words.pdf", "-"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    (left,) = re.findall(r'<word xMin="([\d.]+)"[^>]*>' + re.escape(word) + "</word>", boxes)
    return float(left)


def look_the_same(first: bytes, second: bytes, folder) -> bool:
    """The same pages, but for anti-aliasing: under one pixel in ten thousand unlike, both ways."""
    ones, others = page_images(first, folder), page_images(second, folder)
    if len(ones) != len(others) or any(one.shape != other.shape for one, other in zip(ones, others, strict=True)):
        return False
    return all(
        max(unlike(one, other), unlike(other, one)) < 1e-4 * one.size for one, other in zip(ones, others, strict=True)
    )


@pytest.fixture
def pdflatex():
    return require_tool("pdflatex")


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    """Each compilation here starts from nothing, as with the cache off: these tests count LaTeX runs and
    set FORMAT_FROM (the cache's own tests are tests/test_tex_cache.py)."""
    monkeypatch.setenv("DERIVE_CACHE", "off")


def test_documents_sharing_a_preamble_compile_from_one_format(pdflatex, tmp_path, monkeypatch):
    """From FORMAT_FROM documents on, the shared preamble is loaded once; the pages are the same."""
    sources = {f"sheet-{n}.tex": document(f"Student {n}: $x^{n}$") for n in range(1, latex.FORMAT_FROM + 1)}
    dumped = []
    real = latex._preamble_formats

    def spy(*args):
        formats = real(*args)
        dumped.append(formats)
        return formats

    monkeypatch.setattr(latex, "_preamble_formats", spy)
    with_format = latex.compile_pdfs(sources)
    assert set(dumped[0]) == set(sources)  # every one of them used the format
    monkeypatch.setattr(latex, "FORMAT_FROM", 100)
    without = latex.compile_pdfs(sources, jobs=1)
    assert texts(with_format, tmp_path) == texts(without, tmp_path)
    assert texts(with_format, tmp_path)["sheet-3.pdf"] == "Student 3: x3 1"


TIKZ = PREAMBLE + "\\usepackage{tikz}\n"


def picture(label: str, marked: bool = True) -> str:
    """A grey band 4 cm by 1 cm with a thick frame (half of it outside TikZ's box) and ``label`` on it,
    its baseline 5 mm up (a depth): a page without it, or with it moved, looks different."""
    lines = [
        "\\begin{tikzpicture}[baseline=5mm]",
        "\\fill[black!40] (0,0) rectangle (4,1);",
        "\\draw[line width=3pt] (0,0) rectangle (4,1);",
        f"\\node at (2,0.5) {{{label}}};",
        "\\end{tikzpicture}",
    ]
    return "\n".join([SHARED_PICTURE, *lines] if marked else lines)


def written_sources(monkeypatch) -> dict[str, str]:
    """What compile_pdfs writes to its folder, each file as last written (the documents as compiled)."""
    written: dict[str, str] = {}
    real = latex._write

    def spy(folder, files):
        written.update({name: text for name, text in files.items() if isinstance(text, str)})
        real(folder, files)

    monkeypatch.setattr(latex, "_write", spy)
    return written


BODY = "Student {n}.\n\nBefore {shared} after.\n\n{own}\n\n{unmarked}\n\nThe end."


def test_a_marked_picture_in_many_documents_is_drawn_once(pdflatex, tmp_path, monkeypatch):
    """Its page is placed in each document in its place (its depth and frame too); the pages look as if
    each document had drawn it, and a picture in one document only, or unmarked, is drawn there."""
    sources = {
        f"sheet-{n}.tex": document(
            BODY.format(n=n, shared=picture("the same"), own=picture(f"only {n}"), unmarked=picture("x", False)), TIKZ
        )
        for n in range(1, latex.FORMAT_FROM + 1)
    }
    written = written_sources(monkeypatch)
    commands = []
    real = latex._latex
    monkeypatch.setattr(latex, "_latex", lambda command, folder: commands.append(command[-1]) or real(command, folder))
    drawn_once = latex.compile_pdfs(sources)
    assert commands.count("derive-pictures-1.tex") == 1
    for name in sources:
        assert written[name].count("\\pdfximage page 1 {derive-pictures-1.pdf}") == 1, name
        assert written[name].count("\\begin{tikzpicture}") == 2, name  # its own picture and the unmarked one
        assert written[name].count("\n") == sources[name].count("\n"), name  # LaTeX's line numbers kept
    assert written["derive-pictures-1.tex"].count("\\begin{tikzpicture}") == 1
    monkeypatch.setattr(latex, "FORMAT_FROM", 100)
    each = latex.compile_pdfs(sources)
    assert texts(drawn_once, tmp_path) == texts(each, tmp_path)
    assert texts(each, tmp_path)["sheet-2.pdf"] == "Student 2. Before the same after. only 2 x The end. 1"
    for name in sources:
        pdf = f"{name[:-4]}.pdf"
        assert look_the_same(drawn_once[pdf], each[pdf], tmp_path), pdf
        assert word_left(drawn_once[pdf], "after.", tmp_path) == pytest.approx(word_left(each[pdf], "after.", tmp_path))
    moved = latex.compile_pdfs({"sheet-1.tex": sources["sheet-1.tex"].replace("baseline=5mm", "baseline=2mm")})
    assert not look_the_same(drawn_once["sheet-1.pdf"], moved["sheet-1.pdf"], tmp_path)  # its text 3 mm off shows


DECK = "\\documentclass{beamer}\n\\usepackage{tikz}\n\\setbeamertemplate{footline}[frame number]\n"


def test_a_marked_picture_in_a_deck_is_drawn_once_for_all_its_overlays(pdflatex, tmp_path, monkeypatch):
    """A beamer frame is typeset once per overlay (and the deck runs twice for its frame count): even in
    one deck, a marked picture is drawn once; its pages look as if the deck had drawn it on each, and a
    picture of one document that is not a deck is left to that document."""
    frame = "\\begin{{frame}}{{Frame {n}}}\n{picture}\n\n\\only<1>{{First.}}\\only<2>{{Second.}}\n\\end{{frame}}"
    changing = picture("\\only<2>{changing}")  # a picture that differs from one overlay to the next
    frames = [frame.format(n=n, picture=picture(f"frame {n}")) for n in (1, 2)]
    deck = document("\n".join([*frames, frame.format(n=3, picture=changing)]), DECK)
    written = written_sources(monkeypatch)
    commands = []
    real = latex._latex
    monkeypatch.setattr(latex, "_latex", lambda command, folder: commands.append(command[-1]) or real(command, folder))
    drawn_once = latex.compile_pdfs({"deck.tex": deck, "sheet.tex": document(picture("alone"), TIKZ)})
    assert commands.count("derive-pictures-1.tex") == 1 and "derive-pictures-2.tex" not in commands
    assert written["derive-pictures-1.tex"].count("\\begin{tikzpicture}") == 2
    assert written["deck.tex"].count("\\pdfximage page") == 2 and written["deck.tex"].count("\\begin{tikzpicture}") == 1
    assert written["deck.tex"].count("\n") == deck.count("\n")  # LaTeX's line numbers kept
    assert written["sheet.tex"].count("\\begin{tikzpicture}") == 1
    monkeypatch.setattr(latex, "_SHARED", re.compile("(?!)"))  # no picture is marked: each overlay draws its own
    each = latex.compile_pdfs({"deck.tex": deck})
    assert texts(drawn_once, tmp_path)["deck.pdf"] == texts(each, tmp_path)["deck.pdf"]
    assert texts(each, tmp_path)["deck.pdf"].endswith("Frame 3 changing Second. 3/3")  # the count from the second run
    overlays = ["\\draw<2-> (0,0);", "a \\pause b", "\\onslide+<2>", "\\begin{onlyenv}<2>", "[visible on=<2->]"]
    assert all(latex._OVERLAY.search(text) for text in overlays)
    assert not latex._OVERLAY.search(picture("$x < 1 > 0$"))
    relaid = deck.replace("\\usepackage{tikz}", "\\usepackage{tikz,pgfpages}\n\\pgfpagesuselayout{2 on 1}[a4paper]")
    written.clear()
    latex.compile_pdfs({"deck.tex": relaid})  # two slides on a sheet: a picture's page would not be its own
    assert "derive-pictures-1.tex" not in written and written["deck.tex"].count("\\begin{tikzpicture}") == 3
    assert look_the_same(drawn_once["deck.pdf"], each["deck.pdf"], tmp_path)


def test_a_picture_that_needs_its_document_is_drawn_there(pdflatex, tmp_path, monkeypatch):
    """A marked picture that uses a command its documents define after \\begin{document} cannot be drawn
    alone: the documents draw it themselves, and compile."""
    shared = picture("\\who")
    sources = {
        f"sheet-{n}.tex": document(f"\\newcommand\\who{{Student {n}}}\n{shared}\n\nThe end.", TIKZ)
        for n in range(1, latex.FORMAT_FROM + 1)
    }
    written = written_sources(monkeypatch)
    pdfs = latex.compile_pdfs(sources)
    assert "derive-pictures-1.tex" in written
    assert all("\\pdfximage" not in written[name] for name in sources)
    assert texts(pdfs, tmp_path)["sheet-3.pdf"] == "Student 3 The end. 1"


def test_an_error_after_a_shared_picture_names_the_source_line(pdflatex):
    sources = {f"sheet-{n}.tex": document(f"{picture('the same')}\n\nStudent {n}.", TIKZ) for n in range(1, 6)}
    sources["sheet-4.tex"] = sources["sheet-4.tex"].replace("Student 4.", "\\undefinedmacro")
    line = sources["sheet-4.tex"].splitlines().index("\\undefinedmacro") + 1
    with pytest.raises(DeriveError, match=f"sheet-4\\.tex at line {line}: Undefined control sequence"):
        latex.compile_pdfs(sources)


def test_latex_reruns_only_when_the_log_asks(pdflatex, tmp_path, monkeypatch):
    runs = []
    real = latex._latex

    def counting(command, folder):
        runs.append(command[-1])
        return real(command, folder)

    monkeypatch.setattr(latex, "_latex", counting)
    forward = document("See section~\\ref{later}.\\section{Later}\\label{later} Done.")
    pdfs = latex.compile_pdfs({"plain.tex": document("Nothing to refer to."), "forward.tex": forward})
    assert runs.count("plain.tex") == 1 and runs.count("forward.tex") == 2
    assert "See section 1." in texts(pdfs, tmp_path)["forward.pdf"]


def test_a_combined_document_compiles_in_the_same_call(pdflatex, tmp_path):
    """Supporting files are written beside the sources, so a class's combined PDF can gather them."""
    parts = {f"part-{n}.tex": f"Answers of student {n}.\\par" for n in (1, 2)}
    combined = document("\\input{part-1.tex}\n\\input{part-2.tex}")
    pdfs = latex.compile_pdfs({"class.tex": combined, "single.tex": document("One.")}, files=parts)
    assert set(pdfs) == {"class.pdf", "single.pdf"}
    assert texts(pdfs, tmp_path)["class.pdf"].startswith("Answers of student 1. Answers of student 2.")


def test_one_failure_among_many_returns_nothing_and_names_the_first(pdflatex):
    sources = {f"sheet-{n}.tex": document(f"Student {n}.") for n in range(1, 7)}
    sources["sheet-3.tex"] = document("\\undefinedmacro")
    sources["sheet-5.tex"] = document("$x^$")
    first = r"LaTeX could not compile sheet-3\.tex at line 4: Undefined control sequence"
    with pytest.raises(DeriveError, match=first):
        latex.compile_pdfs(sources)


def test_no_shell_escape_from_a_format_either(pdflatex, tmp_path):
    marker = tmp_path / "shell-escape-ran"
    preamble = PREAMBLE + f"\\immediate\\write18{{touch {marker}}}\n"
    sources = {f"sheet-{n}.tex": document(f"Student {n}.", preamble) for n in range(latex.FORMAT_FROM + 1)}
    sources["escape.tex"] = document(f"\\immediate\\write18{{touch {marker}}} text")
    assert len(latex.compile_pdfs(sources)) == len(sources)
    assert not marker.exists()


def test_names_stay_in_the_folder():
    with pytest.raises(DeriveError, match="expected a plain file name"):
        latex.compile_pdfs({"../escape.tex": document("x")})


def test_variants_with_pdfs_from_the_command_line(pdflatex, tmp_path):
    run_derive("worksheet", "--variants", "2", "--seed", "4", "--pdf", "-o", str(tmp_path))
    names = {path.name for path in tmp_path.iterdir()}
    assert {"worksheet-01.pdf", "solutions-02.pdf", "answers.pdf"} <= names
    single = tmp_path / "single"
    run_derive("worksheet", "--variant", "2", "--seed", "4", "--pdf", "-o", str(single))
    # with the format and the shared pictures, or neither: the same characters (how pdftotext lays out
    # and splits them depends on the order of the page's content), and pages that look the same
    pdfs = (tmp_path / "solutions-02.pdf", single / "solutions.pdf")
    characters = [sorted("".join(pdf_text(pdf).split())) for pdf in pdfs]
    assert characters[0] == characters[1]
    shared, alone = (pdf.read_bytes() for pdf in pdfs)
    assert look_the_same(shared, alone, tmp_path / "single")
