"""Regenerate the gallery in ``output/``: ``python -m derive.gallery [FOLDER]``.

The worked example's explanation in English and Spanish, its worksheet and solutions as LaTeX,
and both compiled to PDF. A test checks that the committed text files match a fresh render.
"""

from __future__ import annotations

import sys
from pathlib import Path

from derive.errors import DeriveError


def gallery_texts() -> dict[str, str]:
    """The gallery's text files, rendered afresh."""
    from derive.publish import explanation, worksheet_files
    from derive.spec import load_builtin

    spec = load_builtin("mazur")
    return {
        "explanation-en.md": explanation(spec, language="en"),
        "explanation-es.md": explanation(spec, language="es"),
        **worksheet_files(spec, language="en"),
    }


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
