"""The step model: keys, blank numbers, formulas that re-evaluate, and student variants everywhere."""

import json
import re

import mpmath
import pytest

from derive import DeriveError, Network, example
from derive.core.numbers import PRECISION, full_precision
from derive.spec.variants import variant
from tests.conftest import run_derive

NETWORKS = ["mazur", "softmax", "deep", "xor"]


def test_keys_name_the_worked_example_as_the_json_does():
    steps = example().steps()
    keys = [step.key for step in steps]
    assert keys[:11] == [
        "net_h1",
        "out_h1",
        "net_h2",
        "out_h2",
        "net_o1",
        "out_o1",
        "net_o2",
        "out_o2",
        "E_o1",
        "E_o2",
        "E_total",
    ]
    for key in ("dE/dout_o1", "dout_o1/dnet_o1", "delta_o1", "dnet_o1/dw5", "dE/dw5", "w5+", "E_total+"):
        assert key in keys
    forward = json.loads(run_derive("gradients", "--json").stdout)["forward"][0]
    for key, value in forward.items():  # the JSON's names are the keys, with the same values
        assert float(steps.find(key).value) == pytest.approx(value, rel=1e-15)


def test_blank_numbers_are_the_worksheets():
    steps = example().steps()
    assert steps.find("15").key == "dE/dw5" and steps.find("dE/dw5").blank == 15
    assert steps.find("52").key == "E_total+" and steps.blanks == 52
    assert [step.blank for step in steps if step.blank] == list(range(1, 53))
    assert steps.find("b1+").blank is None  # fixed: nothing to fill in


def test_per_example_keys_take_the_example_number():
    steps = example("deep").steps()
    assert steps.find("out_h1@2").example == 2
    assert steps.find("dE/dout_o1@1").kind == "factor"
    assert steps.find("E_total@2").kind == "example_error"
    assert "dE/dw9" in steps.by_key and "dE/dw9@1" not in steps.by_key  # a gradient sums the examples


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("out_h3", "unknown key 'out_h3'; did you mean 'out_h2'?"),
        ("dE/dw55", "did you mean 'dE/dw5'?"),
        ("99", "no blank 99; the worksheet has blanks 1 to 52"),
    ],
)
def test_an_unknown_key_is_a_clear_error(key, message):
    with pytest.raises(DeriveError, match=re.escape(message)):
        example().steps().find(key)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_formula_reevaluates_to_its_value(name):
    """Each step's formula, at the exact values of the steps it uses, gives the step's value."""
    steps = example(name).steps()
    for step in steps:
        again = steps.evaluate(step, {})
        assert mpmath.almosteq(again, step.value, rel_eps=mpmath.mpf(10) ** (5 - PRECISION)), step.key


def test_a_formula_reevaluates_at_other_values():
    steps = example().steps()
    step = steps.find("dE/dw5")
    assert [used.key for used in steps.uses(step)] == ["out_h1", "delta_o1"]
    values = {steps.find("delta_o1").symbol: mpmath.mpf("0.1385"), steps.find("out_h1").symbol: mpmath.mpf("0.5933")}
    assert steps.evaluate(step, values) == pytest.approx(0.1385 * 0.5933, rel=1e-30)
    update = steps.find("w5+")
    assert steps.evaluate(update, {steps.find("dE/dw5").symbol: mpmath.mpf("0.08")}) == pytest.approx(0.4 - 0.5 * 0.08)


def test_derive_keys_lists_every_key(tmp_path):
    text = run_derive("keys").stdout
    assert re.search(r"^\s*15\s+dE/dw5\s+gradient of the total error with respect to w5$", text, re.MULTILINE)
    assert re.search(r"^\s+b1\+\s+b1 after the step \(kept fixed", text, re.MULTILINE)
    rows = json.loads(run_derive("keys", "deep", "--json").stdout)
    assert rows[0] == {"key": "net_h1@1", "blank": 1, "meaning": "net input of neuron h1, example 1"}
    spanish = run_derive("keys", "--lang", "es").stdout
    assert "salida de la neurona h1" in spanish
    only = json.loads(run_derive("keys", "--only", "w1", "--json").stdout)
    assert "dE/dw1" in {row["key"] for row in only} and "dE/dw5" not in {row["key"] for row in only}


def test_a_student_variant_is_the_same_in_every_command(tmp_path):
    """`--variant K --seed S` gives student K's numbers: the very documents `--variants N` wrote."""
    run_derive("worksheet", "--variants", "3", "--seed", "7", "-o", str(tmp_path / "all"))
    run_derive("worksheet", "--variant", "2", "--seed", "7", "-o", str(tmp_path / "one"))
    for kind in ("worksheet", "solutions"):
        assert (tmp_path / "one" / f"{kind}.tex").read_bytes() == (tmp_path / "all" / f"{kind}-02.tex").read_bytes()
    # the teacher's answer table and `gradients --variant` agree on student 2's gradients
    data = json.loads(run_derive("gradients", "--variant", "2", "--seed", "7", "--json").stdout)
    answers = (tmp_path / "all" / "answers.tex").read_text()
    rows = {int(m[1]): m[2].split(" & ")[1:] for m in re.finditer(r"^(\d+) & (.*?) \\\\$", answers, re.MULTILINE)}
    steps = example().steps()
    assert float(rows[steps.find("dE/dw5").blank][1]) == pytest.approx(data["gradients"]["w5"], abs=5e-10)
    assert float(rows[steps.find("E_total").blank][1]) == pytest.approx(data["loss"], abs=5e-10)
    trained = json.loads(run_derive("train", "--steps", "1", "--variant", "2", "--seed", "7", "--json").stdout)
    assert trained["loss"][0] == pytest.approx(data["loss"], rel=1e-12)
    code = run_derive("code", "--variant", "2", "--seed", "7").stdout
    student = variant(example().spec, 7, 2).parameters()
    assert f'    "w1": {float(student["w1"])!r},' in code


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["gradients", "--variant", "2"], "argument --variant: needs --seed S"),
        (["gradients", "--variant", "0", "--seed", "1"], "expected a whole number from 1 to 200, got 0"),
        (["explain", "--variant", "201", "--seed", "1"], "got 201"),
        (["worksheet", "--variant", "2", "--variants", "3", "--seed", "1"], "not allowed with --variants"),
    ],
)
def test_bad_variant_options(args, fragment):
    result = run_derive(*args, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert fragment in result.stderr and len(result.stderr.splitlines()) == 1


# ---- the documents' size limits, at the values the README states --------------------------------


def _dense(width: int, examples: int = 1) -> dict:
    """Two inputs, a sigmoid layer of ``width`` neurons, one output; small weights, ``examples`` examples."""
    hidden = {"name": "h", "activation": "sigmoid", "weights": [[0.1, -0.1]] * width, "bias": 0.1}
    output = {"name": "o", "activation": "sigmoid", "weights": [[0.05] * width], "bias": 0.0}
    rows = [{"inputs": [0.1 * p, 0.2], "targets": [0.5]} for p in range(examples)]
    return {"learning_rate": 0.5, "layers": [hidden, output], "examples": rows}


def _image(rows: int, columns: int) -> dict:
    """A ``rows``×``columns`` image, a 1×1 kernel (a map of the same size), one sigmoid output."""
    conv = {"name": "c", "type": "conv2d", "activation": "relu", "input_shape": [rows, columns]}
    conv |= {"kernels": [[[0.5]]], "bias": [0.1]}
    output = {"name": "o", "activation": "sigmoid", "weights": [[0.01] * (rows * columns)], "bias": [0.0]}
    pixels = [[0.1] * columns for _ in range(rows)]
    return {"learning_rate": 0.5, "layers": [conv, output], "examples": [{"inputs": pixels, "targets": [1.0]}]}


def _refused(network: Network, fragment: str, only: tuple[str, ...] = ()) -> str:
    """The message of the refusal, which must contain ``fragment``."""
    with pytest.raises(DeriveError, match=fragment) as refused:
        network.steps(only)
    return str(refused.value)


def test_a_document_prints_40_gradients_and_refuses_41():
    data = _dense(8)
    output = {"name": "o", "activation": "sigmoid", "weights": [[0.05] * 8] * 3, "bias": [0.0] * 3}
    data |= {"layers": [data["layers"][0], output], "examples": [{"inputs": [0.1, 0.2], "targets": [0.5] * 3}]}
    network = Network.from_dict(data, name="wide")  # 16 + 24 weights, 1 + 3 biases: 44 parameters
    names = network.spec.parameter_names()
    assert len(names) == 44
    assert len(network.steps(names[:40]).backward) == 40
    _refused(network, "41 gradients are too many to print readably", tuple(names[:41]))
    assert _refused(network, "44 gradients") == (
        "44 gradients are too many to print readably (at most 40); choose some with --only, e.g. --only w1,b4"
    )


def test_a_document_prints_a_layer_of_8_neurons_and_refuses_9():
    assert Network.from_dict(_dense(8), name="eight").steps() is not None
    assert _refused(Network.from_dict(_dense(9), name="nine"), "a layer of 9") == (
        "a layer of 9 neurons is too wide to print readably (at most 8); use 'derive gradients' for its numbers"
    )


def test_a_document_prints_4_examples_and_refuses_5():
    assert Network.from_dict(_dense(2, examples=4), name="four").steps() is not None
    assert _refused(Network.from_dict(_dense(2, examples=5), name="five"), "5 examples") == (
        "5 examples are too many to print readably (at most 4); use 'derive gradients' for their numbers"
    )


def test_a_document_prints_a_feature_map_of_36_and_refuses_42():
    """No input or map has 37 entries (37 is prime; rows and columns are at most 32, channels 16): 42 is next."""
    assert Network.from_dict(_image(6, 6), name="six").steps(("w1",)) is not None
    _refused(Network.from_dict(_image(7, 6), name="seven"), "a layer of 42 neurons is too wide", ("w1",))


@pytest.mark.parametrize("detail", ["full", "standard", "brief"])
def test_every_detail_the_options_name_builds(detail):
    assert len(example().steps(detail=detail)) > 0


@pytest.mark.parametrize(
    ("only", "message"),
    [
        ("w80", "--only: no parameter 'w80' in this network; did you mean 'w8'? (it has w1 to b2)"),
        ("qq", "--only: no parameter 'qq' in this network (it has w1 to b2)"),
    ],
)
def test_an_unknown_parameter_is_named_with_the_networks_range(only, message):
    with pytest.raises(DeriveError) as refused:
        example().steps((only,))
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("net_h3", "key: unknown key 'net_h3'; did you mean 'net_h2'? (`derive keys` lists them)"),
        ("zzz", "key: unknown key 'zzz' (`derive keys` lists them)"),
        ("99", "key: no blank 99; the worksheet has blanks 1 to 52"),
    ],
)
def test_an_unknown_key_or_blank_is_named(key, message):
    with pytest.raises(DeriveError) as refused:
        example().steps().find(key)
    assert str(refused.value) == message


def test_an_unknown_detail_is_named_with_the_choices():
    with pytest.raises(DeriveError) as refused:
        example().steps(detail="short")
    assert str(refused.value) == "--detail: unknown detail 'short' (expected one of: full, standard, brief)"


def test_the_brief_detail_works_each_delta_in_one_line():
    """Brief: no step of its own for a δ's factors (∂E/∂out, ∂out/∂net), so fewer steps, the same gradients."""
    standard, brief = example().steps(), example().steps(detail="brief")
    assert len(brief) < len(standard)
    assert {step.key for step in brief} < {step.key for step in standard}
    assert [part.result.value for part in brief.backward] == [part.result.value for part in standard.backward]


def test_only_the_models_own_step_is_cached_a_copy_is_evaluated_by_its_own_formula():
    """Copies of a step (same key, another formula) are evaluated by their own formulas, before and
    after the step itself, whatever the caches hold; the values are SymPy's substitution at 40 digits."""
    import dataclasses

    import sympy as sp

    steps = example().steps()
    step = next(s for s in steps if s.blank is not None and len(s.formula.free_symbols) >= 2)
    fixed = sorted(step.formula.free_symbols, key=lambda symbol: symbol.name)[0]
    copies = [
        dataclasses.replace(step, formula=2 * step.formula),
        dataclasses.replace(step, formula=3 * step.formula),
        dataclasses.replace(step, formula=step.formula.subs(fixed, sp.Rational(1, 7))),  # fewer symbols
    ]

    def by_sympy(formula: sp.Expr) -> mpmath.mpf:
        exact = {symbol: sp.Float(str(steps.values[symbol]), PRECISION) for symbol in formula.free_symbols}
        return mpmath.mpf(str(sp.N(formula.subs(exact), PRECISION)))

    for order in (copies, [step, *copies], [*copies, step]):
        for one in [*order, *order]:
            value = steps.evaluate(one, {})
            with full_precision():
                assert abs(value - by_sympy(one.formula)) <= mpmath.mpf(10) ** (5 - PRECISION) * abs(value), one
