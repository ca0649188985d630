"""The rules, sums and tables of the documents, read for what they mean rather than compared with derive's output.

A reader of the slides checks that every ∂A/∂B has A downstream of B (E ← out ← net ← w, b, x), that the
hidden δ rule keeps its indices (δ_j with f'(net_j), Σ over k of w_kj δ_k), that a path sum adds one chain
per path and each chain runs from E down to the weight, and that a table's values sit under their headings.
The values come from the network file, read with tomllib and computed here with NumPy.
"""

from __future__ import annotations

import itertools
import re
import tomllib

import numpy as np
import pytest

from tests.conftest import ROOT, run_derive
from tests.documents import html_tables

# what a quantity is, downstream first: E is made of outputs, an output of its net input, a net input of
# weights, biases and inputs
RANK = {"E": 4, "out": 3, "net": 2, "w": 1, "b": 1, "x": 1, "i": 1}
# one link of a chain, from a quantity to what it is made of (a net input of the outputs of the layer below)
# a local derivative ∂top/∂bottom the chains may hold (E on net: a softmax output under cross-entropy)
LINKS = {("E", "out"), ("E", "net"), ("out", "net"), ("net", "out"), ("net", "w"), ("net", "b"), ("net", "k")}
NET_RULE = r"\\mathrm\{net\}_(\w) = \\sum_(\w) w_\{(\w)(\w)\}\\, x_(\w) \+ b_(\w)"
MATRIX_LHS = (
    r"(?:\\boldsymbol\{\\delta\}_\{(\w)\}|\\frac\{\\partial E_\{\\text\{total\}\}\}\{\\partial ([Wb])_\{(\w)\}\}) &= .+"
)
NUMBER = r"-?\d+(?:\.\d+)?(?:\\times 10\^\{-?\d+\})?"


def spec(name: str) -> dict:
    return tomllib.loads(run_derive("example", name).stdout)


def sentences(language: str) -> dict:
    """A language's catalog (templates/i18n), the sentences the documents print."""
    return tomllib.loads((ROOT / "templates" / "i18n" / f"{language}.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def slides(tmp_path_factory) -> dict[str, str]:
    """The deck of the worked example and of the small convolutional network, as LaTeX."""
    decks = {}
    for name in ("mazur", "cnn", "softmax"):
        folder = tmp_path_factory.mktemp(f"slides-{name}")
        network = folder / f"{name}.toml"
        network.write_text(run_derive("example", name).stdout, encoding="utf-8")
        run_derive("slides", str(network), "-o", str(folder))
        decks[name] = (folder / "slides.tex").read_text(encoding="utf-8")
    return decks


def group_end(text: str, start: int) -> int:
    """The index just past the brace group opening at ``text[start] == "{"``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise AssertionError(f"unbalanced braces: {text[start : start + 80]}")


def fractions(text: str) -> list[tuple[str, str]]:
    r"""Each ``\frac{\partial A}{\partial B}`` of the text, in order, as (A, B)."""
    found = []
    for match in re.finditer(r"\\frac\{", text):
        top_end = group_end(text, match.end() - 1)
        bottom_end = group_end(text, top_end)
        top, bottom = text[match.end() : top_end - 1], text[top_end + 1 : bottom_end - 1]
        if top.startswith("\\partial ") and bottom.startswith("\\partial "):
            found.append((top.removeprefix("\\partial ").strip(), bottom.removeprefix("\\partial ").strip()))
    return found


def kind(quantity: str) -> str:
    r"""``\mathrm{out}_{o1}`` → out, ``E_{\text{total}}`` → E, ``w_{ji}`` → w."""
    match = re.match(r"\\mathrm\{(\w+)\}|([A-Za-z])", quantity)
    assert match, quantity
    return match[1] or match[2]


def downstream(top: str, bottom: str) -> bool:
    return RANK[kind(top)] > RANK[kind(bottom)]


# -- the general delta rule ----------------------------------------------------------------------------


def test_the_delta_rule_box_reads_as_the_chain_rule(slides):
    box = re.search(r"\\boxed\{\\begin\{aligned\}(.*?)\\end\{aligned\}", slides["mazur"], re.S)[1]
    output, hidden, weight = [row.split("&&")[0].strip() for row in re.split(r"\\\\(?:\[[^]]*\])?", box)]
    for top, bottom in fractions(box):
        assert downstream(top, bottom), f"∂{top}/∂{bottom} is upside down"
    # δ_o = ∂E/∂out_o · f'(net_o): one neuron's index throughout
    rule = re.fullmatch(
        r"\\delta_(\w) &= \\frac\{.*?\}\{\\partial \\mathrm\{out\}_(\w)\}\\, f'\(\\mathrm\{net\}_(\w)\)", output
    )
    assert rule and rule[1] == rule[2] == rule[3], output
    # δ_j = f'(net_j) Σ_k w_kj δ_k: the sum runs over the neurons k that j feeds, w_kj from j into k
    rule = re.fullmatch(r"\\delta_(\w) &= f'\(\\mathrm\{net\}_(\w)\) \\sum_(\w) w_\{(\w)(\w)\}\\, \\delta_(\w)", hidden)
    assert rule, hidden
    j, net_index, k, into, source, delta_index = rule.groups()
    assert j == net_index == source and k == into == delta_index and k != j, hidden
    # ∂E/∂w_ji = δ_j x_i: the δ of the neuron the weight enters, the input it comes from
    rule = re.fullmatch(
        r"\\frac\{\\partial E_\{\\text\{total\}\}\}\{\\partial w_\{(\w)(\w)\}\} &= \\delta_(\w)\\, x_(\w)", weight
    )
    assert rule and rule[1] == rule[3] and rule[2] == rule[4] and rule[1] != rule[2], weight


@pytest.mark.parametrize("name", ["mazur", "cnn", "softmax"])
def test_each_neuron_is_defined_from_its_own_net_input(slides, name):
    definitions = re.findall(r"\\mathrm\{out\}_(\w) = (.*?)(?:\$|\n)", slides[name])
    assert definitions
    for neuron, rhs in definitions:
        bound = set(re.findall(r"\\sum_(\w)", rhs))  # softmax's Σ_k e^{net_k} runs over the layer
        assert set(re.findall(r"\\mathrm\{net\}_(\w)", rhs)) - bound == {neuron}, f"out_{neuron} = {rhs}"
    # net_j = Σ_i w_ji x_i + b_j: the weights into j, from the inputs i the sum runs over
    nets = re.findall(NET_RULE, slides[name])
    assert nets
    for neuron, source, into, weighted, source_again, bias in nets:
        assert neuron == into == bias and source == weighted == source_again != neuron, f"net_{neuron}'s sum"


# -- a weight's gradient as a sum over paths -----------------------------------------------------------


def path_sums(tex: str) -> list[tuple[str, str]]:
    """(left-hand side, right-hand side) of each aligned sum whose terms the slides reveal one by one."""
    blocks = re.findall(r"\\begin\{aligned\}\n(.*?)\\end\{aligned\}", tex, re.S)
    return [tuple(block.split(" &= ", 1)) for block in blocks if "\\uncover<" in block and " &= " in block]


@pytest.mark.parametrize("name", ["mazur", "softmax"])
def test_a_path_sum_adds_one_chain_per_path_from_the_error_down_to_the_weight(slides, name):
    sums = path_sums(slides[name])
    assert sums
    for lhs, rhs in sums:
        ((error, parameter),) = fractions(lhs)
        terms = re.split(
            r"\\\\\[0\.5ex\] &\\quad ([-+]) ", rhs.split("\\\\[1ex]")[0].split("\\\\ &\\quad + \\cdots")[0]
        )
        assert set(terms[1::2]) <= {"+"}, f"a path sum subtracts a path: {lhs}"
        chains = terms[0::2]
        overlays = [int(re.match(r"\\uncover<(\d+)->", chain)[1]) for chain in chains]
        assert overlays == list(range(2, len(chains) + 2)), f"{lhs}: paths revealed as {overlays}"
        for chain in chains:
            links = fractions(chain)
            assert links[0][0] == error and links[-1][1] == parameter, chain
            assert all(below == above for (_, below), (above, _) in itertools.pairwise(links)), chain
            assert all((kind(top), kind(bottom)) in LINKS for top, bottom in links), chain
        grouped = re.search(r"\\left\((.*?)\\right\)", rhs)
        if grouped:
            assert not re.search(r" - ", grouped[1]), grouped[1]
        # every path goes through the weight's neuron: its factors close each chain, after a "·"
        assert not re.search(r"\\cdot\s*(\}|\\\\|$)", rhs), f"{lhs}: a product ends in a dangling ·"


def test_a_kernel_entry_is_summed_over_its_positions_not_over_paths(slides):
    """w1 acts at each of the map's nine positions, each use reaching E_total on its own: its frame's chain
    rule writes one term per position (three, and six more), and the deck has no "sum over paths" frame."""
    assert not path_sums(slides["cnn"])
    assert "A hidden weight: a sum over paths" not in slides["cnn"]
    assert "and 6 more terms of the same form" in slides["cnn"]


# -- the convolutional deck's tables: each neuron's values, each δ -----------------------------------------


def cnn_values(network: dict) -> dict[str, float]:
    """net, out and δ of every feature-map and pooled position, by the textbook formulas, in NumPy."""
    conv, _, output = network["layers"]
    image = np.array(network["examples"][0]["inputs"])
    kernel = np.array(conv["kernels"][0])
    side = kernel.shape[0]
    size = image.shape[0] - side + 1
    net = np.array([[np.sum(image[r : r + side, c : c + side] * kernel) for c in range(size)] for r in range(size)])
    net += conv["bias"][0]
    out = np.maximum(net, 0)
    pool = network["layers"][1]["size"]  # stride 1: windows overlap
    positions = range(size - pool + 1)
    pooled = np.array([[out[r : r + pool, c : c + pool].max() for c in positions] for r in positions])
    weights = np.array(output["weights"][0]).reshape(pooled.shape)
    o = 1 / (1 + np.exp(-(np.sum(weights * pooled) + output["bias"][0])))
    delta_o = (o - network["examples"][0]["targets"][0]) * o * (1 - o)
    delta_p = weights * delta_o
    delta_c = np.zeros_like(net)
    for r, c in np.ndindex(delta_p.shape):
        window = out[r : r + pool, c : c + pool]
        a, b = np.unravel_index(np.argmax(window), window.shape)
        delta_c[r + a, c + b] += delta_p[r, c]
    delta_c *= net > 0
    values = {}
    for (r, c), value in np.ndenumerate(net):
        values |= {f"net_c1,{r + 1}{c + 1}": value, f"out_c1,{r + 1}{c + 1}": out[r, c]}
        values[f"delta_c1,{r + 1}{c + 1}"] = delta_c[r, c]
    for (r, c), value in np.ndenumerate(delta_p):
        values[f"delta_p1,{r + 1}{c + 1}"] = value
    return values


def shown(number: str) -> float:
    mantissa, _, exponent = number.partition("\\times 10^{")
    return float(mantissa) * 10 ** int(exponent.rstrip("}") or 0)


def close(value: float, number: str) -> bool:
    """The value to the figures shown (four significant figures on a slide)."""
    return abs(shown(number) - value) <= 6e-4 * abs(value) + 1e-12


def test_the_cnn_slides_tables_put_each_value_under_its_name(slides):
    values = cnn_values(spec("cnn"))
    tables = re.findall(r"\\begin\{tabular\}\{@\{\}ll@\{\}\}\n(.*?)\\end\{tabular\}", slides["cnn"], re.S)
    assert len(tables) >= 2
    read = 0
    for table in tables:
        for row in table.strip().splitlines():
            cells = re.fullmatch(r"(\$[^$]+\$)(?: & (\$[^$]+\$))? \\\\", row)
            assert cells, f"a row of a slide's table that is not one or two values: {row}"
            names = []
            for cell in filter(None, cells.groups()):
                symbol, number = re.fullmatch(rf"\$(.+) = ({NUMBER})\$", cell).groups()
                quantity = re.fullmatch(r"(?:\\mathrm\{(net|out)\}|\\(delta))_\{(c1|p1),(\d\d)\}(\^\{\+\})?", symbol)
                assert quantity, symbol
                name = f"{quantity[1] or quantity[2]}_{quantity[3]},{quantity[4]}"
                names.append(name)
                if not quantity[5]:  # after the update (^+) the values are the next pass's
                    assert close(values[name], number), f"{symbol} = {number}, not {values[name]:.6g}"
                    read += 1
            if names[0].startswith(("net", "out")):
                assert [n.split("_")[0] for n in names] == ["net", "out"] and names[0][3:] == names[1][3:], row
    assert read >= 20


# -- the network's tables, read by their headings ---------------------------------------------------------


def network_rows(network: dict) -> tuple[list[list[str]], dict[str, float], tuple[str, str]]:
    """Each layer's (name, size, activation); each connection's value; the example's inputs and targets."""
    layers, connections = [], {}
    sources = [f"i{k + 1}" for k in range(len(network["examples"][0]["inputs"]))]
    for layer in network["layers"]:
        names = [f"{layer['name']}{j + 1}" for j in range(len(layer["weights"]))]
        layers.append([layer["name"], str(len(names)), layer["activation"]])
        for j, row in enumerate(layer["weights"]):
            connections |= {f"{source} → {names[j]}": value for source, value in zip(sources, row, strict=True)}
        connections["→ " + ", ".join(names)] = layer["bias"]
        sources = names
    example = network["examples"][0]
    inputs = ", ".join(f"i{k + 1} = {value:g}" for k, value in enumerate(example["inputs"]))
    return layers, connections, (inputs, ", ".join(f"{value:g}" for value in example["targets"]))


def check_network_tables(layers: list[dict], parameters: list[dict], examples: list[dict], network: dict) -> None:
    expected_layers, connections, data = network_rows(network)
    for row, (name, size, activation) in zip(layers, expected_layers, strict=True):
        assert row["layer"] == name and row["neurons"] == size, row
        assert activation in row["activation function"], row
    assert len(parameters) == len(connections)
    for row in parameters:
        connection = re.sub(r"\s+", " ", row["from → to"].replace("$\\to$", "→")).strip()
        assert re.fullmatch(r"\$?[wb]_?\{?\d+\}?\$?", row["parameter"]), row
        assert float(row["value"]) == connections[connection], row
    inputs, targets = data
    (row,) = examples
    assert row["example"] == "1"
    assert re.sub(r"[${}_\s]", "", row["inputs"]) == inputs.replace(" ", ""), row
    assert re.findall(r"=\s*(-?[\d.]+)", row["targets"]) == targets.split(", "), row


def test_the_page_tables_give_the_files_layers_parameters_and_data(tmp_path):
    run_derive("html", "-o", str(tmp_path / "page.html"))
    tables = html_tables((tmp_path / "page.html").read_text(encoding="utf-8"))
    by_first = {next(iter(table[0])): table for table in tables if table}
    check_network_tables(by_first["layer"], by_first["parameter"], by_first["example"], spec("mazur"))


def latex_tables(tex: str) -> dict[str, list[dict[str, str]]]:
    """Each booktabs table, by its first heading, as rows of heading → cell."""
    tables = {}
    for body in re.findall(r"\\toprule\n(.*?)\\bottomrule", tex, re.S):
        head, _, rows = body.partition("\\midrule\n")
        headings = [cell.strip().lower() for cell in head.strip().removesuffix("\\\\").split("&")]
        cells = [[cell.strip() for cell in row.strip().removesuffix("\\\\").split("&")] for row in rows.splitlines()]
        tables[headings[0]] = [dict(zip(headings, row, strict=True)) for row in cells if row != [""]]
    return tables


def test_the_worksheet_tables_give_the_files_layers_parameters_and_data(tmp_path):
    run_derive("worksheet", "-o", str(tmp_path))
    tables = latex_tables((tmp_path / "solutions.tex").read_text(encoding="utf-8"))
    check_network_tables(tables["layer"], tables["parameter"], tables["example"], spec("mazur"))


# -- the teacher's answer table of the variants --------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def forward(weights: list[np.ndarray], biases: list[float], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out_h = σ(W1 x + b1), out_o = σ(W2 out_h + b2)."""
    hidden = sigmoid(weights[0] @ x + biases[0])
    return hidden, sigmoid(weights[1] @ hidden + biases[1])


Tables = dict[str, list[dict[str, str]]]


def variant_network(tables: Tables) -> tuple[list[np.ndarray], list[float], np.ndarray, np.ndarray]:
    """The weights, biases, inputs and targets of a 2-2-2 variant, read from its solutions' tables."""
    weights, biases = [np.zeros((2, 2)), np.zeros((2, 2))], [0.0, 0.0]
    for row in tables["parameter"]:
        name = re.sub(r"[${}_]", "", row["parameter"])
        ends = re.findall(r"[iho](\d)", row["from → to"])
        if name.startswith("w"):
            layer = 0 if "i" in row["from → to"] else 1
            weights[layer][int(ends[1]) - 1, int(ends[0]) - 1] = float(row["value"])
        else:
            biases[int(name[1]) - 1] = float(row["value"])
    (example,) = tables["example"]
    x, t = (np.array([float(v) for v in re.findall(r"= (-?[\d.]+)", example[k])]) for k in ("inputs", "targets"))
    return weights, biases, x, t


def variant_answers(tables: Tables, learning_rate: float) -> dict[str, float]:
    """E, every gradient, every updated weight and the error after the step, by the textbook's formulas."""
    weights, biases, x, t = variant_network(tables)
    hidden, out = forward(weights, biases, x)
    delta_o = (out - t) * out * (1 - out)
    delta_h = (weights[1].T @ delta_o) * hidden * (1 - hidden)
    gradients = [np.outer(delta_h, x), np.outer(delta_o, hidden)]
    values = {"E": float(np.sum((t - out) ** 2) / 2), "db1": float(delta_h.sum()), "db2": float(delta_o.sum())}
    for layer in (0, 1):  # w1…w4 into the hidden layer, w5…w8 into the output, row by row
        for n, (gradient, weight) in enumerate(zip(gradients[layer].flat, weights[layer].flat, strict=True)):
            values[f"dw{4 * layer + n + 1}"] = gradient
            values[f"w{4 * layer + n + 1}+"] = weight - learning_rate * gradient
    # the error after the step: the biases stay (the worked example's train_biases = false)
    updated = [weight - learning_rate * gradient for weight, gradient in zip(weights, gradients, strict=True)]
    values["E+"] = float(np.sum((t - forward(updated, biases, x)[1]) ** 2) / 2)
    return values


def quantity(latex: str) -> str:
    r"""``$\frac{\partial E_{\text{total}}}{\partial w_{5}}$`` → dw5, ``$w_{1}^{+}$`` → w1+, E_total^+ → E+."""
    error = re.fullmatch(r"\$E_\{\\text\{total\}\}(\^\{\+\})?\$", latex)
    if error:
        return "E+" if error[1] else "E"
    gradient = re.fullmatch(r"\$\\frac\{\\partial E_\{\\text\{total\}\}\}\{\\partial ([wb])_\{(\d+)\}\}\$", latex)
    if gradient:
        return f"d{gradient[1]}{gradient[2]}"
    updated = re.fullmatch(r"\$([wb])_\{(\d+)\}\^\{\+\}\$", latex)
    assert updated, f"a quantity the answer table should not hold: {latex}"
    return f"{updated[1]}{updated[2]}+"


def test_the_answer_table_gives_each_variant_its_own_answers(tmp_path):
    run_derive("worksheet", "--variants", "2", "--seed", "3", "-o", str(tmp_path))
    rows = latex_tables((tmp_path / "answers.tex").read_text(encoding="utf-8"))["blank"]
    assert len(rows) >= 20
    rate = spec("mazur")["learning_rate"]
    for variant in (1, 2):
        solutions = (tmp_path / f"solutions-0{variant}.tex").read_text(encoding="utf-8")
        expected = variant_answers(latex_tables(solutions), rate)
        for row in rows:
            name = quantity(row["quantity"])
            # a blank of the sheet, numbered as there (an update's number stands in its table's last column)
            assert re.search(rf"\\blanktag\{{{row['blank']}\}}|\\small\({row['blank']}\)", solutions), row
            value = float(row[f"variant {variant}"])
            assert abs(value - expected[name]) <= 1e-6 * abs(expected[name]) + 1e-9, (variant, row, expected[name])


@pytest.fixture(scope="module")
def solutions(tmp_path_factory) -> str:
    """The worked example's solutions with the matrix form."""
    folder = tmp_path_factory.mktemp("matrix")
    run_derive("worksheet", "--matrix", "-o", str(folder))
    return (folder / "solutions.tex").read_text(encoding="utf-8")


def test_the_update_table_names_each_weight_beside_its_step(solutions):
    expected = variant_answers(latex_tables(solutions), spec("mazur")["learning_rate"])
    rows = re.findall(r"^\$(.*?)\$ & \$= (.*?)\$ & \$= \\answer\{(.*?)\}.*? & \\small\((\d+)\) \\\\$", solutions, re.M)
    assert len(rows) == 8
    for symbol, step, value, _ in rows:
        name = quantity(f"${symbol}$")
        weight, rate, gradient = (shown(n) for n in re.findall(NUMBER, step))
        assert re.fullmatch(rf"{NUMBER} - {NUMBER} \\cdot (?:\\left\()?{NUMBER}(?:\\right\))?", step), step
        assert abs(weight - rate * gradient - float(value)) < 1e-8 and abs(float(value) - expected[name]) < 1e-8, symbol


def matrix_values(tables: Tables) -> dict[str, np.ndarray]:
    """δ, ∂E/∂W and ∂E/∂b of each layer in matrix form: δ_o = ∇E ⊙ σ', δ_h = (W_oᵀ δ_o) ⊙ σ', ∂E/∂W = δ outᵀ."""
    weights, biases, x, t = variant_network(tables)
    hidden, out = forward(weights, biases, x)
    delta_o = (out - t) * out * (1 - out)
    delta_h = (weights[1].T @ delta_o) * hidden * (1 - hidden)
    return {
        "delta_o": delta_o,
        "delta_h": delta_h,
        "dW_o": np.outer(delta_o, hidden),
        "dW_h": np.outer(delta_h, x),
        "db_2": np.array([delta_o.sum()]),
        "db_1": np.array([delta_h.sum()]),
    }


def test_the_matrix_form_states_each_quantity_and_its_value(solutions):
    expected = matrix_values(latex_tables(solutions))
    section = solutions[solutions.index("\\section*{The matrix form}") :].split("\\section*{", 2)[1]
    seen = set()
    for block in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", section, re.S):
        first, *rest = block.split(" \\\\\n")
        lhs = re.fullmatch(MATRIX_LHS, first)
        assert lhs, f"a matrix equation without its left-hand side: {first}"
        assert all(row.startswith("&= ") for row in rest), block
        name = f"delta_{lhs[1]}" if lhs[1] else f"d{lhs[2]}_{lhs[3]}"
        value = np.array([shown(n) for n in re.findall(NUMBER, rest[-1])])
        np.testing.assert_allclose(value, expected[name].flatten(), rtol=1e-6, atol=1e-9, err_msg=name)
        seen.add(name)
    assert seen == set(expected)


@pytest.mark.parametrize("name", ["mazur", "softmax"])
def test_an_output_weights_gradient_is_its_neurons_delta_times_its_input(tmp_path, name):
    """∂E/∂w = δ_j · out_i for every weight into an output neuron, δ_j written by its name: softmax's
    too, whose δ_j = ∂E_total/∂net_j gathers every class's error (the weights numbered row by row)."""
    hidden, output = spec(name)["layers"]
    run_derive("worksheet", name, "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    number = itertools.count(len(hidden["weights"]) * len(hidden["weights"][0]) + 1)
    for j, row in enumerate(output["weights"], 1):
        for i in range(1, len(row) + 1):
            gradient = rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial w_{{{next(number)}}}}}"
            assert rf"{gradient} &= \delta_{{o{j}}} \cdot \mathrm{{out}}_{{h{i}}} = " in tex, gradient


ONE_LAYER = {
    "learning_rate": 0.5,
    "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2]], "bias": 0.1}],
    "examples": [{"inputs": [0.5, 0.9], "targets": [0.2]}],
}


@pytest.mark.parametrize(
    ("name", "changes", "rule", "softmax"),
    [
        ("mazur", {}, True, False),  # a hidden layer: the rule that every δ follows
        ("softmax", {}, True, True),  # a softmax output with cross-entropy: δ_o = out_o − t_o besides
        ("softmax", {"loss": "half_sse"}, True, False),  # a softmax with a squared error: no such shortcut
        ("one layer", ONE_LAYER, False, False),  # no hidden layer: no rule to generalise
    ],
)
def test_the_general_delta_rule_is_stated_where_a_hidden_layer_has_one(name, changes, rule, softmax, tmp_path):
    """The explanation states the general delta rule for a network with a hidden layer, with softmax's
    δ_o = out_o − t_o where the output is a softmax trained with cross-entropy, and neither otherwise."""
    import json

    catalog = sentences("en")
    network = changes if name == "one layer" else {**spec(name), **changes}
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network), encoding="utf-8")
    text = run_derive("explain", str(path)).stdout
    assert (f"### {catalog['delta_rule_title']}" in text) == rule
    assert (catalog["delta_rule_softmax"] in text) == softmax


def test_the_matrix_form_is_refused_for_maps_and_steps_through_time_with_the_reason():
    result = run_derive("explain", "cnn", "--matrix", check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "derive: cnn: --matrix: --matrix writes the matrices of fully connected layers; for conv2d, pooling and "
        "recurrent layers the explanation shows the maps and the steps through time as matrices already\n"
    )


# -- the sentence each gradient is said with -----------------------------------------------------------


def explanation(network: dict, tmp_path, *options: str) -> str:
    """``derive explain`` of a network given as a dict (written to a file as a user would)."""
    import json

    path = tmp_path / "network.json"
    path.write_text(json.dumps(network), encoding="utf-8")
    return run_derive("explain", str(path), *options).stdout


def rule_sentence(language: str, key: str, *, brief: bool = False, **fields: str) -> str:
    """A rule as the explanation states it: the catalog's words, its {net} and number fields filled in;
    ``brief``: as the brief detail says it ("We use the …")."""
    catalog = sentences(language)
    text = catalog["rules"][key]
    for name, value in {"net": r"\mathrm{net}", **fields}.items():
        text = text.replace("{" + name + "}", value)
    return (catalog["brief"]["rule"] if brief else catalog["by_rule"]).replace("{rule}", text)


@pytest.mark.parametrize("detail", ["standard", "brief"])
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("name", "pooling", "rule"),
    [("cnn", "maxpool", "max_pool_paths"), ("cnn", "avgpool", "average_pool_paths"), ("rnn", None, "recurrent_paths")],
)
def test_a_sum_over_paths_is_said_by_what_reads_the_neuron(name, pooling, rule, language, detail, tmp_path):
    """A convolution's output reaches the error through the pooling windows that cover it, and a recurrent
    state through the next step's neurons: each sum over paths says so, with that link's derivative (the
    pooling's 1 or 1/n, the recurrent weight), not the weight of a dense layer's connection."""
    network = spec(name)
    for layer in network["layers"]:
        if pooling and layer.get("type") in ("maxpool", "avgpool"):
            layer["type"] = pooling
    text = explanation(network, tmp_path, "--lang", language, "--detail", detail)
    assert rule_sentence(language, rule, brief=detail == "brief") in text


TWO_EXAMPLES = [
    {"inputs": [0.05, 0.10], "targets": [0.01, 0.99]},
    {"inputs": [0.20, 0.40], "targets": [0.90, 0.10]},
]


@pytest.mark.parametrize(
    ("name", "loss", "reduction", "examples", "key", "fields"),
    [
        ("mazur", "half_sse", "sum", 2, "power", {}),  # Σ (t − out)²/2: the 1/2 cancels the 2
        ("rnn", "half_sse", "sum", 1, "power_one", {}),  # one output: no other output to speak of
        ("mazur", "half_sse", "mean", 2, "power_mean_half", {"count": "2"}),  # and 1/2 for the mean over 2
        ("rnn", "mse", "sum", 1, "power_square", {}),  # one output: (t − out)², its 2 stays
        ("mazur", "mse", "sum", 1, "power_mean", {"count": "2"}),  # the mean over 2 outputs: 2/2
        ("deep", "mse", "mean", 2, "power_mean_examples", {"count": "2"}),  # one output, 2 examples: 1/2 · 2
        ("mazur", "mse", "mean", 2, "power_mean_both", {"outputs": "2", "examples": "2"}),  # 1/2 · 2/2
    ],
)
def test_the_power_rule_says_where_each_factor_in_front_comes_from(
    name, loss, reduction, examples, key, fields, tmp_path
):
    """∂E/∂out for E = (1/n) Σ (t − out)² is −(2/n)(t − out), and for the half squared error −(t − out),
    each times 1/P for the mean over P examples: the sentence names the n and the P (counted here from the
    file), the power rule's 2 and whether a 1/2 cancels it, and speaks of other outputs or other examples
    only where there are some (the line's value is checked by the equation chains)."""
    network = {**spec(name), "loss": loss, "reduction": reduction}
    if name == "mazur":
        network["examples"] = TWO_EXAMPLES[:examples]
    text = explanation(network, tmp_path)
    assert rule_sentence("en", key, **fields) in text
    said = re.findall(r"^By the power rule and the chain rule:.*$", text, flags=re.M)
    assert len(said) == 1  # said once, where the first output's ∂E/∂out is worked
    outputs, n_examples = len(network["layers"][-1]["weights"]), len(network["examples"])
    assert ("other outputs" in said[0]) == (outputs > 1 and key != "power_mean_half"), said[0]
    assert ("other examples" in said[0] or "other errors" in said[0]) == (reduction == "mean" and n_examples > 1)


def test_with_two_examples_each_gradient_says_it_adds_a_term_per_example(tmp_path):
    """Every gradient over two examples is a sum over them, and says so at every detail: each weight's (two
    products), and each shared bias's after saying it has a term per neuron (four products); a cited
    gradient is introduced by that sentence alone (its δs are the sum's, named in its terms)."""
    network = {**spec("mazur"), "examples": TWO_EXAMPLES}
    catalog = sentences("en")
    weights = sum(len(layer["weights"]) * len(layer["weights"][0]) for layer in network["layers"])
    biases = len(network["layers"])  # one number each: one bias shared by the layer
    for detail in ("brief", "standard", "full"):
        text = explanation(network, tmp_path, "--detail", detail)
        assert text.count(catalog["several_terms"]) == weights + biases, detail
        for bias in range(1, biases + 1):
            shared = re.search(rf"The bias \$b_\{{{bias}\}}\$ is shared by [^\n]*\n\n(.*)\n", text)
            assert shared and shared[1] == catalog["several_terms"], (detail, bias)
    sections = re.split(r"^#### ", explanation(network, tmp_path), flags=re.M)
    cited = [s for s in sections if s.startswith("The gradient of $w") and s.count("$$") == 2]
    assert len(cited) == 4  # w6, w8, w2, w4: their neuron's δ is derived with the weight before them
    for section in cited:
        prose = section.split("\n", 1)[1].split("$$")[0]
        assert prose.strip() == catalog["several_terms"], section


def test_each_fixed_bias_says_it_is_kept_fixed_at_every_detail(tmp_path):
    """A bias kept fixed still has its gradient derived, and says why, whether it is one neuron's or shared."""
    network = {**spec("mazur")}
    network["layers"][0] = {**network["layers"][0], "bias": [0.35, 0.30]}  # b1, b2: one per hidden neuron
    catalog = sentences("en")
    for detail in ("brief", "standard", "full"):
        text = explanation(network, tmp_path, "--detail", detail)
        for bias in ("b_{1}", "b_{2}", "b_{3}"):  # b3 is the output layer's, shared by o1 and o2
            assert text.count(catalog["fixed_gradient"].replace("{name}", f"${bias}$")) == 1, (detail, bias)


def test_the_brief_solutions_align_the_gradients_of_one_delta_in_one_display(tmp_path):
    """Brief: each neuron's δ is derived once, and the gradients of the weights into that neuron follow it
    aligned in one display, ∂E/∂w = δ_j · x_i for each: w5, w6 with δ_o1; w7, w8 with δ_o2; and so on."""
    run_derive("worksheet", "--detail", "brief", "-o", str(tmp_path))
    tex = (tmp_path / "solutions.tex").read_text(encoding="utf-8")
    displays = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, flags=re.S)
    derived = [d for display in displays for d in re.findall(r"^& \\delta_\{(\w+)\} = ", display, flags=re.M)]
    assert sorted(derived) == ["h1", "h2", "o1", "o2"]
    runs = []
    for display in displays:
        cites = re.findall(r"\\partial w_\{(\d+)\}\} &= \\delta_\{(\w+)\} \\cdot", display)
        if cites:
            runs.append((sorted({neuron for _, neuron in cites}), [int(w) for w, _ in cites]))
    assert runs == [(["o1"], [5, 6]), (["o2"], [7, 8]), (["h1"], [1, 2]), (["h2"], [3, 4])]


@pytest.mark.parametrize("name", ["mazur", "softmax", "deep", "cnn", "rnn"])
@pytest.mark.parametrize("detail", ["standard", "full"])
def test_the_first_derivative_of_a_net_input_by_a_weight_is_introduced_by_linearity(name, detail, tmp_path):
    """∂net/∂w = the input w multiplies: the first such factor of the explanation says why, by the
    linearity of the net input, in the sentence just before it."""
    text = run_derive("explain", name, "--detail", detail).stdout
    net = r"\\mathrm\{net\}_\{[^}]+\}(?:\^\{\(\d+\)\})?"  # net_{o1}, or net_{o1}^{(2)} of example 2
    first = re.search(rf"^\\frac\{{\\partial {net}\}}\{{\\partial w_\{{\d+\}}\}} = ", text, flags=re.M)
    assert first, name
    before = text[: first.start()].rstrip().removesuffix("$$").rstrip()
    assert before.endswith(rule_sentence("en", "linearity")), before[-300:]


@pytest.mark.parametrize(
    ("name", "changes", "shared"),
    [
        ("mazur", {"train_biases": True}, {"b_{1}": "$h1$ and $h2$", "b_{2}": "$o1$ and $o2$"}),
        ("softmax", {}, {}),  # a bias per neuron: none is shared
        ("deep", {}, {"b_{3}": "$g1$ and $g2$"}),  # g's one bias; h's two and o's one are their neurons' own
    ],
)
def test_a_bias_is_said_to_be_shared_only_when_several_neurons_add_it(name, changes, shared, tmp_path):
    """A bias given as one number for a layer is added by each of its neurons, so its gradient has a term
    per neuron, and the explanation says so naming them; a bias of one neuron has one term, said of none."""
    catalog = sentences("en")
    text = explanation({**spec(name), **changes}, tmp_path)
    said = re.findall(r"The bias \$(b_\{\d+\})\$ is shared by (.+?), so its gradient has one term per neuron", text)
    assert dict(said) == shared
    for bias, neurons in shared.items():
        sentence = catalog["shared_bias"].replace("{name}", f"${bias}$").replace("{neurons}", neurons)
        assert text.count(sentence) == 1


@pytest.mark.parametrize("decay", [0.0, 0.01])
def test_the_weight_decay_rule_is_stated_once_where_the_loss_has_the_term(decay, tmp_path):
    """λw joins a weight's gradient only when the file sets weight_decay: the rule (λ/2)Σw² → λw is
    stated once then, before the first gradient that adds it, and never without it."""
    text = explanation({**spec("mazur"), "weight_decay": decay}, tmp_path)
    assert text.count(rule_sentence("en", "weight_decay")) == (1 if decay else 0)


def kernel_positions(rows: int, columns: int) -> list[str]:
    return [f"$c1,{r}{s}$" for r in range(1, rows + 1) for s in range(1, columns + 1)]


def test_a_shared_weights_gradient_names_every_neuron_it_acts_at(tmp_path):
    """A kernel entry acts at every position of its 3×3 map (the 4×4 image less the 2×2 kernel, plus 1);
    an input weight W of the rnn at each of its three steps, a recurrent weight U at steps 2 and 3 (h_0 = 0
    adds nothing at step 1): each gradient says so in the sentence for its kind, a term per neuron."""
    catalog = sentences("en")

    def said(name: str, kind: str) -> dict[str, str]:
        pattern = re.escape(catalog[f"shared_weight_{kind}"]).replace(r"\{name\}", r"\$w_\{(\d+)\}\$")
        return dict(re.findall(pattern.replace(r"\{neurons\}", "(.+?)"), run_derive("explain", name).stdout))

    positions = kernel_positions(4 - 2 + 1, 4 - 2 + 1)
    assert said("cnn", "kernel") == {str(w): ", ".join(positions[:-1]) + " and " + positions[-1] for w in range(1, 5)}
    every, after_first = "${0},1$, ${0},2$ and ${0},3$", "${0},2$ and ${0},3$"
    # W (w1, w2: into h1, h2), then U row by row (w3, w4 into h1; w5, w6 into h2)
    assert said("rnn", "steps") == {
        "1": every.format("h1"),
        "2": every.format("h2"),
        "3": after_first.format("h1"),
        "4": after_first.format("h1"),
        "5": after_first.format("h2"),
        "6": after_first.format("h2"),
    }


def relu_net_inputs(network: dict) -> list[tuple[str, int, float]]:
    """(neuron, example, net input) of every ReLU neuron whose net input is not positive, by a forward pass
    written here: net = W x + b, layer by layer, ReLU max(0, net), the other activations as the file names."""
    activations = {"relu": lambda z: np.maximum(z, 0), "linear": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    found = []
    for p, example in enumerate(network["examples"], 1):
        x = np.array(example["inputs"], dtype=float)
        for layer in network["layers"]:
            weights = np.array(layer["weights"], dtype=float)
            net = weights @ x + np.broadcast_to(np.array(layer["bias"], dtype=float), len(weights))
            if layer["activation"] == "relu":
                found += [(f"{layer['name']}{j + 1}", p, float(z)) for j, z in enumerate(net) if z <= 0]
            x = activations[layer["activation"]](net)
    return found


AT_ZERO = {  # h1's net input is exactly 0: ReLU's slope there is the subgradient 0
    "learning_rate": 0.5,
    "layers": [
        {"name": "h", "activation": "relu", "weights": [[0.5, -0.5], [0.25, 0.5]], "bias": [0.0, 0.1]},
        {"name": "o", "activation": "linear", "weights": [[1.0, -1.0]], "bias": 0.0},
    ],
    "examples": [{"inputs": [1.0, 1.0], "targets": [0.5]}],
}


@pytest.mark.parametrize("order", ["as given", "reversed", "at zero"])
def test_a_relu_neuron_is_said_inactive_exactly_where_its_net_input_is_not_positive(order, tmp_path):
    """deep's ReLU layers over two examples, in the file's order and reversed (h1 is off in example 1, then
    in example 2), and a neuron whose net input is exactly 0: the explanation names each neuron that is
    off, in its own example, with its net input, and no other (a linear output's negative net input is not)."""
    network = AT_ZERO if order == "at zero" else spec("deep")
    if order == "reversed":
        network["examples"] = network["examples"][::-1]
    expected = relu_net_inputs(network)
    assert expected  # the example has one: the point of the sentence
    said = re.findall(
        r"Neuron \$(\w+)\$ is inactive in example (\d+): its net input, \$(-?[\d.]+)\$", explanation(network, tmp_path)
    )
    assert sorted((neuron, int(p), float(net)) for neuron, p, net in said) == sorted(
        (neuron, p, round(net, 9)) for neuron, p, net in expected
    )


@pytest.mark.parametrize("name", ["mazur", "deep", "cnn"])
def test_each_delta_is_introduced_as_the_derivative_of_the_error_by_its_own_net_input(name, tmp_path):
    """δ_j = ∂E_total/∂net_j: the sentence before each δ's product names that neuron's net input."""
    text = run_derive("explain", name).stdout
    introduced = re.findall(
        r"Their product is \$\\partial E_\{\\text\{total\}\} / "
        r"\\partial \\mathrm\{net\}_\{([^}]+)\}(?:\^\{\(\d+\)\})?\$, "
        r"that neuron's error signal, which we write \$\\delta\$:\n\n\$\$\n\\delta_\{([^}]+)\}",
        text,
    )
    assert introduced and all(a == b for a, b in introduced), introduced


@pytest.mark.parametrize("name", ["mazur", "deep", "softmax"])
def test_each_activations_drawing_comes_just_before_the_rule_of_its_slope(name):
    """The drawing of σ (or ReLU, tanh) and its derivative is shown where its slope is first used: the
    next paragraph states the derivative's rule, and the line after it is ∂out/∂net."""
    text = run_derive("explain", name).stdout
    drawings = re.findall(
        r'```mermaid\nxychart-beta\n  title "([^"]+): function, derivative".*?```\n\s*(.+?)\n\s*\$\$\n(.+?)\n',
        text,
        re.S,
    )
    assert drawings, name
    for title, sentence, line in drawings:
        assert sentence.startswith("By the derivative of"), (title, sentence)
        assert re.match(
            r"\\frac\{\\partial \\mathrm\{out\}_\{[^}]+\}(\^\{\(\d+\)\})?\}\{\\partial \\mathrm\{net\}", line
        ), (title, line)


def test_a_softmax_outputs_delta_is_its_one_factor_said_once_per_output():
    """Softmax with cross-entropy: ∂E/∂net_o = out_o − t_o is the δ itself, one factor; each output says
    so once and is never multiplied again as if it had a second factor."""
    catalog = sentences("en")
    text = run_derive("explain", "softmax").stdout
    outputs = len(spec("softmax")["layers"][-1]["weights"])
    assert text.count(catalog["delta_coupled"]) == outputs
    for j in range(1, outputs + 1):
        assert catalog["delta_next"].replace("{neuron}", f"$o{j}$") not in text


@pytest.mark.parametrize("name", ["mazur", "deep"])
def test_each_brief_delta_line_starts_as_the_chain_rule_writes_it(name):
    """Brief: δ_j = ∂E_total/∂out_j · ∂out_j/∂net_j = …, the two factors of the chain rule, for every neuron."""
    text = run_derive("explain", name, "--detail", "brief").stdout
    lines = re.findall(r"^\\delta_\{(\w+)\}(\^\{\(\d+\)\})? = (.+?) = ", text, flags=re.M)
    assert lines
    for neuron, example, factors in lines:
        p = example or ""
        assert factors == (
            rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{{neuron}}}{p}}} \cdot "
            rf"\frac{{\partial \mathrm{{out}}_{{{neuron}}}{p}}}{{\partial \mathrm{{net}}_{{{neuron}}}{p}}}"
        ), neuron


@pytest.mark.parametrize("targets", [[0, 1, 0], [0.2, 0.5, 0.3]])
def test_a_softmax_output_with_no_error_of_its_own_says_why_its_delta_is_not_zero(targets, tmp_path):
    """Cross-entropy's E_o = −t_o ln out_o is 0 where t_o = 0, yet δ_o = out_o − t_o is not: each such output,
    and only such an output, says why (raising its net input lowers the right class's output)."""
    catalog = sentences("en")
    network = spec("softmax")
    network["examples"][0]["targets"] = targets
    text = explanation(network, tmp_path)
    opening = catalog["silent_output"].split("{neuron}")[0]  # "Its own error $E_{"
    said = re.findall(re.escape(opening) + r"(\w+)\}\$ is 0, because its target is 0", text)
    assert said == [f"o{j + 1}" for j, t in enumerate(targets) if t == 0]


def test_a_recurrent_layer_alone_never_speaks_of_a_next_layer(tmp_path):
    """A recurrent layer alone, its target at the last step: each earlier state reaches the error only through
    the next step, so every sum over paths is said with the recurrent weights, never a next layer's."""
    import tests.test_recurrent as recurrent

    alone = recurrent.alone_one_neuron()  # its target moved to the last step only
    path = recurrent.Net(alone.layers, [(alone.examples[0][0], [0.5])]).write(tmp_path, "alone")
    for detail in ("standard", "full"):
        text = run_derive("explain", str(path), "--detail", detail).stdout
        assert rule_sentence("en", "recurrent_paths") in text, detail
        assert rule_sentence("en", "sum_over_paths") not in text, detail


def test_the_delta_rule_says_a_shared_weight_adds_its_terms_over_its_uses(slides):
    """∂E/∂w_ji = δ_j x_i is one use's: the convolutional deck's general delta rule adds that a kernel entry
    (or a recurrent weight) sums it over every place it acts; a dense network's deck has no such weight."""
    said = sentences("en")["slides"]["delta_shared"]
    assert r"\delta_j\, x_i" in said
    assert said in slides["cnn"]
    assert said not in slides["mazur"] and said not in slides["softmax"]
