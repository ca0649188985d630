"""Jinja2 turns the document data into Markdown and LaTeX; nothing here computes mathematics.

One environment serves every template: its delimiters (``<< >>``, ``<% %>``, ``<# #>``) clash
with neither LaTeX nor Markdown, ``StrictUndefined`` makes a missing field fail loudly, and a
``ChoiceLoader`` lets ``--templates DIR`` override any shipped template (or add a language
catalog) by name.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from derive.errors import DeriveError

CATALOG_FOLDER = "i18n"


def shipped_templates() -> Path:
    """``templates/`` inside the wheel, or beside the package in a source checkout."""
    inside = resources.files("derive") / "templates"
    if inside.is_dir():
        return Path(str(inside))
    return Path(__file__).resolve().parent.parent / "templates"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
}


def escape_latex(text: object) -> str:
    """User text made safe to print in LaTeX: every special character escaped."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


def escape_markdown(text: object) -> str:
    """User text made safe in Markdown: no emphasis, links, HTML or math can come from it."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", str(text))


class Catalog:
    """The sentences of one language, looked up by dotted key: ``t("rules.power")``."""

    def __init__(self, language: str, entries: Mapping[str, Any], source: str) -> None:
        self.language = language
        self.entries = entries
        self.source = source

    def __call__(self, key: str, **fields: object) -> str:
        node: Any = self.entries
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise DeriveError(f"the catalog has no entry {key!r}", source=self.source)
            node = node[part]
        if not isinstance(node, str):
            raise DeriveError(f"entry {key!r} should be text", source=self.source)
        try:
            return node.format(**fields) if fields else node
        except (KeyError, IndexError, ValueError) as error:
            raise DeriveError(f"entry {key!r} has a bad placeholder ({error})", source=self.source) from None


class Renderer:
    """The one Jinja2 environment, with the shipped templates and optionally a user's folder."""

    def __init__(self, templates: Path | None = None) -> None:
        folders = [shipped_templates()]
        if templates is not None:
            if not templates.is_dir():
                raise DeriveError("is not a folder of templates", source=str(templates), key="--templates")
            folders.insert(0, templates)
        self.folders = folders
        self.environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder) for folder in folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            block_start_string="<%",
            block_end_string="%>",
            variable_start_string="<<",
            variable_end_string=">>",
            comment_start_string="<#",
            comment_end_string="#>",
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters["tex"] = escape_latex
        self.environment.filters["md"] = escape_markdown

    def languages(self) -> list[str]:
        """Every language with a catalog in the template folders."""
        found = {path.stem for folder in self.folders for path in (folder / CATALOG_FOLDER).glob("*.toml")}
        return sorted(found)

    def catalog(self, language: str) -> Catalog:
        for folder in self.folders:
            path = folder / CATALOG_FOLDER / f"{language}.toml"
            if path.is_file():
                try:
                    return Catalog(language, tomllib.loads(path.read_text(encoding="utf-8")), str(path))
                except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                    raise DeriveError(f"not a valid catalog: {error}", source=str(path)) from None
        raise DeriveError(
            f"unknown language {language!r} (expected one of: {', '.join(self.languages())})", key="--lang"
        )

    def render(self, name: str, language: str, **context: object) -> str:
        """Render one template with the language's catalog as ``t``."""
        try:
            template = self.environment.get_template(name)
            return template.render(t=self.catalog(language), language=language, **context)
        except jinja2.TemplateNotFound as error:
            raise DeriveError(f"no template named {error.name!r}", key="--templates") from None
        except jinja2.TemplateSyntaxError as error:
            raise DeriveError(
                f"template error at line {error.lineno}: {error.message}", source=error.filename
            ) from None
        except jinja2.UndefinedError as error:
            raise DeriveError(f"template uses a field the derivation does not have: {error.message}") from None


@cache
def default_renderer() -> Renderer:
    return Renderer()
