"""The web page as text: self-contained, the document's sentences, MathML for every construct, nothing runs.

What the page does in a browser is tested in tests/test_browser.py.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from derive.outputs.render import mathml, prose, sentence_field
from derive.publishing.publish import explanation, html_page
from derive.publishing.webpage import formulas_script
from derive.spec.files import load_builtin
from tests.conftest import ROOT

pytestmark = pytest.mark.xdist_group("html")  # its module-scoped fixtures made once, on one worker


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text outside <math>, <svg>, <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("math", "svg", "script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("math", "svg", "script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text.append(data)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def mazur_pages() -> dict[str, str]:
    spec = load_builtin("mazur")
    return {
        "explanation-en": html_page(spec, language="en"),
        "explanation-es": html_page(spec, language="es"),
        "worksheet-en": html_page(spec, language="en", worksheet=True),
    }


def test_the_page_loads_nothing_from_elsewhere(mazur_pages):
    for name, page in mazur_pages.items():
        tags = parse(page).tags
        assert not [tag for tag, _ in tags if tag in ("link", "img", "iframe", "object", "embed", "base")], name
        for tag, attributes in tags:
            for attribute, value in attributes.items():
                assert attribute not in ("src", "href", "srcset", "action", "formaction"), (name, tag, attribute)
                assert not attribute.startswith("on"), (name, tag, attribute)  # no inline handlers
                if value and attribute != "xmlns":
                    assert not re.search(r"(?i)(https?:|//|javascript:)", value), (name, tag, attribute, value)
        addresses = re.findall(r"https?://[^\s\"'<>)]+", page)
        assert set(addresses) <= {"http://www.w3.org/1998/Math/MathML", "http://www.w3.org/2000/svg"}, name
        assert "@import" not in page and "@font-face" not in page, name
        assert all(url.startswith("#") for url in re.findall(r"url\(([^)]*)\)", page)), name
        assert "fetch(" not in page and "XMLHttpRequest" not in page and "sendBeacon" not in page, name


def test_the_page_says_what_the_markdown_says():
    """Same document, same sentences: every line of prose in the Markdown explanation is in the page."""
    spec = load_builtin("mazur")
    for language in ("en", "es"):
        markdown = explanation(spec, language=language)
        page = words(unescape("".join(parse(html_page(spec, language=language)).text)))
        prose_lines = []
        inside = False
        for line in markdown.splitlines():
            if line.startswith(("```", "$$")):
                inside = not inside
                continue
            if inside or not line.strip() or line.startswith(("|", "---")):
                continue
            prose_lines.append(line)
        assert len(prose_lines) > 40
        # the page draws the training curve on a log axis, as the printed documents do, and says so as they do
        for line in prose_lines:
            text = re.sub(r"\$[^$]*\$", "", line)
            text = re.sub(r"\\(.)", r"\1", text)
            text = words(re.sub(r"^#+ |^- |\*\*|`", "", text))
            if "logarithm of the error" in text or "logaritmo del error" in text:
                continue
            assert text in page, f"{language}: {text!r} is not on the page"


def test_every_construct_of_the_documents_becomes_mathml():
    cases = {
        r"\mathrm{net}_{h1}": ["<mi>net</mi>"],
        r"E_{\text{total}}": ["<mtext>total</mtext>"],
        r"\frac{\partial E}{\partial w_{5}}": ["<mfrac>", "∂"],
        r"\left(1 - \mathrm{out}_{o1}\right)": ['stretchy="true"', "<mi>out</mi>"],
        r"\boxed{0.5}": ['<menclose notation="box">'],
        r"\tfrac{1}{2}": ['displaystyle="false"', "<mfrac>"],
        r"J_{\operatorname{softmax}}^{\top}": ["softmax", "⊤"],
        r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}": ["<mtable>", "<mtd><mn>4</mn></mtd>", "[", "]"],
        r"a \odot b": ["⊙"],
        r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))": ["σ", "′", "<mspace"],
    }
    for latex, fragments in cases.items():
        for display in (False, True):
            converted = str(mathml(latex, display))
            assert converted.startswith("<math") and "merror" not in converted, latex
            assert f'display="{"block" if display else "inline"}"' in converted
            for fragment in fragments:
                assert fragment in converted, (latex, fragment, converted)


def test_the_matrix_form_becomes_mathml():
    page = html_page(load_builtin("softmax"), matrix=True)
    assert "<mtable>" in page and "⊙" in page and "⊤" in page and "merror" not in page
    assert "\\" not in re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.DOTALL)


def test_displayed_equations_are_block_math(mazur_pages):
    page = mazur_pages["explanation-en"]
    equations = re.findall(r'<div class="eq"[^>]*>(.*?)</div>', page, flags=re.DOTALL)
    assert len(equations) > 60
    for equation in equations:
        assert re.findall(r"<math [^>]*>", equation)
        assert all('display="block"' in tag for tag in re.findall(r"<math [^>]*>", equation))


def test_latex_text_cannot_open_a_tag():
    converted = str(mathml(r"\text{<img src=x onerror=alert(1)>} & x < y"))
    assert "<img" not in converted and "&lt;img" in converted and "alert(1)&gt;</mtext>" in converted
    assert "&lt;</mo>" in converted


def test_a_sentence_is_escaped_and_its_math_set():
    said = str(prose("A <b>bold</b> & $\\delta_{o1} < 1$ claim, `derive train` " + sentence_field("$5 `x` \\")))
    assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in said
    assert "<math" in said and "&lt;</mo>" in said
    assert "<code>derive train</code>" in said
    assert said.endswith(" $5 `x` \\")


def test_the_formulas_are_javascript_of_the_values_only():
    from derive.core.chain import Derivation
    from derive.core.steps import build_steps

    for name in ("mazur", "softmax", "deep", "xor"):
        steps = build_steps(Derivation(load_builtin(name)))
        script, symbols = formulas_script(steps)
        lines = str(script).strip("[]\n").split(",\n")
        assert len(lines) == len(steps)
        for line in lines:
            assert line.startswith("(v) => ")
            assert re.fullmatch(r"[\sv\[\]\d.+\-*/(),?:<>=]*|.*Math\.(exp|log|tanh|pow)\(.*", line[7:]), line
        assert set(symbols) >= {step.symbol for step in steps}


def test_the_worksheet_has_an_input_per_blank(mazur_pages):
    tags = parse(mazur_pages["worksheet-en"]).tags
    keys = [attributes["data-key"] for tag, attributes in tags if tag == "input"]
    from derive.core.chain import Derivation
    from derive.core.steps import build_steps

    steps = build_steps(Derivation(load_builtin("mazur")))
    assert keys == [step.key for step in steps if step.blank is not None]
    assert all(attributes.get("aria-label") for tag, attributes in tags if tag == "input")
    assert [tag for tag, attributes in tags if attributes.get("data-action") == "check"] == ["button"]


def test_a_hostile_network_name_is_text(tmp_path, derive_cli):
    name = '"><img src=x onerror=alert(1)>'
    network = tmp_path / f"{name}.toml"
    network.write_text(derive_cli("example", "mazur").stdout, encoding="utf-8")
    out = tmp_path / "page.html"
    derive_cli("html", str(network), "-o", str(out))
    page = out.read_text(encoding="utf-8")
    assert "<img" not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_templates_can_be_overridden(tmp_path, derive_cli):
    folder = tmp_path / "mine" / "html"
    folder.mkdir(parents=True)
    shipped = (ROOT / "templates" / "html" / "page.html.j2").read_text(encoding="utf-8")
    (folder / "page.html.j2").write_text(shipped.replace("<main>", "<main data-mine>"), encoding="utf-8")
    out = tmp_path / "page.html"
    derive_cli("html", "--templates", str(tmp_path / "mine"), "-o", str(out))
    assert "<main data-mine>" in out.read_text(encoding="utf-8")


def test_a_hostile_html_template_cannot_reach_the_machine(tmp_path, derive_cli):
    folder = tmp_path / "mine" / "html"
    folder.mkdir(parents=True)
    (folder / "page.html.j2").write_text('<< cycler.__init__.__globals__.os.popen("touch pwned").read() >>\n')
    result = derive_cli("html", "--templates", str(tmp_path / "mine"), "-o", str(tmp_path / "p.html"), check=False)
    assert result.returncode == 2 and "Python internals" in result.stderr
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "pwned").exists()


def test_default_file_names(tmp_path, derive_cli):
    derive_cli("html", cwd=tmp_path)
    derive_cli("html", "--worksheet", "--lang", "es", cwd=tmp_path)
    assert sorted(path.name for path in (tmp_path / "output").iterdir()) == ["explanation-en.html", "worksheet-es.html"]


def test_options_reach_the_page(tmp_path, derive_cli):
    out = tmp_path / "w.html"
    options = ["--only", "w5,w1", "--detail", "brief", "--variant", "2", "--seed", "7"]
    derive_cli("html", "--worksheet", *options, "-o", str(out))
    page = out.read_text(encoding="utf-8")
    assert 'data-key="dE/dw5"' in page and 'data-key="dE/dw1"' in page and 'data-key="dE/dw6"' not in page
    assert "mazur-02" in page
