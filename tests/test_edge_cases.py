"""Edge cases pinned by fixed networks: ReLU at exactly 0, saturated sigmoids, softmax with equal
inputs, a zero learning rate, targets equal to the outputs.

The networks use binary-exact numbers (0.5, 0.25, 0.125, …) where a value must be exactly 0, so that
the 40-digit path and the float paths meet the edge itself, not a neighbour of it.  Every value is
checked against something independent: the NumPy reference trainer, mpmath at 60 digits, or the
closed form (ln 3, 1/3).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive import Network
from derive.core.chain import Derivation
from derive.core.steps import build_steps
from derive.errors import DeriveError
from derive.outputs.code import module_source
from derive.publishing.publish import explanation
from derive.training.compiled import FloatTraining, clear_cache, generation_spec
from tests import reference_training as reference
from tests.conftest import ROOT, run_derive
from tests.test_codegen import load


def layer(name, activation, weights, bias):
    return {"name": name, "activation": activation, "weights": weights, "bias": bias}


def steps_of(network: Network, order: str = "simultaneous"):
    return build_steps(Derivation(network.spec, order), ())


def assert_steps_match_the_reference(network: Network) -> None:
    expected = reference.quantities(network.spec)
    for step in steps_of(network):
        assert float(step.value) == pytest.approx(expected[step.key], rel=1e-12, abs=1e-15), step.key


# -- ReLU at exactly 0 ----------------------------------------------------------------------------

# h1: 0.5·1 − 0.25·2 + 0 = 0 exactly; o1: 0.5·out_h1 − 0.5·out_h2 + 0.6875 = −0.5·1.375 + 0.6875 = 0
RELU_AT_ZERO = Network.from_dict(
    {
        "layers": [
            layer("h", "relu", [[0.5, -0.25], [0.25, 0.5]], [0.0, 0.125]),
            layer("o", "relu", [[0.5, -0.5], [0.25, 0.75]], [0.6875, 0.25]),
        ],
        "examples": [{"inputs": [1.0, 2.0], "targets": [0.5, 0.5]}],
    },
    name="relu at zero",
)


def test_relu_at_exactly_zero_has_slope_zero_as_documented():
    steps = steps_of(RELU_AT_ZERO)
    assert steps.find("net_h1").value == 0 and steps.find("net_o1").value == 0
    for neuron in ("h1", "o1"):
        assert steps.find(f"out_{neuron}").value == 0
        assert steps.find(f"dout_{neuron}/dnet_{neuron}").value == 0  # the subgradient 0, not 1
        assert steps.find(f"delta_{neuron}").value == 0
    # no gradient flows through either unit: the weights and biases into them (w1, w2, b1; w5, w6, b3),
    # and h1's output of 0 gives w7, from h1 to o2, nothing to carry
    gradients = RELU_AT_ZERO.gradients()
    zero = [name for name, gradient in gradients.items() if gradient.precise == 0]
    assert zero == ["w1", "w2", "w5", "w6", "w7", "b1", "b3"]
    assert_steps_match_the_reference(RELU_AT_ZERO)
    assert "takes its slope there as 0" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_relu_at_exactly_zero_in_the_float_paths(tmp_path):
    before = RELU_AT_ZERO.parameters()
    trained = RELU_AT_ZERO.train(1).network.parameters()
    stepped = load(module_source(RELU_AT_ZERO), tmp_path).step()
    expected = reference.step(reference.from_spec(RELU_AT_ZERO.spec)).after.parameters()
    for name in ("w1", "w2", "w5", "w6", "w7", "b1", "b3"):
        assert trained[name] == stepped[name] == expected[name] == before[name], name
    for name, value in expected.items():
        assert trained[name] == pytest.approx(value, rel=1e-14) and stepped[name] == pytest.approx(value, rel=1e-14)


# -- saturated sigmoids ---------------------------------------------------------------------------

SATURATED = Network.from_dict(
    {
        "layers": [layer("o", "sigmoid", [[25.0], [-25.0], [-400.0]], 0.0)],
        "examples": [{"inputs": [2.0], "targets": [0.5, 0.5, 0.25]}],
    },
    name="saturated",
)


def test_a_saturated_sigmoid_keeps_its_tiny_slope_at_40_digits():
    """σ(50), σ(−50) and σ(−800): 1 − σ(50) ≈ 1.9e-22 and σ'(−800) ≈ e^-800 survive at 40 digits."""
    steps = steps_of(SATURATED)
    with mpmath.workdps(60):
        for neuron, net in (("o1", 50), ("o2", -50), ("o3", -800)):
            out = 1 / (1 + mpmath.exp(-net))
            slope = mpmath.exp(-net) / (1 + mpmath.exp(-net)) ** 2
            assert mpmath.almosteq(steps.find(f"out_{neuron}").value, out, rel_eps=mpmath.mpf("1e-38"))
            assert mpmath.almosteq(steps.find(f"dout_{neuron}/dnet_{neuron}").value, slope, rel_eps=mpmath.mpf("1e-15"))
        slope = mpmath.exp(-50) / (1 + mpmath.exp(-50)) ** 2
        target = mpmath.mpf("0.5")
        expected = -(target - 1 / (1 + mpmath.exp(-50))) * slope * 2
        assert mpmath.almosteq(SATURATED.gradients()["w1"].precise, expected, rel_eps=mpmath.mpf("1e-15"))


def test_a_saturated_sigmoid_trains_in_floats_without_overflow(tmp_path):
    """In floats σ(50) is 1 and σ(−800) is 0 (e^800 overflows a float): slope 0, nothing moves, no error."""
    result = SATURATED.train(3)
    history, trained = reference.train(reference.from_spec(SATURATED.spec), 3)
    assert result.history == pytest.approx(history, rel=1e-15)
    for name, value in trained.parameters().items():
        assert result.network.parameters()[name] == pytest.approx(value, rel=1e-15, abs=1e-300)
    assert result.network.parameters()["w1"] == 25.0 and result.network.parameters()["w3"] == -400.0
    module = load(module_source(SATURATED), tmp_path)
    with pytest.warns(RuntimeWarning, match="overflow"):  # NumPy's e^800 is inf, with a warning
        loss, gradients = module.loss_and_gradients()
    assert loss == pytest.approx(history[0], rel=1e-15) and gradients["w1"] == 0.0 and gradients["w3"] == 0.0


def test_a_softmax_far_from_zero_trains_in_floats():
    """Net inputs of 800 and 798: e^800 overflows a float; the shifted softmax does not."""
    network = Network.from_dict(
        {
            "loss": "cross_entropy",
            "layers": [layer("o", "softmax", [[400.0], [399.0]], 0.0)],
            "examples": [{"inputs": [2.0], "targets": [0, 1]}],
        },
        name="far",
    )
    with mpmath.workdps(60):
        loss = -mpmath.log(mpmath.exp(798) / (mpmath.exp(800) + mpmath.exp(798)))
    assert network.loss() == pytest.approx(float(loss), rel=1e-15)
    history, trained = reference.train(reference.from_spec(network.spec), 2)
    result = network.train(2)
    assert result.history == pytest.approx(history, rel=1e-12)
    for name, value in trained.parameters().items():
        assert result.network.parameters()[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


# -- softmax with equal inputs --------------------------------------------------------------------

# every net input is 0.25·1 + 0.5·2 + 0.125 = 1.375: each output is exactly 1/3
EQUAL = {
    "layers": [layer("o", "softmax", [[0.25, 0.5], [0.25, 0.5], [0.25, 0.5]], 0.125)],
    "examples": [{"inputs": [1.0, 2.0], "targets": [0, 1, 0]}],
}


def test_softmax_with_equal_inputs_and_cross_entropy():
    network = Network.from_dict({**EQUAL, "loss": "cross_entropy"}, name="equal")
    steps = steps_of(network)
    with mpmath.workdps(60):
        third, eps = mpmath.mpf(1) / 3, mpmath.mpf("1e-38")
        for j in (1, 2, 3):
            assert mpmath.almosteq(steps.find(f"out_o{j}").value, third, rel_eps=eps)
        assert mpmath.almosteq(steps.find("E_total").value, mpmath.log(3), rel_eps=eps)
    # δ = out − t: 1/3, −2/3, 1/3; ∂E/∂w = δ·x
    expected = {"w1": 1 / 3, "w2": 2 / 3, "w3": -2 / 3, "w4": -4 / 3, "w5": 1 / 3, "w6": 2 / 3, "b1": 0.0}
    assert {name: g.value for name, g in network.gradients().items()} == pytest.approx(expected, rel=1e-15, abs=1e-38)
    assert_steps_match_the_reference(network)


def test_softmax_with_equal_inputs_and_squared_error():
    """The full Jacobian: δ_j = out_j (∂E/∂out_j − Σ_k ∂E/∂out_k out_k) = (1/3)(o − t − mean(o − t))."""
    network = Network.from_dict(
        {**EQUAL, "loss": "half_sse", "examples": [{"inputs": [1.0, 2.0], "targets": [0.25, 0.25, 0.5]}]},
        name="equal",
    )
    steps = steps_of(network)
    residuals = [Fraction(1, 3) - t for t in (Fraction(1, 4), Fraction(1, 4), Fraction(1, 2))]
    mean = sum(residuals) / 3
    for j, residual in enumerate(residuals, 1):
        assert float(steps.find(f"delta_o{j}").value) == pytest.approx(float((residual - mean) / 3), rel=1e-14)
    assert_steps_match_the_reference(network)
    history, _ = reference.train(reference.from_spec(network.spec), 3)
    assert network.train(3).history == pytest.approx(history, rel=1e-12)


# -- a zero learning rate -------------------------------------------------------------------------


def test_a_zero_learning_rate_is_refused_in_a_file(tmp_path):
    """A file asks for a positive rate (a teacher wanting no step has `derive gradients`, `train --steps 0`)."""
    (tmp_path / "still.toml").write_text(
        run_derive("example").stdout.replace("learning_rate = 0.5", "learning_rate = 0")
    )
    result = run_derive("gradients", "still.toml", cwd=tmp_path, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "derive: still.toml: learning_rate: expected a positive number, got 0\n"


def test_a_zero_learning_rate_in_the_api_takes_no_step(tmp_path):
    network = Network.from_dict(
        {
            "train_biases": True,
            "layers": [layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35), layer("o", "tanh", [[0.4, 0.45]], 0.6)],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.01]}, {"inputs": [0.5, -0.1], "targets": [0.5]}],
        },
        name="still",
    ).with_options(learning_rate=Fraction(0))
    before = network.parameters()
    steps = steps_of(network)
    assert all(steps.find(f"{name}+").value == network.derivation.parameters[name] for name in before)
    assert steps.find("E_total+").value == steps.find("E_total").value
    assert any(g.value != 0 for g in network.gradients().values())  # the gradients are there, only η is 0
    assert network.step().parameters() == before
    result = network.train(5)
    assert result.network.parameters() == before and len(set(result.history)) == 1
    assert result.history[0] == pytest.approx(reference.total_loss(reference.from_spec(network.spec)), rel=1e-15)
    assert load(module_source(network), tmp_path).step() == before


# -- targets equal to the outputs -----------------------------------------------------------------

# out_o1 = 2·relu(1) + 1·relu(3) + 1 = 6, the first example's target; the second misses by 1
ON_TARGET = {
    "loss": "mse",
    "reduction": "mean",
    "layers": [layer("h", "relu", [[1.0, 0.0], [0.0, 1.0]], 0.0), layer("o", "linear", [[2.0, 1.0]], 1.0)],
    "examples": [{"inputs": [1.0, 3.0], "targets": [6.0]}, {"inputs": [0.5, 0.5], "targets": [1.5]}],
}


def test_targets_equal_to_the_outputs_give_no_error_and_no_gradient(tmp_path):
    network = Network.from_dict({**ON_TARGET, "examples": ON_TARGET["examples"][:1]}, name="on target")
    assert network.loss() == 0.0
    assert all(g.precise == 0 for g in network.gradients().values())
    before = network.parameters()
    assert network.step().parameters() == before
    result = network.train(10)
    assert result.history == [0.0] * 11 and result.network.parameters() == before
    path = tmp_path / "on_target.json"
    path.write_text(__import__("json").dumps({**ON_TARGET, "examples": ON_TARGET["examples"][:1]}))
    text = run_derive("train", str(path), "--steps", "3").stdout
    assert "E_total fell" not in text  # nothing fell: no ratio of 0 to 0
    assert [line.split() for line in text.splitlines() if line.strip().startswith(("0 ", "3 "))] == [
        ["0", "0"],
        ["3", "0"],
    ]


def test_an_example_on_target_contributes_nothing():
    network = Network.from_dict(ON_TARGET, name="half on target")
    steps = steps_of(network)
    assert steps.find("E_o1@1").value == 0 and steps.find("delta_o1@1").value == 0
    assert steps.find("delta_h1@1").value == 0 and steps.find("delta_h2@1").value == 0
    assert_steps_match_the_reference(network)
    history, trained = reference.train(reference.from_spec(network.spec), 5)
    result = network.train(5)
    assert result.history == pytest.approx(history, rel=1e-14)
    assert result.network.parameters() == pytest.approx(trained.parameters(), rel=1e-14)


# -- outputs saturated to 0 or 1 at 40 digits -----------------------------------------------------

# o2's net input is 400·tanh(tanh(1) + tanh(0.5)) ≈ 395: σ of it is 1 to 40 digits
SATURATING = [
    layer("h", "tanh", [[0.5], [0.25]], 0.0),
    layer("g", "tanh", [[1.0, 1.0]], 0.0),
    layer("o", "sigmoid", [[0.5], [400.0]], 0.0),
]


def test_binary_cross_entropy_refuses_an_output_of_1():
    network = Network.from_dict(
        {"loss": "bce", "layers": SATURATING, "examples": [{"inputs": [2.0], "targets": [0.5, 1.0]}]}, name="s"
    )
    with pytest.raises(DeriveError) as raised:
        network.loss()
    assert str(raised.value) == (
        "output o2 is 1 to 40 digits, where the logarithm of loss 'bce' is infinite; use smaller weights or "
        "inputs so that the outputs stay strictly between 0 and 1"
    )


def test_cross_entropy_takes_an_output_of_1():
    """−t·ln(out) needs out > 0 only: at out = 1 the error is 0, and so is every gradient through it."""
    network = Network.from_dict(
        {"loss": "cross_entropy", "layers": SATURATING, "examples": [{"inputs": [2.0], "targets": [0.5, 1.0]}]},
        name="s",
    )
    steps = steps_of(network)
    assert steps.find("out_o2").value == 1 and steps.find("E_o2").value == 0
    with mpmath.workdps(60):
        out = 1 / (1 + mpmath.exp(-0.5 * mpmath.tanh(mpmath.tanh(1) + mpmath.tanh(0.5))))
        assert mpmath.almosteq(steps.find("E_total").value, -0.5 * mpmath.log(out), rel_eps=mpmath.mpf("1e-38"))
    gradients = network.gradients()
    assert gradients["w6"].precise == 0  # o2's weight
    assert_steps_match_the_reference(network)


# -- the form of softmax's error signal ------------------------------------------------------------


def test_softmax_with_cross_entropy_has_the_simplest_error_signal():
    """δ = out − t when the targets add up to 1 (one-hot); out·Σt − t when they do not."""
    out, target = sp.symbols("out_o1 t_o1")
    one_hot = steps_of(Network.from_dict({**EQUAL, "loss": "cross_entropy"}, name="one-hot"))
    assert one_hot.find("delta_o1").formula == out - target
    soft = {**EQUAL, "loss": "cross_entropy", "examples": [{"inputs": [1.0, 2.0], "targets": [0.5, 0.25, 0]}]}
    steps = steps_of(Network.from_dict(soft, name="soft"))
    mass = sum(sp.symbols("t_o1 t_o2 t_o3"))
    assert sp.simplify(steps.find("delta_o1").formula - (out * mass - target)) == 0
    assert_steps_match_the_reference(Network.from_dict(soft, name="soft"))


# -- leaky ReLU at exactly 0 ----------------------------------------------------------------------

# h1: 0.5·1 − 0.25·2 + 0 = 0 exactly; its slope there is the negative slope a = 0.25 (README: leaky
# ReLU takes its lower slope at the kink, as ReLU does); o1 = 0.5·out_h1 + 0.25 = 0.25, target 1
LEAKY_AT_ZERO = Network.from_dict(
    {
        "layers": [
            {**layer("h", "leaky_relu", [[0.5, -0.25]], 0.0), "negative_slope": 0.25},
            layer("o", "linear", [[0.5]], 0.25),
        ],
        "examples": [{"inputs": [1.0, 2.0], "targets": [1.0]}],
    },
    name="leaky at zero",
)


def test_leaky_relu_at_exactly_zero_takes_its_negative_slope() -> None:
    """By hand: δ_o1 = −(t − out) = −0.75, δ_h1 = δ_o1 · w3 · a = −0.75 · 0.5 · 0.25 = −0.09375."""
    steps = steps_of(LEAKY_AT_ZERO)
    assert steps.find("net_h1").value == 0 and steps.find("out_h1").value == 0
    assert steps.find("dout_h1/dnet_h1").value == 0.25  # a, not the slope 1 above the kink
    assert steps.find("delta_h1").value == -0.09375
    expected = {"w1": -0.09375, "w2": -0.1875, "w3": 0.0, "b1": -0.09375, "b2": -0.75}
    assert {name: g.precise for name, g in LEAKY_AT_ZERO.gradients().items()} == expected
    trained = LEAKY_AT_ZERO.train(1).network.parameters()
    assert trained["w1"] == 0.5 + 0.5 * 0.09375 and trained["b1"] == 0.0 + 0.5 * 0.09375


# h1: 0.5·1 − 1.25·2 = −2, below the kink; no negative_slope: the README's default a = 0.01
LEAKY_BY_DEFAULT = Network.from_dict(
    {
        "layers": [layer("h", "leaky_relu", [[0.5, -1.25]], 0.0), layer("o", "linear", [[0.5]], 0.25)],
        "examples": [{"inputs": [1.0, 2.0], "targets": [1.0]}],
    },
    name="leaky by default",
)


def test_leaky_relu_without_a_negative_slope_takes_0_01(tmp_path: Path) -> None:
    """By hand: out_h1 = 0.01 · (−2) = −0.02, out_o1 = 0.5 · (−0.02) + 0.25 = 0.24, δ_o1 = −0.76,
    δ_h1 = −0.76 · 0.5 · 0.01 = −0.0038; ∂E/∂w = δ · its input (w3: −0.76 · −0.02)."""
    expected = {"w1": -0.0038, "w2": -0.0076, "w3": 0.0152, "b1": -0.0038, "b2": -0.76}
    steps = steps_of(LEAKY_BY_DEFAULT)
    assert float(steps.find("out_h1").value) == pytest.approx(-0.02, rel=1e-15)
    assert float(steps.find("dout_h1/dnet_h1").value) == pytest.approx(0.01, rel=1e-15)
    gradients = {name: float(g.precise) for name, g in LEAKY_BY_DEFAULT.gradients().items()}
    assert gradients == pytest.approx(expected, rel=1e-14)
    _, generated = load(module_source(LEAKY_BY_DEFAULT), tmp_path).loss_and_gradients()
    assert generated == pytest.approx(expected, rel=1e-14)


def test_elu_below_zero_has_the_slope_e_to_the_net_written_out_plus_1() -> None:
    """ELU (α = 1) at net = −1: out = e^−1 − 1 and f' = e^−1, which the working writes as out + 1."""
    network = Network.from_dict(
        {
            "layers": [layer("h", "elu", [[0.5, -0.75]], 0.0), layer("o", "linear", [[0.5]], 0.25)],
            "examples": [{"inputs": [1.0, 2.0], "targets": [1.0]}],
        },
        name="elu",
    )
    steps = steps_of(network)
    with mpmath.workdps(60):
        assert mpmath.almosteq(steps.find("out_h1").value, mpmath.exp(-1) - 1, rel_eps=mpmath.mpf("1e-38"))
        assert mpmath.almosteq(steps.find("dout_h1/dnet_h1").value, mpmath.exp(-1), rel_eps=mpmath.mpf("1e-38"))
    out = sp.Symbol("out_h1")
    assert steps.find("dout_h1/dnet_h1").formula.args[1][0] == sp.Add(out, 1, evaluate=False)
    assert r"\mathrm{out}_{h1} + 1 & \mathrm{net}_{h1} \le 0" in explanation(network.spec)


# -- momentum and weight decay in the compiled step ------------------------------------------------


def textbook_rule(rate: float, beta: float, decay: float) -> reference.Rule:
    """g ← g + λ·w for a weight; Δθ ← β·Δθ − η·g, θ ← θ + Δθ (β = 0: plain descent), per layer and kind."""
    velocity: dict[tuple[int, str], np.ndarray] = {}

    def rule(layer: int, kind: str, value: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        if kind == "weights":
            gradient = gradient + decay * value
        velocity[layer, kind] = beta * velocity.get((layer, kind), np.zeros_like(value)) - rate * gradient
        return value + velocity[layer, kind]

    return rule


@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
@pytest.mark.parametrize(("momentum", "decay"), [(0.75, 0.0), (0.0, 0.25), (0.75, 0.25)])
def test_momentum_and_weight_decay_train_as_the_textbook_rule(order: str, momentum: float, decay: float) -> None:
    """Three steps: the velocity carries each Δθ into the next, decay pulls the weights (not the biases)."""
    network = Network.from_dict(
        {
            "train_biases": True,
            "momentum": momentum,
            "weight_decay": decay,
            "layers": [layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35), layer("o", "tanh", [[0.4, 0.45]], 0.6)],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.01]}, {"inputs": [0.5, -0.1], "targets": [0.5]}],
        },
        name="textbook rule",
    )
    rule = textbook_rule(0.5, momentum, decay)
    # the decay is this test's rule's: the reference's own gradients leave it out
    plain = dataclasses.replace(reference.from_spec(network.spec), weight_decay=0.0)
    history, trained = reference.train(plain, 3, order, rule)
    result = network.train(3, update=order)
    assert result.history == pytest.approx(history, rel=1e-13)
    assert result.network.parameters() == pytest.approx(trained.parameters(), rel=1e-12)


def test_one_hot_and_other_targets_do_not_share_a_compiled_step() -> None:
    """δ = out − t holds only when every example's targets add up to 1: a network of the same shape
    with one example that does not, trained after an all one-hot one, still trains as the reference."""
    clear_cache()
    one_hot = {"inputs": [1.0, 2.0], "targets": [0, 1, 0]}
    for name, other in (("one-hot", {"inputs": [2.0, 1.0], "targets": [1, 0, 0]}),
                        ("mixed", {"inputs": [1.0, 1.0], "targets": [0.5, 0.25, 0]})):  # fmt: skip
        network = Network.from_dict({**EQUAL, "loss": "cross_entropy", "examples": [one_hot, other]}, name=name)
        history, trained = reference.train(reference.from_spec(network.spec), 2)
        result = network.train(2)
        assert result.history == pytest.approx(history, rel=1e-13), name
        assert result.network.parameters() == pytest.approx(trained.parameters(), rel=1e-12), name


def test_a_batch_step_is_generated_from_targets_not_adding_up_to_1() -> None:
    """A batch of one generated for examples one-hot and not: it holds one that is not (the general δ)."""
    spec = Network.from_dict(
        {
            **EQUAL,
            "loss": "cross_entropy",
            "examples": [
                {"inputs": [1.0, 2.0], "targets": [0, 1, 0]},
                {"inputs": [2.0, 1.0], "targets": [1, 0, 0]},
                {"inputs": [1.0, 1.0], "targets": [0.5, 0.25, 0]},
            ],
        },
        name="mixed",
    ).spec
    assert [sum(e.targets) for e in generation_spec(spec, 1).examples] == [Fraction(3, 4)]
    assert sorted(sum(e.targets) for e in generation_spec(spec, 3).examples) == [Fraction(3, 4), 1, 1]


@pytest.mark.parametrize(("reduction", "expected"), [("mean", 0.5), ("sum", 1.0)])
def test_the_float_loss_is_the_sum_or_the_mean_of_the_examples_errors(reduction: str, expected: float) -> None:
    """ON_TARGET: example 1 is on target (error 0); example 2 gives 2·0.5 + 1·0.5 + 1 = 2.5 for 1.5, error 1."""
    network = Network.from_dict({**ON_TARGET, "reduction": reduction}, name=reduction)
    assert reference.total_loss(reference.from_spec(network.spec)) == expected
    assert FloatTraining(network.spec, "simultaneous").loss() == expected


def test_training_stops_before_an_update_at_its_goal() -> None:
    """ON_TARGET's E_total is exactly 0.5 (see above): at the goal 0.5 before the first update, so
    none is made (at most the goal: ≤, not <)."""
    network = Network.from_dict(ON_TARGET, name="at the goal")
    result = network.train(10, until=0.5)
    assert result.history == [0.5] and result.network.parameters() == network.parameters()
    assert (result.stopped_at.epoch, result.stopped_at.update) == (0, 0)


def test_an_update_on_some_examples_is_the_references_step_on_them() -> None:
    """A mini-batch update (examples 2 and 1 of the three) as the NumPy reference takes it."""
    spec = network_of_three_examples().spec
    trainer = FloatTraining(spec, "simultaneous")
    trainer.update((1, 0))
    expected = reference.step(reference.from_spec(spec), examples=[1, 0]).after.parameters()
    assert dict(zip(spec.parameter_names(), trainer.parameters(), strict=True)) == pytest.approx(expected, rel=1e-13)


def network_of_three_examples() -> Network:
    return Network.from_dict(
        {
            "train_biases": True,
            "layers": [layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35), layer("o", "tanh", [[0.4, 0.45]], 0.6)],
            "examples": [
                {"inputs": [0.05, 0.1], "targets": [0.01]},
                {"inputs": [0.5, -0.1], "targets": [0.5]},
                {"inputs": [-0.3, 0.2], "targets": [0.25]},
            ],
        },
        name="three examples",
    )
