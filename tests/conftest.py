import importlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


def require_module(name: str) -> ModuleType:
    """A Python module of the test extra; skipped where it is missing, except under CI where it must import."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if UNDER_CI:
            pytest.fail(f"{name} is required under CI (pip install '.[test]')")
        pytest.skip(f"{name} is not installed")


def source_environment() -> dict[str, str]:
    """The environment of a child process that imports derive from this tree, whatever its working folder."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


# DERIVE_TEST_PROCESSES=1 runs every command in a child process, as tests/test_cli.py always does.
IN_PROCESS = os.environ.get("DERIVE_TEST_PROCESSES") != "1"


def run_derive(
    *args: str, cwd: Path | None = None, check: bool = True, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would: its argument parser, its ``main``, its status, its output.

    In this process (a child costs a second of start-up and SymPy import, hundreds of times a run), or
    with ``fresh`` (or DERIVE_TEST_PROCESSES=1) in a child process of its own, from any folder.
    """
    run = _in_child if fresh or not IN_PROCESS else _in_process
    result = run(list(args), cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"derive {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def _in_child(args: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "derive", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600, env=source_environment())


def _in_process(args: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    """``derive.app.cli.main(args)`` with its standard streams captured as a pipe would carry them
    (UTF-8, universal newlines), its working folder ``cwd``, and argparse's exits as statuses."""
    from derive.app.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    streams = sys.stdin, sys.stdout, sys.stderr
    folder = os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # nothing typed, as a child given no input
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    try:
        if cwd is not None:
            os.chdir(cwd)
        try:
            status = main(args)
        except SystemExit as exit_:  # argparse's usage errors and --help
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if not isinstance(exit_.code, int | None):
                print(exit_.code, file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(folder)
        for wrapper in (sys.stdin, sys.stdout, sys.stderr):
            wrapper.detach()  # leaves the bytes readable: a collected wrapper would close them
        sys.stdin, sys.stdout, sys.stderr = streams
    text = [stream.getvalue().decode("utf-8", "replace").replace("\r\n", "\n") for stream in (out, err)]
    return subprocess.CompletedProcess(["derive", *args], status, *text)


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


# -- made once per session (per xdist worker) for the tests that only read them ---------------------------
# Tests that share one of these carry the same ``xdist_group`` mark, so that with ``--dist loadgroup``
# (pyproject.toml) they run on one worker and the PDFs are compiled, or the browser started, once.


def _grouped(nodeid: str) -> bool:
    return nodeid.rfind("@") > nodeid.rfind("]")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """On an xdist worker under ``--dist loadgroup``, every grouped test carries its group in its node ID
    (xdist's only way of telling the scheduler); a pytest that drops it would spread each group over the
    workers without a word, compiling each PDF and starting each browser once per worker."""
    if not getattr(config.option, "loadgroup", False):
        return
    # xdist's own reading: the group follows the last "@", after any parameter's "]"
    lost = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and not _grouped(item.nodeid)]
    if lost:
        raise pytest.UsageError(
            f"--dist loadgroup: {len(lost)} grouped tests lost their group ({lost[0]}); "
            "pytest-xdist cannot group tests under this pytest (pyproject.toml's test extra pins one that can)"
        )


@pytest.fixture(scope="session", autouse=True)
def tex_cache_of_the_session(tmp_path_factory, worker_id):
    """The TeX formats and pictures compilations keep (derive.publishing.texcache): in a folder of this
    run's, shared by its workers, never the user's own; empty at the start, as on a first run."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if worker_id != "master" else base) / "derive-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DERIVE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def worksheet_pdfs(tmp_path_factory):
    """``derive worksheet [NETWORK] [--detail D] [--lang L] --pdf`` in a folder of its own, run once per
    set of options (defaults left out, so that the plain ``derive worksheet --pdf`` is run as a user types it)."""
    made: dict[tuple[str, ...], Path] = {}

    def worksheet(network: str = "mazur", detail: str = "standard", language: str = "en") -> Path:
        args = (*([network] if network != "mazur" else []), *(["--detail", detail] if detail != "standard" else []))
        args = (*args, *(["--lang", language] if language != "en" else []))
        if args not in made:
            folder = tmp_path_factory.mktemp("worksheet")
            run_derive("worksheet", *args, "--pdf", "-o", str(folder))
            made[args] = folder
        return made[args]

    return worksheet


def worksheet_group(network: str = "mazur", detail: str = "standard", language: str = "en") -> pytest.MarkDecorator:
    """The xdist group of the tests that read one compiled worksheet."""
    return pytest.mark.xdist_group(f"worksheet-{network}-{detail}-{language}")


@pytest.fixture(scope="session")
def session_browser():
    """One headless Chromium for the session's browser tests (each sets its page size as it opens a page)."""
    require_module("selenium")
    require_tool("chromium")
    require_tool("chromedriver")
    from derive.outputs.browser import chromium

    with chromium() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser_pages(tmp_path_factory):
    """The web pages the browser tests open (tests/test_browser.py's PAGES), written once."""
    from derive.publishing.publish import html_page
    from derive.spec.files import load_builtin
    from tests.test_browser import PAGES

    folder = tmp_path_factory.mktemp("pages")
    found = {}
    for name, (network, options) in PAGES.items():
        path = folder / f"{name}.html"
        path.write_text(html_page(load_builtin(network), **options), encoding="utf-8")
        found[name] = path
    return found
