"""Documents a class can use: detail levels, exercise kinds, exam questions by key, slides, one PDF per class."""

import re
import subprocess

import pytest

from derive import example
from derive.document import build
from tests.conftest import require_tool, run_derive, worksheet_group
from tests.documents import compile_latex, pdf_text

# The worked example on A4: the longest each document may be, in pages (measured with pdfinfo).
PAGE_LIMITS = {
    ("standard", "solutions"): 8,
    ("brief", "solutions"): 6,  # 5 while a display could split across pages; whole, they leave gaps above headings
    ("standard", "worksheet"): 6,
    ("brief", "worksheet"): 4,
}


def pages(pdf) -> int:
    info = subprocess.run([require_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])


def page_size(pdf) -> str:
    info = subprocess.run([require_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return re.search(r"^Page size:\s+(.+?) pts", info, re.MULTILINE)[1]


@pytest.mark.parametrize("detail", [pytest.param(d, marks=worksheet_group(detail=d)) for d in ("standard", "brief")])
def test_the_worked_example_fits_its_page_budget(detail, worksheet_pdfs):
    folder = worksheet_pdfs(detail=detail)
    for document in ("worksheet", "solutions"):
        count = pages(folder / f"{document}.pdf")
        assert count <= PAGE_LIMITS[(detail, document)], f"{detail} {document}: {count} pages"
    assert page_size(folder / "solutions.pdf") == "595.276 x 841.89"  # A4


def test_full_repeats_the_working_standard_derives_each_delta_once():
    full = run_derive("explain", "--detail", "full").stdout
    standard = run_derive("explain").stdout
    brief = run_derive("explain", "--detail", "brief").stdout
    graphs = r"```mermaid\ngraph LR\n  [wb]\d"  # a gradient's computation graph
    assert len(re.findall(graphs, full)) == 10  # every weight and bias has its own derivation
    assert len(re.findall(graphs, standard)) == 4  # one per neuron: the gradient that meets its δ
    assert standard.count("#### The gradient of") == 10  # and every gradient its heading
    assert "#### The gradient of" not in brief and not re.findall(graphs, brief)
    # each δ's factors are worked once in standard, in one line of their own in brief
    assert standard.count(r"\frac{\partial \mathrm{out}_{o1}}{\partial \mathrm{net}_{o1}} = \mathrm{out}_{o1}") == 1
    one_line = (
        re.escape(r"\delta_{h1} = ")
        + ".*"
        + re.escape(r"\left(\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}\right)")
    )
    assert re.search(one_line, brief)
    for text in (full, standard, brief):
        assert "0.082167041" in text and "0.000438568" in text and "0.291027774" in text
    assert len(brief) < 0.7 * len(standard) and len(standard) < 0.9 * len(full)


def test_brief_asks_for_fewer_blanks_and_keeps_their_values():
    standard, brief = example().steps(), example().steps(detail="brief")
    assert brief.blanks < standard.blanks
    assert "dout_o1/dnet_o1" not in brief.by_key and "net_h1+" in brief.by_key and brief.find("net_h1+").blank is None
    for step in brief:
        if step.key in standard.by_key:
            assert step.value == standard.find(step.key).value


def test_formulas_exercise_asks_for_each_factor_formula(tmp_path):
    run_derive("worksheet", "--exercise", "formulas", "-o", str(tmp_path))
    worksheet = (tmp_path / "worksheet.tex").read_text().split("\\begin{document}")[1]
    solutions = (tmp_path / "solutions.tex").read_text()
    doc = build(example().derivation)
    derived = [g for section in doc.backward for part in section.parts if part.kind == "derive" for g in part.gradients]
    lines = [f.equation for g in derived for d in g.deltas for f in d.factors] + [
        k.equation for g in derived for k in g.links
    ]
    asked = [eq for eq in lines if eq.formula and eq.answer]  # a numbered factor: ∂net/∂w = out_h1 is given
    assert worksheet.count(r"\formulablank") == len(asked) == 8
    assert r"\boxed{\mathrm{out}_{o1} \cdot \left(1 - \mathrm{out}_{o1}\right)}" in solutions
    assert "For each numbered factor of the chain rule, write its formula first" in worksheet
    # the rules are named, not given away: no formula of a factor in the worksheet's sentences
    assert "By the power rule and the chain rule:" in worksheet and "(t - \\mathrm{out})^2/2" not in worksheet
    for document in ("worksheet", "solutions"):
        assert "Overfull \\hbox" not in compile_latex(tmp_path / f"{document}.tex")


def test_exam_asks_any_keys(tmp_path):
    """One question a key (the default exam: tests/test_exam.py)."""
    run_derive("worksheet", "--exercise", "exam", "--ask", "delta_h1,dE/db2,15", "--seed", "2", "-o", str(tmp_path))
    exam = (tmp_path / "exam.tex").read_text()
    assert (
        "error signal $\\delta$ of neuron h1" in exam and "with respect to b2" in exam and "with respect to w5" in exam
    )
    compile_latex(tmp_path / "exam.tex")


def test_one_pdf_for_the_class_in_roster_order(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("email,student\nana@x,Ana Pérez\nbob@x,Bob & Co_1 {x}\n", encoding="utf-8")
    out = tmp_path / "out"
    run_derive("worksheet", "--variants", "3", "--seed", "5", "--combined", "--roster", str(roster), "-o", str(out))
    names = {path.name for path in out.iterdir()}
    assert {"class-worksheets.pdf", "class-solutions.pdf", "worksheet-03.tex", "answers.tex"} <= names
    worksheets = pdf_text(out / "class-worksheets.pdf")
    headings = re.findall(r"Worksheet: backpropagation by hand — Variant (\d)", worksheets)
    assert headings == ["1", "2", "3"]
    assert (
        worksheets.index("Student: Ana Pérez")
        < worksheets.index("Student: Bob & Co_1 {x}")
        < worksheets.index("Variant 3")
    )
    assert worksheets.count("Student:") == 2  # the third student has no name in the roster: their number heads it
    solutions = pdf_text(out / "class-solutions.pdf")
    # each student's answer key, in the same order: student 2's gradient is theirs
    student = run_derive("gradients", "--variant", "2", "--seed", "5", "--json").stdout
    w5 = re.search(r'"w5": (-?[\d.e-]+)', student)[1]
    assert f"{float(w5):.9f}" in solutions.split("Variant 2")[1].split("Variant 3")[0]
    # every sheet starts on a new page
    pdf = out / "class-worksheets.pdf"
    first_pages = [
        n
        for n in range(1, pages(pdf) + 1)
        if "Worksheet: backpropagation"
        in subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
    ]
    assert len(first_pages) == 3


def test_letter_paper(tmp_path):
    run_derive("worksheet", "--paper", "letter", "--pdf", "-o", str(tmp_path))
    assert page_size(tmp_path / "worksheet.pdf") == "612 x 792"
    assert "Overfull \\hbox" not in compile_latex(tmp_path / "solutions.tex")


@pytest.mark.parametrize("name", ["softmax", "deep", "xor"])
@pytest.mark.parametrize("detail", ["full", "brief"])
def test_every_detail_compiles_on_every_network(name, detail, tmp_path):
    run_derive("worksheet", name, "--detail", detail, "-o", str(tmp_path))
    for document in ("worksheet", "solutions"):
        assert "Overfull \\hbox" not in compile_latex(tmp_path / f"{document}.tex"), f"{name} {detail} {document}"
