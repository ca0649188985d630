"""The release as the index and a user get it: what the sdist and the wheel carry, the metadata, the version.

The distributions are built here as `.ci/run` builds them (`python -m build`: the sdist, then the
wheel from the sdist), without build isolation so that no network is needed: hatchling comes with
the test dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import ROOT, run_derive

pytestmark = pytest.mark.xdist_group("packaging")  # its module-scoped fixtures made once, on one worker

# Files of the working tree that are not part of the project (see .gitignore).
NOT_SOURCES = {"__pycache__", "node_modules", ".hypothesis", ".pytest_cache", ".ruff_cache"}


def project_files(folder: str) -> set[PurePosixPath]:
    """Every file under ``folder`` of the clone, relative to it, without caches and installed packages."""
    base = ROOT / folder
    return {
        PurePosixPath(path.relative_to(base).as_posix())
        for path in base.rglob("*")
        if path.is_file() and not NOT_SOURCES.intersection(path.relative_to(ROOT).parts) and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode("utf-8"))


def version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "derive" / "version.py").read_text(encoding="utf-8"), namespace)  # our own file
    return namespace["__version__"]


def test_the_distributions_are_named_for_the_index(dist):
    assert dist["wheel"].name == f"derive_backprop-{version()}-py3-none-any.whl"
    assert dist["sdist"].name == f"derive_backprop-{version()}.tar.gz"


def test_the_wheel_carries_every_template_catalog_and_module(dist):
    names = wheel_names(dist["wheel"])
    templates = project_files("templates")
    assert {PurePosixPath("i18n/en.toml"), PurePosixPath("i18n/es.toml")} <= templates
    assert {PurePosixPath("latex/worksheet.tex.j2"), PurePosixPath("markdown/explanation.md.j2")} <= templates
    missing = sorted(str(f) for f in templates if f"derive/templates/{f}" not in names)
    assert missing == [], f"templates missing from the wheel: {missing}"
    package = project_files("derive")
    assert PurePosixPath("examples/mazur.toml") in package
    missing = sorted(str(f) for f in package if f"derive/{f}" not in names)
    assert missing == [], f"package files missing from the wheel: {missing}"
    assert not any(name.startswith("tests/") for name in names)  # the tests stay out of the install
    with zipfile.ZipFile(dist["wheel"]) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        assert "derive = derive.app.cli:main" in archive.read(entry_points).decode()


def test_the_sdist_carries_the_tests_and_the_sources(dist):
    with tarfile.open(dist["sdist"]) as archive:
        root, *_ = archive.getnames()[0].split("/")
        names = {PurePosixPath(name).relative_to(root).as_posix() for name in archive.getnames()}
    expected = {f"tests/{f}" for f in project_files("tests")}
    expected |= {f"templates/{f}" for f in project_files("templates")}
    expected |= {f"derive/{f}" for f in project_files("derive")}
    expected |= {"README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "benchmarks/run.py"}
    assert {"tests/conftest.py", "tests/malformed/expected.toml", "tests/js/package-lock.json"} <= expected
    missing = sorted(expected - names)
    assert missing == [], f"missing from the sdist: {missing}"
    assert not any("node_modules" in name or "__pycache__" in name for name in names)


def test_the_metadata_is_complete(dist):
    data = metadata(dist["wheel"])
    assert data["Name"] == "derive-backprop"
    assert data["Version"] == version()
    assert data["Summary"].startswith("Forward and back propagation on small networks")
    assert "backpropagation" in data["Keywords"].split(",")
    classifiers = data.get_all("Classifier")
    for wanted in (
        "Intended Audience :: Education",
        "Intended Audience :: Science/Research",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.11",
    ):
        assert wanted in classifiers
    # PEP 639: the licence is an SPDX expression with its file; PyPI refuses a "License ::" classifier beside it
    assert data["License-Expression"] == "MIT" and data["License-File"] == "LICENSE"
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert data["Requires-Python"] == ">=3.11"
    assert {url.split(",")[0] for url in data.get_all("Project-URL")} >= {"Homepage", "Documentation"}
    assert data["Description-Content-Type"] == "text/markdown"
    assert data.get_payload() == (ROOT / "README.md").read_text(encoding="utf-8")


def test_twine_check_passes(dist):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist["wheel"]), str(dist["sdist"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_changelog_starts_with_this_release():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n") and "[Keep a Changelog]" in text
    releases = [line for line in text.splitlines() if line.startswith("## [")]
    assert releases[0] == "## [Unreleased]"
    assert releases[1].startswith(f"## [{version()}] - ")


@pytest.mark.parametrize("args", [["--version"], ["--version", "gradients"], ["--debug", "--version", "--lang", "x"]])
def test_version_on_the_command_line(args):
    """argparse's version action: print the version, exit 0, whatever follows."""
    result = run_derive(*args)
    assert result.stdout == f"derive {version()}\n" and result.stderr == ""


def test_version_belongs_to_the_program_not_to_a_command():
    result = run_derive("gradients", "--version", check=False)
    assert result.returncode == 2 and "unrecognized arguments: --version" in result.stderr


def test_the_version_in_python_needs_no_sympy():
    script = "import sys, derive; print(derive.__version__, 'sympy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout == f"{version()} False\n"
