# ruff: noqa: F811  (derive_in, imported from test_malformed, is a fixture the tests take by name)
"""The malformed-input corpus at the limits: outputs that are not plain files, full disks, an output
that is an input, signals, and input at the edges of what derive accepts (issue 28).

Each case is the one the issue describes.  Cases that need root (a device node, a full disk) make
their own device in ``tmp_path`` or mount a small tmpfs in a private mount namespace (``unshare -m``),
so that a regression cannot replace the machine's own ``/dev/null``.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT, require_tool, source_environment
from tests.test_malformed import MAZUR, assert_user_error, derive_in  # noqa: F401  (derive_in is a fixture)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: device nodes and mounts")


def device(tmp_path, name: str, minor: int):
    """A character device of the kernel's memory driver: minor 3 is /dev/null, 7 is /dev/full."""
    require_root()
    path = tmp_path / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


# ---- item 1: -o onto a special file ---------------------------------------------------------------


def test_output_onto_a_character_device_writes_through(tmp_path, derive_in):
    null = device(tmp_path, "null", 3)
    result = derive_in("explain", "-o", "null")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode), "the device was replaced by a regular file"


def test_output_onto_a_full_device_is_a_one_line_error(tmp_path, derive_in):
    full = device(tmp_path, "full", 7)
    assert_user_error(derive_in("explain", "-o", "full"), "full: cannot be written (No space left on device)")
    assert stat.S_ISCHR(full.stat().st_mode)


def test_output_onto_a_named_pipe_writes_through(tmp_path, derive_in):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    result = derive_in("explain", "-o", "pipe")
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert received and received[0].startswith(b"# ") and b"0.298371109" in received[0]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_output_dash_and_a_link_to_standard_output_print(tmp_path, derive_in):
    (tmp_path / "stdout").symlink_to("/proc/self/fd/1")  # as /dev/stdout is
    for target in ("-", "stdout"):
        result = derive_in("code", "-o", target)
        assert result.returncode == 0, result.stderr
        assert "import numpy" in result.stdout
    assert os.readlink(tmp_path / "stdout") == "/proc/self/fd/1"


def test_a_folder_output_cannot_be_standard_output(derive_in):
    assert_user_error(derive_in("worksheet", "-o", "-"), "-: expected a folder")


# ---- item 3: several files, all or nothing ----------------------------------------------------


def test_a_folder_in_the_way_leaves_every_file_as_it_was(tmp_path, derive_in):
    (tmp_path / "out" / "worksheet.tex").mkdir(parents=True)
    (tmp_path / "out" / "solutions.tex").write_text("OLD\n")
    assert_user_error(derive_in("worksheet", "-o", "out"), "out/worksheet.tex: is a folder")
    assert (tmp_path / "out" / "solutions.tex").read_text() == "OLD\n"


FULL_DISK = """
set -e
mount -t tmpfs -o size={size}k tmpfs "$1"
mkdir "$1/out" && echo OLD > "$1/out/worksheet.tex"
set +e
"$2" -m derive worksheet --pdf -o "$1/out"
echo "exit $?"
ls -A "$1/out"
cat "$1/out/worksheet.tex"
"""


@pytest.mark.parametrize("size", [64, 160])
def test_a_full_disk_leaves_the_folder_as_it_was(size, tmp_path):
    """On a tmpfs too small for all four files (in a private mount namespace): nothing new, the old file kept."""
    require_root()
    require_tool("pdflatex")
    unshare = require_tool("unshare")
    (tmp_path / "disk").mkdir()
    script = FULL_DISK.format(size=size)
    run = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", str(tmp_path / "disk"), sys.executable],
        capture_output=True,
        text=True,
        env=source_environment(),
        timeout=600,
    )
    lines = run.stdout.splitlines()
    assert "exit 2" in lines, run.stdout + run.stderr
    assert lines[-2:] == ["worksheet.tex", "OLD"], run.stdout
    assert "No space left on device" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


# ---- item 10: the output is one of the inputs ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["check", "a.toml", "-o", "a.toml"], "a.toml"),
        (["explain", "net.toml", "-o", "net.toml"], "net.toml"),
        (["code", "net.toml", "-o", "./link.toml"], "link.toml: is also an input (net.toml)"),
        (["check", "a.toml", "--marks", "marks.toml", "-o", "marks.toml"], "marks.toml"),
        (["explain", "--templates", "mine", "-o", "mine/markdown/explanation.md.j2"], "explanation.md.j2"),
    ],
    ids=["answers", "network", "network by a link", "marks", "a template"],
)
def test_an_output_that_is_an_input_is_refused(args, named, tmp_path, derive_in):
    (tmp_path / "net.toml").write_text(MAZUR, encoding="utf-8")
    (tmp_path / "link.toml").symlink_to("net.toml")
    (tmp_path / "a.toml").write_bytes((ROOT / "examples" / "answers" / "spanish-source.toml").read_bytes())
    (tmp_path / "marks.toml").write_text("[weights]\nE_total = 2\n", encoding="utf-8")
    (tmp_path / "mine" / "markdown").mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "markdown" / "explanation.md.j2", tmp_path / "mine" / "markdown")
    assert_user_error(derive_in(*args), named, "is also an input", "expected a different output file")


# ---- item 13: SIGTERM cleans up as Ctrl-C does --------------------------------------------------


def test_sigterm_removes_the_latex_folder(tmp_path):
    require_tool("pdflatex")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**source_environment(), "TMPDIR": str(temporary)}
    command = [sys.executable, "-m", "derive", "worksheet", "--variants", "6", "--pdf", "-o", "out"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(temporary.glob("derive-latex-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temporary.glob("derive-latex-*")), "pdflatex never started"
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 143, errors
    assert errors.strip() == "derive: terminated"
    assert not list(temporary.glob("derive-latex-*"))
    assert not (tmp_path / "out").exists()
