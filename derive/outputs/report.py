"""Plain-text tables and JSON documents of a derivation, for the terminal and for programs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import sympy as sp

from derive.core.chain import Derivation
from derive.core.factors import Factor, Gradient
from derive.core.forward import forward_pass, reduce_loss
from derive.core.numbers import format_number
from derive.core.printing import TextbookPrinter, partial_latex
from derive.core.steps import Steps
from derive.outputs.render import Catalog, escape_markdown, meaning
from derive.spec.model import LayerSpec, NetworkSpec
from derive.training.descent import Run, StopPoint


def factor_latex(factor: Factor, printer: TextbookPrinter) -> tuple[str, str]:
    """The factor as ∂of/∂wrt, and its textbook form, both in LaTeX."""
    label = partial_latex(printer.doprint(factor.of), printer.doprint(factor.wrt))
    return label, printer.doprint(factor.expr)


class _FactorPrinter:
    """Each distinct factor's JSON entry, printed once however many terms share it.

    A hidden neuron's ∂E_total/∂out, a sum over the whole next layer, is one factor object shared
    by the chain of every weight into that neuron (and a δ's factors by every weight out of it):
    printed once each, the JSON costs about what the text table does.
    """

    def __init__(self, printer: TextbookPrinter) -> None:
        self.printer = printer
        self.entries: dict[int, tuple[Factor, dict[str, Any]]] = {}  # the factor kept, so its id stays its own
        self.symbols: dict[sp.Symbol, str] = {}

    def __call__(self, factor: Factor) -> dict[str, Any]:
        found = self.entries.get(id(factor))
        if found is not None:
            return found[1]
        label = partial_latex(self.symbol(factor.of), self.symbol(factor.wrt))
        entry = {"factor": label, "expr": self.expr(factor), "value": factor.value}
        self.entries[id(factor)] = (factor, entry)
        return entry

    def expr(self, factor: Factor) -> str:
        """The factor's form; a sum over paths, δ_k·w_kj + …, joined from its symbols as SymPy would print it."""
        expr = factor.expr
        if isinstance(expr, sp.Symbol):
            return self.symbol(expr)
        products = _products(expr) if factor.paths else []
        if products and all(isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol) for a, b in products):
            return " + ".join(rf"{self.symbol(a)} \cdot {self.symbol(b)}" for a, b in products)
        return self.printer.doprint(expr)

    def symbol(self, symbol: sp.Symbol) -> str:
        found = self.symbols.get(symbol)
        if found is None:
            found = self.symbols[symbol] = self.printer.doprint(symbol)
        return found


def _products(expr: sp.Expr) -> list[tuple[sp.Expr, ...]]:
    """The two factors of each product in a sum of products (an empty list for anything else)."""
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)
    if not all(isinstance(term, sp.Mul) and len(term.args) == 2 for term in terms):
        return []
    return [term.args for term in terms]


def output_names(graph: Any) -> list[str]:
    """The neuron of each target, in the targets' order: with targets at every step, each step's outputs."""
    targets = getattr(graph, "targets", None)
    if targets is None:  # a large network trained in floats: its output layer
        return [neuron.name for neuron in graph.neurons[-1]]
    return [graph.names[symbol].subscript for symbol in targets[0]]


def forward_rows(derivation: Derivation) -> list[dict[str, float]]:
    """Per example: every neuron's net input and output, each output's error, and the example's E_total."""
    graph = derivation.graph
    rows = []
    for result in derivation.forward:
        row: dict[str, float] = {}
        for L, neurons in enumerate(graph.neurons):
            for j, neuron in enumerate(neurons):
                row[f"net_{neuron.name}"] = float(result.net[L][j])
                row[f"out_{neuron.name}"] = float(result.out[L][j])
        for name, value in zip(output_names(graph), result.errors, strict=True):  # each target's error, in order
            row[f"E_{name}"] = float(value)
        row["E_total"] = float(result.loss)
        rows.append(row)
    return rows


def gradients_json(derivation: Derivation, examples: Sequence[int] | None = None) -> dict[str, Any]:
    """The ``derive gradients --json`` document.

    ``examples`` (1-based) says which of the file's examples the update used, when not all: its
    batch, online or mini-batch.  With weight decay each weight's chain ends with one more term,
    the factor λ·w; with momentum the document adds each parameter's Δθ and the Δθ before it.
    """

    def factors(gradient: Gradient) -> list[tuple[Factor, ...]]:
        return [term.factors for term in gradient.chain] + ([(gradient.decay,)] if gradient.decay else [])

    floats = getattr(derivation, "in_floats", False)  # a large network: no chains, numbers in floats
    printed = None if floats else _FactorPrinter(TextbookPrinter(derivation.graph.names))
    chains = {
        name: [[printed(factor) for factor in term] for term in factors(gradient)]
        for name, gradient in ({} if floats else derivation.gradients).items()
    }
    document: dict[str, Any] = {
        "network": derivation.spec.name,
        "loss": float(derivation.loss),
        "forward": forward_rows(derivation),
        "gradients": {name: gradient.value for name, gradient in derivation.gradients.items()},
        "chains": chains,
        "updated": {name: float(value) for name, value in derivation.updated.items()},
    }
    if floats:
        del document["chains"]
        document["precision"] = "float64"
    if examples is not None:
        document["examples"] = list(examples)
    spec = derivation.spec
    if spec.weight_decay:
        document["weight_decay"] = float(spec.weight_decay)
        document["penalty"] = float(derivation.penalty)
    if spec.momentum:
        document["momentum"] = float(spec.momentum)
        document["previous_changes"] = {name: float(value) for name, value in derivation.previous_changes.items()}
        document["changes"] = {name: float(value) for name, value in derivation.changes.items()}
    return document


def training_json(run: Run) -> dict[str, Any]:
    """The ``derive train --json`` document."""
    history, (_, outputs), stopped = _shown(run)
    parameters = dict(zip(run.start.parameter_names(), run.parameters, strict=True))
    return {
        "loss": history,
        "outputs": outputs,
        "parameters": parameters,
        "epochs": run.epochs,
        "stopped_at": None
        if stopped is None
        else {"epoch": stopped.epoch, "update": stopped.update, "step": stopped.step, "loss": stopped.loss},
    }


def _shown(run: Run) -> tuple[list[float], tuple[list[str], list[list[float]]], StopPoint | None]:
    """What a training document shows: the history ending with E_total at 40 digits, the trained
    network's outputs by name and example, and where the goal was reached, with that E_total."""
    final, outputs = _trained_outputs(run)
    stopped = run.stopped_at and replace(run.stopped_at, loss=final)
    return [*run.history[:-1], final], outputs, stopped


def _trained_outputs(run: Run) -> tuple[float, tuple[list[str], list[list[float]]]]:
    """E_total after the last update and each example's outputs: from a 40-digit forward pass of the
    trained network (no derivation); for an unrolled or a large network, from its update's forward pass."""
    from derive.training import in_floats

    spec = run.spec
    if spec.dense and not in_floats(spec):
        forward = forward_pass(spec)
        names = [spec.layers[-1].neuron_name(j) for j in range(spec.n_outputs)]
        return float(reduce_loss(spec, forward)), (names, [[float(out) for out in row.out[-1]] for row in forward])
    trained = trained_update(spec)
    names = output_names(trained.graph)
    return run.precise_loss(), (names, [[row[f"out_{name}"] for name in names] for row in forward_rows(trained)])


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned plain-text table: text to the left, numbers aligned on the decimal point."""
    columns = list(zip(header, *rows, strict=True))
    # a numeric column may leave cells empty (a step with no blank), but holds at least one number
    numeric = [
        all(_is_number(cell) or not cell for cell in column[1:]) and any(map(_is_number, column[1:]))
        for column in columns
    ]
    aligned_columns = [
        [column[0], *(_on_the_point(column[1:]) if is_number else column[1:])]
        for column, is_number in zip(columns, numeric, strict=True)
    ]
    widths = [max(len(cell) for cell in column) for column in aligned_columns]
    lines = []
    for i in range(len(rows) + 1):
        cells = [
            column[i].rjust(width) if is_number else column[i].ljust(width)
            for column, width, is_number in zip(aligned_columns, widths, numeric, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * width for width in widths).rstrip())
    return "\n".join(lines) + "\n"


def _on_the_point(cells: Sequence[str]) -> list[str]:
    """Numbers padded so that their decimal points line up: the whole part right, the fraction left."""
    parts = [cell.partition(".") for cell in cells]
    whole = max(len(integer) for integer, _, _ in parts)
    fraction = max(len(digits) for _, _, digits in parts)
    width = fraction + 1 if fraction else 0
    return [integer.rjust(whole) + (point + digits).ljust(width) for integer, point, digits in parts]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def gradients_text(derivation: Derivation, digits: int, examples: Sequence[int] | None = None) -> str:
    """The forward pass, the errors and every gradient with its update, as aligned tables.

    ``examples`` (1-based) names the file's examples the update used, when not all of them.
    """
    spec, graph = derivation.spec, derivation.graph
    show = lambda value: format_number(value, digits)  # noqa: E731
    if getattr(derivation, "in_floats", False):
        show = lambda value: float_text(value, digits)  # noqa: E731
    parts = [_heading(spec)]
    numbers = list(examples) if examples is not None else list(range(1, len(spec.examples) + 1))
    if examples is not None:
        which = ", ".join(map(str, numbers))
        parts.append(f"The first update uses example{'s' if len(numbers) > 1 else ''} {which} of the file.\n")
    for p, result in enumerate(derivation.forward):
        title = "Forward pass" + (f", example {numbers[p]}" if graph.multi or examples is not None else "")
        rows = [
            [neuron.name, show(result.net[L][j]), show(result.out[L][j])]
            for L, neurons in enumerate(graph.neurons)
            for j, neuron in enumerate(neurons)
        ]
        parts.append(f"{title}\n\n" + table(["neuron", "net", "out"], rows))
        error_rows = [[f"E_{n.name}", show(result.errors[j])] for j, n in enumerate(graph.neurons[-1])]
        if graph.multi:
            error_rows.append([f"E^({numbers[p]})", show(result.loss)])
        parts.append(table(["error", "value"], error_rows))
    parts.append(f"E_total = {show(derivation.loss)}\n")
    rate = format_number(float(spec.learning_rate), 12)
    header = ["parameter", "value", "gradient"]
    header += ["of which λ·w"] if spec.weight_decay else []
    header += ["previous Δ", "Δ"] if spec.momentum else []
    rows = []
    for name, gradient in derivation.gradients.items():
        value = derivation.parameters[name]
        note = "" if derivation.trainable(name) else "fixed"
        row = [name, show(value), show(gradient.precise)]
        if spec.weight_decay:
            row.append(show(gradient.decay.precise) if gradient.decay else "")
        if spec.momentum:
            row += [show(derivation.previous_changes[name]), show(derivation.changes[name])]
        rows.append([*row, show(derivation.updated[name]), note])
    parts.append(
        f"Gradients and one step, learning rate {rate}{_training_options(spec)}\n\n"
        + table([*header, "updated", ""], rows)
    )
    if spec.weight_decay:
        parts.append(
            f"Weight decay: each step descends E_total + (λ/2)·Σ w² = {show(derivation.objective)}, "
            "so every weight's gradient has the term λ·w.\n"
        )
    if spec.momentum:
        parts.append("Momentum: Δ = β·(previous Δ) − η·gradient, and updated = value + Δ.\n")
    if spec.round_activations is not None:
        parts.append(f"Hidden outputs rounded to {spec.round_activations} decimals before use, as by hand.\n")
    if getattr(derivation, "in_floats", False):
        parts.append(FLOATS_NOTE)
    return "\n".join(parts)


def float_text(value: float, digits: int) -> str:
    """A float to ``digits`` decimals as printf rounds it (its binary value), trailing zeros dropped: a
    large network's hundreds of thousands of numbers, at a tenth of :func:`format_number`'s cost."""
    shown = f"{value:.{digits}f}"
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return "0" if shown in ("-0", "") else shown


FLOATS_NOTE = (
    "A network this large (parameters × examples) is computed in floats, about 15 significant digits, "
    "not derived to 40 digits.\n"
)


def trained_update(spec: NetworkSpec) -> Any:
    """The derivation of an update of ``spec``, or for a large network its float computation."""
    from derive.training import in_floats
    from derive.training.floats import FloatUpdate

    return FloatUpdate(spec) if in_floats(spec) else Derivation(spec)


def _layer_heading(layer: LayerSpec) -> str:
    """``2 sigmoid (h)``; a map's shape (``1x3x3 relu conv2d (c)``), a pooling's kind, a recurrent layer's."""
    shape = layer.out_shape
    size = "x".join(map(str, shape)) if shape is not None else str(layer.size)
    kind = "" if layer.kind == "dense" else f" {layer.kind}"
    activation = "" if layer.kind in ("maxpool", "avgpool") else f" {layer.activation}"
    return f"{size}{activation}{kind} ({layer.name})"


def _heading(spec: NetworkSpec) -> str:
    shape = " -> ".join([f"{spec.n_inputs} inputs"] + [_layer_heading(layer) for layer in spec.layers])
    examples = len(spec.examples)
    if spec.steps is not None:  # per time step, over a sequence
        shape += f", over {spec.steps} time steps (target at {'every step' if spec.every_step else 'the last step'})"
    return (
        f"Network {spec.name}: {shape}\n"
        f"loss {spec.loss} ({spec.reduction} over {examples} example{'s' if examples != 1 else ''})\n"
    )


def milestones(steps: int) -> list[int]:
    """The steps worth showing: the first few, then about four per decade, and always the last."""
    shown = set(range(min(steps, 5) + 1))
    exponent = 1.0
    while (step := round(10**exponent)) < steps:
        shown.add(step)
        exponent += 0.25
    shown.add(steps)
    return sorted(shown)


def _change(before: float, after: float, show: Callable[[float], str]) -> str:
    """How E_total changed: "fell from 0.298 to 0.000035 (8,504 times lower)", or rose, or stayed."""
    if after < before:
        ratio = before / after if after > 0 else math.inf
        times = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2g}"
        factor = f" ({times} times lower)" if math.isfinite(ratio) else ""
        return f"\nE_total fell from {show(before)} to {show(after)}{factor}.\n"
    if after > before:
        return f"\nE_total rose from {show(before)} to {show(after)}.\n"
    return ""


def training_text(spec: NetworkSpec, result: Run, update: str, digits: int) -> str:
    """The error at well-chosen steps, and the outputs after training."""
    steps = result.steps
    show = lambda value: format_number(value, digits)  # noqa: E731
    history, (names, outputs), stopped = _shown(result)
    if result.updates_per_epoch == 1:
        rows = [[str(step), show(history[step])] for step in milestones(steps)]
        header = ["step", "E_total"]
    else:  # online or mini-batches: where each step falls among the epochs
        rows = [
            [str(step), *(str(n) if step else "" for n in result.position(step)), show(history[step])]
            for step in milestones(steps)
        ]
        header = ["step", "epoch", "update", "E_total"]
    before, after = history[0], history[-1]
    output_rows = [
        [str(p + 1), name, show(out), show(float(target))]
        for p, (values, example) in enumerate(zip(outputs, result.spec.examples, strict=True))
        for name, out, target in zip(names, values, example.targets, strict=True)
    ]
    rate = format_number(float(spec.learning_rate), 12)
    return (
        _heading(spec)
        + f"\nTraining: {steps} steps{_epochs(spec, result)}, {update} updates, learning rate {rate}"
        + _training_options(spec)
        + "\n\n"
        + table(header, rows)
        + _change(before, after, show)
        + _goal(result, stopped, show)
        + "\nOutputs after training\n\n"
        + table(["example", "output", "out", "target"], output_rows)
    )


def _epochs(spec: NetworkSpec, result: Run) -> str:
    """How the steps make epochs, when an epoch is more than one step: " (30 epochs of 4, online)"."""
    if result.updates_per_epoch == 1:
        return ""
    kind = "online" if spec.batch == 1 else f"mini-batches of {spec.batch}"
    order = f", shuffled with seed {spec.shuffle}" if spec.shuffle is not None else ", in file order"
    epochs = f"{result.epochs} epoch{'s' if result.epochs != 1 else ''}"
    return f" in {epochs} of {result.updates_per_epoch} ({kind}{order})"


def _training_options(spec: NetworkSpec) -> str:
    """Momentum and weight decay, when used: ", momentum 0.9, weight decay 0.001"."""
    parts = []
    if spec.momentum:
        parts.append(f"momentum {format_number(float(spec.momentum), 12)}")
    if spec.weight_decay:
        parts.append(f"weight decay {format_number(float(spec.weight_decay), 12)}")
    return "".join(f", {part}" for part in parts)


def _goal(result: Run, stopped: StopPoint | None, show: Callable[[float], str]) -> str:
    """Whether, and where (``stopped``), E_total reached the goal of --until."""
    if result.goal is None:
        return ""
    goal = format_number(result.goal, 12)
    if stopped is None:
        epochs = f"{result.epochs} epoch{'s' if result.epochs != 1 else ''}"
        return f"\nE_total did not reach {goal} or below within {epochs} ({result.steps} steps).\n"
    if stopped.step == 0:
        return f"\nE_total was already {goal} or below before training.\n"
    where = f"epoch {stopped.epoch}, update {stopped.update} (step {stopped.step})"
    if result.updates_per_epoch == 1:
        where = f"epoch {stopped.epoch} (step {stopped.step})"
    return f"\nE_total reached {goal} or below at {where}: {show(stopped.loss)}.\n"


def key_rows(steps: Steps, t: Catalog) -> list[dict[str, Any]]:
    """Every step's key, blank number (null when it is not asked) and meaning, in document order."""
    return [{"key": step.key, "blank": step.blank, "meaning": meaning(step, t)} for step in steps]


def keys_text(rows: Sequence[dict[str, Any]]) -> str:
    """The keys as an aligned table: blank, key, meaning."""
    cells = [["" if row["blank"] is None else str(row["blank"]), row["key"], row["meaning"]] for row in rows]
    return table(["blank", "key", "meaning"], cells)


def parameters_markdown(derivation: Derivation, title: str) -> str:
    """A Markdown table of every parameter: its value, ∂E_total/∂θ and its value after the update."""
    printer = TextbookPrinter(derivation.graph.names)
    lines = [
        f"**{escape_markdown(title)}**, $E_{{total}} = {format_number(derivation.loss)}$",
        "",
        "| parameter | value | $\\partial E_{total} / \\partial \\theta$ | after one step |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, gradient in derivation.gradients.items():
        symbol = printer.doprint(gradient.symbol)
        value, updated = derivation.parameters[name], derivation.updated[name]
        numbers = " | ".join(format_number(v) for v in (value, gradient.precise, updated))
        lines.append(f"| ${symbol}$ | {numbers} |")
    return "\n".join(lines) + "\n"
