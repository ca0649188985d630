"""derive's speed in one run: derivation growth, the naive sympy.diff, training and start-up.

    python benchmarks/run.py [--budget SECONDS] [--repeats N] [--startup-runs N]

Prints one table: all gradients (with their chains and values) of networks of about 100, 1,000
and 5,000 weights and how the time grows; sympy.diff of the composed loss for each weight beside
them while it finishes within the budget; ``train(10000)`` on the worked example against a
hand-written NumPy loop; and command start-up against ``python -c "import sympy, jinja2"``.
Every figure comes from this run on this machine, and the fast results are checked against the
slow ones before they are timed.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
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

from derive.chain import Derivation  # noqa: E402
from derive.compiled import clear_cache  # noqa: E402
from derive.graph import Graph  # noqa: E402
from derive.network import Network, example  # noqa: E402
from derive.numbers import PRECISION  # noqa: E402
from derive.spec import NetworkSpec  # noqa: E402

WORKED_EXAMPLE = "worked example"
# inputs → hidden → hidden → outputs, all sigmoid: 100, 1,000 and 5,000 weights exactly
SHAPES = [(10, 5, 5, 5), (15, 20, 20, 15), (25, 50, 50, 25)]
# a smaller one where the naive approach surely finishes, to show the speed-up
NAIVE_ONLY = [(3, 3, 3, 3)]
GROWTH = ((15, 20, 20, 15), (25, 50, 50, 25))
TRAIN_STEPS = 10_000
HEADER = ["measure", "network", "weights", "derive", "compared with", "its time", "ratio", "target"]


# ---------------------------------------------------------------------------------------------
# Networks


def network(shape: Sequence[int], seed: int = 1) -> Network:
    """A sigmoid network of the given layer sizes, with two-decimal weights and data from ``seed``."""
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
                "bias": draw(-0.5, 0.5),
            }
        )
    example_ = {"inputs": [draw(0, 1) for _ in range(shape[0])], "targets": [draw(0, 1) for _ in range(shape[-1])]}
    return Network.from_dict({"learning_rate": 0.5, "layers": layers, "examples": [example_]}, name=label(shape))


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


def training_rows(repeats: int) -> tuple[list[list[str]], str]:
    """``train(10000)`` on the worked example against the NumPy loop, checked to give the same losses."""
    net = example()
    clear_cache()  # the first call generates and compiles the step function
    start = time.perf_counter()
    first = net.train(TRAIN_STEPS)
    first_call = time.perf_counter() - start
    by_hand, final = numpy_training(TRAIN_STEPS)
    drift = max(abs(a - b) / abs(b) for a, b in zip(first.history, [*by_hand, final], strict=True))
    if drift > 1e-9:
        raise SystemExit(f"derive's training and the NumPy loop disagree (relative difference {drift:.2g})")
    trained = best_of(repeats, lambda: net.train(TRAIN_STEPS))
    by_numpy = best_of(repeats, lambda: numpy_training(TRAIN_STEPS))
    factor = trained / by_numpy
    rows = [
        [
            f"train({TRAIN_STEPS})",
            WORKED_EXAMPLE,
            "8",
            seconds(trained),
            "NumPy loop",
            seconds(by_numpy),
            ratio(factor),
            f"≤ 1× {verdict(factor <= 1)}",
        ],
        [
            f"train({TRAIN_STEPS}), first call",
            WORKED_EXAMPLE,
            "8",
            seconds(first_call),
            "NumPy loop",
            seconds(by_numpy),
            ratio(first_call / by_numpy),
            "",
        ],
    ]
    return rows, f"training: {factor:.2f}× the NumPy loop's time (target ≤ 1.0×)"


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
    parser.add_argument("--naive-worker", metavar="NETWORK", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_worker:
        naive_worker(args.naive_worker, args.budget)
        return 0

    all_gradients(example().spec)  # warm up: imports and the compiled activation functions
    gradients, growth = gradient_rows(args.repeats, args.budget)
    training, speed = training_rows(args.repeats)
    starting, starts = startup_rows(args.startup_runs)

    print(f"derive benchmark, {time.strftime('%Y-%m-%d')}")
    print(f"machine: {machine()}")
    print(
        f"in process: best of {args.repeats}, SymPy's cache emptied before each derivation; "
        f"start-up: median of {args.startup_runs} fresh processes; sympy.diff: at most {seconds(args.budget)} a size"
    )
    print()
    print(table(HEADER, gradients + training + starting))
    print()
    print("\n".join([growth, speed, *starts]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
