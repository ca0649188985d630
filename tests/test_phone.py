"""The web page on a phone held upright (390 × 844 CSS pixels), in Chromium: the network panel stays
small, a line too wide for the screen shows that it goes on, and minus signs are spaced by their role.

Where the layout is in question the test reads the pixels of a screenshot, as a reader would see them."""

from __future__ import annotations

import io
import math

import pytest

from tests.test_browser import WIDTHS, console_problems, open_page

PHONE = WIDTHS["phone"]
SHOWN = ["explanation-en", "worksheet-en", "softmax-matrix", "deep-worksheet-full"]


pytestmark = pytest.mark.xdist_group("browser")  # one Chromium for these and tests/test_browser.py


@pytest.fixture
def phone(session_browser):
    """The session's Chromium: every test here opens its page at the size it needs (open_page)."""
    return session_browser


@pytest.fixture
def phone_pages(browser_pages):
    return {name: browser_pages[name] for name in SHOWN}


def screenshot(driver):
    from PIL import Image  # Pillow comes with matplotlib, a test requirement

    return Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")


# -- the network panel -----------------------------------------------------------------------------------

PANEL = """
document.getElementById("backward").scrollIntoView();
window.scrollBy(0, 600);  // well into the backward pass, where the panel sticks to the top
const box = (e) => (e && e.getClientRects().length ? e.getBoundingClientRect() : null);
const panel = box(document.querySelector(".stepper"));
const bar = box(document.querySelector(".checkbar"));
const names = Array.from(document.querySelectorAll(".stepper-diagram text"))
  .filter((e) => e.getClientRects().length).map((e) => [e.textContent, e.getBoundingClientRect().height]);
const lit = Array.from(document.querySelectorAll(".stepper-diagram .on"))
  .filter((e) => box(e) && box(e).width + box(e).height > 0);
return {viewport: window.innerHeight, top: panel.top, panel: panel.height, bar: bar ? bar.height : 0,
        names, lit: lit.length, buttons: Array.from(document.querySelectorAll(".stepper button"))
          .map((b) => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])};
"""


@pytest.mark.parametrize("name", SHOWN)
def test_the_network_panel_takes_at_most_a_fifth_of_a_phone(phone, phone_pages, name):
    open_page(phone, phone_pages[name], PHONE)
    seen = phone.execute_script(PANEL)
    assert seen["top"] == 0  # it sticks to the top of the screen
    # the panel, and on the worksheet the check bar at the bottom with it, take at most a fifth
    assert seen["panel"] + seen["bar"] <= 0.2 * seen["viewport"], seen
    assert seen["lit"] > 0  # the network still shows the path of the step
    names = dict(seen["names"])
    assert {"i1", "o1"} <= set(names) or {"i1", "o2"} <= set(names), names  # the neurons are named …
    assert min(height for _, height in seen["names"]) >= 9  # … in letters large enough to read
    assert all(width >= 44 and height >= 44 for width, height in seen["buttons"])  # buttons a finger can hit
    assert console_problems(phone) == []


# -- lines wider than the screen -------------------------------------------------------------------------

CLIPPED = """
document.querySelectorAll("details").forEach((d) => { d.open = true; });
window.dispatchEvent(new Event("resize"));
return Array.from(document.querySelectorAll(".eq .part"))
  .filter((p) => p.getClientRects().length && p.scrollWidth > p.clientWidth + 1).length;
"""

SHOW = """
const part = Array.from(document.querySelectorAll(".eq .part"))
  .filter((p) => p.getClientRects().length && p.scrollWidth > p.clientWidth + 1)[arguments[0]];
part.scrollLeft = arguments[1] ? part.scrollWidth : 0;
part.scrollIntoView({block: "center"});
const r = part.getBoundingClientRect();
return [r.left, r.top, r.right, r.bottom];
"""


def blue(pixel: tuple[int, int, int]) -> bool:
    """Tinted with the lit path's blue, as the edge and its shadow are (text is grey, the page white)."""
    red, green, blue = pixel
    return blue - red > 40 and blue > green  # not the pale tint of the current line (#e3ecfb)


def blue_rows(image, columns: range, top: int, bottom: int) -> float:
    """The share of rows showing blue in the band of columns along an edge: a clipped line's edge and its
    shadow (a glyph running over the edge hides them in some of its rows, never in all the band)."""
    rows = range(top, bottom)
    return sum(1 for y in rows if any(blue(image.getpixel((x, y))) for x in columns)) / len(rows)


@pytest.mark.parametrize("name", SHOWN)
def test_every_clipped_line_shows_that_it_goes_on(phone, phone_pages, name):
    open_page(phone, phone_pages[name], PHONE)
    count = phone.execute_script(CLIPPED)
    assert count > 0  # the pages have lines wider than a phone
    for index in range(count):
        for at_end in (False, True):
            left, top, right, bottom = phone.execute_script(SHOW, index, at_end)
            phone.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
            image = screenshot(phone)
            rows = (math.ceil(top) + 1, math.floor(bottom) - 1)
            inside_left = range(math.ceil(left), math.ceil(left) + 8)
            inside_right = range(math.floor(right) - 8, math.floor(right))
            hidden_side, shown_side = (inside_left, inside_right) if at_end else (inside_right, inside_left)
            assert blue_rows(image, hidden_side, *rows) > 0.8, (name, index, at_end)  # an edge where it goes on
            assert blue_rows(image, shown_side, *rows) == 0, (name, index, at_end)  # none where it ends
    assert console_problems(phone) == []


def test_a_line_that_fits_has_no_edge(phone, phone_pages):
    open_page(phone, phone_pages["explanation-en"], WIDTHS["desktop"])
    assert phone.execute_script(CLIPPED) == 0
    assert phone.execute_script("return document.querySelectorAll('[data-more]').length") == 0


# -- minus signs --------------------------------------------------------------------------------------------

GAPS = """
const gaps = {unary: [], binary: []};
document.querySelectorAll("main mo").forEach((mo) => {
  if (mo.textContent !== "\\u2212" || !mo.getClientRects().length) return;
  const before = mo.previousElementSibling, after = mo.nextElementSibling;
  if (!after || !after.getClientRects().length) return;
  const gap = after.getBoundingClientRect().left - mo.getBoundingClientRect().right;
  // by its place: a sign first in its row, or after = or an opening bracket, has nothing to subtract from
  if (after.tagName === "mo" || after.querySelector("mo")) return;  // an operator after it brings its own space
  const unary = !before || (before.tagName === "mo" && ["=", "(", "["].includes(before.textContent));
  const binary = before && ["mn", "mi", "msub", "msup", "mfrac", "mrow"].includes(before.tagName);
  if (unary) gaps.unary.push([gap, mo.getAttribute("form"), mo.parentElement.textContent.slice(0, 30)]);
  else if (binary) gaps.binary.push([gap, mo.getAttribute("form"), mo.parentElement.textContent.slice(0, 30)]);
});
return gaps;
"""


@pytest.mark.parametrize("name", ["explanation-en", "softmax-matrix"])
def test_minus_signs_are_spaced_by_their_role(phone, phone_pages, name):
    open_page(phone, phone_pages[name], WIDTHS["desktop"])
    gaps = phone.execute_script(GAPS)
    assert len(gaps["unary"]) > 10 and len(gaps["binary"]) > 10
    # −0.217071535 and (−1) are set close, as in print; 1 − out keeps a medium space on each side
    assert all(gap < 1 and form == "prefix" for gap, form, _ in gaps["unary"]), gaps["unary"]
    assert all(gap > 2.5 for gap, _, _ in gaps["binary"]), gaps["binary"]
