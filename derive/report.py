"""Plain-text tables and JSON documents of a derivation, for the terminal and for programs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from derive.chain import Derivation, Factor
from derive.numbers import format_number
from derive.printing import TextbookPrinter, partial_latex
from derive.render import Catalog, meaning
from derive.spec import NetworkSpec
from derive.steps import Steps
from derive.training import Run


def factor_latex(factor: Factor, printer: TextbookPrinter) -> tuple[str, str]:
    """The factor as ∂of/∂wrt, and its textbook form, both in LaTeX."""
    label = partial_latex(printer.doprint(factor.of), printer.doprint(factor.wrt))
    return label, printer.doprint(factor.expr)


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
        for j, neuron in enumerate(graph.neurons[-1]):
            row[f"E_{neuron.name}"] = float(result.errors[j])
        row["E_total"] = float(result.loss)
        rows.append(row)
    return rows


def gradients_json(derivation: Derivation) -> dict[str, Any]:
    """The ``derive gradients --json`` document."""
    printer = TextbookPrinter(derivation.graph.names)
    chains = {
        name: [
            [
                dict(zip(("factor", "expr"), factor_latex(factor, printer), strict=True)) | {"value": factor.value}
                for factor in term.factors
            ]
            for term in gradient.chain
        ]
        for name, gradient in derivation.gradients.items()
    }
    return {
        "network": derivation.spec.name,
        "loss": float(derivation.loss),
        "forward": forward_rows(derivation),
        "gradients": {name: gradient.value for name, gradient in derivation.gradients.items()},
        "chains": chains,
        "updated": {name: float(value) for name, value in derivation.updated.items()},
    }


def training_json(run: Run) -> dict[str, Any]:
    """The ``derive train --json`` document."""
    trained = Derivation(run.spec)
    outputs = [[row[f"out_{neuron.name}"] for neuron in trained.graph.neurons[-1]] for row in forward_rows(trained)]
    parameters = {name: float(value) for name, value in run.spec.parameters().items()}
    return {"loss": run.history, "outputs": outputs, "parameters": parameters}


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


def gradients_text(derivation: Derivation, digits: int) -> str:
    """The forward pass, the errors and every gradient with its update, as aligned tables."""
    spec, graph = derivation.spec, derivation.graph
    show = lambda value: format_number(value, digits)  # noqa: E731
    parts = [_heading(spec)]
    for p, result in enumerate(derivation.forward):
        title = "Forward pass" + (f", example {p + 1}" if graph.multi else "")
        rows = [
            [neuron.name, show(result.net[L][j]), show(result.out[L][j])]
            for L, neurons in enumerate(graph.neurons)
            for j, neuron in enumerate(neurons)
        ]
        parts.append(f"{title}\n\n" + table(["neuron", "net", "out"], rows))
        error_rows = [[f"E_{n.name}", show(result.errors[j])] for j, n in enumerate(graph.neurons[-1])]
        if graph.multi:
            error_rows.append([f"E^({p + 1})", show(result.loss)])
        parts.append(table(["error", "value"], error_rows))
    parts.append(f"E_total = {show(derivation.loss)}\n")
    rate = format_number(float(spec.learning_rate), 12)
    rows = []
    for name, gradient in derivation.gradients.items():
        value = derivation.parameters[name]
        note = "" if derivation.trainable(name) else "fixed"
        rows.append([name, show(value), show(gradient.precise), show(derivation.updated[name]), note])
    parts.append(
        f"Gradients and one step, learning rate {rate}\n\n"
        + table(["parameter", "value", "gradient", "updated", ""], rows)
    )
    if spec.round_activations is not None:
        parts.append(f"Hidden outputs rounded to {spec.round_activations} decimals before use, as by hand.\n")
    return "\n".join(parts)


def _heading(spec: NetworkSpec) -> str:
    shape = " -> ".join(
        [f"{spec.n_inputs} inputs"] + [f"{layer.size} {layer.activation} ({layer.name})" for layer in spec.layers]
    )
    examples = len(spec.examples)
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
    steps = len(result.history) - 1
    show = lambda value: format_number(value, digits)  # noqa: E731
    rows = [[str(step), show(result.history[step])] for step in milestones(steps)]
    before, after = result.history[0], result.history[-1]
    trained = Derivation(result.spec)
    output_rows = [
        [str(p + 1), neuron.name, show(row[f"out_{neuron.name}"]), show(float(target))]
        for p, (row, example) in enumerate(zip(forward_rows(trained), result.spec.examples, strict=True))
        for neuron, target in zip(trained.graph.neurons[-1], example.targets, strict=True)
    ]
    rate = format_number(float(spec.learning_rate), 12)
    return (
        _heading(spec)
        + f"\nTraining: {steps} steps, {update} updates, learning rate {rate}\n\n"
        + table(["step", "E_total"], rows)
        + _change(before, after, show)
        + "\nOutputs after training\n\n"
        + table(["example", "output", "out", "target"], output_rows)
    )


def key_rows(steps: Steps, t: Catalog) -> list[dict[str, Any]]:
    """Every step's key, blank number (null when it is not asked) and meaning, in document order."""
    return [{"key": step.key, "blank": step.blank, "meaning": meaning(step, t)} for step in steps]


def keys_text(rows: Sequence[dict[str, Any]]) -> str:
    """The keys as an aligned table: blank, key, meaning."""
    cells = [["" if row["blank"] is None else str(row["blank"]), row["key"], row["meaning"]] for row in rows]
    return table(["blank", "key", "meaning"], cells)
