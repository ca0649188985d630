"""Writing finished files: all of them or none, never over an input, never replacing a device.

A regular file is written to a temporary file beside it and renamed into place, so a reader never
sees half a file.  A file of several is written the same way, but every target is checked and
every temporary file written before the first rename, so a refused target, a full disk or a
folder in the way leaves the folder as it was.  A character device (``/dev/null``), a named pipe
and ``-`` (standard output) are written through, never replaced; a full disk is reported.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from derive.errors import DeriveError, stop_if_terminated

STANDARD_OUTPUT = "-"


def write_file(path: Path, content: str | bytes, *, inputs: Iterable[Path] = ()) -> Path:
    """Write ``content`` to ``path``: through to a device, pipe or ``-``; otherwise atomically."""
    return write_files(path.parent, {path.name: content}, inputs=inputs, named=[path])[0]


def write_files(
    folder: Path,
    files: Mapping[str, str | bytes],
    *,
    inputs: Iterable[Path] = (),
    named: list[Path] | None = None,
) -> list[Path]:
    """Write every file into ``folder``, all or nothing; names may not leave the folder.

    ``named`` are the paths as the user wrote them (``-``, ``/dev/stdout``), one per file, when the
    caller writes a single file rather than a folder of them.
    """
    stop_if_terminated()  # a SIGTERM whose exception was swallowed on the way: nothing is written
    if named is None:
        for name in files:
            if Path(name).name != name or name in ("", ".", ".."):
                raise DeriveError(f"refusing to write {name!r} outside {folder}")
        if str(folder) == STANDARD_OUTPUT:
            raise DeriveError("expected a folder; '-' (standard output) takes a single file", source=str(folder))
        _make_folder(folder)
    targets = named or [folder / name for name in files]
    contents = [_bytes(content) for content in files.values()]
    protected = list(inputs)
    for target in targets:
        _check_target(target, protected)
    through = {target for target in targets if _written_through(target)}
    staged: list[tuple[Path, str]] = []
    try:
        for target, data in zip(targets, contents, strict=True):
            if target not in through:
                staged.append((target, _temporary(target, data)))
        stop_if_terminated()  # again, after the slowest part: nothing goes through or into place
        for target, data in zip(targets, contents, strict=True):
            if target in through:
                _write_through(target, data)
        for target, temporary in staged:
            _rename(temporary, target)
    finally:
        for _, temporary in staged:
            Path(temporary).unlink(missing_ok=True)
    return targets


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DeriveError(f"cannot create the folder ({error.strerror or error})", source=str(folder)) from None
    if not folder.is_dir():
        raise DeriveError("is not a folder", source=str(folder))


def _check_target(target: Path, inputs: list[Path]) -> None:
    """A target must not be a folder, nor one of the files the command reads, however named."""
    if str(target) == STANDARD_OUTPUT:
        return
    try:
        if target.is_dir():
            raise DeriveError("is a folder; expected a file name", source=str(target))
        exists = target.exists()
    except OSError as error:
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(target)) from None
    if not exists:
        return
    for given in inputs:
        if _same_file(target, given):
            raise DeriveError(f"is also an input ({given}); expected a different output file", source=str(target))


def _same_file(target: Path, given: Path) -> bool:
    """``target`` is ``given``, or a file inside the folder ``given`` (a templates folder)."""
    try:
        if given.is_dir():
            return target.resolve().is_relative_to(given.resolve())
        return given.exists() and os.path.samefile(target, given)
    except OSError:
        return False


def _written_through(target: Path) -> bool:
    """``-``, a device, a pipe or a socket: written into, not replaced (``/dev/stdout`` is a link to one)."""
    if str(target) == STANDARD_OUTPUT:
        return True
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) or _leads_through_proc(target)


def _leads_through_proc(path: Path) -> bool:
    """A link that passes through ``/proc`` (``/dev/stdout`` → ``/proc/self/fd/1``): an open file, not a name."""
    for _ in range(40):  # the kernel's own limit on a chain of links
        if not path.is_symlink():
            return False
        link = Path(os.readlink(path))
        path = link if link.is_absolute() else path.parent / link
        if str(path).startswith("/proc/"):
            return True
    return False


def _write_through(target: Path, data: bytes) -> None:
    try:
        if str(target) == STANDARD_OUTPUT:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        with open(target, "wb", buffering=0) as handle:
            view = memoryview(data)
            while view:
                view = view[handle.write(view) or 0 :]
    except BrokenPipeError:
        raise
    except OSError as error:
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(target)) from None


def _temporary(target: Path, data: bytes) -> str:
    """A temporary file holding ``data`` in the folder of ``target`` (where a link leads), with the usual mode."""
    folder = Path(os.path.realpath(target)).parent
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name[:100]}.", dir=folder)
    except OSError as error:
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(target)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(target)) from None
    return temporary


def _rename(temporary: str, target: Path) -> None:
    """Rename into place; a link is kept and the file it leads to replaced."""
    try:
        os.replace(temporary, os.path.realpath(target))
    except OSError as error:
        raise DeriveError(f"cannot be written ({error.strerror or error})", source=str(target)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
