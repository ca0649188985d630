# ruff: noqa: F811  (derive_in, imported from test_malformed, is a fixture the tests take by name)
"""The malformed-input corpus at the limits: outputs that are not plain files, full disks, an output
that is an input, signals, and input at the edges of what derive accepts (issue 28).

Each case is the one the issue describes.  Cases that need root (a device node, a full disk) make
their own device in ``tmp_path`` or mount a small tmpfs in a private mount namespace (``unshare -m``),
so that a regression cannot replace the machine's own ``/dev/null``.
"""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT, require_tool, source_environment
from tests.test_malformed import MAZUR, assert_user_error, derive_in  # noqa: F401  (derive_in is a fixture)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: device nodes and mounts")


def device(tmp_path, name: str, minor: int):
    """A character device of the kernel's memory driver: minor 3 is /dev/null, 7 is /dev/full."""
    require_root()
    path = tmp_path / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


# ---- item 1: -o onto a special file ---------------------------------------------------------------


def test_output_onto_a_character_device_writes_through(tmp_path, derive_in):
    null = device(tmp_path, "null", 3)
    result = derive_in("explain", "-o", "null")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode), "the device was replaced by a regular file"


def test_output_onto_a_full_device_is_a_one_line_error(tmp_path, derive_in):
    full = device(tmp_path, "full", 7)
    assert_user_error(derive_in("explain", "-o", "full"), "full: cannot be written (No space left on device)")
    assert stat.S_ISCHR(full.stat().st_mode)


def test_output_onto_a_named_pipe_writes_through(tmp_path, derive_in):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    result = derive_in("explain", "-o", "pipe")
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert received and received[0].startswith(b"# ") and b"0.298371109" in received[0]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_output_dash_and_a_link_to_standard_output_print(tmp_path, derive_in):
    (tmp_path / "stdout").symlink_to("/proc/self/fd/1")  # as /dev/stdout is
    for target in ("-", "stdout"):
        result = derive_in("code", "-o", target, fresh=True)  # its own standard output: a process of its own
        assert result.returncode == 0, result.stderr
        assert "import numpy" in result.stdout
    assert os.readlink(tmp_path / "stdout") == "/proc/self/fd/1"


def test_a_folder_output_cannot_be_standard_output(derive_in):
    assert_user_error(derive_in("worksheet", "-o", "-"), "-: expected a folder")


# ---- item 3: several files, all or nothing ----------------------------------------------------


def test_a_folder_in_the_way_leaves_every_file_as_it_was(tmp_path, derive_in):
    (tmp_path / "out" / "worksheet.tex").mkdir(parents=True)
    (tmp_path / "out" / "solutions.tex").write_text("OLD\n")
    assert_user_error(derive_in("worksheet", "-o", "out"), "out/worksheet.tex: is a folder")
    assert (tmp_path / "out" / "solutions.tex").read_text() == "OLD\n"


FULL_DISK = """
set -e
mount -t tmpfs -o size={size}k tmpfs "$1"
mkdir "$1/out" && echo OLD > "$1/out/worksheet.tex"
set +e
"$2" -m derive worksheet --pdf -o "$1/out"
echo "exit $?"
ls -A "$1/out"
cat "$1/out/worksheet.tex"
"""


@pytest.mark.parametrize("size", [64, 160])
def test_a_full_disk_leaves_the_folder_as_it_was(size, tmp_path):
    """On a tmpfs too small for all four files (in a private mount namespace): nothing new, the old file kept."""
    require_root()
    require_tool("pdflatex")
    unshare = require_tool("unshare")
    (tmp_path / "disk").mkdir()
    script = FULL_DISK.format(size=size)
    run = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", str(tmp_path / "disk"), sys.executable],
        capture_output=True,
        text=True,
        env=source_environment(),
        timeout=600,
    )
    lines = run.stdout.splitlines()
    assert "exit 2" in lines, run.stdout + run.stderr
    assert lines[-2:] == ["worksheet.tex", "OLD"], run.stdout
    assert "No space left on device" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


# ---- item 10: the output is one of the inputs ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["check", "a.toml", "-o", "a.toml"], "a.toml"),
        (["explain", "net.toml", "-o", "net.toml"], "net.toml"),
        (["code", "net.toml", "-o", "./link.toml"], "link.toml: is also an input (net.toml)"),
        (["check", "a.toml", "--marks", "marks.toml", "-o", "marks.toml"], "marks.toml"),
        (["explain", "--templates", "mine", "-o", "mine/markdown/explanation.md.j2"], "explanation.md.j2"),
    ],
    ids=["answers", "network", "network by a link", "marks", "a template"],
)
def test_an_output_that_is_an_input_is_refused(args, named, tmp_path, derive_in):
    (tmp_path / "net.toml").write_text(MAZUR, encoding="utf-8")
    (tmp_path / "link.toml").symlink_to("net.toml")
    (tmp_path / "a.toml").write_bytes((ROOT / "examples" / "answers" / "spanish-source.toml").read_bytes())
    (tmp_path / "marks.toml").write_text("[weights]\nE_total = 2\n", encoding="utf-8")
    (tmp_path / "mine" / "markdown").mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "markdown" / "explanation.md.j2", tmp_path / "mine" / "markdown")
    assert_user_error(derive_in(*args), named, "is also an input", "expected a different output file")


# ---- item 13: SIGTERM cleans up as Ctrl-C does --------------------------------------------------


def test_sigterm_removes_the_latex_folder(tmp_path):
    require_tool("pdflatex")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**source_environment(), "TMPDIR": str(temporary)}
    command = [sys.executable, "-m", "derive", "worksheet", "--variants", "6", "--pdf", "-o", "out"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(temporary.glob("derive-latex-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temporary.glob("derive-latex-*")), "pdflatex never started"
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 143, errors
    assert errors.strip() == "derive: terminated"
    assert not list(temporary.glob("derive-latex-*"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "patched"),
    [(["worksheet", "-o", "out"], "worksheet_files"), (["explain"], "explanation")],
    ids=["files", "standard output"],
)
def test_a_sigterm_whose_exception_python_swallows_still_stops_the_command_before_its_output(
    args, patched, tmp_path, monkeypatch
):
    """SIGTERM's handler raises where the program stands; in a weakref callback (as the garbage collector
    runs them) Python swallows that exception and goes on: the command once went on to write every file,
    or print its whole result, with status 0. It still ends with status 143 and one line, nothing written
    or printed, and the next command in the process is not stopped. Run in this process (``main``), the
    only way to plant the swallowed raise."""
    import contextlib
    import io
    import weakref

    from derive.app import cli
    from derive.publishing import publish

    original = getattr(publish, patched)

    def interrupted(*given, **options):
        class Held:
            pass

        held = Held()
        watch = weakref.ref(held, lambda _: cli._terminated(signal.SIGTERM, None))  # noqa: F841
        del held  # the callback runs now, and its Terminated is swallowed
        return original(*given, **options)

    def run() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(args)
        return status, out.getvalue(), err.getvalue()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(publish, patched, interrupted)
    assert run() == (143, "", "derive: terminated\n")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(publish, patched, original)
    status, out, _ = run()
    assert status == 0
    assert (tmp_path / "out" / "worksheet.tex").exists() if args[0] == "worksheet" else out.startswith("# ")


# ---- item 4: the roster is read as every other file -------------------------------------------

ROSTER_ARGS = ["worksheet", "--variants", "2", "--combined", "-o", "out", "--roster"]


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom"])
def test_a_roster_linked_to_an_endless_device_is_refused(special, tmp_path, derive_in):
    (tmp_path / "roster.csv").symlink_to(special)
    assert_user_error(derive_in(*ROSTER_ARGS, "roster.csv"), "roster.csv: is not a regular file")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("student\n" + "x" * 200_000 + "\n", ["roster.csv: line 2: not valid CSV"]),
        ("student\n" + "x" * 101 + "\n", ["roster.csv: line 2: a student's name of 101 characters"]),
        ("student\nAna\x07\n", ["roster.csv: line 2: the name has the character '\\x07'"]),
        ("student\nAna\x00\n", ["roster.csv: is a binary file (a NUL byte on line 2)"]),
    ],
    ids=["a 200,000-character cell", "a long name", "a control character", "a NUL byte"],
)
def test_a_roster_past_the_limits_is_refused(text, fragments, tmp_path, derive_in):
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    assert_user_error(derive_in(*ROSTER_ARGS, "roster.csv"), *fragments)


# ---- item 6: no cell starts a formula, whatever splits the line ----------------------------------


def test_no_gradebook_cell_starts_a_formula_whatever_splits_it(tmp_path):
    import csv

    from tests.conftest import run_derive

    names = ["Ana;=cmd|' /C calc'!A0", "Bo\t=1+1", "Cy,+2", "=Di", "Ed\n@SUM(A1)"]
    rows = [["student", "out_h1"], *[[name, "0.5933"] for name in names]]
    with (tmp_path / "class.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    result = run_derive("check", "class.csv", "-o", "grades.csv", cwd=tmp_path)
    written = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert result.returncode == 0
    for delimiter in (",", ";", "\t"):
        for line in written.splitlines():
            for cell in line.split(delimiter):
                assert not cell.lstrip(' "').startswith(("=", "+", "-", "@")), (delimiter, line)
        for row in csv.reader(written.splitlines(), delimiter=delimiter):
            assert not any(cell.lstrip(" ").startswith(("=", "+", "-", "@")) for cell in row), (delimiter, row)
    students = [row[0] for row in csv.reader(written.splitlines()[1:] and written.splitlines())][1:]
    assert len(students) == len(names)


# ---- items 7, 8, 11: templates from anyone -----------------------------------------------------

TEMPLATES = {
    "includes itself": ('<% include "markdown/explanation.md.j2" %>\n', ["line 1: RecursionError", "includes itself"]),
    "a recursive macro": ("<% macro f(n) %><< f(n) >><% endmacro %>\n<< f(1) >>\n", ["line 1: RecursionError"]),
    "range(10**9)": ("x\n<% for i in range(10**9) %>.<% endfor %>\n", ["line 2:", "1,000,000,000 items"]),
    "range(200000)": ("<% for i in range(200000) %>.<% endfor %>\n", ["line 1: OverflowError", "Range too big"]),
    "'a' * 10**10": ("<< 'a' * 10**10 >>\n", ["line 1: a repetition of 10,000,000,000 items"]),
    "center(10**10)": ("<< 'x' | center(10**10) >>\n", ["line 1: asks for a value of 10,000,000,000 items"]),
    "lipsum(10**9)": ("<< lipsum(10**9) >>\n", ["line 1: asks for a value of 1,000,000,000 items"]),
    "2 ** 1000000": ("<< 2 ** 1000000 >>\n", ["line 1: a power of 2,000,000 bits"]),
    "division by zero": ("a\n<< 1/0 >>\n", ["line 2: ZeroDivisionError"]),
}


@pytest.mark.parametrize("case", sorted(TEMPLATES))
def test_a_template_past_the_limits_is_stopped(case, tmp_path, derive_in):
    body, fragments = TEMPLATES[case]
    (tmp_path / "mine" / "markdown").mkdir(parents=True)
    (tmp_path / "mine" / "markdown" / "explanation.md.j2").write_text(body, encoding="utf-8")
    result = derive_in("explain", "--templates", "mine", "-o", "out.md")
    assert_user_error(result, "mine/markdown/explanation.md.j2: ", *fragments)


def test_template_bytes_that_are_not_utf8(tmp_path, derive_in):
    (tmp_path / "mine" / "markdown").mkdir(parents=True)
    (tmp_path / "mine" / "markdown" / "explanation.md.j2").write_bytes(b"# title\ncaf\xe9\n")
    assert_user_error(
        derive_in("explain", "--templates", "mine"), "explanation.md.j2: line 2: not UTF-8 text (byte 0xe9)"
    )


def test_a_template_that_never_ends_is_stopped(tmp_path, monkeypatch):
    """Two nested loops of 100,000 rounds: stopped at the time limit (here 1 s), naming the template and line."""
    from derive.errors import DeriveError
    from derive.outputs import sandbox
    from derive.outputs.render import Renderer

    monkeypatch.setattr(sandbox, "MAX_SECONDS", 1.0)
    (tmp_path / "markdown").mkdir()
    loops = "x\n<% for i in range(100000) %><% for j in range(100000) %><% endfor %><% endfor %>\n"
    (tmp_path / "markdown" / "explanation.md.j2").write_text(loops, encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(DeriveError, match=r"explanation\.md\.j2: line 2: took longer than 1 s to render"):
        Renderer(tmp_path).render("markdown/explanation.md.j2", "en")
    assert time.monotonic() - started < 30


def test_a_template_linked_outside_its_folder_is_refused(tmp_path, derive_in):
    (tmp_path / "mine" / "markdown").mkdir(parents=True)
    (tmp_path / "mine" / "markdown" / "explanation.md.j2").symlink_to("/etc/passwd")
    result = derive_in("explain", "--templates", "mine")
    assert_user_error(result, "explanation.md.j2: leads outside the templates folder (to /etc/passwd)")


def test_a_catalog_linked_outside_its_folder_is_refused(tmp_path, derive_in):
    (tmp_path / "mine" / "i18n").mkdir(parents=True)
    (tmp_path / "elsewhere.toml").write_bytes((ROOT / "templates" / "i18n" / "en.toml").read_bytes())
    (tmp_path / "mine" / "i18n" / "en.toml").symlink_to(tmp_path / "elsewhere.toml")
    assert_user_error(derive_in("explain", "--templates", "mine"), "en.toml: leads outside the templates folder")


def test_tex_reads_no_file_by_an_absolute_path(tmp_path, derive_in):
    """A Beamer template's \\input{/etc/hostname}: TeX runs with openin_any=p and refuses it."""
    require_tool("pdflatex")
    (tmp_path / "mine" / "beamer").mkdir(parents=True)
    slides = (ROOT / "templates" / "beamer" / "slides.tex.j2").read_text(encoding="utf-8")
    hostile = slides.replace("\\begin{document}", "\\begin{document}\n\\input{/etc/hostname}", 1)
    assert hostile != slides
    (tmp_path / "mine" / "beamer" / "slides.tex.j2").write_text(hostile, encoding="utf-8")
    result = derive_in("slides", "--templates", "mine", "--pdf", "-o", "out")
    assert_user_error(result, "LaTeX could not compile slides.tex", "/etc/hostname")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["--templates", "-o"])
def test_a_path_longer_than_the_system_allows(where, derive_in):
    long = "x" * 5000
    args = ["explain", "--templates", long] if where == "--templates" else ["explain", "-o", long + ".md"]
    assert_user_error(derive_in(*args), "xxx...", "File name too long")


# ---- items 8 and 9: huge numbers in a network, strict JSON ------------------------------------

LINEAR_1E300 = """learning_rate = 0.5
loss = "half_sse"

[[layers]]
name = "h"
activation = "linear"
weights = [[1, 1], [1, 1]]
bias = 0

[[layers]]
name = "o"
activation = "linear"
weights = [[1e300, 1e300]]
bias = 1e300

[[examples]]
inputs = [1e300, 1e300]
targets = [1]
"""


def test_a_quiz_on_inputs_of_1e300(tmp_path, derive_in):
    (tmp_path / "net.toml").write_text(LINEAR_1E300, encoding="utf-8")
    result = derive_in("quiz", "--format", "moodle", "net.toml")
    assert result.returncode == 0, result.stderr
    assert "<quiz>" in result.stdout


@pytest.mark.parametrize("command", [["gradients", "--json"], ["keys", "--json"]])
def test_json_is_strict_or_an_error_naming_the_quantity(command, tmp_path, derive_in):
    import json

    (tmp_path / "net.toml").write_text(LINEAR_1E300, encoding="utf-8")
    result = derive_in(*command, "net.toml")

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON")

    if result.returncode == 0:
        json.loads(result.stdout, parse_constant=refuse)
    else:
        assert_user_error(result, "net.toml: ", "is beyond what a JSON number holds")


# ---- the Also items ----------------------------------------------------------------------------


def test_a_newline_in_a_file_name_stays_in_the_heading(tmp_path, derive_in):
    (tmp_path / "my\nnet.toml").write_text(MAZUR, encoding="utf-8")
    result = derive_in("explain", "my\nnet.toml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(": my net")


# ---- item 5: names in every script -------------------------------------------------------------

NAMES = ["Дмитрий", "王芳", "محمد", "Αλέξης", "José 😀"]


def _pdf_text(path) -> str:
    import unicodedata

    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", text)  # Arabic comes out in presentation forms: their letters


def _fonts(path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


def test_a_roster_in_every_script_is_printed(tmp_path, derive_in):
    """Cyrillic, CJK, Arabic (right to left), Greek and an emoji: lualatex with the Noto fonts prints them."""
    require_tool("lualatex")
    require_tool("pdftotext")
    (tmp_path / "names.csv").write_text("student\n" + "\n".join(NAMES) + "\n", encoding="utf-8")
    result = run_in(tmp_path, "worksheet", "--variants", "5", "--combined", "--roster", "names.csv", "-o", "out")
    assert result.returncode == 0, result.stderr
    pages = _pdf_text(tmp_path / "out" / "class-worksheets.pdf").split("\f")
    students = [line for page in pages for line in page.splitlines() if line.startswith("Student:")]
    assert [line.removeprefix("Student:").strip(" \u202b\u202c") for line in students] == [
        "Дмитрий",
        "王芳",
        "محمد",  # the logical order: set right to left, read back as written
        "Αλέξης",
        "José",  # the emoji is a colour picture, which has no text
    ]
    fonts = _fonts(tmp_path / "out" / "class-worksheets.pdf")
    for font in ("NotoSerif-Regular", "NotoSerifCJKsc", "NotoNaskhArabic"):
        assert font in fonts, fonts
    images = subprocess.run(["pdfimages", "-list", str(tmp_path / "out" / "class-worksheets.pdf")], capture_output=True)
    rows = [row.split() for row in images.stdout.decode().splitlines()[2:]]
    # the emoji, a colour picture (no text), on the page of the name it ends: José's
    page = next(n for n, text in enumerate(pages, 1) if "Student: José" in text)
    assert [(row[0], row[2]) for row in rows] == [(str(page), "image"), (str(page), "smask")], "the emoji: a picture"


def test_a_latin_document_stays_with_pdflatex_and_a_cyrillic_file_name_does_not(tmp_path, derive_in):
    require_tool("lualatex")
    (tmp_path / "Дмитрий.toml").write_text(MAZUR, encoding="utf-8")
    assert run_in(tmp_path, "worksheet", "Дмитрий.toml", "--pdf", "-o", "cyrillic").returncode == 0
    assert run_in(tmp_path, "worksheet", "--pdf", "-o", "latin").returncode == 0
    assert "Дмитрий" in _pdf_text(tmp_path / "cyrillic" / "solutions.pdf")  # the solutions name the network
    assert "Type 1 " in _fonts(tmp_path / "latin" / "solutions.pdf")  # pdflatex's Latin Modern
    assert "CID" in _fonts(tmp_path / "cyrillic" / "solutions.pdf")  # lualatex's OpenType fonts


@pytest.mark.parametrize(
    ("text", "fonts"),
    [
        ("José, ½ — “quoted” → €", ["NotoSerif"]),  # all pdflatex's: Latin Modern's or NotoSerif's
        ("Дмитрий, Αλέξης", ["NotoSerif"]),
        ("王芳 and かな", ["NotoSerif", "NotoSerifCJKsc"]),
        ("محمد, שרה", ["NotoSerif", "NotoNaskhArabic", "NotoSansHebrew"]),
        ("😀 देव ไทย", ["NotoSerif", "NotoSansDevanagari", "NotoSansThai", "NotoColorEmoji"]),
        ("★", list(__import__("derive.outputs.fonts").outputs.fonts.FALLBACK_FONTS)),  # a star: every font
    ],
)
def test_lualatex_loads_the_fonts_of_the_letters_in_the_document(text, fonts):
    """The fonts behind Latin Modern are those the text's letters fall back to, in the fallback order;
    a letter outside the known scripts' blocks (a star, which the CJK font has) keeps them all."""
    from derive.outputs.fonts import fallback_fonts

    assert list(fallback_fonts([text, r"\documentclass{article} $\sum$"])) == fonts


def _charset(path: str, index: int = 0) -> set[int]:
    """The characters a font file has, as fontconfig reads them."""
    found = subprocess.run(
        ["fc-query", "-i", str(index), "--format", "%{charset}", path], capture_output=True, text=True
    )
    ranges = [part.partition("-") for part in found.stdout.split()]
    return {code for low, _, high in ranges for code in range(int(low, 16), int(high or low, 16) + 1)}


def test_each_scripts_letters_fall_back_to_the_font_named_for_it():
    """Read from the fonts themselves (fontconfig's charsets; Latin Modern where TeX finds it): each
    letter of a block in SCRIPT_FONTS is Latin Modern's, the named font's as the first of the fallback
    order that has it, or no font's; each letter pdflatex sets is Latin Modern's, NotoSerif's or none's.
    So a document compiled with only the fonts its letters need sets every glyph as with all of them."""
    from derive.outputs.fonts import FALLBACK_FONTS, SCRIPT_FONTS, pdflatex_can_set

    require_tool("lualatex")
    require_tool("fc-query")
    latin = subprocess.run(["kpsewhich", "lmroman10-regular.otf"], capture_output=True, text=True).stdout.strip()
    listed = subprocess.run(
        ["fc-list", "--format", "%{postscriptname}|%{file}|%{index}\n"], capture_output=True, text=True
    )
    files = {name: (path, int(index)) for name, path, index in (line.split("|") for line in listed.stdout.splitlines())}
    order = [("LatinModern", _charset(latin))]
    for font in FALLBACK_FONTS:
        name = next(name for name in files if name in (font, f"{font}-Regular"))
        order.append((font, _charset(*files[name])))

    def first(code: int) -> str | None:
        return next((font for font, charset in order if code in charset), None)

    for block, font in SCRIPT_FONTS:
        assert {first(code) for code in block} <= {"LatinModern", font, None}, (hex(block.start), font)
    settable = [code for code in range(0x20, 0x2200) if pdflatex_can_set(chr(code))]
    assert {first(code) for code in settable} <= {"LatinModern", "NotoSerif", None}


def test_lualatex_is_given_the_fonts_on_its_command_line(tmp_path):
    """compile_pdfs hands lualatex the fonts its text needs (the document prints them); pdflatex none."""
    from derive.publishing.latex import compile_pdfs

    require_tool("lualatex")
    require_tool("pdftotext")
    said = r"\documentclass{article}\pagestyle{empty}\begin{document}"
    said += r"\ifdefined\derivefallbackfonts\detokenize\expandafter{\derivefallbackfonts}\else none \fi"
    pdfs = compile_pdfs({"cjk.tex": said + r" 王\end{document}", "latin.tex": said + r" José\end{document}"})
    for name, pdf in pdfs.items():
        (tmp_path / name).write_bytes(pdf)
    assert re.findall(r"Noto\w+", _pdf_text(tmp_path / "cjk.pdf")) == ["NotoSerif", "NotoSerifCJKsc"]
    assert _pdf_text(tmp_path / "latin.pdf").split() == ["none", "José"]


def run_in(folder, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import run_derive

    return run_derive(*args, cwd=folder, check=False)
