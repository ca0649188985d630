"""The letters each TeX engine sets, and the fonts lualatex falls back to for the others.

pdflatex with LaTeX's UTF-8 input knows the Latin letters (to Latin Extended-B), the punctuation
of General Punctuation (dashes, quotes, …) and a few symbols; a character beyond those (Дмитрий,
王芳, محمد, Αλέξης, an emoji) stops it with "Unicode character … not set up for use with LaTeX".
lualatex sets Latin Modern with the Noto fonts behind it (``latex/_fonts.tex.j2``).
"""

from __future__ import annotations

from collections.abc import Iterable

# beyond the Latin letters, what pdflatex's UTF-8 input sets: punctuation, arrows, the euro, ™
_PDFLATEX_EXTRAS = (range(0x2000, 0x2070), range(0x2190, 0x2194), range(0x20AC, 0x20AD), range(0x2122, 0x2123))
_LATIN_END = 0x250


def pdflatex_can_set(text: str) -> bool:
    """Every character of ``text`` is one pdflatex sets (Latin letters, punctuation, a few symbols)."""
    return all(ord(char) < _LATIN_END or any(ord(char) in extra for extra in _PDFLATEX_EXTRAS) for char in text)


# The Noto fonts behind Latin Modern under lualatex, in the order a letter Latin Modern lacks is
# looked for in them.
FALLBACK_FONTS = (
    "NotoSerif",
    "NotoNaskhArabic",
    "NotoSansHebrew",
    "NotoSerifCJKsc",
    "NotoSansDevanagari",
    "NotoSansThai",
    "NotoColorEmoji",
)
# Blocks each of whose letters is set by Latin Modern, by the one font named here (the first of the
# order that has it), or by none of them; tests/test_malformed_limits.py reads it from the fonts.
SCRIPT_FONTS = (
    (range(0x370, 0x400), "NotoSerif"),  # Greek
    (range(0x400, 0x500), "NotoSerif"),  # Cyrillic
    (range(0x1F00, 0x2000), "NotoSerif"),  # Greek with its accents
    (range(0xFE00, 0xFE10), "NotoSerif"),  # variation selectors (an emoji drawn as a picture)
    (range(0x590, 0x600), "NotoSansHebrew"),
    (range(0x600, 0x700), "NotoNaskhArabic"),
    (range(0x900, 0x980), "NotoSansDevanagari"),
    (range(0xE00, 0xE80), "NotoSansThai"),
    (range(0x3040, 0x3100), "NotoSerifCJKsc"),  # hiragana and katakana
    (range(0x4E00, 0xA000), "NotoSerifCJKsc"),  # the CJK ideographs
    (range(0xAC00, 0xD7B0), "NotoSerifCJKsc"),  # Hangul
    (range(0x1F300, 0x1FB00), "NotoColorEmoji"),
)


def fallback_fonts(texts: Iterable[str]) -> tuple[str, ...]:
    """The fonts of FALLBACK_FONTS the texts' letters fall back to, in its order; all of them for a
    letter beyond pdflatex's and outside SCRIPT_FONTS' blocks.

    NotoSerif is always there: every letter pdflatex sets is Latin Modern's or its. A font no letter
    falls back to sets no glyph, so leaving it out changes nothing but lualatex's start (the CJK and
    emoji fonts are most of it).
    """
    needed = {FALLBACK_FONTS[0]}
    for char in set().union(*texts):
        if not pdflatex_can_set(char):
            font = next((font for block, font in SCRIPT_FONTS if ord(char) in block), None)
            if font is None:
                return FALLBACK_FONTS
            needed.add(font)
    return tuple(font for font in FALLBACK_FONTS if font in needed)


def lua_fonts(fonts: Iterable[str]) -> str:
    """Fonts as luaotfload's fallback list takes them, each shaped by HarfBuzz: ``"NotoSerif:mode=harf;", …``."""
    return ", ".join(f'"{font}:mode=harf;"' for font in fonts)
