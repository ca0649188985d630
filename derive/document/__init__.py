"""The derivation as a document: every line of working, in LaTeX, in the order a textbook gives it.

The document is built section by section, each by a small builder that reads the step model
(:mod:`derive.core.steps`): the given network (:mod:`.given`), the forward pass (:mod:`.forward`), the
backward pass (:mod:`.backward`, with :mod:`.graphs` and :mod:`.figures`), the updates and the
pass after them (:mod:`.updates`), the matrix form (:mod:`.matrix`) and an exam's questions
(:mod:`.exam`) with their marks (:mod:`.marking`); :mod:`.slides` reshapes a document for the lecture's
slides.  Templates only format what is built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from derive.core.chain import Derivation
from derive.core.numbers import DEFAULT_DIGITS, format_number
from derive.core.steps import Steps, build_steps
from derive.errors import DeriveError
from derive.spec.files import builtin_names, load_builtin
from derive.spec.model import NetworkSpec
from derive.training.descent import loss_after_update
from derive.training.worked import Worked

from .backward import Narrator, backward
from .exam import questions
from .figures import curve
from .forward import forward, total
from .given import diagram, parameter_rows
from .marking import ExamSetting, QuestionMarks
from .matrix import matrix_form
from .model import Document, Equation, Schedule
from .precision import ANSWER_FIGURES, shown
from .typeset import Typesetter
from .unrolled import feature_maps, forward_sentences, introduction, layer_rows, parameter_matrices, stage_rows
from .updates import after, reading, update_rule, updates

__all__ = ["Document", "Equation", "ExamSetting", "Schedule", "build", "from_steps", "schedule_of"]


def schedule_of(update: Worked) -> Schedule | None:
    """Which update of online or mini-batch learning a document works (None with batch training)."""
    numbers = update.example_numbers()
    if numbers is None:
        return None
    examples = ", ".join(map(str, numbers))
    return Schedule(
        update.kind, update.network.batch, update.number, examples, update.number - 1, update.network.shuffle
    )


def build(derivation: Derivation, *, only: Sequence[str] = (), detail: str = "standard", **options: Any) -> Document:
    """The document of one derivation; ``only`` limits the backward pass to some parameters."""
    return from_steps(build_steps(derivation, only, detail), only=only, detail=detail, **options)


def from_steps(
    steps: Steps,
    *,
    notation: str = "net",
    digits: int = DEFAULT_DIGITS,
    only: Sequence[str] = (),
    detail: str = "standard",
    matrix: bool = False,
    history: Sequence[float] = (),
    ask: Sequence[str] = (),
    schedule: Schedule | None = None,
    mark_unrounded: bool = False,
    marks: Sequence[QuestionMarks] = (),
    figures: int = ANSWER_FIGURES,
) -> Document:
    """The document of a step model.

    With ``matrix``, the document also carries the vectorised form of the derivation; with a
    training ``history`` (E_total before and after each step), its curve; with ``ask``, an exam's
    questions on those keys (``["default"]``: the default exam), marked as ``marks`` sets; ``figures``
    is how many significant figures the document asks of an answer.
    """
    spec = steps.derivation.spec
    typeset = Typesetter(steps, notation, digits, mark_unrounded=mark_unrounded)
    if matrix and not spec.dense:
        raise DeriveError(
            "--matrix writes the matrices of fully connected layers; for conv2d, pooling and recurrent layers "
            "the explanation shows the maps and the steps through time as matrices already",
            key="--matrix",
        )
    narrator = Narrator()
    nodes, edges = diagram(steps, typeset)
    after_examples, loss_after, change, rose = after(steps, typeset, formula=detail != "brief")
    example = builtin_example(spec)
    sections = backward(steps, typeset, narrator, detail)
    rule = {"momentum": bool(spec.momentum), "decay": bool(spec.weight_decay)}
    document = Document(
        name=spec.name,
        notation=notation,
        digits=digits,
        detail=detail,
        shape=" → ".join([str(spec.n_inputs)] + [str(layer.units) for layer in spec.layers]),
        intro=introduction(spec),
        loss=spec.loss,
        reduction=spec.reduction,
        learning_rate=format_number(float(spec.learning_rate), 12),
        train_biases=spec.train_biases,
        round_activations=spec.round_activations,
        # the rows the working goes through: the layers, or an unrolled network's stages (h,1 … h,3)
        layer_rows=layer_rows(spec, steps.derivation.graph),
        forward_intro=forward_sentences(spec, steps.derivation.graph),
        layers=stage_rows(spec, steps.derivation.graph),
        parameters=parameter_rows(steps, typeset, edges),
        examples=forward(steps, typeset),
        total=total(steps, typeset),
        backward=sections,
        updates=updates(steps, typeset),
        after_examples=after_examples,
        loss_after=loss_after,
        change=change,
        loss_rose=rose,
        nodes=nodes,
        # with targets at every step an output neuron of each step has one: not only the last column's
        target_nodes=[steps.derivation.graph.names[symbol].subscript for symbol in steps.derivation.graph.targets[0]],
        edges=edges,
        only=list(only),
        shared_bias=any(layer.shared_bias and layer.units > 1 for layer in spec.layers),  # one neuron shares with none
        reading=reading(steps, typeset),
        hidden=len(spec.layers) > 1,
        softmax_output=spec.layers[-1].activation == "softmax" and spec.loss == "cross_entropy",
        example=example,
        # E_total after one step in the sequential order (output layer first), as published figures use it
        feature_maps=feature_maps(steps, typeset),
        parameter_matrices=parameter_matrices(steps, typeset),
        through_time=spec.steps is not None,
        recurrent_output=spec.steps is not None and len(spec.layers) == 1 and bool(spec.every_step),
        sequential_after=shown(loss_after_update(spec, "sequential"), digits) if example and spec.dense else "",
        matrix=matrix_form(steps, typeset) if matrix else [],  # fully connected layers (checked above)
        curve=curve(history, digits) if history else None,
        answers=steps.blanks,
        blanks={step.blank: shown(step.value, digits) for step in steps if step.blank},
        questions=questions(steps, typeset, ask, marks=marks, figures=figures) if ask else [],
        figures=figures,
        schedule=schedule,
        update_rule=update_rule(**rule, display=False),
        update_rule_display=update_rule(**rule, display=True),
        # last: whether any line typeset above, the exam's included, is not what its rounded numbers give
        unrounded=typeset.unrounded,
    )
    if spec.momentum:
        document.momentum = format_number(float(spec.momentum), 12)
        earlier = schedule is not None and schedule.earlier > 0
        document.previous = "before" if earlier else "given" if spec.previous_update else "zero"
        if document.previous == "given":  # an exam's sheet states them: the student has no file
            document.changes_before = [
                (f"{name[0]}_{{{name[1:]}}}", format_number(float(value), 12)) for name, value in spec.previous_update
            ]
    if spec.weight_decay:
        document.decay = format_number(float(spec.weight_decay), 12)
    return document


def builtin_example(spec: NetworkSpec) -> str | None:
    """The name of the built-in example this network is, number for number, if it is one."""
    if spec.name not in builtin_names():
        return None
    return spec.name if replace(load_builtin(spec.name), name=spec.name) == spec else None
