"""What one compilation keeps for the next: a preamble's format, a group of documents' shared pictures.

A worksheet's pdflatex run spends a third of its time loading its preamble and nearly half drawing its
pictures; both are the same from one run to the next.  They are kept in the user's cache folder
(``$XDG_CACHE_HOME/derive/tex``, else ``~/.cache/derive/tex``), or in the folder ``DERIVE_CACHE``
names (``DERIVE_CACHE=off``: none).

An entry is named by a hash of what made it and of the TeX installation (its pdflatex, its LaTeX
format, its package database), so that another TeX's or another preamble's entry is never used.  It
is written whole (a temporary name, then a rename) and begins with its own checksum, so that a
half-written or damaged entry is never read.  The least recently used go beyond KEEP.  A cache
that cannot be read or written is no cache: the compilation goes on without it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from derive.version import __version__

OFF = "off"
KEEP = {".fmt": 8, ".pictures": 256}  # formats are about 7 MB each; a pictures entry, some kilobytes


@dataclass(frozen=True)
class TexCache:
    """A folder of entries, each named by a hash of this TeX installation and what made it."""

    folder: Path
    installation: str

    def key(self, *parts: str) -> str:
        """The hash naming the entry that ``parts`` make with this TeX installation."""
        digest = hashlib.sha256(self.installation.encode())
        for part in parts:
            digest.update(hashlib.sha256(part.encode("utf-8")).digest())
        return digest.hexdigest()

    def load(self, key: str, suffix: str) -> bytes | None:
        """The entry's bytes, if it is there whole; marked as used."""
        path = self.folder / f"{key}{suffix}"
        try:
            checksum, _, data = path.read_bytes().partition(b"\n")
            os.utime(path)
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest().encode() == checksum else None

    def store(self, key: str, suffix: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` (written whole or not at all); the least recently used beyond KEEP go."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, partial = tempfile.mkstemp(dir=self.folder, prefix=".partial-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
                os.replace(partial, self.folder / f"{key}{suffix}")
            except OSError:
                os.unlink(partial)
                raise
            self._evict(suffix)

    def _evict(self, suffix: str) -> None:
        entries = sorted(self.folder.glob(f"*{suffix}"), key=lambda path: path.stat().st_mtime, reverse=True)
        for path in entries[KEEP[suffix] :]:
            path.unlink(missing_ok=True)


def tex_cache(pdflatex: str) -> TexCache | None:
    """The cache for ``pdflatex``'s compilations, or None: switched off, or no TeX installation to name."""
    chosen = os.environ.get("DERIVE_CACHE")
    if chosen is not None and chosen.strip().lower() in (OFF, ""):
        return None
    try:
        if chosen:
            folder = Path(chosen).expanduser()
        else:
            folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "derive"
    except RuntimeError:  # no home folder to be found
        return None
    installation = _installation(pdflatex)
    return TexCache(folder / "tex", installation) if installation else None


@functools.cache
def _installation(pdflatex: str) -> str | None:
    """pdflatex, its LaTeX format and its package database, by path, size and time of change: what an
    update of TeX or of a package changes.  None if kpsewhich cannot say where they are."""
    kpsewhich = shutil.which("kpsewhich", path=str(Path(pdflatex).parent)) or shutil.which("kpsewhich")
    if kpsewhich is None:
        return None
    command = [kpsewhich, "-engine=pdftex", "-expand-var=$TEXMFDIST:$TEXMFLOCAL", "pdflatex.fmt"]
    try:
        found = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(found) != 2 or not found[1].endswith(".fmt"):
        return None
    trees, fmt = found[0].split(":"), found[1]
    files = [Path(pdflatex), Path(fmt), *(Path(tree) / "ls-R" for tree in trees if tree)]
    stamps = []
    for path in files:
        with contextlib.suppress(OSError):
            status = path.stat()
            stamps.append(f"{path}:{status.st_size}:{status.st_mtime_ns}")
    return "\n".join([__version__, *stamps])
