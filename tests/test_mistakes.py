"""Diagnosing the mistake: each classic mistake, made deliberately in an answer sheet, is named by its id.

The sheets are built here from the textbook's formulas (the forward pass, δ = ∂E/∂out · f′(net),
the update θ − η·g), each with the mistake written into it, never from derive's own transformations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal

import pytest

from derive import Network
from derive.assessment.diagnosis import diagnose
from derive.assessment.grading import grade
from derive.assessment.mistakes import IDS

Values = dict[str, float]

# f(net) and f′ as the textbook writes it, from net and out
ACTIVATION: dict[str, tuple[Callable[[float], float], Callable[[float, float], float]]] = {
    "sigmoid": (lambda n: 1 / (1 + math.exp(-n)), lambda n, o: o * (1 - o)),
    "tanh": (math.tanh, lambda n, o: 1 - o * o),
    "relu": (lambda n: max(n, 0.0), lambda n, o: 1.0 if n > 0 else 0.0),
    "leaky_relu": (lambda n: n if n > 0 else 0.01 * n, lambda n, o: 1.0 if n > 0 else 0.01),
    "elu": (lambda n: n if n > 0 else math.exp(n) - 1, lambda n, o: 1.0 if n > 0 else o + 1),
    "softplus": (lambda n: math.log1p(math.exp(n)), lambda n, o: 1 / (1 + math.exp(-n))),
    "linear": (lambda n: n, lambda n, o: 1.0),
}
# E_o(t, out) and ∂E_o/∂out for a layer of two outputs
LOSS: dict[str, tuple[Callable[[float, float], float], Callable[[float, float], float]]] = {
    "half_sse": (lambda t, o: 0.5 * (t - o) ** 2, lambda t, o: -(t - o)),
    "mse": (lambda t, o: (t - o) ** 2 / 2, lambda t, o: -2 / 2 * (t - o)),
    "bce": (
        lambda t, o: -(t * math.log(o) + (1 - t) * math.log(1 - o)),
        lambda t, o: -(t / o - (1 - t) / (1 - o)),
    ),
    "cross_entropy": (lambda t, o: -t * math.log(o), lambda t, o: -t / o),
}
W = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
B1, B2, I1, I2, T1, T2, ETA = 0.35, 0.60, 0.05, 0.10, 0.01, 0.99, 0.5


def network(hidden: str, output: str, loss: str, **options: object) -> Network:
    layers = [
        {"name": "h", "activation": hidden, "weights": [[0.15, 0.20], [0.25, 0.30]], "bias": B1},
        {"name": "o", "activation": output, "weights": [[0.40, 0.45], [0.50, 0.55]], "bias": B2},
    ]
    data = {
        "learning_rate": ETA,
        "loss": loss,
        "layers": layers,
        "examples": [{"inputs": [I1, I2], "targets": [T1, T2]}],
    }
    return Network.from_dict({**data, **options})


def textbook(hidden: str, output: str, loss: str) -> Values:
    """The worked example's values, by the textbook's formulas."""
    (f, df), (g, dg), (error, d_error) = ACTIVATION[hidden], ACTIVATION[output], LOSS[loss]
    v: Values = {"net_h1": W["w1"] * I1 + W["w2"] * I2 + B1, "net_h2": W["w3"] * I1 + W["w4"] * I2 + B1}
    v["out_h1"], v["out_h2"] = f(v["net_h1"]), f(v["net_h2"])
    v["net_o1"] = W["w5"] * v["out_h1"] + W["w6"] * v["out_h2"] + B2
    v["net_o2"] = W["w7"] * v["out_h1"] + W["w8"] * v["out_h2"] + B2
    v["out_o1"], v["out_o2"] = g(v["net_o1"]), g(v["net_o2"])
    v["E_o1"], v["E_o2"] = error(T1, v["out_o1"]), error(T2, v["out_o2"])
    for o, t in (("o1", T1), ("o2", T2)):
        v[f"dE/dout_{o}"] = d_error(t, v[f"out_{o}"])
        v[f"dout_{o}/dnet_{o}"] = dg(v[f"net_{o}"], v[f"out_{o}"])
        v[f"delta_{o}"] = v[f"dE/dout_{o}"] * v[f"dout_{o}/dnet_{o}"]
    v["dE/dw5"], v["dE/dw7"] = v["delta_o1"] * v["out_h1"], v["delta_o2"] * v["out_h1"]
    v["dE/dout_h1"] = v["delta_o1"] * W["w5"] + v["delta_o2"] * W["w7"]
    v["dout_h1/dnet_h1"] = df(v["net_h1"], v["out_h1"])
    v["delta_h1"] = v["dE/dout_h1"] * v["dout_h1/dnet_h1"]
    v["w5+"] = W["w5"] - ETA * v["dE/dw5"]
    v["w7+"] = W["w7"] - ETA * v["dE/dw7"]
    return v


def mistaken(v: Values, hidden: str, output: str, loss: str) -> dict[str, tuple[str, float]]:
    """Each mistake of the table, made in one step: id → (key, the mistaken value)."""
    d_error = LOSS[loss][1]
    made = {
        "sign": ("dE/dout_o1", -d_error(T1, v["out_o1"])),  # (t − out) for −(t − out)
        "missing_derivative": ("delta_h1", v["dE/dout_h1"]),  # δ_h1 without f′(net_h1)
        "net_for_out": ("dE/dw5", v["delta_o1"] * v["net_h1"]),
        "updated_weight": ("dE/dout_h1", v["delta_o1"] * v["w5+"] + v["delta_o2"] * v["w7+"]),
        "missing_path": ("dE/dout_h1", v["delta_o1"] * W["w5"]),  # δ_h1 from δ_o1 alone
        "swapped_weight": ("dE/dout_h1", v["delta_o1"] * W["w5"] + v["delta_o2"] * W["w6"]),  # w6 for w7
        "no_learning_rate": ("w5+", W["w5"] - v["dE/dw5"]),
        "wrong_direction": ("w5+", W["w5"] + ETA * v["dE/dw5"]),
        "wrong_target": ("dE/dout_o1", d_error(T2, v["out_o1"])),  # t_o2 for t_o1
    }
    if loss == "half_sse":
        made["half_factor"] = ("E_o1", (T1 - v["out_o1"]) ** 2)  # the ½ dropped
    return made


def diagnosed(net: Network, answers: dict[str, str], **rule: object) -> dict[str, tuple[str, str | None]]:
    """Each answered step's verdict and mistake id."""
    (result,) = diagnose([grade(net.steps(), {key: Decimal(text) for key, text in answers.items()}, **rule)])
    return {row.step.key: (row.verdict, row.mistake and row.mistake.id) for row in result.rows if row.given is not None}


def written(value: float) -> str:
    return f"{value:.10g}"


def visible(value: float, right: float) -> bool:
    """A mistake shows only where it changes the value (ReLU's f′ = 1 leaves δ as it is)."""
    return abs(value - right) > 1e-6 * max(1.0, abs(right))


CASES = [
    ("sigmoid", "sigmoid", "half_sse"),  # the worked example
    ("tanh", "sigmoid", "half_sse"),
    ("relu", "linear", "half_sse"),
    ("leaky_relu", "sigmoid", "mse"),
    ("elu", "sigmoid", "bce"),
    ("softplus", "sigmoid", "cross_entropy"),
    ("linear", "tanh", "mse"),
    ("sigmoid", "relu", "half_sse"),
    ("tanh", "leaky_relu", "half_sse"),
    ("sigmoid", "elu", "mse"),
    ("sigmoid", "softplus", "half_sse"),
]


@pytest.mark.parametrize(("hidden", "output", "loss"), CASES)
def test_each_mistake_is_named(hidden: str, output: str, loss: str) -> None:
    net, v = network(hidden, output, loss), textbook(hidden, output, loss)
    for mistake, (key, value) in mistaken(v, hidden, output, loss).items():
        if not visible(value, v[key]):
            continue
        assert diagnosed(net, {key: written(value)})[key] == ("wrong", mistake), (mistake, key)


@pytest.mark.parametrize(("hidden", "output", "loss"), CASES)
def test_right_and_carried_forward_answers_are_never_diagnosed(hidden: str, output: str, loss: str) -> None:
    net, v = network(hidden, output, loss), textbook(hidden, output, loss)
    keys = ["out_h1", "E_o1", "dE/dout_o1", "delta_o1", "dE/dw5", "dE/dout_h1", "delta_h1", "w5+"]
    right = diagnosed(net, {key: written(v[key]) for key in keys})
    assert all(verdict == ("correct", None) for verdict in right.values()), right
    # a slip in δ_o1, then every later step worked from it: carried forward, no mistake named
    slip = float(written(v["delta_o1"] * 1.37))  # as written: the later steps work from it
    carried = {"delta_o1": slip, "dE/dw5": slip * v["out_h1"], "dE/dout_h1": slip * W["w5"] + v["delta_o2"] * W["w7"]}
    carried["w5+"] = W["w5"] - ETA * float(written(carried["dE/dw5"]))
    found = diagnosed(net, {key: written(value) for key, value in carried.items()})
    assert found.pop("delta_o1") == ("wrong", None)  # 1.37 times the right one: no mistake of the catalogue
    assert all(verdict == ("carried_forward", None) for verdict in found.values()), found


def test_the_worked_example_rounded_by_hand_is_right_to_fewer_digits() -> None:
    v = textbook("sigmoid", "sigmoid", "half_sse")
    found = diagnosed(network("sigmoid", "sigmoid", "half_sse"), {"out_h1": "0.59", "E_total": "0.3", "out_o1": "0.9"})
    assert found == {
        "out_h1": ("wrong", "too_few_digits"),
        "E_total": ("wrong", "too_few_digits"),
        "out_o1": ("wrong", None),
    }
    assert round(v["out_h1"], 2) == 0.59 and round(v["E_o1"] + v["E_o2"], 1) == 0.3 and round(v["out_o1"], 1) == 0.8


def test_tanh_written_as_the_sigmoid_derivative() -> None:
    v = textbook("tanh", "sigmoid", "half_sse")
    sheet = {"dout_h1/dnet_h1": written(v["out_h1"] * (1 - v["out_h1"]))}
    assert diagnosed(network("tanh", "sigmoid", "half_sse"), sheet)["dout_h1/dnet_h1"] == ("wrong", "other_derivative")


def test_softmax_coupling_ignored() -> None:
    """Softmax with cross-entropy: δ_j = out_j − t_j; ignoring the coupling gives (−t_j/out_j)·out_j(1 − out_j)."""
    net = Network.from_dict(
        {
            "loss": "cross_entropy",
            "learning_rate": 0.5,
            "layers": [{"name": "o", "activation": "softmax", "weights": [[0.4, 0.45], [0.5, 0.55]], "bias": 0.6}],
            "examples": [{"inputs": [0.05, 0.1], "targets": [0.3, 0.7]}],
        }
    )
    nets = [0.4 * 0.05 + 0.45 * 0.1 + 0.6, 0.5 * 0.05 + 0.55 * 0.1 + 0.6]
    out = [math.exp(n) / sum(math.exp(m) for m in nets) for n in nets]
    coupled = [out[0] - 0.3, out[1] - 0.7]
    found = diagnosed(
        net, {"delta_o1": written(-0.3 / out[0] * out[0] * (1 - out[0])), "delta_o2": written(coupled[1])}
    )
    assert found == {"delta_o1": ("wrong", "softmax_coupling"), "delta_o2": ("correct", None)}


def test_the_options_mistakes() -> None:
    """Momentum forgotten, weight decay on a bias or left out, the mean's 1/n dropped."""
    options = {"momentum": 0.9, "weight_decay": 0.1, "train_biases": True, "previous_update": {"w5": 0.02}}
    net = network("sigmoid", "sigmoid", "half_sse", **options)
    v = textbook("sigmoid", "sigmoid", "half_sse")
    gradient_w5 = v["dE/dw5"] + 0.1 * W["w5"]
    gradient_b2 = v["delta_o1"] + v["delta_o2"]
    sheet = {
        "w5+": written(W["w5"] - ETA * gradient_w5),  # without 0.9 · 0.02
        "dE/db2": written(gradient_b2 + 0.1 * B2),
        "dE/dw5": written(v["dE/dw5"]),  # without λ·w5
    }
    found = diagnosed(net, sheet)
    assert found == {
        "dE/dw5": ("wrong", "decay_forgotten"),
        "dE/db2": ("wrong", "decay_on_bias"),
        "w5+": ("wrong", "momentum_forgotten"),
    }
    # two examples averaged: example 1 is the worked example, and its ∂E_total/∂out_o1 is ½·(−(t − out))
    second = {"inputs": [I2, I1], "targets": [T2, T1]}
    mean = network(
        "sigmoid", "sigmoid", "half_sse", reduction="mean", examples=[{"inputs": [I1, I2], "targets": [T1, T2]}, second]
    )
    found = diagnosed(mean, {"dE/dout_o1@1": written(-(T1 - v["out_o1"]))})  # the mean's 1/2 dropped
    assert found["dE/dout_o1@1"] == ("wrong", "mean_dropped")


def test_an_unmatched_wrong_answer_gets_no_mistake() -> None:
    v = textbook("sigmoid", "sigmoid", "half_sse")
    found = diagnosed(network("sigmoid", "sigmoid", "half_sse"), {"dE/dw5": written(v["dE/dw5"] * 1.37)})
    assert found == {"dE/dw5": ("wrong", None)}


def test_every_id_is_in_both_catalogs() -> None:
    from derive.outputs.render import Renderer

    for language in ("en", "es"):
        catalog = Renderer().catalog(language)
        for mistake in IDS:
            assert catalog(f"mistakes.{mistake}", step="δ_h1")


# ---- simplified: error carried forward that the error made trivial ------------------------------


@pytest.mark.parametrize("ecf", ["full", "half", "none"])
def test_an_output_of_one_makes_the_hidden_gradients_trivial(ecf: str) -> None:
    """out_h1 = 1 makes ∂out_h1/∂net_h1 = 1·(1 − 1) = 0, and δ_h1 and ∂E/∂w1 zero: wrong, whatever the ECF policy."""
    v = textbook("sigmoid", "sigmoid", "half_sse")
    sheet = {"out_h1": "1", "dout_h1/dnet_h1": "0", "delta_h1": "0", "dE/dw1": "0", "dE/dw3": written(v["dE/dw5"])}
    net = network("sigmoid", "sigmoid", "half_sse")
    (result,) = diagnose([grade(net.steps(), {key: Decimal(text) for key, text in sheet.items()}, ecf=ecf)])
    rows = {row.step.key: row for row in result.rows if row.given is not None}
    for key in ("dout_h1/dnet_h1", "delta_h1", "dE/dw1"):
        assert rows[key].verdict == "wrong" and rows[key].credit == 0
        assert rows[key].mistake is not None and rows[key].mistake.id == "simplified"
        assert rows[key].mistake.names == {"answer": "out_h1 = 1"}  # the answer that made it so, not the zeros after it
    assert rows["out_h1"].verdict == "wrong" and rows["out_h1"].mistake is None
    assert result.score == 0


def test_the_report_names_the_answer_that_made_the_step_trivial(tmp_path) -> None:
    from tests.conftest import run_derive

    (tmp_path / "sheet.toml").write_text('out_h1 = 1\n"dout_h1/dnet_h1" = 0\n', encoding="utf-8")
    text = run_derive("check", str(tmp_path / "sheet.toml")).stdout
    below = text[text.index("What went wrong:") :].splitlines()
    assert below[1:] == [
        "  blank 24 (dout_h1/dnet_h1)",
        "    Your answer out_h1 = 1 made this step trivial (a factor exactly 0 or 1, where the exact one is neither), "
        "so it earns no credit carried forward.",
    ]


def test_simplified_refuses_nothing_else() -> None:
    """A slip that leaves every factor away from 0 and 1 is carried forward; so is a ReLU's f′ = 0 from a
    negative net input, since the exact f′ is 1 (not 'neither 0 nor 1'); and a right answer is right."""
    out = 0.61  # for 0.5933: wrong, and every step after it worked from it
    slope = out * (1 - out)
    delta = float(written(textbook("sigmoid", "sigmoid", "half_sse")["dE/dout_h1"])) * slope
    sheet = {
        "out_h1": "0.61",
        "dout_h1/dnet_h1": written(slope),
        "delta_h1": written(delta),
        "dE/dw1": written(delta * I1),
    }
    found = diagnosed(network("sigmoid", "sigmoid", "half_sse"), sheet)
    assert found.pop("out_h1") == ("wrong", None)
    assert set(found.values()) == {("carried_forward", None)}
    relu = diagnosed(
        network("relu", "sigmoid", "half_sse"), {"net_h1": "-0.2000", "out_h1": "0", "dout_h1/dnet_h1": "0"}
    )
    assert relu["dout_h1/dnet_h1"] == ("carried_forward", None)
    v = textbook("sigmoid", "sigmoid", "half_sse")
    assert set(diagnosed(network("sigmoid", "sigmoid", "half_sse"), {"delta_h1": written(v["delta_h1"])}).values()) == {
        ("correct", None)
    }


def test_the_readme_shows_a_diagnosed_report() -> None:
    from tests.conftest import ROOT, run_derive

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ derive check examples/answers/mistakes/updated_weight.toml\n…\n"
    shown = readme[readme.index(command) + len(command) :].split("```", 1)[0]
    text = run_derive("check", "examples/answers/mistakes/updated_weight.toml", cwd=ROOT).stdout
    assert text.endswith(shown) and "updated_weight" in text
    listed = re.findall(r"^\| `(\w+)` \|", readme[readme.index("**Diagnosing the mistake.**") :], flags=re.MULTILINE)
    assert set(listed[: len(IDS)]) == set(IDS)  # the README's table lists every id
