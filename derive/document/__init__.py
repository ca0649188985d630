"""The derivation as a document: every line of working, in LaTeX, in the order a textbook gives it.

The document is built section by section, each by a small builder that reads the step model
(:mod:`derive.steps`): the given network (:mod:`.given`), the forward pass (:mod:`.forward`), the
backward pass (:mod:`.backward`, with :mod:`.graphs`), the updates (:mod:`.updates`) and the
matrix form (:mod:`.matrix`).  Templates only format what is built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from derive.chain import Derivation
from derive.numbers import DEFAULT_DIGITS, format_number
from derive.steps import Steps, build_steps

from .backward import backward
from .forward import forward, total
from .given import diagram, parameter_rows
from .matrix import matrix_form
from .model import Document, Equation, curve
from .typeset import Typesetter
from .updates import after, updates

__all__ = ["Document", "Equation", "build", "from_steps"]


def build(derivation: Derivation, *, only: Sequence[str] = (), **options: Any) -> Document:
    """The document of one derivation; ``only`` limits the backward pass to some parameters."""
    return from_steps(build_steps(derivation, only), only=only, **options)


def from_steps(
    steps: Steps,
    *,
    notation: str = "net",
    digits: int = DEFAULT_DIGITS,
    only: Sequence[str] = (),
    matrix: bool = False,
    history: Sequence[float] = (),
) -> Document:
    """The document of a step model.

    With ``matrix``, the document also carries the vectorised form of the derivation; with a
    training ``history`` (E_total before and after each step), its curve.
    """
    spec = steps.derivation.spec
    typeset = Typesetter(steps, notation, digits)
    nodes, edges = diagram(steps, typeset)
    loss_after, change, rose = after(steps, typeset)
    return Document(
        name=spec.name,
        notation=notation,
        digits=digits,
        shape=" → ".join([str(spec.n_inputs)] + [str(layer.size) for layer in spec.layers]),
        loss=spec.loss,
        reduction=spec.reduction,
        learning_rate=format_number(float(spec.learning_rate), 12),
        train_biases=spec.train_biases,
        round_activations=spec.round_activations,
        layers=[{"name": layer.name, "activation": layer.activation, "size": str(layer.size)} for layer in spec.layers],
        parameters=parameter_rows(steps, typeset, edges),
        examples=forward(steps, typeset),
        total=total(steps, typeset),
        backward=backward(steps, typeset),
        updates=updates(steps, typeset),
        loss_after=loss_after,
        change=change,
        loss_rose=rose,
        nodes=nodes,
        edges=edges,
        only=list(only),
        matrix=matrix_form(steps, typeset) if matrix else [],
        curve=curve(history, digits) if history else None,
        answers=steps.blanks,
        blanks={step.blank: typeset.show(step.value) for step in steps if step.blank is not None},
    )
