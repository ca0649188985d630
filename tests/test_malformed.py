"""Bad input through the command line: exit status 2, one or two lines naming the place, nothing written.

Every file in ``tests/malformed/`` has one mistake; ``tests/malformed/expected.toml`` lists the fragments
(the key path, what was expected) its message must contain.  Files that cannot be committed as text
(binary, not UTF-8, a directory, a pipe, a huge file) are made here in ``tmp_path``.
"""

import json
import os
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_derive

CORPUS = Path(__file__).resolve().parent / "malformed"
EXPECTED: dict[str, list[str]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
MAZUR = (ROOT / "derive" / "examples" / "mazur.toml").read_text(encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file under ``folder`` with its content (None for what is not a regular file)."""
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None for path in folder.rglob("*")}


@pytest.fixture
def derive_in(tmp_path):
    """Run ``derive`` with ``tmp_path`` as the working directory, checking that nothing there changes."""

    def run(*args: str, fresh: bool = False):
        before = _snapshot(tmp_path)
        result = run_derive(*args, cwd=tmp_path, check=False, fresh=fresh)
        assert _snapshot(tmp_path) == before, "a file was created or changed"
        return result

    return run


def assert_user_error(result, *fragments: str) -> None:
    """Exit status 2, nothing on stdout, one or two lines on stderr containing every fragment."""
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode == 2, shown
    assert result.stdout == "", shown
    assert "Traceback" not in result.stderr, shown
    assert 1 <= len(result.stderr.splitlines()) <= 2, shown
    for fragment in fragments:
        assert fragment in result.stderr, f"missing {fragment!r}\n{shown}"


def test_the_corpus_is_complete():
    files = {path.name for path in CORPUS.iterdir() if path.name != "expected.toml"}
    assert files == set(EXPECTED), "every corpus file needs an entry in expected.toml, and every entry a file"
    assert len(EXPECTED) >= 40
    assert all(EXPECTED.values()), "every case names at least one fragment"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file(name, tmp_path, derive_in):
    (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    assert_user_error(derive_in("gradients", name), f"derive: {name}: ", *EXPECTED[name])


@pytest.mark.parametrize(
    "name",
    ["weights_flat.toml", "json_nan.json", "toml_duplicate_key.toml", "batch_size_too_large.toml", "momentum_one.toml"],
)
def test_malformed_file_under_train(name, tmp_path, derive_in):
    (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    assert_user_error(derive_in("train", "--steps", "3", "--json", name), name, *EXPECTED[name])


# ---- files that are not text, or not files -----------------------------------------------------


def test_binary_file(tmp_path, derive_in):
    (tmp_path / "net.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_user_error(derive_in("gradients", "net.toml"), "net.toml: is a binary file", "expected a UTF-8 text file")


def test_latin1_file(tmp_path, derive_in):
    (tmp_path / "net.toml").write_bytes(("# red de ejemplo, versión 1\n" + MAZUR).encode("latin-1"))
    assert_user_error(
        derive_in("gradients", "net.toml"), "net.toml: line 1, column 24: not UTF-8 text (byte 0xf3)", "save the file"
    )


def test_utf16_file(tmp_path, derive_in):
    (tmp_path / "net.toml").write_bytes(MAZUR.encode("utf-16"))
    assert_user_error(derive_in("gradients", "net.toml"), "net.toml: is UTF-16", "expected UTF-8")


def test_byte_order_mark_still_loads(tmp_path, derive_in):
    (tmp_path / "net.toml").write_bytes(MAZUR.encode("utf-8-sig"))
    (tmp_path / "net.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(_mazur_dict()).encode())
    for name in ("net.toml", "net.json"):
        result = derive_in("gradients", name)
        assert result.returncode == 0, result.stderr
        assert "0.298371109" in result.stdout


def test_directory(tmp_path, derive_in):
    (tmp_path / "net.toml").mkdir()
    assert_user_error(derive_in("gradients", "net.toml"), "net.toml: is a directory", "expected a .toml or .json")


def test_missing_file(derive_in):
    assert_user_error(derive_in("gradients", "missing.toml"), "missing.toml: no such file", "expected a .toml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_not_read(tmp_path, derive_in):
    os.mkfifo(tmp_path / "net.toml")
    assert_user_error(derive_in("gradients", "net.toml"), "net.toml: is not a regular file")


def test_unreadable_file(tmp_path, monkeypatch, capsys):
    """A file the user may not read (simulated: as root every file is readable)."""
    from pathlib import Path

    from derive.app.cli import main

    path = tmp_path / "net.toml"
    path.write_text(MAZUR, encoding="utf-8")
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert main(["gradients", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "net.toml: cannot be read (Permission denied)" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_huge_file(tmp_path, derive_in):
    (tmp_path / "net.toml").write_text(MAZUR + "#" * (17 * 2**20) + "\n", encoding="utf-8")
    assert_user_error(derive_in("gradients", "net.toml"), "net.toml: is larger than 16 MiB")


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        ("deep_tables.json", '{"a":' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
    ],
    ids=["json lists", "toml lists", "json objects"],
)
def test_nesting_too_deep(name, text, fragment, tmp_path, derive_in):
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert_user_error(derive_in("gradients", name), name, fragment)


def test_too_many_layers(tmp_path, derive_in):
    data = _mazur_dict()
    data["layers"] = [{"name": f"l{n}x", "activation": "linear", "weights": [[1.0]], "bias": 0.0} for n in range(17)]
    (tmp_path / "net.json").write_text(json.dumps(data), encoding="utf-8")
    assert_user_error(derive_in("gradients", "net.json"), "net.json: layers: expected at most 16 layers, got 17")


def test_too_many_parameters(tmp_path, derive_in):
    data = _mazur_dict()
    data["layers"] = [{"name": "h", "activation": "linear", "weights": [[0.5] * 40] * 1500, "bias": 0.0}]
    (tmp_path / "net.json").write_text(json.dumps(data), encoding="utf-8")
    assert_user_error(
        derive_in("gradients", "net.json"), "net.json: layers[0].weights: expected at most 50000 parameters"
    )


def test_json_without_suffix_is_sniffed(tmp_path, derive_in):
    (tmp_path / "network").write_text('{"layers": 3}', encoding="utf-8")
    assert_user_error(derive_in("gradients", "./network"), "network: layers: expected a non-empty list")


# ---- the command line's own values ---------------------------------------------------------------

# argparse's errors: the last line names the option and the value; the usage line(s) come before it.
BAD_OPTIONS = {
    "negative steps": (["train", "--steps", "-1"], ["argument --steps", "got -1"]),
    "steps not a number": (["train", "--steps", "x"], ["argument --steps", "expected a whole number", "got 'x'"]),
    "fractional steps": (["train", "--steps", "1.5"], ["argument --steps", "got '1.5'"]),
    "steps missing": (["train"], ["one of the arguments --steps --epochs is required"]),
    "epochs with steps": (
        ["train", "--steps", "3", "--epochs", "2"],
        ["argument --epochs: not allowed with argument --steps"],
    ),
    "negative epochs": (["train", "--epochs", "-1"], ["argument --epochs", "got -1"]),
    "goal zero": (
        ["train", "--epochs", "3", "--until", "0"],
        ["argument --until: expected an error goal above 0, got 0"],
    ),
    "goal negative": (["train", "--epochs", "3", "--until", "-0.1"], ["argument --until", "got -0.1"]),
    "goal not a number": (["train", "--epochs", "3", "--until", "low"], ["argument --until", "got 'low'"]),
    "goal infinite": (["train", "--epochs", "3", "--until", "inf"], ["argument --until", "got inf"]),
    "batch size zero": (["train", "--epochs", "1", "--batch-size", "0"], ["argument --batch-size", "got 0"]),
    "batch size negative": (["train", "--epochs", "1", "--batch-size", "-2"], ["argument --batch-size", "got -2"]),
    "batch size fraction": (["train", "--epochs", "1", "--batch-size", "1.5"], ["argument --batch-size", "got '1.5'"]),
    "shuffle negative": (
        ["train", "--epochs", "1", "--shuffle", "-1"],
        ["argument --shuffle: expected a seed", "got -1"],
    ),
    "momentum one": (
        ["train", "--epochs", "1", "--momentum", "1"],
        ["argument --momentum", "up to but not including 1", "got 1"],
    ),
    "momentum negative": (["train", "--epochs", "1", "--momentum", "-0.5"], ["argument --momentum", "got -0.5"]),
    "momentum not a number": (["train", "--epochs", "1", "--momentum", "high"], ["argument --momentum", "got 'high'"]),
    "weight decay negative": (
        ["train", "--epochs", "1", "--weight-decay", "-0.01"],
        ["argument --weight-decay", "got -0.01"],
    ),
    "weight decay nan": (["train", "--epochs", "1", "--weight-decay", "nan"], ["argument --weight-decay", "got nan"]),
    "unknown update order": (["train", "--steps", "1", "--update", "sideways"], ["argument --update", "'sideways'"]),
    "negative digits": (["gradients", "--digits", "-1"], ["argument --digits", "got -1"]),
    "too many digits": (["gradients", "--digits", "31"], ["argument --digits", "got 31"]),
    "too much rounding": (["gradients", "--round-activations", "99"], ["argument --round-activations", "got 99"]),
    "negative rounding": (["gradients", "--round-activations", "-1"], ["argument --round-activations", "got -1"]),
    "unknown command": (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    "unknown ECF policy": (["check", "a.toml", "--ecf", "partial"], ["argument --ecf", "unknown ECF policy 'partial'"]),
    "misspelt ECF policy": (["check", "a.toml", "--ecf", "ful"], ["argument --ecf", "did you mean 'full'?"]),
    "too few digits to grade": (["check", "a.toml", "--min-digits", "0"], ["argument --min-digits", "got 0"]),
    "check without answers": (["check"], ["ANSWERS"]),
    "class report of an unknown format": (
        ["check", "a.csv", "--report", "report.txt"],
        ["--report: expected a report file ending in .html or .md, got '.txt'"],
    ),
    "class report without a suffix": (["check", "a.csv", "--report", "report"], ["got 'no suffix'"]),
    "quiz without a format": (["quiz"], ["--format"]),
    "unknown quiz format": (["quiz", "--format", "moodl"], ["argument --format", "did you mean 'moodle'?"]),
    "quiz digits zero": (["quiz", "--format", "qti", "--digits", "0"], ["argument --digits", "got 0"]),
    "too many quiz variants": (["quiz", "--format", "qti", "--variants", "201"], ["argument --variants", "got 201"]),
    "quiz variant out of range": (["quiz", "--format", "qti", "--variant", "0", "--seed", "1"], ["got 0"]),
    "empty ask": (["quiz", "--format", "moodle", "--ask", ","], ["argument --ask", "expected step keys"]),
    "scorm pass above 100": (["scorm", "--pass", "120"], ["argument --pass", "a percentage from 0 to 100", "got 120"]),
    "scorm pass not a number": (["scorm", "--pass", "half"], ["argument --pass", "got 'half'"]),
    "unknown scorm version": (["scorm", "--version", "1.3"], ["argument --version", "unknown SCORM version '1.3'"]),
    "scorm ECF misspelt": (["scorm", "--ecf", "halve"], ["argument --ecf", "did you mean 'half'?"]),
    "scorm which without variants": (["scorm", "--which", "alice"], ["argument --which: needs --variants N"]),
}
# derive's own errors about a NETWORK or NAME argument: one line.
BAD_NAMES = {
    "misspelt built-in": (["gradients", "mazurr"], ["NETWORK: unknown built-in example or file 'mazurr'", "'mazur'?"]),
    "capitalised built-in": (["gradients", "Mazur"], ["NETWORK: unknown built-in example or file 'Mazur'", "'mazur'?"]),
    "empty name": (["gradients", ""], ["NETWORK: expected a .toml or .json file or a built-in example name"]),
    "missing file": (["gradients", "missing.json"], ["missing.json: no such file"]),
    "missing file under train": (["train", "--steps", "2", "gone.toml"], ["gone.toml: no such file"]),
    "batch size above the examples": (
        ["train", "xor", "--epochs", "1", "--batch-size", "5"],
        ["--batch-size: expected a whole number of examples per update, from 1 to 4", "got the number 5"],
    ),
    "file name too long": (["gradients", "x" * 5000 + ".toml"], ["xxx...: cannot be read (File name too long)"]),
    "misspelt example": (["example", "mazurr"], ["unknown built-in example 'mazurr'", "did you mean 'mazur'?"]),
    "unknown asked key": (
        ["quiz", "--format", "moodle", "--ask", "E_total,E_totl"],
        ["--ask: unknown key 'E_totl'", "did you mean 'E_total'?"],
    ),
    "unknown asked blank": (
        ["quiz", "--format", "qti", "--ask", "99", "-o", "quiz.zip"],
        ["--ask: no blank 99", "blanks 1 to 52"],
    ),
    "a step asked twice": (["quiz", "--format", "moodle", "--ask", "15,dE/dw5"], ["asks for 'dE/dw5' a second time"]),
    "asked step left out by --only": (["quiz", "--format", "moodle", "--only", "w5", "--ask", "dE/dw1"], ["--ask"]),
    "quiz variant without seed": (["quiz", "--format", "qti", "--variant", "3"], ["argument --variant: needs --seed"]),
    "unknown key graded by scorm": (
        ["scorm", "--ask", "E_total,E_totl", "-o", "p.zip"],
        ["--ask: unknown key 'E_totl'", "did you mean 'E_total'?"],
    ),
    "scorm grading a step without a blank": (["scorm", "--ask", "dnet_o1/dw5"], ["--ask", "is not a blank"]),
    "scorm step graded twice": (["scorm", "--ask", "15,dE/dw5"], ["asks for 'dE/dw5' a second time"]),
    "scorm package into a missing folder": (["scorm", "-o", "gone/p.zip"], ["gone/p.zip: cannot be written"]),
    "scorm package onto a folder": (["scorm", "-o", "."], [".: is a folder; expected a file name"]),
    "missing answer file": (["check", "gone.toml"], ["gone.toml: no such file", "expected a .toml or .json file"]),
    "answer file is a folder": (["check", "."], [".: is a directory", "expected a .toml or .json file of key"]),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_option(case, derive_in):
    args, fragments = BAD_OPTIONS[case]
    result = derive_in(*args)
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode == 2, shown
    assert result.stdout == "", shown
    assert "Traceback" not in result.stderr, shown
    last = result.stderr.splitlines()[-1]
    assert last.startswith("derive"), shown
    for fragment in fragments:
        assert fragment in last, f"missing {fragment!r}\n{shown}"


@pytest.mark.parametrize(
    "case",
    ["negative steps", "unknown update order", "negative digits", "too much rounding", "momentum one", "goal zero"],
)
def test_bad_option_fits_in_two_lines(case, derive_in):
    args, fragments = BAD_OPTIONS[case]
    assert_user_error(derive_in(*args), *fragments)


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_bad_network_name(case, derive_in):
    args, fragments = BAD_NAMES[case]
    assert_user_error(derive_in(*args), *fragments)


def test_large_but_valid_numbers_are_shown(tmp_path, derive_in):
    """Not a user error: a weight of 1e30 is a valid number, so this must succeed."""
    (tmp_path / "net.toml").write_text(MAZUR.replace("[[0.15, 0.20]", "[[1e30, 0.20]"), encoding="utf-8")
    result = derive_in("gradients", "net.toml")
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr


def _mazur_dict() -> dict:
    return json.loads(json.dumps(tomllib.loads(MAZUR)))


# ---- templates from anyone: the sandbox ----------------------------------------------------------

ESCAPES = {
    # each reaches Python's os module through objects Jinja2 exposes; unsandboxed, it writes a file
    "cycler globals": '<< cycler.__init__.__globals__.os.popen("touch pwned").read() >>',
    "catalog method globals": '<< t.__call__.__globals__["re"].__builtins__["open"]("pwned", "w") >>',
    "string format": '<< "{0.__class__.__mro__}".format(doc) >>',
    "class walk": "<< ().__class__.__base__.__subclasses__() >>",
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_a_template_cannot_reach_the_machine(case, tmp_path, derive_in):
    folder = tmp_path / "mine" / "markdown"
    folder.mkdir(parents=True)
    (folder / "explanation.md.j2").write_text(f"# title\n{ESCAPES[case]}\n", encoding="utf-8")
    result = derive_in("explain", "--templates", "mine")
    assert_user_error(result, "explanation.md.j2: line 2:", "Python internals")
    assert not (tmp_path / "pwned").exists()


def test_a_worksheet_template_cannot_reach_the_machine(tmp_path, derive_in):
    (tmp_path / "mine" / "latex").mkdir(parents=True)
    escape = ESCAPES["cycler globals"]
    (tmp_path / "mine" / "latex" / "worksheet.tex.j2").write_text(f"\n\n{escape}\n", encoding="utf-8")
    result = derive_in("worksheet", "--templates", "mine", "-o", "out")
    assert_user_error(result, "worksheet.tex.j2: line 3:")
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()


def test_a_catalog_placeholder_cannot_reach_attributes(tmp_path, derive_in):
    """A placeholder is replaced by its field's text and nothing else is read: no attribute, no index."""
    (tmp_path / "mine" / "i18n").mkdir(parents=True)
    english = (ROOT / "templates" / "i18n" / "en.toml").read_text(encoding="utf-8")
    hostile = english.replace('gradient_of = "The gradient of {name}"', 'gradient_of = "{name.__class__.__mro__}"')
    (tmp_path / "mine" / "i18n" / "en.toml").write_text(hostile, encoding="utf-8")
    result = derive_in("explain", "--detail", "full", "--templates", "mine")
    assert result.returncode == 0, result.stderr
    assert "#### {name.__class__.__mro__}" in result.stdout and "<class" not in result.stdout


def test_a_catalog_fields_text_is_not_read_again_for_the_next_placeholder():
    """Each placeholder is filled once, from the sentence alone: LaTeX given in one field keeps its braces
    (\\mathrm{out}_{h1} is not filled with the field ``out``), and a field is not filled from another's text."""
    from derive.outputs.render import Catalog

    t = Catalog("en", {"moves": "{moves}; {out}; {missing}"}, "test.toml")
    assert (
        t("moves", moves=r"$\mathrm{out}_{h1}$ {missing}", out="o1") == r"$\mathrm{out}_{h1}$ {missing}; o1; {missing}"
    )


def test_a_template_in_the_old_flat_layout_is_pointed_to_its_folder(tmp_path, derive_in):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "explanation.md.j2").write_text("x\n", encoding="utf-8")
    result = derive_in("explain", "--templates", "mine")
    assert_user_error(result, "explanation.md.j2", "move it to mine/markdown/explanation.md.j2")


# ---- the documents' own options and the class roster ---------------------------------------------

DOCUMENT_OPTIONS = {
    "unknown detail": (["explain", "--detail", "breif"], ["argument --detail", "'breif'", "did you mean 'brief'?"]),
    "unknown exercise": (["worksheet", "--exercise", "exams"], ["argument --exercise", "did you mean 'exam'?"]),
    "unknown paper": (["worksheet", "--paper", "A4"], ["argument --paper", "did you mean 'a4'?"]),
    "combined without variants": (["worksheet", "--combined"], ["argument --combined: needs --variants N"]),
    "roster without combined": (["worksheet", "--variants", "2", "--roster", "r.csv"], ["argument --roster"]),
    "ask without exam": (["worksheet", "--ask", "E_total"], ["argument --ask: goes with --exercise exam"]),
    "marks not numbers": (
        ["worksheet", "--exercise", "exam", "--seed", "1", "--marks", "4,x"],
        ["argument --marks", "expected whole numbers of marks from 1 to 100", "got '4,x'"],
    ),
    "a question of no marks": (
        ["worksheet", "--exercise", "exam", "--seed", "1", "--marks", "0,1,1"],
        ["argument --marks", "got '0,1,1'"],
    ),
    "marks without exam": (["worksheet", "--marks", "4,4"], ["argument --marks: goes with --exercise exam"]),
    "no minutes": (
        ["worksheet", "--exercise", "exam", "--seed", "1", "--minutes", "0"],
        ["argument --minutes", "expected a whole number from 1 to 600, got 0"],
    ),
    "minutes without exam": (["worksheet", "--minutes", "30"], ["argument --minutes: goes with --exercise exam"]),
    "an exam's figures out of range": (
        ["worksheet", "--exercise", "exam", "--seed", "1", "--digits", "16"],
        ["argument --digits: an exam asks for significant figures: expected 1 to 15"],
    ),
    "an empty course": (
        ["worksheet", "--exercise", "exam", "--seed", "1", "--course", ""],
        ["argument --course", "expected a course name on one line"],
    ),
    "example of a batch update (gradients)": (["gradients", "xor", "--example", "2"], ["--example", "batch training"]),
    "example of a batch update (quiz)": (
        ["quiz", "--format", "moodle", "--example", "1"],
        ["--example", "batch training"],
    ),
    "unknown slides detail": (["slides", "--detail", "short"], ["argument --detail", "'short'"]),
    "unknown page detail": (["html", "--detail", "breif"], ["argument --detail", "did you mean 'brief'?"]),
    "page variant without seed": (["html", "--variant", "3"], ["argument --variant: needs --seed"]),
    "page of an unknown language": (["html", "--lang", "fr"], ["unknown language 'fr'", "expected one of: en, es"]),
    "page into a folder": (["html", "-o", "."], [".: is a folder; expected a file name"]),
    "page of an unknown gradient": (["html", "--only", "w55"], ["--only: no parameter 'w55'", "did you mean"]),
    "page option misspelt": (["html", "--worksheets"], ["unrecognized arguments: --worksheets"]),
}


@pytest.mark.parametrize("case", sorted(DOCUMENT_OPTIONS))
def test_bad_document_option(case, derive_in):
    args, fragments = DOCUMENT_OPTIONS[case]
    assert_user_error(derive_in(*args), *fragments)


def test_an_unknown_exam_key_is_named(derive_in):
    result = derive_in("worksheet", "--exercise", "exam", "--ask", "E_total,dE/dw55", "-o", "out")
    assert_user_error(result, "--ask: unknown key 'dE/dw55'; did you mean 'dE/dw5'?")


ROSTERS = {
    "no student column": ("name,email\nAna,a@x\n", ["roster.csv", "line 1", "has no student column"]),
    "ragged row": ("student,email\nAna,a@x\nBob\n", ["roster.csv", "line 3", "expected 2 cells"]),
    "more students than variants": ("student\nA\nB\nC\n", ["roster.csv", "lists 3 students but only 2 variants"]),
    "empty": ("", ["roster.csv", "is empty"]),
    "only blank lines": ("\n\n", ["roster.csv", "is empty"]),
}


@pytest.mark.parametrize("case", sorted(ROSTERS))
def test_bad_roster(case, tmp_path, derive_in):
    text, fragments = ROSTERS[case]
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    result = derive_in("worksheet", "--variants", "2", "--combined", "--roster", "roster.csv", "-o", "out")
    assert_user_error(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_roster_not_utf8_or_missing(tmp_path, derive_in):
    (tmp_path / "roster.csv").write_bytes(b"student\nJos\xe9\n")
    args = ["worksheet", "--variants", "2", "--combined", "-o", "out", "--roster"]
    assert_user_error(derive_in(*args, "roster.csv"), "roster.csv: line 2, column 4: not UTF-8 text (byte 0xe9)")
    assert_user_error(
        derive_in(*args, "gone.csv"), "gone.csv: no such file", "expected a CSV file with a student column"
    )
