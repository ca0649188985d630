"""The class report of `derive check class.csv --report`: its figures against the class built by hand,
its Markdown through Mermaid's and KaTeX's parsers, its page in Chromium with axe-core.

The class is examples/answers/class-mistakes.csv: twelve students of the worked example, each
answer right to six digits but for the mistakes written into it (see that file's rows, made from
the textbook's formulas as tests/test_mistakes.py makes them): the expectations below say which.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_derive
from tests.documents import html_tables, katex_failures, mermaid_diagrams, mermaid_failures
from tests.test_browser import browser  # noqa: F401  (a fixture)

CLASS = ROOT / "examples" / "answers" / "class-mistakes.csv"
# who made which mistake, as the rows were written
MADE = {
    "sign": ["Ben", "Juan"],
    "missing_derivative": ["Eva", "Inés"],
    "wrong_direction": ["Dani", "Inés"],
    "swapped_weight": ["Carla"],
    "half_factor": ["Eva"],
    "missing_path": ["Fran"],
    "no_learning_rate": ["Fran"],
    "too_few_digits": ["Gala"],
    "updated_weight": ["Hugo"],
    "net_for_out": ["Juan"],
    "simplified": ["Karim"],
}


def report(tmp_path: Path, suffix: str, *options: str) -> str:
    path = tmp_path / f"report{suffix}"
    result = run_derive("check", str(CLASS), "--report", str(path), *options)
    assert f"wrote {path}" in result.stderr
    return path.read_text(encoding="utf-8")


def table(markdown: str, heading: str) -> list[list[str]]:
    """The rows of the first table after a heading, each a list of cells."""
    after = markdown[markdown.index(heading) :]
    lines = [line for line in after.splitlines() if line.startswith("|")]
    block = []
    for line in after.splitlines()[1:]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    assert lines, heading
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in block[2:]]


def test_the_markdown_counts_what_the_class_did(tmp_path):
    text = report(tmp_path, ".md")
    rows = table(text, "## The mistakes")
    found = {re.match(r"`(\w+)`", row[0]).group(1): (int(row[1]), row[3].replace("\\", "").split(", ")) for row in rows}
    assert found == {mistake: (len(students), students) for mistake, students in MADE.items()}
    shares = {row[1].strip("`"): row[2:] for row in table(text, "## Each step")}
    # out_h1: Gala's 0.59 and Karim's 1 are wrong, the other ten right; Lucía left three blanks empty
    assert shares["out_h1"] == ["83%", "0%", "17%", "0%"]
    assert shares["delta_o1"] == ["92%", "0%", "0%", "8%"]
    assert shares["dE/dw5"] == ["75%", "0%", "17%", "8%"]  # Juan: net_h1 for out_h1; Karim: trivial; Lucía: empty
    first = dict((row[0].strip("`"), int(row[1])) for row in table(text, "## Where students first go wrong"))
    assert first == {"out_h1": 2, "dE/dout_o1": 2, "dE/dout_h1": 3, "w5+": 1, "E_o1": 1, "delta_h1": 1}
    bands = [int(row[1]) for row in table(text, "## Score distribution")]
    assert sum(bands) == 12 and bands[1] == 12  # every score is 6 to 9 of 52: between a tenth and a fifth
    # the class file answers 9 keys of the worksheet's 52 blanks (one data-key box each on its page): said once
    run_derive("html", "--worksheet", "-o", str(tmp_path / "page.html"))
    blanks = (tmp_path / "page.html").read_text(encoding="utf-8").count('<input id="blank-')
    asked = len(CLASS.read_text(encoding="utf-8").splitlines()[0].split(",")) - 1  # every column but the student
    assert blanks == 52 and asked == 9
    assert f"{blanks - asked} of the worksheet's {blanks} blanks were answered by no student" in text


def test_the_markdown_charts_and_mathematics_parse(tmp_path):
    for language in ("en", "es"):
        text = report(tmp_path, ".md", "--lang", language)
        assert len(mermaid_diagrams(text)) == 1
        assert mermaid_failures(text) == []
        assert katex_failures(text) == []


def test_a_report_is_refused_for_one_sheet_and_an_unknown_format(tmp_path):
    sheet = ROOT / "examples" / "answers" / "mistakes" / "sign.toml"
    result = run_derive("check", str(sheet), "--report", str(tmp_path / "r.html"), check=False)
    assert result.returncode == 2 and "a class report needs a class CSV" in result.stderr
    result = run_derive("check", str(CLASS), "--report", str(tmp_path / "r.pdf"), check=False)
    assert result.returncode == 2 and "expected a report file ending in .html or .md" in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- the page in Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    run_derive("check", str(CLASS), "--report", str(path))
    return path


def test_the_pages_tables_read_by_their_headings_count_what_the_class_did(page):
    tables = {next(iter(table[0])): table for table in html_tables(page.read_text(encoding="utf-8")) if table}
    found = {}
    for row in tables["mistake"]:
        mistake = re.match(r"(\w+): ", row["mistake"])
        assert mistake, row
        found[mistake[1]] = (int(row["times"]), row["students"].split(", "))
    assert found == {mistake: (len(students), students) for mistake, students in MADE.items()}
    steps = {row["key"]: row for row in tables["blank"]}
    assert all(row["blank"].isdigit() for row in steps.values())
    # as the Markdown test reads them: Gala's and Karim's out_h1 wrong; Juan's, Karim's and Lucía's dE/dw5
    assert [steps["out_h1"][share] for share in ("correct", "carried forward", "wrong", "missing")] == [
        "83%",
        "0%",
        "17%",
        "0%",
    ]
    assert [steps["dE/dw5"][share] for share in ("correct", "wrong", "missing")] == ["75%", "17%", "8%"]
    # the step a mistake was made at, as the rows were written (tests/test_mistakes.py)
    assert {row["mistake"].split(":")[0]: row["steps"] for row in tables["mistake"]}["sign"] == "dE/dout_o1"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_page_opens_cleanly_and_passes_axe(browser, page, width):  # noqa: F811
    from tests.test_browser import WIDTHS, axe_violations, console_problems, open_page

    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|src=|@import|url\(", text)  # nothing loaded from elsewhere
    open_page(browser, page, WIDTHS[width])
    seen = browser.execute_script(
        "return {svgs: Array.from(document.querySelectorAll('svg')).filter((s) => s.getBoundingClientRect().width > 0)"
        ".length, scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
        " titles: Array.from(document.querySelectorAll('svg > title')).map((t) => t.textContent)};"
    )
    assert seen["svgs"] == 4 and len(seen["titles"]) == 4
    assert seen["scroll"] <= seen["inner"]
    assert axe_violations(browser, impacts=None) == []  # none at all, of any impact
    assert console_problems(browser) == []
