"""A large network's update in floats (derive/training/floats.py) against the independent NumPy trainer
written from the textbook (tests/reference_training.py), on every loss, reduction and activation."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from fractions import Fraction

import pytest

from derive.errors import DeriveError
from derive.spec.model import LOSSES, REDUCTIONS
from derive.training import FLOAT_FROM, in_floats
from derive.training.floats import FloatUpdate
from tests import reference_training as reference
from tests.conftest import run_derive
from tests.test_reference_training import network


def float_quantities(update: FloatUpdate) -> dict[str, float]:
    """The keys ``reference.quantities`` gives, read off the float update."""
    values: dict[str, float] = {}
    multi = len(update.spec.examples) > 1
    for p, passed in enumerate(update.forward):
        suffix = f"@{p + 1}" if multi else ""
        for L, neurons in enumerate(update.graph.neurons):
            for j, neuron in enumerate(neurons):
                values[f"net_{neuron.name}{suffix}"] = passed.net[L][j]
                values[f"out_{neuron.name}{suffix}"] = passed.out[L][j]
    values["E_total"] = update.loss
    values |= {f"dE/d{name}": gradient.precise for name, gradient in update.gradients.items()}
    values |= {f"{name}+": value for name, value in update.updated.items()}
    return values


@pytest.mark.parametrize("depth", [3, 4])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("train_biases", [True, False])
def test_the_float_update_is_the_textbooks(depth, loss, reduction, train_biases):
    spec = network(depth, loss, reduction, train_biases).spec
    expected = reference.quantities(spec)
    actual = float_quantities(FloatUpdate(spec))
    for key, value in actual.items():
        assert value == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key


def test_momentum_and_weight_decay_take_the_textbook_step():
    spec = network(3, "half_sse", "sum").spec
    spec = replace(spec, momentum=Fraction(9, 10), weight_decay=Fraction(1, 100))
    spec = replace(spec, previous_update=tuple((name, Fraction(1, 50)) for name in spec.parameter_names()))
    plain = reference.quantities(replace(spec, momentum=Fraction(0), weight_decay=Fraction(0), previous_update=()))
    update = FloatUpdate(spec)
    for name, value in spec.parameters().items():
        gradient = plain[f"dE/d{name}"] + (0.01 * float(value) if name.startswith("w") else 0.0)
        assert update.gradients[name].precise == pytest.approx(gradient, rel=1e-12, abs=1e-15), name
        change = 0.9 * 0.02 - float(spec.learning_rate) * gradient
        assert update.updated[name] == pytest.approx(float(value) + change, rel=1e-12, abs=1e-15), name


def test_an_overflow_is_an_error_not_infinity():
    spec = network(3, "half_sse", "sum").spec
    huge = spec.with_parameters({name: Fraction(10) ** 300 for name in spec.parameter_names()})
    with pytest.raises(DeriveError, match="too large for a float"):
        FloatUpdate(huge)


def _large(tmp_path, examples: int = 700):
    """A 20-15-1 sigmoid network (331 parameters) on ``examples`` examples: past FLOAT_FROM."""
    rng = random.Random(28)
    draw = lambda: round(rng.uniform(-1, 1), 2)  # noqa: E731
    data = {
        "learning_rate": 0.5,
        "layers": [
            {
                "name": "h",
                "activation": "tanh",
                "weights": [[draw() for _ in range(20)] for _ in range(15)],
                "bias": 0.1,
            },
            {"name": "o", "activation": "sigmoid", "weights": [[draw() for _ in range(15)]], "bias": [0.2]},
        ],
        "examples": [{"inputs": [draw() for _ in range(20)], "targets": [abs(draw())]} for _ in range(examples)],
    }
    path = tmp_path / "large.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_gradients_of_a_large_network_are_printed_in_floats(tmp_path):
    from derive.spec.files import load_path

    path = _large(tmp_path)
    spec = load_path(path)
    assert in_floats(spec) and len(spec.parameter_names()) * len(spec.examples) >= FLOAT_FROM
    expected = reference.quantities(spec)
    text = run_derive("gradients", str(path), "--digits", "9", cwd=tmp_path).stdout
    assert "computed in floats" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:1] in "wb" and line.split()}
    for name in ("w1", "w300", "b1", "b2"):
        assert float(rows[name][2]) == pytest.approx(expected[f"dE/d{name}"], abs=1e-9), name
    document = json.loads(
        run_derive("gradients", str(path), "--json", cwd=tmp_path).stdout,
        parse_constant=lambda constant: pytest.fail(f"{constant} in JSON"),
    )
    assert document["precision"] == "float64" and "chains" not in document
    assert document["gradients"]["w1"] == pytest.approx(expected["dE/dw1"], rel=1e-9)


def test_train_reports_a_large_network_without_the_40_digit_derivation(tmp_path):
    path = _large(tmp_path)
    result = run_derive("train", str(path), "--steps", "10", cwd=tmp_path)
    assert "Outputs after training" in result.stdout
