"""The step itself: every parameter's update, and the error after it."""

from __future__ import annotations

from derive.steps import Steps

from .model import Equation, UpdateWorking
from .typeset import Typesetter


def updates(steps: Steps, typeset: Typesetter) -> list[UpdateWorking]:
    """θ⁺ = θ − η ∂E_total/∂θ for every trained parameter; a fixed one keeps its value."""
    return [UpdateWorking(step.subject, step.blank is not None, typeset.equation(step)) for step in steps.updates]


def after(steps: Steps, typeset: Typesetter) -> tuple[Equation, str, bool]:
    """E_total after the step, how much it changed, and whether it rose."""
    before, loss = steps.total.value, steps.after.value
    return typeset.equation(steps.after, formula=False), typeset.show(loss - before), loss > before
