"""The web page in a real browser: the system's Chromium, headless, driven by Selenium.

Each page is opened from file:// as a user opens it by double-click.  Where Chromium, chromedriver,
Selenium or axe-core (tests/js) are missing these tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import tomllib
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import mpmath
import pytest

from derive.core.chain import Derivation
from derive.core.numbers import full_precision
from derive.core.steps import build_steps
from derive.publishing.publish import html_page
from derive.spec.files import load_builtin
from tests.conftest import ROOT, run_derive

AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
PAGES = {
    "explanation-en": ("mazur", {"language": "en"}),
    "explanation-es": ("mazur", {"language": "es"}),
    "worksheet-en": ("mazur", {"language": "en", "worksheet": True}),
    "softmax-matrix": ("softmax", {"language": "en", "matrix": True}),
    "deep-worksheet-full": ("deep", {"language": "es", "worksheet": True, "detail": "full"}),
}


pytestmark = pytest.mark.xdist_group("browser")  # one Chromium for these and tests/test_phone.py


@pytest.fixture
def browser(session_browser):
    return session_browser


@pytest.fixture
def pages(browser_pages):
    return browser_pages


def open_page(driver, path: Path, size: tuple[int, int] = WIDTHS["desktop"]) -> None:
    from derive.outputs.browser import resize

    resize(driver, *size)
    driver.get("about:blank")
    driver.get_log("browser")  # empty the log of what came before
    driver.get(path.resolve().as_uri())


def console_problems(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


# -- how every page shows ---------------------------------------------------------------------------

MEASURE = """
document.querySelectorAll("details").forEach((d) => { d.open = true; });
const sized = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
const maths = Array.from(document.querySelectorAll("math"));
const svgs = Array.from(document.querySelectorAll("svg")).filter((s) => !s.closest("[hidden]"));
return {
  maths: maths.length,
  emptyMaths: maths.filter((m) => !sized(m)).map((m) => m.outerHTML.slice(0, 200)),
  blockDisplay: Array.from(document.querySelectorAll('math[display="block"]')).map((m) => getComputedStyle(m).display),
  svgs: svgs.length,
  hiddenSvgs: svgs.filter((s) => !sized(s) || getComputedStyle(s).visibility !== "visible")
    .map((s) => s.outerHTML.slice(0, 200)),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  wide: Array.from(document.querySelectorAll("main *"))
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest(".part"))
    .map((e) => e.tagName + "." + e.className).slice(0, 5),
};
"""


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_page_shows_cleanly(browser, pages, name, width):
    open_page(browser, pages[name], WIDTHS[width])
    assert console_problems(browser) == []
    seen = browser.execute_script(MEASURE)
    assert seen["maths"] > 100
    assert seen["emptyMaths"] == []
    assert set(seen["blockDisplay"]) == {"block math"}  # laid out by the browser's MathML engine
    assert seen["svgs"] >= 3 and seen["hiddenSvgs"] == []
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]
    assert console_problems(browser) == []


# -- stepping through the backward pass ---------------------------------------------------------------

STATE = """
const stepper = document.querySelector(".stepper");
const current = document.querySelector(".eq.current");
return {
  counter: stepper.querySelector(".counter").textContent,
  path: current ? current.dataset.path.split(" ").sort() : [],
  lit: [...new Set(Array.from(stepper.querySelectorAll(".on")).map((e) => e.dataset.node || e.dataset.edge))].sort(),
  stops: document.querySelectorAll("#backward .eq[data-path]").length,
  step: current ? current.dataset.step : null,
};
"""


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_stepping_through_the_backward_pass_lights_up_each_path(browser, pages, width):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, pages["explanation-en"], WIDTHS[width])
    first = browser.execute_script(STATE)
    stops = first["stops"]
    # steps count from 1: the first is lit from the start, and the page has not moved to it
    assert stops > 20 and first["counter"] == f"Step 1 of {stops}" and first["step"] == "dE/dout_o1"
    assert first["lit"] == first["path"] != [] and browser.execute_script("return window.scrollY") == 0
    keys = ActionChains(browser)
    forward = [first]
    for n in range(2, stops + 2):  # one press past the end stays on the last step
        keys.send_keys(Keys.ARROW_RIGHT).perform()
        state = browser.execute_script(STATE)
        assert state["counter"] == f"Step {min(n, stops)} of {stops}"
        assert state["lit"] == state["path"] != []  # exactly the neurons and edges of the step's paths
        forward.append(state)
    paths = [tuple(state["path"]) for state in forward]
    assert len(set(paths)) >= 8  # every gradient of the worked example lights its own paths
    assert any("i1>h1" in path for path in paths) and any(state["step"] == "dE/dw1" for state in forward)
    for n in range(stops - 1, 0, -1):
        keys.send_keys(Keys.ARROW_LEFT).perform()
        state = browser.execute_script(STATE)
        assert state["counter"] == f"Step {n} of {stops}"
        assert state["lit"] == forward[n - 1]["lit"]
    browser.find_element(By.CSS_SELECTOR, '[data-action="next"]').click()
    assert browser.execute_script(STATE)["counter"] == f"Step 2 of {stops}"
    browser.find_element(By.CSS_SELECTOR, '[data-action="previous"]').click()
    assert browser.execute_script(STATE)["lit"] == forward[0]["lit"]
    assert console_problems(browser) == []


# -- the worksheet's check, against derive check ---------------------------------------------------

READ_VERDICTS = """
return Object.fromEntries(Array.from(document.querySelectorAll("input[data-key]"))
  .map((input) => [input.dataset.key, input.closest(".blank").dataset.verdict]));
"""


# Each answer put in its field as typing leaves it: the value set, then the input event the page hears.
FILL_IN = """
for (const [key, text] of Object.entries(arguments[0])) {
  const field = document.querySelector(`input[data-key="${key}"]`);
  field.value = text;
  field.dispatchEvent(new Event("input", {bubbles: true}));
}
"""


def check_in_page(
    driver, path: Path, answers: dict[str, str], typed: bool = True, opened: bool = False
) -> dict[str, str]:
    """The page's verdicts on ``answers``: typed key by key, or (``typed=False``, for a thousand) filled in;
    ``opened``: on the page open already, every field of which ``answers`` fills anew."""
    from selenium.webdriver.common.by import By

    assert not (opened and typed), "typing into an opened page would add to what its fields hold"
    if not opened:
        open_page(driver, path)
    if not typed:
        driver.execute_script(FILL_IN, answers)
    for key, text in answers.items() if typed else ():
        field = driver.find_element(By.CSS_SELECTOR, f'input[data-key="{key}"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
        field.send_keys(text)
    button = driver.find_element(By.CSS_SELECTOR, '[data-action="check"]')
    button.click()
    verdicts = driver.execute_script(READ_VERDICTS)
    assert console_problems(driver) == []
    return verdicts


def check_in_terminal(tmp_path: Path, network: str, answers: dict[str, str], *extra: str) -> dict[str, str]:
    sheet = tmp_path / "answers.json"
    sheet.write_text(json.dumps(answers), encoding="utf-8")  # numbers as text keep the digits written
    result = run_derive("check", str(sheet), network, "--json", *extra)
    return {row["key"]: row["verdict"] for row in json.loads(result.stdout)["steps"] if row["blank"] is not None}


def check_class_in_terminal(tmp_path: Path, network: str, sheets: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each sheet's verdicts from one ``derive check`` of a class's CSV (a row per sheet, the numbers as written)."""
    keys = list(dict.fromkeys(key for answers in sheets for key in answers))
    with (tmp_path / "class.csv").open("w", encoding="utf-8", newline="") as table:
        rows = csv.writer(table)
        rows.writerow(["student", *keys])
        rows.writerows([f"sheet {n}", *(answers.get(key, "") for key in keys)] for n, answers in enumerate(sheets))
    result = run_derive("check", str(tmp_path / "class.csv"), network, "--json")
    students = json.loads(result.stdout)
    assert [student["student"] for student in students] == [f"sheet {n}" for n in range(len(sheets))]
    return [{row["key"]: row["verdict"] for row in one["steps"] if row["blank"] is not None} for one in students]


def test_the_worksheet_marks_right_wrong_and_carried_forward(browser, pages):
    answers = {"net_h1": "0.3775", "net_o1": "1.2", "out_o1": "0.7685"}  # σ(1.2) = 0.76852478
    verdicts = check_in_page(browser, pages["worksheet-en"], answers)
    assert verdicts["net_h1"] == "correct"
    assert verdicts["net_o1"] == "wrong"
    assert verdicts["out_o1"] == "carried_forward"
    assert verdicts["out_h1"] == "missing"


WORKED_ANSWERS = {
    "the Spanish source": {
        "net_h1": "0.3775",
        "net_h2": "0.39249999999999996",
        "out_h1": "0.5933",
        "out_h2": "0.5969",
        "net_o1": "1.105925",
        "out_o1": "0.751368625185488",
        "net_o2": "1.224945",
        "out_o2": "0.7729326066130681",
    },
    "edges of the rule": {
        "net_h1": "0.38",  # two significant digits: too coarse
        "out_h1": "0.593269992",
        "E_o1": "0.2748",
        "dE/dout_o2": "0.2171",  # the sign is wrong
        "dE/dw5": "0.0900",  # wrong …
        "w5+": "0.3551",  # … and w5 − η·0.09 = 0.355 lies exactly one unit of the last place away
        "w6+": "0.4087",  # the exact 0.408666186 is a unit of the last place away
        "dE/dw7": "-2.2e-2",  # two significant digits
        "w7+": "0.5109",  # w7 − η·(−0.022) = 0.511, one unit of the last place above
        "E_total+": "0.29103",
    },
}


@pytest.mark.parametrize("case", sorted(WORKED_ANSWERS))
def test_the_page_marks_as_derive_check_does(browser, pages, tmp_path, case):
    answers = WORKED_ANSWERS[case]
    assert check_in_page(browser, pages["worksheet-en"], answers) == check_in_terminal(tmp_path, "mazur", answers)


READ_MISTAKES = """
return Object.fromEntries(Array.from(document.querySelectorAll("input[data-key]"))
  .map((input) => [input.dataset.key, input.closest(".blank").querySelector(".mistake").textContent])
  .filter((entry) => entry[1]));
"""
MISTAKE_SHEETS = sorted((ROOT / "examples" / "answers" / "mistakes").glob("*.toml"))


@pytest.mark.parametrize("sheet", MISTAKE_SHEETS, ids=[path.stem for path in MISTAKE_SHEETS])
def test_the_page_names_the_mistake_as_derive_check_does(browser, pages, sheet):
    """Each example sheet's mistake, said under its blank in the same words as derive check's."""
    answers = {key: str(value) for key, value in tomllib.loads(sheet.read_text(encoding="utf-8")).items()}
    verdicts = check_in_page(browser, pages["worksheet-en"], answers)
    said = browser.execute_script(READ_MISTAKES)
    report = json.loads(run_derive("check", str(sheet), "--json").stdout)
    assert said == {row["key"]: row["mistake"]["message"] for row in report["steps"] if row["mistake"]}
    assert said and all(verdicts[key] == "wrong" for key in said)
    assert sheet.stem in {row["mistake"]["id"] for row in report["steps"] if row["mistake"]}


def student(network: str, seed: int, **options) -> dict[str, str]:
    """Answers a student might give: some exact to four digits, some worked on from their own earlier
    numbers, some wrong, some left out."""
    steps = build_steps(Derivation(load_builtin(network)), **options)
    chance = random.Random(seed)
    theirs: dict = {}
    answers = {}
    for step in steps:
        own = steps.evaluate(step, theirs)
        choice = chance.choice(["exact", "own", "wrong", "empty"]) if step.blank else "empty"
        text = {
            "exact": f"{float(step.value):.4g}",
            "own": f"{float(own):.6g}",
            "wrong": f"{float(step.value) * 1.3 + 0.01:.4g}",
            "empty": None,
        }[choice]
        if text is not None:
            answers[step.key] = text
            with full_precision():
                theirs[step.symbol] = mpmath.mpf(text)
        elif step.blank is None:
            theirs[step.symbol] = own
    return answers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_students_answers_are_marked_as_by_derive_check(browser, pages, tmp_path, seed):
    """The deep network (ReLU, errors averaged over two examples), every gradient derived in full."""
    answers = student("deep", seed, detail="full")
    # the first student types every answer key by key; the others' answers are filled in as typing
    # leaves them (the value, then the input event), which the page hears the same way, at a tenth of the time
    in_page = check_in_page(browser, pages["deep-worksheet-full"], answers, typed=seed == 1)
    assert in_page == check_in_terminal(tmp_path, "deep", answers, "--detail", "full")
    assert {"correct", "carried_forward", "wrong", "missing"} <= set(in_page.values())
    # and the mistakes named, in the page's language (Spanish), as derive check names them
    sheet = tmp_path / "answers.json"
    report = json.loads(run_derive("check", str(sheet), "deep", "--json", "--detail", "full", "--lang", "es").stdout)
    named = {row["key"]: row["mistake"]["message"] for row in report["steps"] if row["mistake"]}
    assert browser.execute_script(READ_MISTAKES) == named


def test_a_softmax_students_answers_are_marked_as_by_derive_check(browser, tmp_path):
    path = tmp_path / "softmax.html"
    path.write_text(html_page(load_builtin("softmax"), worksheet=True), encoding="utf-8")
    answers = student("softmax", 4)
    assert check_in_page(browser, path, answers) == check_in_terminal(tmp_path, "softmax", answers)


def test_text_that_is_not_a_number_is_marked_and_named(browser, pages):
    from selenium.webdriver.common.by import By

    verdicts = check_in_page(browser, pages["worksheet-en"], {"net_h1": "0,3775", "out_h1": "0.5933"})
    assert verdicts["net_h1"] == "wrong" and verdicts["out_h1"] == "correct"
    said = browser.find_element(By.CSS_SELECTOR, '[data-blank="1"] .verdict').text
    assert "0.5933" in said  # how to write it


def test_the_spanish_page_accepts_a_decimal_comma(browser, tmp_path):
    """Spanish students type 0,5933 (a Spanish phone's decimal keyboard gives a comma); 0.5933 is read too."""
    path = tmp_path / "hoja.html"
    path.write_text(html_page(load_builtin("mazur"), language="es", worksheet=True), encoding="utf-8")
    out_h1 = 1 / (1 + math.exp(-(0.15 * 0.05 + 0.2 * 0.1 + 0.35)))  # σ(net_h1), by hand
    out_h2 = 1 / (1 + math.exp(-(0.25 * 0.05 + 0.3 * 0.1 + 0.35)))
    answers = {
        "net_h1": "0,3775",
        "out_h1": f"{out_h1:.4f}".replace(".", ","),
        "net_h2": "0.3925",
        "out_h2": f"{out_h2 + 0.01:.4f}".replace(".", ","),  # a slip
    }
    verdicts = check_in_page(browser, path, answers)
    assert [verdicts[key] for key in answers] == ["correct", "correct", "correct", "wrong"]
    assert verdicts == check_in_terminal(tmp_path, "mazur", answers, "--lang", "es")


def test_the_spanish_page_writes_every_number_with_a_comma(browser, pages):
    """What a reader sees: the text, the MathML and the pictures' labels, with a decimal comma."""
    open_page(browser, pages["explanation-es"])
    text = browser.execute_script("return document.querySelector('main').innerText")
    assert not re.search(r"\d\.\d", text)
    out_h1 = 1 / (1 + math.exp(-(0.15 * 0.05 + 0.2 * 0.1 + 0.35)))
    assert f"{out_h1:.9f}".replace(".", ",") in text  # out_h1 in its line of working
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#network svg text')).map((t) => t.textContent)"
    )
    assert "w1 = 0,15" in labels and "b1 = 0,35" in labels


# -- accessibility --------------------------------------------------------------------------------------


def axe_source() -> str:
    if not AXE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("axe-core is required under CI: .ci/run installs it with npm ci in tests/js")
        pytest.skip("axe-core is not installed (cd tests/js && npm ci)")
    return AXE.read_text(encoding="utf-8")


SERIOUS = ("serious", "critical")


def axe_violations(driver, impacts: tuple[str, ...] | None = SERIOUS) -> list[tuple[str, str, list]]:
    """axe-core's violations of these impacts (``None``: of any) on the page open in ``driver``: each
    rule, its impact and the first three elements it names."""
    driver.execute_script(axe_source())
    driver.set_script_timeout(120)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations), (e) => done(String(e)));"
    )
    assert isinstance(result, list), result
    return [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"][:3]])
        for violation in result
        if impacts is None or violation["impact"] in impacts
    ]


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", ["explanation-en", "explanation-es", "worksheet-en"])
def test_no_serious_accessibility_violations(browser, pages, name, width):
    open_page(browser, pages[name], WIDTHS[width])
    assert axe_violations(browser) == []


FOCUSABLE = """
const controls = Array.from(document.querySelectorAll("button, input, summary, a[href]"))
  .filter((e) => e.getClientRects().length > 0);
controls.forEach((e, n) => e.setAttribute("data-control", String(n)));
document.activeElement.blur();
window.scrollTo(0, 0);
return controls.length;
"""


@pytest.mark.parametrize("name", ["explanation-en", "worksheet-en"])
def test_every_control_is_reached_by_the_keyboard(browser, pages, name):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_page(browser, pages[name])
    count = browser.execute_script(FOCUSABLE)
    assert count >= (100 if name.startswith("worksheet") else 2)
    reached = set()
    keys = ActionChains(browser)
    for _ in range(count + 3):
        keys.send_keys(Keys.TAB).perform()
        reached.add(browser.execute_script("return document.activeElement.getAttribute('data-control')"))
    assert reached >= {str(n) for n in range(count)}


# -- nothing a user supplies runs --------------------------------------------------------------------

NAME = '"><img src=x onerror=alert(1)>'


def test_a_hostile_file_name_shows_as_text(browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    network = tmp_path / f"{NAME}.toml"
    network.write_text(run_derive("example", "mazur").stdout, encoding="utf-8")
    out = tmp_path / "page.html"
    run_derive("html", str(network), "-o", str(out))
    open_page(browser, out)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert NAME in browser.find_element(By.CSS_SELECTOR, ".subtitle").text
    assert NAME in browser.title and console_problems(browser) == []


def test_a_catalog_sentence_with_markup_shows_as_text(browser, tmp_path):
    from selenium.webdriver.common.by import By

    catalog = (ROOT / "templates" / "i18n" / "en.toml").read_text(encoding="utf-8")
    hostile = catalog.replace(
        'title = "Backpropagation, step by step"', 'title = "Backprop <script>alert(2)</script> & <b>x</b> < y"'
    ).replace('offline = "', 'offline = "$\\\\text{<img src=y onerror=alert(3)>} < 1$ ')
    (tmp_path / "mine" / "i18n").mkdir(parents=True)
    (tmp_path / "mine" / "i18n" / "en.toml").write_text(hostile, encoding="utf-8")
    out = tmp_path / "page.html"
    run_derive("html", "--templates", str(tmp_path / "mine"), "-o", str(out))
    open_page(browser, out)
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Backprop <script>alert(2)</script> & <b>x</b> < y"
    assert "<img src=y onerror=alert(3)>" in browser.find_element(By.CSS_SELECTOR, ".offline").text.replace("\xa0", " ")
    assert browser.execute_script("return [document.scripts.length, document.querySelectorAll('img, b').length]") == [
        1,
        0,
    ]


# -- printing, and reading with JavaScript off -------------------------------------------------------

SHOWN = """
const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility === "visible";
return {
  controls: Array.from(document.querySelectorAll(".stepper, .checkbar, button")).filter(shown).length,
  lines: Array.from(document.querySelectorAll(".eq")).filter((e) => !e.closest("details") && !shown(e)).length,
  maths: Array.from(document.querySelectorAll("math")).filter((e) => !e.closest("details") && !shown(e)).length,
};
"""


@pytest.mark.parametrize("name", ["explanation-en", "worksheet-en"])
def test_the_print_stylesheet_shows_every_step_and_no_control(browser, pages, name):
    open_page(browser, pages[name])
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert browser.execute_script(SHOWN) == {"controls": 0, "lines": 0, "maths": 0}
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_the_page_reads_without_javascript(browser, pages):
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        open_page(browser, pages["explanation-en"], WIDTHS["phone"])
        seen = browser.execute_script(MEASURE)
        assert seen["emptyMaths"] == [] and seen["hiddenSvgs"] == []
        assert seen["scrollWidth"] <= seen["innerWidth"]
        stepper_shown = browser.execute_script("return document.querySelector('.stepper').getClientRects().length")
        assert stepper_shown == 0  # the controls need the script; without it the page is the plain text
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


# -- the page's checker against derive check, on a thousand written answers ------------------------


def written(value: mpmath.mpf, chance: random.Random) -> str:
    """One way a student might write ``value``: rounded or cut to 1–17 significant digits, a unit or two
    off in the last, the other sign, in exponent form, with trailing zeros, a float64's repr, or 0."""
    exact = Decimal(mpmath.nstr(value, 40, strip_zeros=False))
    digits = chance.randint(1, 17)
    place = Decimal(1).scaleb(exact.adjusted() - digits + 1) if exact else Decimal("0.001")
    rounded = exact.quantize(place, rounding=ROUND_HALF_EVEN)
    kind = chance.choice(["round", "cut", "one", "two", "sign", "exponent", "zeros", "float", "zero"])
    if kind == "cut":
        return str(exact.quantize(place, rounding=ROUND_DOWN))
    if kind in ("one", "two"):
        return str(rounded + chance.choice([-1, 1]) * (1 if kind == "one" else 2) * place)
    if kind == "sign":
        return str(-rounded) if rounded else "-0.5"
    if kind == "exponent":
        return f"{float(exact):.{max(digits - 1, 0)}e}"
    if kind == "zeros":
        return format(rounded, "f") + ("0" * chance.randint(1, 3) if "." in format(rounded, "f") else ".000")
    if kind == "float":
        return repr(float(exact))
    if kind == "zero":
        return chance.choice(["0", "0.0", "0.000"])
    return format(rounded, "f")


def test_the_page_and_derive_check_agree_on_a_thousand_written_answers(browser, pages, tmp_path):
    """Every blank of the worked example filled, 20 sheets over: 1,040 verdicts, each the page's and the
    terminal's the same (the agreement rule and error carried forward, on values near every boundary)."""
    steps = build_steps(Derivation(load_builtin("mazur")))
    blanks = [step for step in steps if step.blank]
    sheets = [{step.key: written(step.value, random.Random(seed)) for step in blanks} for seed in range(20)]
    in_terminal = check_class_in_terminal(tmp_path, "mazur", sheets)  # one derive check for the twenty
    assert all(set(answers) == {step.key for step in blanks} for answers in sheets)
    # the page marks what its fields hold when the button is pressed, and every sheet fills every field:
    # one page opened for the twenty (each check rewrites every verdict)
    open_page(browser, pages["worksheet-en"])
    compared = 0
    for seed, answers in enumerate(sheets):
        in_page = check_in_page(browser, pages["worksheet-en"], answers, typed=False, opened=True)
        differ = {
            key: (answers[key], in_page[key], in_terminal[seed][key])
            for key in in_terminal[seed]
            if in_page[key] != in_terminal[seed][key]
        }
        assert not differ, f"sheet {seed}: {differ}"
        compared += len(in_terminal[seed])
    assert compared >= 1000
