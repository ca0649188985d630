"""What a derivation hands its users, checked against references outside derive.

The chain of a gradient as the textbook writes it (the tutorial's own figures for w5), the
order of its terms and factors, the rule of every factor, value objects that cannot be changed
behind a user's back, the weight-decay penalty and objective against the sum written out here,
each parameter's change against the NumPy reference's step, and the composed gradients (with
weight decay, in the sequential order) against ``sympy.diff`` and the reference.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from derive import Network, example
from derive.assessment.grading import grade
from derive.core.chain import Derivation
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.steps import build_steps
from derive.errors import DeriveError
from derive.training.compiled import compiled
from tests import reference_training as reference

WORKED = example()  # the tutorial's network: i1, i2 → h1, h2 → o1, o2, one example
DECAY = Fraction(1, 10)  # λ, where a test needs weight decay

# The tutorial's figures for ∂E_total/∂w5 (Mazur's step-by-step example, 9 digits)
TUTORIAL_W5 = ("0.74136507", "0.186815602", "0.593269992", "0.082167041")


def partial(of: str, wrt: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"


def test_the_chain_of_w5_is_the_tutorials():
    """∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5, with the tutorial's numbers."""
    total, out, net = r"E_{\text{total}}", r"\mathrm{out}_{o1}", r"\mathrm{net}_{o1}"
    d_out, slope, link, gradient = TUTORIAL_W5
    assert WORKED.gradients()["w5"].latex() == (
        f"{partial(total, 'w_{5}')} = {partial(total, out)} \\cdot {partial(out, net)} \\cdot {partial(net, 'w_{5}')}"
        f" = {d_out} \\cdot {slope} \\cdot {link} = {gradient}"
    )


def test_a_gradient_of_two_terms_adds_their_products():
    """The shared bias b2 feeds o1 and o2: two chains, joined by +, each a product of three factors."""
    text = WORKED.gradients()["b2"].latex()
    total = r"E_{\text{total}}"
    chains = []
    for o in ("o1", "o2"):
        out, net = rf"\mathrm{{out}}_{{{o}}}", rf"\mathrm{{net}}_{{{o}}}"
        chains.append(rf"{partial(total, out)} \cdot {partial(out, net)} \cdot {partial(net, 'b_{2}')}")
    assert f" = {chains[0]} + {chains[1]} = " in text
    # the NumPy reference's ∂E/∂b2, to the 9 digits shown
    assert text.endswith(f" = {reference.quantities(WORKED.spec)['dE/db2']:.9f}")
    assert r"\cdot 1 + \left(-0.217071535\right) \cdot " in text  # ∂E/∂out_o2 = −(0.99 − 0.772928465)


@pytest.mark.parametrize("name", ["mazur", "deep", "softmax"])
def test_terms_and_factors_keep_the_order_they_are_derived_in(name):
    """The chain is kept as derived: examples in order, the decay term last, each product's factors in order."""
    network = example(name).with_options(weight_decay=DECAY)
    for gradient in network.gradients().values():
        terms = [term.expr for term in gradient.chain] + ([gradient.decay.expr] if gradient.decay else [])
        # a sum of one term is that term
        assert (gradient.chain_expr.args if len(terms) > 1 else (gradient.chain_expr,)) == tuple(terms), gradient.name
        for term in gradient.chain:
            assert term.expr.args == tuple(factor.expr for factor in term.factors)


def test_every_factor_names_its_rule():
    """w1: the sum over the paths through o1 and o2 (each δ_o · w), the logistic slope, linearity."""
    gradients = WORKED.with_options(weight_decay=DECAY).gradients()
    (term,) = gradients["w1"].chain
    assert [factor.rule for factor in term.factors] == ["sum_over_paths", "logistic", "linearity"]
    assert [[factor.rule for factor in path] for path in term.factors[0].paths] == [["delta", "linearity"]] * 2
    assert [[f.rule for f in t.factors] for t in gradients["b2"].chain] == [["power", "logistic", "linearity"]] * 2
    assert gradients["w1"].decay.rule == "weight_decay"
    assert gradients["b1"].decay is None  # biases take no decay


def value_objects():
    """One instance of each value type the core hands out."""
    derivation = WORKED.derivation
    gradient = derivation.gradients["w5"]
    steps = build_steps(derivation, ())
    graded = grade(steps, {"net_h1": Decimal("0.3775")})
    return {
        "Factor": gradient.chain[0].factors[0],
        "Term": gradient.chain[0],
        "Delta": derivation.deltas[0][-1][0],
        "Gradient": gradient,
        "ExampleValues": derivation.forward[0],
        "Activation": ACTIVATIONS["sigmoid"],
        "Loss": LOSSES["half_sse"],
        "Compiled": compiled(WORKED.spec, "simultaneous"),
        "Grade": graded,
        "Row": graded.rows[0],
        "Used": next(row.used[0] for row in graded.rows if row.used),
    }


@pytest.mark.parametrize("kind", list(value_objects()))
def test_value_objects_cannot_be_changed_and_can_be_hashed_or_compared(kind):
    """Shared tables (ACTIVATIONS, the compiled cache) and results stay as derived."""
    instance = value_objects()[kind]
    field = dataclasses.fields(instance)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, field, None)
    assert instance == dataclasses.replace(instance)


def test_a_gradient_is_a_value_and_prints_without_its_derivation():
    """Two derivations of one network give equal gradients; the repr stays the gradient's own."""
    first, second = Derivation(WORKED.spec).gradients["w5"], Derivation(WORKED.spec).gradients["w5"]
    assert first == second and hash(first) == hash(second)
    assert "Derivation" not in repr(first) and "derivation" not in repr(first)


# -- weight decay: what each update descends ------------------------------------------------------

TUTORIAL_WEIGHTS = [Fraction(n, 100) for n in (15, 20, 25, 30, 40, 45, 50, 55)]  # w1 … w8


def test_the_penalty_and_objective_are_the_sums_written_out():
    """penalty = (λ/2)·Σ w² over the weights only; objective = E_total + penalty."""
    derivation = WORKED.with_options(weight_decay=DECAY).derivation
    penalty = DECAY / 2 * sum(w * w for w in TUTORIAL_WEIGHTS)  # 0.0565: the biases 0.35, 0.6 left out
    with mpmath.workdps(50):
        assert abs(derivation.penalty - mpmath.mpf(penalty.numerator) / penalty.denominator) < 1e-38
    e_total = reference.total_loss(reference.from_spec(WORKED.spec))
    assert float(derivation.objective) == pytest.approx(e_total + float(penalty), rel=1e-14)


def test_weight_decay_gradients_are_sympy_diff_of_the_objective():
    """∂/∂θ [E_total + (λ/2)·Σ w²], composed and differentiated by SymPy, equals Gradient.expr."""
    network = WORKED.with_options(weight_decay=DECAY)
    graph = network.derivation.graph
    weights = [symbol for name, symbol in graph.parameters.items() if name.startswith("w")]
    objective = graph.composed_loss + sp.Rational(DECAY.numerator, DECAY.denominator) / 2 * sum(w**2 for w in weights)
    at = graph.numbers()
    expected = reference.quantities(network.spec)
    for name, gradient in network.gradients().items():
        difference = sp.diff(objective, graph.parameters[name]) - gradient.expr
        assert abs(sp.N(difference.subs(at), 30)) < 1e-25, name
        assert float(sp.N(gradient.expr.subs(at), 30)) == pytest.approx(expected[f"dE/d{name}"], rel=1e-13), name


# -- each parameter's change -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"train_biases": True}, {"momentum": Fraction(1, 2), "previous_update": {"w5": Fraction(1, 10)}}],
    ids=["plain", "biases trained", "momentum"],
)
def test_each_change_is_the_step_the_reference_takes(options):
    """Δθ = θ⁺ − θ of the reference's step (β·Δθ_previous − η·∂E/∂θ); a fixed bias moves by 0."""
    network = WORKED.with_options(**options)
    derivation = network.derivation
    after = reference.quantities(network.spec)
    for name, change in derivation.changes.items():
        moved = after[f"{name}+"] - float(derivation.parameters[name])
        assert float(change) == pytest.approx(moved, rel=1e-12, abs=1e-15), name
    if not network.spec.train_biases:
        assert derivation.changes["b1"] == 0 and derivation.changes["b2"] == 0


def test_sequential_gradients_compose_through_the_updated_weights():
    """In the sequential order a hidden chain runs through w⁺: Gradient.expr at the numbers is the reference's."""
    assert Derivation(WORKED.spec).update == "simultaneous"  # the documented default
    expected = r"^update: unknown update order 'sequental' \(expected one of: simultaneous, sequential\)$"
    with pytest.raises(DeriveError, match=expected):
        Derivation(WORKED.spec, "sequental")  # a typo must not quietly mean the simultaneous order
    derivation = Derivation(WORKED.spec, "sequential")
    at = derivation.graph.numbers()
    expected = reference.quantities(WORKED.spec, "sequential")
    assert expected["dE/dw1"] != pytest.approx(reference.quantities(WORKED.spec)["dE/dw1"], rel=1e-6)
    for name, gradient in derivation.gradients.items():
        assert float(sp.N(gradient.expr.subs(at), 30)) == pytest.approx(expected[f"dE/d{name}"], rel=1e-12), name


@pytest.mark.parametrize(
    "options",
    [
        {"momentum": 0.9, "previous_update": {"w5": 0.02, "w6": -0.01, "w7": 0.03, "w8": -0.04}},
        {"weight_decay": 0.01},
        {"momentum": 0.5, "weight_decay": 0.01, "previous_update": {"w6": 0.05, "w7": -0.02}},
    ],
    ids=["momentum", "decay", "momentum and decay"],
)
def test_sequential_gradients_compose_through_the_updated_weights_with_momentum_and_decay(options):
    """w⁺ = w + β·Δw_before − η·(∂E/∂w + λw) in the chains of the layer below, as the reference updates."""
    network = WORKED.with_options(**options)
    derivation = Derivation(network.spec, "sequential")
    at = derivation.graph.numbers()
    expected = reference.quantities(network.spec, "sequential")
    plain = reference.quantities(WORKED.spec, "sequential")
    assert expected["dE/dw1"] != pytest.approx(plain["dE/dw1"], rel=1e-9)  # the options reach the chains
    for name, gradient in derivation.gradients.items():
        assert float(sp.N(gradient.expr.subs(at), 30)) == pytest.approx(expected[f"dE/d{name}"], rel=1e-12), name


def test_each_examples_error_has_its_value():
    """Derivation.values holds every symbol's value, E^(p) of each example too."""
    network = example("deep")
    derivation = network.derivation
    expected = reference.quantities(network.spec)
    losses = derivation.graph.example_loss
    assert len(losses) == len(network.spec.examples) > 1
    for p, symbol in enumerate(losses):
        assert float(derivation.values[symbol]) == pytest.approx(expected[f"E_total@{p + 1}"], rel=1e-13)


def test_an_update_order_that_is_not_a_string_is_a_clear_error():
    with pytest.raises(DeriveError, match=r"^update: unknown update order \['sequential'\]"):
        WORKED.step(update=["sequential"])


# -- softmax ------------------------------------------------------------------------------------------


def softmax_layer(weights, targets):
    return Network.from_dict(
        {
            "loss": "cross_entropy",
            "layers": [{"name": "o", "activation": "softmax", "weights": weights, "bias": 0}],
            "examples": [{"inputs": [1], "targets": targets}],
        },
        name="softmax",
    )


def test_softmax_depends_only_on_the_differences_of_its_net_inputs():
    """out_o1 = 1/(1 + e^(net_o2 − net_o1)): net inputs 2^135 and 2^135 + 1 give 1/(1 + e), as 0 and 1 do."""
    network = softmax_layer([[2**135], [2**135 + 1]], [0, 1])
    out_o1, out_o2 = network.derivation.forward[0].out[-1]
    with mpmath.workdps(60):
        assert abs(out_o1 - 1 / (1 + mpmath.e)) < mpmath.mpf(10) ** -38
        assert abs(out_o2 - mpmath.e / (1 + mpmath.e)) < mpmath.mpf(10) ** -38


def test_the_sum_of_the_targets_keeps_the_layers_order():
    """δ_o1 = out_o1·(t_o1 + t_o2 + … + t_o11) − t_o1: t_o10 and t_o11 come last, not sorted as text."""
    network = softmax_layer([[Fraction(k, 10)] for k in range(11)], [Fraction(1, 10)] * 11)
    targets = network.derivation.graph.targets[0]
    (factor,) = network.derivation.deltas[0][-1][0].factors
    sums = [part for part in sp.preorder_traversal(factor.expr) if isinstance(part, sp.Add) and len(part.args) == 11]
    assert [tuple(part.args) for part in sums] == [tuple(targets)]
