"""Which TeX engine compiles a document, chosen from its text: pdflatex, the faster, for text in Latin
letters; lualatex with the Noto fonts (``latex/_fonts.tex.j2``) for a name in any other script
(:func:`derive.outputs.fonts.pdflatex_can_set`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from derive.errors import DeriveError
from derive.outputs.fonts import pdflatex_can_set

PDFLATEX, LUALATEX = "pdflatex", "lualatex"


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
