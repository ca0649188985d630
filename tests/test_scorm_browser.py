"""The SCORM package in Chromium, inside a real SCORM run-time: scorm-again, as many LMSs embed it.

A host page (the "LMS") served from 127.0.0.1 runs scorm-again's Scorm12API or Scorm2004API as
``window.API`` / ``window.API_1484_11`` and launches the package's SCO in an iframe, as an LMS does.
The tests type answers as a student would (right, wrong, and right from their own wrong value),
press the check button, and read back from the run-time what it recorded.  Every expected number is
worked here from the textbook formulas and the variant's own starting values.
Needs Chromium, chromedriver, Selenium, and scorm-again and axe-core from tests/js (npm ci); under
CI=true nothing skips.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import re
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from derive.publishing.scorm import variant_of
from derive.spec.files import load_builtin
from derive.spec.variants import variant
from tests.conftest import ROOT, run_derive
from tests.test_browser import axe_violations, console_problems

pytestmark = pytest.mark.xdist_group("scorm-browser")  # its module-scoped LMS made once, on one worker

RUNTIME = ROOT / "tests" / "js" / "node_modules" / "scorm-again" / "dist" / "scorm-again.min.js"
VARIANTS, SEED = 30, 1  # as a class of thirty gets them
POLL = 0.05  # seconds between looks while waiting for the SCO (Selenium's default, 0.5 s, idles a worker)
ASKED = ["net_h1", "out_h1", "net_h2", "out_h2"]  # the graded blanks: the package's --ask
PASS = "60"  # percent; with --ecf half, a slip and one carried-forward value score 62.5 %
HOST = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"><title>A test LMS</title><link rel="icon" href="data:,">
<script src="scorm-again.min.js"></script>
</head>
<body>
<iframe id="sco" title="The worksheet" width="1200" height="800"></iframe>
<script>
"use strict";
const v12 = new URLSearchParams(location.search).get("version") === "1.2";
window.commits = [];
window.finished = [];
const snapshot = (api) => JSON.parse(JSON.stringify(api.cmi));
/* a launch, as an LMS makes one: a fresh run-time holding the learner and what they left last time */
window.launch = (learner, suspended, mode) => {
  const api = v12 ? new Scorm12API({ logLevel: 4 }) : new Scorm2004API({ logLevel: 4 });
  const entry = suspended ? "resume" : "ab-initio";
  const data = v12 ? { core: { student_id: learner, student_name: "Student, A", entry } }
                   : { learner_id: learner, learner_name: "A Student", entry };
  if (suspended) data.suspend_data = suspended;
  if (mode && v12) data.core.lesson_mode = mode;
  if (mode && !v12) data.mode = mode;
  api.loadFromJSON(data);
  api.on(v12 ? "LMSCommit" : "Commit", () => window.commits.push(snapshot(api)));
  api.on(v12 ? "LMSFinish" : "Terminate", () => window.finished.push(snapshot(api)));
  if (v12) window.API = api; else window.API_1484_11 = api;
  document.getElementById("sco").src = "sco/index.html";
};
/* the learner leaves: the SCO's page is unloaded */
window.leave = (done) => {
  const frame = document.getElementById("sco");
  frame.addEventListener("load", () => done(true), { once: true });
  frame.src = "about:blank";
};
</script>
</body>
</html>
"""


def _runtime() -> Path:
    if not RUNTIME.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("scorm-again is required under CI: .ci/run installs it with npm ci in tests/js")
        pytest.skip("scorm-again is not installed (cd tests/js && npm ci)")
    return RUNTIME


@pytest.fixture(scope="module")
def browser(session_browser):
    """The session's Chromium (tests/conftest.py) at a laptop's size, left out of the LMS's frame."""
    from derive.outputs.browser import DESKTOP, resize

    resize(session_browser, *DESKTOP)
    yield session_browser
    session_browser.switch_to.default_content()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the standard library's name and signature
        pass


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """A folder per SCORM version, each with the host page, the run-time and the unpacked package,
    served over HTTP on 127.0.0.1; the base URL."""
    runtime = _runtime()
    root = tmp_path_factory.mktemp("lms")
    for version in ("1.2", "2004"):
        folder = root / version
        folder.mkdir()
        package = folder / "package.zip"
        options = ["--variants", str(VARIANTS), "--seed", str(SEED), "--ask", ",".join(ASKED)]
        options += ["--ecf", "half", "--pass", PASS, "--version", version, "-o", str(package)]
        run_derive("scorm", *options, cwd=folder)
        with zipfile.ZipFile(package) as archive:
            archive.extractall(folder / "sco")
        (folder / "host.html").write_text(HOST, encoding="utf-8")
        shutil.copy(runtime, folder / "scorm-again.min.js")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


# -- what a student of variant K should write, from the textbook --------------------------------------


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def hidden_layer(number: int) -> dict[str, float]:
    """net_h = w·i + b1 and out_h = σ(net_h) for variant ``number``'s starting values."""
    spec = variant(load_builtin("mazur"), SEED, number)
    p = {name: float(value) for name, value in spec.parameters().items()}
    i1, i2 = (float(x) for x in spec.examples[0].inputs)
    net_h1 = p["w1"] * i1 + p["w2"] * i2 + p["b1"]
    net_h2 = p["w3"] * i1 + p["w4"] * i2 + p["b1"]
    return {"w1": p["w1"], "net_h1": net_h1, "out_h1": sigmoid(net_h1), "net_h2": net_h2, "out_h2": sigmoid(net_h2)}


def answers_with_a_slip(number: int) -> dict[str, str]:
    """net_h1 wrong by 0.1; out_h1 right from that wrong value (carried forward); net_h2 and out_h2 right."""
    right = hidden_layer(number)
    slipped = f"{right['net_h1'] + 0.1:.6f}"
    return {
        "net_h1": slipped,
        "out_h1": f"{sigmoid(float(slipped)):.6f}",
        "net_h2": f"{right['net_h2']:.6f}",
        "out_h2": f"{right['out_h2']:.6f}",
    }


# -- driving the LMS and the page ------------------------------------------------------------------------


def launch(driver, base: str, version: str, learner: str, suspended: str | None = None, mode: str = "") -> int:
    """Open the host page (first launch) or relaunch in it; wait for the SCO; its variant."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.switch_to.default_content()
    if suspended is None:
        driver.get("about:blank")
        driver.get_log("browser")
        driver.get(f"{base}/{version}/host.html?version={version}")
    driver.execute_script("launch(arguments[0], arguments[1], arguments[2])", learner, suspended, mode)
    ready = (
        "const d = document.getElementById('sco').contentDocument;"
        "return d && d.readyState === 'complete' && d.documentElement.dataset.variant || null;"
    )
    shown = WebDriverWait(driver, 30, poll_frequency=POLL).until(lambda d: d.execute_script(ready))
    driver.switch_to.frame("sco")
    return int(shown)


def type_answers(driver, answers: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    for key, text in answers.items():
        field = driver.find_element(By.CSS_SELECTOR, f'input[data-key="{key}"]')
        field.clear()
        field.send_keys(text)


def press_check(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, '[data-action="check"]').click()


def host(driver, script: str):
    driver.switch_to.default_content()
    try:
        return driver.execute_script(script)
    finally:
        driver.switch_to.frame("sco")


def leave(driver) -> None:
    driver.switch_to.default_content()
    driver.set_script_timeout(30)
    driver.execute_async_script("leave(arguments[arguments.length - 1])")


def learner_of(number: int) -> str:
    """A learner id whose variant is ``number``."""
    return next(f"s{n:07d}" for n in range(10_000) if variant_of(f"s{n:07d}", VARIANTS, SEED) == number)


def interactions(cmi: dict, version: str) -> list[dict]:
    table = cmi["interactions"]
    rows = table.get("childArray", table) if isinstance(table, dict) else table
    rows = rows if isinstance(rows, list) else [rows[key] for key in sorted(rows, key=int) if key.isdigit()]
    response = "student_response" if version == "1.2" else "learner_response"
    return [(row["id"], row["type"], row.get(response, ""), row["result"]) for row in rows]


# -- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_the_lms_records_the_score_with_error_carried_forward(browser, lms, version):
    base, _ = lms
    learner = "alice.w@example.org"
    number = variant_of(learner, VARIANTS, SEED)
    assert launch(browser, base, version, learner) == number
    assert browser.execute_script("return document.documentElement.dataset.variant") == str(number)
    banner = browser.execute_script("return document.querySelector('header .lms').innerText")
    assert f"{number} of {VARIANTS}" in banner and "Connected to your course" in banner
    answers = answers_with_a_slip(number)
    type_answers(browser, answers)
    press_check(browser)
    verdicts = browser.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('.blank'))"
        ".filter((b) => b.dataset.verdict).map((b) => [b.querySelector('input').dataset.key, b.dataset.verdict]))"
    )
    assert {key: verdicts[key] for key in ASKED} == {
        "net_h1": "wrong",
        "out_h1": "carried_forward",
        "net_h2": "correct",
        "out_h2": "correct",
    }
    assert "62.5 %" in browser.execute_script("return document.querySelector('.lms .sent').textContent")
    # and where the learner pressed the button, not only in the banner at the top
    assert "62.5 %" in browser.execute_script("return document.querySelector('.checkbar .marked').textContent")
    commits = host(browser, "return window.commits")
    assert len(commits) == 1
    cmi = commits[0]
    # 0 + 1/2 + 1 + 1 of 4 marks: 62.5 %, passed at 60 %
    if version == "1.2":
        core = cmi["core"]
        assert (core["student_id"], core["lesson_status"]) == (learner, "passed")
        assert (core["score"]["raw"], core["score"]["min"], core["score"]["max"]) == ("62.5", "0", "100")
        assert re.fullmatch(r"\d{2,4}:\d\d:\d\d(\.\d{1,2})?", core["session_time"])
    else:
        assert (cmi["learner_id"], cmi["completion_status"], cmi["success_status"]) == (learner, "completed", "passed")
        score = cmi["score"]
        assert (score["raw"], score["min"], score["max"], score["scaled"]) == ("62.5", "0", "100", "0.625")
        assert re.fullmatch(r"PT\d+H\d+M[\d.]+S", cmi["session_time"])
    wrong = "wrong" if version == "1.2" else "incorrect"
    assert interactions(cmi, version) == [
        ("blank1-net_h1", "numeric", answers["net_h1"], wrong),
        ("blank2-out_h1", "numeric", answers["out_h1"], "0.5"),  # carried forward: the credit it earns
        ("blank3-net_h2", "numeric", answers["net_h2"], "correct"),
        ("blank4-out_h2", "numeric", answers["out_h2"], "correct"),
    ]
    saved = json.loads(cmi["suspend_data"])
    assert saved == {"v": number, "a": {str(n): answers[key] for n, key in enumerate(ASKED, 1)}}
    # a second check in the same session: the same four interactions, rewritten; now 1.5 of 4, failed
    type_answers(browser, {"out_h2": "1.234e-1"})  # sent as the plain decimal a numeric response is
    press_check(browser)
    commits = host(browser, "return window.commits")
    assert len(commits) == 2
    again = commits[1]
    if version == "1.2":
        assert (again["core"]["score"]["raw"], again["core"]["lesson_status"]) == ("37.5", "failed")
    else:
        assert (again["score"]["raw"], again["score"]["scaled"], again["success_status"]) == ("37.5", "0.375", "failed")
    assert interactions(again, version)[3] == ("blank4-out_h2", "numeric", "0.1234", wrong)
    assert len(interactions(again, version)) == 4
    browser.switch_to.default_content()
    assert console_problems(browser) == []


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_a_check_with_blanks_left_is_incomplete_not_failed(browser, lms, version):
    """One asked blank answered, right, of four: 25 %, below the pass mark, yet not a failed attempt."""
    base, _ = lms
    learner = "partial.learner@example.org"
    number = variant_of(learner, VARIANTS, SEED)
    assert launch(browser, base, version, learner) == number
    answers = answers_with_a_slip(number)
    type_answers(browser, {"net_h2": answers["net_h2"]})
    press_check(browser)
    cmi = host(browser, "return window.commits")[-1]
    if version == "1.2":
        assert (cmi["core"]["score"]["raw"], cmi["core"]["lesson_status"]) == ("25", "incomplete")
    else:
        assert (cmi["score"]["raw"], cmi["completion_status"], cmi["success_status"]) == ("25", "incomplete", "unknown")
    results = [row[3] for row in interactions(cmi, version)]
    assert results == ["neutral", "neutral", "correct", "neutral"]  # net_h1, out_h1, net_h2, out_h2


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_a_learner_who_comes_back_finds_their_answers(browser, lms, version):
    base, _ = lms
    learner = learner_of(2)
    assert launch(browser, base, version, learner) == 2
    answers = {"net_h1": f"{hidden_layer(2)['net_h1']:.6f}", "out_h2": "0.5"}
    type_answers(browser, answers)  # typed, not checked: kept all the same when the page closes
    leave(browser)
    finished = browser.execute_script("return window.finished")
    assert len(finished) == 1
    left = finished[0]
    exit_value = left["core"]["exit"] if version == "1.2" else left["exit"]
    assert exit_value == "suspend"
    suspended = left["suspend_data"]
    assert launch(browser, base, version, learner, suspended) == 2
    restored = browser.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('input[data-key]'))"
        ".filter((i) => i.value).map((i) => [i.dataset.key, i.value]))"
    )
    assert restored == answers
    press_check(browser)
    cmi = host(browser, "return window.commits[window.commits.length - 1]")
    raw = cmi["core"]["score"]["raw"] if version == "1.2" else cmi["score"]["raw"]
    assert raw == "25"  # net_h1 right, out_h2 wrong, the others empty: 1 of 4
    browser.switch_to.default_content()
    assert console_problems(browser) == []


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_a_review_records_nothing(browser, lms, version):
    """A learner looking back at an attempt (the review mode) is shown the page, and nothing is written."""
    base, _ = lms
    assert launch(browser, base, version, learner_of(4), mode="review") == 4
    type_answers(browser, answers_with_a_slip(4))
    press_check(browser)
    assert browser.execute_script("return document.querySelector('.lms .sent').textContent") == ""
    leave(browser)
    assert browser.execute_script("return window.commits") == []
    left = browser.execute_script("return window.finished")[0]
    assert left["suspend_data"] == "" and (left["core"]["exit"] if version == "1.2" else left["exit"]) == ""
    assert console_problems(browser) == []


def test_two_learners_get_their_own_variants(browser, lms):
    base, _ = lms
    seen = {}
    for number in (1, 3):
        learner = learner_of(number)
        assert launch(browser, base, "1.2", learner) == number
        table = browser.execute_script("return document.querySelector('#network').innerText")
        w1 = hidden_layer(number)["w1"]
        assert f"{w1:g}" in table  # the variant's own starting weight, in the table of starting values
        type_answers(browser, {"net_h1": f"{hidden_layer(number)['net_h1']:.6f}"})
        press_check(browser)
        verdict = browser.execute_script(
            "return document.querySelector('input[data-key=\"net_h1\"]').closest('.blank').dataset.verdict"
        )
        assert verdict == "correct"  # checked against this variant's numbers
        seen[learner] = number
    assert len(set(seen.values())) == 2
    browser.switch_to.default_content()
    assert console_problems(browser) == []


def test_the_page_in_the_lms_passes_axe(browser, lms):
    base, _ = lms
    launch(browser, base, "2004", learner_of(3))
    type_answers(browser, answers_with_a_slip(3))
    press_check(browser)
    assert axe_violations(browser) == []


def test_the_page_works_opened_from_disk_without_an_lms(browser, lms):
    from selenium.webdriver.common.by import By

    _, root = lms
    page = root / "1.2" / "sco" / "index.html"
    browser.switch_to.default_content()
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(page.as_uri())
    assert browser.execute_script("return document.documentElement.dataset.variant") == "1"
    banner = browser.execute_script("return document.querySelector('header .lms').innerText")
    assert "Not connected to a course" in banner
    type_answers(browser, answers_with_a_slip(1))
    press_check(browser)
    assert browser.execute_script("return document.querySelector('.checkbar .marked').textContent").startswith(
        "2 correct, 1 carried forward, 1 wrong"
    )
    assert axe_violations(browser) == []
    # a variant picked in the page: its own numbers, checked against them
    browser.find_element(By.CSS_SELECTOR, "#derive-variant-pick option[value='3']").click()
    browser.find_element(By.CSS_SELECTOR, ".lms .picker button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20, poll_frequency=POLL).until(
        lambda d: d.execute_script("return document.documentElement.dataset.variant") == "3"
    )
    type_answers(browser, {"net_h2": f"{hidden_layer(3)['net_h2']:.6f}"})
    press_check(browser)
    verdict = browser.execute_script(
        "return document.querySelector('input[data-key=\"net_h2\"]').closest('.blank').dataset.verdict"
    )
    assert verdict == "correct"
    assert console_problems(browser) == []


def _carried_through(number: int, folder: Path, slipped: dict[str, str]) -> dict[str, str]:
    """A sheet of cnn's variant ``number`` with the ``slipped`` answers and every other blank the value
    `derive check` carries forward from the answers before it (filled in until nothing changes)."""
    answers = dict(slipped)
    sheet = folder / f"sheet-{number}.json"
    while True:
        sheet.write_text(json.dumps(answers), encoding="utf-8")
        result = run_derive("check", str(sheet), "cnn", "--variant", str(number), "--seed", "1", "--json")
        rows = json.loads(result.stdout)["steps"]
        wanted = {row["key"]: repr(row["carried_forward_expected"]) for row in rows if row["blank"] is not None}
        fresh = {key: text for key, text in wanted.items() if key not in slipped and answers.get(key) != text}
        if not fresh:
            return answers
        answers |= fresh


def test_each_variant_of_a_pooling_network_is_checked_by_its_own_formulas(browser, tmp_path):
    """In a max-pooling network a variant's δ may be routed to another position (or stopped by ReLU): each
    learner's page must check with the formulas of their own variant. A slip in the first blank and every
    later answer carried forward from it: the page gives each blank `derive check`'s verdict, variant by variant."""
    from tests.test_browser import FILL_IN, READ_VERDICTS

    run_derive("scorm", "cnn", "--variants", "3", "--seed", "1", "-o", "cnn.zip", cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / "cnn.zip") as archive:
        archive.extractall(tmp_path / "sco")
    page = tmp_path / "sco" / "index.html"
    assert "window.deriveVariantFormulas" in page.read_text(encoding="utf-8"), "no variant with formulas of its own"
    for number in (1, 2, 3):
        answers = _carried_through(number, tmp_path, {"net_c1,11": "5"})
        sheet = tmp_path / f"sheet-{number}.json"
        result = run_derive("check", str(sheet), "cnn", "--variant", str(number), "--seed", "1", "--json")
        expected = {row["key"]: row["verdict"] for row in json.loads(result.stdout)["steps"] if row["blank"]}
        assert list(expected.values()).count("carried_forward") > 10
        browser.get("about:blank")
        browser.get_log("browser")
        browser.get(f"{page.as_uri()}#variant-{number}")
        assert browser.execute_script("return document.documentElement.dataset.variant") == str(number)
        browser.execute_script(FILL_IN, answers)
        press_check(browser)
        verdicts = browser.execute_script(READ_VERDICTS)
        differ = {
            key: (answers.get(key), verdicts[key], verdict)
            for key, verdict in expected.items()
            if verdicts[key] != verdict
        }
        assert differ == {}, f"variant {number}: {differ}"
        assert console_problems(browser) == []
