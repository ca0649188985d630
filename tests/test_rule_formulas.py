"""The update rule as each document states it, read back and compared with the textbook's.

θ⁺ = θ − η·∂E/∂θ, and with momentum Δθ = β·Δθ_before − η·∂E/∂θ, θ⁺ = θ + Δθ (Rumelhart, Hinton and
Williams, 1986), written here in SymPy.  The Markdown explanation (in each language) and the slides
state it in LaTeX; the test turns their LaTeX back into SymPy with a small reader of its own and
compares.  A sign, a missing β or η, or the change before written after the step fails here.
"""

from __future__ import annotations

import re

import pytest
import sympy as sp
from sympy.parsing.sympy_parser import parse_expr

from tests.conftest import run_derive

theta, eta, beta, before, gradient = sp.symbols("theta eta beta before gradient")
TEXTBOOK = {False: theta - eta * gradient, True: theta + beta * before - eta * gradient}

# The notation the documents use, and the symbol each stands for.  Longest first.
TOKENS = [
    (r"\frac{\partial E_{\text{total}}}{\partial \theta}", "gradient"),
    (r"\frac{\partial E}{\partial \theta}", "gradient"),
    (r"\partial E_{\text{total}} / \partial \theta", "gradient"),
    (r"\partial E / \partial \theta", "gradient"),
    (r"\Delta\theta_{\text{before}}", "before"),
    (r"\theta", "theta"),
    (r"\eta", "eta"),
    (r"\beta", "beta"),
    (r"\left(", "("),
    (r"\right)", ")"),
    (r"\,", "*"),
]


def read(latex: str, *, change_before: str = "before") -> sp.Expr:
    """A formula of the documents as SymPy: the notation above, juxtaposition as a product."""
    text = latex.replace(r"\Delta\theta", change_before) if "before}" not in latex else latex
    for token, name in TOKENS:
        text = text.replace(token, f" {name} ")
    assert not re.search(r"\\[A-Za-z]", text), f"a symbol the test does not know in {latex!r}"
    text = re.sub(r"(\w|\))\s+(?=[\w(])", r"\1 * ", text.strip())  # η θ: a product
    text = re.sub(r"\*\s*\*", "*", text)
    return parse_expr(
        text, local_dict={"theta": theta, "eta": eta, "beta": beta, "before": before, "gradient": gradient}
    )


def network(tmp_path, *, momentum: bool, decay: bool) -> str:
    options = ("momentum = 0.9\n" if momentum else "") + ("weight_decay = 0.01\n" if decay else "")
    path = tmp_path / "net.toml"
    path.write_text(options + run_derive("example", "mazur").stdout, encoding="utf-8")
    return str(path)


OPTIONS = [(False, False), (True, False), (True, True), (False, True)]


@pytest.mark.parametrize(("momentum", "decay"), OPTIONS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_explanation_states_the_textbook_update(tmp_path, momentum, decay, language):
    text = run_derive("explain", network(tmp_path, momentum=momentum, decay=decay), "--lang", language).stdout
    header = re.search(r"^\| \$\\theta\^\{\+\} = (.*?)\$ \|", text, re.M)
    assert header, "the update table's header states no rule"
    stated = read(header[1])  # in this one equation, Δθ is the change before
    assert sp.simplify(stated - TEXTBOOK[momentum]) == 0, header[1]
    loss = "E" if decay else r"E_{\text{total}}"
    assert rf"\partial {loss} / \partial \theta" in header[1], (
        "with weight decay the gradient is of E = E_total + E_decay"
    )


@pytest.mark.parametrize(("momentum", "decay"), OPTIONS)
def test_the_slides_state_the_textbook_update(tmp_path, momentum, decay):
    run_derive("slides", network(tmp_path, momentum=momentum, decay=decay), "-o", str(tmp_path / "slides"))
    source = (tmp_path / "slides" / "slides.tex").read_text(encoding="utf-8")
    boxed = set(re.findall(r"\\boxed\{(\\(?:theta\^\{\+\}|Delta\\theta) = .*?)\} \\qquad", source))
    assert len(boxed) == 1, boxed
    (rule,) = boxed
    if momentum:
        change, step = rule.split(r", \quad ")
        assert change.startswith(r"\Delta\theta = ") and step == r"\theta^{+} = \theta + \Delta\theta", rule
        stated = theta + read(change.removeprefix(r"\Delta\theta = "))
    else:
        stated = read(rule.removeprefix(r"\theta^{+} = "))
    assert sp.simplify(stated - TEXTBOOK[momentum]) == 0, rule


def test_the_reader_tells_a_wrong_rule_apart():
    assert sp.simplify(read(r"\theta + \eta \, \partial E / \partial \theta") - TEXTBOOK[False]) != 0
    wrong = read(r"\theta + \beta \, \Delta\theta + \eta \, \partial E / \partial \theta")
    assert sp.simplify(wrong - TEXTBOOK[True]) != 0
