"""The package's shape: each layer imports only the layers below it, so there is no import circle.

Every import counts, including those inside functions: a lazy import of a higher layer is still a
circle through the layer that should be the bottom of the house.
"""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "derive"

# From the bottom up: spec → graph → chain → numbers → steps → outputs → cli (see README, Development).
LAYERS: list[set[str]] = [
    {"errors", "version"},
    {"numbers", "functions", "spec"},
    {"variants", "graph"},
    {"printing"},
    {"chain"},
    {"compiled", "vectorised"},
    {"training"},
    {"steps"},
    {"document"},
    {"render", "codegen", "plot", "diagram", "answers", "browser"},
    {"report"},
    {"grading", "quiz"},
    {"webpage"},  # the web page's pictures and its worksheet's check, which applies grading's rule
    {"publish"},
    {"network"},
    {"commands", "gallery"},
    {"cli"},
    {"__main__", "__init__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def unit(module: str) -> str:
    """The layer unit of a dotted module name: ``derive.document.backward`` → ``document``."""
    return module.split(".")[1] if module.count(".") else "__init__"


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
            for alias in node.names:  # `from derive import spec` imports the module derive.spec
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base)
    return {module for module in found if module == "derive" or module.startswith("derive.")}


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
    path.write_text("def show():\n    from derive.publish import explanation\n", encoding="utf-8")
    assert "derive.publish" in imports("derive.chain", path)
    assert RANK[unit("derive.publish")] > RANK[unit("derive.chain")]


def test_the_command_line_offers_the_choices_the_library_has():
    """cli.py repeats a few choice lists so that `--help` starts without importing SymPy: keep them equal."""
    from derive import cli, publish, steps

    assert cli.DETAILS == steps.DETAILS
    assert cli.EXERCISES == publish.EXERCISES
    assert cli.PAPERS == publish.PAPERS
