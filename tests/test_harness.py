"""The test harness itself: under CI=true nothing may skip."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

SKIPPING = """
import pytest


def test_needs_a_missing_tool():
    pytest.skip("no such tool")


@pytest.mark.skip(reason="marked to skip")
def test_marked():
    pass


@pytest.mark.xfail(reason="a known failure, not a skip")
def test_expected_to_fail():
    assert False


def test_runs():
    pass
"""


def run_pytest(folder, ci: str) -> subprocess.CompletedProcess[str]:
    (folder / "conftest.py").write_text("from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
    (folder / "test_skipping.py").write_text(SKIPPING)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=300,
    )


def test_a_skip_is_a_failure_under_ci(tmp_path):
    result = run_pytest(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    # the skip in the test's body fails it; the skip mark, met while setting it up, is an error
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in result.stdout
    assert "skipped under CI=true, where every test must run: Skipped: no such tool" in result.stdout
    assert "skipped under CI=true, where every test must run: Skipped: marked to skip" in result.stdout


def test_a_skip_is_a_skip_elsewhere(tmp_path):
    result = run_pytest(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout


GROUPED = """
import os

import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("number", range(8))
def test_reads_what_the_group_shares(number):
    with open("workers.txt", "a") as seen:
        seen.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_a_group_runs_on_one_worker(tmp_path):
    """The suite's PDFs are compiled, and its browser started, once per group of the tests that read
    them: that holds only while ``--dist loadgroup`` keeps each group on one worker."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_alone.py").write_text("def test_alone():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 8 and len(set(workers)) == 1, workers


def test_a_grouped_test_that_lost_its_group_stops_the_worker():
    """The guard itself: a grouped test whose node ID has no group after its parameters is refused."""
    from types import SimpleNamespace

    import pytest

    from tests.conftest import pytest_collection_modifyitems

    def grouped(nodeid: str) -> SimpleNamespace:
        return SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: name == "xdist_group")

    config = SimpleNamespace(option=SimpleNamespace(loadgroup=True))
    kept = grouped("tests/test_slides.py::test_deck[en]@slides")
    pytest_collection_modifyitems(config, [kept])
    with pytest.raises(pytest.UsageError, match=r"1 grouped tests lost their group \(tests/test_a.py::test_b\[x@y\]\)"):
        pytest_collection_modifyitems(config, [kept, grouped("tests/test_a.py::test_b[x@y]")])


def test_the_mermaid_checker_serves_many_documents_and_names_each_rejected_diagram():
    """One node process answers every call of this test process, each with that call's own failures."""
    from tests.documents import mermaid_failures

    broken = "```mermaid\nflowchart LR\n  a -->\n```\n"
    fine = "```mermaid\nflowchart LR\n  a --> b\n```\n"
    assert mermaid_failures(fine) == []
    (failure,) = mermaid_failures(fine + broken)
    assert failure["diagram"] == "flowchart LR\n  a -->\n" and "Parse error" in failure["error"]
    assert mermaid_failures(fine) == [] and mermaid_failures("no diagram") == []
