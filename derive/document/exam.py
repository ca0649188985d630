"""An exam: a numbered list of what to compute, and for the key each answer's worked lines."""

from __future__ import annotations

from collections.abc import Sequence

from derive.core.steps import Step, Steps

from .model import Question
from .typeset import Typesetter

# What the forward pass computes: the answer key shows it once, before the questions.
FORWARD_KINDS = ("net", "out", "error", "example_error")


def default_ask(steps: Steps) -> list[str]:
    """E_total, the first gradient of the output layer and of the first layer, and their updates."""
    layers = len(steps.derivation.spec.layers)
    chosen = []
    for layer in dict.fromkeys((layers - 1, 0)):
        first = next((g for g in steps.backward if g.layer == layer), None)
        if first is not None:
            chosen.append(first.result.key)
    updates = [f"{key.removeprefix('dE/d')}+" for key in chosen]
    return ["E_total", *chosen, *(key for key in updates if key in steps.by_key)]


def questions(steps: Steps, typeset: Typesetter, ask: Sequence[str]) -> list[Question]:
    """One question per asked key, in the order asked, with the lines that work its answer."""
    found = []
    shown: set[str] = set()  # a line the key has already worked is not worked again
    worked: set[str] = set()  # every step the student has computed for an earlier question
    for number, key in enumerate(ask, 1):
        step = steps.find(key, what="--ask")
        lines = [line for line in _working(step, steps) if line.key not in shown]
        shown.update(line.key for line in lines)
        shown.add(step.key)
        needed = {line.key for line in _working(step, steps, everything=True)} | {step.key}
        effort = len(needed - worked)  # how many values this question asks the student to compute anew
        worked |= needed
        working = [typeset.equation(line) for line in lines]
        lhs = typeset.inline_symbols.doprint(step.symbol)
        found.append(Question(number, step.key, "", lhs, typeset.equation(step), working, effort))
    return found


def _working(step: Step, steps: Steps, *, everything: bool = False) -> list[Step]:
    """The earlier steps an answer needs, in document order; the forward pass's lines are left out
    unless ``everything`` is asked for."""
    needed: set[str] = set()
    pending = [step]
    while pending:
        for used in steps.uses(pending.pop()):
            forward = used.kind in FORWARD_KINDS and not used.after
            if used.key not in needed and (everything or not forward):
                needed.add(used.key)
                pending.append(used)
    return [other for other in steps if other.key in needed]
