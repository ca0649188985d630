"""The generated NumPy module (``derive code``) against the NumPy reference: loss, gradients and one step."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import re
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import assume, given

from derive import Network, example
from derive import load as load_network
from derive.errors import DeriveError
from derive.outputs.code import module_source
from derive.spec.model import ExampleSpec, LayerSpec
from tests import reference_training as reference
from tests.test_gradients import SHAPES, away_from_kinks, layer, networks

_counter = itertools.count()

WIDE = {
    "learning_rate": 0.1,
    "train_biases": True,
    "layers": [
        layer("hidden", "tanh", [[(j - k) / 20 for k in range(7)] for j in range(10)], [j / 30 for j in range(10)]),
        layer("out", "sigmoid", [[(j + k) / 40 - 0.2 for k in range(10)] for j in range(3)], 0.1),
    ],
    "examples": [{"inputs": [k / 7 for k in range(7)], "targets": [0.0, 0.5, 1.0]}],
}


def fixed_networks() -> dict[str, Network]:
    networks_ = {"worked example": example(), "worked example, rounded": example().with_options(round_activations=4)}
    networks_ |= {name: Network.from_dict(data, name=name) for name, data in SHAPES.items()}
    networks_["wide layers"] = Network.from_dict(WIDE, name="wide")
    return networks_


FIXED = fixed_networks()


def load(source: str, folder: Path) -> ModuleType:
    """Write the module and import it afresh under a name of its own (never from a cache)."""
    name = f"generated_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_step(
    network: Network, learning_rate: float | None = None
) -> tuple[float, dict[str, float], dict[str, float]]:
    """E_total, every gradient and the parameters after one step, from the independent NumPy reference."""
    net = reference.from_spec(network.spec)
    done = reference.step(net, rule=reference.gradient_descent(learning_rate) if learning_rate is not None else None)
    values = reference.quantities(network.spec)
    gradients = {name: values[f"dE/d{name}"] for name in network.spec.parameter_names()}
    return done.loss, gradients, done.after.parameters()


def assert_matches(result: tuple[float, dict[str, float]], network: Network) -> None:
    loss, gradients = result
    expected_loss, expected, _ = expected_step(network)
    assert loss == pytest.approx(expected_loss, rel=1e-9, abs=1e-12)
    assert list(gradients) == list(expected)
    for name, gradient in expected.items():
        # abs: a gradient that is exactly 0 (a shared bias under softmax) comes out as ~1e-17
        assert gradients[name] == pytest.approx(gradient, rel=1e-9, abs=1e-12), name


def other_values(network: Network) -> tuple[dict[str, float], list[tuple[list[float], list[float]]], Network]:
    """Different parameters and examples (one more, so a mean changes), and the engine's network for them."""
    params = {name: value * 0.9 + (n % 3 - 1) / 20 for n, (name, value) in enumerate(network.parameters().items())}
    examples = [
        ([float(x) * 0.5 + 0.1 for x in e.inputs], [float(t) for t in e.targets]) for e in network.spec.examples
    ]
    examples.append(examples[0])
    spec = network.spec.with_parameters({name: Fraction(value) for name, value in params.items()})
    spec = replace(
        spec, examples=tuple(ExampleSpec(tuple(map(Fraction, x)), tuple(map(Fraction, t))) for x, t in examples)
    )
    return params, examples, Network(spec)


@pytest.mark.parametrize("name", list(FIXED))
def test_fixed_networks(name, tmp_path):
    network = FIXED[name]
    module = load(module_source(network), tmp_path)
    assert_matches(module.loss_and_gradients(), network)
    params, examples, moved = other_values(network)
    assert away_from_kinks(moved)  # the moved values stay clear of ReLU's kink
    assert_matches(module.loss_and_gradients(params, examples), moved)
    assert_matches(module.loss_and_gradients(params=params, examples=examples), moved)


@pytest.mark.parametrize("name", list(FIXED))
def test_step_matches_the_reference(name, tmp_path):
    network = FIXED[name]
    module = load(module_source(network), tmp_path)
    stepped = module.step()
    _, _, expected = expected_step(network)
    assert list(stepped) == list(expected)
    for key, value in expected.items():
        assert stepped[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    if not network.spec.train_biases:
        assert {k: v for k, v in stepped.items() if k.startswith("b")} == {
            k: v for k, v in network.parameters().items() if k.startswith("b")
        }
    slower = module.step(learning_rate=0.125)
    _, _, expected = expected_step(network, learning_rate=0.125)
    for key, value in expected.items():
        assert slower[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_some_parameters_keep_their_defaults(tmp_path):
    network = example()
    module = load(module_source(network), tmp_path)
    changed = Network(network.spec.with_parameters({"w5": Fraction(3, 10), "b2": Fraction(-1, 4)}))
    assert_matches(module.loss_and_gradients({"w5": 0.3, "b2": -0.25}), changed)
    assert module.PARAMETERS["w5"] == 0.4  # the defaults are not changed by a call
    with pytest.raises(KeyError, match="w99"):
        module.loss_and_gradients({"w99": 1.0})


@given(networks())
def test_random_networks(tmp_path_factory, network):
    assume(away_from_kinks(network))
    module = load(module_source(network), tmp_path_factory.mktemp("random"))
    assert_matches(module.loss_and_gradients(), network)
    explicit = [([float(x) for x in e.inputs], [float(t) for t in e.targets]) for e in network.spec.examples]
    assert_matches(module.loss_and_gradients(network.parameters(), explicit), network)
    stepped = module.step()
    for key, value in expected_step(network)[2].items():
        assert stepped[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_same_network_same_text():
    data = SHAPES["deeper relu, mse averaged"]
    first = module_source(Network.from_dict(data, name="deep"))
    assert module_source(Network.from_dict(data, name="deep")) == first
    assert module_source(Network.from_dict(data, name="deep").spec) == first


def test_the_worked_example_reads_like_the_textbook():
    source = module_source(example())
    assert source.startswith('"""Backpropagation for the network mazur')
    assert "2 inputs → 2 sigmoid (h) → 2 sigmoid (o)" in source
    assert "W_h = [[w1, w2],\n               [w3, w4]]" in source
    assert 'PARAMETERS: Parameters = {\n    "w1": 0.15,' in source
    assert "    ([0.05, 0.1], [0.01, 0.99]),\n" in source
    assert "LEARNING_RATE = 0.5\nTRAIN_BIASES = False" in source
    assert "delta_h = (W_o.T @ delta_o) * sigmoid_slope(net_h, out_h)" in source
    assert "def tanh(" not in source  # only the functions this network uses


@pytest.mark.parametrize("name", list(FIXED))
def test_imports_only_numpy(name):
    tree = ast.parse(module_source(FIXED[name]))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"__future__", "numpy"}
    assert ast.get_docstring(tree)


def test_user_text_never_reaches_the_code():
    """A file's name becomes the network's name: only an identifier is written into the docstring."""
    hostile = 'net"""\nimport os; os.system("echo hi")  #'
    source = module_source(Network.from_dict(SHAPES["bce"], name=hostile))
    assert "os.system" not in source and hostile not in source
    assert source.startswith('"""Backpropagation for a small network')
    ast.parse(source)
    spec = example().spec
    bad = replace(spec, layers=(LayerSpec("h; x", "sigmoid", spec.layers[0].weights, spec.layers[0].bias),))
    # each refusal in the words a user reads, whole
    with pytest.raises(DeriveError) as refused:
        module_source(bad)
    assert str(refused.value) == "layer name 'h; x' is not an identifier; it cannot name a variable"
    odd = replace(spec.layers[0], activation="print")
    with pytest.raises(DeriveError) as refused:
        module_source(replace(spec, layers=(odd, spec.layers[1])))
    assert str(refused.value) == "unknown activation 'print'"
    for loss, reduction in (("exit", "sum"), ("half_sse", "all")):  # a known loss, an unknown reduction
        with pytest.raises(DeriveError) as refused:
            module_source(replace(spec, loss=loss, reduction=reduction))
        assert str(refused.value) == f"unknown loss {loss!r} or reduction {reduction!r}"


def test_the_module_is_written_for_a_network_or_its_spec_only():
    """A file name is not a network: the caller is told what module_source takes."""
    with pytest.raises(TypeError) as refused:
        module_source("mazur.toml")
    assert str(refused.value) == "expected a Network or a NetworkSpec, got str"


def ruff() -> list[str]:
    """ruff from the test dependencies, run by this Python: found whether or not its environment is activated."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install '.[test]')")  # a failure under CI=true (conftest)
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("name", list(FIXED))
def test_ruff_finds_nothing(name, tmp_path):
    path = tmp_path / "generated.py"
    path.write_text(module_source(FIXED[name]), encoding="utf-8")
    # --isolated: ruff's default rules, not this project's settings
    result = subprocess.run(
        [*ruff(), "check", "--no-cache", "--isolated", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["worked example", "softmax with cross-entropy", "wide layers"])
def test_runs_as_a_script(name, tmp_path):
    network = FIXED[name]
    path = tmp_path / "generated.py"
    path.write_text(module_source(network), encoding="utf-8")
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("E_total = ")
    expected_loss, expected, _ = expected_step(network)
    assert float(lines[0].removeprefix("E_total = ")) == pytest.approx(expected_loss, rel=1e-9)
    printed = dict(line.removeprefix("dE_total/d").split(" = ") for line in lines[1:])
    assert list(printed) == network.spec.parameter_names()
    for key, gradient in expected.items():
        assert float(printed[key]) == pytest.approx(gradient, rel=1e-9, abs=1e-12), key


def test_training_options_in_the_module(tmp_path):
    """Online, shuffled, momentum and weight decay: the module's train() is derive's training."""
    network = example("xor").with_options(
        batch_size=1,
        shuffle=2,
        momentum=Fraction(9, 10),
        weight_decay=Fraction(1, 1000),
        previous_update={"w1": Fraction(1, 100)},
    )
    module = load(module_source(network), tmp_path)
    assert module.BATCH_SIZE == 1 and module.SHUFFLE == 2 and module.MOMENTUM == 0.9
    params, history = module.train(3)
    result = network.train(epochs=3)
    assert history == pytest.approx(result.history, rel=1e-9)
    for name, value in result.network.parameters().items():
        assert params[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    # one step on all the examples, from PREVIOUS_UPDATE: the engine's Δθ and θ + Δθ
    updated, changes = module.step()
    from derive.core.chain import Derivation

    derivation = Derivation(network.spec)
    for name in network.parameters():
        assert changes[name] == pytest.approx(float(derivation.changes[name]), rel=1e-9, abs=1e-12), name
        assert updated[name] == pytest.approx(float(derivation.updated[name]), rel=1e-9, abs=1e-12), name


def test_mini_batches_without_momentum(tmp_path):
    network = example("xor").with_options(batch_size=3)
    module = load(module_source(network), tmp_path)
    _, history = module.train(2)
    assert len(history) == 5  # 2 epochs of 2 updates (3 examples, then 1)
    assert history == pytest.approx(network.train(epochs=2).history, rel=1e-9)


def test_ruff_finds_nothing_in_a_module_with_every_training_option(tmp_path):
    network = example("xor").with_options(
        batch_size=2, shuffle=1, momentum=Fraction(1, 2), weight_decay=Fraction(1, 10)
    )
    path = tmp_path / "generated.py"
    path.write_text(module_source(network), encoding="utf-8")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [*ruff(), *command, "--no-cache", "--isolated", str(path)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_helpers_are_the_textbook_functions_and_stay_finite_far_from_zero(tmp_path):
    """Each activation, slope and loss of the module against its textbook formula written here, at
    net inputs up to ±1000, where e^net overflows a double: no warning, no infinity."""
    import warnings

    import numpy as np

    activations = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "linear"]
    data = {
        "layers": [layer(f"h{k}", name, [[0.1]], 0.0) for k, name in enumerate(activations, start=1)],
        "examples": [{"inputs": [0.5], "targets": [0.25]}],
    }
    module = load(module_source(Network.from_dict(data, name="every activation")), tmp_path)
    net = np.array([-1000.0, -2.0, -0.5, 0.0, 0.5, 2.0, 1000.0])
    sigmoid = np.array([1 / (1 + np.exp(-float(x))) if x > -700 else 0.0 for x in net])
    expected = {
        "sigmoid": (sigmoid, sigmoid * (1 - sigmoid)),
        "tanh": (np.tanh(net), 1 - np.tanh(net) ** 2),
        "relu": (np.maximum(net, 0), (net > 0).astype(float)),
        "leaky_relu": (np.where(net > 0, net, 0.01 * net), np.where(net > 0, 1, 0.01)),
        "softplus": (np.array([max(x, 0) + np.log1p(np.exp(-abs(x))) for x in net]), sigmoid),
        "elu": (
            np.where(net > 0, net, np.exp(np.minimum(net, 0)) - 1),
            np.where(net > 0, 1, np.exp(np.minimum(net, 0))),
        ),
        "linear": (net, np.ones_like(net)),
    }
    with np.errstate(over="ignore"):  # 1/(1 + e^1000) = 0, as it should, with a warning on the way
        for name, (out, slope) in expected.items():
            extra = (0.01,) if name == "leaky_relu" else ()
            got = getattr(module, name)(net, *extra)
            np.testing.assert_allclose(got, out, rtol=1e-12, atol=1e-300, err_msg=name)
            derivative = getattr(module, f"{name}_slope")(net, got, *extra)
            np.testing.assert_allclose(derivative, slope, rtol=1e-12, atol=1e-300, err_msg=name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(1 + e^net), and e^net − 1 in the branch np.where discards
        assert module.softplus(net)[-1] == 1000.0
        assert module.elu(net)[-1] == 1000.0 and module.elu_slope(net, module.elu(net))[-1] == 1.0
    targets, out = np.array([[0.0, 0.5, 1.0]]), np.array([[0.2, 0.4, 0.9]])
    np.testing.assert_allclose(module.half_sse(targets, out), 0.5 * ((targets - out) ** 2).sum(), rtol=1e-15)
    np.testing.assert_allclose(module.half_sse_slope(targets, out), out - targets, rtol=1e-15)


def comment_paragraphs(source: str) -> list[tuple[str, str]]:
    """Each sentence of whole-line comments (wrapped lines joined; a line ending in "." ends one), with
    the code line that follows its run of comments."""
    found, sentence, lines = [], [], source.splitlines()
    for number, line in enumerate(lines):
        if not line.lstrip().startswith("# "):
            continue
        sentence.append(line.strip()[2:])
        last = number + 1 == len(lines) or not lines[number + 1].lstrip().startswith("# ")
        if line.rstrip().endswith(".") or last:
            code = next((after.strip() for after in lines[number + 1 :] if not after.lstrip().startswith("#")), "")
            found.append((" ".join(sentence), code))
            sentence = []
    return found


@pytest.mark.parametrize("name", ["mazur", "softmax", "softmax with squared error", "deep"])
def test_the_backward_pass_comments_say_what_each_line_computes(name):
    """A reader of the module reads the comments: the heading, then one sentence per layer, output layer
    first, each above the line it explains, naming the names that line uses and its activation's slope."""
    squared = name.endswith("squared error")
    spec = (example("softmax").with_options(loss="half_sse") if squared else example(name)).spec
    comments = comment_paragraphs(module_source(spec))
    texts = [text for text, _ in comments]
    heading = texts.index("Backward pass: δ = ∂E_total/∂net for every neuron, output layer first.")
    layers = [comment for comment in comments[heading + 1 :] if comment[0].startswith("Layer ")]
    names = [layer.name for layer in spec.layers]
    assert [text.split()[1].rstrip(":,") for text, _ in layers] == names[::-1]
    for (text, code), here in zip(layers, names[::-1], strict=True):
        first = "dE_dout = " if squared and here == names[-1] else f"delta_{here} = "  # ∂E/∂out, then the Jacobian
        assert text.endswith(".") and code.startswith(first), (text, code)
    for (text, code), depth in zip(layers[1:], range(len(names) - 2, -1, -1), strict=True):
        above, layer = names[depth + 1], spec.layers[depth]
        here = names[depth]
        assert text.startswith(
            f"Layer {here}: ∂E_total/∂out_{here} = W_{above}ᵀ @ delta_{above}, the sum over every path through "
            f"layer {above} (∂net_{above}/∂out_{here} is the weight), times ∂out_{here}/∂net_{here}, the slope of "
        )
        assert f"(W_{above}.T @ delta_{above})" in code
        assert text.endswith(f"the slope of {layer.activation}.") and f"{layer.activation}_slope(" in code
    output = spec.layers[-1]
    if squared:
        assert layers[0][0] == f"Layer {names[-1]}: ∂E_total/∂out from the loss, then through the softmax Jacobian."
    elif output.activation == "softmax":
        assert "δ_j = out_j·Σ_k t_k - t_j (out_j - t_j when the targets add up to one)." in layers[0][0]
    else:
        assert (
            layers[0][0]
            == f"Layer {names[-1]}: δ = ∂E_total/∂out · ∂out/∂net, the loss's slope times the activation's."
        )


def _spec(name: str, folder: Path):
    if name == "mazur rounding its hidden outputs":
        return example("mazur").with_options(round_activations=4).spec
    if name == "one layer, rounding set":  # no hidden output to round: no rounding helper
        layer = {"name": "o", "activation": "sigmoid", "weights": [[0.1, 0.2]], "bias": 0.1}
        network = {"layers": [layer], "examples": [{"inputs": [1, 2], "targets": [0.5]}], "round_activations": 4}
        return Network.from_dict(network).spec
    if name == "average pooling":
        from tests.test_conv import two_filters_avgpool

        return load_network(two_filters_avgpool().write(folder, "pooled")).spec
    if name == "softmax with squared error":
        return example("softmax").with_options(loss="half_sse").spec
    return example(name).spec


@pytest.mark.parametrize(
    "name",
    [
        "mazur",
        "mazur rounding its hidden outputs",
        "one layer, rounding set",
        "softmax",
        "softmax with squared error",
        "deep",
        "cnn",
        "average pooling",
        "rnn",
    ],
)
def test_the_module_defines_only_the_helpers_it_uses(name, tmp_path):
    """A reader of the generated module finds no dead code: every function it defines is called in it,
    but for step(), the entry point its docstring gives the reader."""
    tree = ast.parse(module_source(_spec(name, tmp_path)))
    defined = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    called = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    assert [function for function in defined if function not in called] == ["step"]
    assert "step()" in (ast.get_docstring(tree) or "")


# What a reader of the module reads for each activation: its signature, its formula in the docstring, and
# the NumPy line, in the safe forms the module's docstring promises (np.expm1, np.logaddexp, 1/(…)).
HELPERS = {
    "sigmoid": ("", "1/(1 + exp(-net))", "1 / (1 + np.exp(-net))", "out*(1 - out)", "out * (1 - out)"),
    "tanh": ("", "tanh(net)", "np.tanh(net)", "1 - out**2", "1 - out**2"),
    "relu": (
        "",
        "net where net > 0, else 0",
        "np.where(net > 0, net, 0.0)",
        "1 where net > 0, else 0",
        "np.where(net > 0, 1.0, 0.0)",
    ),
    "leaky_relu": (
        ", slope: float",
        "net where net > 0, else slope*net",
        "np.where(net > 0, net, slope * net)",
        "1 where net > 0, else slope",
        "np.where(net > 0, 1.0, slope)",
    ),
    "softplus": ("", "log(1 + exp(net))", "np.logaddexp(0.0, net)", "1/(1 + exp(-net))", "1 / (1 + np.exp(-net))"),
    "elu": (
        "",
        "net where net > 0, else exp(net) - 1",
        "np.where(net > 0, net, np.expm1(np.minimum(net, 0.0)))",
        "1 where net > 0, else out + 1",
        "np.where(net > 0, 1.0, out + 1)",
    ),
    "linear": ("", "net", "net", "1", "np.full_like(net, 1.0)"),
}


@pytest.mark.parametrize("name", list(HELPERS))
def test_each_activation_helper_reads_as_its_formula(name):
    """The two helpers of each activation, whole: the textbook's formula in words, then the line computing it."""
    from derive.outputs.code.helpers import activation_code

    extra, function, code, slope, slope_code = HELPERS[name]
    assert (
        activation_code(name)
        == f'''
def {name}(net: np.ndarray{extra}) -> np.ndarray:
    """out = {function}."""
    return {code}


def {name}_slope(net: np.ndarray, out: np.ndarray{extra}) -> np.ndarray:
    """∂out/∂net = {slope}."""
    return {slope_code}
'''
    )


def test_every_activation_has_its_helpers_read():
    from derive.core.functions import ACTIVATIONS

    assert set(HELPERS) == set(ACTIVATIONS) - {"softmax"}  # softmax couples its layer: its own fragment


def _layered(inputs: int, hidden: int, name: str = "net") -> Network:
    """inputs → ``hidden`` sigmoid neurons h (a bias each) → one sigmoid output."""
    layers = [
        {"name": "h", "activation": "sigmoid", "weights": [[0.1] * inputs] * hidden, "bias": [0.1] * hidden},
        {"name": "o", "activation": "sigmoid", "weights": [[0.1] * hidden], "bias": 0.2},
    ]
    return Network.from_dict({"layers": layers, "examples": [{"inputs": [0.5] * inputs, "targets": [0.5]}]}, name=name)


def _docstring_layer(network: Network, layer: str) -> list[str]:
    """The docstring's lines on one layer: its heading, its matrix, its biases."""
    lines = ast.get_docstring(ast.parse(module_source(network)), clean=False).splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(f"    Layer {layer}:"))
    return lines[start : next(k for k in range(start + 1, len(lines)) if not lines[k].startswith("        "))]


def test_the_docstring_draws_a_matrix_up_to_8_rows_and_6_columns_and_names_the_range_beyond():
    """A layer's neurons are listed up to 6 (then the first … the last), its weight matrix is drawn up to
    8 rows by 6 columns (then named by its range and shape), its biases listed up to 8."""
    drawn = _docstring_layer(_layered(6, 8), "h")
    assert drawn[0] == "    Layer h: 8 sigmoid neurons h1 … h8, fed by the inputs"
    assert drawn[1] == "        W_h = [[w1 , w2 , w3 , w4 , w5 , w6],"
    assert drawn[8] == "               [w43, w44, w45, w46, w47, w48]]"
    assert drawn[9] == "        b_h = [b1, b2, b3, b4, b5, b6, b7, b8], one per neuron"
    assert (
        _docstring_layer(_layered(6, 6), "h")[0]
        == "    Layer h: 6 sigmoid neurons h1, h2, h3, h4, h5, h6, fed by the inputs"
    )
    assert _docstring_layer(_layered(6, 7), "h")[0] == "    Layer h: 7 sigmoid neurons h1 … h7, fed by the inputs"
    assert _docstring_layer(_layered(7, 2), "h")[1] == "        W_h = w1 … w14, 2×7, filled row by row"
    tall = _docstring_layer(_layered(6, 9), "h")
    assert tall[1:] == ["        W_h = w1 … w54, 9×6, filled row by row", "        b_h = b1 … b9, one per neuron"]


def test_the_title_names_a_network_of_up_to_64_characters():
    title = ast.get_docstring(ast.parse(module_source(_layered(2, 2, "n" * 64)))).splitlines()[0]
    assert title == f"Backpropagation for the network {'n' * 64}, written out with NumPy."
    title = ast.get_docstring(ast.parse(module_source(_layered(2, 2, "n" * 65)))).splitlines()[0]
    assert title == "Backpropagation for a small network, written out with NumPy."


@pytest.mark.parametrize(
    ("loss", "formula"),
    [
        ("half_sse", "E = ½ Σ_o (t_o - out_o)²"),
        ("mse", "E = (1/n) Σ_o (t_o - out_o)², n = 2 outputs"),  # one output: "n = 1 output" (below)
        ("bce", "E = -Σ_o [t_o·log(out_o) + (1 - t_o)·log(1 - out_o)]"),
        ("cross_entropy", "E = -Σ_o t_o·log(out_o)"),
    ],
)
def test_the_docstring_states_the_loss_as_the_textbook_writes_it(loss, formula):
    """The loss a reader is told the module computes, for a network of two outputs."""
    network = example("softmax" if loss == "cross_entropy" else "mazur").with_options(loss=loss)
    lines = ast.get_docstring(ast.parse(module_source(network))).splitlines()
    assert f"Loss:     {loss}, {formula}" in lines


def test_the_docstring_says_what_the_module_does_how_it_numbers_and_how_it_is_used(tmp_path):
    """The docstring's three paragraphs a reader relies on, whole, and its usage lines run as written: the
    loss at the file's values and at w1 = 0.5, and one step, each as the NumPy reference computes it."""
    from tests.conftest import run_derive

    source = module_source(example())
    text = ast.get_docstring(ast.parse(source))
    assert (
        "Generated by `derive code`. loss_and_gradients() runs the examples forward through the\n"
        "network and the chain rule backward: it returns the loss E_total and ∂E_total/∂θ for every\n"
        "weight and bias θ. step() takes one step of gradient descent, θ ← θ - η·∂E_total/∂θ.\n"
    ) in text
    assert (
        "Parameters are numbered as derive numbers them: the weights w1, w2, … layer by layer,\n"
        "neuron by neuron, input by input; then the biases b1, b2, …, one per layer when the layer\n"
        "shares its bias, else one per neuron. W[j, k] is the weight from input k into neuron j,\n"
        "so each layer computes net = W @ x + b and out = f(net).\n"
    ) in text
    usage = [
        "    loss, gradients = loss_and_gradients()             # at PARAMETERS and EXAMPLES",
        '    loss, gradients = loss_and_gradients({"w1": 0.5})  # other values for some parameters',
        "    parameters = step()                                # the parameters after one step",
    ]
    assert text.endswith(
        "Use it as a script (python this_file.py prints the loss and the gradients) or import it:\n\n"
        + "\n".join(usage)
    )
    module = load(source, tmp_path)
    toml = run_derive("example").stdout
    assert "weights = [[0.15, 0.20]," in toml
    (tmp_path / "moved.toml").write_text(toml.replace("weights = [[0.15, 0.20],", "weights = [[0.5, 0.20],"))
    net = reference.from_spec(example().spec)
    expected = [
        reference.total_loss(net),
        reference.total_loss(reference.from_spec(load_network(tmp_path / "moved.toml").spec)),
    ]
    for line, loss in zip(usage[:2], expected, strict=True):
        namespace = vars(module).copy()
        exec(line.strip(), namespace)  # the docstring's own line, as a reader types it
        assert namespace["loss"] == pytest.approx(loss, rel=1e-12), line
    namespace = vars(module).copy()
    exec(usage[2].strip(), namespace)
    after = reference.step(net).after
    stepped = [*after.layers[0].weights.ravel(), *after.layers[1].weights.ravel()]
    assert [namespace["parameters"][f"w{n}"] for n in range(1, 9)] == pytest.approx(stepped, rel=1e-12)


def test_the_docstring_of_a_network_of_maps_or_steps_says_how_shared_weights_are_numbered():
    for name in ("cnn", "rnn"):
        text = ast.get_docstring(ast.parse(module_source(example(name))))
        assert (
            "Parameters are numbered as derive numbers them: the weights w1, w2, … layer by layer (a\n"
            "kernel filter by filter, channel by channel, row by row; a recurrent layer's W, then its U),\n"
            "then the biases b1, b2, …: one per filter or neuron, or one per layer when the layer shares\n"
            "its bias. A kernel entry is one weight at every position of its map; W, U and b of a\n"
            "recurrent layer are the same weights at every time step.\n"
        ) in text, name


@pytest.mark.parametrize(
    ("name", "said"), [("mazur", "summed over the 1 example"), ("deep", "averaged over the 2 examples")]
)
def test_the_docstring_is_laid_out_in_paragraphs_and_says_example_or_examples(name, said):
    """Title, what the module does, the network, the numbering, then the usage, each a paragraph of its
    own (a blank line between); the loss is summed or averaged over "the 1 example" or "the 2 examples"."""
    paragraphs = ast.get_docstring(ast.parse(module_source(example(name)))).split("\n\n")
    starts = [paragraph.splitlines()[0] for paragraph in paragraphs]
    assert starts[:4] == [
        f"Backpropagation for the network {name}, written out with NumPy.",
        "Generated by `derive code`. loss_and_gradients() runs the examples forward through the",
        starts[2],
        "Parameters are numbered as derive numbers them: the weights w1, w2, … layer by layer,",
    ]
    assert starts[2].startswith("Network:  ") and f"          E_total is E {said} (reduction " in paragraphs[2]
    assert starts[-2] == "Use it as a script (python this_file.py prints the loss and the gradients) or import it:"
    assert starts[-1].startswith("    loss, gradients = loss_and_gradients()")


SUMMARIES = {
    "mazur": [
        "Network:  2 inputs → 2 sigmoid (h) → 2 sigmoid (o)",
        "Loss:     half_sse, E = ½ Σ_o (t_o - out_o)²",
        "          E_total is E summed over the 1 example (reduction sum)",
        "Training: learning rate η = 0.5; biases are kept fixed (train_biases false)",
    ],
    "deep": [
        "Network:  2 inputs → 2 relu (h) → 2 relu (g) → 1 linear (o)",
        "Loss:     mse, E = (1/n) Σ_o (t_o - out_o)², n = 1 output",
        "          E_total is E averaged over the 2 examples (reduction mean)",
        "Training: learning rate η = 0.05; biases are trained too",
    ],
    "cnn": [
        "Network:  4×4 input → 1 filter relu (c, maps 1×3×3) → maxpool (p, maps 1×2×2) → 1 sigmoid (o)",
        "Loss:     half_sse, E = ½ Σ_o (t_o - out_o)²",
        "          E_total is E summed over the 1 example (reduction sum)",
        "Training: learning rate η = 0.5; biases are trained too",
    ],
    "rnn": [
        "Network:  1 input per step, 3 steps → 2 tanh recurrent (h) → 1 linear (o)",
        "Loss:     half_sse, E = ½ Σ_o (t_o - out_o)²",
        "          E_total is E summed over the 1 example (reduction sum)",
        "Training: learning rate η = 0.1; biases are trained too",
    ],
}


SUMMARIES["mazur, rounded by hand"] = [
    *SUMMARIES["mazur"],
    "Rounding: hidden outputs are rounded to 4 decimals, as by hand",
]


@pytest.mark.parametrize("name", list(SUMMARIES))
def test_the_docstring_summarises_the_network_as_its_file_describes_it(name):
    """The summary paragraph, whole, as each built-in network's file gives it (``derive example NAME``): its
    shape layer by layer, its loss, how E_total gathers the examples, the learning rate and the biases."""
    network = example("mazur").with_options(round_activations=4) if name.endswith("by hand") else example(name)
    paragraphs = ast.get_docstring(ast.parse(module_source(network))).split("\n\n")
    assert paragraphs[2].splitlines() == SUMMARIES[name]


def test_the_docstring_names_an_image_of_several_channels_channels_first(tmp_path):
    from tests.test_conv import channels_stride_padding

    network = load_network(channels_stride_padding().write(tmp_path, "channels"))
    summary = ast.get_docstring(ast.parse(module_source(network))).split("\n\n")[2]
    assert summary.startswith("Network:  2×5×5 input → 2 filters tanh (c, maps 2×3×3) → ")


def test_the_docstring_describes_an_average_pooling_layer(tmp_path):
    """Two filters and an average pooling (tests/test_conv.py): the shape, and the pooling's own line."""
    from tests.test_conv import two_filters_avgpool

    text = ast.get_docstring(ast.parse(module_source(load_network(two_filters_avgpool().write(tmp_path, "pooled")))))
    lines = text.splitlines()
    assert "Network:  4×4 input → 2 filters tanh (c, maps 2×3×3) → avgpool (p, maps 2×1×1) → 2 sigmoid (o)" in lines
    assert "    Layer p: avgpool, the mean of each 3×3 window of c's maps, stride 3; no parameters" in lines


def test_the_docstring_says_which_layer_feeds_each_layer():
    """deep: h is fed by the inputs, g by h, o by g (the file's layers in order)."""
    lines = ast.get_docstring(ast.parse(module_source(example("deep")))).splitlines()
    fed = [re.search(r"^    Layer (\w+): .*, fed by (.+)$", line) for line in lines]
    assert [(found[1], found[2]) for found in fed if found] == [("h", "the inputs"), ("g", "h"), ("o", "g")]


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("mazur", "the weights take the step; the biases keep their values (TRAIN_BIASES is False)."),
        ("deep", "every weight and bias takes the step."),
    ],
)
def test_step_says_which_parameters_take_the_step(name, said, tmp_path):
    """step()'s docstring says whether the biases train, as the file's train_biases says, and step() does
    what it says: the biases move only when they train."""
    module = load(module_source(example(name)), tmp_path)
    assert module.step.__doc__.split("\n\n")[1].split()[-len(said.split()) :] == said.split()
    moved = {key for key, value in module.step().items() if value != module.PARAMETERS[key]}
    assert any(key.startswith("b") for key in moved) is module.TRAIN_BIASES is example(name).spec.train_biases


def test_the_docstring_draws_the_layers_of_a_convolutional_network_a_paragraph_each():
    """cnn, as its file gives it: the convolution with its kernel's names and shape and its bias, the max
    pooling's window and stride, the dense output layer; each layer a paragraph of its own."""
    text = ast.get_docstring(ast.parse(module_source(example("cnn"))))
    assert (
        "\n\n    Layer c: conv2d, 1 relu filter over the inputs, stride 1, padding 0: maps 1×3×3\n"
        "        K_c = w1 … w4, kernels 1×1×2×2 (filters, channels, rows, columns)\n"
        "        b_c = [b1], one per filter\n"
        "\n"
        "    Layer p: maxpool, the largest value of each 2×2 window of c's maps, stride 1; no parameters\n"
        "\n"
        "    Layer o: 1 sigmoid neuron o1, fed by p\n"
        "        W_o = [[w5, w6, w7, w8]]\n"
        "        b_o = [b2], one per neuron\n\n"
    ) in text


def _matrices(text: str) -> dict[str, list[list[str]]]:
    """Each matrix of names the docstring draws (``W_h = [[w1, w2],\\n [w3, w4]]``), read back row by row."""
    drawn = re.findall(r"^ +(\w+) = \[(\[.*?\])\]$", text, re.M | re.S)
    rows_of = {name: re.findall(r"\[([^\[\]]*)\]", rows) for name, rows in drawn}
    return {name: [[entry.strip() for entry in row.split(",")] for row in rows] for name, rows in rows_of.items()}


@pytest.mark.parametrize("make", ["builtin_rnn", "every_step"])
def test_the_docstring_draws_a_recurrent_layers_w_then_u_numbered_as_derive_numbers_them(make, tmp_path):
    """A recurrent layer of n neurons fed by m inputs per step: W_h (n×m) takes the first names row by row,
    U_h (n×n) the next n·n, then the next layer's W_o; the layer's line says its neurons and what feeds it."""
    from tests import test_recurrent

    net = getattr(test_recurrent, make)()
    text = ast.get_docstring(ast.parse(module_source(load_network(net.write(tmp_path, make)))))
    recurrent, dense = net.layers
    n, m = np.shape(recurrent["weights"])
    names = iter(f"w{k}" for k in itertools.count(1))
    expected = {
        "W_h": [[next(names) for _ in range(m)] for _ in range(n)],
        "U_h": [[next(names) for _ in range(n)] for _ in range(n)],
        "W_o": [[next(names) for _ in range(n)] for _ in range(len(dense["weights"]))],
    }
    assert {name: rows for name, rows in _matrices(text).items() if name.startswith(("W", "U"))} == expected
    neurons = ", ".join(f"h{j + 1}" for j in range(n))
    assert f"    Layer h: {n} tanh recurrent neurons {neurons}, fed by the inputs" in text.splitlines()


@pytest.mark.parametrize("filters", [1, 2])
def test_a_convolutions_line_says_filter_or_filters(filters, tmp_path):
    """One filter is "1 … filter", two are "2 … filters", in the layer's line as in the summary."""
    from tests.test_conv import two_filters_avgpool

    net = two_filters_avgpool()
    conv = net.layers[0]
    conv["kernels"], conv["bias"] = conv["kernels"][:filters], conv["bias"][:filters]
    net.layers[2]["weights"] = [row[:filters] for row in net.layers[2]["weights"]]
    text = ast.get_docstring(ast.parse(module_source(load_network(net.write(tmp_path, "filters")))))
    word = "filter" if filters == 1 else "filters"
    assert (
        f"    Layer c: conv2d, {filters} tanh {word} over the inputs, stride 1, padding 0: maps {filters}×3×3" in text
    )
    assert f"→ {filters} {word} tanh (c, maps {filters}×3×3) →" in text


@pytest.mark.parametrize(
    ("sizes", "said"),
    [((1,), "its neuron"), ((2,), "both neurons"), ((3,), "all 3 neurons"), ((2, 1), "both neurons")],
)
def test_a_shared_bias_is_said_shared_by_its_neurons(sizes, said, tmp_path):
    """A layer that shares one bias (the file gives one number): b_h = b1, shared by its neuron, both
    neurons or all n of them, as many as the layer has; the next layer's bias is the next name."""
    import json

    layers, fan_in = [], 2
    for L, size in enumerate(sizes):
        weights = [[0.1 * (j + k + 1) for k in range(fan_in)] for j in range(size)]
        layers.append({"name": "ho"[L], "activation": "sigmoid", "weights": weights, "bias": 0.3})
        fan_in = size
    path = tmp_path / "shared.json"
    path.write_text(json.dumps({"layers": layers, "examples": [{"inputs": [1, 2], "targets": [0.5] * sizes[-1]}]}))
    lines = ast.get_docstring(ast.parse(module_source(load_network(path)))).splitlines()
    assert f"        b_h = b1, one bias shared by {said}" in lines
    if len(sizes) > 1:
        assert "        b_o = b2, one bias shared by its neuron" in lines


@pytest.mark.parametrize(("filters", "said"), [(1, "its filter"), (2, "both filters")])
def test_a_convolutions_shared_bias_is_said_shared_by_its_filters(filters, said, tmp_path):
    from tests.test_conv import two_filters_avgpool

    net = two_filters_avgpool()
    net.layers[0]["kernels"], net.layers[0]["bias"] = net.layers[0]["kernels"][:filters], 0.05
    net.layers[2]["weights"] = [row[:filters] for row in net.layers[2]["weights"]]
    lines = ast.get_docstring(ast.parse(module_source(load_network(net.write(tmp_path, "shared"))))).splitlines()
    assert f"        b_c = b1, one bias shared by {said}" in lines
