"""One step with the textbook's training options, derived in the documents: weight decay's term in
each weight's gradient, momentum's β·Δθ in each update, and online updates worked example by example.

The expected numbers come from a NumPy loop written here from the textbook formulas.
"""

import re

import numpy as np
import pytest

from tests.conftest import run_derive
from tests.documents import compile_latex, katex_failures

NETWORK = """
learning_rate = 0.5
momentum = 0.9
weight_decay = 0.01
batch_size = 1
previous_update = { w5 = 0.02 }

[[layers]]
name = "h"
activation = "sigmoid"
weights = [[0.15, 0.20], [0.25, 0.30]]
bias = 0.35

[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.40, 0.45], [0.50, 0.55]]
bias = 0.60

[[examples]]
inputs = [0.05, 0.10]
targets = [0.01, 0.99]

[[examples]]
inputs = [0.2, 0.7]
targets = [0.9, 0.1]
"""


def textbook_online(updates: int) -> dict[str, np.ndarray]:
    """Online updates with momentum and weight decay, from the formulas: Δθ = β·Δθ − η·(∂E/∂θ + λ·w)."""
    W1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), 0.35
    W2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]]), 0.60
    dW1, db1, dW2, db2 = np.zeros((2, 2)), 0.0, np.zeros((2, 2)), 0.0
    dW2[0, 0] = 0.02  # previous_update of w5
    data = [([0.05, 0.10], [0.01, 0.99]), ([0.2, 0.7], [0.9, 0.1])]
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for u in range(updates):
        x, t = (np.array(v) for v in data[u % 2])
        h = sigmoid(W1 @ x + b1)
        o = sigmoid(W2 @ h + b2)
        d2 = (o - t) * o * (1 - o)
        d1 = (W2.T @ d2) * h * (1 - h)
        g2, g1 = np.outer(d2, h) + 0.01 * W2, np.outer(d1, x) + 0.01 * W1
        dW2, db2 = 0.9 * dW2 - 0.5 * g2, 0.9 * db2 - 0.5 * d2.sum()
        dW1, db1 = 0.9 * dW1 - 0.5 * g1, 0.9 * db1 - 0.5 * d1.sum()
        W2, b2, W1, b1 = W2 + dW2, b2 + db2, W1 + dW1, b1 + db1
    return {"W1": W1, "W2": W2, "g2": g2, "g1": g1, "b1": b1, "b2": b2}


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    path = tmp_path_factory.mktemp("options") / "options.toml"
    path.write_text(NETWORK, encoding="utf-8")
    return path


def shown(text: str, lhs: str) -> float:
    """The value a line of the explanation ends with."""
    line = next(line for line in text.splitlines() if line.startswith(lhs))
    return float(line.rsplit("=", 1)[1])


def test_the_second_online_update_with_momentum_and_weight_decay(network):
    text = run_derive("explain", str(network), "--example", "2").stdout
    reference = textbook_online(2)
    assert "This network learns online" in text and "the step of example 2" in text
    assert "Its weights are the ones the update before it left." in text
    assert "The changes before are those of the update before this one." in text
    # the gradient of w5 gains λ·w5, and the update carries β·Δw5
    assert shown(
        text, r"\frac{\partial E}{\partial w_{5}} = \delta_{o1} \cdot \mathrm{out}_{h1} + \lambda \cdot w_{5}"
    ) == (pytest.approx(reference["g2"][0, 0], abs=5e-10))
    row = next(line for line in text.splitlines() if line.startswith("| $w_{5}^{+} = "))
    assert r"+ 0.9 \cdot \left(-0.02508352\right) - 0.5 \cdot" in row
    assert float(row.rsplit("|", 2)[1]) == pytest.approx(reference["W2"][0, 0], abs=5e-10)
    assert float(re.search(r"\| \$w_\{1\}\^\{\+\} = .*\| ([\d.-]+) \|", text)[1]) == pytest.approx(
        reference["W1"][0, 0], abs=5e-10
    )
    assert "the derivative of the weight decay term" in text.lower()
    assert katex_failures(text) == []


def test_the_first_online_update_starts_from_the_files_changes(network):
    text = run_derive("explain", str(network)).stdout
    assert "the step of example 1" in text and "previous" not in text.lower().split("changes before are")[1][:80]
    assert "The changes before are the ones the network file gives" in text
    reference = textbook_online(1)
    row = next(line for line in text.splitlines() if line.startswith("| $w_{5}^{+} = "))
    assert float(row.rsplit("|", 2)[1]) == pytest.approx(reference["W2"][0, 0], abs=5e-10)


def test_the_documents_compile_with_the_options(network, tmp_path):
    run_derive("worksheet", str(network), "--example", "2", "--lang", "es", "-o", str(tmp_path))
    for document in ("worksheet", "solutions"):
        assert "Overfull \\hbox" not in compile_latex(tmp_path / f"{document}.tex")
    assert "Esta red aprende en línea" in (tmp_path / "solutions.tex").read_text()


def test_keys_and_check_work_the_same_update(network, tmp_path):
    keys = run_derive("keys", str(network), "--example", "2", "--json").stdout
    assert '"key": "w5+"' in keys
    answers = tmp_path / "answers.toml"
    answers.write_text(f'"w5+" = {textbook_online(2)["W2"][0, 0]:.9f}\n', encoding="utf-8")
    report = run_derive("check", str(answers), str(network), "--example", "2", "--json").stdout
    assert '"verdict": "correct"' in report


def test_example_needs_online_or_mini_batches():
    result = run_derive("explain", "--example", "1", check=False)
    assert result.returncode == 2 and "--example: every update uses every example here" in result.stderr
    result = run_derive("explain", "xor", "--example", "1", check=False)
    assert result.returncode == 2
    online = run_derive("explain", "xor", "--example", "9", check=False)
    assert online.returncode == 2


MINI_BATCHES = """
learning_rate = 0.5
batch_size = 2
shuffle = 3

[[layers]]
name = "o"
activation = "sigmoid"
weights = [[0.40, 0.45]]
bias = 0.60

[[examples]]
inputs = [0.05, 0.10]
targets = [0.01]

[[examples]]
inputs = [0.2, 0.7]
targets = [0.9]

[[examples]]
inputs = [0.6, 0.1]
targets = [0.3]

[[examples]]
inputs = [0.9, 0.4]
targets = [0.7]
"""


def test_a_mini_batch_document_names_its_batchs_examples(tmp_path):
    """A shuffled mini-batch update says which examples it works, as the README's rule orders them:
    epoch 1 visits them in ``random.Random("derive-shuffle:3:1").shuffle`` order, two to a batch."""
    import random

    (tmp_path / "batches.toml").write_text(MINI_BATCHES, encoding="utf-8")
    order = [1, 2, 3, 4]
    random.Random("derive-shuffle:3:1").shuffle(order)
    for update, batch in enumerate([order[:2], order[2:]], start=1):
        text = run_derive("explain", "batches.toml", "--example", str(batch[0]), cwd=tmp_path).stdout
        examples = ", ".join(map(str, batch))
        assert f"These pages work update {update} of the first epoch, on examples {examples};" in text
