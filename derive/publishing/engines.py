"""Which TeX engine compiles a document, chosen from its text: pdflatex, the faster, for text in Latin
letters; lualatex with the Noto fonts (``latex/_fonts.tex.j2``) for a name in any other script.

pdflatex with LaTeX's UTF-8 input knows the Latin letters (to Latin Extended-B), the punctuation
of General Punctuation (dashes, quotes, …) and a few symbols; a character beyond those (Дмитрий,
王芳, محمد, Αλέξης, an emoji) stops it with "Unicode character … not set up for use with LaTeX".
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from derive.errors import DeriveError

PDFLATEX, LUALATEX = "pdflatex", "lualatex"
# beyond the Latin letters, what pdflatex's UTF-8 input sets: punctuation, arrows, the euro, ™
_PDFLATEX_EXTRAS = (range(0x2000, 0x2070), range(0x2190, 0x2194), range(0x20AC, 0x20AD), range(0x2122, 0x2123))
_LATIN_END = 0x250


def pdflatex_can_set(text: str) -> bool:
    """Every character of ``text`` is one pdflatex sets (Latin letters, punctuation, a few symbols)."""
    return all(ord(char) < _LATIN_END or any(ord(char) in extra for extra in _PDFLATEX_EXTRAS) for char in text)


def engine_for(texts: Iterable[str]) -> str:
    """pdflatex for text it can set, otherwise lualatex."""
    return PDFLATEX if all(pdflatex_can_set(text) for text in texts) else LUALATEX


def engine_path(engine: str) -> str:
    """The engine's program, or an error saying which packages install it."""
    found = shutil.which(engine)
    if found is not None:
        return found
    if engine == PDFLATEX:
        raise DeriveError(
            "--pdf needs LaTeX (pdflatex), which is not installed; on Debian or Ubuntu: "
            "apt-get install texlive-latex-extra texlive-pictures"
        )
    raise DeriveError(
        "--pdf of a name in a script other than Latin needs LuaLaTeX and the Noto fonts, which are not installed; "
        "on Debian or Ubuntu: apt-get install texlive-luatex fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji"
    )
