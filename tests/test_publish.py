"""PDFs of a whole class: compiled side by side, LaTeX rerun only when it asks, all or nothing."""

from __future__ import annotations

import pytest

from derive.errors import DeriveError
from derive.publishing import publish
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


@pytest.fixture
def pdflatex():
    return require_tool("pdflatex")


def test_documents_sharing_a_preamble_compile_from_one_format(pdflatex, tmp_path, monkeypatch):
    """From FORMAT_FROM documents on, the shared preamble is loaded once; the pages are the same."""
    sources = {f"sheet-{n}.tex": document(f"Student {n}: $x^{n}$") for n in range(1, publish.FORMAT_FROM + 1)}
    dumped = []
    real = publish._preamble_formats

    def spy(*args):
        formats = real(*args)
        dumped.append(formats)
        return formats

    monkeypatch.setattr(publish, "_preamble_formats", spy)
    with_format = publish.compile_pdfs(sources)
    assert set(dumped[0]) == set(sources)  # every one of them used the format
    monkeypatch.setattr(publish, "FORMAT_FROM", 100)
    without = publish.compile_pdfs(sources, jobs=1)
    assert texts(with_format, tmp_path) == texts(without, tmp_path)
    assert texts(with_format, tmp_path)["sheet-3.pdf"] == "Student 3: x3 1"


def test_latex_reruns_only_when_the_log_asks(pdflatex, tmp_path, monkeypatch):
    runs = []
    real = publish._latex

    def counting(command, folder):
        runs.append(command[-1])
        return real(command, folder)

    monkeypatch.setattr(publish, "_latex", counting)
    forward = document("See section~\\ref{later}.\\section{Later}\\label{later} Done.")
    pdfs = publish.compile_pdfs({"plain.tex": document("Nothing to refer to."), "forward.tex": forward})
    assert runs.count("plain.tex") == 1 and runs.count("forward.tex") == 2
    assert "See section 1." in texts(pdfs, tmp_path)["forward.pdf"]


def test_a_combined_document_compiles_in_the_same_call(pdflatex, tmp_path):
    """Supporting files are written beside the sources, so a class's combined PDF can gather them."""
    parts = {f"part-{n}.tex": f"Answers of student {n}.\\par" for n in (1, 2)}
    combined = document("\\input{part-1.tex}\n\\input{part-2.tex}")
    pdfs = publish.compile_pdfs({"class.tex": combined, "single.tex": document("One.")}, files=parts)
    assert set(pdfs) == {"class.pdf", "single.pdf"}
    assert texts(pdfs, tmp_path)["class.pdf"].startswith("Answers of student 1. Answers of student 2.")


def test_one_failure_among_many_returns_nothing_and_names_the_first(pdflatex):
    sources = {f"sheet-{n}.tex": document(f"Student {n}.") for n in range(1, 7)}
    sources["sheet-3.tex"] = document("\\undefinedmacro")
    sources["sheet-5.tex"] = document("$x^$")
    first = r"LaTeX could not compile sheet-3\.tex at line 4: Undefined control sequence"
    with pytest.raises(DeriveError, match=first):
        publish.compile_pdfs(sources)


def test_no_shell_escape_from_a_format_either(pdflatex, tmp_path):
    marker = tmp_path / "shell-escape-ran"
    preamble = PREAMBLE + f"\\immediate\\write18{{touch {marker}}}\n"
    sources = {f"sheet-{n}.tex": document(f"Student {n}.", preamble) for n in range(publish.FORMAT_FROM + 1)}
    sources["escape.tex"] = document(f"\\immediate\\write18{{touch {marker}}} text")
    assert len(publish.compile_pdfs(sources)) == len(sources)
    assert not marker.exists()


def test_names_stay_in_the_folder():
    with pytest.raises(DeriveError, match="expected a plain file name"):
        publish.compile_pdfs({"../escape.tex": document("x")})


def test_variants_with_pdfs_from_the_command_line(pdflatex, tmp_path):
    run_derive("worksheet", "--variants", "2", "--seed", "4", "--pdf", "-o", str(tmp_path))
    names = {path.name for path in tmp_path.iterdir()}
    assert {"worksheet-01.pdf", "solutions-02.pdf", "answers.pdf"} <= names
    single = tmp_path / "single"
    run_derive("worksheet", "--variant", "2", "--seed", "4", "--pdf", "-o", str(single))
    assert pdf_text(tmp_path / "solutions-02.pdf") == pdf_text(single / "solutions.pdf")  # with the format, or not
