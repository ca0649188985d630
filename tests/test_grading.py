"""Grading with error carried forward: the verdict rule, a slip carried through a chain, the ECF
policies, weights, steps not asked, class files, and the README's example.

Every expectation is worked out here by hand, from the textbook formulas with plain floats (the
2-2-2 sigmoid network of the worked example), never read back from the grader.
"""

import csv
import io
import json
import math
import re
from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from derive import example
from derive.assessment.grading import (
    agrees,
    as_decimal,
    grade,
    grades_csv,
    last_place,
    significant_digits,
    verdict,
    worked_line,
)
from derive.outputs.render import Renderer
from derive.spec.variants import variant
from tests import reference_training as reference
from tests.conftest import ROOT, run_derive

README_ANSWERS = "examples/answers/spanish-source.toml"
BLANKS = example().steps().blanks  # the standard worksheet of the worked example asks for 52 values


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mazur_forward(p: dict[str, float], inputs=(0.05, 0.10), targets=(0.01, 0.99)) -> dict[str, float]:
    """The forward pass of the 2-2-2 network, as the tutorial writes it."""
    i1, i2 = inputs
    v = {"net_h1": p["w1"] * i1 + p["w2"] * i2 + p["b1"], "net_h2": p["w3"] * i1 + p["w4"] * i2 + p["b1"]}
    v["out_h1"], v["out_h2"] = sigmoid(v["net_h1"]), sigmoid(v["net_h2"])
    v["net_o1"] = p["w5"] * v["out_h1"] + p["w6"] * v["out_h2"] + p["b2"]
    v["net_o2"] = p["w7"] * v["out_h1"] + p["w8"] * v["out_h2"] + p["b2"]
    v["out_o1"], v["out_o2"] = sigmoid(v["net_o1"]), sigmoid(v["net_o2"])
    v["E_o1"], v["E_o2"] = 0.5 * (targets[0] - v["out_o1"]) ** 2, 0.5 * (targets[1] - v["out_o2"]) ** 2
    v["E_total"] = v["E_o1"] + v["E_o2"]
    return v


MAZUR = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
MAZUR |= {"b1": 0.35, "b2": 0.60}


def write_toml(path, answers: dict[str, str]) -> None:
    path.write_text("".join(f'"{key}" = {value}\n' for key, value in answers.items()), encoding="utf-8")


def check_json(*args: str, cwd=None) -> dict:
    result = run_derive("check", *args, "--json", cwd=cwd)
    return json.loads(result.stdout)


def verdicts(report: dict) -> dict[str, str]:
    return {row["key"]: row["verdict"] for row in report["steps"]}


# ---- the verdict rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "reference", "right"),
    [
        ("0.7414", "0.74136507", True),  # the examples
        ("0.7413", "0.74136507", True),
        ("0.741", "0.74136507", True),
        ("0.7412", "0.74136507", False),
        ("0.74", "0.74136507", False),  # two significant digits: too coarse
        ("-0.7414", "0.74136507", False),  # the sign counts
        ("-0.2171", "-0.217071535", True),
        ("0.50", "0.504", False),  # the student wrote 2 significant digits
        ("0.500", "0.5004", True),  # 3 digits, within 0.001
        ("0.500", "0.5014", False),
        ("0.5", "0.5", True),  # the exact value, however few digits
        ("0.05", "0.05", True),
        ("1", "1", True),
        ("100", "100.4", True),  # an integer's last place is the units
        ("1e2", "100.4", False),  # one significant digit
        ("1.00e2", "100.4", True),
        ("1.23e-3", "0.0012345", True),  # exponents: last place 1e-5
        ("1.2e-3", "0.0012345", False),
        ("0", "0", True),
        ("0.000", "0", True),
        ("0.0001", "0", False),  # not zero, and one significant digit
        ("0", "0.0004", False),
        ("0.39249999999999996", "0.3925", True),  # float64 noise: within a relative 1e-12
        ("0.392500000001", "0.3925", True),  # 12 digits, one unit off in the last
        ("0.39250000000100000", "0.3925", False),  # 17 digits claimed, off by 1e-12: beyond both allowances
    ],
)
def test_the_verdict_rule(given, reference, right):
    """The rule's workings with three figures required, so that the edges of each clause show."""
    assert agrees(Decimal(given), Decimal(reference), min_digits=3) is right


def test_the_default_wants_the_figures_the_worksheet_asks_for(tmp_path):
    """Four significant figures, as the worksheet states; 0.741 has three: too coarse for 0.74136507."""
    run_derive("worksheet", "-o", str(tmp_path))
    stated = re.search(r"Give each answer to (\d+) significant figures", (tmp_path / "worksheet.tex").read_text())
    assert stated and int(stated.group(1)) == 4
    assert agrees(Decimal("0.7414"), Decimal("0.74136507"))
    assert not agrees(Decimal("0.741"), Decimal("0.74136507"))
    assert agrees(Decimal("1.004e2"), Decimal("100.4")) and not agrees(Decimal("100"), Decimal("100.4"))


@pytest.mark.parametrize(
    ("text", "digits", "place"),
    [("0.50", 2, "0.01"), ("0.0050", 2, "0.0001"), ("1.2e-3", 2, "0.0001"), ("100", 3, "1"), ("0", 0, "1")],
)
def test_digits_and_last_place_as_written(text, digits, place):
    assert significant_digits(Decimal(text)) == digits
    assert last_place(Decimal(text)) == Decimal(place)


def test_min_digits_is_a_parameter():
    assert not agrees(Decimal("0.74"), Decimal("0.74136507"))
    assert agrees(Decimal("0.741"), Decimal("0.74136507"), min_digits=3)
    assert agrees(Decimal("0.74"), Decimal("0.74136507"), min_digits=2)
    assert not agrees(Decimal("0.7414"), Decimal("0.74136507"), min_digits=5)


def test_every_verdict():
    exact, theirs = Decimal("1.105905967"), Decimal("1.105925")
    assert verdict(None, exact, theirs) == "missing"
    assert verdict(Decimal("1.105906"), exact, theirs) == "correct"
    assert verdict(Decimal("1.105925"), exact, theirs) == "carried_forward"
    assert verdict(Decimal("1.2"), exact, theirs) == "wrong"
    assert verdict(Decimal("1.105925"), exact, None) == "wrong"  # nothing to carry forward from


# ---- the README's example: the Spanish source's own figures ----------------------------------------


def test_the_readme_example_runs_as_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = f"derive check {README_ANSWERS}"
    assert f"$ {command}\n" in readme
    text = run_derive(*command.split()[1:], cwd=ROOT).stdout
    rows = re.findall(r"^ +\d+  (\S+) +(\S*) +\S+  (.+)$", text, re.MULTILINE)
    shown = {key: given for key, given, _ in rows}
    verdict_of = {key: decided.strip() for key, _, decided in rows}
    assert len(rows) == BLANKS
    # by hand: the hidden layer is right (0.5933 is 0.59327 to four decimals; 0.39249999999999996 is
    # float64's 0.3925); the output layer follows from the rounded 0.5933 and 0.5969
    assert 0.40 * 0.5933 + 0.45 * 0.5969 + 0.60 == pytest.approx(1.105925, abs=1e-15)
    assert 0.50 * 0.5933 + 0.55 * 0.5969 + 0.60 == pytest.approx(1.224945, abs=1e-15)
    assert sigmoid(1.105925) == pytest.approx(0.751368625185488, rel=1e-15)
    assert sigmoid(1.224945) == pytest.approx(0.7729326066130681, rel=1e-15)
    assert abs(0.5933 - sigmoid(0.3775)) < 1e-4 and abs(0.5969 - sigmoid(0.3925)) < 1e-4
    assert abs(1.105925 - mazur_forward(MAZUR)["net_o1"]) > 1e-5  # not right against the exact value
    expected = dict.fromkeys(["net_h1", "out_h1", "net_h2", "out_h2"], "correct")
    expected |= dict.fromkeys(["net_o1", "out_o1", "net_o2", "out_o2"], "carried forward")
    assert {key: verdict_of[key] for key in expected} == expected
    assert shown["net_h2"] == "0.39249999999999996" and shown["out_h1"] == "0.5933"
    assert all(verdict_of[key] == "missing" for key in verdict_of if key not in expected)
    assert f"Score: 8 of {BLANKS}" in text
    assert "No step is wrong." in text


def test_the_readme_example_in_json_and_spanish():
    report = check_json(README_ANSWERS, cwd=ROOT)
    assert set(report) == {"score", "max", "first_wrong", "steps"}
    assert report["score"] == 8 and report["max"] == BLANKS and report["first_wrong"] is None
    first = report["steps"][4]
    assert set(first) == {"key", "blank", "given", "expected", "carried_forward_expected", "verdict", "mistake"}
    assert first["key"] == "net_o1" and first["blank"] == 5 and first["given"] == 1.105925
    assert first["expected"] == pytest.approx(mazur_forward(MAZUR)["net_o1"], rel=1e-15)
    assert first["carried_forward_expected"] == pytest.approx(1.105925, rel=1e-15)
    assert [row["blank"] for row in report["steps"]] == list(range(1, BLANKS + 1))  # document order
    spanish = run_derive("check", README_ANSWERS, "--lang", "es", cwd=ROOT).stdout
    assert "correcto por arrastre" in spanish and f"Puntuación: 8 de {BLANKS}" in spanish and "hueco" in spanish


# ---- error carried forward through a chain --------------------------------------------------------


def slipped_working() -> dict[str, float]:
    """A student who writes net_h1 = 0.3875 (a slip of 0.01) and works every later step from their
    own numbers, each rounded to six decimals before the next step uses it."""
    r = lambda x: round(x, 6)  # noqa: E731
    s = {"net_h1": 0.3875, "net_h2": 0.3925}
    s["out_h1"], s["out_h2"] = r(sigmoid(s["net_h1"])), r(sigmoid(s["net_h2"]))
    s["net_o1"] = r(0.40 * s["out_h1"] + 0.45 * s["out_h2"] + 0.60)
    s["net_o2"] = r(0.50 * s["out_h1"] + 0.55 * s["out_h2"] + 0.60)
    s["out_o1"], s["out_o2"] = r(sigmoid(s["net_o1"])), r(sigmoid(s["net_o2"]))
    s["E_o1"], s["E_o2"] = r(0.5 * (0.01 - s["out_o1"]) ** 2), r(0.5 * (0.99 - s["out_o2"]) ** 2)
    s["E_total"] = r(s["E_o1"] + s["E_o2"])
    s["dE/dout_o1"] = r(s["out_o1"] - 0.01)
    s["dout_o1/dnet_o1"] = r(s["out_o1"] * (1 - s["out_o1"]))
    s["delta_o1"] = r(s["dE/dout_o1"] * s["dout_o1/dnet_o1"])
    s["dnet_o1/dw5"] = s["out_h1"]
    s["dE/dw5"] = r(s["delta_o1"] * s["out_h1"])
    s["w5+"] = r(0.40 - 0.5 * s["dE/dw5"])
    return s


SLIP_VERDICTS = {"net_h1": "wrong", "net_h2": "correct", "out_h2": "correct"}  # by hand: h2 does not use h1
CARRIED = "out_h1 net_o1 net_o2 out_o1 out_o2 E_o1 E_o2 E_total dE/dout_o1 dout_o1/dnet_o1 delta_o1 dnet_o1/dw5"
CARRIED += " dE/dw5 w5+"  # every step that uses net_h1, directly or not
SLIP_VERDICTS |= dict.fromkeys(CARRIED.split(), "carried_forward")


@pytest.fixture(scope="module")
def slipped(tmp_path_factory):
    path = tmp_path_factory.mktemp("slip") / "answers.toml"
    write_toml(path, {key: repr(value) for key, value in slipped_working().items()})
    return path


def test_a_slip_is_carried_forward_through_every_later_step(slipped):
    report = check_json(str(slipped))
    got = verdicts(report)
    assert {key: got[key] for key in SLIP_VERDICTS} == SLIP_VERDICTS
    assert report["first_wrong"] == "net_h1"
    student = slipped_working()
    exact = mazur_forward(MAZUR)
    # each step's carried-forward value is its formula at the student's own inputs, worked by hand
    by_key = {row["key"]: row for row in report["steps"]}
    assert by_key["out_h1"]["carried_forward_expected"] == pytest.approx(sigmoid(0.3875), rel=1e-14)
    net_o1 = 0.40 * student["out_h1"] + 0.45 * student["out_h2"] + 0.60
    assert by_key["net_o1"]["carried_forward_expected"] == pytest.approx(net_o1, rel=1e-14)
    assert by_key["E_total"]["carried_forward_expected"] == pytest.approx(student["E_o1"] + student["E_o2"], rel=1e-14)
    assert by_key["dE/dw5"]["carried_forward_expected"] == pytest.approx(
        student["delta_o1"] * student["out_h1"], rel=1e-14
    )
    assert by_key["E_total"]["expected"] == pytest.approx(exact["E_total"], rel=1e-14)
    assert abs(student["E_total"] - exact["E_total"]) > 1e-5  # 87 units of its sixth decimal off, yet carried forward


def test_the_worked_line_of_the_first_wrong_step(slipped):
    text = run_derive("check", str(slipped)).stdout
    working = text[text.index("First wrong step") :]
    assert working.splitlines() == [
        "First wrong step: blank 1 (net_h1), net input of neuron h1",
        "  net_h1 = w1·i1 + w2·i2 + b1·1",
        "         = 0.15·0.05 + 0.2·0.1 + 0.35·1",
        "         = 0.3775",
        "  It uses none of your answers: every value in it is given or exact.",
        "  You wrote 0.3875.",
    ]


def test_a_worked_line_names_the_answers_it_used(tmp_path):
    path = tmp_path / "answers.toml"
    write_toml(path, {"delta_o1": "0.1385", "dE/dw5": "0.0812"})  # 0.1385 · 0.593269992 = 0.082167894
    text = run_derive("check", str(path)).stdout
    assert "First wrong step: blank 15 (dE/dw5), gradient of the total error with respect to w5" in text
    assert "  ∂E_total/∂w5 = δ_o1·out_h1\n" in text
    assert f"               = 0.1385·{0.5932699921071872:.9f}\n" in text
    assert f"               = {0.1385 * 0.5932699921071872:.9f}\n" in text
    assert "  The exact value is 0.082167041.\n" in text  # the published figure
    assert "  It uses your answers: blank 14 (delta_o1).\n" in text
    spanish = run_derive("check", str(path), "--lang", "es").stdout
    assert "Primer paso incorrecto: hueco 15 (dE/dw5)" in spanish and "Escribiste 0,0812." in spanish
    assert "               = 0,1385·0,593269992\n" in spanish  # out_h1 = σ(0.3775), as above
    assert "  El valor exacto es 0,082167041.\n" in spanish  # the numbers as Spanish writes them


@pytest.mark.parametrize(("policy", "credit"), [("full", 1), ("half", Fraction(1, 2)), ("none", 0)])
def test_the_three_ecf_policies(slipped, policy, credit):
    report = check_json(str(slipped), "--ecf", policy)
    right = sum(1 for v in SLIP_VERDICTS.values() if v == "correct")
    carried = sum(1 for key, v in SLIP_VERDICTS.items() if v == "carried_forward" and key != "dnet_o1/dw5")
    assert (right, carried) == (2, 13)  # ∂net_o1/∂w5 = out_h1 only copies a value: no blank, no marks
    assert report["score"] == right + carried * credit and report["max"] == BLANKS


def test_weights_from_a_marks_file(slipped, tmp_path):
    marks = tmp_path / "marks.toml"
    # blank 1 is net_h1 (wrong), dE/dw5 is carried forward, net_h2 is right; E_o1 counts for nothing
    marks.write_text('[weights]\n1 = 3\n"dE/dw5" = 4\nnet_h2 = 2.5\nE_o1 = 0\n', encoding="utf-8")
    report = check_json(str(slipped), "--marks", str(marks), "--ecf", "half")
    # by hand: the blanks weigh 1 except these four; score = right ones + half of the carried ones
    assert report["max"] == BLANKS - 4 + 3 + 4 + 2.5 + 0
    # net_h2 and out_h2 right; 11 carried forward at weight 1 and dE/dw5 at 4, each for half; E_o1 for 0
    assert report["score"] == 2.5 + 1 + 11 * 0.5 + 4 * 0.5


# ---- steps without a blank, and the error after the step ---------------------------------------------


def textbook_step(p: dict[str, float]) -> dict[str, float]:
    """Every gradient of the worked example from the textbook's δ rule, and the updated weights."""
    v = mazur_forward(p)
    d_o1 = (v["out_o1"] - 0.01) * v["out_o1"] * (1 - v["out_o1"])
    d_o2 = (v["out_o2"] - 0.99) * v["out_o2"] * (1 - v["out_o2"])
    d_h1 = (d_o1 * p["w5"] + d_o2 * p["w7"]) * v["out_h1"] * (1 - v["out_h1"])
    d_h2 = (d_o1 * p["w6"] + d_o2 * p["w8"]) * v["out_h2"] * (1 - v["out_h2"])
    grads = {"w1": d_h1 * 0.05, "w2": d_h1 * 0.10, "w3": d_h2 * 0.05, "w4": d_h2 * 0.10}
    grads |= {"w5": d_o1 * v["out_h1"], "w6": d_o1 * v["out_h2"], "w7": d_o2 * v["out_h1"], "w8": d_o2 * v["out_h2"]}
    return {name: p[name] - 0.5 * grads.get(name, 0.0) for name in p}  # the biases stay


def test_the_error_after_the_step_is_judged_from_the_students_own_weights(tmp_path):
    """The pass after the step has blanks of its own: from a wrong w5⁺, each later value is carried forward."""
    updated = textbook_step(MAZUR)
    assert updated["w5"] == pytest.approx(0.35891648, abs=5e-9)  # the published figure
    mine = dict(updated, w5=0.4 - 0.5 * 0.09)  # a wrong gradient for w5, the update done right from it
    after = mazur_forward(mine)
    assert abs(after["E_total"] - mazur_forward(updated)["E_total"]) > 1e-5
    answers = {"dE/dw5": "0.09", "w5+": "0.355"}
    answers |= {f"{key}+": f"{after[key]:.9f}" for key in ("net_h1", "out_h1", "net_h2", "out_h2", "net_o1")}
    answers |= {f"{key}+": f"{after[key]:.9f}" for key in ("out_o1", "E_o1", "E_total")}
    path = tmp_path / "answers.toml"
    write_toml(path, answers)
    report = check_json(str(path))
    got = verdicts(report)
    assert got["dE/dw5"] == "wrong" and got["w5+"] == "carried_forward"
    assert got["net_h1+"] == got["out_h2+"] == "correct"  # the hidden layer does not use w5
    assert got["net_o1+"] == got["out_o1+"] == got["E_o1+"] == "carried_forward"
    # E_o2⁺ was not given: its exact value is used, which w5 does not change, so E_total⁺ carries forward
    assert got["E_total+"] == "carried_forward" and got["E_o2+"] == "missing"
    row = next(row for row in report["steps"] if row["key"] == "E_total+")
    assert row["carried_forward_expected"] == pytest.approx(after["E_o1"] + mazur_forward(updated)["E_o2"], rel=1e-8)
    assert report["max"] == BLANKS and report["first_wrong"] == "dE/dw5"


def test_only_changes_the_blanks(tmp_path):
    path = tmp_path / "answers.toml"
    write_toml(path, {"15": "0.08217", "16": "0.3589"})  # with --only w5: dE/dw5 and w5+
    report = check_json(str(path), "--only", "w5")
    assert report["max"] == 27  # the forward pass, δ_o1's three lines, dE/dw5, w5+, the pass after the step
    assert verdicts(report)["dE/dw5"] == "correct" and verdicts(report)["w5+"] == "correct"


def test_exit_zero_whatever_the_score(tmp_path):
    path = tmp_path / "answers.toml"
    write_toml(path, {"net_h1": "7"})
    result = run_derive("check", str(path), check=False)
    assert result.returncode == 0 and f"Score: 0 of {BLANKS}" in result.stdout


# ---- a class: CSV in, a gradebook's CSV out ----------------------------------------------------------


def student_values(seed: int, number: int) -> dict[str, float]:
    """Student ``number``'s network (the variant's given values), worked by the textbook formulas."""
    spec = variant(example().spec, seed, number)
    p = {name: float(value) for name, value in spec.parameters().items()}
    (sample,) = spec.examples
    forward = mazur_forward(p, [float(x) for x in sample.inputs], [float(t) for t in sample.targets])
    return forward


def test_a_class_file_with_variants(tmp_path):
    ana, ben = student_values(7, 3), student_values(7, 12)
    rows = [
        ["student", "variant", "out_h1", "E_total", "5"],  # 5 is net_o1's blank
        ["Ana", "3", f"{ana['out_h1']:.6f}", f"{ana['E_total']:.9f}", f"{ana['net_o1']:.6f}"],
        ["Ben", "12", f"{ben['out_h1']:.6f}", "", f"{ben['net_o1'] + 0.01:.6f}"],  # an empty cell: missing
        ["Doe, Jane", "3", f"{ben['out_h1']:.6f}", "", ""],  # Ben's number on Ana's variant: wrong
        ["=1+1", "12", "", "", ""],
    ]
    answers = tmp_path / "class.csv"
    with answers.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    result = run_derive("check", str(answers), "--seed", "7", "-o", str(tmp_path / "grades.csv"))
    assert result.stdout == "" and "wrote" in result.stderr
    graded = list(csv.reader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8"))))
    assert graded == [
        ["student", "variant", "score", "max", "first_wrong", "mistakes"],
        ["Ana", "3", "3", "52", "", ""],
        ["Ben", "12", "1", "52", "net_o1", ""],  # 0.01 off: no mistake of the catalogue
        ["Doe, Jane", "3", "0", "52", "out_h1", ""],
        ["'=1+1", "12", "0", "52", "", ""],  # a spreadsheet will not run it
    ]
    data = json.loads(run_derive("check", str(answers), "--seed", "7", "--json").stdout)
    assert [(d["student"], d["variant"], d["score"]) for d in data] == [
        ("Ana", 3, 3),
        ("Ben", 12, 1),
        ("Doe, Jane", 3, 0),
        ("=1+1", 12, 0),
    ]
    ana_steps = {row["key"]: row for row in data[0]["steps"]}
    assert ana_steps["E_total"]["expected"] == pytest.approx(ana["E_total"], rel=1e-12)


def test_a_class_file_without_variants(tmp_path):
    (tmp_path / "class.csv").write_text("Student;out_h1\nAna;0.5933\nBen;0,5933\n", encoding="utf-8")
    result = run_derive("check", str(tmp_path / "class.csv"), check=False)
    assert result.returncode == 2 and "line 3, column out_h1" in result.stderr and "decimal point" in result.stderr
    (tmp_path / "class.csv").write_text("Student;out_h1;E_total\nAna;0.5933;\nBen;0.59;0.2984\n", encoding="utf-8")
    text = run_derive("check", str(tmp_path / "class.csv")).stdout
    assert text.splitlines() == [
        "student,variant,score,max,first_wrong,mistakes",
        "Ana,,1,52,,",
        "Ben,,1,52,out_h1,out_h1: too_few_digits",  # 0.59: two digits, too coarse
    ]


def test_the_readme_class_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("$ derive check examples/answers/class.csv --seed 7\n") :]
    shown = block.split("\n", 1)[1].split("```", 1)[0]
    assert run_derive("check", "examples/answers/class.csv", "--seed", "7", cwd=ROOT).stdout == shown
    # by hand, from each student's variant: Ana's answers are right to four digits; Ben's ∂E/∂w5 is
    # not; Carla's E_total has two significant digits and her ∂E/∂w5 three, fewer than the four asked
    ana, ben = student_values(7, 3), student_values(7, 12)
    assert abs(ana["out_h1"] - 0.7979) <= 1e-4 and abs(ana["E_total"] - 0.1851) <= 1e-4
    assert abs(ben["out_h1"] - 0.7177) <= 1e-4
    d_o1 = (ben["out_o1"] - float(variant(example().spec, 7, 12).examples[0].targets[0])) * ben["out_o1"]
    assert abs(d_o1 * (1 - ben["out_o1"]) * ben["out_h1"] - 0.0238) > 1e-4  # beyond a unit of its last place
    ana_d_o1 = (ana["out_o1"] - float(variant(example().spec, 7, 3).examples[0].targets[0])) * ana["out_o1"]
    assert abs(ana_d_o1 * (1 - ana["out_o1"]) * ana["out_h1"] - 0.04810) <= 1e-5


@pytest.mark.parametrize(
    ("given", "reference", "right"),
    [
        ("0.5", "0.500000000000000000000000000001", True),  # |gap| = 1e-30 · max(1, |reference|): the exact value
        ("0.5", "0.5000000000000000000000000000015", False),  # 1.5e-30 off, and one digit is too coarse
        ("50", "50.00000000000000000000000000004", True),  # 4e-29 ≤ 1e-30 · 50
        ("50", "50.00000000000000000000000000006", False),
        # within a relative 1e-12 exactly, and 1e-100 beyond it: the gap is taken without rounding
        ("0.7000000000007", "0.7", True),
        ("0.7000000000007" + "0" * 86 + "1", "0.7", False),
    ],
)
def test_the_verdict_rule_at_its_bounds(given: str, reference: str, right: bool) -> None:
    """The docstring's rule at the edges: |given − reference| ≤ 1e-30 · max(1, |reference|) is exact,
    and ≤ max(10^e, 1e-12 · |reference|) is right, compared by hand with Python's fractions."""
    gap = abs(Fraction(given) - Fraction(reference))
    place = Fraction(10) ** Decimal(given).as_tuple().exponent
    by_hand = gap <= Fraction(1, 10**30) * max(1, abs(Fraction(reference))) or (
        significant_digits(Decimal(given)) >= 3 and gap <= max(place, Fraction(1, 10**12) * abs(Fraction(reference)))
    )
    assert by_hand == right
    assert agrees(Decimal(given), Decimal(reference)) == right


def test_as_decimal_keeps_forty_significant_digits() -> None:
    """The reference a verdict (and the web page) compares with: 40 digits, trailing zeros kept."""
    with mpmath.workdps(40):
        assert str(as_decimal(mpmath.mpf(0.5))) == "0.5" + "0" * 39
        assert str(as_decimal(mpmath.mpf(1) / 3)) == "0." + "3" * 40


def test_a_step_without_a_blank_carries_the_students_own_values_forward() -> None:
    """XOR: E_total@1 has no blank; a student who slips in E_o1@1 and adds up their own errors is
    carried forward, E_total@1 computed from their answer (the other errors from the NumPy reference)."""
    network = example("xor")
    net = reference.from_spec(network.spec)
    errors = [float(np.sum(reference.forward(net, *e).errors)) for e in net.examples]
    slip = Decimal("0.2255")  # the exact E_o1@1 is 0.215461556…
    assert not agrees(slip, Decimal(repr(errors[0])))
    theirs = slip + sum(Decimal(repr(e)) for e in errors[1:])
    result = grade(network.steps(), {"E_o1@1": slip, "E_total": theirs.quantize(Decimal("1e-12"))})
    rows = {row.step.key: row for row in result.rows}
    assert rows["E_o1@1"].verdict == "wrong" and rows["E_total"].verdict == "carried_forward"
    assert ("E_total@1", "derived") in {(used.step.key, used.origin) for used in rows["E_total"].used}


def test_the_worked_line_names_a_value_computed_from_the_students_answers() -> None:
    """XOR's E_total, wrong, sums E_total@1 (no blank), which the working takes from the student's E_o1@1."""
    result = grade(example("xor").steps(), {"E_o1@1": Decimal("0.2155"), "E_total": Decimal("0.600")})
    assert result.first_wrong is not None and result.first_wrong.step.key == "E_total"
    text = worked_line(result.first_wrong, result, Renderer().catalog("en"), 9)
    # E_total@2, @3 and @4 come from exact values alone: they are not called the student's
    assert "  It uses your answers: E_total@1 (computed from your answers).\n" in text


def test_a_gradebook_row_without_a_student_name_leaves_the_cell_empty() -> None:
    rows = list(csv.reader(io.StringIO(grades_csv([grade(example().steps(), {})]))))
    assert rows[0] == ["student", "variant", "score", "max", "first_wrong", "mistakes"]
    assert rows[1][:2] == ["", ""] and rows[1][2] == "0" and rows[1][4] == ""


@pytest.mark.parametrize("name", ["\tcmd", "\rcmd"])
def test_a_name_starting_with_a_tab_or_a_carriage_return_is_quoted(name: str) -> None:
    """OWASP's CSV-injection list: a cell starting with a tab or a carriage return is a formula too."""
    text = grades_csv([grade(example().steps(), {}, student=name)])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and len(rows[1]) == 6  # a carriage return does not split the row
    assert rows[1][0] == "'" + name.replace("\r", "\n")


def test_a_line_break_inside_a_name_stays_inside_its_cell() -> None:
    text = grades_csv([grade(example().steps(), {}, student=name) for name in ("Ana\rPérez", "Luis\r\nGil")])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [row[0] for row in rows[1:]] == ["Ana\nPérez", "Luis\nGil"] and all(len(row) == 6 for row in rows)


def test_an_asked_step_left_empty_is_taken_at_its_exact_value():
    """Error carried forward uses only values the student wrote: with out_h1 left empty, net_o1 is
    judged from the exact out_h1, not from σ of their wrong net_h1 (grade()'s documented rule)."""
    slipped = mazur_forward(MAZUR) | {"net_h1": 0.4}  # the tutorial's 0.3775, slipped
    theirs = MAZUR["w5"] * sigmoid(0.4) + MAZUR["w6"] * slipped["out_h2"] + MAZUR["b2"]
    answers = {"net_h1": Decimal("0.4"), "net_o1": Decimal(f"{theirs:.9f}")}
    left_empty = {row.step.key: row.verdict for row in grade(example().steps(), answers).rows}
    assert (left_empty["net_h1"], left_empty["out_h1"], left_empty["net_o1"]) == ("wrong", "missing", "wrong")
    written = answers | {"out_h1": Decimal(f"{sigmoid(0.4):.9f}")}
    carried = {row.step.key: row.verdict for row in grade(example().steps(), written).rows}
    assert (carried["out_h1"], carried["net_o1"]) == ("carried_forward", "carried_forward")


def test_a_gradient_with_weight_decay_is_carried_forward_from_the_students_delta() -> None:
    """∂E/∂w5 = δ_o1·out_h1 + λ·w5 worked from the student's δ_o1 = 0.2 (λ = 0.1 given as an exact fraction)."""
    out_h1 = mazur_forward(MAZUR)["out_h1"]
    steps = example().with_options(weight_decay=0.1).steps()
    given = f"{0.2 * out_h1 + 0.1 * 0.40:.8f}"
    result = grade(steps, {"delta_o1": Decimal("0.2"), "dE/dw5": Decimal(given)})
    assert {row.step.key: row.verdict for row in result.rows if row.given is not None}["dE/dw5"] == "carried_forward"
