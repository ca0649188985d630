"""Regenerate the gallery in ``output/``: ``python -m derive.app.gallery [FOLDER]``.

The worked example in every form a course uses: the explanation at each detail level (English,
and the standard level in Spanish), the worksheet and its solutions at each detail level and
exercise kind, an exam with numbers of its own and its key, the slides and their handout, and the
Moodle quiz (English and Spanish), each LaTeX document also compiled to PDF; the web pages
(the explanation in English and Spanish, the worksheet), with screenshots of them in
``screenshots/`` taken by headless Chromium at a laptop's and a phone's width; the worksheet as a
SCORM package for an LMS; and the built-in convolutional and recurrent networks (``cnn``, ``rnn``):
their explanations, worksheet and solutions, and pages. A test checks that the committed text files
and the package match a fresh render (the screenshots are pictures, and are not compared).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from derive.errors import DeriveError

# (suffix, language, detail, exercise) of each worksheet-and-solutions pair
SHEETS = [
    ("en", "en", "standard", "numbers"),
    ("es", "es", "standard", "numbers"),
    ("en-full", "en", "full", "numbers"),
    ("en-brief", "en", "brief", "numbers"),
    ("en-formulas", "en", "standard", "formulas"),
]
# The exam has numbers of its own, as a lecturer sets it: variant 1 of this seed (printed on its key).
EXAM_SEED = 2026
EXPLANATIONS = [
    ("en", "en", "standard"),
    ("es", "es", "standard"),
    ("en-full", "en", "full"),
    ("en-brief", "en", "brief"),
]
# (file, language, worksheet) of each web page
PAGES = [("explanation-en.html", "en", False), ("explanation-es.html", "es", False), ("worksheet-en.html", "en", True)]
# What a student does before each screenshot: step on from the first step of the backward pass to δ_o1,
# or check some answers (right, wrong, and right from the wrong one: carried forward).
STEPS_SHOWN = 2
ANSWERS_SHOWN = {"net_h1": "0.3775", "out_h1": "0.5933", "net_h2": "0.39", "out_h2": "0.5963"}


def gallery_texts() -> dict[str, str]:
    """The gallery's text files, rendered afresh."""
    from derive.document import ExamSetting
    from derive.publishing.publish import explanation, html_page, slides_files, worksheet_files
    from derive.spec.files import load_builtin
    from derive.spec.variants import variant

    spec = load_builtin("mazur")
    texts = {
        f"explanation-{suffix}.md": explanation(spec, language=language, detail=detail)
        for suffix, language, detail in EXPLANATIONS
    }
    for suffix, language, detail, exercise in SHEETS:
        files = worksheet_files(spec, language=language, detail=detail, exercise=exercise)
        texts |= {f"{Path(name).stem}-{suffix}.tex": text for name, text in files.items()}
    exam = variant(spec, EXAM_SEED, 1)
    for language in ("en", "es"):
        files = worksheet_files(exam, language=language, exercise="exam", exam=ExamSetting(seed=EXAM_SEED))
        texts |= {f"{Path(name).stem}-{language}.tex": text for name, text in files.items()}
        for handout in (False, True):
            slides = slides_files(spec, language=language, handout=handout)
            texts |= {f"{Path(name).stem}-{language}.tex": text for name, text in slides.items()}
        texts[f"quiz-{language}.xml"] = _quiz(spec, language)
    texts |= {name: html_page(spec, language=language, worksheet=worksheet) for name, language, worksheet in PAGES}
    for name in LAYERED:
        texts |= _layered(name)
    return texts


# The built-in convolutional and recurrent networks: their explanations, worksheet, solutions and pages,
# each file named after the network (cnn-explanation-en.md).
LAYERED = ("cnn", "rnn")


def _layered(name: str) -> dict[str, str]:
    from derive.publishing.publish import explanation, html_page, worksheet_files
    from derive.spec.files import load_builtin

    spec = load_builtin(name)
    texts = {f"{name}-explanation-{language}.md": explanation(spec, language=language) for language in ("en", "es")}
    files = worksheet_files(spec, language="en")
    texts |= {f"{name}-{Path(file).stem}-en.tex": text for file, text in files.items()}
    for page, language, worksheet in PAGES:
        if language == "en":
            texts[f"{name}-{page}"] = html_page(spec, language=language, worksheet=worksheet)
    return texts


# The SCORM package: a few students' variants, as `derive scorm --variants 5 --seed 1` writes it.
SCORM_VARIANTS, SCORM_SEED = 5, 1


def gallery_packages() -> dict[str, bytes]:
    """The gallery's packages, made afresh: the same bytes every time."""
    from derive.publishing.scorm import Setting, scorm_package
    from derive.spec.files import load_builtin

    setting = Setting(variants=SCORM_VARIANTS, seed=SCORM_SEED)
    return {"scorm-en.zip": scorm_package(load_builtin("mazur"), setting, language="en")}


def _quiz(spec: Any, language: str) -> str:
    """The worked example's Moodle quiz, as `derive quiz --format moodle` writes it."""
    from derive.assessment import quiz as quizzes
    from derive.outputs.render import default_renderer

    catalog = default_renderer().catalog(language)
    made = quizzes.questions([(None, spec)], catalog=catalog)
    name = quizzes.network_name(spec, catalog)
    return quizzes.moodle_xml(made, catalog, name=name, digits=quizzes.DEFAULT_SIGNIFICANT)


def _step(driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(STEPS_SHOWN):
        ActionChains(driver).send_keys(Keys.ARROW_RIGHT).perform()


def _check(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    for key, text in ANSWERS_SHOWN.items():
        driver.find_element(By.CSS_SELECTOR, f'input[data-key="{key}"]').send_keys(text)
    driver.find_element(By.CSS_SELECTOR, '[data-action="check"]').click()
    driver.execute_script("document.getElementById('forward').scrollIntoView()")


def _top(driver: Any) -> None:
    driver.execute_script("window.scrollTo(0, 0)")


# (screenshot, page, width and height, what is done first)
SCREENSHOTS: list[tuple[str, str, str, Callable[[Any], None]]] = [
    ("explanation-en-desktop.png", "explanation-en.html", "desktop", _step),
    ("explanation-en-phone.png", "explanation-en.html", "phone", _step),
    ("explanation-es-phone.png", "explanation-es.html", "phone", _top),
    ("worksheet-en-desktop.png", "worksheet-en.html", "desktop", _check),
    ("worksheet-en-phone.png", "worksheet-en.html", "phone", _check),
    ("cnn-explanation-en-desktop.png", "cnn-explanation-en.html", "desktop", _top),
    ("rnn-explanation-en-desktop.png", "rnn-explanation-en.html", "desktop", _top),
]


def screenshots(texts: dict[str, str]) -> dict[str, bytes]:
    """The web pages as Chromium shows them to a student, at a laptop's width and a phone's."""
    from derive.outputs.browser import DESKTOP, PHONE, chromium, resize

    sizes = {"desktop": DESKTOP, "phone": PHONE}
    shots = {}
    with tempfile.TemporaryDirectory(prefix="derive-gallery-") as folder, chromium() as driver:
        # no smooth scrolling: each picture shows where a step has arrived
        features = [{"name": "prefers-reduced-motion", "value": "reduce"}]
        for name, page, size, scene in SCREENSHOTS:
            path = Path(folder) / page
            path.write_text(texts[page], encoding="utf-8")
            resize(driver, *sizes[size])
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": features})
            driver.get(path.as_uri())
            scene(driver)
            # two frames: the page has scrolled and the sticky network has settled before the picture
            driver.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
            shots[name] = driver.get_screenshot_as_png()
    return shots


def main(argv: list[str] | None = None) -> int:
    from derive.publishing.publish import compile_pdfs
    from derive.publishing.writing import write_files

    arguments = sys.argv[1:] if argv is None else argv
    folder = Path(arguments[0] if arguments else "output")
    try:
        texts = gallery_texts()
        files: dict[str, str | bytes] = dict(texts)
        files |= compile_pdfs({name: text for name, text in texts.items() if name.endswith(".tex")})
        files |= gallery_packages()
        pictures = screenshots(texts)
        for path in write_files(folder, files) + write_files(folder / "screenshots", dict(pictures)):
            print(f"wrote {path}")
    except DeriveError as error:
        print(f"derive.app.gallery: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
