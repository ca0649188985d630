"""The command line as users call it, reading the values it prints (text and JSON).

Every value read is checked against the NumPy reference (tests/reference_training.py), autograd
or sympy.diff at 50 digits, never against another of derive's outputs.
"""

from __future__ import annotations

import ast
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import tomllib
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import mpmath
import pytest

from derive import example
from derive.spec.variants import variant
from tests import reference_training as reference
from tests.conftest import ROOT, source_environment
from tests.conftest import run_derive as run_in_process
from tests.reference import autograd_gradients, sympy_gradients
from tests.test_codegen import load


def run_derive(*args: str, **options) -> subprocess.CompletedProcess[str]:
    """This file's commands each run in a process of their own, as a user starts them (``python -m derive``)."""
    return run_in_process(*args, fresh=True, **options)


NAMES = ["deep", "mazur", "softmax", "xor"]


def nine(value: float) -> str:
    """Nine decimals, trailing zeros dropped: the documents' convention, written here on its own."""
    return f"{value:.9f}".rstrip("0").rstrip(".")


def table(text: str, header: str) -> list[list[str]]:
    """The rows of the aligned table whose header line starts with ``header`` (cells split at 2+ spaces)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def in_math(number: str, language: str) -> str:
    """A number as the language writes it in LaTeX mathematics: 0.5933, or with a decimal comma 0{,}5933."""
    return number.replace(".", "{,}") if language == "es" else number


def assert_shown(cell: str, value: float, decimals: int = 9) -> None:
    """A number printed to ``decimals`` places is ``value`` to within half a unit of its last place."""
    assert abs(float(cell) - value) <= 0.5 * 10**-decimals * (1 + 1e-9), (cell, value)


# -- derive code ----------------------------------------------------------------------------------


def test_code_prints_a_module_and_writes_it_with_o(tmp_path):
    printed = run_derive("code", "softmax").stdout
    result = run_derive("code", "softmax", "-o", "softmax_backprop.py", cwd=tmp_path)
    assert result.stdout == "" and result.stderr == "wrote softmax_backprop.py\n"
    written = (tmp_path / "softmax_backprop.py").read_text(encoding="utf-8")
    assert written == printed
    loss, gradients = load(written, tmp_path).loss_and_gradients()
    expected = autograd_gradients(example("softmax").spec)
    assert loss == pytest.approx(reference.total_loss(reference.from_spec(example("softmax").spec)), rel=1e-12)
    assert gradients == pytest.approx(expected, rel=1e-9, abs=1e-15)


# -- derive example -------------------------------------------------------------------------------


def test_example_list():
    every = sorted([*NAMES, "cnn", "rnn"])  # cnn and rnn: tests/test_conv.py and tests/test_recurrent.py
    assert run_derive("example", "--list").stdout == "\n".join(every) + "\n"


@pytest.mark.parametrize("name", NAMES)
def test_each_example_prints_a_network_to_copy_and_edit(name, tmp_path):
    text = run_derive("example", name).stdout
    assert text.startswith("# ")  # it explains itself in comments
    data = tomllib.loads(text)
    assert {"layers", "examples", "loss", "learning_rate"} <= set(data)
    (tmp_path / f"my_{name}.toml").write_text(text, encoding="utf-8")
    document = json.loads(run_derive("gradients", f"my_{name}.toml", "--json", cwd=tmp_path).stdout)
    assert document["network"] == f"my_{name}"
    assert document["gradients"] == pytest.approx(autograd_gradients(example(name).spec), rel=1e-9, abs=1e-15)


def test_example_without_a_name_is_the_worked_example():
    assert run_derive("example").stdout == run_derive("example", "mazur").stdout
    result = run_derive("example", "mazr", check=False)
    assert result.returncode == 2 and "did you mean 'mazur'?" in result.stderr


# -- derive gradients: the text tables and --digits -----------------------------------------------


@pytest.mark.parametrize("name", ["mazur", "deep"])
def test_gradients_text_tables_hold_the_reference_values(name):
    text = run_derive("gradients", name).stdout
    spec = example(name).spec
    values = reference.quantities(spec)
    multi = len(spec.examples) > 1
    for p in range(len(spec.examples)):
        title = f"Forward pass, example {p + 1}" if multi else "Forward pass"
        section = text[text.index(title) :]
        at = f"@{p + 1}" if multi else ""
        for neuron, net, out in table(section, "neuron"):
            assert_shown(net, values[f"net_{neuron}{at}"])
            assert_shown(out, values[f"out_{neuron}{at}"])
        for error, value in table(section, "error"):
            key = f"E_total@{p + 1}" if error.startswith("E^(") else f"{error}{at}"
            assert_shown(value, values[key])
    (total,) = re.findall(r"^E_total = (\S+)$", text, re.MULTILINE)
    assert_shown(total, values["E_total"])
    rows = table(text, "parameter")
    parameters = example(name).parameters()
    assert [row[0] for row in rows] == list(parameters)
    for parameter, value, gradient, updated, *note in rows:
        assert_shown(value, parameters[parameter])
        assert_shown(gradient, values[f"dE/d{parameter}"])
        assert_shown(updated, values[f"{parameter}+"])
        assert note == (["fixed"] if parameter.startswith("b") and not spec.train_biases else [])


def rounded(value: mpmath.mpf, decimals: int) -> str:
    """``value`` to ``decimals`` places, half to even, trailing zeros dropped: with Python's decimal module."""
    with mpmath.workdps(60):
        text = mpmath.nstr(value, 55, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    with localcontext(prec=80):
        shown = format(Decimal(text).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN), "f")
    shown = shown.rstrip("0").rstrip(".") if "." in shown else shown
    return "0" if shown == "-0" else shown


@pytest.mark.parametrize("digits", [0, 3, 12, 30])
def test_digits_shows_that_many_decimals(digits):
    """Beyond a float's 17 digits too: the 40-digit values, against sympy.diff at 50 digits."""
    rows = {row[0]: row for row in table(run_derive("gradients", "--digits", str(digits)).stdout, "parameter")}
    exact = sympy_gradients(example().spec)
    for parameter, value in exact.items():
        assert rows[parameter][2] == rounded(value, digits), parameter


def test_digits_in_the_explanation():
    text = run_derive("explain", "--digits", "4").stdout
    assert r"\delta_{o1} \cdot \mathrm{out}_{h1} = 0.1385 \cdot 0.5933 = 0.0822" in text
    assert "0.082167041" not in text
    spanish = run_derive("explain", "--digits", "12", "--lang", "es").stdout
    w5 = rounded(sympy_gradients(example().spec)["w5"], 12)
    assert w5 == "0.082167040564" and f"= {w5.replace('.', '{,}')}" in spanish  # with a decimal comma


# -- derive train ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "update", "steps"), [("mazur", "simultaneous", 2000), ("deep", "sequential", 300)])
def test_train_text_output(name, update, steps):
    args = ["train", name, "--steps", str(steps)] + (["--update", update] if update != "simultaneous" else [])
    text = run_derive(*args).stdout
    spec = example(name).spec
    history, trained = reference.train(reference.from_spec(spec), steps, update)
    rate = nine(float(spec.learning_rate))
    assert f"Training: {steps} steps, {update} updates, learning rate {rate}" in text
    rows = table(text, "step")
    assert [int(step) for step, _ in rows][:6] == [0, 1, 2, 3, 4, 5] and int(rows[-1][0]) == steps
    for step, error in rows:
        assert_shown(error, history[int(step)])
    ratio = history[0] / history[-1]
    fell = re.search(r"E_total fell from (\S+) to (\S+) \((\S+) times lower\)\.", text)
    assert fell is not None and float(fell[3].replace(",", "")) == pytest.approx(ratio, rel=0.05)
    assert_shown(fell[1], history[0])
    assert_shown(fell[2], history[-1])
    outputs = table(text, "example")
    for number, neuron, out, target in outputs:
        p = int(number) - 1
        j = int(neuron.removeprefix("o")) - 1
        passed = reference.forward(trained, *trained.examples[p])
        assert_shown(out, passed.outs[-1][j])
        assert_shown(target, trained.examples[p][1][j])


def test_train_says_when_the_error_rose(tmp_path):
    (tmp_path / "overshoot.toml").write_text(
        'learning_rate = 3\n[[layers]]\nname = "o"\nactivation = "linear"\nweights = [[2.0]]\nbias = 0.0\n'
        "[[examples]]\ninputs = [1.0]\ntargets = [1.0]\n"
    )
    text = run_derive("train", "overshoot.toml", "--steps", "1", cwd=tmp_path).stdout
    # w⁺ = 2 − 3·(2 − 1)·1 = −1 and b⁺ = 0 − 3·(2 − 1) = −3: E goes from ½(2 − 1)² = 0.5 to ½(−4 − 1)² = 12.5
    assert "E_total rose from 0.5 to 12.5.\n" in text and "fell" not in text


def test_train_zero_steps():
    text = run_derive("train", "--steps", "0").stdout
    loss = reference.total_loss(reference.from_spec(example().spec))
    assert table(text, "step") == [["0", nine(loss)]] and "fell" not in text
    document = json.loads(run_derive("train", "--steps", "0", "--json").stdout)
    assert document["loss"] == [pytest.approx(loss, rel=1e-15)]
    assert document["parameters"] == example().parameters()
    outputs = reference.forward(reference.from_spec(example().spec), *reference.from_spec(example().spec).examples[0])
    assert document["outputs"] == [pytest.approx(list(outputs.outs[-1]), rel=1e-15)]


def test_train_json_sequential_deep():
    document = json.loads(run_derive("train", "deep", "--steps", "50", "--update", "sequential", "--json").stdout)
    history, trained = reference.train(reference.from_spec(example("deep").spec), 50, "sequential")
    assert document["loss"] == pytest.approx(history, rel=1e-12)
    assert document["parameters"] == pytest.approx(trained.parameters(), rel=1e-12)


# -- the terminal: progress bar, broken pipe, Ctrl-C -----------------------------------------------


def read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    """What a terminal shows on ``fd`` until ``wanted`` appears or the time runs out."""
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def derive_on_a_terminal(*args: str) -> tuple[subprocess.Popen, int]:
    """``derive ARGS`` with its stderr on a pseudo-terminal (as in a shell) and its stdout on a pipe."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "derive", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=ROOT,
        env=source_environment(),
        # as a shell's foreground job gets it: Python turns SIGINT into KeyboardInterrupt only when its
        # parent did not ignore the signal, and a test run started in the background ignores it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(follower)
    return process, leader


def test_a_long_run_on_a_terminal_shows_a_progress_bar():
    process, terminal = derive_on_a_terminal("train", "--steps", "100000")
    try:
        shown = read_until(terminal, b"100,000/100,000 steps", 300)
        stdout, _ = process.communicate(timeout=300)
        shown += read_until(terminal, b"\r" + b" " * 72 + b"\r", 10)
    finally:
        os.close(terminal)
    assert process.returncode == 0
    text = shown.decode()
    assert "\rtraining [" in text and "] 100,000/100,000 steps" in text
    assert "[" + "#" * 30 + "]" in text  # full at the end
    assert text.endswith("\r" + " " * 72 + "\r")  # and wiped, leaving the terminal clean
    assert b"Training: 100000 steps" in stdout
    piped = run_derive("train", "--steps", "100000")
    assert piped.stderr == ""  # no bar where stderr is not a terminal


def test_ctrl_c_stops_a_long_training_cleanly():
    process, terminal = derive_on_a_terminal("train", "--steps", "10000000")
    try:
        started = read_until(terminal, b"training [", 300)
        assert b"training [" in started, started
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=120)
        shown = read_until(terminal, b"interrupted\r\n", 10)
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert shown.decode().endswith("derive: interrupted\r\n") and b"Traceback" not in shown
    assert stdout == b""


@pytest.mark.parametrize(
    ("args", "first"), [(["train", "--steps", "20000", "--json"], "{"), (["explain", "deep"], "# Backpropagation")]
)
def test_a_closed_pipe_ends_quietly(args, first):
    """``derive … | head -1``: derive stops without a traceback and exits 0, as Unix tools do."""
    command = " ".join([sys.executable, "-m", "derive", *args]) + ' | head -1; echo "status ${PIPESTATUS[0]}"'
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=300, env=source_environment()
    )
    line, status = result.stdout.splitlines()
    assert line.startswith(first) and status == "status 0" and result.stderr == ""


# -- files: the default output/ folder -----------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "es"])
def test_worksheet_writes_to_output_by_default(language, tmp_path):
    result = run_derive("worksheet", "--lang", language, cwd=tmp_path)
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == ["wrote output/solutions.tex", "wrote output/worksheet.tex"]
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["solutions.tex", "worksheet.tex"]
    solutions = (tmp_path / "output" / "solutions.tex").read_text(encoding="utf-8")
    for parameter, value in autograd_gradients(example().spec).items():
        assert in_math(nine(value), language) in solutions, parameter
    assert ("Soluciones" if language == "es" else "Solutions") in solutions


# -- --only b1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "heading"), [("en", "The gradient of"), ("es", "El gradiente de")])
def test_only_a_bias(language, heading):
    text = run_derive("explain", "--only", "b1", "--lang", language).stdout
    assert re.findall(rf"^#+ {heading} \$(\w)_\{{(\d+)\}}\$", text, re.MULTILINE) == [("b", "1")]
    gradient = autograd_gradients(example().spec)["b1"]
    start = re.escape(r"\frac{\partial E_{\text{total}}}{\partial b_{1}} = ")
    assert re.search(start + r".* = " + re.escape(in_math(nine(gradient), language)) + r"\$?$", text, re.MULTILINE)
    keys = {row["key"] for row in json.loads(run_derive("keys", "--only", "b1", "--json").stdout)}
    assert "dE/db1" in keys and not any(key.startswith("dE/dw") for key in keys)


# -- variants ---------------------------------------------------------------------------------------


def two_decimals(value: float, low: float, high: float) -> bool:
    return low <= value <= high and abs(value * 100 - round(value * 100)) < 1e-9


@pytest.mark.parametrize("name", NAMES)
def test_variants_stay_in_their_ranges(name):
    """Weights, biases and inputs from 0.05 to 0.95, targets from 0.01 to 0.99, two decimals; one-hot for softmax."""
    spec = example(name).spec
    one_hot = spec.layers[-1].activation == "softmax"
    winners = set()
    for seed in range(3):
        for number in range(1, 41):
            student = variant(spec, seed, number)
            assert all(two_decimals(float(v), 0.05, 0.95) for v in student.parameters().values())
            for case in student.examples:
                assert all(two_decimals(float(x), 0.05, 0.95) for x in case.inputs)
                if one_hot:
                    assert sorted(case.targets) == [0] * (len(case.targets) - 1) + [1]
                    winners.add(case.targets.index(1))
                else:
                    assert all(two_decimals(float(t), 0.01, 0.99) for t in case.targets)
    assert not one_hot or winners == set(range(spec.n_outputs))  # every class is drawn


@pytest.mark.parametrize("name", ["mazur", "softmax"])
def test_a_variant_on_the_command_line(name):
    """`derive code --variant K --seed S` writes student K's numbers, in their ranges."""
    source = run_derive("code", name, "--variant", "7", "--seed", "3").stdout
    tree = ast.parse(source)
    values = {
        node.target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None
    }
    assert all(two_decimals(v, 0.05, 0.95) for v in values["PARAMETERS"].values())
    for inputs, targets in values["EXAMPLES"]:
        assert all(two_decimals(x, 0.05, 0.95) for x in inputs)
        if name == "softmax":
            assert sorted(targets) == [0.0, 0.0, 1.0]
        else:
            assert all(two_decimals(t, 0.01, 0.99) for t in targets)
    assert values["PARAMETERS"] == {k: float(v) for k, v in variant(example(name).spec, 3, 7).parameters().items()}


@pytest.mark.parametrize("name", ["mazur", "softmax"])
def test_answers_match_each_variant(name, tmp_path):
    """Every row of answers.tex, for every student, is the reference's value of that blank's step."""
    run_derive("worksheet", name, "--variants", "3", "--seed", "11", "-o", str(tmp_path))
    answers = (tmp_path / "answers.tex").read_text(encoding="utf-8")
    rows = {int(m[1]): m[2].split(" & ")[1:] for m in re.finditer(r"^(\d+) & (.*?) \\\\$", answers, re.MULTILINE)}
    assert len(rows) >= 10
    steps = example(name).steps()
    for student in (1, 2, 3):
        values = reference.quantities(variant(example(name).spec, 11, student))
        for blank, cells in rows.items():
            assert_shown(cells[student - 1], values[steps.find(str(blank)).key])
    worksheet = (tmp_path / "worksheet-02.tex").read_text(encoding="utf-8")
    student = variant(example(name).spec, 11, 2)
    assert all(nine(float(v)) in worksheet for v in student.parameters().values())
