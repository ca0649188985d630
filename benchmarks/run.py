"""derive's speed in one run: derivation growth, the naive sympy.diff, training, JSON, PDFs, start-up.

    python benchmarks/run.py [--budget SECONDS] [--repeats N] [--startup-runs N] [--no-pdfs]

Prints one table: all gradients (with their chains and values) of networks of about 100, 1,000
and 5,000 weights and how the time grows; sympy.diff of the composed loss for each weight beside
them while it finishes within the budget; ``Network.train`` at 300 and 10,000 updates against a
hand-written NumPy loop at 8 to 5,000 weights, and the path it chose against the other; ``derive
train`` as a whole process against a script running the loop; ``gradients --json`` against the
text table; peak memory at the parameter limit; grading a class of 1,000; a class's 200 worksheets
with their PDFs; and command start-up against ``python -c "import sympy, jinja2"``.  Every figure
comes from this run on this machine, and the fast results are checked against the slow ones before
they are timed.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's derive, installed or not

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

from derive.app.network import Network, example  # noqa: E402
from derive.core.chain import Derivation  # noqa: E402
from derive.core.graph import Graph  # noqa: E402
from derive.core.numbers import PRECISION  # noqa: E402
from derive.publishing.latex import available_cores  # noqa: E402
from derive.spec.model import NetworkSpec  # noqa: E402
from derive.training import descent as training  # noqa: E402
from derive.training.compiled import clear_cache  # noqa: E402

WORKED_EXAMPLE = "worked example"
# inputs → hidden → hidden → outputs, all sigmoid: 100, 1,000 and 5,000 weights exactly
SHAPES = [(10, 5, 5, 5), (15, 20, 20, 15), (25, 50, 50, 25)]
# a smaller one where the naive approach surely finishes, to show the speed-up
NAIVE_ONLY = [(3, 3, 3, 3)]
GROWTH = ((15, 20, 20, 15), (25, 50, 50, 25))
TRAIN_STEPS = 10_000
SHORT_STEPS = 300  # what users run most: 100 to 1,000 updates
# train: sigmoid layers, 4 examples, one bias per neuron, as the NumPy loop has them (8 to 5,000 weights)
TRAIN_SHAPES = [(2, 2, 2), (10, 5, 5, 5), (15, 20, 20, 15), (25, 50, 50, 25)]
TRAIN_EXAMPLES = 4
JSON_SHAPE = (25, 50, 50, 25)
# at the 50,000-parameter limit: 100·160 + 160·150 + 150·60 = 49,000 weights and 370 biases
LIMIT_SHAPE = (100, 160, 150, 60)
CLASS_VARIANTS = 200
CLASS_STUDENTS = 1_000
PROCESS_SHAPE = (25, 50, 50, 25)  # derive train as a whole process
HEADER = ["measure", "network", "weights", "derive", "compared with", "its time", "ratio", "target"]


# ---------------------------------------------------------------------------------------------
# Networks


def network(shape: Sequence[int], seed: int = 1, examples: int = 1, per_neuron: bool = False) -> Network:
    """A sigmoid network of the given layer sizes, with two-decimal weights and data from ``seed``.

    One bias shared by each layer, or with ``per_neuron`` one bias per neuron.
    """
    return Network.from_dict(network_data(shape, seed, examples, per_neuron), name=label(shape))


def network_data(shape: Sequence[int], seed: int = 1, examples: int = 1, per_neuron: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    draw = lambda low, high: round(rng.uniform(low, high), 2)  # noqa: E731
    layers = []
    for index, (fan_in, size) in enumerate(itertools.pairwise(shape)):
        last = index == len(shape) - 2
        layers.append(
            {
                "name": "o" if last else f"h{'abcdefgh'[index]}",
                "activation": "sigmoid",
                "weights": [[draw(-1, 1) for _ in range(fan_in)] for _ in range(size)],
                "bias": [draw(-0.5, 0.5) for _ in range(size)] if per_neuron else draw(-0.5, 0.5),
            }
        )
    data = [
        {"inputs": [draw(0, 1) for _ in range(shape[0])], "targets": [draw(0, 1) for _ in range(shape[-1])]}
        for _ in range(examples)
    ]
    return {"learning_rate": 0.5, "layers": layers, "examples": data}


def label(shape: Sequence[int]) -> str:
    return "-".join(map(str, shape))


def by_label(text: str) -> Network:
    return example() if text == WORKED_EXAMPLE else network([int(n) for n in text.split("-")])


def n_weights(spec: NetworkSpec) -> int:
    return sum(layer.size * layer.fan_in for layer in spec.layers)


# ---------------------------------------------------------------------------------------------
# What is timed


def best_of(repeats: int, run: Callable[[], Any], setup: Callable[[], Any] | None = None) -> float:
    """The fastest of ``repeats`` runs, in seconds; ``setup`` runs untimed before each."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def cold_caches() -> None:
    """Empty SymPy's cache, so that no run reuses the symbols and expressions of the one before."""
    sp.core.cache.clear_cache()


def all_gradients(spec: NetworkSpec) -> dict[str, mpmath.mpf]:
    """Every gradient with its chain of factors and its value: a whole :class:`Derivation`."""
    derivation = Derivation(spec)
    return {name: gradient.precise for name, gradient in derivation.gradients.items()}


def naive_worker(text: str, budget: float) -> None:
    """The naive approach, in its own process: E_total composed, then sympy.diff by each parameter.

    Prints a JSON line after the composition and after each parameter, so that the parent knows
    how far it got if it has to stop it.  The parameters go in a shuffled order, so that the ones
    done are a fair sample (the first layer's, the deepest, are the dearest) for an estimate.
    """
    spec = by_label(text).spec
    start = time.perf_counter()
    graph = Graph(spec)
    loss = graph.composed_loss
    at = graph.numbers()
    names = list(graph.parameters)
    random.Random(0).shuffle(names)
    composed = time.perf_counter() - start
    print(json.dumps({"composed": composed, "total": len(names)}), flush=True)
    for name in names:
        if time.perf_counter() - start > budget:
            break
        value = sp.diff(loss, graph.parameters[name]).xreplace(at).evalf(PRECISION)
        print(json.dumps({"name": name, "value": str(value), "elapsed": time.perf_counter() - start}), flush=True)


@dataclass
class Naive:
    """How far sympy.diff got: seconds, parameters done of all, and the values it found."""

    seconds: float
    composed: float
    done: int
    total: int
    values: dict[str, str]

    @property
    def finished(self) -> bool:
        return self.done == self.total

    @property
    def estimate(self) -> float:
        """The whole run's time, the parameters still to do at the pace of those done."""
        if not self.done:
            return float("inf")
        return self.composed + (self.seconds - self.composed) * self.total / self.done


def naive_gradients(text: str, budget: float) -> Naive:
    """Run :func:`naive_worker` and stop it once the budget is spent (one derivative can take long)."""
    command = [sys.executable, __file__, "--naive-worker", text, "--budget", str(budget)]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        output, _ = worker.communicate(timeout=budget + 10)  # + its imports
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    head, progress = (lines[0], lines[1:]) if lines else ({"composed": budget, "total": 0}, [])
    seconds = progress[-1]["elapsed"] if progress else max(head["composed"], budget)
    values = {line["name"]: line["value"] for line in progress}
    return Naive(seconds, head["composed"], len(values), head["total"], values)


def agree(naive: Naive, derived: dict[str, mpmath.mpf]) -> bool:
    """The naive values and derive's agree to 25 significant digits."""
    with mpmath.workdps(PRECISION):
        for name, text in naive.values.items():
            value = mpmath.mpf(text)
            if abs(value - derived[name]) > mpmath.mpf("1e-25") * max(abs(value), mpmath.mpf("1e-30")):
                return False
    return True


def numpy_training(steps: int) -> tuple[list[float], float]:
    """The worked example trained by hand in NumPy: 2-2-2 sigmoid, ½Σ(t − out)², biases fixed.

    Simultaneous update: every gradient from one forward pass, then every weight steps.  Returns
    E_total before each step and after the last, as ``Network.train`` does.
    """
    x = np.array([0.05, 0.10])
    t = np.array([0.01, 0.99])
    w_hidden = np.array([[0.15, 0.20], [0.25, 0.30]])
    w_output = np.array([[0.40, 0.45], [0.50, 0.55]])
    b_hidden, b_output, rate = 0.35, 0.60, 0.5
    history = []
    for _ in range(steps):
        hidden = 1.0 / (1.0 + np.exp(-(w_hidden @ x + b_hidden)))
        out = 1.0 / (1.0 + np.exp(-(w_output @ hidden + b_output)))
        history.append(0.5 * float(np.sum((t - out) ** 2)))
        delta_output = -(t - out) * out * (1.0 - out)
        delta_hidden = (w_output.T @ delta_output) * hidden * (1.0 - hidden)
        w_output = w_output - rate * np.outer(delta_output, hidden)
        w_hidden = w_hidden - rate * np.outer(delta_hidden, x)
    hidden = 1.0 / (1.0 + np.exp(-(w_hidden @ x + b_hidden)))
    out = 1.0 / (1.0 + np.exp(-(w_output @ hidden + b_output)))
    return history, 0.5 * float(np.sum((t - out) ** 2))


def numpy_batch_loop(data: dict[str, Any], steps: int) -> tuple[list[float], float]:
    """A hand-written NumPy batch loop: sigmoid layers, every example a column, one bias per neuron.

    ½Σ(t − out)² summed over the examples, simultaneous update, biases trained.  Returns E_total
    before each step and after the last, as ``Network.train`` does.
    """
    Ws = [np.array(layer["weights"], dtype=float) for layer in data["layers"]]
    bs = [np.array(layer["bias"], dtype=float).reshape(-1, 1) for layer in data["layers"]]
    X = np.array([e["inputs"] for e in data["examples"]], dtype=float).T
    T = np.array([e["targets"] for e in data["examples"]], dtype=float).T
    rate = data["learning_rate"]
    history = []
    for _ in range(steps):
        outs = [X]
        for W, b in zip(Ws, bs, strict=True):
            outs.append(1.0 / (1.0 + np.exp(-(W @ outs[-1] + b))))
        out = outs[-1]
        history.append(0.5 * float(np.sum((T - out) ** 2)))
        delta = -(T - out) * out * (1.0 - out)
        for L in reversed(range(len(Ws))):
            gradient_W, gradient_b = delta @ outs[L].T, delta.sum(axis=1, keepdims=True)
            if L:
                delta = (Ws[L].T @ delta) * outs[L] * (1.0 - outs[L])
            Ws[L] = Ws[L] - rate * gradient_W
            bs[L] = bs[L] - rate * gradient_b
    out = X
    for W, b in zip(Ws, bs, strict=True):
        out = 1.0 / (1.0 + np.exp(-(W @ out + b)))
    return history, 0.5 * float(np.sum((T - out) ** 2))


def fresh_process(command: list[str], runs: int, environment: dict[str, str] | None = None) -> tuple[float, int]:
    """The median wall time of ``derive COMMAND`` in fresh processes, and the largest peak memory (bytes).

    The processor time they and their children (pdflatex) used, in all, is in ``LAST_CPU``.
    ``environment`` is added to this process's.
    """
    script = (
        "import resource, sys\n"
        "from derive.app.cli import main\n"
        "sys.stdout = open('/dev/null', 'w')\n"
        "status = main(sys.argv[1:])\n"
        "sys.stderr.write(f'peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')\n"
        "sys.stderr.write(f'children {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
        "raise SystemExit(status)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.update(environment or {})
    times, peak = [], 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if result.returncode:
            raise SystemExit(f"derive {' '.join(command)} failed: {result.stderr.strip()}")
        peak = max(peak, int(result.stderr.rsplit("peak ", 1)[1].split()[0]) * 1024)  # Linux: kibibytes
        LAST_CHILD_PEAK[0] = int(result.stderr.rsplit("children ", 1)[1].split()[0]) * 1024
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs
    return statistics.median(times), peak


LAST_CPU = [0.0]
LAST_CHILD_PEAK = [0]  # the largest child process's peak memory (bytes): pdflatex


def startup(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """The median wall time of each command in a fresh process, the commands taking turns."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # Bytecode is cached, as for an installed package, whatever the caller's setting.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
            if round_:  # the first round only warms the caches
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


# ---------------------------------------------------------------------------------------------
# The table's rows


def gradient_rows(repeats: int, budget: float) -> tuple[list[list[str]], str]:
    """All gradients at each size beside the naive approach, and the growth from 1,000 to 5,000 weights."""
    rows = []
    times: dict[str, float] = {}
    naive_over = False
    for text in [WORKED_EXAMPLE, *(label(shape) for shape in sorted(NAIVE_ONLY + SHAPES, key=sum))]:
        spec = by_label(text).spec
        derived = all_gradients(spec)
        took = times[text] = best_of(repeats, lambda spec=spec: all_gradients(spec), setup=cold_caches)
        if naive_over:  # the size before already overran the budget: this one would too
            naive_text, speed = "not run", ""
        else:
            naive = naive_gradients(text, budget)
            if not agree(naive, derived):
                raise SystemExit(f"sympy.diff and derive disagree on {text}")
            if naive.finished:
                naive_text, speed = seconds(naive.seconds), f"{ratio(naive.seconds / took)} faster"
            else:
                done = f"{naive.done} of {naive.total:,} parameters in {seconds(naive.seconds)}"
                naive_text = f"> {seconds(budget)} ({done})"
                speed = f"> {ratio(budget / took)} faster"
                if naive.done:
                    speed += f" (≈ {ratio(naive.estimate / took)})"
                naive_over = True
        weights = f"{n_weights(spec):,}"
        rows.append(["all gradients", text, weights, seconds(took), "sympy.diff per weight", naive_text, speed, ""])
    small, large = (label(shape) for shape in GROWTH)
    weight_growth = n_weights(by_label(large).spec) / n_weights(by_label(small).spec)
    time_growth = times[large] / times[small]
    allowed = 6 / 5 * weight_growth  # 5× the weights in at most 6× the time
    rows.append(
        [
            "growth",
            f"{small} → {large}",
            f"{weight_growth:.3g}×",
            f"{time_growth:.3g}×",
            "",
            "",
            "",
            f"≤ {allowed:.3g}× {verdict(time_growth <= allowed)}",
        ]
    )
    return rows, f"growth: {time_growth:.2f}× the time for {weight_growth:.2f}× the weights (target ≤ {allowed:.2f}×)"


def training_rows(repeats: int) -> tuple[list[list[str]], list[str]]:
    """``Network.train`` per step against the NumPy loops, checked to give the same losses; the path chosen."""
    net = example()
    clear_cache()  # the first call generates and compiles the step function
    start = time.perf_counter()
    first = net.train(TRAIN_STEPS)
    first_call = time.perf_counter() - start
    by_hand, final = numpy_training(TRAIN_STEPS)
    check_same(first.history, [*by_hand, final], WORKED_EXAMPLE)
    trained = best_of(repeats, lambda: net.train(TRAIN_STEPS)) / TRAIN_STEPS
    by_numpy = best_of(repeats, lambda: numpy_training(TRAIN_STEPS)) / TRAIN_STEPS
    rows = [
        train_row("train, 1 example", WORKED_EXAMPLE, 8, trained, by_numpy),
        [
            "train, first call",
            WORKED_EXAMPLE,
            "8",
            per_step(first_call / TRAIN_STEPS),
            "NumPy loop",
            per_step(by_numpy),
            ratio(first_call / TRAIN_STEPS / by_numpy),
            "",
        ],
    ]
    verdicts = [f"training, worked example: {trained / by_numpy:.2f}× the NumPy loop's time per step (target ≤ 1.0×)"]
    paths = []
    for shape in TRAIN_SHAPES:
        data = network_data(shape, examples=TRAIN_EXAMPLES, per_neuron=True)
        for steps in (SHORT_STEPS, TRAIN_STEPS):
            row, verdict_ = network_train_row(data, shape, steps, repeats)
            rows.append(row)
            verdicts.append(verdict_)
        spec = Network.from_dict(data, name=label(shape)).spec
        derive_time = best_of(repeats, lambda spec=spec: training.train(spec, TRAIN_STEPS)) / TRAIN_STEPS
        paths.append(path_row(spec, derive_time, repeats))
    return rows + paths, verdicts


def network_train_row(data: dict[str, Any], shape: Sequence[int], steps: int, repeats: int) -> tuple[list[str], str]:
    """``Network.train(steps)`` as a user calls it, again and again on one network, against the NumPy loop.

    The whole call is timed (set-up, the updates, the trained network); the first call on a fresh
    network, with the step's code generated and compiled, is shown beside it.
    """
    clear_cache()
    net = Network.from_dict(data, name=label(shape))
    start = time.perf_counter()
    first = net.train(steps)
    first_call = time.perf_counter() - start
    by_hand, final = numpy_batch_loop(data, steps)
    check_same(first.history, [*by_hand, final], label(shape))
    derive_time = best_of(repeats, lambda: net.train(steps).network)
    numpy_time = best_of(repeats, lambda: numpy_batch_loop(data, steps))
    weights = n_weights(net.spec)
    factor = derive_time / numpy_time
    row = [
        f"train({steps:,}), {TRAIN_EXAMPLES} examples", label(shape), f"{weights:,}",
        f"{seconds(derive_time)} (first {seconds(first_call)})", "NumPy loop", seconds(numpy_time), ratio(factor),
        f"≤ 1× {verdict(factor <= 1)}",
    ]  # fmt: skip
    message = (
        f"training, {weights:,} weights, {steps:,} updates: {factor:.2f}× the NumPy loop's time "
        f"(target ≤ 1.0×; the first call {first_call / numpy_time:.2f}×)"
    )
    return row, message


def check_same(derived: Sequence[float], by_hand: Sequence[float], name: str) -> None:
    drift = max(abs(a - b) / abs(b) for a, b in zip(derived, by_hand, strict=True))
    if drift > 1e-9:
        raise SystemExit(f"derive's training and the NumPy loop disagree on {name} (relative difference {drift:.2g})")


def train_row(measure: str, name: str, weights: int, derived: float, numpy_time: float) -> list[str]:
    factor = derived / numpy_time
    return [
        measure, name, f"{weights:,}", per_step(derived), "NumPy loop", per_step(numpy_time), ratio(factor),
        f"≤ 1× {verdict(factor <= 1)}",
    ]  # fmt: skip


def path_row(spec: NetworkSpec, chosen_time: float, repeats: int) -> list[str]:
    """The path ``train`` chose (plain floats or NumPy matrices) against the other one."""
    chosen = training.uses_matrices(spec)
    other = best_of(repeats, lambda: training.train(spec, TRAIN_STEPS, matrices=not chosen)) / TRAIN_STEPS
    names = {True: "matrices", False: "floats"}
    factor = chosen_time / other
    return [
        f"train path: {names[chosen]}", label(spec_shape(spec)), f"{n_weights(spec):,}", per_step(chosen_time),
        f"{names[not chosen]} instead", per_step(other), ratio(factor), f"≤ 1× {verdict(factor <= 1)}",
    ]  # fmt: skip


def spec_shape(spec: NetworkSpec) -> list[int]:
    return [spec.n_inputs, *(layer.size for layer in spec.layers)]


def json_rows(runs: int, folder: Path) -> tuple[list[list[str]], str]:
    """``derive gradients --json`` against the text table at 5,000 weights, in fresh processes."""
    path = folder / "network-5000.json"
    path.write_text(json.dumps(network_data(JSON_SHAPE)), encoding="utf-8")
    text, _ = fresh_process(["gradients", str(path)], runs)
    as_json, _ = fresh_process(["gradients", str(path), "--json"], runs)
    factor = as_json / text
    row = [
        "gradients --json", label(JSON_SHAPE), "5,000", seconds(as_json), "the text table", seconds(text),
        ratio(factor), f"≤ 1.5× {verdict(factor <= 1.5)}",
    ]  # fmt: skip
    return [row], f"gradients --json: {factor:.2f}× the text table's time (target ≤ 1.5×)"


def memory_rows(folder: Path) -> tuple[list[list[str]], str]:
    """Peak memory of ``derive gradients`` at the 50,000-parameter limit."""
    data = network_data(LIMIT_SHAPE, per_neuron=True)
    path = folder / "network-limit.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    spec = Network.from_dict(data).spec
    took, peak = fresh_process(["gradients", str(path)], 1)
    mebibytes = peak / 2**20
    parameters = len(spec.parameter_names())
    row = [
        "gradients, peak memory", label(LIMIT_SHAPE), f"{n_weights(spec):,}", f"{mebibytes:,.0f} MiB",
        "its time", seconds(took), "", f"< 1,024 MiB {verdict(mebibytes < 1024)}",
    ]  # fmt: skip
    return [row], f"memory: {mebibytes:,.0f} MiB at {parameters:,} parameters (target < 1 GiB)"


LIMIT_EXAMPLES = 1000


def limit_rows(folder: Path) -> tuple[list[list[str]], str]:
    """``gradients`` and ``train --steps 10`` at both limits at once: 49,370 parameters and 1,000 examples."""
    data = network_data(LIMIT_SHAPE, per_neuron=True, examples=LIMIT_EXAMPLES)
    path = folder / "network-limits.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    weights = f"{n_weights(Network.from_dict(data).spec):,}"
    rows, notes = [], []
    for measure, command in (("gradients", ["gradients"]), ("train --steps 10", ["train", "--steps", "10"])):
        took, peak = fresh_process([*command, str(path)], 1)
        mebibytes = peak / 2**20
        rows.append([
            f"{measure}, {LIMIT_EXAMPLES:,} examples", label(LIMIT_SHAPE), weights, f"{mebibytes:,.0f} MiB",
            "its time", seconds(took), "", f"< 1,024 MiB {verdict(mebibytes < 1024)}",
        ])  # fmt: skip
        notes.append(f"{measure} at the limits: {seconds(took)}, {mebibytes:,.0f} MiB (target < 1 GiB)")
    return rows, "; ".join(notes)


NUMPY_SCRIPT = """\
import json, sys
import numpy as np
data = json.load(open(sys.argv[1]))
steps = int(sys.argv[2])
Ws = [np.array(layer["weights"], dtype=float) for layer in data["layers"]]
bs = [np.array(layer["bias"], dtype=float).reshape(-1, 1) for layer in data["layers"]]
X = np.array([e["inputs"] for e in data["examples"]], dtype=float).T
T = np.array([e["targets"] for e in data["examples"]], dtype=float).T
rate = data["learning_rate"]
history = []
for _ in range(steps + 1):
    outs = [X]
    for W, b in zip(Ws, bs):
        outs.append(1.0 / (1.0 + np.exp(-(W @ outs[-1] + b))))
    out = outs[-1]
    history.append(0.5 * float(np.sum((T - out) ** 2)))
    if len(history) > steps:
        break
    delta = -(T - out) * out * (1.0 - out)
    for L in reversed(range(len(Ws))):
        gradient_W, gradient_b = delta @ outs[L].T, delta.sum(axis=1, keepdims=True)
        if L:
            delta = (Ws[L].T @ delta) * outs[L] * (1.0 - outs[L])
        Ws[L] = Ws[L] - rate * gradient_W
        bs[L] = bs[L] - rate * gradient_b
print(history[0], history[-1])
"""


def process_rows(folder: Path, runs: int) -> tuple[list[list[str]], list[str]]:
    """``derive train FILE --steps N`` as a whole process against a script running the NumPy loop."""
    data = network_data(PROCESS_SHAPE, examples=TRAIN_EXAMPLES, per_neuron=True)
    path, script = folder / "network-train.json", folder / "numpy_loop.py"
    path.write_text(json.dumps(data), encoding="utf-8")
    script.write_text(NUMPY_SCRIPT, encoding="utf-8")
    weights = n_weights(Network.from_dict(data).spec)
    rows, messages = [], []
    for steps in (SHORT_STEPS, TRAIN_STEPS):
        took, _ = fresh_process(["train", str(path), "--steps", str(steps)], runs)
        script_time = median_run([sys.executable, str(script), str(path), str(steps)], runs)
        factor = took / script_time
        rows.append(
            [
                f"derive train --steps {steps:,} (process)", label(PROCESS_SHAPE), f"{weights:,}", seconds(took),
                "python numpy_loop.py", seconds(script_time), ratio(factor), "",
            ]
        )  # fmt: skip
        messages.append(
            f"derive train, {steps:,} updates, whole process: {factor:.2f}× a script running the NumPy loop"
        )
    return rows, messages


def median_run(command: list[str], runs: int) -> float:
    """The median wall time of a command in fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def class_csv(path: Path, seed: int = 1) -> None:
    """A class of 1,000 students on 200 variants, every blank answered to 5 figures, a third with one slip."""
    from derive.core.steps import build_steps
    from derive.spec.variants import variant

    spec = example().spec
    answers = {}
    for number in range(1, CLASS_VARIANTS + 1):
        steps = build_steps(Derivation(variant(spec, seed, number)))
        answers[number] = [(step.key, f"{float(step.value):.5g}") for step in steps if step.blank is not None]
    keys = [key for key, _ in answers[1]]
    lines = [",".join(["student", "variant", *keys])]
    for student in range(CLASS_STUDENTS):
        number = student % CLASS_VARIANTS + 1
        values = [value for _, value in answers[number]]
        if student % 3 == 1:
            values[student % len(values)] = "0.1234"
        lines.append(",".join([f"student {student + 1}", str(number), *values]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def grading_rows(folder: Path) -> tuple[list[list[str]], str]:
    """``derive check class.csv --seed 1`` on a class of 1,000 students, in a fresh process."""
    path = folder / "class.csv"
    class_csv(path)
    load = os.getloadavg()[0]
    took, _ = fresh_process(["check", str(path), "--seed", "1"], 1)
    cpu = LAST_CPU[0]  # on a shared machine, the wall time is other work's too
    row = [
        f"check, a class of {CLASS_STUDENTS:,}", f"{CLASS_VARIANTS} variants", "8", seconds(took),
        "processor time", seconds(cpu), f"load {load:.1f}", f"≤ 5 s {verdict(took <= 5)}",
    ]  # fmt: skip
    return [row], (
        f"grading: {CLASS_STUDENTS:,} students on {CLASS_VARIANTS} variants in {took:.1f} s, {cpu:.1f} s of "
        f"processor time, the machine's load {load:.1f} before the run (target ≤ 5 s)"
    )


def class_rows(folder: Path) -> tuple[list[list[str]], str]:
    """``derive worksheet --variants 200 --seed 1 --pdf --combined``: a class's documents and PDFs, in a fresh
    process, with an empty TeX cache (derive.publishing.texcache), as the first time.

    Beside the wall time, the processor time it took (with pdflatex's), the peak memory of the
    derive process and of the largest pdflatex, and the machine's load just before: on a shared
    machine, other work takes its share of the cores.
    """
    if shutil.which("pdflatex") is None:
        return [["class PDFs", "", "", "not run", "", "", "", "needs pdflatex"]], "class PDFs: not run (no pdflatex)"
    command = ["worksheet", "--variants", str(CLASS_VARIANTS), "--seed", "1", "--pdf", "--combined", "-o", str(folder)]
    load = os.getloadavg()[0]
    took, peak = fresh_process(command, 1, {"DERIVE_CACHE": str(folder.parent / "empty-tex-cache")})  # a first run
    cpu, cores = LAST_CPU[0], available_cores()
    pdfs = len(list(folder.glob("*.pdf")))
    mebibytes = max(peak, LAST_CHILD_PEAK[0]) / 2**20
    met = took <= 180 and mebibytes < 1024
    row = [
        f"worksheet --variants {CLASS_VARIANTS} --pdf --combined", "worked example", "8", seconds(took),
        f"processor time / {cores} cores", seconds(cpu / cores), f"peak {mebibytes:,.0f} MiB, load {load:.1f}",
        f"≤ 180 s, < 1,024 MiB {verdict(met)}",
    ]  # fmt: skip
    return [row], (
        f"class PDFs: {CLASS_VARIANTS} students' {pdfs} PDFs in {took:.0f} s, {cpu:.0f} s of processor time on "
        f"{cores} cores, peak memory {mebibytes:,.0f} MiB, the machine's load {load:.1f} before the run "
        "(target ≤ 180 s, < 1 GiB)"
    )


def startup_rows(runs: int) -> tuple[list[list[str]], list[str]]:
    """Each command against the bare imports of SymPy and Jinja2, in fresh processes."""
    python = sys.executable
    console = shutil.which("derive")
    bare = "import sympy, jinja2"
    commands = {
        bare: [python, "-c", bare],
        "derive gradients": [python, "-m", "derive", "gradients"],
        # a console script, if one is installed, runs the installed derive, not this checkout's
        "derive": [console] if console else [python, "-m", "derive"],
    }
    medians = startup(commands, runs)
    rows, verdicts = [], []
    for name in ("derive gradients", "derive"):
        factor = medians[name] / medians[bare]
        shown = " ".join(["python -m derive", *commands[name][3:]]) if commands[name][0] == python else name
        rows.append(
            [
                "start-up",
                shown,
                "8",
                seconds(medians[name]),
                bare,
                seconds(medians[bare]),
                ratio(factor),
                f"≤ 1.5× {verdict(factor <= 1.5)}",
            ]
        )
        verdicts.append(f"start-up: {shown} takes {factor:.2f}× the time of {bare} (target ≤ 1.5×)")
    return rows, verdicts


# ---------------------------------------------------------------------------------------------
# Showing


def per_step(value: float) -> str:
    return f"{value * 1e6:.3g} µs"


def seconds(value: float) -> str:
    if value >= 10:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.1f} s"
    return f"{value * 1000:.3g} ms"


def ratio(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned to their widest cell, under a rule."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * width for width in widths]), *map(line, rows)])


def machine() -> str:
    import jinja2

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {usable} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, SymPy {sp.__version__}, mpmath {mpmath.__version__}, "
        f"NumPy {np.__version__}, Jinja2 {jinja2.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds sympy.diff may take per size (60)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each in-process timing; the best counts (5)")
    parser.add_argument("--startup-runs", type=int, default=15, help="runs of each command; the median counts (15)")
    parser.add_argument("--no-pdfs", action="store_true", help="skip the class's 403 PDFs (about 3 minutes)")
    parser.add_argument("--naive-worker", metavar="NETWORK", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_worker:
        naive_worker(args.naive_worker, args.budget)
        return 0

    all_gradients(example().spec)  # warm up: imports and the compiled activation functions
    gradients, growth = gradient_rows(args.repeats, args.budget)
    training_, speeds = training_rows(args.repeats)
    with tempfile.TemporaryDirectory(prefix="derive-benchmark-") as folder:
        as_json, json_speed = json_rows(3, Path(folder))
        memory, peak = memory_rows(Path(folder))
        limits, at_limits = limit_rows(Path(folder))
        processes, process_speeds = process_rows(Path(folder), 3)
        grades, grading_speed = grading_rows(Path(folder))
        pdfs, class_speed = (
            ([], "class PDFs: not run (--no-pdfs)") if args.no_pdfs else class_rows(Path(folder) / "class")
        )
    starting, starts = startup_rows(args.startup_runs)

    print(f"derive benchmark, {time.strftime('%Y-%m-%d')}")
    print(f"machine: {machine()}")
    print(
        f"in process: best of {args.repeats}, SymPy's cache emptied before each derivation; "
        f"start-up: median of {args.startup_runs} fresh processes; sympy.diff: at most {seconds(args.budget)} a size"
    )
    print()
    print(table(HEADER, gradients + training_ + processes + as_json + memory + limits + grades + pdfs + starting))
    print()
    print(
        "\n".join([growth, *speeds, *process_speeds, json_speed, peak, at_limits, grading_speed, class_speed, *starts])
    )
    print(f"load average after the run: {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
