"""Every given number a reader is shown is the network's: read back from the output, compared with the file.

Weights and biases (with the neurons each joins), inputs and targets, and the learning rate, as the
Moodle quiz, the Markdown explanation and the LaTeX worksheet show them, against the network's TOML
read here with tomllib.  A table that put the inputs in the targets' column, or a weight beside the
wrong connection, fails with the row it is in.
"""

from __future__ import annotations

import html
import re
import tomllib
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import run_derive

NETWORKS = ["mazur", "softmax", "xor", "deep"]
NUMBER = r"-?\d+(?:\.\d+)?"
EXAMPLE = r"(?:\^\{\(\d+\)\})?"  # with several examples a symbol carries its example: i_{1}^{(2)}


def given(name: str) -> tuple[dict[str, tuple[str, str, float]], list[tuple[list[float], list[float]]], float]:
    """From the file: each parameter's (source, target, value), each example's inputs and targets, η."""
    return given_in(tomllib.loads(run_derive("example", name).stdout))


def given_in(spec: dict) -> tuple[dict[str, tuple[str, str, float]], list[tuple[list[float], list[float]]], float]:
    """:func:`given` of a network file already read."""
    parameters: dict[str, tuple[str, str, float]] = {}
    inputs = [f"i{k + 1}" for k in range(len(spec["examples"][0]["inputs"]))]
    n = 1
    for layer in spec["layers"]:
        names = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        for j, row in enumerate(layer["weights"]):
            for k, value in enumerate(row):
                parameters[f"w{n}"] = (inputs[k], names[j], float(value))
                n += 1
        inputs = names
    b = 1
    for layer in spec["layers"]:
        names = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        biases = layer["bias"] if isinstance(layer["bias"], list) else [layer["bias"]]
        for j, value in enumerate(biases):
            target = ", ".join(names) if len(biases) == 1 and len(names) > 1 else names[j]
            parameters[f"b{b}"] = ("", target, float(value))
            b += 1
    examples = [([float(x) for x in e["inputs"]], [float(t) for t in e["targets"]]) for e in spec["examples"]]
    return parameters, examples, float(spec.get("learning_rate", 0.5))


def quiz_tables(name: str) -> tuple[list[list[str]], list[list[str]]]:
    quiz = ET.fromstring(run_derive("quiz", name, "--format", "moodle").stdout)
    return html_tables(html.unescape(quiz.findall("question")[1].findtext("questiontext/text")))


def html_tables(text: str) -> tuple[list[list[str]], list[list[str]]]:
    """The cells of a quiz's two tables, the parameters' and the data's, tags taken out."""
    tables = re.findall(r"<table[^>]*>(.*?)</table>", text, re.S)
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in tables[0].split("</tr>")
    ]
    data = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in tables[1].split("</tr>")
    ]
    return [row for row in rows if row], [row for row in data if row]


def assigned(cell: str, letter: str) -> list[float]:
    """The values of ``\\(i_{1} = 0.05\\), \\(i_{2} = 0.1\\)``, checking each symbol is ``letter``'s."""
    found = re.findall(rf"\\\((\w)_\{{(\w+)\}}{EXAMPLE} = ({NUMBER})\\\)", cell)
    assert found and all(symbol == letter for symbol, _, _ in found), cell
    return [float(value) for _, _, value in found]


@pytest.mark.parametrize("name", NETWORKS)
def test_the_quiz_shows_the_files_parameters_and_data(name):
    parameters, examples, _ = given(name)
    values, data = quiz_tables(name)
    shown = {}
    for symbol, connection, value, *_ in values:
        key = re.fullmatch(r"\\\((\w)_\{(\d+)\}\\\)", symbol)
        source, _, target = connection.partition("→")
        shown[f"{key[1]}{key[2]}"] = (source.strip(), target.strip(), float(value))
    assert shown == parameters
    assert len(data) == len(examples)
    for (number, inputs, targets), (file_inputs, file_targets) in zip(data, examples, strict=True):
        assert assigned(inputs, "i") == file_inputs, number
        assert assigned(targets, "t") == file_targets, number


@pytest.mark.parametrize("name", NETWORKS)
def test_the_explanation_and_the_worksheet_give_the_files_numbers(name, tmp_path):
    """The learning rate, each parameter beside its symbol and every input and target, in Markdown and LaTeX."""
    parameters, examples, rate = given(name)
    markdown = run_derive("explain", name).stdout
    run_derive("worksheet", name, "-o", str(tmp_path))
    latex = (tmp_path / "worksheet.tex").read_text(encoding="utf-8")
    for text in (markdown, latex):
        assert_the_files_numbers(text, parameters, examples, rate)


def assert_the_files_numbers(text: str, parameters: dict, examples: list, rate: float) -> None:
    """η, each parameter's row (symbol, from → to, value), each input and target, as the text writes them."""
    assert re.search(rf"\\eta = {exactly(rate)}", text), "learning rate"
    for parameter, (source, target, value) in parameters.items():
        symbol = rf"{parameter[0]}_\{{?{parameter[1:]}\}}?"
        row = rf"\${symbol}\$\s*(?:&|\|)\s*{source}[^\n]*?{target.split(', ')[0]}[^\n]*?(?:&|\|)\s*{exactly(value)}"
        assert re.search(row, text), f"the row of {parameter}: {source} → {target}, {value:g}"
    for inputs, targets in examples:
        for k, value in enumerate(inputs, 1):
            assert re.search(rf"i_\{{?{k}\}}?{EXAMPLE} = {exactly(value)}", text), f"i{k} = {value:g}"
        for value in targets:
            assert re.search(rf"t_\{{?\w+\}}?{EXAMPLE} = {exactly(value)}", text), f"target {value:g}"


def exactly(value: float) -> str:
    """A number as written, not part of a longer one (-0.4, not 0.4 of -0.4 or 0.45)."""
    return rf"(?<![\d.-]){re.escape(f'{value:g}')}(?![\d])"
