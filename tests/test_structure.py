"""The package's shape: each layer imports only the layers below it, so there is no import circle.

Every import counts, including those inside functions: a lazy import of a higher layer is still a
circle through the layer that should be the bottom of the house.
"""

import ast
import itertools
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "derive"

# The package's folders, from the bottom up: each is one layer of the pipeline (README, Development).
FOLDERS = ["spec", "core", "training", "document", "outputs", "assessment", "publishing", "app"]

# Within and across the folders, from the bottom up: a unit imports only the units of lower rank.
LAYERS: list[set[str]] = [
    {"errors", "version"},
    {"spec", "spec.model", "spec.literals"},
    {"spec.messages", "spec.unroll"},  # unroll: conv2d, pooling and recurrent layers as stages of neurons
    {"spec.values"},
    {"spec.shaped"},  # the layers that are not fully connected, checked
    {"spec.checks"},
    {"spec.files"},
    {"spec.variants"},
    {"core", "core.numbers", "core.functions", "core.safe_forms"},  # safe_forms: the float forms of two shapes
    {"core.rules"},
    {"core.graph", "core.samples"},  # samples: an activation evaluated for drawing
    {"core.printing"},
    {"core.factors", "core.forward"},  # the chain rule's values; the forward pass
    {"core.unrolled"},  # the graph and forward pass of conv2d, pooling and recurrent layers, unrolled
    {"core.backward", "core.composed"},  # δs, gradients and updates; the composed forms
    {"core.through"},  # the unrolled network's backward pass, with the backward pass's helpers
    {"core.chain"},
    {"core.step_parts"},  # one step and the parts of the working it is grouped in
    {"core.builders"},  # a builder per part of the working
    {"core.steps", "core.checks", "core.layerwise"},  # what the documents show beside the chain, computed here
    {"training", "training.compiled", "training.vectorised", "training.floats", "training.unrolled"},
    {"training.descent"},
    {"training.worked"},
    {"document"},
    {"outputs.sandbox"},  # Jinja2's sandbox with limits of time, size and folder
    {"outputs.fonts"},  # the letters pdflatex sets, the fonts lualatex falls back to for the others
    {
        "outputs",
        "outputs.render",
        "outputs.code",
        "outputs.plot",
        "outputs.diagram",
        "outputs.browser",
        "outputs.charts",
    },
    {"outputs.report"},
    {"assessment", "assessment.answers", "assessment.windows", "assessment.simplified"},  # windows: digits asked
    {"assessment.grading", "assessment.quiz"},
    {"assessment.mistakes"},  # the catalogue of classic mistakes, each a change to a step's formula
    {"assessment.diagnosis"},  # each wrong answer's mistake
    {"assessment.classes"},  # the class report: what a class gets wrong
    # the web page's pictures, and its worksheet's check (grading's rule); writing files
    # texcache: what one TeX compilation keeps for the next
    {"publishing", "publishing.webpage", "publishing.writing", "publishing.engines", "publishing.texcache"},
    {"publishing.latex"},  # LaTeX to PDF: side by side, a preamble and shared pictures once
    {"publishing.publish"},
    {"publishing.scorm"},  # the worksheet page as a SCORM package, with the bridge to an LMS
    {"app", "app.network", "app.options"},  # options: the values of the command line's options, parsed
    {"app.commands", "app.gallery"},
    {"app.cli"},
    {"__main__", "__init__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def unit(module: str) -> str:
    """The layer unit of a dotted module name: ``derive.core.chain`` → ``core.chain``.

    The document builders share their model and form one unit: ``derive.document.backward`` → ``document``.
    """
    parts = module.split(".")[1:]
    if not parts:
        return "__init__"
    return "document" if parts[0] == "document" else ".".join(parts[:2])


def folder(unit_name: str) -> str:
    """The folder of a unit (``core.chain`` → ``core``); the package's own modules have none."""
    return unit_name.partition(".")[0] if unit_name.partition(".")[0] in FOLDERS else ""


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every derive module ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from derive import spec` imports the module derive.spec.model
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base)
    return {module for module in found if module == "derive" or module.startswith("derive.")}


def test_the_folders_read_as_the_pipeline():
    """`ls derive` shows the layers: every folder is one, and the ranks follow the folders' order."""
    on_disk = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert on_disk == set(FOLDERS)
    ranks = {name: [RANK[u] for u in RANK if folder(u) == name] for name in FOLDERS}
    for lower, higher in itertools.pairwise(FOLDERS):
        assert max(ranks[lower]) < min(ranks[higher]), f"{lower}/ must lie wholly below {higher}/"
    top = {path.stem for path in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "errors", "version"}, "every other module belongs in a layer's folder"


def test_every_module_has_a_layer():
    units = {unit(name) for name in modules()}
    assert units - set(RANK) == set(), "place every new module in LAYERS"


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_go_down_only(name):
    path = modules()[name]
    mine = unit(name)
    for imported in imports(name, path):
        theirs = unit(imported)
        if theirs == mine and mine != "__init__":
            continue  # within one unit (the document builders share their model)
        if imported == "derive":
            assert mine in ("__init__", "__main__"), f"{name} imports the package itself"
            continue
        assert RANK[theirs] < RANK[mine], f"{name} (layer {mine}) imports {imported} (layer {theirs}), a higher one"


def test_the_check_catches_an_upward_import(tmp_path):
    """The checker itself: a lower module importing a higher one, even inside a function, is found."""
    path = tmp_path / "chain.py"
    path.write_text("def show():\n    from derive.publishing.publish import explanation\n", encoding="utf-8")
    assert "derive.publishing.publish" in imports("derive.core.chain", path)
    assert RANK[unit("derive.publishing.publish")] > RANK[unit("derive.core.chain")]


def test_the_command_line_offers_the_choices_the_library_has():
    """cli.py repeats a few choice lists so that `--help` starts without importing SymPy: keep them equal."""
    from derive.app import cli
    from derive.core import steps
    from derive.document import marking, precision
    from derive.publishing import publish

    assert cli.DETAILS == steps.DETAILS
    assert cli.EXERCISES == publish.EXERCISES
    assert cli.PAPERS == publish.PAPERS
    assert cli.FIGURES == precision.ANSWER_FIGURES
    assert cli.MOST_FIGURES == marking.MOST_FIGURES
