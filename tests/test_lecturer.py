"""What a lecturer reading the documents asked for, pinned where a test can check it."""

import re
import tomllib
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from derive import example
from derive.core.steps import is_copy
from derive.document import build
from derive.outputs.render import shipped_templates
from tests.conftest import run_derive, worksheet_group
from tests.documents import math_fragments, pdf_text


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sheets")
    run_derive("worksheet", "-o", str(folder))
    return (folder / "worksheet.tex").read_text(), (folder / "solutions.tex").read_text()


def test_the_worksheet_states_how_it_is_marked(solutions):
    worksheet, _ = solutions
    assert "within one unit of its last figure" in worksheet and "0.1233 is not" in worksheet
    assert "Give each answer to 4 significant figures" in worksheet and "at least 4 significant figures" in worksheet
    assert "error carried forward" in worksheet
    spanish = run_derive("explain", "--lang", "es").stdout  # the same rule, in the catalog of each language
    catalog = tomllib.loads((shipped_templates() / "i18n" / "es.toml").read_text(encoding="utf-8"))
    assert "error arrastrado" in catalog["worksheet"]["marking"] and spanish


def test_a_value_not_the_product_of_its_rounded_numbers_is_marked(solutions):
    """Recompute each boxed product from the rounded numbers shown, with Decimal: a mismatch carries the mark."""
    _, text = solutions
    marked = unmarked = 0
    boxed = r"= ([\d.]+ \\cdot [\d.]+) = \\answer\{([\d.]+)\}(\\;\\text\{\(\*\)\})?"
    for numbers, value, star in re.findall(boxed, text):
        left, right = (Decimal(part) for part in numbers.split(r" \cdot "))
        product = (left * right).quantize(Decimal(value), rounding=ROUND_HALF_EVEN)
        assert (product != Decimal(value)) == bool(star), f"{numbers} = {value}{star}"
        marked += bool(star)
        unmarked += not star
    assert marked >= 1 and unmarked >= 5
    assert "A value marked (*) is computed from the unrounded values" in text


def test_a_box_shows_a_value_as_every_line_shows_it(solutions):
    """One display rule: out_o1 = σ(1.105905967) reads 0.75136507 in its box and in the lines that use it."""
    _, text = solutions
    assert r"\answer{-0.02260254}" in text and r"\answer{0.3775}" in text
    assert r"\answer{0.75136507}" in text and "(0.01 - 0.75136507)" in text
    boxed = re.findall(r"\\answer\{(-?[\d.]+)\}", text)
    assert len(boxed) > 40 and not [value for value in boxed if "." in value and value.endswith("0")]


def test_no_blank_repeats_a_value_already_written_or_given():
    for name in ("mazur", "softmax", "deep", "xor"):
        steps = example(name).steps()
        for step in steps:
            if step.blank:
                assert not is_copy(step.formula), f"{name}: blank {step.blank} ({step.key}) only copies {step.formula}"
    steps = example().steps()
    assert steps.find("dnet_o1/dw5").blank is None and steps.find("dnet_h1/db1").blank is None
    # the new forward pass after the step has blanks of its own, leading to the error after the step
    assert [steps.find(key).blank for key in ("net_h1+", "out_h1+", "E_o1+", "E_total+")] == [42, 43, 50, 52]


def test_multi_letter_names_are_upright_and_running_text_has_no_fractions():
    text = run_derive("explain", "deep").stdout
    assert not re.search(r"(?<![a-z{])(out|net|in)_\{", text), "an italic multi-letter name"
    assert "E_{total}" not in text and r"E_{\text{total}}" in text
    for fragment, display in math_fragments(text):
        if not display:
            assert r"\frac" not in fragment, fragment
    for path in (shipped_templates() / "i18n").glob("*.toml"):
        assert r"\\frac" not in path.read_text(encoding="utf-8"), f"{path.name}: a fraction in running text"


def test_blank_numbers_are_tags_in_the_margin(solutions):
    worksheet, text = solutions
    tagged = worksheet.count(r"\blanktag{") + len(re.findall(r"& \\small\(\d+\) \\\\", worksheet))  # lines, table rows
    assert tagged == example().steps().blanks
    assert r"_{\,\text{(" not in worksheet + text  # not a subscript that reads like an index


def test_rules_are_said_once():
    text = run_derive("explain", "--detail", "full").stdout
    assert text.count("By the linearity of the net input") == 1
    assert text.count("By the chain rule") == 1
    assert text.count("By the derivative of the logistic function") == 1
    assert text.count("which we write $\\delta$") == 1


def test_the_graph_shows_symbols_before_the_values_are_derived():
    doc = build(example().derivation)
    for section in doc.backward:
        for step in section.gradients:
            for edge in step.graph.edges:
                assert not re.search(r"\d\.\d|=", edge.text), edge.text


def test_mse_says_where_its_constants_come_from():
    text = run_derive("explain", "deep").stdout
    assert "The 2 comes from the power rule ($(x^2)' = 2x$)" in text
    # deep: the mean squared error of one output over 2 examples, its line 1/2 · (−2 · (t − out))
    assert "the $1/2$ in front comes from the mean over the 2 examples" in text
    assert "the $-1$ is the inner derivative of $t - \\mathrm{out}$" in text


def test_an_inactive_relu_unit_is_explained():
    text = run_derive("explain", "deep").stdout
    sentence = "Neuron $h1$ is inactive in example 1: its net input, $-1.2$, is not positive"
    assert sentence in text
    assert "ReLU has no derivative at 0; derive takes the subgradient 0 there" in text
    assert "written $[x > 0]$ (1 when the condition holds, 0 when it does not)" in text


def test_softmax_with_cross_entropy_is_explained():
    text = run_derive("explain", "softmax").stdout
    assert "Softmax couples the outputs" in text
    assert r"\mathrm{out}_j \sum_k t_k - t_j" in text  # derived, not only stated
    assert "Its own error $E_{o1}$ is 0, because its target is 0, yet $\\delta_{o1}$ is not" in text
    assert r"\ln" in text and r"\log" not in text.replace(r"\log_{10}", "")


def test_softmax_forward_pass_computes_every_net_input_first():
    text = run_derive("explain", "softmax").stdout
    forward = text[text.index("**Output layer o**") : text.index("**The error.**")]
    first_out = forward.index(r"\mathrm{out}_{o1} =")
    for net in ("o1", "o2", "o3"):
        assert forward.index(rf"\mathrm{{net}}_{{{net}}} =") < first_out
    keys = [step.key for step in example("softmax").steps()]
    assert keys.index("net_o3") < keys.index("out_o1")


def test_biases_are_described_as_the_example_convention():
    text = run_derive("explain").stdout
    assert "one bias shared by all its neurons, the convention of this worked example" in text
    assert "The biases are kept fixed in this example" in text
    assert "## Updating the weights\n" in text and "Updating the weights and biases" not in text
    trained = run_derive("explain", "xor").stdout
    assert "## Updating the weights and biases" in trained
    # the bias sentences come before the derivation they explain
    b2 = text.index(r"\frac{\partial E_{\text{total}}}{\partial b_{2}} =")
    assert text.rindex("The bias $b_{2}$ is shared by $o1$ and $o2$", 0, b2) > text.rindex("$$", 0, b2) - 400


def test_what_a_lecturer_adds():
    text = run_derive("explain").stdout
    assert "**What you will be able to do**" in text
    assert "Matt Mazur" in text and "$0.291027924$" in text and "$0.291027774$" in text
    assert "### The general delta rule" in text and r"\delta_j = f'(\mathrm{net}_j) \sum_k w_{kj}" in text
    assert r"$w_{5}$ falls from $0.4$ to $0.35891648$" in text
    assert "about 75 times smaller" in text and "at most 0.25" in text
    assert "xychart-beta" in text and "The chart shows the logarithm of the error" in text


@worksheet_group(language="es")
def test_spanish_documents_read_as_spanish(worksheet_pdfs):
    folder = worksheet_pdfs(language="es")
    for name in ("worksheet.pdf", "solutions.pdf"):
        text = " ".join(pdf_text(folder / name).split())  # what the reader sees, lines joined
        assert "sesgo" in text and "bias" not in text and "pasada" not in text, name
    solutions = " ".join(pdf_text(folder / "solutions.pdf").split())
    assert "Combinando los factores" in solutions and "en sentido opuesto al gradiente" in solutions


EXACT = """
learning_rate = 0.125

[[layers]]
name = "o"
activation = "linear"
weights = [[0.5, 0.25]]
bias = 0.125

[[examples]]
inputs = [1.0, 2.0]
targets = [0.5]
"""


def test_a_key_whose_every_value_is_its_rounded_numbers_own_has_no_note_about_marks(tmp_path):
    """A linear neuron on short decimals: every line's value is exactly what its numbers give, so no
    value is marked (*) and the note that explains the mark is left out."""
    (tmp_path / "exact.toml").write_text(EXACT, encoding="utf-8")
    run_derive("worksheet", str(tmp_path / "exact.toml"), "-o", str(tmp_path))
    key = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    assert r"0.5 \cdot 1 + 0.25 \cdot 2 + 0.125 \cdot 1 = \answer{1.125}" in key  # net, worked exactly
    assert r"\tfrac{1}{2} \left(0.5 - 1.125\right)^{2} = \answer{0.1953125}" in key  # E = ½(t − out)²
    assert r"\text{(*)}" not in key and "unrounded values" not in key
