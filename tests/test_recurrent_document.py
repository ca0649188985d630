"""The rnn document read for meaning, in English and Spanish: the forward pass goes step by step through
time from h_0 = 0, the names carry the time step, the layers' table lists the recurrent layer once and the
backward pass is headed by parameter group (U; W and b), each group the parameters the network's
description gives it.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_derive
from tests.test_recurrent import builtin_rnn

WORDS = {
    "en": {
        "forward": ("step by step through time", "from step 1 to step 3"),
        "names": ("$h1,2$ is neuron 1 of layer $\\mathrm{h}$ at step 2", "$i_{1,2}$ is input 1 at step 2"),
        "state": r"$\mathbf{h}_0 = \mathbf{0}$ ($\mathrm{out}_{h1,0} = 0$, $\mathrm{out}_{h2,0} = 0$)",
        "row": ("hyperbolic tangent", "recurrent", "over 3 time steps"),
        "groups": ("the recurrent weights U", "the input weights W and the biases b"),
        "gradient": "The gradient of",
        "paths": ("next time step", "recurrent weight"),
    },
    "es": {
        "forward": ("paso a paso en el tiempo", "del paso 1 al paso 3"),
        "names": (
            "$h1,2$ es la neurona 1 de la capa $\\mathrm{h}$ en el paso 2",
            "$i_{1,2}$ es la entrada 1 en el paso 2",
        ),
        "state": r"$\mathbf{h}_0 = \mathbf{0}$ ($\mathrm{out}_{h1,0} = 0$, $\mathrm{out}_{h2,0} = 0$)",
        "row": ("tangente hiperbólica", "recurrente", "3 pasos de tiempo"),
        "groups": ("los pesos recurrentes U", "los pesos de entrada W y los sesgos b"),
        "gradient": "El gradiente de",
        "paths": ("paso de tiempo siguiente", "peso recurrente"),
    },
}


def parameter_groups() -> tuple[list[str], list[str]]:
    """U and (W, b) of layer h, numbered as the description lists them: W row by row, then U, then b."""
    layer = builtin_rnn().layers[0]
    inputs = sum(len(row) for row in layer["weights"])
    recurrent = sum(len(row) for row in layer["recurrent_weights"])
    u = [f"w{k}" for k in range(inputs + 1, inputs + recurrent + 1)]
    w_and_b = [f"w{k}" for k in range(1, inputs + 1)] + [f"b{k + 1}" for k in range(len(layer["bias"]))]
    return u, w_and_b


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_rnn_forward_pass_goes_through_time_from_h0_and_names_the_step(lang):
    words = WORDS[lang]
    text = run_derive("explain", "rnn", "--lang", lang).stdout
    forward = text.split("\n## ")[2]  # the title, the network, the forward pass
    opening = forward.split("\n\n")[1]
    assert all(word in opening for word in words["forward"] + words["names"]), opening
    assert words["state"] in opening and "layer by layer" not in opening and "capa a capa" not in opening
    rows = [cells for line in text.splitlines() if len(cells := line.strip("| ").split(" | ")) == 3]
    hidden = [cells for cells in rows if cells[0].startswith("h")]
    assert len(hidden) == 1 and hidden[0][:2] == ["h", "2"], rows  # one row, 2 neurons, not h,1 h,2 h,3
    assert all(word in hidden[0][2] for word in words["row"])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_rnn_backward_pass_is_headed_by_parameter_group(lang):
    """Each ### heading of layer h names its group and lists exactly the gradients worked under it."""
    words = WORDS[lang]
    text = run_derive("explain", "rnn", "--lang", lang).stdout
    sections = re.split(r"^### ", text.split("\n## ")[3], flags=re.MULTILINE)[1:]
    headed = {
        section.splitlines()[0]: re.findall(rf"^#### {words['gradient']} \$(\w)_\{{(\d+)\}}\$", section, re.MULTILINE)
        for section in sections
    }
    groups = [
        (heading, [a + b for a, b in found]) for heading, found in headed.items() if "U" in heading or "W" in heading
    ]
    assert [heading for heading, _ in groups] == [
        next(h for h in headed if words["groups"][0] in h),
        next(h for h in headed if words["groups"][1] in h),
    ]
    for (heading, found), expected in zip(groups, parameter_groups(), strict=True):
        assert found == expected
        assert ", ".join(f"${name[0]}_{{{name[1:]}}}$" for name in expected) in heading
    assert not any("h,1" in heading or "h,2" in heading or "h,3" in heading for heading in headed)
    assert all(word in text for word in words["paths"])
    assert "kernel" not in text


def test_a_given_initial_state_is_substituted_and_its_worksheet_compiles(tmp_path):
    """With initial_state = [0.1, -0.2], h_0 is given like an input: net_h1,1 = w1·i_1,1 + w3·h1,0 + w4·h2,0 + b1
    = 0.5·0.5 + 0.1·0.1 + 0.2·(−0.2) + 0 = 0.22 (worked here), and the worksheet with its PDF is made."""
    from tests.conftest import ROOT, require_tool

    text = (ROOT / "derive" / "examples" / "rnn.toml").read_text(encoding="utf-8")
    network = tmp_path / "state.toml"
    network.write_text(text.replace("bias = [0.0, 0.1]", "bias = [0.0, 0.1]\ninitial_state = [0.1, -0.2]", 1))
    net_h11 = 0.5 * 0.5 + 0.1 * 0.1 + 0.2 * -0.2 + 0.0
    line = next(row for row in run_derive("explain", str(network)).stdout.splitlines() if "{net}_{h1,1} =" in row)
    assert line.endswith(f"= {net_h11:.2f}") and r"0.1 \cdot 0.1" in line, line
    require_tool("pdflatex")
    run_derive("worksheet", str(network), "--pdf", "-o", str(tmp_path / "sheet"))
    assert (tmp_path / "sheet" / "worksheet.pdf").exists() and (tmp_path / "sheet" / "solutions.pdf").exists()
