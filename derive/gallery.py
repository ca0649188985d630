"""Regenerate the gallery in ``output/``: ``python -m derive.gallery [FOLDER]``.

The worked example in every form a course uses: the explanation at each detail level (English,
and the standard level in Spanish), the worksheet and its solutions at each detail level and
exercise kind, the exam, and the slides, each LaTeX document also compiled to PDF. A test checks
that the committed text files match a fresh render.
"""

from __future__ import annotations

import sys
from pathlib import Path

from derive.errors import DeriveError

# (suffix, language, detail, exercise) of each worksheet-and-solutions pair
SHEETS = [
    ("en", "en", "standard", "numbers"),
    ("es", "es", "standard", "numbers"),
    ("en-full", "en", "full", "numbers"),
    ("en-brief", "en", "brief", "numbers"),
    ("en-formulas", "en", "standard", "formulas"),
    ("en", "en", "standard", "exam"),
]
EXPLANATIONS = [
    ("en", "en", "standard"),
    ("es", "es", "standard"),
    ("en-full", "en", "full"),
    ("en-brief", "en", "brief"),
]


def gallery_texts() -> dict[str, str]:
    """The gallery's text files, rendered afresh."""
    from derive.publish import explanation, slides_files, worksheet_files
    from derive.spec import load_builtin

    spec = load_builtin("mazur")
    texts = {
        f"explanation-{suffix}.md": explanation(spec, language=language, detail=detail)
        for suffix, language, detail in EXPLANATIONS
    }
    for suffix, language, detail, exercise in SHEETS:
        files = worksheet_files(spec, language=language, detail=detail, exercise=exercise)
        texts |= {f"{Path(name).stem}-{suffix}.tex": text for name, text in files.items()}
    texts |= {f"{Path(name).stem}-en.tex": text for name, text in slides_files(spec, language="en").items()}
    return texts


def main(argv: list[str] | None = None) -> int:
    from derive.publish import compile_pdfs, write_files

    arguments = sys.argv[1:] if argv is None else argv
    folder = Path(arguments[0] if arguments else "output")
    try:
        texts = gallery_texts()
        files: dict[str, str | bytes] = dict(texts)
        files |= compile_pdfs({name: text for name, text in texts.items() if name.endswith(".tex")})
        for path in write_files(folder, files):
            print(f"wrote {path}")
    except DeriveError as error:
        print(f"derive.gallery: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
