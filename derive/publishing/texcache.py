"""What one compilation keeps for the next: a preamble's format, a group of documents' shared pictures.

A worksheet's pdflatex run spends a third of its time loading its preamble and nearly half drawing its
pictures; both are the same from one run to the next.  They are kept in the user's cache folder
(``$XDG_CACHE_HOME/derive/tex``, else ``~/.cache/derive/tex``), or in the folder ``DERIVE_CACHE``
names (``DERIVE_CACHE=off``: none).

An entry is named by a hash of what made it and of the TeX installation (its pdflatex and its LaTeX
format), and it lists every file TeX read to make it (pdflatex's ``-recorder``) with its size and
time of change: an entry made by another TeX, from another preamble, or before a package it read
changed (in the distribution or in the user's own ``texmf``) is not used.  It is written whole (a
temporary name, then a rename) and begins with its own checksum, so that a half-written or damaged
entry is never read.  The folder must be the user's own, private, and writable: a format is code
TeX runs, and another user's is never loaded.  The least recently used entries go beyond KEEP.  A
cache that cannot be used is no cache: the compilation goes on without it, as with the cache off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from derive.version import __version__

OFF = "off"
# Formats are about 7 MB each (already compressed by TeX), a pictures entry some kilobytes.  A course
# makes about a dozen kinds of document (sheets and keys, exam, slides and handout, class PDFs, each in
# two languages or on letter paper), each of its own preamble: with fewer formats kept than that, each
# kind would evict another's and be dumped again on every run (the test suite's 15 preambles did).
KEEP = {".fmt": 16, ".pictures": 256}
_PARTIAL = ".partial-"
_ABANDONED = 3600  # seconds after which a partial file is a write that never finished (the process was killed)


@dataclass(frozen=True)
class TexCache:
    """A private folder of entries, each named by a hash of this TeX installation and what made it."""

    folder: Path
    installation: str

    def key(self, *parts: str) -> str:
        """The hash naming the entry that ``parts`` make with this TeX installation."""
        digest = hashlib.sha256(self.installation.encode())
        for part in parts:
            digest.update(hashlib.sha256(part.encode("utf-8")).digest())
        return digest.hexdigest()

    def load(self, key: str, suffix: str) -> bytes | None:
        """The entry's data, if it is there whole and no file TeX read to make it has changed since."""
        path = self.folder / f"{key}{suffix}"
        try:
            checksum, _, rest = path.read_bytes().partition(b"\n")
        except OSError:
            return None
        if hashlib.sha256(rest).hexdigest().encode() != checksum:
            return None
        inputs, _, data = rest.partition(b"\n")
        recorded = json.loads(inputs)
        if recorded != _stamps(path for path, _, _ in recorded):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used: the last to go
        return data

    def store(self, key: str, suffix: str, data: bytes, inputs: Iterable[str]) -> None:
        """Keep ``data``, made from the files ``inputs``, under ``key``: written whole or not at all; the
        least recently used entries beyond KEEP go."""
        rest = json.dumps(_stamps(sorted(set(inputs)))).encode() + b"\n" + data
        with contextlib.suppress(OSError):
            handle, partial = tempfile.mkstemp(dir=self.folder, prefix=_PARTIAL)
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(hashlib.sha256(rest).hexdigest().encode() + b"\n" + rest)
                os.replace(partial, self.folder / f"{key}{suffix}")
            except BaseException:  # a full disk, or Ctrl-C mid-write: no partial file stays behind
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                raise
            self._evict(suffix)

    def _evict(self, suffix: str) -> None:
        now = time.time()
        # a time of change in the future (a copied folder, a clock set back) counts as now
        entries = sorted(self.folder.glob(f"*{suffix}"), key=lambda path: min(path.stat().st_mtime, now), reverse=True)
        for path in entries[KEEP[suffix] :]:
            path.unlink(missing_ok=True)
        for path in self.folder.glob(f"{_PARTIAL}*"):
            if now - path.stat().st_mtime > _ABANDONED:
                path.unlink(missing_ok=True)


def _stamps(paths: Iterable[str]) -> list[list]:
    """Each file as ``[path, size, time of change]`` (``None`` for a file that is gone)."""
    found = []
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            found.append([path, None, None])
        else:
            found.append([path, status.st_size, status.st_mtime_ns])
    return found


def recorded_inputs(recorder: Path, folder: str) -> list[str]:
    """The files a TeX run read, from its ``-recorder`` list, but those of its own folder (made there)."""
    try:
        lines = recorder.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    inside = os.path.join(os.path.realpath(folder), "")
    read = [line.removeprefix("INPUT ") for line in lines if line.startswith("INPUT ")]
    return [
        path for path in dict.fromkeys(read) if os.path.isabs(path) and not os.path.realpath(path).startswith(inside)
    ]


def tex_cache(pdflatex: str) -> TexCache | None:
    """The cache for ``pdflatex``'s compilations, or None: switched off, not the user's own private and
    writable folder, or no TeX installation to name."""
    chosen = os.environ.get("DERIVE_CACHE")
    if chosen is not None and chosen.strip().lower() in (OFF, ""):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        if chosen:
            folder = Path(chosen).expanduser() / "tex"
        else:  # the XDG rule: a relative XDG_CACHE_HOME is ignored
            folder = (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "derive" / "tex"
    except RuntimeError:  # no home folder to be found
        return None
    installation = _installation(pdflatex)
    return TexCache(folder, installation) if installation and _private(folder) else None


def _private(folder: Path) -> bool:
    """``folder`` exists (made if need be), is a folder of the user's own that no one else may read or
    write, and can be written."""
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        status = folder.lstat()
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or status.st_uid == os.getuid()
    shut = not hasattr(os, "getuid") or status.st_mode & 0o077 == 0
    return stat.S_ISDIR(status.st_mode) and mine and shut and os.access(folder, os.W_OK | os.X_OK)


@functools.cache
def _installation(pdflatex: str) -> str | None:
    """pdflatex and its LaTeX format, by path, size and time of change; None if kpsewhich cannot say
    where the format is.  (What a format or a picture read beyond them, each entry lists itself.)"""
    kpsewhich = shutil.which("kpsewhich", path=str(Path(pdflatex).parent)) or shutil.which("kpsewhich")
    if kpsewhich is None:
        return None
    command = [kpsewhich, "-engine=pdftex", "pdflatex.fmt"]
    try:
        fmt = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not fmt.endswith(".fmt"):
        return None
    return json.dumps([__version__, *_stamps([pdflatex, fmt])])
