import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
UNDER_CI = os.environ.get("CI") == "true"

settings.register_profile("default", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, max_examples=40, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if UNDER_CI else "default")


def require_tool(name: str) -> str:
    """The path of an external tool; skipped where it is missing, except under CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if UNDER_CI:
            pytest.fail(f"{name} is required under CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def source_environment() -> dict[str, str]:
    """The environment of a child process that imports derive from this tree, whatever its working folder."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_derive(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would, in a fresh process (the derive of this tree, from any folder)."""
    result = subprocess.run(
        [sys.executable, "-m", "derive", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=source_environment(),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"derive {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture
def derive_cli():
    return run_derive


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` nothing skips: a test that would skip (a missing tool, a skip mark) fails."""
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
