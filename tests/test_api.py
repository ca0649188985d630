"""The Python API as a notebook user meets it, and engine errors as a user meets them."""

import json
import tomllib
from fractions import Fraction

import pytest

import derive
from derive.errors import DeriveError
from tests import reference_training as reference
from tests.conftest import ROOT, run_derive
from tests.documents import katex_failures
from tests.reference import autograd_gradients


def nine(value: float) -> str:
    """Nine decimals, trailing zeros dropped: the documents' convention, written here independently."""
    return f"{value:.9f}".rstrip("0").rstrip(".")


def test_notebook_displays():
    net = derive.example()
    gradients = autograd_gradients(net.spec)
    updated = reference.step(reference.from_spec(net.spec)).after.parameters()
    table = net._repr_markdown_()
    assert "$E_{total} = 0.298371109$" in table  # the published error
    for name, value in net.parameters().items():
        symbol = f"{name[0]}_{{{name[1:]}}}"
        assert f"| ${symbol}$ | {nine(value)} | {nine(gradients[name])} | {nine(updated[name])} |" in table
    latex = net.gradients()["w1"]._repr_latex_()
    assert latex.startswith("$$") and "0.036350306 \\cdot 0.241300709 \\cdot 0.05 = 0.000438568" in latex
    explanation = net.derivation._repr_markdown_()  # the whole derivation shows as the explanation
    assert explanation.startswith("# ") and "## The forward pass" in explanation
    for name, value in gradients.items():
        assert nine(value) in explanation, name
    assert katex_failures(table + "\n" + latex + "\n" + explanation) == []


def test_api_types():
    net = derive.load(ROOT / "derive" / "examples" / "mazur.toml")
    assert isinstance(net, derive.Network)
    gradient = net.gradients()["w5"]
    assert isinstance(gradient, derive.Gradient)
    assert gradient.expr.free_symbols  # a SymPy expression in the base symbols
    trained = net.train(3)
    assert len(trained.history) == 4 and trained.loss == trained.history[-1]
    with pytest.raises(DeriveError, match="unknown update order 'sideways'"):
        net.step(update="sideways")
    with pytest.raises(DeriveError, match="whole number of steps"):
        net.train(-1)


def test_saturated_output_is_a_clear_error(tmp_path):
    path = tmp_path / "saturated.toml"
    path.write_text(
        'loss = "bce"\n[[layers]]\nname = "o"\nactivation = "sigmoid"\nweights = [[700.0]]\nbias = 0.0\n'
        "[[examples]]\ninputs = [1.0]\ntargets = [1.0]\n"
    )
    result = run_derive("gradients", str(path), check=False)
    assert result.returncode == 2
    assert "saturated.toml: output o1 is 1 to 40 digits" in result.stderr and "Traceback" not in result.stderr


def test_diverging_training_is_a_clear_error(tmp_path):
    path = tmp_path / "fast.toml"
    path.write_text(
        'learning_rate = 1e6\n[[layers]]\nname = "o"\nactivation = "linear"\nweights = [[2.0]]\nbias = 0.0\n'
        "[[examples]]\ninputs = [3.0]\ntargets = [1.0]\n"
    )
    result = run_derive("train", str(path), "--steps", "100", check=False)
    assert result.returncode == 2
    assert "fast.toml: training diverged at step" in result.stderr and "smaller learning_rate" in result.stderr
    deep = derive.example("deep")
    with pytest.raises(DeriveError, match="diverged"):
        deep.with_options(learning_rate=deep.spec.learning_rate * 100).train(300, update="sequential")


def test_progress_is_reported():
    seen = []
    derive.example().train(1000, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1000, 1000) and len(seen) == 200


def test_internal_errors_are_short_unless_debugging(monkeypatch, capsys):
    from derive.app.cli import main
    from derive.outputs import report

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(report, "gradients_text", broken)
    assert main(["gradients"]) == 1
    error = capsys.readouterr().err
    assert error == "derive: internal error: RuntimeError: something inside broke (run with --debug for details)\n"
    with pytest.raises(RuntimeError):
        main(["--debug", "gradients"])
    with pytest.raises(RuntimeError):
        main(["gradients", "--debug"])


@pytest.mark.parametrize(
    "options",
    [
        {"loss": "mse"},
        {"loss": "bce"},
        {"loss": "cross_entropy"},
        {"reduction": "mean"},
        {"train_biases": True},
        {"loss": "mse", "reduction": "mean", "train_biases": True},
    ],
)
def test_with_options(options):
    base = derive.example("xor")
    changed = base.with_options(**options)
    assert {key: getattr(changed.spec, key) for key in options} == options
    assert changed.parameters() == base.parameters()  # only the options change
    done = reference.step(reference.from_spec(changed.spec))
    assert changed.loss() == pytest.approx(done.loss, rel=1e-14)
    gradients = autograd_gradients(changed.spec)
    assert {name: g.value for name, g in changed.gradients().items()} == pytest.approx(gradients, rel=1e-12)
    assert changed.step().parameters() == pytest.approx(done.after.parameters(), rel=1e-14)


def relu_outputs() -> derive.Network:
    return derive.Network.from_dict(
        {
            "layers": [{"name": "o", "activation": "relu", "weights": [[0.5], [-0.5]], "bias": 0}],
            "examples": [{"inputs": [1], "targets": [0.5, 0.5]}],
        },
        name="relu outputs",
    )


def moved_biases() -> derive.Network:
    """One step with momentum and the biases trained: its previous_update holds Δb1 and Δb2."""
    return derive.example().with_options(train_biases=True, momentum=0.9).step()


BAD_API_OPTIONS = {
    "unknown option": (
        derive.example,
        {"lerning_rate": 0.1},
        "lerning_rate: unknown option 'lerning_rate'; did you mean 'learning_rate'?",
    ),
    "unknown loss": (derive.example, {"loss": "nonsense"}, "loss: unknown loss 'nonsense'"),
    "negative learning rate": (
        derive.example,
        {"learning_rate": -1},
        "learning_rate: expected a positive number, got -1",
    ),
    "learning rate as text": (
        derive.example,
        {"learning_rate": "abc"},
        "learning_rate: expected a number, got the string 'abc'",
    ),
    "train_biases as text": (
        derive.example,
        {"train_biases": "yes"},
        "train_biases: expected true or false, got the string 'yes'",
    ),
    "negative rounding": (
        derive.example,
        {"round_activations": -3},
        "round_activations: expected a whole number of decimals from 0 to 15",
    ),
    "logarithm of ReLU outputs": (
        relu_outputs,
        {"loss": "cross_entropy"},
        "layers[0].activation: loss 'cross_entropy' takes the logarithm of the outputs",
    ),
    "biases fixed after moving": (
        moved_biases,
        {"train_biases": False},
        "previous_update.b1: the biases are kept fixed",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_API_OPTIONS))
def test_with_options_checks_every_option_as_a_file_does(case):
    """An option is checked against the rest of the network, and the error names it, in one line."""
    network, options, expected = BAD_API_OPTIONS[case]
    with pytest.raises(DeriveError) as error:
        network().with_options(**options)
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_with_options_fixes_or_trains_the_biases():
    fixed = derive.example().step().parameters()
    trained = derive.example().with_options(train_biases=True).step().parameters()
    assert (fixed["b1"], fixed["b2"]) == (0.35, 0.6)
    gradients = autograd_gradients(derive.example().spec)
    assert trained["b1"] == pytest.approx(0.35 - 0.5 * gradients["b1"], rel=1e-15)
    assert trained["b2"] == pytest.approx(0.6 - 0.5 * gradients["b2"], rel=1e-15)


def test_load_json(tmp_path):
    data = tomllib.loads((ROOT / "derive" / "examples" / "mazur.toml").read_text(encoding="utf-8"))
    path = tmp_path / "mazur.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    net = derive.load(path)
    assert net.name == "mazur" and net.spec.parameters()["w1"] == Fraction(15, 100)  # the decimal, not the float
    assert {name: g.value for name, g in net.gradients().items()} == pytest.approx(
        autograd_gradients(derive.example().spec), rel=1e-12
    )
    assert net.spec == derive.load(ROOT / "derive" / "examples" / "mazur.toml").spec


def symbol_values(name: str) -> dict[str, float]:
    """Reference values by the name of a symbol in a chain: out_h1, delta_o1, w5, i1, t_o1, _e2 for example 2."""
    net = derive.example(name)
    values = reference.quantities(net.spec)
    spec = net.spec
    by_symbol = dict(net.parameters())
    for p, case in enumerate(spec.examples):
        suffix, at = (f"_e{p + 1}", f"@{p + 1}") if len(spec.examples) > 1 else ("", "")
        by_symbol |= {f"i{k + 1}{suffix}": float(x) for k, x in enumerate(case.inputs)}
        outputs = [spec.layers[-1].neuron_name(j) for j in range(spec.n_outputs)]
        by_symbol |= {f"t_{o}{suffix}": float(t) for o, t in zip(outputs, case.targets, strict=True)}
        for key, value in values.items():
            kind, _, rest = key.partition("_")
            if kind in ("net", "out", "delta") and rest.endswith(at) and "+" not in rest and "/" not in key:
                by_symbol[f"{kind}_{rest.removesuffix(at) if at else rest}{suffix}"] = value
    return by_symbol


@pytest.mark.parametrize("name", ["mazur", "deep"])
def test_chain_expr_is_the_chain_rule_in_the_networks_symbols(name):
    """Gradient.chain_expr, evaluated at the reference's values of its symbols, is autograd's gradient."""
    values = symbol_values(name)
    expected = autograd_gradients(derive.example(name).spec)
    for parameter, gradient in derive.example(name).gradients().items():
        expr = gradient.chain_expr
        assert {symbol.name for symbol in expr.free_symbols} <= set(values), parameter
        at = {symbol: values[symbol.name] for symbol in expr.free_symbols}
        assert float(expr.subs(at)) == pytest.approx(expected[parameter], rel=1e-12, abs=1e-15), parameter
    w5 = derive.example().gradients()["w5"].chain_expr
    assert {symbol.name for symbol in w5.free_symbols} == {"out_h1", "out_o1", "t_o1"}  # δ_o1's factors, out_h1


@pytest.mark.parametrize("name", ["mazur", "xor", "cnn", "rnn"])
def test_trained_network_holds_the_run_s_floats(name):
    """Training.network's weights and biases are the run's floats exactly, name by name (dense, shared
    biases, kernels, recurrent weights), and precise_loss() is E_total of those at 40 digits."""
    net = derive.example(name)
    result = net.train(5)
    names = net.spec.parameter_names()
    assert result.network.spec.parameters() == {
        n: Fraction(v) for n, v in zip(names, result.run.parameters, strict=True)
    }
    assert result.precise_loss() == pytest.approx(result.history[-1], rel=1e-12)
    if net.spec.dense:
        assert result.precise_loss() == pytest.approx(
            reference.total_loss(reference.from_spec(result.network.spec)), rel=1e-14
        )


def test_train_zero_steps():
    net = derive.example("xor")
    result = net.train(0)
    assert result.history == [pytest.approx(reference.total_loss(reference.from_spec(net.spec)), rel=1e-15)]
    assert result.network.parameters() == net.parameters() and result.loss == result.history[0]


def test_a_gradient_shows_its_chain_in_latex():
    """b1's two chain-rule terms (one per hidden neuron), each factor with the reference's value."""
    net = derive.example()
    values = reference.quantities(net.spec)
    b1 = net.gradients()["b1"]
    text = b1.latex()
    lhs, chain, numbers, total = text.split(" = ")
    assert lhs == r"\frac{\partial E_{\text{total}}}{\partial b_{1}}"
    assert chain.count(" + ") == 1 and chain.count(r" \cdot ") == 4
    factors = [[f"dE/dout_{h}", f"dout_{h}/dnet_{h}", f"dnet_{h}/db1"] for h in ("h1", "h2")]
    shown = [term.split(r" \cdot ") for term in numbers.split(" + ")]
    for keys, cells in zip(factors, shown, strict=True):
        assert [float(cell.strip("()")) for cell in cells] == pytest.approx([values[k] for k in keys], abs=5e-10)
    assert total == nine(values["dE/db1"])  # nine decimals unless asked otherwise
    assert b1._repr_latex_() == f"$$ {text} $$"
    assert [term.value for term in b1.chain] == pytest.approx([values["delta_h1"], values["delta_h2"]], rel=1e-14)
    deltas = {delta.neuron.name: delta.value for layer in net.derivation.deltas[0] for delta in layer}
    assert deltas == pytest.approx({n: values[f"delta_{n}"] for n in ("h1", "h2", "o1", "o2")}, rel=1e-14)
