"""`derive check`'s text report as a teacher reads it: the table, the score, the first wrong step's working.

The numbers in the working are worked out here from the textbook formula with the student's own
values; the verdicts follow the README's rule (one unit in the last decimal written, error carried
forward).
"""

from __future__ import annotations

import math
import re

import pytest

from derive import example
from tests import reference_training as reference
from tests.conftest import run_derive

# A slip at net_o1 (1.2 for 1.105905967), carried into out_o1; the rest right, or left out.
STUDENT = """\
net_h1 = 0.3775
out_h1 = 0.5932700
net_h2 = 0.3925
out_h2 = 0.59688
net_o1 = 1.2
out_o1 = 0.7685
"dE/dw5" = 0.08217
"""


def rows(text: str) -> dict[str, list[str]]:
    """The table's rows by key: blank, key, given, expected, verdict (given may be empty)."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"\s*(\d+)  (\S+)\s{2,}(\S*)\s{2,}(-?\d\S*)  (.+)", line)
        if match:
            blank, key, given, expected, verdict = match.groups()
            found[key] = [blank, given, expected, verdict.strip()]
    return found


def test_the_report_of_a_slip_carried_forward(tmp_path):
    (tmp_path / "student.toml").write_text(STUDENT)
    text = run_derive("check", "student.toml", cwd=tmp_path).stdout
    table = rows(text)
    assert table["net_o1"][1:] == ["1.2", "1.105905967", "wrong"]
    assert table["out_o1"][1:] == ["0.7685", "0.75136507", "carried forward"]  # σ(1.2) = 0.76852…
    assert f"{1 / (1 + math.exp(-1.2)):.4f}" == "0.7685"
    assert table["E_total"][1] == ""  # not given: an empty cell, then the exact value
    assert table["E_total"][3] == "missing"
    assert "Score: 6 of 52\n" in text  # 5 right and 1 carried forward, with full credit
    net = 0.4 * 0.59327 + 0.45 * 0.59688 + 0.6  # w5·out_h1 + w6·out_h2 + b2, with the student's outputs
    working = text[text.index("First wrong step") :]
    assert working == (
        "First wrong step: blank 5 (net_o1), net input of neuron o1\n"
        "  net_o1 = w5·out_h1 + w6·out_h2 + b2·1\n"
        "         = 0.4·0.5932700 + 0.45·0.59688 + 0.6·1\n"  # their digits as they wrote them
        f"         = {net:.6f}\n"
        "  The exact value is 1.105905967.\n"
        "  It uses your answers: blank 2 (out_h1), blank 4 (out_h2).\n"
        "  You wrote 1.2.\n"
    )


def test_the_report_when_nothing_is_wrong(tmp_path):
    (tmp_path / "right.toml").write_text('out_h1 = 0.5933\n"dE/dw5" = 0.08217\n')
    text = run_derive("check", "right.toml", cwd=tmp_path).stdout
    assert text.endswith("Score: 2 of 52\n\nNo step is wrong.\n")


def check(tmp_path, answers: str, *args: str) -> str:
    (tmp_path / "answers.toml").write_text(answers)
    return run_derive("check", "answers.toml", *args, cwd=tmp_path).stdout


def test_the_working_uses_values_computed_from_the_students_answers(tmp_path):
    """In the brief detail E_o1⁺ has no blank: derive computes it from the student's w5⁺ and says so.

    The textbook's E_o1⁺ = ½(t_o1 − out_o1⁺)², written out here from the forward pass with their w5⁺.
    """
    text = check(tmp_path, '"w5+" = 0.3589\n"E_total+" = 0.3\n', "--detail", "brief")
    w = [0.149780716, 0.199561432, 0.249751144, 0.299502287, 0.3589, 0.408666186, 0.511301270, 0.561370121]
    sigmoid = lambda net: 1 / (1 + math.exp(-net))  # noqa: E731
    out_h1, out_h2 = sigmoid(w[0] * 0.05 + w[1] * 0.1 + 0.35), sigmoid(w[2] * 0.05 + w[3] * 0.1 + 0.35)
    out_o1 = sigmoid(w[4] * out_h1 + w[5] * out_h2 + 0.6)
    out_o2 = sigmoid(w[6] * out_h1 + w[7] * out_h2 + 0.6)
    e_o1, e_o2 = (0.01 - out_o1) ** 2 / 2, (0.99 - out_o2) ** 2 / 2
    lines = text[text.index("First wrong step") :].splitlines()
    assert lines[0] == "First wrong step: blank 34 (E_total+), total error after the step"
    assert lines[1] == "  E_total⁺ = E_o1⁺ + E_o2⁺"
    shown = [float(x) for x in lines[2].split("=")[1].split("+")]
    assert shown == pytest.approx([e_o1, e_o2], abs=2e-9)
    assert float(lines[3].split("=")[1]) == pytest.approx(e_o1 + e_o2, abs=2e-9)
    assert lines[5:7] == ["  It uses your answers: E_o1+ (computed from your answers).", "  You wrote 0.3."]
    # 0.3 is 0.291… rounded to one digit: right, but too coarse
    assert lines[8:] == [
        "What went wrong:",
        "  blank 34 (E_total+)",
        "    Right, but to fewer significant digits than the 4 required.",
    ]


def test_a_step_computed_from_exact_values_is_not_called_the_students(tmp_path):
    text = check(tmp_path, '"E_total+" = 0.3\n', "--detail", "brief")
    assert "  It uses none of your answers: every value in it is given or exact.\n" in text
    assert "computed from your answers" not in text


def test_an_update_names_the_learning_rate_and_a_step_without_blank_shows_an_empty_cell(tmp_path):
    text = check(tmp_path, '"dE/dw5" = 0.082167041\n"w5+" = 0.36\n"b1+" = 0.35\n')
    assert re.search(r"^\s+b1\+\s+0\.35\s+0\.35\s+correct$", text, re.MULTILINE)  # no blank number: empty
    working = text[text.index("First wrong step") :]
    assert working.splitlines()[1:3] == [
        "  w5⁺ = w5 - η·∂E_total/∂w5",
        "      = 0.4 - 0.5·0.082167041",
    ]
    assert f"      = {0.4 - 0.5 * 0.082167041:.8f}" in working  # 0.35891648: the student's inputs, not w5⁺'s


def test_a_value_whose_logarithm_has_no_real_value_is_wrong_not_carried(tmp_path):
    """out_o2 = −0.5: E_o2 = −t·ln(out) at the student's value has no real value; the grade goes on."""
    text = check(tmp_path, "out_o2 = -0.5\nE_o2 = 1.0\n", "softmax")
    table = rows(text)
    assert table["out_o2"][1:] == ["-0.5", "0.371907632", "wrong"]
    # −ln(−0.5) is not real: not carried; 1.0 is 0.989… rounded to two digits, too coarse
    assert table["E_o2"][1:] == ["1.0", "0.989109756", "wrong (too_few_digits)"]
    assert f"{reference.quantities(example('softmax').spec)['E_o2']:.9f}" == "0.989109756"


def test_names_a_spreadsheet_would_run_are_quoted(tmp_path):
    names = ["+1", "-1", "@SUM(A1)", "=1", "Ana"]
    (tmp_path / "class.csv").write_text("student,out_h1\n" + "".join(f"{name},0.5933\n" for name in names))
    run_derive("check", "class.csv", "-o", "grades.csv", cwd=tmp_path)
    graded = (tmp_path / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in graded[1:]] == ["'+1", "'-1", "'@SUM(A1)", "'=1", "Ana"]


def test_grading_from_python_gives_full_credit_for_work_carried_forward_by_default():
    from decimal import Decimal

    from derive.assessment.grading import grade

    # net_o1 slipped; out_o1 = σ(1.2) carried forward; the default policy is full credit
    result = grade(example().steps(), {"net_o1": Decimal("1.2"), "out_o1": Decimal("0.7685")})
    verdicts = {row.step.key: (row.verdict, row.credit) for row in result.rows if row.given is not None}
    assert verdicts == {"net_o1": ("wrong", 0), "out_o1": ("carried_forward", 1)}
    assert result.score == 1


ELU = """learning_rate = 0.5
[[layers]]
name = "h"
activation = "elu"
weights = [[0.15, -0.2], [0.25, 0.3]]
bias = -0.35
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.4, 0.45]]
bias = 0.6
[[examples]]
inputs = [0.05, 0.1]
targets = [0.01]
"""


def test_an_elu_step_reads_as_its_two_cases_and_then_the_case_that_applies(tmp_path):
    (tmp_path / "elu.toml").write_text(ELU)
    text = check(tmp_path, "out_h1 = 0.5\n", "elu.toml")
    net = 0.15 * 0.05 - 0.2 * 0.1 - 0.35  # below 0: e^net − 1
    lines = text[text.index("First wrong step") :].splitlines()
    assert lines[1:4] == [
        "  out_h1 = net_h1 if net_h1 > 0, else exp(net_h1) - 1",
        f"         = exp({net:.4f}) - 1",
        f"         = {math.expm1(net):.9f}",
    ]


def test_a_relu_step_below_its_kink_reads_as_max_and_carries_its_zero(tmp_path):
    text = check(tmp_path, '"out_h1@1" = 0.5\n', "deep")
    lines = text[text.index("First wrong step") :].splitlines()
    spec = example("deep").spec  # net_h1 = Σ_k w_1k·x_k + b_1 from the file's numbers, below 0
    layer, inputs = spec.layers[0], spec.examples[0].inputs
    bias = layer.bias[0] if isinstance(layer.bias, tuple) else layer.bias
    net = sum(float(w) * float(x) for w, x in zip(layer.weights[0], inputs, strict=True)) + float(bias)
    assert net < 0
    assert lines[1:4] == [
        "  out_h1(1) = max(0, net_h1(1))",
        f"            = max(0, {net:g})",
        "            = 0",  # max(0, x) of a negative x
    ]
