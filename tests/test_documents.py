"""The explanation and the worksheets, checked as their readers will meet them."""

import re
import tomllib
from pathlib import Path

import pytest

from derive import example
from derive.outputs.render import shipped_templates
from derive.publishing.publish import explanation, worksheet_files
from tests.conftest import run_derive, worksheet_group
from tests.documents import compile_latex, katex_failures, math_fragments, pdf_text
from tests.reference import autograd_gradients

NETWORKS = ["mazur", "softmax", "deep", "xor"]


@pytest.fixture(scope="module")
def default_output():
    return run_derive().stdout


def test_derive_prints_the_worked_example(default_output):
    for figure in ("0.082167041", "0.149780716", "0.036350306", "0.298371109", "0.291027774", "0.35891648"):
        assert figure in default_output
    assert r"\frac{\partial E_{\text{total}}}{\partial w_{5}} = \delta_{o1} \cdot \mathrm{out}_{h1}" in default_output
    assert r"\delta_{o1} = " in default_output
    assert "derivative of the logistic function" in default_output
    assert "sum over paths" in default_output


def test_every_math_fragment_parses_in_katex(default_output):
    assert len(math_fragments(default_output)) > 50
    assert katex_failures(default_output) == []


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_katex_on_every_network_and_language(name, language):
    text = run_derive("explain", name, "--lang", language).stdout
    assert katex_failures(text) == []


def test_spanish_explanation_is_complete():
    text = run_derive("explain", "--lang", "es").stdout
    for term in (
        "propagación hacia delante",
        "propagación hacia atrás (retropropagación)",
        "regla de la cadena",
        "tasa de aprendizaje",
        "función de activación",
        "sesgo",
        "valor objetivo",
        "combinando los factores",
        "denotamos",
        "derivada interna",
        "la neurona de la capa siguiente",
        "en sentido opuesto al gradiente",
    ):
        assert term in text.lower(), term
    for anglicism in ("bias", "pasada", "reuniéndolo", "interior", "de arriba", "salida deseada", "en contra de"):
        assert anglicism not in text.lower(), anglicism
    # net by default, as in English: the source's in_h1 would read like the input i_1; `in` stays an option
    assert r"\mathrm{net}_{h1}" in text and r"\mathrm{in}_{h1}" not in text
    assert "0{,}082167041" in text  # a decimal comma, as Spanish writes it
    source = run_derive("explain", "--lang", "es", "--notation", "in").stdout
    assert r"\mathrm{in}_{h1}" in source and r"\mathrm{net}_{h1}" not in source


def test_catalogs_have_the_same_entries():
    def keys(table, prefix=""):
        for key, value in table.items():
            if isinstance(value, dict):
                yield from keys(value, f"{prefix}{key}.")
            else:
                yield prefix + key

    catalogs = {
        path.stem: set(keys(tomllib.loads(path.read_text(encoding="utf-8"))))
        for path in (shipped_templates() / "i18n").glob("*.toml")
    }
    assert set(catalogs) >= {"en", "es"}
    assert all(entries == catalogs["en"] for entries in catalogs.values())


def test_only_narrows_the_backward_pass():
    text = run_derive("explain", "--only", "w5,w1").stdout
    assert "The gradient of $w_{5}$" in text and "The gradient of $w_{1}$" in text
    assert "The gradient of $w_{6}$" not in text
    assert r"\delta_{o2}" in text  # w1 needs both output deltas, derived on the way


def test_round_activations_in_the_explanation():
    text = run_derive("explain", "--round-activations", "4").stdout
    assert "0.5933" in text and "1.105925" in text
    assert "Rounded to 4 decimals" in text


ROUNDING_NOTE = "Rounded to 2 decimals before the next layer uses it, as done by hand."


def test_the_rounding_note_follows_each_hidden_output_and_never_an_output_neurons():
    """deep (two hidden layers h and g, one output o, two examples) rounded to 2 decimals: the Markdown's
    note follows the output line of each hidden neuron's working, in the forward pass and in the pass after
    the step, and never an output neuron's."""
    text = run_derive("explain", "deep", "--round-activations", "2").stdout
    before = [part.strip().splitlines()[-2] for part in text.split(ROUNDING_NOTE)[:-1]]
    named = [re.search(r"\\mathrm\{out\}_\{(\w+)\}", line) for line in before]
    assert [found[1] if found else line for found, line in zip(named, before, strict=True)] == [
        "h1",
        "h2",
        "g1",
        "g2",
    ] * 4  # two examples, before and after the step


def test_the_page_and_the_sheets_say_the_rounding_note_for_the_hidden_layers_only(tmp_path):
    """The same network in the web page (a note after each of the 8 hidden neurons' working, twice: 16) and
    in the worksheet and solutions (a note after each hidden layer's block: 2 layers, 2 examples, twice: 8)."""
    run_derive("html", "deep", "--round-activations", "2", "-o", str(tmp_path / "page.html"))
    assert (tmp_path / "page.html").read_text(encoding="utf-8").count(ROUNDING_NOTE) == 16
    run_derive("worksheet", "deep", "--round-activations", "2", "-o", str(tmp_path))
    for sheet in ("worksheet", "solutions"):
        assert (tmp_path / f"{sheet}.tex").read_text(encoding="utf-8").count(ROUNDING_NOTE) == 8, sheet


@pytest.mark.parametrize("name", NETWORKS)
def test_worksheet_and_solutions_compile_without_overfull_boxes(name, tmp_path):
    run_derive("worksheet", name, "-o", str(tmp_path))
    for document in ("worksheet", "solutions"):
        log = compile_latex(tmp_path / f"{document}.tex")
        assert "Overfull \\hbox" not in log, f"{name} {document}"
    solutions = pdf_text(tmp_path / "solutions.pdf")
    # every gradient, autograd's, boxed with its sign as the PDF shows it (−, U+2212) and its blank
    for parameter, value in autograd_gradients(example(name).spec).items():
        shown = ("−" if value < 0 else "") + f"{abs(value):.9f}".rstrip("0").rstrip(".")
        # a filled-in blank keeps its trailing zeros (−0.022602540), may carry the answer key's (*)
        # (its inputs as shown, rounded, give another last digit), then its number at the margin
        assert re.search(rf"= {re.escape(shown)}0*( \(\*\))?\s+\(\d+\)", solutions), (name, parameter, shown)


def test_spanish_worksheet_compiles(tmp_path):
    run_derive("worksheet", "--lang", "es", "--matrix", "-o", str(tmp_path))
    for document in ("worksheet", "solutions"):
        log = compile_latex(tmp_path / f"{document}.tex")
        assert "Overfull \\hbox" not in log
    text = pdf_text(tmp_path / "solutions.pdf")
    assert "regla de la cadena" in text.lower() and "0,082167041" in text and "máx" not in text


@worksheet_group()
def test_worksheet_pdf_from_the_command_line(worksheet_pdfs):
    folder = worksheet_pdfs()  # derive worksheet --pdf -o FOLDER
    assert {p.name for p in folder.iterdir()} == {"worksheet.tex", "solutions.tex", "worksheet.pdf", "solutions.pdf"}
    solutions = pdf_text(folder / "solutions.pdf")
    for figure in ("0.082167041", "0.149780716", "0.036350306", "0.298371109"):
        assert figure in solutions
    worksheet = pdf_text(folder / "worksheet.pdf")
    assert "0.082167041" not in worksheet  # the student computes it
    assert "(16)" in worksheet


def test_variants_are_distinct_and_reproducible(tmp_path):
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((first, "7"), (again, "7"), (other, "8")):
        run_derive("worksheet", "--variants", "3", "--seed", seed, "-o", str(folder))
    names = sorted(p.name for p in first.iterdir())
    assert names == ["answers.tex"] + [f"{kind}-{n:02d}.tex" for kind in ("solutions", "worksheet") for n in (1, 2, 3)]
    for name in names:
        assert (first / name).read_bytes() == (again / name).read_bytes()
        assert (first / name).read_bytes() != (other / name).read_bytes()
    sheets = [(first / f"worksheet-{n:02d}.tex").read_text() for n in (1, 2, 3)]
    assert len(set(sheets)) == 3
    log = compile_latex(first / "answers.tex")
    assert "Overfull \\hbox" not in log
    compile_latex(first / "solutions-02.tex")


def test_templates_can_be_overridden_and_languages_added(tmp_path):
    (tmp_path / "i18n").mkdir()
    english = (shipped_templates() / "i18n" / "en.toml").read_text(encoding="utf-8")
    (tmp_path / "i18n" / "pirate.toml").write_text(english.replace("The forward pass", "Forward, me hearties"))
    text = run_derive("explain", "--lang", "pirate", "--templates", str(tmp_path)).stdout
    assert "Forward, me hearties" in text
    (tmp_path / "markdown").mkdir()
    (tmp_path / "markdown" / "explanation.md.j2").write_text("E_total = << doc.total.value >>\n")
    assert run_derive("explain", "--templates", str(tmp_path)).stdout == "E_total = 0.298371109\n"


def test_unknown_language_is_a_clear_error():
    result = run_derive("explain", "--lang", "fr", check=False)
    assert result.returncode == 2
    assert "unknown language 'fr'" in result.stderr and "en, es" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_text_is_escaped(tmp_path):
    network = tmp_path / "net_#1%.toml"
    text = run_derive("example", "mazur").stdout.replace('name = "h"', 'name = "hidden_a"')
    network.write_text(text)
    markdown = run_derive("explain", str(network)).stdout
    assert r"net\_\#1%" in markdown.splitlines()[0]
    assert katex_failures(markdown) == []
    run_derive("worksheet", str(network), "-o", str(tmp_path / "out"))
    log = compile_latex(tmp_path / "out" / "solutions.tex")
    assert "Overfull \\hbox" not in log
    assert re.search(r"net\\_\\#1\\%", (tmp_path / "out" / "solutions.tex").read_text())


def test_python_api_for_documents():
    net = example()
    assert "0.082167041" in explanation(net.spec)
    files = worksheet_files(net.spec, language="es")
    assert set(files) == {"worksheet.tex", "solutions.tex"}
    assert "Soluciones" in files["solutions.tex"]


def test_latex_templates_are_the_shipped_ones():
    assert Path(shipped_templates(), "latex", "worksheet.tex.j2").is_file()


def test_gallery_is_current():
    """output/ holds what `python -m derive.app.gallery` renders today."""
    from derive.app.gallery import gallery_texts
    from tests.conftest import ROOT

    for name, text in gallery_texts().items():
        committed = ROOT / "output" / name
        assert committed.is_file(), f"output/{name} is missing: run python -m derive.app.gallery"
        assert committed.read_text(encoding="utf-8") == text, (
            f"output/{name} is stale: run python -m derive.app.gallery"
        )
    for name in gallery_texts():
        if name.endswith(".tex"):  # every LaTeX document is there compiled too
            assert (ROOT / "output" / name).with_suffix(".pdf").read_bytes().startswith(b"%PDF"), name


def test_gallery_package_is_current():
    """output/scorm-en.zip is what `python -m derive.app.gallery` makes today, byte for byte."""
    from derive.app.gallery import gallery_packages
    from tests.conftest import ROOT

    for name, data in gallery_packages().items():
        committed = ROOT / "output" / name
        assert committed.is_file() and committed.read_bytes() == data, f"output/{name} is stale: run the gallery"


ACTIVATIONS_NETWORK = """
learning_rate = 0.5

[[layers]]
name = "h"
activation = "leaky_relu"
negative_slope = 0.2
weights = [[0.5, -0.4], [-0.3, 0.8]]
bias = [0.1, -0.2]

[[layers]]
name = "g"
activation = "softplus"
weights = [[0.6, -0.4], [-0.3, 0.9]]
bias = 0.05

[[layers]]
name = "o"
activation = "elu"
weights = [[0.7, -1.2]]
bias = -0.5

[[examples]]
inputs = [1.0, 2.0]
targets = [0.9]
"""


@pytest.mark.parametrize("language", ["en", "es"])
def test_new_activations_in_every_document(language, tmp_path):
    """Leaky ReLU (below zero), softplus and ELU (below zero): KaTeX, and LaTeX without overfull boxes."""
    path = tmp_path / "activations.toml"
    path.write_text(ACTIVATIONS_NETWORK, encoding="utf-8")
    text = run_derive("explain", str(path), "--lang", language, "--matrix").stdout
    assert katex_failures(text) == []
    point = "{,}" if language == "es" else "."  # Spanish writes a decimal comma
    assert r"\max\left(0.2 \cdot \mathrm{net}_{h1}, \mathrm{net}_{h1}\right)".replace(".", point) in text
    # ELU below zero: the case that applies
    assert r"e^{\left(-1.766654214\right)} - 1 = -0.829096159".replace(".", point) in text
    sentences = {
        "en": ("derivative of leaky ReLU", "derivative of softplus", "derivative of ELU"),
        "es": ("derivada de ReLU con fuga", "derivada de softplus", "derivada de ELU"),
    }[language]
    assert all(sentence in text for sentence in sentences)
    run_derive("worksheet", str(path), "--lang", language, "--matrix", "-o", str(tmp_path / "out"))
    for document in ("worksheet", "solutions"):
        log = compile_latex(tmp_path / "out" / f"{document}.tex")
        assert "Overfull \\hbox" not in log, document
