"""The mathematics a reader reads in the catalogs' sentences: the same in every language, and the rules'.

Each language's sentence may say it in other words, but its ``$…$`` mathematics must be the English
one's, once the words inside ``\\text{…}`` (``before``, ``anterior``) and the spacing are set aside:
a Spanish rule written ∂net_j/∂out_k for ∂out_k/∂net_j is a different formula, not a translation.
The momentum sentence's formula is checked against the update rule itself (derive.core.rules).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sympy.printing.latex import LatexPrinter

from derive.core import rules
from tests.conftest import ROOT

CATALOGS = ROOT / "templates" / "i18n"
MATH = re.compile(r"\$([^$]*)\$")


def entries(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from entries(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value
        elif isinstance(value, list):
            yield from ((f"{prefix}{key}[{n}]", item) for n, item in enumerate(value) if isinstance(item, str))


def catalog(language: str) -> dict[str, str]:
    return dict(entries(tomllib.loads((CATALOGS / f"{language}.toml").read_text(encoding="utf-8"))))


def formula(latex: str) -> str:
    """A formula as mathematics: words in \\text{} set aside, a decimal mark read as a point, no spacing."""
    latex = re.sub(r"\\text\{[^}]*\}", r"\\text{}", latex).replace("{,}", ".")
    return re.sub(r"\\[,;!]|\s", "", latex)


def mathematics(sentence: str) -> Counter[str]:
    return Counter(formula(found) for found in MATH.findall(sentence))


@pytest.mark.parametrize("language", sorted(path.stem for path in CATALOGS.glob("*.toml") if path.stem != "en"))
def test_every_sentence_states_the_english_mathematics(language):
    english, other = catalog("en"), catalog(language)
    differ = {
        key: (sorted(mathematics(text)), sorted(mathematics(other[key])))
        for key, text in english.items()
        if key in other and mathematics(text) != mathematics(other[key])
    }
    assert not differ, differ


def test_a_swapped_derivative_is_a_different_formula():
    """The check itself: ∂out_k/∂net_j and ∂net_j/∂out_k differ, words in \\text{} do not."""
    right = r"$\partial \mathrm{out}_k / \partial \mathrm{net}_j$"
    swapped = r"$\partial \mathrm{net}_j / \partial \mathrm{out}_k$"
    assert mathematics(right) != mathematics(swapped)
    assert mathematics(r"$\Delta\theta_{\text{before}}$") == mathematics(r"$\Delta\theta_{\text{anterior}}$")


class _Named(LatexPrinter):
    """The rules' LaTeX, each symbol written as the sentence writes it, terms in the order written."""

    def __init__(self, names: dict[Any, str]) -> None:
        super().__init__({"order": "none"})
        self.names = names

    def _print_Symbol(self, expr: Any) -> str:
        return self.names[expr]


def test_the_momentum_sentence_states_the_update_rule():
    """Δθ = β·Δθ_before − η·∂E/∂θ and θ⁺ = θ + Δθ, as derive.core.rules.change and updated say."""
    names = {
        rules.PARAMETER: r"\theta",
        rules.GRADIENT: r"\partial E / \partial \theta",
        rules.PREVIOUS_CHANGE: r"\Delta\theta_{\text{before}}",
        rules.LEARNING_RATE: r"\eta",
        rules.MOMENTUM: r"\beta",
    }
    change = _Named(names).doprint(rules.change(momentum=True, decay=False))
    stated = mathematics(catalog("en")["momentum_note"])
    assert stated[formula(rf"\Delta\theta = {change}")] == 1, stated
    assert stated[formula(r"\theta^{+} = \theta + \Delta\theta")] == 1, stated


@pytest.mark.parametrize("language", sorted(path.stem for path in CATALOGS.glob("*.toml")))
def test_every_sentence_writes_the_net_input_in_the_documents_notation(language):
    r"""The net input is {net}, filled in as \mathrm{net} or, with --notation in, \mathrm{in}: a sentence
    that wrote \mathrm{net} itself would say net whatever the notation (and, where {net} is filled in,
    print \mathrm\mathrm{net})."""
    for key, sentence in catalog(language).items():
        assert r"\mathrm{net}" not in sentence, f"{language}.toml {key}: write {{net}} for the net input"


# ∂out_k/∂net_j in the sentences' notation, proved below
SOFTMAX_JACOBIAN = r"\mathrm{out}_k ([k = j] - \mathrm{out}_j)"


@pytest.mark.parametrize("language", sorted(path.stem for path in CATALOGS.glob("*.toml")))
def test_the_softmax_sentences_state_its_derivative_and_cross_entropys_delta(language):
    """∂out_k/∂net_j = out_k([k = j] − out_j), proved here with SymPy for every k and j of a layer of three,
    is what each language's softmax sentences state; with cross-entropy's ∂E/∂out_k = −t_k/out_k the sum
    over k is out_j·Σ_k t_k − t_j, which is derive.core.rules' δ, and what the sentence concludes."""
    import sympy as sp

    from derive.core.functions import softmax

    nets, targets = sp.symbols("net1:4"), sp.symbols("t1:4")
    outs = [softmax(list(nets), k) for k in range(3)]
    for k, j in itertools.product(range(3), repeat=2):
        assert sp.simplify(sp.diff(outs[k], nets[j]) - outs[k] * (int(k == j) - outs[j])) == 0, (k, j)
    for j in range(3):
        chained = sum(-targets[k] / outs[k] * outs[k] * (int(k == j) - outs[j]) for k in range(3))
        delta = rules.softmax_cross_entropy_delta(outs[j], targets[j], sp.Add(*targets))
        assert sp.simplify(chained - delta) == 0, j
    sentences = catalog(language)
    softmax_rule = (
        rf"\partial E / \partial {{net}}_j = \sum_k \partial E / \partial \mathrm{{out}}_k \cdot {SOFTMAX_JACOBIAN}"
    )
    assert mathematics(sentences["rules.softmax"])[formula(softmax_rule)] == 1, sentences["rules.softmax"]
    stated = mathematics(sentences["rules.softmax_cross_entropy"])
    assert stated[formula(rf"\partial \mathrm{{out}}_k / \partial {{net}}_j = {SOFTMAX_JACOBIAN}")] == 1, stated
    assert stated[formula(r"\sum_k -t_k ([k = j] - \mathrm{out}_j) = \mathrm{out}_j \sum_k t_k - t_j")] == 1, stated
