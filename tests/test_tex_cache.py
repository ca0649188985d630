"""The TeX cache (derive.publishing.texcache): a second compilation takes its preamble's format and its
pictures from the first and makes the same PDFs, byte for byte, looking as the uncached ones do; a
damaged entry is not read, another picture, preamble or TeX is another entry, and a cache that cannot
be written is no cache."""

from __future__ import annotations

import os

import pytest

from derive.publishing import latex, texcache
from tests.conftest import require_tool
from tests.test_publish import BODY, TIKZ, document, look_the_same, picture, texts

SHEET = document(BODY.format(n=1, shared=picture("the same"), own="", unmarked=picture("x", marked=False)), TIKZ)
# a worksheet and its solutions: two documents, fewer than FORMAT_FROM, which the cache alone speeds up
SOURCES = {"worksheet.tex": SHEET, "solutions.tex": SHEET.replace("Student 1.", "Answers.")}


@pytest.fixture
def pdflatex():
    return require_tool("pdflatex")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of the test's own; its entries' folder."""
    monkeypatch.setenv("DERIVE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tex"


@pytest.fixture
def runs(monkeypatch) -> list[str]:
    """Each TeX run's kind: a format dumped, the pictures drawn, or the document it compiled."""
    seen: list[str] = []
    real = latex._latex

    def spy(command, folder):
        seen.append("format" if "-ini" in command else command[-1])
        return real(command, folder)

    monkeypatch.setattr(latex, "_latex", spy)
    return seen


def entries(folder) -> list[str]:
    return sorted(path.suffix for path in folder.iterdir()) if folder.exists() else []


def test_a_second_compilation_takes_the_format_and_the_pictures_from_the_first(pdflatex, cache, runs, tmp_path):
    first = latex.compile_pdfs(SOURCES)
    assert sorted(runs) == ["derive-pictures-1.tex", "format", "solutions.tex", "worksheet.tex"]
    assert entries(cache) == [".fmt", ".pictures"]
    runs.clear()
    second = latex.compile_pdfs(SOURCES)
    assert sorted(runs) == ["solutions.tex", "worksheet.tex"]  # nothing dumped, nothing drawn
    assert second == first  # byte for byte
    os.environ["DERIVE_CACHE"] = "off"
    uncached = latex.compile_pdfs(SOURCES)
    assert texts(first, tmp_path) == texts(uncached, tmp_path)
    assert texts(first, tmp_path)["worksheet.pdf"] == "Student 1. Before the same after. x The end. 1"
    for name in first:
        assert look_the_same(first[name], uncached[name], tmp_path), name
    assert entries(cache) == [".fmt", ".pictures"]  # off: nothing more written


def test_a_damaged_entry_is_not_read(pdflatex, cache, runs):
    first = latex.compile_pdfs(SOURCES)
    (fmt,) = cache.glob("*.fmt")
    fmt.write_bytes(fmt.read_bytes()[:1_000_000])  # cut short, as by a full disk
    (pictures,) = cache.glob("*.pictures")
    data = bytearray(pictures.read_bytes())
    data[-100] ^= 0xFF  # one byte changed
    pictures.write_bytes(bytes(data))
    runs.clear()
    assert latex.compile_pdfs(SOURCES) == first
    assert sorted(runs) == ["derive-pictures-1.tex", "format", "solutions.tex", "worksheet.tex"]  # made again
    runs.clear()
    latex.compile_pdfs(SOURCES)
    assert sorted(runs) == ["solutions.tex", "worksheet.tex"]  # and kept again


def test_another_picture_preamble_or_tex_is_another_entry(pdflatex, cache, runs, monkeypatch, tmp_path):
    latex.compile_pdfs(SOURCES)
    redrawn = {name: text.replace("{the same}", "{redrawn}") for name, text in SOURCES.items()}
    runs.clear()
    shown = texts(latex.compile_pdfs(redrawn), tmp_path)["worksheet.pdf"]
    assert shown == "Student 1. Before redrawn after. x The end. 1"
    assert sorted(runs) == ["derive-pictures-1.tex", "solutions.tex", "worksheet.tex"]  # the same preamble's format
    other = {name: text.replace("\\usepackage{tikz}", "\\usepackage{tikz,amssymb}") for name, text in SOURCES.items()}
    runs.clear()
    latex.compile_pdfs(other)
    assert "format" in runs and entries(cache) == [".fmt", ".fmt", ".pictures", ".pictures", ".pictures"]
    monkeypatch.setattr(texcache, "_installation", lambda pdflatex: "a TeX Live updated since")
    runs.clear()
    latex.compile_pdfs(SOURCES)
    assert sorted(runs) == ["derive-pictures-1.tex", "format", "solutions.tex", "worksheet.tex"]


def test_a_cache_that_cannot_be_used_is_no_cache(pdflatex, tmp_path, monkeypatch, runs):
    """A file where the folder should be, or a folder others may read or write (another user could plant a
    format, which is code TeX runs): the documents compile as with the cache off, and nothing is written."""
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    (tmp_path / "shared" / "tex").mkdir(parents=True)
    (tmp_path / "shared" / "tex").chmod(0o777)
    monkeypatch.setenv("DERIVE_CACHE", "off")
    uncached = latex.compile_pdfs(SOURCES)
    for folder in ("a-file", "shared"):
        monkeypatch.setenv("DERIVE_CACHE", str(tmp_path / folder))
        runs.clear()
        assert latex.compile_pdfs(SOURCES) == uncached
        assert sorted(runs) == ["solutions.tex", "worksheet.tex"], folder  # no format, no pictures run
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"
    assert list((tmp_path / "shared" / "tex").iterdir()) == []


def test_the_cache_lives_in_the_users_cache_folder_unless_told(pdflatex, tmp_path, monkeypatch):
    monkeypatch.delenv("DERIVE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    latex.compile_pdfs(SOURCES)
    assert entries(tmp_path / "xdg" / "derive" / "tex") == [".fmt", ".pictures"]
    for off in ("off", "OFF", ""):
        monkeypatch.setenv("DERIVE_CACHE", off)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"xdg-{off}"))
        latex.compile_pdfs(SOURCES)
        assert not (tmp_path / f"xdg-{off}").exists(), off


def test_the_least_recently_used_entries_go(tmp_path, monkeypatch):
    monkeypatch.setitem(texcache.KEEP, ".fmt", 2)
    kept = texcache.TexCache(tmp_path, "a TeX")
    for age, name in enumerate(["first", "second", "third"]):
        kept.store(kept.key(name), ".fmt", name.encode(), [])
        os.utime(tmp_path / f"{kept.key(name)}.fmt", (1_000_000 + age, 1_000_000 + age))  # a second apart
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{kept.key(n)}.fmt" for n in ("second", "third"))
    assert kept.load(kept.key("second"), ".fmt") == b"second"  # used again now: the newest of the two
    kept.store(kept.key("fourth"), ".fmt", b"fourth", [])
    assert kept.load(kept.key("third"), ".fmt") is None
    assert [kept.load(kept.key(name), ".fmt") for name in ("second", "fourth")] == [b"second", b"fourth"]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".partial")] == []


PACKAGE = "\\ProvidesPackage{derivetest}\n\\newcommand\\said{%s}\n"


def test_an_entry_is_not_used_once_a_file_tex_read_for_it_changes(pdflatex, cache, runs, tmp_path, monkeypatch):
    """A package in the user's own texmf (TEXMFHOME), read by the preamble and by a picture, is changed
    after the first compilation: the format and the pictures are made again, and the PDF says the new text."""
    home = tmp_path / "texmf" / "tex" / "latex"
    home.mkdir(parents=True)
    (home / "derivetest.sty").write_text(PACKAGE % "before", encoding="utf-8")
    monkeypatch.setenv("TEXMFHOME", str(tmp_path / "texmf"))
    sources = {
        name: text.replace("\\usepackage{tikz}", "\\usepackage{tikz,derivetest}").replace("{the same}", "{\\said}")
        for name, text in SOURCES.items()
    }
    assert texts(latex.compile_pdfs(sources), tmp_path)["worksheet.pdf"].startswith("Student 1. Before before after.")
    runs.clear()
    latex.compile_pdfs(sources)
    assert sorted(runs) == ["solutions.tex", "worksheet.tex"]  # kept
    (home / "derivetest.sty").write_text(PACKAGE % "changed", encoding="utf-8")
    runs.clear()
    assert texts(latex.compile_pdfs(sources), tmp_path)["worksheet.pdf"].startswith("Student 1. Before changed after.")
    assert sorted(runs) == ["derive-pictures-1.tex", "format", "solutions.tex", "worksheet.tex"]


def test_the_log_of_the_pictures_comes_with_the_documents_drawn_or_kept(pdflatex, cache):
    """A picture's overfull box is in the pictures' log, which compile_pdfs hands over beside the
    documents' own, whether the pictures were drawn now or kept from before."""
    wide = picture("\\parbox{1cm}{Supercalifragilisticexpialidocious}")
    sources = {name: text.replace(picture("the same"), wide) for name, text in SOURCES.items()}
    for _ in ("drawn", "kept"):
        logs: dict[str, str] = {}
        latex.compile_pdfs(sources, logs=logs)
        assert sorted(logs) == ["derive-pictures-1.tex", "solutions.tex", "worksheet.tex"]
        assert "Overfull \\hbox" in logs["derive-pictures-1.tex"]


def test_a_write_cut_short_leaves_no_partial_file(tmp_path, monkeypatch):
    """Ctrl-C while an entry is written: the partial file goes, and the entry is not there."""
    kept = texcache.TexCache(tmp_path, "a TeX")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(texcache.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kept.store(kept.key("cut"), ".fmt", b"data", [])
    assert list(tmp_path.iterdir()) == []


def test_a_relative_xdg_cache_home_is_ignored(pdflatex, tmp_path, monkeypatch):
    """The XDG rule: a relative XDG_CACHE_HOME is ignored, and the cache is ~/.cache/derive/tex."""
    monkeypatch.delenv("DERIVE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    monkeypatch.chdir(tmp_path)
    latex.compile_pdfs(SOURCES)
    assert entries(tmp_path / "home" / ".cache" / "derive" / "tex") == [".fmt", ".pictures"]
    assert not (tmp_path / "relative").exists()
