"""The document model holds what its annotations say, everywhere the templates read it.

The templates read the model's fields as their annotations promise: a text is a ``str`` (never None,
which Jinja2 would print as "None"), a list a list, an optional picture None or a picture. A field left
at a default of the wrong type, or set so by a builder, shows up only on the page that reads it; here
every document of every built-in network, at each detail, with the matrix form, an exam, momentum and
weight decay, and the slides' copy of it, is walked field by field against :func:`typing.get_type_hints`
of its class.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

import pytest

import derive
from derive.document import model
from derive.document.slides import path_sum, to_figures
from derive.publishing.publish import Options, document
from derive.spec.files import builtin_names


def mismatches(value: Any, hint: Any, where: str) -> list[str]:
    """Where ``value`` is not of the type ``hint``, each place named by its path of fields."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return []
    if origin in (typing.Union, types.UnionType):
        found = [mismatches(value, choice, where) for choice in arguments]
        return [] if any(not wrong for wrong in found) else [f"{where}: {value!r:.60} is not {hint}"]
    if origin is list or origin is tuple or origin is dict:
        if not isinstance(value, origin):
            return [f"{where}: {type(value).__name__} is not {origin.__name__}"]
        if origin is dict:
            return [
                wrong
                for key, item in value.items()
                for wrong in mismatches(key, arguments[0], f"{where} key")
                + mismatches(item, arguments[1], f"{where}[{key!r}]")
            ]
        if origin is tuple and arguments and arguments[-1] is not Ellipsis:
            if len(value) != len(arguments):
                return [f"{where}: {len(value)} items, not {len(arguments)}"]
            pairs = enumerate(zip(value, arguments, strict=True))
            return [wrong for n, (item, kind) in pairs for wrong in mismatches(item, kind, f"{where}[{n}]")]
        return [wrong for n, item in enumerate(value) for wrong in mismatches(item, arguments[0], f"{where}[{n}]")]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r:.60} is not a float"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r:.60} is not an int"]
    if not isinstance(value, hint):
        return [f"{where}: {type(value).__name__} {value!r:.60} is not {hint.__name__}"]
    return fields_mismatches(value, where) if dataclasses.is_dataclass(value) else []


@functools.cache
def type_hints(kind: type) -> dict[str, Any]:
    """A class's annotations, resolved in its own module (the model's, the slides'…): once per class."""
    return typing.get_type_hints(kind)


def fields_mismatches(value: Any, where: str) -> list[str]:
    hints = type_hints(type(value))
    return [
        wrong
        for entry in dataclasses.fields(value)
        for wrong in mismatches(getattr(value, entry.name), hints[entry.name], f"{where}.{entry.name}")
    ]


VARIANTS = {
    "standard": ({}, {}),
    "brief": ({"detail": "brief"}, {}),
    "full": ({"detail": "full"}, {}),
    "matrix": ({"matrix": True}, {}),
    "momentum and decay": ({}, {"momentum": 0.9, "weight_decay": 0.01}),
}


# the matrix form is refused for maps and steps through time (tests/test_conv.py)
CASES = [(n, v) for n in builtin_names() for v in sorted(VARIANTS) if not (v == "matrix" and n in ("cnn", "rnn"))]


@pytest.mark.parametrize(("network", "variant"), CASES)
def test_every_field_of_every_document_has_its_annotated_type(network, variant):
    chosen, training = VARIANTS[variant]
    spec = derive.example(network).with_options(**training).spec if training else derive.example(network).spec
    made = document(spec, Options(**chosen), curve_steps=10, ask=["default"], mark_unrounded=True)
    assert made.questions, "an exam's questions, so that their parts are walked too"
    assert fields_mismatches(made, "document") == []
    # the slides' copy, every number rounded to four figures and every line measured again, and its path sum
    rounded = to_figures(made, 4)
    assert fields_mismatches(rounded, "slides") == []
    paths = path_sum(rounded)
    assert paths is None or fields_mismatches(paths, "paths") == []


def test_the_walk_names_a_field_of_the_wrong_type():
    """The check itself: None where a text belongs, a text where a list belongs, a bool for an int."""
    line = model.Equation("x", "", "", "1", 0)
    assert fields_mismatches(line, "line") == []
    line.note = None  # type: ignore[assignment]
    line.terms = "a"  # type: ignore[assignment]
    line.answer = True
    assert fields_mismatches(line, "line") == [
        "line.answer: True is not an int",
        "line.terms: str is not list",
        "line.note: NoneType None is not str",
    ]
