"""The pages of the convolutional and recurrent built-ins (``derive html cnn``, ``derive html rnn``) in Chromium:
they show cleanly, pass axe, step through the backward pass lighting each step's paths (a kernel entry's
receptive field, a recurrent weight's links through time) and check a worksheet as ``derive check`` does.
"""

from __future__ import annotations

import math

import pytest

from derive.publishing.publish import html_page
from derive.spec.files import load_builtin
from tests.test_browser import (
    MEASURE,
    STATE,
    WIDTHS,
    axe_violations,
    check_in_page,
    check_in_terminal,
    console_problems,
    open_page,
)
from tests.test_conv import IMAGE
from tests.test_recurrent import SEQUENCE

pytestmark = pytest.mark.xdist_group("browser-layered")  # a Chromium of their own, beside the other pages' tests

NETWORKS = ("cnn", "rnn")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Each network's explanation and worksheet page, written once."""
    folder = tmp_path_factory.mktemp("layered-pages")
    found = {}
    for network in NETWORKS:
        for kind, worksheet in (("explanation", False), ("worksheet", True)):
            path = folder / f"{network}-{kind}.html"
            path.write_text(html_page(load_builtin(network), language="en", worksheet=worksheet), encoding="utf-8")
            found[f"{network}-{kind}"] = path
    return found


@pytest.fixture
def browser(session_browser):
    return session_browser


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", [f"{n}-{k}" for n in NETWORKS for k in ("explanation", "worksheet")])
def test_the_page_shows_cleanly(browser, pages, name, width):
    open_page(browser, pages[name], WIDTHS[width])
    seen = browser.execute_script(MEASURE)
    assert seen["maths"] > 100 and seen["emptyMaths"] == []
    assert set(seen["blockDisplay"]) == {"block math"}
    assert seen["svgs"] >= 3 and seen["hiddenSvgs"] == []
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]
    assert console_problems(browser) == []


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", [f"{n}-{k}" for n in NETWORKS for k in ("explanation", "worksheet")])
def test_no_serious_accessibility_violations(browser, pages, name, width):
    open_page(browser, pages[name], WIDTHS[width])
    assert axe_violations(browser) == []


def step_through(browser, name: str, pages) -> dict[str, set[str]]:
    """Every step of the backward pass, pressed through with →: each lights exactly its paths; the lit set by step."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_page(browser, pages[name])
    state = browser.execute_script(STATE)
    stops = state["stops"]
    assert stops > 20 and state["counter"] == f"Step 1 of {stops}"
    lit = {}
    keys = ActionChains(browser)
    for n in range(1, stops + 1):
        if n > 1:
            keys.send_keys(Keys.ARROW_RIGHT).perform()
            state = browser.execute_script(STATE)
        assert state["counter"] == f"Step {n} of {stops}"
        assert state["lit"] == state["path"] != []  # exactly the neurons and edges of the step's paths
        lit[state["step"]] = set(state["lit"])
    keys.send_keys(Keys.ARROW_LEFT).perform()
    assert browser.execute_script(STATE)["counter"] == f"Step {stops - 1} of {stops}"
    assert console_problems(browser) == []
    return lit


def test_a_kernel_entrys_step_lights_its_receptive_field_at_every_position(browser, pages):
    """∂E/∂k_ab: the links i_(r+a, s+b) → c1,rs for every position rs of the 3×3 map, and no other input link."""
    lit = step_through(browser, "cnn-explanation", pages)
    for a in range(2):
        for b in range(2):
            expected = {f"i{r + a + 1}{s + b + 1}>c1,{r + 1}{s + 1}" for r in range(3) for s in range(3)}
            inputs = {edge for edge in lit[f"dE/dw{2 * a + b + 1}"] if edge.startswith("i")}
            assert inputs == expected, (a, b)
    # the dense weights light their one link into the output
    assert {edge for edge in lit["dE/dw5"] if ">" in edge} == {"p1,11>o1"}


def test_a_recurrent_weights_step_lights_its_links_through_time(browser, pages):
    """W's first entry weighs x_t → h1,t at each step; U's first, h1,t−1 → h1,t; neither lights the other's."""
    lit = step_through(browser, "rnn-explanation", pages)
    steps = len(SEQUENCE)
    assert {f"i1,{t}>h1,{t}" for t in range(1, steps + 1)} <= lit["dE/dw1"]
    assert not {edge for edge in lit["dE/dw1"] if edge.startswith("i") and ">h2," in edge}
    assert {f"h1,{t}>h1,{t + 1}" for t in range(1, steps)} <= lit["dE/dw3"]
    assert not {edge for edge in lit["dE/dw3"] if edge.startswith("i")}


def relu(x: float) -> float:
    return max(x, 0.0)


def test_the_cnn_worksheet_marks_as_derive_check_does(browser, pages, tmp_path):
    kernel, bias = [[0.5, -0.25], [0.25, 0.75]], 0.1
    net = {
        f"{r + 1}{s + 1}": bias + sum(kernel[a][b] * IMAGE[r + a][s + b] for a in range(2) for b in range(2))
        for r in range(3)
        for s in range(3)
    }
    answers = {
        "net_c1,11": f"{net['11']:.6f}",  # right
        "out_c1,11": f"{relu(net['11']):.6f}",  # right
        "net_c1,12": f"{net['12'] + 0.1:.6f}",  # wrong
        "out_c1,12": f"{relu(net['12'] + 0.1):.6f}",  # right from the wrong net input: carried forward
        "out_c1,32": f"{relu(net['32']):.6f}",  # ReLU of a negative net input
    }
    verdicts = check_in_page(browser, pages["cnn-worksheet"], answers)
    assert verdicts["net_c1,11"] == verdicts["out_c1,11"] == verdicts["out_c1,32"] == "correct"
    assert verdicts["net_c1,12"] == "wrong" and verdicts["out_c1,12"] == "carried_forward"
    assert verdicts == check_in_terminal(tmp_path, "cnn", answers)


def test_the_rnn_worksheet_marks_as_derive_check_does(browser, pages, tmp_path):
    W, b = [0.5, -0.3], [0.0, 0.1]
    x = SEQUENCE[0][0]
    net_1 = [W[j] * x + b[j] for j in range(2)]  # h_0 = 0: the first step has no recurrent term
    answers = {
        "net_h1,1": f"{net_1[0]:.6f}",
        "out_h1,1": f"{math.tanh(net_1[0]):.6f}",
        "net_h2,1": f"{net_1[1] - 0.01:.6f}",
        "out_h2,1": f"{math.tanh(net_1[1] - 0.01):.6f}",
    }
    verdicts = check_in_page(browser, pages["rnn-worksheet"], answers)
    assert verdicts["net_h1,1"] == verdicts["out_h1,1"] == "correct"
    assert verdicts["net_h2,1"] == "wrong" and verdicts["out_h2,1"] == "carried_forward"
    assert verdicts == check_in_terminal(tmp_path, "rnn", answers)
