"""One rule, one place: every output that states a number of the first update states the same one.

A corpus of small networks uses every option between them: each activation and loss, both
reductions, online, mini-batch (shuffled) and batch updates, momentum with ``previous_update``,
weight decay, hand-rounded hidden outputs at exact halves, fixed biases, the sequential order and
``--example P``.  For each, ``derive gradients --json`` is the reference row (anchored outside
derive by central differences of a NumPy forward pass, tests/textbook_forward.py), and every other
output is compared with it: the solutions, the web worksheet's embedded data, the Moodle quiz, the
grader, ``derive train``, the Python API and the generated module.  Floats agree within 1e-12
relative; a number printed to 9 decimals agrees to within half a unit of its last place.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from derive import load
from derive.app.cli import main
from derive.training import descent as training
from tests import textbook_forward as textbook
from tests.consistency_corpus import CORPUS

RELATIVE = 1e-12  # two computations of one number: 40 digits against floats
ZERO = 1e-15  # below it a value is zero, whatever its relative error
ANCHOR = 1e-6  # derive against central differences
SHOWN = 9  # the decimals the solutions print


NAMES = list(CORPUS)
DOCUMENTED = [name for name in NAMES if CORPUS[name].example is None] + [
    pytest.param(name, id=f"{name}-example-{CORPUS[name].example}") for name in NAMES if CORPUS[name].example
]
SEQUENTIAL = [name for name in NAMES if CORPUS[name].update == "sequential"]


# -- running derive -----------------------------------------------------------------------------


FOLDER: list[Path] = []  # the module's folder, from pytest's temporary folders


@pytest.fixture(scope="module", autouse=True)
def corpus_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The corpus's files, written once for the whole module; what derive writes goes there too."""
    made = tmp_path_factory.mktemp("consistency")
    for name, case in CORPUS.items():
        (made / f"{name}.toml").write_text(case.toml, encoding="utf-8")
    FOLDER[:] = [made]


def folder() -> Path:
    return FOLDER[0]


def network_file(name: str) -> str:
    return str(folder() / f"{name}.toml")


@cache
def derive_prints(*args: str) -> str:
    """What ``derive ARGS`` prints, run in this process through the command line's ``main``."""
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        status = main(list(args))
    assert status == 0, f"derive {' '.join(args)} exited {status}: {errors.getvalue()}"
    return printed.getvalue()


def book(name: str) -> textbook.Textbook:
    return textbook.Textbook(tomllib.loads(CORPUS[name].toml))


# -- the reference row --------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """``gradients --json`` of one update, by step key, with the pass after the step added."""

    values: dict[str, float]
    document: dict[str, Any]
    book: textbook.Textbook  # the update's own network: its parameters and its batch only

    @property
    def gradients(self) -> dict[str, float]:
        return self.document["gradients"]

    @property
    def updated(self) -> dict[str, float]:
        return self.document["updated"]

    @property
    def batch(self) -> list[int]:
        """The file's examples (1-based) the update used."""
        return self.document.get("examples", list(range(1, len(self.book.examples) + 1)))


def row_from(document: dict[str, Any], update_book: textbook.Textbook) -> Row:
    """Every number of the document by its step key; E_total⁺ and the pass after the step come from
    the textbook forward pass at the document's updated parameters."""
    multi = len(document["forward"]) > 1
    values: dict[str, float] = {}
    for p, forward in enumerate(document["forward"], 1):
        for key, value in forward.items():
            if multi or key != "E_total":
                values[f"{key}@{p}" if multi else key] = value
    values["E_total"] = document["loss"]
    values |= {f"dE/d{name}": value for name, value in document["gradients"].items()}
    values |= {f"{name}+": value for name, value in document["updated"].items()}
    values |= textbook.forward_values(update_book, document["updated"], suffix="+")
    return Row(values, document, update_book)


def batch_book(name: str, batch: list[int], params: Mapping[str, float], previous: Mapping[str, float]) -> dict:
    """The network file of one update: its parameters, its examples only, the Δθ before it."""
    data = tomllib.loads(CORPUS[name].toml)
    for key in ("batch_size", "shuffle", "previous_update"):
        data.pop(key, None)
    data["examples"] = [data["examples"][p - 1] for p in batch]
    w, b = 1, 1
    for layer in data["layers"]:
        rows, columns = len(layer["weights"]), len(layer["weights"][0])
        layer["weights"] = [[params[f"w{w + j * columns + k}"] for k in range(columns)] for j in range(rows)]
        w += rows * columns
        if isinstance(layer["bias"], list):
            layer["bias"] = [params[f"b{b + j}"] for j in range(rows)]
            b += rows
        else:
            layer["bias"] = params[f"b{b}"]
            b += 1
    moved = {name: value for name, value in previous.items() if value}
    if moved:
        data["previous_update"] = moved
    return data


@cache
def reference(name: str, update: int = 1) -> Row:
    """The reference row of update ``update``: ``gradients --json`` on the network, and for a later
    update on the network that update sees, built from the rows before it (its parameters, its
    batch in file order, the Δθ before it)."""
    if update == 1:
        document = json.loads(derive_prints("gradients", network_file(name), "--json"))
        whole = book(name).data
        batch = document.get("examples", range(1, len(whole["examples"]) + 1))
        return row_from(
            document, textbook.Textbook(dict(whole) | {"examples": [whole["examples"][p - 1] for p in batch]})
        )
    assert "shuffle" not in book(name).data, "a later update's batch is taken in file order"
    before = reference(name, update - 1)
    size = book(name).option("batch_size", len(book(name).examples))
    batch = list(range((update - 1) * size + 1, min(update * size, len(book(name).examples)) + 1))
    data = batch_book(name, batch, before.updated, before.document.get("changes", {}))
    path = folder() / f"{name}-update-{update}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    document = json.loads(derive_prints("gradients", str(path), "--json")) | {"examples": batch}
    return row_from(document, textbook.Textbook(data))


def documented(name: str) -> tuple[Row, list[str]]:
    """The row the documents work, and the options that choose it (``--example P``)."""
    example = CORPUS[name].example
    if example is None:
        return reference(name), []
    size = book(name).option("batch_size", len(book(name).examples))
    return reference(name, (example - 1) // size + 1), ["--example", str(example)]


# -- comparing ----------------------------------------------------------------------------------


def disagreements(
    stated: Mapping[str, float], row: Mapping[str, float], *, decimals: int | None = None
) -> dict[str, tuple[float, float]]:
    """The keys both give whose numbers differ: beyond 1e-12 relative, or beyond half a unit of the
    last printed decimal when ``decimals`` says the output rounds there.  (stated, reference) each."""
    wrong = {}
    for key in stated.keys() & row.keys():
        mine, theirs = stated[key], row[key]
        if decimals is None:
            allowed = max(RELATIVE * max(abs(mine), abs(theirs)), ZERO)
        else:
            allowed = 0.5 * 10.0**-decimals * (1 + 1e-9) + RELATIVE * abs(theirs)
        if not abs(mine - theirs) <= allowed:
            wrong[key] = (mine, theirs)
    return dict(sorted(wrong.items()))


EVERY = ("E_total", "gradients", "updates")


def required(row: Row, what: tuple[str, ...] = EVERY) -> set[str]:
    """What an output of the update states: E_total, every gradient, every trained θ⁺ (or some of them)."""
    trained = [name for name in row.gradients if row.book.trained(name)]
    keys = {"E_total"} if "E_total" in what else set()
    keys |= {f"dE/d{name}" for name in row.gradients} if "gradients" in what else set()
    return keys | ({f"{name}+" for name in trained} if "updates" in what else set())


def assert_states_the_row(
    stated: Mapping[str, float],
    row: Row,
    *,
    decimals: int | None = None,
    what: tuple[str, ...] = EVERY,
    among: set[str] | None = None,
) -> None:
    """The output states every number ``what`` names (of those ``among`` its steps), and each number it
    shares with the row is the row's."""
    needed = required(row, what) if among is None else required(row, what) & among
    missing = sorted(needed - stated.keys())
    assert not missing, f"states no number for {missing}"
    wrong = disagreements(stated, row.values, decimals=decimals)
    assert not wrong, "stated ≠ reference:\n" + "\n".join(f"  {k}: {a!r} ≠ {b!r}" for k, (a, b) in wrong.items())


def keys_of(name: str, options: list[str]) -> list[dict[str, Any]]:
    return json.loads(derive_prints("keys", network_file(name), "--json", *options))


# -- the reference row, anchored outside derive ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradients_json_is_the_textbook_forward_pass_and_its_central_differences(name):
    rows = [reference(name)] + ([documented(name)[0]] if CORPUS[name].example else [])
    for row in rows:
        params = row.book.parameters()
        forward = textbook.forward_values(row.book, params)
        assert not disagreements(row.values, forward), disagreements(row.values, forward)
        slopes = textbook.gradients(row.book, params)
        assert row.gradients == pytest.approx(slopes, rel=ANCHOR, abs=1e-10)
        updated, changes = textbook.update(row.book, params, slopes)
        assert row.updated == pytest.approx(updated, rel=ANCHOR, abs=1e-10)
        if row.book.option("momentum", 0):
            assert row.document["changes"] == pytest.approx(changes, rel=ANCHOR, abs=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_error_signals_of_the_steps_are_the_central_differences_of_the_textbook_pass(name):
    row = reference(name)
    stated = {step.key: float(step.value) for step in load(network_file(name)).steps()}
    signals = textbook.error_signals(row.book, row.book.parameters())
    compared = stated.keys() & signals.keys()
    assert {key for key in compared if key.startswith("delta_")}, "no δ compared"
    assert {k: stated[k] for k in compared} == pytest.approx({k: signals[k] for k in compared}, rel=ANCHOR, abs=1e-10)


# -- every output against the reference row --------------------------------------------------------


def solutions(name: str, options: list[str]) -> dict[str, float]:
    """The boxed answers of solutions.tex, by the key of their blank number."""
    out = folder() / f"{name}-worksheet{''.join(options)}"
    derive_prints("worksheet", network_file(name), "-o", str(out), *options)
    text = (out / "solutions.tex").read_text(encoding="utf-8")
    # an answer is tagged with its blank in the margin, or, in the table of updates, numbered in its last column
    tagged = r"\\answer\{([^{}]*)\}(?:\\;\\text\{\(\*\)\})?(?:\s*\\blanktag\{(\d+)\}|\$\s*&\s*\\small\((\d+)\))"
    answers = [(value, int(tag or row)) for value, tag, row in re.findall(tagged, text)]
    blanks = {row["blank"]: row["key"] for row in keys_of(name, options) if row["blank"] is not None}
    assert sorted(blank for _, blank in answers) == sorted(blanks), "every blank has one boxed answer"
    return {blanks[blank]: float(value) for value, blank in answers}


@pytest.mark.parametrize("name", DOCUMENTED)
def test_solutions_box_the_reference_values_to_their_nine_decimals(name):
    row, options = documented(name)
    blanks = {entry["key"] for entry in keys_of(name, options) if entry["blank"] is not None}
    # E_total of one example with one output only repeats E_o1: no blank, nothing boxed
    assert_states_the_row(solutions(name, options), row, decimals=SHOWN, among=blanks)


def page_data(name: str, options: list[str]) -> dict[str, Any]:
    path = folder() / f"{name}-page{''.join(options)}.html"
    derive_prints("html", network_file(name), "--worksheet", "-o", str(path), *options)
    found = re.search(
        r'<script type="application/json" id="derive-checking">(.*?)</script>', path.read_text("utf-8"), re.S
    )
    assert found, "the page embeds its checker's data"
    return json.loads(found.group(1))


@pytest.mark.parametrize("name", DOCUMENTED)
def test_web_worksheet_checks_against_the_reference_values(name):
    row, options = documented(name)
    data = page_data(name, options)
    assert_states_the_row({step["key"]: float(step["exact"]) for step in data["steps"]}, row)
    values = data["values"]
    assert_states_the_row({step["key"]: float(values[step["symbol"]]) for step in data["steps"]}, row)


@pytest.mark.parametrize("name", NAMES)
def test_moodle_quiz_answers_are_the_reference_values(name):
    row = reference(name)
    trained = [name for name in row.gradients if row.book.trained(name)]
    asked = ["E_total", *(f"dE/d{n}" for n in row.gradients), *(f"{n}+" for n in trained), "E_total+"]
    xml = derive_prints("quiz", network_file(name), "--format", "moodle", "--ask", ",".join(asked))
    question = next(q for q in ET.fromstring(xml).iter("question") if q.get("type") == "cloze")
    text = question.find("questiontext/text").text
    answers = re.findall(r"\{\d+:NUMERICAL:=([^:}]+):([^}]+)\}", text)
    assert len(answers) == len(asked)
    assert_states_the_row({key: float(answer) for key, (answer, _) in zip(asked, answers, strict=True)}, row)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_check_grades_an_answer_sheet_of_the_reference_values_all_correct(name):
    row, options = documented(name)
    keys = [entry["key"] for entry in keys_of(name, options)]
    sheet = {key: row.values[key] for key in keys if key in row.values}
    assert required(row) <= sheet.keys()
    path = folder() / f"{name}-answers{''.join(options)}.json"
    path.write_text(json.dumps(sheet), encoding="utf-8")
    report = json.loads(derive_prints("check", str(path), network_file(name), "--json", *options))
    graded = {step["key"]: step for step in report["steps"] if step["key"] in sheet}
    refused = {key: (step["given"], step["expected"], step["verdict"]) for key, step in graded.items()}
    refused = {key: seen for key, seen in refused.items() if seen[2] != "correct"}
    assert graded.keys() == sheet.keys() and not refused, refused


def loss_over_every_example(name: str, params: Mapping[str, float]) -> float:
    """E_total over all the file's examples, as training reports it, by the textbook pass (rounding by hand)."""
    whole = book(name)
    errors = [
        textbook.example_errors(whole, p, textbook.feed(whole, dict(params), p)).sum()
        for p in range(len(whole.examples))
    ]
    return textbook.total(whole, errors)


# E_total over every example of the file (what training reports), before the first update and after it
EVERY_BEFORE, EVERY_AFTER = "E_total over every example", "E_total+ over every example"


def with_training_losses(name: str) -> Row:
    """The reference row of the first update, with E_total over every example before and after it."""
    row = reference(name)
    losses = {
        EVERY_BEFORE: loss_over_every_example(name, book(name).parameters()),
        EVERY_AFTER: loss_over_every_example(name, row.updated),
    }
    return Row(row.values | losses, row.document, row.book)


@pytest.mark.parametrize("name", NAMES)
def test_train_one_step_lands_on_the_reference_update(name):
    row = with_training_losses(name)
    run = json.loads(derive_prints("train", network_file(name), "--steps", "1", "--json"))
    stated = {f"{n}+": value for n, value in run["parameters"].items()}
    assert_states_the_row(
        stated | dict(zip([EVERY_BEFORE, EVERY_AFTER], run["loss"], strict=True)), row, what=("updates",)
    )


@pytest.mark.parametrize("matrices", [False, True], ids=["floats", "matrices"])
@pytest.mark.parametrize("name", NAMES)
def test_both_training_engines_take_the_reference_first_update(name, matrices):
    row = with_training_losses(name)
    run = training.train(load(network_file(name)).spec, 1, matrices=matrices)
    stated = {f"{n}+": float(value) for n, value in run.spec.parameters().items()}
    assert_states_the_row(
        stated | dict(zip([EVERY_BEFORE, EVERY_AFTER], run.history, strict=True)), row, what=("updates",)
    )


@pytest.mark.parametrize("name", NAMES)
def test_network_api_states_the_reference_values(name):
    row = with_training_losses(name)
    network = load(network_file(name))
    assert_states_the_row({step.key: float(step.value) for step in network.steps()}, row)
    stated = {f"dE/d{n}": g.value for n, g in network.gradients().items()}
    stated |= {f"{n}+": value for n, value in network.step().parameters().items()}
    forward = network.forward()
    for p, example in enumerate(row.batch, 1):
        at = f"@{p}" if len(row.batch) > 1 else ""
        stated |= {f"{key}{at}": value for key, value in forward[example - 1].items() if at or key != "E_total"}
    assert_states_the_row(stated | {EVERY_BEFORE: network.loss()}, row, what=("gradients", "updates"))


@pytest.mark.parametrize("name", [name for name in NAMES if CORPUS[name].example])
def test_network_api_update_derivation_is_the_reference_of_that_update(name):
    row, _ = documented(name)
    size = book(name).option("batch_size", len(book(name).examples))
    derivation = load(network_file(name)).update_derivation((CORPUS[name].example - 1) // size + 1)
    stated = {f"dE/d{n}": g.value for n, g in derivation.gradients.items()}
    stated |= {f"{n}+": float(value) for n, value in derivation.updated.items()}
    assert_states_the_row(stated | {"E_total": float(derivation.loss)}, row)


def generated_module(name: str) -> dict[str, Any]:
    """The module ``derive code`` prints, run."""
    namespace: dict[str, Any] = {"__name__": f"derive_code_{name}"}
    exec(compile(derive_prints("code", network_file(name)), f"<derive code {name}>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", NAMES)
def test_generated_code_computes_the_reference_values(name):
    row = with_training_losses(name)
    module = generated_module(name)
    examples = [tuple(module["EXAMPLES"][p - 1]) for p in row.batch]  # the first update's batch
    loss, gradients = module["loss_and_gradients"](None, examples)
    stepped = module["step"](None, examples)
    parameters = stepped[0] if isinstance(stepped, tuple) else stepped  # with momentum: (θ⁺, Δθ)
    stated = {"E_total": loss} | {f"dE/d{n}": g for n, g in gradients.items()}
    stated |= {f"{n}+": value for n, value in parameters.items()}
    if "train" in module:  # an epoch of updates, as derive train runs them: its first two losses
        _, history = module["train"](1)
        stated |= dict(zip([EVERY_BEFORE, EVERY_AFTER], history[:2], strict=True))
    assert_states_the_row(stated, row)


# -- the sequential order -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_sequential_update_is_the_same_in_train_the_api_and_the_textbook(name):
    whole = book(name)
    expected = textbook.sequential_update(whole, whole.parameters())
    run = json.loads(derive_prints("train", network_file(name), "--steps", "1", "--update", "sequential", "--json"))
    network = load(network_file(name))
    stepped = network.step(update="sequential").parameters()
    derived = {n: float(v) for n, v in network.update_derivation(1, update="sequential").updated.items()}
    assert run["parameters"] == pytest.approx(expected, rel=ANCHOR, abs=1e-10)
    assert not disagreements(run["parameters"], stepped)
    assert not disagreements(derived, stepped)
    assert stepped != network.step().parameters()  # the order makes a difference here
