"""mutmut 2's hook: each mutant runs the fast core tests of its own file ([tool.mutmut.selection])."""

import tomllib
from pathlib import Path
from typing import Any

SETTINGS = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
COMMAND = "env CI=true python -m pytest -n 0 -x -q -p no:cacheprovider"  # one process: mutmut runs mutants one by one


def pre_mutation(context: Any) -> None:
    """The mutated file's selection; a file without one runs the whole baseline selection.

    mutmut 2 counts only exit status 1 as a kill, so any failure (an import broken by the mutant
    makes pytest exit 2) becomes 1.
    """
    selection = SETTINGS["selection"].get(context.filename)
    if selection:
        context.config.test_command = f"bash -c '{COMMAND} {selection} || exit 1'"
