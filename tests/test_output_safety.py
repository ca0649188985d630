"""Nothing is lost: failed runs write nothing, outputs are replaced atomically, LaTeX runs no shell."""

import json
import os

import pytest

from derive.errors import DeriveError
from derive.publishing.latex import latex_failure
from derive.publishing.writing import write_files
from tests.conftest import require_tool, run_derive


def snapshot(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def broken_templates(tmp_path, body: str):
    folder = tmp_path / "templates"
    (folder / "latex").mkdir(parents=True)
    (folder / "latex" / "worksheet.tex.j2").write_text(
        "\\documentclass{article}\n\\begin{document}\n" + body + "\n\\end{document}\n"
    )
    return folder


def test_failed_pdf_run_writes_nothing(tmp_path):
    require_tool("pdflatex")
    out = tmp_path / "out"
    out.mkdir()
    (out / "worksheet.tex").write_text("earlier work")
    before = snapshot(out)
    templates = broken_templates(tmp_path, "\\undefinedmacro")
    result = run_derive("worksheet", "--pdf", "-o", str(out), "--templates", str(templates), check=False)
    assert result.returncode == 2
    assert "LaTeX could not compile worksheet.tex at line 3: Undefined control sequence" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr
    assert snapshot(out) == before


def test_latex_runs_without_shell_escape(tmp_path):
    require_tool("pdflatex")
    out = tmp_path / "out"
    marker = tmp_path / "shell-escape-ran"
    templates = broken_templates(tmp_path, f"\\immediate\\write18{{touch {marker}}} text")
    run_derive("worksheet", "--pdf", "-o", str(out), "--templates", str(templates))
    assert (out / "worksheet.pdf").exists()
    assert not marker.exists()


def test_failed_run_keeps_an_earlier_explanation(tmp_path):
    target = tmp_path / "explanation.md"
    target.write_text("earlier")
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = -1\n")
    result = run_derive("explain", str(bad), "-o", str(target), check=False)
    assert result.returncode == 2
    assert target.read_text() == "earlier"
    run_derive("explain", "-o", str(target))
    assert "0.082167041" in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_written_files_have_the_usual_mode(tmp_path):
    run_derive("worksheet", "-o", str(tmp_path))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "worksheet.tex").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("name", ["../escape.tex", "sub/dir.tex", "..", ""])
def test_generated_names_never_leave_the_folder(tmp_path, name):
    with pytest.raises(DeriveError):
        write_files(tmp_path / "out", {name: "x"})
    assert not (tmp_path / "escape.tex").exists()


def test_documents_refuse_a_network_too_large_to_read(tmp_path):
    wide = {
        "layers": [
            {"name": "h", "activation": "sigmoid", "weights": [[0.1] * 4] * 6, "bias": 0.1},
            {"name": "o", "activation": "sigmoid", "weights": [[0.2] * 6] * 6, "bias": 0.2},
        ],
        "examples": [{"inputs": [0.5] * 4, "targets": [0.5] * 6}],
    }
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(wide))
    result = run_derive("explain", str(path), check=False)
    assert result.returncode == 2 and "--only" in result.stderr and "Traceback" not in result.stderr
    assert "0.1" in run_derive("explain", str(path), "--only", "w1,w30").stdout
    result = run_derive("explain", "--only", "w55", check=False)
    assert result.returncode == 2 and "no parameter 'w55'" in result.stderr


def test_gradients_and_training_handle_thousands_of_weights(tmp_path):
    size = 40
    network = {
        "layers": [
            {
                "name": "h",
                "activation": "tanh",
                "weights": [[((j * 7 + k) % 13 - 6) / 50 for k in range(size)] for j in range(size)],
                "bias": 0.1,
            },
            {
                "name": "g",
                "activation": "sigmoid",
                "weights": [[((j + 3 * k) % 11 - 5) / 40 for k in range(size)] for j in range(size)],
                "bias": [0.0] * size,
            },
            {
                "name": "o",
                "activation": "sigmoid",
                "weights": [[0.01 * ((j + k) % 5) for k in range(size)] for j in range(2)],
                "bias": 0.0,
            },
        ],
        "examples": [{"inputs": [k / size for k in range(size)], "targets": [0.2, 0.8]}],
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(network))
    document = json.loads(run_derive("gradients", str(path), "--json").stdout)
    assert len(document["gradients"]) == size * size * 2 + 2 * size + 1 + size + 1
    trained = json.loads(run_derive("train", str(path), "--steps", "20", "--json").stdout)
    assert trained["loss"][-1] < trained["loss"][0]


def test_latex_failure_messages():
    missing = "! LaTeX Error: File `pgfplots.sty' not found.\n"
    assert "package 'pgfplots' is not installed" in latex_failure("solutions.tex", missing)
    message = latex_failure("worksheet.tex", "! Missing $ inserted.\n<inserted text>\nl.42 x^2\n")
    assert message.startswith("LaTeX could not compile worksheet.tex at line 42: Missing $ inserted.")
