"""The Python API as a notebook user meets it, and engine errors as a user meets them."""

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
    from derive import report
    from derive.cli import main

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
