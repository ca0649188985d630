"""Every given number the page, the quizzes, the slides and the exam show is the network file's.

The page (``derive html``, with and without ``--worksheet``) is read as text, each MathML formula
written back in LaTeX's letters, so that the rows Markdown and LaTeX are held to
(tests/test_given_numbers.py) hold it too; the QTI package's opening item is read as the Moodle
question is; the slides' network drawing is read edge by edge (each weight on the edge from its
input to its neuron, each bias into its neurons, each target beside its output); the exam's sheet
as the worksheet.  The learning rate, the momentum, the weight decay and the changes before are
looked for in every output of a network that has them, against the file read here with tomllib.
"""

from __future__ import annotations

import html
import re
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable

import pytest

from tests.chains import Frac, Row, Script, Tok, mathml_boxes
from tests.conftest import run_derive
from tests.test_equation_chains import MOMENTUM
from tests.test_given_numbers import NUMBER, assert_the_files_numbers, assigned, exactly, given_in, html_tables

NETWORKS = ["mazur", "softmax", "xor", "deep", "momentum"]
KINDS = ["page", "worksheet page", "qti", "moodle", "slides", "exam", "explanation", "solutions"]


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Callable[[str, str], tuple[str, dict]]:
    """An output's text and its network's file, each made once per worker."""
    folder = tmp_path_factory.mktemp("given")
    (folder / "momentum.toml").write_text(MOMENTUM, encoding="utf-8")
    made: dict[tuple[str, str], tuple[str, dict]] = {}

    def make(name: str, kind: str) -> tuple[str, dict]:
        if (name, kind) not in made:
            source = str(folder / "momentum.toml") if name == "momentum" else name
            out = folder / f"{name}-{kind.replace(' ', '-')}"
            spec = tomllib.loads(MOMENTUM if name == "momentum" else run_derive("example", name).stdout)
            made[name, kind] = (write(source, kind, out), spec)
        return made[name, kind]

    return make


def write(source: str, kind: str, out) -> str:
    """The text of one output of ``source``, written under ``out``."""
    if kind in ("page", "worksheet page"):
        run_derive("html", source, "-o", f"{out}.html", *(["--worksheet"] if kind == "worksheet page" else []))
        return page_text(out.with_suffix(".html").read_text(encoding="utf-8"))
    if kind == "qti":
        run_derive("quiz", source, "--format", "qti", "-o", f"{out}.zip")
        with zipfile.ZipFile(f"{out}.zip") as package:
            (name,) = [item for item in package.namelist() if item.endswith(".xml") and "manifest" not in item]
            text = package.read(name).decode("utf-8")
        return html.unescape(re.search(r"<mattext[^>]*>(.*?)</mattext>", text, re.S)[1])
    if kind == "moodle":
        quiz = ET.fromstring(run_derive("quiz", source, "--format", "moodle").stdout)
        return html.unescape(quiz.findall("question")[1].findtext("questiontext/text"))
    if kind == "explanation":
        return run_derive("explain", source).stdout
    command = {"slides": ["slides"], "exam": ["worksheet", "--exercise", "exam"], "solutions": ["worksheet"]}[kind]
    run_derive(command[0], source, *command[1:], "-o", str(out))
    return (out / {"slides": "slides.tex", "exam": "exam.tex", "solutions": "solutions.tex"}[kind]).read_text("utf-8")


# --- the page as text ---------------------------------------------------------------------------------

LETTERS = {"η": r"\eta", "β": r"\beta", "λ": r"\lambda", "Δ": r"\Delta ", "θ": r"\theta", "δ": r"\delta", "−": "-"}


def latex_of(box: object) -> str:
    """A MathML formula's boxes in LaTeX's letters: ``w_{1}``, ``\\eta = 0.5``, ``i_{1}^{(2)}``."""
    if isinstance(box, Tok):
        text = LETTERS.get(box.text, box.text)
        return {"=": " = ", "·": r" \cdot "}.get(text, text)
    if isinstance(box, Row):
        return "".join(latex_of(item) for item in box.items)
    if isinstance(box, Frac):
        return rf"\frac{{{latex_of(box.num)}}}{{{latex_of(box.den)}}}"
    if isinstance(box, Script):
        text = latex_of(box.base)
        text += f"_{{{latex_of(box.sub)}}}" if box.sub is not None else ""
        return text + (f"^{{{latex_of(box.sup)}}}" if box.sup is not None else "")
    raise AssertionError(box)


def page_text(page: str) -> str:
    """The page as the reader reads it: each formula ``$…$`` in LaTeX's letters, each table row ``| a | b |``."""
    page = re.sub(
        r"<math.*?</math>", lambda m: "$" + latex_of(mathml_boxes(ET.fromstring(m[0]))).strip() + "$", page, flags=re.S
    )
    page = re.sub(r"\$\s*\$\s*=", " =", page)  # "$\eta$ $= 0.5$", two formulas on the page, one to the reader
    page = re.sub(r"<tr[^>]*>", "\n| ", page)
    page = re.sub(r"</t[dh]>\s*<t[dh][^>]*>", " | ", page)
    page = re.sub(r"</tr>", " |\n", page)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["page", "worksheet page", "exam"])
@pytest.mark.parametrize("name", NETWORKS)
def test_the_page_and_the_exam_give_the_files_numbers(output, name, kind):
    text, spec = output(name, kind)
    assert_the_files_numbers(text, *given_in(spec))


@pytest.mark.parametrize("name", NETWORKS)
def test_the_qti_package_shows_the_files_parameters_data_and_changes(output, name):
    text, spec = output(name, "qti")
    parameters, examples, _ = given_in(spec)
    values, data = html_tables(text)
    shown, changes = {}, {}
    for symbol, connection, value, *change in values:
        key = re.fullmatch(r"\\\((\w)_\{(\d+)\}\\\)", symbol)
        source, _, target = connection.partition("→")
        shown[f"{key[1]}{key[2]}"] = (source.strip(), target.strip(), float(value))
        changes[f"{key[1]}{key[2]}"] = float(change[0]) if change else 0.0
    assert shown == parameters
    assert changes == {name: float(spec.get("previous_update", {}).get(name, 0)) for name in parameters}
    assert len(data) == len(examples)
    for (number, inputs, targets), (file_inputs, file_targets) in zip(data, examples, strict=True):
        assert assigned(inputs, "i") == file_inputs, number
        assert assigned(targets, "t") == file_targets, number


@pytest.mark.parametrize("name", NETWORKS)
def test_the_slides_draw_each_given_on_its_edge(output, name):
    """Each weight on the edge from its input to its neuron, each bias into its neurons, each target by its output."""
    text, spec = output(name, "slides")
    parameters, examples, rate = given_in(spec)
    picture = text[: text.index(r"\end{tikzpicture}")]  # the first drawing: the network with its numbers
    edges = re.findall(
        rf"\\draw\[->\] \((\w+)\) -- node\[weight[^\]]*\] \{{\$w_\{{(\d+)\}} = ({NUMBER})\$\}} \((\w+)\);", picture
    )
    drawn = {f"w{n}": (source, target, float(value)) for source, n, value, target in edges}
    weights = {key: given for key, given in parameters.items() if key.startswith("w")}
    assert drawn.keys() == weights.keys(), "every weight drawn once"
    for key, (source, target, value) in weights.items():
        assert drawn[key] == (source, target, value), (
            f"{key} drawn {drawn[key]}, the file: {source} → {target}, {value}"
        )
    biases = re.findall(rf"\\node\[bias\] \(b(\d+)-(\w+)\)[^{{]*\{{\$b_\{{(\d+)\}} = ({NUMBER})\$\}}", picture)
    into: dict[str, list[str]] = {}
    for n, neuron, label, value in biases:
        assert n == label and float(value) == parameters[f"b{n}"][2], f"b{n} into {neuron}: {value}"
        assert re.search(rf"\\draw\[->\] \(b{n}-{neuron}\) -- \({neuron}\);", picture), f"b{n}'s arrow into {neuron}"
        into.setdefault(f"b{n}", []).append(neuron)
    assert {bias: ", ".join(neurons) for bias, neurons in into.items()} == {
        key: given[1] for key, given in parameters.items() if key.startswith("b")
    }
    if len(examples) == 1:
        targets = [float(value) for value in re.findall(rf"\{{\$t_\{{\w+\}} = ({NUMBER})\$\}}", picture)]
        assert targets == examples[0][1]
    assert re.search(rf"\\eta = {exactly(rate)}", text), "learning rate"


@pytest.mark.parametrize("kind", KINDS)
def test_momentum_and_decay_are_stated_with_the_files_values(output, kind):
    """β and λ, and every change before that the file gives, where the output works the update."""
    text, spec = output("momentum", kind)
    for letter, key in ((r"\\beta", "momentum"), (r"\\lambda", "weight_decay"), (r"\\eta", "learning_rate")):
        assert re.search(rf"{letter} = {exactly(spec[key])}", text), f"{kind}: {key} = {spec[key]}"
    if kind in ("exam", "slides", "explanation", "solutions", "page", "worksheet page"):
        return  # the changes before are in the quizzes' table; the documents substitute them in each update
    for name, change in spec["previous_update"].items():
        assert re.search(
            rf"{name[0]}_\{{{name[1:]}\}}\\\)</td><td>[^<]*</td><td>{NUMBER}</td><td>{exactly(change)}<", text
        )
