"""The fast paths give the right numbers: compiled training, shared δs, skipped contexts.

Each path is compared with the independent NumPy trainer (tests/reference_training.py), never with
another of derive's paths.  No test here measures time; ``benchmarks/run.py`` does that.
"""

import gc
import itertools
import random
from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from derive import Network, example
from derive.core.chain import Derivation
from derive.core.functions import ACTIVATIONS
from derive.core.numbers import PRECISION, exact, full_precision
from derive.core.printing import TextbookPrinter
from derive.outputs.report import factor_latex, gradients_json
from derive.training.compiled import clear_cache, compiled
from derive.training.descent import train
from tests import reference_training as reference


def layer(name, activation, weights, bias):
    return {"name": name, "activation": activation, "weights": weights, "bias": bias}


def sigmoid_network(sizes, n_examples=1, seed=0, **options):
    """inputs → hidden → … → outputs, all sigmoid, with two-decimal values drawn from ``seed``."""
    rng = random.Random(seed)
    value = lambda low, high: Fraction(rng.randint(low, high), 100)  # noqa: E731
    layers = [
        layer(
            f"l{index}x",
            "sigmoid",
            [[value(-100, 100) for _ in range(fan_in)] for _ in range(size)],
            [value(-50, 50) for _ in range(size)] if index % 2 else value(-50, 50),
        )
        for index, (fan_in, size) in enumerate(itertools.pairwise(sizes))
    ]
    examples = [
        {"inputs": [value(0, 100) for _ in range(sizes[0])], "targets": [value(0, 100) for _ in range(sizes[-1])]}
        for _ in range(n_examples)
    ]
    return Network.from_dict({"layers": layers, "examples": examples, **options}, name="-".join(map(str, sizes)))


# about 500 weights: 10·15 + 15·15 + 15·8 = 495
LARGE = sigmoid_network([10, 15, 15, 8], n_examples=2, seed=5)

NETWORKS = {
    "worked example": example(),
    "worked example, rounded by hand": example().with_options(round_activations=4),
    "biases trained, several examples, mean": sigmoid_network(
        [3, 4, 2], n_examples=3, seed=1, reduction="mean", train_biases=True
    ),
    "biases fixed": sigmoid_network([3, 4, 2], seed=2, train_biases=False),
    "tanh, relu and linear": Network.from_dict(
        {
            "loss": "mse",
            "layers": [
                layer("a", "tanh", [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [0.1, -0.1, 0.2]),
                layer("b", "relu", [[0.7, 0.2, -0.1], [0.3, 0.5, 0.9]], 0.05),
                layer("o", "linear", [[1.2, -0.4], [0.3, 0.8]], 0.0),
            ],
            "examples": [{"inputs": [1.0, 2.0], "targets": [1.0, 0.5]}, {"inputs": [0.5, 0.25], "targets": [0.0, 1.0]}],
        },
        name="mixed",
    ),
    "softmax with cross-entropy": Network.from_dict(
        {
            "loss": "cross_entropy",
            "layers": [
                layer("h", "sigmoid", [[0.15, 0.2], [0.25, 0.3]], 0.35),
                layer("o", "softmax", [[0.4, 0.45], [0.5, 0.55], [-0.1, 0.2]], 0.6),
            ],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0, 1, 0]}, {"inputs": [0.5, -0.1], "targets": [1, 0, 0]}],
        },
        name="softmax",
    ),
    "bce": sigmoid_network([4, 5, 3], n_examples=2, seed=3, loss="bce"),
    "495 weights": LARGE,
}


def assert_parameters(actual: dict[str, float], expected: dict[str, float], rel: float, absolute: float) -> None:
    assert list(actual) == list(expected)
    for parameter, value in expected.items():
        assert actual[parameter] == pytest.approx(value, rel=rel, abs=absolute), parameter


def trained_floats(fast) -> dict[str, float]:
    return {name: float(value) for name, value in fast.spec.parameters().items()}


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_both_paths_take_the_reference_step(name, update, matrices):
    """The plain-float and the matrix step, and the 40-digit step, against the NumPy reference."""
    network = NETWORKS[name]
    done = reference.step(reference.from_spec(network.spec), update)
    fast = train(network.spec, 1, update, matrices=matrices)
    assert fast.history[0] == pytest.approx(done.loss, rel=1e-12, abs=1e-15)
    assert network.loss() == pytest.approx(done.loss, rel=1e-13, abs=1e-15)
    expected = done.after.parameters()
    assert_parameters(trained_floats(fast), expected, rel=1e-12, absolute=1e-14)
    assert_parameters(network.step(update=update).parameters(), expected, rel=1e-12, absolute=1e-14)


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
def test_compiled_training_of_495_weights_follows_the_reference(update, matrices):
    history, trained = reference.train(reference.from_spec(LARGE.spec), 3, update)
    fast = train(LARGE.spec, 3, update, matrices=matrices)
    assert fast.history == pytest.approx(history, rel=1e-12)
    assert_parameters(trained_floats(fast), trained.parameters(), rel=1e-11, absolute=1e-13)


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", ["worked example", "biases trained, several examples, mean", "495 weights"])
def test_shared_deltas_give_each_terms_reference_value(name, update):
    """Each chain-rule term, built from its neuron's shared δ, is that example's δ_j · x_k in the reference.

    A hidden δ's sum over paths holds, path by path, δ_k · w_kj of the layer above (w_kj⁺ in the
    sequential order): the reference's own δ and weights.
    """
    network = NETWORKS[name]
    derivation = Derivation(network.spec, update)
    net = reference.from_spec(network.spec)
    done = reference.step(net, update)
    # the input k each weight comes from, in the README's numbering (layer by layer, row by row)
    source = {
        f"w{n}": k for n, k in enumerate((k for la in net.layers for row in la.weights for k in range(len(row))), 1)
    }
    for gradient in derivation.gradients.values():
        for term in gradient.chain:
            p, L, j = term.example, term.neuron.layer, term.neuron.index
            # ∂net/∂θ: the input the weight multiplies, or 1 for a bias
            link = done.passes[p].inputs[L][source[gradient.name]] if gradient.name in source else 1.0
            assert float(term.factors[-1].precise) == pytest.approx(link, rel=1e-14), gradient.name
            expected = done.deltas[p][L][j] * link
            assert float(term.precise) == pytest.approx(expected, rel=1e-12, abs=1e-16), gradient.name
    for p, layers in enumerate(derivation.deltas):
        for L, row in enumerate(layers[:-1]):
            for j, delta in enumerate(row):
                total, _ = delta.factors
                products = [float(a.precise) * float(b.precise) for a, b in total.paths]
                expected = done.deltas[p][L + 1] * done.through.layers[L + 1].weights[:, j]
                assert products == pytest.approx(list(expected), rel=1e-12, abs=1e-16)
                assert float(delta.precise) == pytest.approx(done.deltas[p][L][j], rel=1e-12, abs=1e-16)


@pytest.mark.parametrize("outside", [None, 15, 60])
def test_numbers_are_exact_to_the_full_precision_whatever_the_caller_works_at(outside):
    callers = mpmath.mp.dps
    value = Fraction(1, 3)
    with mpmath.workdps(PRECISION):
        reference = mpmath.mpf(1) / 3
    if outside is None:
        assert exact(value) == reference
    else:
        with mpmath.workdps(outside):
            assert exact(value) == reference
            with full_precision():
                assert mpmath.mp.dps == PRECISION
            assert mpmath.mp.dps == outside
    assert mpmath.mp.dps == callers  # the caller's precision is left as it was


def test_gradients_do_not_depend_on_the_callers_precision():
    with mpmath.workdps(15):
        low = {name: g.precise for name, g in Derivation(LARGE.spec).gradients.items()}
    high = {name: g.precise for name, g in Derivation(LARGE.spec).gradients.items()}
    assert low == high


@pytest.mark.parametrize("name", [name for name, activation in ACTIVATIONS.items() if activation.function])
def test_activations_built_unevaluated_are_the_same_expressions(name):
    """The engine builds out = f(net) unevaluated (no tensor import at start-up): the same tree."""
    net = sp.Symbol("net_h1")
    with sp.evaluate(False):
        unevaluated = ACTIVATIONS[name].output(net)
    assert sp.srepr(unevaluated) == sp.srepr(ACTIVATIONS[name].output(net))


@pytest.mark.parametrize("name", ["mazur", "softmax", "cnn", "rnn"])
def test_renaming_builds_the_tree_sympys_unevaluated_replacement_builds(name):
    """``renamed`` (a mistake's variant, the pass after the update) keeps every form as written without
    switching SymPy's evaluate off: for every formula of a document, each symbol replaced by a new one, by
    0, by 1 or by its negative, the same tree as ``xreplace`` under ``sp.evaluate(False)``, and for the
    relu family's Piecewise too."""
    from derive.core.builders import renamed
    from derive.publishing.publish import Options, document_steps
    from derive.spec.files import load_builtin

    formulas = [step.formula for step in document_steps(load_builtin(name), Options())]
    net = sp.Symbol("net_h1")
    formulas += [ACTIVATIONS[kind].output(net, Fraction(1, 10)) for kind in ("relu", "leaky_relu", "elu")]
    for formula in formulas:
        for n, symbol in enumerate(sorted(formula.free_symbols, key=str)):
            new = [sp.Symbol(f"{symbol}_new"), sp.Integer(0), sp.Integer(1), sp.Mul(-1, symbol, evaluate=False)]
            with sp.evaluate(False):
                expected = formula.xreplace({symbol: new[n % 4]})
            assert sp.srepr(renamed(formula, {symbol: new[n % 4]})) == sp.srepr(expected), (formula, symbol)


def test_the_garbage_collector_is_restored():
    assert gc.isenabled()
    Derivation(example().spec)
    assert gc.isenabled()
    gc.disable()
    try:
        Derivation(example().spec)
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_json_prints_each_shared_factor_once_as_sympy_would(name, update):
    """gradients --json prints a factor shared by many weights once, with SymPy's own LaTeX."""
    derivation = Derivation(NETWORKS[name].spec, update)
    printer = TextbookPrinter(derivation.graph.names)
    chains = gradients_json(derivation)["chains"]
    for parameter, gradient in derivation.gradients.items():
        expected = [
            [
                dict(zip(("factor", "expr"), factor_latex(f, printer), strict=True)) | {"value": f.value}
                for f in term.factors
            ]
            for term in gradient.chain
        ]
        assert chains[parameter] == expected, parameter


def test_networks_differing_only_in_their_numbers_share_one_generated_update():
    """The step is generated once per structure: every number (weights, inputs, rate) is an argument."""
    clear_cache()
    first = compiled(example().spec, "simultaneous")
    renumbered = (
        example()
        .with_options(learning_rate=Fraction(1, 10))
        .spec.with_parameters({name: Fraction(1, 3) for name in example().spec.parameter_names()})
    )
    assert compiled(renumbered, "simultaneous") is first
    assert compiled(example().spec, "sequential") is not first  # another order is another structure
    assert compiled(example("deep").spec, "simultaneous") is not first


@pytest.mark.parametrize("matrices", [False, True])
def test_a_softmax_of_net_inputs_far_beyond_a_doubles_exponent_is_taken_without_overflow(matrices, tmp_path):
    """The softmax network with its output weights 2,000 times larger: net inputs over a thousand, whose
    e^net overflows a double. Each path shifts a column by its largest net input first, so the error and
    the step are the 40-digit derivation's, finite."""
    import json
    import math
    import tomllib

    from derive import load
    from tests.conftest import run_derive

    spec = tomllib.loads(run_derive("example", "softmax").stdout)
    spec["layers"][-1]["weights"] = [[2000 * weight for weight in row] for row in spec["layers"][-1]["weights"]]
    path = tmp_path / "large.json"
    path.write_text(json.dumps(spec))
    network = load(path)
    assert max(abs(float(value)) for value in network.derivation.values.values()) > 710  # e^710 > the largest double
    fast = train(network.spec, 1, "simultaneous", matrices=matrices)
    assert math.isfinite(fast.history[0]) and fast.history[0] == pytest.approx(float(network.loss()), abs=1e-15)
    assert_parameters(trained_floats(fast), network.step().parameters(), rel=1e-12, absolute=1e-14)


def one_hidden_neuron(activation: str, weight: str, out_weight: str) -> Network:
    """1 input → 1 hidden neuron of ``activation`` → 1 sigmoid output, the input 1 and the target 0.25."""
    layers = [
        layer("h", activation, [[Fraction(weight)]], Fraction(0)),
        layer("o", "sigmoid", [[Fraction(out_weight)]], Fraction(1, 10)),
    ]
    examples = [{"inputs": [Fraction(1)], "targets": [Fraction(1, 4)]}]
    return Network.from_dict({"layers": layers, "examples": examples, "learning_rate": Fraction(1, 2)}, name=activation)


# softplus's e^800 overflows a double, though log(1 + e^800) is 800; ELU's e^(−10⁻⁸) − 1 in doubles keeps
# 8 of its 16 digits, and the output's weight of a million carries the loss to them
FLOAT_TRAPS = {
    "softplus past a double's exponent": one_hidden_neuron("softplus", "800", "0.001"),
    "ELU of a tiny negative net input": one_hidden_neuron("elu", "-0.00000001", "1000000"),
}


@pytest.mark.parametrize("matrices", [False, True])
@pytest.mark.parametrize("name", list(FLOAT_TRAPS))
def test_log_of_one_plus_an_exponential_and_an_exponential_minus_one_keep_their_float_value(name, matrices):
    """Every float path prints log(1 + e^x) and e^x − 1 in forms that neither overflow nor cancel: two
    steps give the NumPy reference's errors and weights (np.logaddexp, np.expm1) to 12 digits."""
    network = FLOAT_TRAPS[name]
    history, trained = reference.train(reference.from_spec(network.spec), 2, "simultaneous")
    fast = train(network.spec, 2, "simultaneous", matrices=matrices)
    assert fast.history == pytest.approx(history, rel=1e-12, abs=1e-15)
    assert_parameters(trained_floats(fast), trained.parameters(), rel=1e-12, absolute=1e-14)
    # and the 40-digit path, which takes log(1 + e^800) and e^x − 1 as written, to as many digits
    assert float(network.loss()) == pytest.approx(history[0], rel=1e-13, abs=1e-15)
    assert_parameters(
        network.step().parameters(),
        reference.step(reference.from_spec(network.spec), "simultaneous").after.parameters(),
        rel=1e-12,
        absolute=1e-14,
    )
