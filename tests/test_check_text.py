"""`derive check`'s text report as a teacher reads it: the table, the score, the first wrong step's working.

The numbers in the working are worked out here from the textbook formula with the student's own
values; the verdicts follow the README's rule (one unit in the last decimal written, error carried
forward).
"""

from __future__ import annotations

import math
import re

from tests.conftest import run_derive

# A slip at net_o1 (1.2 for 1.105905967), carried into out_o1; the rest right, or left out.
STUDENT = """\
net_h1 = 0.3775
out_h1 = 0.5933
net_h2 = 0.3925
out_h2 = 0.59688
net_o1 = 1.2
out_o1 = 0.7685
"dE/dw5" = 0.0822
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
    net = 0.4 * 0.5933 + 0.45 * 0.59688 + 0.6  # w5·out_h1 + w6·out_h2 + b2, with the student's outputs
    working = text[text.index("First wrong step") :]
    assert working == (
        "First wrong step: blank 5 (net_o1), net input of neuron o1\n"
        "  net_o1 = w5·out_h1 + w6·out_h2 + b2·1\n"
        "         = 0.4·0.5933 + 0.45·0.59688 + 0.6·1\n"
        f"         = {net:.6f}\n"
        "  The exact value is 1.105905967.\n"
        "  It uses your answers: blank 2 (out_h1), blank 4 (out_h2).\n"
        "  You wrote 1.2.\n"
    )


def test_the_report_when_nothing_is_wrong(tmp_path):
    (tmp_path / "right.toml").write_text('out_h1 = 0.5933\n"dE/dw5" = 0.08217\n')
    text = run_derive("check", "right.toml", cwd=tmp_path).stdout
    assert text.endswith("Score: 2 of 52\n\nNo step is wrong.\n")
