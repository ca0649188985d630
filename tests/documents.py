"""Helpers that check documents with the tools that will show them: KaTeX, pdflatex, pdftotext."""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import select
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

JS = ROOT / "tests" / "js"
NODE_TIMEOUT = 300  # seconds for node to check one document


def math_fragments(markdown: str) -> list[tuple[str, bool]]:
    """Every math fragment of a Markdown text, display ($$…$$) or inline ($…$), outside code."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    fragments = [(m.group(1).strip(), True) for m in re.finditer(r"\$\$(.+?)\$\$", text, flags=re.DOTALL)]
    text = re.sub(r"\$\$(.+?)\$\$", "", text, flags=re.DOTALL)
    fragments += [(m.group(1), False) for m in re.finditer(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", text)]
    return fragments


def _node_package(name: str) -> str:
    """node, with a package of tests/js installed; skipped without them, except under CI."""
    node = require_tool("node")
    if not (JS / "node_modules" / name).is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI: .ci/run installs it with npm ci in tests/js")
        pytest.skip(f"{name} is not installed (cd tests/js && npm ci)")
    return node


def _run_node(script: str, package: str, payload: object) -> list[dict[str, str]]:
    node = _node_package(package)
    result = subprocess.run(
        [node, str(JS / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=NODE_TIMEOUT,
    )
    return json.loads(result.stdout)


def katex_failures(markdown: str) -> list[dict[str, str]]:
    """The math fragments KaTeX cannot parse (KaTeX from the npm registry, run under node)."""
    fragments = [{"tex": tex, "display": display} for tex, display in math_fragments(markdown)]
    return _run_node("katex_check.cjs", "katex", fragments)


def mermaid_diagrams(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", markdown, flags=re.DOTALL)


def mermaid_failures(markdown: str) -> list[dict[str, str]]:
    """The Mermaid diagrams Mermaid's own parser rejects (run under node with jsdom)."""
    diagrams = mermaid_diagrams(markdown)
    if not diagrams:
        return []
    checker = _mermaid_checker()
    assert checker.stdin is not None and checker.stdout is not None
    checker.stdin.write(json.dumps(diagrams) + "\n")
    checker.stdin.flush()
    ready, _, _ = select.select([checker.stdout], [], [], NODE_TIMEOUT)  # a reply is one line, read whole
    assert ready, f"the Mermaid checker gave no answer in {NODE_TIMEOUT} s"
    reply = checker.stdout.readline()
    assert reply, "the Mermaid checker stopped (run tests/js/mermaid_check.mjs under node to see why)"
    return json.loads(reply)


@functools.cache
def _mermaid_checker() -> subprocess.Popen[str]:
    """One node process with Mermaid loaded, for this test process's diagrams (a list per line, a reply per line)."""
    node = _node_package("mermaid")
    checker = subprocess.Popen(
        [node, str(JS / "mermaid_check.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # Mermaid's warnings, never read: a full pipe would stop the checker
        text=True,
        encoding="utf-8",
    )
    atexit.register(checker.kill)
    return checker


def compile_latex(tex: Path) -> str:
    """Compile as ``derive --pdf`` does (no shell escape; the session's TeX cache); write the PDF and
    the log beside the source; return the log, with that of the pictures drawn for the document (now
    or by an earlier compilation) after it.  Fails on any LaTeX error."""
    from derive.errors import DeriveError
    from derive.publishing.latex import compile_pdfs

    require_tool("pdflatex")
    beside = {
        path.name: path.read_bytes()
        for path in tex.parent.iterdir()
        if path.is_file() and path != tex and not path.name.startswith(".") and path.suffix not in (".aux", ".log")
    }
    logs: dict[str, str] = {}
    try:
        pdfs = compile_pdfs({tex.name: tex.read_text(encoding="utf-8")}, files=beside, logs=logs)
    except DeriveError as error:
        raise AssertionError(f"{tex.name} did not compile: {error}") from None
    tex.with_suffix(".pdf").write_bytes(pdfs[tex.with_suffix(".pdf").name])
    tex.with_suffix(".log").write_text(logs[tex.name], encoding="utf-8")
    return "\n".join([logs.pop(tex.name), *logs.values()])  # and the log of the pictures drawn for it


def pdf_text(pdf: Path) -> str:
    pdftotext = require_tool("pdftotext")
    return subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


class _Tables(HTMLParser):
    """The tables of a page: each a list of rows, each row its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(page: str) -> list[list[dict[str, str]]]:
    """Each table of an HTML page as rows of heading (lower case) → cell text."""
    parser = _Tables()
    parser.feed(page)
    tables = []
    for rows in parser.tables:
        if rows:
            headings = [heading.lower() for heading in rows[0]]
            tables.append([dict(zip(headings, row, strict=True)) for row in rows[1:] if row])
    return tables
