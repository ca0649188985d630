"""Every displayed equation chain, read back from the Markdown, the LaTeX key and the page, holds.

``symbol = formula = numbers substituted = value``: each chain is parsed here (tests/chains.py, a
parser of the test's own, nothing of derive's) and each part evaluated (tests/chain_values.py) with
what the reader has, the network file's givens (read with tomllib) and the values of the lines
before; consecutive parts must agree to the digits shown. A formula written with ∂net/∂out for
∂out/∂net reads a symbol no line gives a value (or the wrong one), a sign flipped in a substituted
line gives another number: either fails with the chain's text. The updates are held to the rule
written here, θ⁺ = θ + β·Δθ − η·∂E/∂θ, with Δθ the file's ``previous_update`` (0 where it gives
none).
"""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from tests.chain_values import Chain, Values, disagreements, half_unit
from tests.chains import BY_CASES, Expr, Parser, case_rows, latex_boxes, mathml_boxes
from tests.conftest import run_derive
from tests.consistency_corpus import CORPUS

DIGITS = 9  # the documents' significant figures
MOMENTUM = """
learning_rate = 0.5
momentum = 0.9
weight_decay = 0.01
train_biases = true
[previous_update]
w1 = 0.002
w5 = -0.01
w8 = 0.003
b2 = 0.02
[[layers]]
name = "h"
activation = "sigmoid"
weights = [[0.15, 0.2], [0.25, 0.3]]
bias = 0.35
[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.4, 0.45], [0.5, 0.55]]
bias = 0.6
[[examples]]
inputs = [0.05, 0.1]
targets = [0.01, 0.99]
"""
CASES = [
    ("mazur", "en"),
    ("mazur", "es"),
    ("softmax", "en"),
    ("softmax", "es"),
    ("deep", "en"),
    ("xor", "en"),
    ("momentum", "en"),
    ("decay", "en"),  # weight decay without momentum: tanh and linear, mse over two examples
    ("elu", "en"),  # softplus and ELU (a function by cases), momentum with no decay
    ("leaky", "en"),  # leaky ReLU by cases, cross-entropy, fixed biases
]
FILES = {
    "momentum": MOMENTUM,
    "decay": CORPUS["tanh_mse_decay"].toml,
    "elu": CORPUS["softplus_elu_momentum"].toml,
    "leaky": CORPUS["leaky_ce_fixed_biases"].toml,
}
FORMATS = ["markdown", "latex", "html"]


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> Callable[[str, str, str], tuple[str, dict]]:
    """A document's text and its network's file, each made once per worker."""
    folder = tmp_path_factory.mktemp("chains")
    made: dict[tuple[str, str, str], tuple[str, dict]] = {}

    def make(network: str, language: str, form: str) -> tuple[str, dict]:
        key = (network, language, form)
        if key not in made:
            if network in FILES:
                (folder / f"{network}.toml").write_text(FILES[network], encoding="utf-8")
            source = str(folder / f"{network}.toml") if network in FILES else network
            text = FILES[network] if network in FILES else run_derive("example", network).stdout
            out = folder / f"{network}-{language}-{form}"
            if form == "markdown":
                written = run_derive("explain", source, "--lang", language).stdout
            elif form in ("latex", "exam"):
                exam = ["--exercise", "exam"] if form == "exam" else []
                run_derive("worksheet", source, "--lang", language, *exam, "-o", str(out))
                written = (out / ("exam-solutions.tex" if exam else "solutions.tex")).read_text(encoding="utf-8")
            else:
                run_derive("html", source, "--lang", language, "-o", str(out.with_suffix(".html")))
                written = out.with_suffix(".html").read_text(encoding="utf-8")
            made[key] = (written, tomllib.loads(text))
        return made[key]

    return make


# --- the chains, as each format writes them --------------------------------------------------------


def parts(boxes) -> list[Expr]:
    return [part for part in Parser(boxes).parts()]


def markdown_chains(text: str) -> list[Chain]:
    """Each ``$$…$$`` block, and each row of the updates' table with the rule its head states."""
    chains = [
        Chain("markdown", block, parts(latex_boxes(block))) for block in re.findall(r"\$\$\n(.*?)\n\$\$", text, re.S)
    ]
    head = re.search(r"^\| \$(\\theta\^\{\+\} = [^$]*)\$ \| \w+ \|\n\| --- \| ---: \|\n((?:\|.*\|\n)+)", text, re.M)
    if head:
        rule = parts(latex_boxes(head[1]))[1]
        for row in re.findall(r"^\| \$([^$]*)\$ \| (\S+) \|$", head[2], re.M):
            chain = parts(latex_boxes(f"{row[0]} = {row[1].replace(',', '{,}')}"))
            parameter = chain[0].args[0].removesuffix("^+")
            said = f"{row[0]} = {row[1]}, under the table's head {head[1]}"
            chains.append(Chain("markdown table", said, [chain[0], named(rule, parameter), *chain[1:]]))
    return chains


def latex_chains(text: str) -> list[Chain]:
    """Each line of every ``align*`` and ``equation*`` (a line continued by ``\\\\*`` is one), each update row."""
    chains = []
    for body in re.findall(r"\\begin\{(?:align|equation)\*\}(.*?)\\end\{(?:align|equation)\*\}", text, re.S):
        body = BY_CASES.sub(case_rows, body)  # a function by cases keeps its rows' \\\\ to itself
        lines: list[str] = []
        for line in re.split(r"\\\\(?!\*)", body):
            if re.match(r"&\s*(?:\\quad\s*)?[=+-]", line.strip()) and lines:
                lines[-1] += line
            elif line.strip():
                lines.append(line)
        chains += [Chain("latex", line.strip(), parts(latex_boxes(line))) for line in lines]
    for row in re.findall(r"^\$(\w_\{\d+\}\^\{\+\})\$ & \$(=[^$]*)\$ & \$(=[^$]*)\$", text, re.M):
        chains.append(Chain("latex table", " ".join(row), parts(latex_boxes(" ".join(row)))))
    return chains


def html_chains(text: str) -> list[Chain]:
    """Each ``<div class="eq">``: its parts' MathML read as one row."""
    chains = []
    for block in re.findall(r'<div class="eq"[^>]*>(.*?)</div>', text, re.S):
        rows = [mathml_boxes(ET.fromstring(math)) for math in re.findall(r"<math.*?</math>", block, re.S)]
        row = type(rows[0])(tuple(item for r in rows for item in r.items))
        chains.append(Chain("html", " ".join(re.sub(r"<[^>]+>", " ", block).split()), parts(row)))
    return chains


READERS = {"markdown": markdown_chains, "latex": latex_chains, "exam": latex_chains, "html": html_chains}


def named(rule: Expr, parameter: str) -> Expr:
    """The update rule's formula for one parameter: θ read as ``parameter`` in every symbol."""
    if rule.op == "sym":
        return Expr("sym", (rule.args[0].replace("θ", parameter),))
    return Expr(rule.op, tuple(named(a, parameter) if isinstance(a, Expr) else a for a in rule.args))


# --- what the reader knows -------------------------------------------------------------------------


def givens(spec: dict) -> Values:
    """The file's numbers under the symbols the documents give them, and the definitions they state."""
    values = Values()
    examples = spec["examples"]
    several = len(examples) > 1
    n, b = 1, 1
    sources = [f"i_{k + 1}" for k in range(len(examples[0]["inputs"]))]
    joins: dict[tuple[str, str], str] = {}  # (into, from) → weight: ∂net_into/∂out_from
    inputs: dict[str, str] = {}  # weight → what it multiplies: ∂net/∂w
    for layer in spec["layers"]:
        neurons = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        for j, row in enumerate(layer["weights"]):
            for k, weight in enumerate(row):
                values.known[f"w_{n}"] = weight
                joins[(neurons[j], sources[k].removeprefix("out_"))] = f"w_{n}"
                inputs[f"w_{n}"] = sources[k]
                n += 1
        for bias in layer["bias"] if isinstance(layer["bias"], list) else [layer["bias"]]:
            values.known[f"b_{b}"] = bias
            b += 1
        sources = [f"out_{neuron}" for neuron in neurons]
    outputs = [source.removeprefix("out_") for source in sources]
    for p, example in enumerate(examples, 1):
        tag = f"^({p})" if several else ""
        values.known.update({f"i_{k}{tag}": x for k, x in enumerate(example["inputs"], 1)})
        values.known.update({f"t_{o}{tag}": t for o, t in zip(outputs, example["targets"], strict=True)})
    values.known["η"] = spec.get("learning_rate", 0.5)
    if "momentum" in spec:
        values.known["β"] = spec["momentum"]
        for parameter in [name for name in values.known if name[:2] in ("w_", "b_")]:
            values.known["Δ" + parameter] = spec.get("previous_update", {}).get(parameter.replace("_", ""), 0.0)
    if "weight_decay" in spec:  # E_decay = (λ/2)·Σ w², so ∂E_decay/∂w = λ·w
        values.known["λ"] = spec["weight_decay"]
        for weight in [name for name in values.known if name.startswith("w_")]:
            values.known[f"∂E_decay/∂{weight}"] = spec["weight_decay"] * values.known[weight]
    values.exact.update(values.known)
    values.aliases += [delta_alias, lambda name: weight_alias(name, joins), bias_alias]
    values.aliases.append(lambda name: input_alias(name, inputs, several))
    if "weight_decay" not in spec:  # without a decay term E is E_total: the momentum rule writes ∂E/∂θ
        values.aliases.append(lambda name: name.replace("∂E/", "∂E_total/", 1) if name.startswith("∂E/") else None)
    return values


def delta_alias(name: str) -> str | None:
    """δ_j is ∂E_total/∂net_j, the error signal as the documents define it, and the other way."""
    if name.startswith("δ_"):
        return "∂E_total/∂net_" + name.removeprefix("δ_")
    if name.startswith("∂E_total/∂net_"):
        return "δ_" + name.removeprefix("∂E_total/∂net_")
    return None


def weight_alias(name: str, joins: dict[tuple[str, str], str]) -> str | None:
    """∂net_k/∂out_j is the weight from j into k (net_k = Σ w·out + b)."""
    found = re.fullmatch(r"∂net_(\w+?)(\^.*)?/∂out_(\w+?)(\^.*)?", name)
    if found and found[2] == found[4]:
        return joins.get((found[1], found[3]))
    return None


def input_alias(name: str, inputs: dict[str, str], several: bool) -> str | None:
    """∂net_j/∂w is what w multiplies: an input or an output of the layer before (of the same example)."""
    found = re.fullmatch(r"∂net_\w+?(\^.*)?/∂(w_\d+)", name)
    if not found or found[2] not in inputs:
        return None
    source, tag = inputs[found[2]], found[1] or ""
    return source + ("" if source.startswith("i_") and not several else tag)


def bias_alias(name: str) -> str | None:
    """∂E/∂b is ∂E_total/∂b: the decay term is over the weights, not the biases."""
    return "∂E_total/∂b_" + name.removeprefix("∂E/∂b_") if name.startswith("∂E/∂b_") else None


def reader_values(chains: list[Chain], spec: dict) -> tuple[Values, list[str]]:
    """The givens and the value each chain gives the symbol it opens with; one given two values is a conflict.

    Only the opening symbol is defined by its line: a symbol further along (δ = ∂E/∂net) must be
    known already, as a given, from a line of its own or by the definitions the documents state.
    """
    values = givens(spec)
    conflicts = []
    for chain in chains:
        left = chain.parts[0]
        if chain.value is None or left.op != "sym" or len(chain.parts) < 2:
            continue
        name = left.args[0]
        earlier = values.known.setdefault(name, chain.value)
        if abs(earlier - chain.value) > 2 * half_unit(DIGITS):
            conflicts.append(f"{chain.where}: {name} = {chain.value:.10g} here, {earlier:.10g} before: {chain.text}")
    return values, conflicts


def read(document, network: str, language: str, form: str) -> tuple[list[Chain], Values, list[str]]:
    text, spec = document(network, language, form)
    chains = READERS[form](text)
    values, conflicts = reader_values(chains, spec)
    return chains, values, conflicts


# --- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
@pytest.mark.parametrize(("network", "language"), CASES)
def test_every_chain_holds_to_the_digits_shown(document, network, language, form):
    chains, values, conflicts = read(document, network, language, form)
    assert len(chains) >= 30, f"only {len(chains)} chains read"
    assert sum(chain.value is not None for chain in chains) >= 20
    wrong = conflicts + [line for chain in chains for line in disagreements(chain, values, DIGITS)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("network", ["mazur", "softmax", "deep", "momentum", "leaky"])
def test_every_chain_of_the_exam_key_holds(document, network):
    """The exam's key (``--exercise exam`` on a named network works the file's numbers), chain by chain."""
    chains, values, conflicts = read(document, network, "en", "exam")
    assert sum(chain.value is not None for chain in chains) >= 10, f"only {len(chains)} chains read"
    wrong = conflicts + [line for chain in chains for line in disagreements(chain, values, DIGITS)]
    assert not wrong, "\n".join(wrong)


def shown_updates(chains: list[Chain]) -> dict[str, float]:
    """Each θ⁺ a chain gives a value: ``w_5^+`` → 0.35891648."""
    found = {}
    for chain in chains:
        left = chain.parts[0]
        if left.op == "sym" and left.args[0][:2] in ("w_", "b_") and left.args[0].endswith("^+"):
            found[left.args[0].removesuffix("^+")] = chain.value
    return found


@pytest.mark.parametrize("form", FORMATS)
@pytest.mark.parametrize(("network", "language"), CASES)
def test_every_update_follows_the_rule(document, network, language, form):
    """θ⁺ = θ + β·Δθ − η·∂E/∂θ (no β term without momentum), ∂E/∂θ with λθ when the file has decay."""
    chains, values, _ = read(document, network, language, form)
    _, spec = document(network, language, form)
    trained = [
        name
        for name in givens(spec).known
        if name.startswith("w_") or (name.startswith("b_") and spec.get("train_biases", True))
    ]
    updated = shown_updates(chains)
    assert set(updated) == set(trained)
    for name in trained:
        gradient = values.known.get(f"∂E/∂{name}", values.known.get(f"∂E_total/∂{name}"))
        rule = values.known[name] - values.known["η"] * gradient
        if "momentum" in spec:
            rule += values.known["β"] * values.known["Δ" + name]
        allowed = 2 * half_unit(DIGITS)
        assert abs(updated[name] - rule) <= allowed, f"{form}: {name}⁺ = {updated[name]}, the rule gives {rule:.10g}"


def test_the_reader_itself_catches_a_flipped_sign_and_a_swapped_derivative():
    """The parser and the check, on lines written here: a sign flipped, a derivative upside down."""
    values = Values(known={"w_1": 0.15, "i_1": 0.05, "w_2": 0.2, "i_2": 0.1, "b_1": 0.35, "∂E_total/∂out_o1": 0.74})
    values.known["∂out_o1/∂net_o1"] = 0.19
    right = (
        r"\mathrm{net}_{h1} = w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + b_{1} \cdot 1"
        r" = 0{,}15 \cdot 0{,}05 + 0{,}2 \cdot 0{,}1 + 0{,}35 \cdot 1 = 0{,}3775"
    )
    values.known["net_h1"] = 0.3775
    assert not disagreements(Chain("here", right, parts(latex_boxes(right))), values, DIGITS)
    flipped = right.replace(r"+ 0{,}2", r"- 0{,}2")
    assert disagreements(Chain("here", flipped, parts(latex_boxes(flipped))), values, DIGITS)
    swapped = (
        r"\delta_{o1} = \frac{\partial E_{\text{total}}}{\partial \mathrm{out}_{o1}}"
        r" \cdot \frac{\partial \mathrm{net}_{o1}}{\partial \mathrm{out}_{o1}} = 0.74 \cdot 0.19 = 0.1406"
    )
    values.known["δ_o1"] = 0.1406
    (said,) = disagreements(Chain("here", swapped, parts(latex_boxes(swapped))), values, DIGITS)
    assert "∂net_o1/∂out_o1" in said


def test_mathml_and_latex_read_alike():
    """The page's MathML of a line and its LaTeX give one expression: ``e^{…}``, fractions, scripts, decimal commas."""
    latex = r"\mathrm{out}_{h1}^{+(2)} = \frac{1}{1 + e^{- 0{,}3775}} = 0{,}593269992"
    mathml = (
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow><msubsup><mrow><mi>out</mi></mrow><mrow><mi>h</mi>'
        "<mn>1</mn></mrow><mrow><mo>+</mo><mo>(</mo><mn>2</mn><mo>)</mo></mrow></msubsup><mo>=</mo><mfrac><mrow>"
        "<mn>1</mn></mrow><mrow><mn>1</mn><mo>+</mo><msup><mi>e</mi><mrow><mo>−</mo><mn>0,3775</mn></mrow></msup>"
        "</mrow></mfrac><mo>=</mo><mn>0,593269992</mn></mrow></math>"
    )
    assert parts(latex_boxes(latex)) == parts(mathml_boxes(ET.fromstring(mathml)))
    assert parts(latex_boxes(latex))[0] == Expr("sym", ("out_h1^+(2)",))


def test_a_number_alone_in_a_functions_brackets_is_not_bracketed_again(tmp_path):
    """tanh(−0.05), not tanh((−0.05)): a negative value substituted as a function's whole argument is
    already inside its brackets, in the Markdown, the LaTeX key and the page alike (the recurrent network's
    h2,1 and h1,2 have negative net inputs); a negative factor of a product keeps its own parentheses."""
    markdown = run_derive("explain", "rnn").stdout
    run_derive("worksheet", "rnn", "-o", str(tmp_path))
    page = run_derive("html", "rnn", "-o", str(tmp_path / "rnn.html")) and (tmp_path / "rnn.html").read_text("utf-8")
    key = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    for name, text in (("markdown", markdown), ("key", key)):
        assert r"\tanh{\left(-0.05 \right)}" in text, name
        assert not re.search(r"\\left\(\s*\\left\(", text), name
    assert "tanh" in page and not re.search(r'form="prefix">\(</mo>(?:<mrow>)*<mo[^>]*form="prefix">\(</mo>', page)
    assert re.search(r"\\cdot \\left\(-0\.\d+\\right\)", markdown)  # a product's negative factor: (−0.4)
