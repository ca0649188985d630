"""Spanish as a Spanish university writes it: a decimal comma in every number of every output, and
answers written with one accepted; English unchanged.

The values looked for are worked out here from the textbook formulas with plain floats (the 2-2-2
sigmoid network of the worked example), never read back from derive.
"""

import json
import math
import re
from decimal import Decimal

import pytest

from derive.outputs.render import marked, with_decimal_mark
from tests.conftest import run_derive, worksheet_group
from tests.documents import compile_latex, mermaid_diagrams, pdf_text


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# The worked example's forward pass by hand: w1…w8 = 0.15 … 0.55, b1 = 0.35, b2 = 0.6, i = (0.05, 0.1).
NET_H1 = 0.15 * 0.05 + 0.20 * 0.10 + 0.35
NET_H2 = 0.25 * 0.05 + 0.30 * 0.10 + 0.35
OUT_H1, OUT_H2 = sigmoid(NET_H1), sigmoid(NET_H2)
OUT_O1 = sigmoid(0.40 * OUT_H1 + 0.45 * OUT_H2 + 0.60)
OUT_O2 = sigmoid(0.50 * OUT_H1 + 0.55 * OUT_H2 + 0.60)
E_TOTAL = 0.5 * (0.01 - OUT_O1) ** 2 + 0.5 * (0.99 - OUT_O2) ** 2
DE_DW5 = (OUT_O1 - 0.01) * OUT_O1 * (1 - OUT_O1) * OUT_H1


def nine(value: float) -> str:
    """Nine decimals, trailing zeros dropped: the documents' convention, with a decimal comma."""
    return f"{value:.9f}".rstrip("0").rstrip(".").replace(".", ",")


def four_figures(value: float) -> str:
    """Four significant figures, as the worksheet asks, written with a decimal comma."""
    return f"{value:.4g}".replace(".", ",")


def without_chart_data(markdown: str) -> str:
    """The Markdown a reader sees as text and mathematics: a chart's data lines are Mermaid's, not prose."""
    return re.sub(r"^  line \[.*\]$", "", markdown, flags=re.MULTILINE)


# -- the rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "math", "written"),
    [
        ("0.5933", False, "0,5933"),
        ("0.5933", True, "0{,}5933"),  # a comma in TeX mathematics without the space after punctuation
        ("pasa de $0.2984$ a 0.2910.", False, "pasa de $0{,}2984$ a 0,2910."),
        ("$-1.5e-3$, 12.25 y $\\eta = 0.5$", False, "$-1{,}5e-3$, 12,25 y $\\eta = 0{,}5$"),
        ("cuesta \\$1.50 y $x = 0.5$", False, "cuesta \\$1,50 y $x = 0{,}5$"),  # a written $ opens nothing
        ("w.r.t. x. 3. Ya", False, "w.r.t. x. 3. Ya"),  # only a point between two digits is a decimal point
        ("0{,}5 y 0,25", False, "0{,}5 y 0,25"),  # written once: written again, unchanged
    ],
)
def test_the_rule(text, math, written):
    assert marked(text, ",", math=math) == written
    assert marked(text, ".", math=math) == text  # English writes what it is given


def test_one_function_of_text_or_number_and_language():
    assert with_decimal_mark(0.25, "es") == "0,25"
    assert with_decimal_mark(Decimal("-0.0015"), "es", math=True) == "-0{,}0015"
    assert with_decimal_mark("0.5933", "en") == "0.5933"


# -- the documents ---------------------------------------------------------------------------------------


def test_the_spanish_explanation_writes_every_number_with_a_comma():
    text = run_derive("explain", "--lang", "es").stdout
    assert not re.search(r"\d\.\d", without_chart_data(text))
    for value in (OUT_H1, OUT_O1, E_TOTAL, DE_DW5):
        assert f"= {nine(value).replace(',', '{,}')}" in text  # in the working's mathematics
    assert "| $w_{1}$ | i1 → h1 | 0,15 |" in text  # a table's text
    network = mermaid_diagrams(text)[0]
    assert '"w1 = 0,15"' in network and '["b1 = 0,35"]' in network  # the diagram's labels
    prose = f"El error total pasa de ${nine(E_TOTAL).replace(',', '{,}')}$"
    assert prose in text


def test_english_keeps_the_decimal_point():
    text = run_derive("explain").stdout
    assert "{,}" not in text and not re.search(r"\d,\d", without_chart_data(text))
    for value in (OUT_H1, OUT_O1, E_TOTAL, DE_DW5):
        assert f"= {nine(value).replace(',', '.')}" in text


@worksheet_group(language="es")
def test_the_spanish_worksheet_and_solutions_in_print(worksheet_pdfs):
    folder = worksheet_pdfs(language="es")
    source = (folder / "solutions.tex").read_text(encoding="utf-8")
    assert f"\\answer{{{nine(OUT_O1).replace(',', '{,}')}}}" in source  # the box shows what the lines show
    worksheet, solutions = pdf_text(folder / "worksheet.pdf"), pdf_text(folder / "solutions.pdf")
    for text in (worksheet, solutions):
        assert not re.search(r"\d\.\d", text)  # the text, the tables, the pictures' labels, the plots' axes
    assert "0,15" in worksheet and "Da cada respuesta con 4 cifras significativas" in " ".join(worksheet.split())
    for value in (OUT_H1, OUT_O1, E_TOTAL, DE_DW5):
        assert nine(value) in solutions


def test_a_spanish_sentence_reads_as_a_lecturer_writes_it():
    """The phrases the reading found: the δ the sentence is about before it, no capital after a colon,
    no sum said twice."""
    lines = run_derive("explain", "--lang", "es").stdout.replace("**", "").splitlines()
    text = " ".join(" ".join(lines).split())
    known = "Como ya conocemos $\\delta_{o1}$, un peso que entra en la misma neurona solo necesita su propia entrada:"
    assert known in text
    assert "propia entrada ($\\delta" not in text
    capitals = [line for line in lines if re.search(r"[a-z]: [A-ZÁÉÍÓÚ][a-záéíóú]", line)]
    assert capitals == []
    assert "sumado sobre las salidas $o$, sumado" not in text
    assert "a partir de los datos" not in text and "la regla de la potencia y la regla de la cadena" not in text


# -- answers written with a comma ---------------------------------------------------------------------------


def test_derive_check_in_spanish_reads_a_decimal_comma(tmp_path):
    """A Spanish spreadsheet's CSV (semicolons, decimal commas) and a TOML sheet with the numbers as text."""
    sheet = tmp_path / "clase.csv"
    sheet.write_text(
        "student;net_h1;out_h1;out_o1;E_total\n"
        f"Ana;{four_figures(NET_H1)};{four_figures(OUT_H1)};{four_figures(OUT_O1)};{four_figures(E_TOTAL)}\n"
        f"Ben;{NET_H1:.4g};{OUT_H1:.4g};{four_figures(OUT_O1 + 0.01)};\n",  # a point is read too
        encoding="utf-8",
    )
    graded = json.loads(run_derive("check", str(sheet), "--lang", "es", "--json").stdout)
    verdicts = [
        {row["key"]: row["verdict"] for row in student["steps"] if row["verdict"] != "missing"} for student in graded
    ]
    assert verdicts[0] == dict.fromkeys(("net_h1", "out_h1", "out_o1", "E_total"), "correct")
    assert verdicts[1]["net_h1"] == verdicts[1]["out_h1"] == "correct" and verdicts[1]["out_o1"] == "wrong"
    toml = tmp_path / "ana.toml"
    toml.write_text(f'out_h1 = "{four_figures(OUT_H1)}"\n"dE/dw5" = "{four_figures(DE_DW5)}"\n', encoding="utf-8")
    report = run_derive("check", str(toml), "--lang", "es").stdout
    assert "Puntuación: 2 de 52" in report
    assert re.search(rf"out_h1\s+{four_figures(OUT_H1)}\s+{nine(OUT_H1)}\s+correcto", report)


def test_a_comma_is_refused_in_english_and_unquoted_in_toml(tmp_path):
    sheet = tmp_path / "class.csv"
    sheet.write_text(f"student;out_h1\nAna;{four_figures(OUT_H1)}\n", encoding="utf-8")
    english = run_derive("check", str(sheet), check=False)
    assert english.returncode == 2 and "write the decimal point as '.'" in english.stderr
    toml = tmp_path / "ana.toml"
    toml.write_text(f"out_h1 = {four_figures(OUT_H1)}\n", encoding="utf-8")
    spanish = run_derive("check", str(toml), "--lang", "es", check=False)
    assert spanish.returncode == 2 and 'out_h1 = "0,5933"' in spanish.stderr  # how to write it


def test_the_spanish_solutions_compile_without_overfull_boxes(tmp_path):
    run_derive("worksheet", "--lang", "es", "--detail", "full", "--matrix", "-o", str(tmp_path))
    log = compile_latex(tmp_path / "solutions.tex")
    assert "Overfull \\hbox" not in log
