"""Jinja2 turns the document data into Markdown, LaTeX and HTML; nothing here computes mathematics.

One environment serves every template: its delimiters (``<< >>``, ``<% %>``, ``<# #>``) clash
with neither LaTeX nor Markdown, ``StrictUndefined`` makes a missing field fail loudly, and a
``ChoiceLoader`` lets ``--templates DIR`` override any shipped template (or add a language
catalog) by name.  Templates are grouped by output format (``markdown/``, ``latex/``, ``html/``);
the catalogs of sentences (``i18n/LANG.toml``) are shared by every format.  HTML templates
escape every value they print unless it is marked safe (the MathML and SVG made here).

Templates may come from anyone (a colleague's folder, a download), so every template runs in
Jinja2's sandbox: one that reaches for Python's internals stops with a clear error, and nothing
is written.  Catalog sentences fill in their placeholders by plain replacement of the fields given.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import cache, lru_cache
from html import unescape
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError
from markupsafe import Markup, escape

from derive.core.steps import Step
from derive.errors import DeriveError
from derive.outputs.fonts import FALLBACK_FONTS, lua_fonts
from derive.outputs.sandbox import ConfinedLoader, LimitedEnvironment, inside, render_limited, template_line

# The line a LaTeX template writes before a picture that looks the same wherever it is placed
# (nothing in it depends on the text around it: its colour and font size are the document's own
# defaults or set in it, it uses no \linewidth, and no overlay command or \alert is around it):
# a class's documents, or a beamer deck's overlays, then draw it once (:mod:`derive.publishing.latex`).
SHARED_PICTURE = "% derive: the same picture wherever it is placed"

CATALOG_FOLDER = "i18n"
TEMPLATE_SUFFIX = ".j2"


def shipped_templates() -> Path:
    """``templates/`` inside the wheel, or beside the package in a source checkout."""
    inside = resources.files("derive") / "templates"
    if inside.is_dir():
        return Path(str(inside))
    return Path(__file__).resolve().parents[2] / "templates"


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


# Mathematical letters that text fonts lack, set as mathematics.
_LATEX_SYMBOLS = {"δ": r"$\delta$", "∂": r"$\partial$", "⁺": r"$^{+}$", "→": r"$\to$", "σ": r"$\sigma$", "η": r"$\eta$"}


# A run of right-to-left letters (Hebrew, Arabic and their presentation forms), spaces between them included.
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]+(?: [\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]+)*")


def escape_latex(text: object) -> str:
    """User text made safe to print in LaTeX: every special character escaped, a right-to-left run in \\rtl{}."""
    text = str(text)
    greek = any("\u0370" <= char <= "\u03ff" and char not in _LATEX_SYMBOLS for char in text)  # a Greek name
    symbols = {} if greek else _LATEX_SYMBOLS
    escaped = "".join(_LATEX_SPECIAL.get(char) or symbols.get(char, char) for char in text)
    return _RTL.sub(lambda run: f"\\rtl{{{run.group()}}}", escaped)


def escape_markdown(text: object) -> str:
    """User text made safe in Markdown: no emphasis, links, HTML or math can come from it."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", str(text))


def sentence(text: object) -> str:
    """A phrase begun as a sentence: its first letter capitalised, the rest as written (``ReLU`` stays)."""
    text = str(text)
    return text[:1].upper() + text[1:]


def inline_math(latex: object) -> str:
    """LaTeX mathematics set inline, in Markdown and LaTeX alike: ``$x$``."""
    return f"${latex}$"


# -- numbers as a language writes them ----------------------------------------------------------

DECIMAL_POINT = "."
_POINT = re.compile(r"(?<=\d)\.(?=\d)")  # a decimal point: between two digits
_MATH_COMMA = re.compile(r"(?<=\d)\{,\}(?=\d)")  # a decimal comma in LaTeX mathematics: 0{,}5933
_DOLLAR = re.compile(r"(?<!\\)\$")  # a $ that opens or closes mathematics, not a written \$


def marked(text: str, mark: str, *, math: bool = False) -> str:
    """``text`` with each decimal point written as ``mark``: 0.5933 → 0,5933 in text, and in LaTeX
    mathematics (``math``, or between ``$`` signs) 0{,}5933, a comma without the space TeX puts after
    a punctuation comma.  Only a point between two digits is a decimal point: ``w.r.t.`` stays."""
    if mark == DECIMAL_POINT:
        return text
    if math:
        return _POINT.sub("{" + mark + "}", text)
    pieces = _DOLLAR.split(text)  # text, math, text, … : a $ at the start gives an empty first text
    return "$".join(_POINT.sub("{" + mark + "}" if n % 2 else mark, piece) for n, piece in enumerate(pieces))


def svg_marked(svg: str, mark: str) -> str:
    """An SVG picture's text (labels, ticks, title) written with ``mark``; its attributes, coordinates
    among them, untouched.  The pictures hold no style sheet or script, only elements and text."""
    if mark == DECIMAL_POINT:
        return svg
    return re.sub(r">([^<]+)<", lambda found: ">" + marked(found.group(1), mark) + "<", svg)


def with_decimal_mark(value: object, language: Catalog | str, *, math: bool = False) -> str:
    """A number, or text with numbers in it, written with the language's decimal mark.

    This is the one rule for every output (documents, page, quiz, ``derive check``): the mark is the
    catalog's ``decimal_mark`` (``,`` in Spanish), ``language`` a catalog or a shipped language's
    code.  ``math`` says the whole text is LaTeX mathematics; otherwise text between ``$`` signs is.
    """
    catalog = language if isinstance(language, Catalog) else default_renderer().catalog(language)
    return marked(str(value), catalog.decimal_mark, math=math)


# -- HTML -----------------------------------------------------------------------------------------

HTML_FOLDER = "html/"
# What latex2mathml writes for the LaTeX of the documents; anything else is refused, not passed on.
_MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo mtext mspace msub msup msubsup mfrac msqrt mroot mstyle mtable mtr mtd menclose "  # noqa: SIM905
    "munder mover munderover mpadded mphantom merror ms mmultiscripts mprescripts none semantics".split()
)
_MATHML_ATTRIBUTES = frozenset(
    "xmlns display mathvariant stretchy fence form separator width height depth notation displaystyle "  # noqa: SIM905
    "scriptlevel columnalign columnlines columnspacing rowspacing rowlines rowalign frame framespacing "
    "lspace rspace accent accentunder movablelimits minsize maxsize symmetric largeop linethickness".split()
)


@lru_cache(maxsize=8192)
def _mathml(latex: str, display: bool) -> str:
    from latex2mathml.converter import convert_to_element  # only pages need it: keep it out of start-up

    # 0{,}5933 is one number, <mn>0,5933</mn>, as a screen reader should say it: not 0, a comma, 5933
    comma = bool(_MATH_COMMA.search(latex))
    latex = _MATH_COMMA.sub(DECIMAL_POINT, latex)
    try:
        root = convert_to_element(latex, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises plain Exception subclasses for LaTeX it cannot read
        raise DeriveError(f"cannot set {latex!r} as MathML ({type(error).__name__})") from None
    for element in list(root.iter()):
        if element.tag not in _MATHML_ELEMENTS:
            raise DeriveError(f"cannot set {latex!r} as MathML: it makes a <{element.tag}> element")
        for name in [name for name in element.attrib if name not in _MATHML_ATTRIBUTES]:
            del element.attrib[name]  # e.g. \href's link: a page's math links nowhere
        # latex2mathml keeps characters as entity text (&#x02202;) and unescapes its whole output,
        # which would let a < in \text{} open a tag: decode each text here and let ElementTree escape it
        element.text = unescape(element.text) if element.text else element.text
        element.tail = unescape(element.tail) if element.tail else element.tail
        if comma and element.tag == "mn" and element.text:
            element.text = element.text.replace(DECIMAL_POINT, ",")
        _join_upright_letters(element)
    tops = list(root)  # the rows a displayed part opens with
    for row in list(root.iter()):
        _mark_signs(row, top=any(row is top for top in tops))
    return ET.tostring(root, encoding="unicode")


_SIGNS = frozenset("−+±∓")  # latex2mathml writes LaTeX's - as − (U+2212)
_CLOSING = frozenset(")]}|⟩")


def _mark_signs(row: ET.Element, top: bool) -> None:
    """A sign with no operand before it is a prefix, set close to what it signs (= −0.5, (−1)), not spaced
    as the binary a − b: a browser gives an <mo> its spacing by its form, and takes a sign after = or ( for
    an infix one. A + that opens a displayed part continues a sum from the line before: infix."""
    before: ET.Element | None = None
    for child in row:
        if child.tag == "mspace":
            continue  # \, and \; space out, they are not operands
        if child.tag == "mo" and child.text in _SIGNS and not len(child) and "form" not in child.attrib:
            if before is None and top and child.text == "+":
                child.set("form", "infix")
            elif before is None or (before.tag == "mo" and not _closes(before)):
                child.set("form", "prefix")
        before = child


def _closes(operator: ET.Element) -> bool:
    """A closing bracket (or a postfix operator such as !) ends an operand: a sign after it is binary."""
    return operator.get("form") == "postfix" or operator.text in _CLOSING or operator.text == "!"


def _join_upright_letters(element: ET.Element) -> None:
    """\\mathrm{net} as one identifier, <mi>net</mi>, which a screen reader says as a word, not n e t."""
    children = list(element)
    run: list[ET.Element] = []
    for child in [*children, None]:
        letter = (
            child is not None
            and child.tag == "mi"
            and child.get("mathvariant") == "normal"
            and len(child.text or "") == 1
            and not len(child)
        )
        if letter and not (run and run[-1].tail):
            run.append(child)  # type: ignore[arg-type]
            continue
        if len(run) > 1:
            run[0].text = "".join(part.text or "" for part in run)
            del run[0].attrib["mathvariant"]
            for part in run[1:]:
                element.remove(part)
        run = [child] if letter else []  # type: ignore[list-item]


def mathml(latex: object, display: bool = False, mark: str = DECIMAL_POINT) -> Markup:
    """LaTeX mathematics as MathML, ``display="block"`` for a displayed equation; safe to put in a page.

    Its numbers are written with ``mark``, the language's decimal mark.
    """
    return Markup(_mathml(marked(str(latex), mark, math=True), display))


# A catalog sentence: a backslash before \, $ or ` writes that character; $math$; `a command`.
_PROSE = re.compile(r"\\([\\$`])|\$([^$]*)\$|`([^`]*)`")


def sentence_field(text: object) -> str:
    """User text placed in a catalog sentence for the page: its $, ` and backslashes written literally."""
    return re.sub(r"([\\$`])", r"\\\1", str(text))


def prose(sentence: object, mark: str = DECIMAL_POINT) -> Markup:
    """A catalog sentence as HTML: its text escaped, each $math$ as MathML, each `command` as code;
    its numbers written with ``mark``, the language's decimal mark."""
    text = marked(str(sentence), mark)
    parts: list[str] = []
    position = 0
    for found in _PROSE.finditer(text):
        parts.append(escape(text[position : found.start()]))
        literal, math, command = found.groups()
        if literal is not None:
            parts.append(escape(literal))
        elif math is not None:
            # a formula in running text cannot break across lines inside MathML: set it in pieces at
            # its = signs, with a space between them where a narrow screen may break the line
            parts.append(Markup(" ").join(mathml(piece, mark=mark) for piece in _at_equals(math)))
        else:
            parts.append(Markup("<code>{}</code>").format(command))
        position = found.end()
    parts.append(escape(text[position:]))
    return Markup("".join(parts))


def _at_equals(latex: str) -> list[str]:
    """``a = b = c`` as ``a``, ``= b``, ``= c``: split at each = outside braces and \\left … \\right."""
    pieces, depth, start = [], 0, 0
    for found in re.finditer(r"\\left\b|\\right\b|\\[{}]|[{}=]", latex):
        token = found.group()
        if token in ("{", "\\left"):
            depth += 1
        elif token in ("}", "\\right"):
            depth -= 1
        elif token == "=" and depth == 0 and found.start() > start:
            pieces.append(latex[start : found.start()].strip())
            start = found.start()
    pieces.append(latex[start:].strip())
    return [piece for piece in pieces if piece]


def _autoescape(name: str | None) -> bool:
    """HTML templates escape what they print; LaTeX and Markdown escape with their own filters."""
    return bool(name) and name.startswith(HTML_FOLDER)  # type: ignore[union-attr]


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Catalog:
    """The sentences of one language, looked up by dotted key: ``t("rules.power")``.

    A sentence's placeholders are the names of the fields passed in braces, ``{count}``; each is
    replaced by its text and nothing else is read, so the LaTeX braces of a sentence stay as they are
    and no placeholder can reach into the objects it is given.
    """

    def __init__(self, language: str, entries: Mapping[str, Any], source: str) -> None:
        self.language = language
        self.entries = entries
        self.source = source

    @property
    def decimal_mark(self) -> str:
        """How the language writes a decimal point: ``.`` (English, and a catalog that does not say) or ``,``."""
        mark = self.entries.get("decimal_mark", DECIMAL_POINT)
        if mark not in (DECIMAL_POINT, ","):
            raise DeriveError(f"decimal_mark should be '.' or ',', got {mark!r}", source=self.source)
        return mark

    def _entry(self, key: str) -> Any:
        node: Any = self.entries
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise DeriveError(f"the catalog has no entry {key!r}", source=self.source)
            node = node[part]
        return node

    def has(self, key: str) -> bool:
        """Whether the catalog has a sentence under ``key``."""
        try:
            return isinstance(self._entry(key), str)
        except DeriveError:
            return False

    def items(self, key: str) -> list[str]:
        """A list of sentences (the learning objectives)."""
        node = self._entry(key)
        if not isinstance(node, tuple) or not all(isinstance(item, str) for item in node):
            raise DeriveError(f"entry {key!r} should be a list of text", source=self.source)
        return list(node)

    def __call__(self, key: str, **fields: object) -> str:
        node = self._entry(key)
        if not isinstance(node, str):
            raise DeriveError(f"entry {key!r} should be text", source=self.source)
        # in one pass: a field's text is not read again, so LaTeX such as \mathrm{out}_{h1} given in one
        # field keeps its {out} however the next field is named
        text = _PLACEHOLDER.sub(lambda found: str(fields.get(found[1], found[0])), node)
        return marked(text, self.decimal_mark)  # the numbers given in its fields, as the language writes them


def meaning(step: Step, t: Catalog) -> str:
    """What a step's quantity is, in the catalog's language: "output of neuron h1, example 2"."""
    kind = "update_fixed" if step.kind == "update" and step.blank is None else step.kind
    text = t(f"keys.{kind}", neuron=step.subject, parameter=step.subject, quantity=step.quantity)
    if step.example is not None:
        text = t("keys.in_example", meaning=text, example=step.example)
    return t("keys.after_step", meaning=text) if step.after and step.kind != "after" else text


# The filters that write numbers read the decimal mark from the template's catalog, ``t``.


@jinja2.pass_context
def _decimals_filter(context: Any, text: object) -> str:
    """``<< value | decimals >>``: a number, or text with $math$, with the language's decimal mark."""
    return marked(str(text), context["t"].decimal_mark)


@jinja2.pass_context
def _math_decimals_filter(context: Any, latex: object) -> str:
    """``<< value | math_decimals >>``: LaTeX mathematics with the language's decimal mark (0{,}5933)."""
    return marked(str(latex), context["t"].decimal_mark, math=True)


@jinja2.pass_context
def _mathml_filter(context: Any, latex: object, display: bool = False) -> Markup:
    return mathml(latex, display, context["t"].decimal_mark)


@jinja2.pass_context
def _prose_filter(context: Any, sentence: object) -> Markup:
    return prose(sentence, context["t"].decimal_mark)


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """Templates compiled once and kept between runs, in the user's private temporary folder (mode
    0700, checked by Jinja2), keyed by each template's source: a cache that cannot be written is no cache."""

    def dump_bytecode(self, bucket: Any) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _template_cache(filters: Mapping[str, Any]) -> jinja2.BytecodeCache | None:
    """Compiling the templates costs more than deriving the worked example: reuse the compiled code.

    Compiled code depends on more than a template's source: a filter that takes the context is
    called with it.  The files are named by the filters' signatures and Jinja2's version, so that
    code compiled by another version of derive (or of Jinja2) is never run with this one's filters.
    """
    signature = sorted((name, str(getattr(f, "jinja_pass_arg", ""))) for name, f in filters.items())
    fingerprint = hashlib.sha256(repr((jinja2.__version__, signature)).encode()).hexdigest()[:12]
    try:  # compiled code differs in a sandbox: never share files with other programs' Jinja2 caches
        return _QuietCache(pattern=f"__derive_sandboxed_{fingerprint}_%s.cache")
    except (OSError, RuntimeError):  # no private temporary folder to be had
        return None


class Renderer:
    """The one Jinja2 environment, with the shipped templates and optionally a user's folder."""

    def __init__(self, templates: Path | None = None) -> None:
        folders = [shipped_templates()]
        if templates is not None:
            try:
                if not templates.is_dir():
                    raise DeriveError("is not a folder of templates", source=str(templates), key="--templates")
            except OSError as error:
                raise DeriveError(
                    f"cannot be read ({error.strerror})", source=str(templates), key="--templates"
                ) from None
            _check_layout(templates, folders[0])
            folders.insert(0, templates)
        self.folders = folders
        self.user_folders = folders[:-1]
        self.environment = LimitedEnvironment(
            loader=jinja2.ChoiceLoader([ConfinedLoader(folder) for folder in folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=_autoescape,
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
        self.environment.filters["math"] = inline_math
        self.environment.filters["mathml"] = _mathml_filter
        self.environment.filters["prose"] = _prose_filter
        self.environment.filters["decimals"] = _decimals_filter
        self.environment.filters["math_decimals"] = _math_decimals_filter
        self.environment.filters["field"] = sentence_field
        self.environment.filters["sentence"] = sentence
        self.environment.globals["shared_picture"] = SHARED_PICTURE
        self.environment.globals["fallback_fonts"] = lua_fonts(FALLBACK_FONTS)
        self.environment.bytecode_cache = _template_cache(self.environment.filters)

    def languages(self) -> list[str]:
        """Every language with a catalog in the template folders."""
        found = {path.stem for folder in self.folders for path in (folder / CATALOG_FOLDER).glob("*.toml")}
        return sorted(found)

    def catalog(self, language: str) -> Catalog:
        for folder in self.folders:
            path = folder / CATALOG_FOLDER / f"{language}.toml"
            if path.is_file():
                if not inside(folder, path):
                    raise DeriveError(
                        "leads outside the templates folder; expected a catalog inside it", source=str(path)
                    )
                try:
                    return Catalog(language, _parsed(path.read_text(encoding="utf-8")), str(path))
                except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                    raise DeriveError(f"not a valid catalog: {error}", source=str(path)) from None
        raise DeriveError(
            f"unknown language {language!r} (expected one of: {', '.join(self.languages())})", key="--lang"
        )

    def render(self, name: str, language: str, **context: object) -> str:
        """Render one template with the language's catalog as ``t``."""
        catalog = self.catalog(language)
        try:
            template = self.environment.get_template(name)
            return render_limited(template, dict(context, t=catalog, language=language), self.user_folders)
        except jinja2.TemplateNotFound as error:
            raise DeriveError(f"no template named {error.name!r}", key="--templates") from None
        except jinja2.TemplateSyntaxError as error:
            raise DeriveError(
                f"template error at line {error.lineno}: {error.message}", source=error.filename
            ) from None
        except SecurityError as error:
            source, line = template_line(error)
            raise DeriveError(
                f"line {line}: the template reaches for Python internals, which templates may not use ({error})",
                source=source,
            ) from None
        except jinja2.UndefinedError as error:
            source, line = template_line(error)
            raise DeriveError(
                f"line {line}: the template uses a field the derivation does not have: {error.message}", source=source
            ) from None


@lru_cache(maxsize=16)
def _parsed(catalog: str) -> Mapping[str, Any]:
    """A catalog's TOML, parsed once per text (a class's 400 documents render with the same catalog),
    read-only: every render shares it, and a template may call what a mapping offers."""
    return _frozen(tomllib.loads(catalog))


def _frozen(value: Any) -> Any:
    """Tables as read-only mappings and arrays as tuples, all the way down."""
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def _check_layout(folder: Path, shipped: Path) -> None:
    """A user's template at the top of ``folder`` that belongs in a format folder would be ignored: say so."""
    placed = {path.name: path.relative_to(shipped) for path in shipped.glob(f"*/*{TEMPLATE_SUFFIX}")}
    for path in sorted(folder.glob(f"*{TEMPLATE_SUFFIX}")):
        if path.name in placed:
            raise DeriveError(
                f"templates are grouped by output format: move it to {folder / placed[path.name]}",
                source=str(path),
                key="--templates",
            )


@cache
def default_renderer() -> Renderer:
    return Renderer()
