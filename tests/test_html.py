"""The web page as text: self-contained, the document's sentences, MathML for every construct, nothing runs.

What the page does in a browser is tested in tests/test_browser.py.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import numpy as np
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


@pytest.mark.parametrize("trap", ["softplus past a double's exponent", "ELU of a tiny negative net input"])
def test_the_pages_formulas_in_doubles_give_each_steps_value(trap, tmp_path):
    """The page's script works carried-forward values in doubles: run under node at the network's own
    values, each step's function gives the step's 40-digit value to 13 digits, where log(1 + e^800) as
    written is infinite and e^(−10⁻⁸) − 1 keeps 8 digits (tests/test_fast_paths.py's FLOAT_TRAPS)."""
    import json
    import subprocess

    from derive.core.chain import Derivation
    from derive.core.steps import build_steps
    from tests.conftest import require_tool
    from tests.test_fast_paths import FLOAT_TRAPS

    node = require_tool("node")
    steps = build_steps(Derivation(FLOAT_TRAPS[trap].spec))
    script, symbols = formulas_script(steps)
    values = [float(steps.values[symbol]) for symbol in symbols]
    program = tmp_path / "steps.cjs"
    program.write_text(f"const v = {json.dumps(values)};\nconsole.log(JSON.stringify({script}.map((f) => f(v))));\n")
    found = json.loads(subprocess.run([node, str(program)], capture_output=True, text=True, check=True).stdout)
    expected = [float(steps.values[step.symbol]) for step in steps]
    assert found == pytest.approx(expected, rel=1e-13, abs=1e-300)


def test_the_safe_forms_of_a_difference_or_a_negative_number_are_javascript_of_their_value(tmp_path):
    """log(1 + e^x) and e^x − 1 of x = a − b and of x = −5, as the page prints them, run under node: the
    argument is kept whole (never −a − b, nor JavaScript's --5) and the value is Python's to 15 digits."""
    import json
    import math
    import subprocess

    import sympy as sp

    from derive.publishing.webpage import _StepFormula
    from tests.conftest import require_tool

    node = require_tool("node")
    a, b = sp.symbols("a b")
    one, exponential = sp.Integer(1), lambda x: sp.exp(x, evaluate=False)
    formulas = {
        "softplus(a - b)": sp.log(sp.Add(one, exponential(a - b), evaluate=False)),
        "softplus(-5)": sp.log(sp.Add(one, exponential(sp.Integer(-5)), evaluate=False), evaluate=False),
        "expm1(a - b)": sp.Add(exponential(a - b), -one, evaluate=False),
    }
    printer = _StepFormula({a: 0, b: 1})
    script = "[" + ", ".join(printer.function(formula, key) for key, formula in formulas.items()) + "]"
    program = tmp_path / "forms.cjs"
    program.write_text(f"console.log(JSON.stringify({script}.map((f) => f([0.25, 3.5]))));\n")
    found = json.loads(subprocess.run([node, str(program)], capture_output=True, text=True, check=True).stdout)
    expected = [math.log1p(math.exp(0.25 - 3.5)), math.log1p(math.exp(-5)), math.expm1(0.25 - 3.5)]
    assert found == pytest.approx(expected, rel=1e-15)


def test_a_formula_that_prints_as_anything_but_arithmetic_is_refused_naming_its_step(monkeypatch):
    """Whatever SymPy's printer might one day write, only arithmetic of ``v`` reaches the page's script:
    a step's formula is refused with the step and the code, and so is the diagnosis's first formula."""
    from derive.core.chain import Derivation
    from derive.core.steps import build_steps
    from derive.errors import DeriveError
    from derive.outputs.render import default_renderer
    from derive.publishing import webpage

    steps = build_steps(Derivation(load_builtin("mazur")))
    script, symbols = formulas_script(steps)
    printer = webpage._printer(tuple(symbols))
    first = next(iter(steps))
    assert printer.function(first.formula, first.key) == str(script).split(",\n")[0].removeprefix("[\n")
    webpage._printer.cache_clear()
    monkeypatch.setattr(webpage._StepFormula, "doprint", lambda self, expr: "fetch('//x'); 1")
    message = f"the formula of step {first.key} printed as unexpected JavaScript: \"fetch('//x'); 1\""
    with pytest.raises(DeriveError, match=re.escape(message)):
        formulas_script(steps)
    with pytest.raises(DeriveError, match=r"^the formula of step \S+ printed as unexpected JavaScript: \"fetch"):
        webpage.diagnoses(steps, symbols, default_renderer().catalog("en"))
    webpage._printer.cache_clear()  # no printer made under the patch stays for the other tests


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


def block_tables(page: str, section: str) -> list[list[list[list[str]]]]:
    """Each displayed equation of a section as its MathML tables (rows of cells' text), in order."""
    import xml.etree.ElementTree as ET

    found = re.search(rf'<section id="{section}">(.*?)</section>', page, re.DOTALL)
    assert found, section
    space = "{http://www.w3.org/1998/Math/MathML}"
    equations = []
    for math in re.findall(r'<math [^>]*display="block".*?</math>', found.group(1), re.DOTALL):
        root = ET.fromstring(math)
        equations.append(
            [
                [["".join(cell.itertext()) for cell in row.iter(f"{space}mtd")] for row in table.iter(f"{space}mtr")]
                for table in root.iter(f"{space}mtable")
            ]
        )
    return equations


def numbers(table: list[list[str]], mark: str = ".") -> np.ndarray:
    """A MathML table's cells as numbers: − as -, the language's decimal mark as a point."""
    return np.array([[float(cell.replace("−", "-").replace(mark, ".")) for cell in row] for row in table])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_rnn_page_shows_W_U_V_b_and_h_t_through_time(lang):
    """The page's through-time section read back: W, U, b, V, b by the w's the review names, then h_t, δ_t;
    h_t is tanh(W x_t + U h_{t−1} + b) computed here from the network's arrays (decimal comma in Spanish)."""
    from tests.test_recurrent import SEQUENCE, builtin_rnn

    mark = "," if lang == "es" else "."
    equations = block_tables(html_page(load_builtin("rnn"), language=lang), "maps")
    names = [equation[0] for equation in equations[:5]]
    assert names == [[["w1"], ["w2"]], [["w3", "w4"], ["w5", "w6"]], [["b1"], ["b2"]], [["w7", "w8"]], [["b3"]]]
    layer = builtin_rnn().layers[0]
    W, U, b = (np.array(layer[key], dtype=float) for key in ("weights", "recurrent_weights", "bias"))
    for equation, expected in zip(equations[:3], (W, U, b.reshape(-1, 1)), strict=True):
        np.testing.assert_allclose(numbers(equation[1], mark), expected)
    h = np.zeros(2)
    for t, x in enumerate(SEQUENCE):
        h = np.tanh(W @ np.array(x) + U @ h + b)
        np.testing.assert_allclose(numbers(equations[5 + 2 * t][0], mark)[:, 0], h, atol=1e-9)


def test_the_cnn_page_shows_the_kernel_and_the_maps():
    """K_{c1} = [w1 w2; w3 w4] with the kernel's values; the feature map is the NumPy convolution's ReLU."""
    from tests.cnn_reference import conv2d
    from tests.test_conv import IMAGE, builtin_cnn

    equations = block_tables(html_page(load_builtin("cnn"), language="en"), "maps")
    kernel = np.array(builtin_cnn().layers[0]["kernels"], dtype=float)
    assert equations[0][0] == [["w1", "w2"], ["w3", "w4"]]
    np.testing.assert_allclose(numbers(equations[0][1]), kernel[0])
    np.testing.assert_allclose(numbers(equations[1][0]), np.array(IMAGE))
    feature_map = np.maximum(conv2d(np.array(IMAGE)[None], kernel[:, None], [0.1], 1, 0), 0)[0]
    np.testing.assert_allclose(numbers(equations[2][0]), feature_map, atol=1e-9)


def test_the_maps_are_not_on_the_worksheet_page():
    """The worksheet asks for these numbers: its page leaves the section out."""
    assert 'id="maps"' not in html_page(load_builtin("rnn"), language="en", worksheet=True)


def test_every_value_the_pages_script_reads_is_in_its_checking_data():
    """The script reads the data by name (data.decimalMark, said.tooFewDigits, step.blank): a name the
    page's JSON does not hold would leave the check without it, silently."""
    import json

    page = html_page(load_builtin("mazur"), language="es", worksheet=True)
    data = json.loads(re.search(r'<script type="application/json" id="derive-checking">(.*?)</script>', page, re.S)[1])
    script = (ROOT / "templates" / "html" / "_script.js.j2").read_text(encoding="utf-8")
    held = {"data": data, "said": data["diagnosis"], "uses": data["diagnosis"]["uses"][0], "step": data["steps"][0]}
    for name, found in held.items():
        read = set(re.findall(rf"\b{name}\.([A-Za-z]+)\b", script))
        assert read and read <= set(found), (name, read - set(found))
    assert data["decimalMark"] == "," and data["steps"][0]["blank"] == 1 and data["steps"][0]["key"] == "net_h1"


def test_the_pages_data_cannot_close_its_script_element():
    """JSON inside <script>: no <, > or & as such (a catalog's "</script>" would end the element)."""
    import json

    from derive.publishing.webpage import json_script

    hostile = {"said": "</script><script>alert(1)</script> & <!--", "é": "ü"}
    text = str(json_script(hostile))
    assert not set("<>&") & set(text) and "é" in text  # the rest as written, not escaped
    assert json.loads(text) == hostile


def test_the_diagnosis_is_a_value():
    import dataclasses

    from derive.core.chain import Derivation
    from derive.core.steps import build_steps
    from derive.outputs.render import default_renderer
    from derive.publishing.webpage import diagnoses

    steps = build_steps(Derivation(load_builtin("mazur")))
    _, symbols = formulas_script(steps)
    found = diagnoses(steps, symbols, default_renderer().catalog("en"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.data = {}


def test_a_factor_exactly_0_or_1_is_not_one_a_students_error_could_make_trivial():
    """The deep network's ReLU makes some factors exactly 0 (a neuron off) or 1 (its slope when on): the
    page must not take a student's 0 or 1 there for a simplification. Values by SymPy's substitution."""
    import sympy as sp

    from derive.assessment.simplified import factors
    from derive.core.chain import Derivation
    from derive.core.steps import build_steps
    from derive.publishing.webpage import _candidates

    steps = build_steps(Derivation(load_builtin("deep")))
    exact = {symbol: sp.Float(value, 40) for symbol, value in steps.values.items()}
    at = {step.key: [sp.N(f.subs(exact), 30) for f in factors(step.formula) if f.free_symbols] for step in steps}
    values = [value for found in at.values() for value in found]
    trivial = [value for value in values if value.is_zero or (value - 1).is_zero]
    assert {float(value) for value in trivial} == {0.0, 1.0}  # both kinds occur
    listed = [(step.key, sp.N(f.subs(exact), 30)) for step in steps for f in _candidates(steps, step)]
    assert len(listed) > 50 and not [(key, value) for key, value in listed if value.is_zero or (value - 1).is_zero]


def test_the_page_titles_its_pictures_and_draws_the_training_curve():
    """The network's picture is titled for a screen reader, each input takes as many characters as
    derive check reads, and the explanation ends with the error over CURVE_STEPS steps of training."""
    from derive.assessment.answers import MAX_NUMBER_TEXT
    from derive.publishing.publish import CURVE_STEPS

    catalog = tomllib_catalog("en")
    page = html_page(load_builtin("mazur"), language="en", worksheet=True)
    figure = re.search(r'<figure class="diagram">(.*?)</figure>', page, re.S)[1]
    assert re.search(r"<title[^>]*>" + re.escape(unescape_title(catalog["html"]["network_title"])) + "</title>", figure)
    inputs = re.findall(r"<input [^>]*>", page)
    assert inputs and all(f'maxlength="{MAX_NUMBER_TEXT}"' in tag for tag in inputs)
    explanation = unescape(html_page(load_builtin("mazur"), language="en"))
    said = [catalog["html"]["curve_title"].format(steps=steps) for steps in (CURVE_STEPS, f"{CURVE_STEPS:,}")]
    assert any(f"{title}</title>" in explanation for title in said)


def tomllib_catalog(lang: str) -> dict:
    import tomllib

    return tomllib.loads((ROOT / "templates" / "i18n" / f"{lang}.toml").read_text(encoding="utf-8"))


def unescape_title(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@pytest.mark.parametrize(
    ("network", "options"),
    [("mazur", {}), ("mazur", {"worksheet": True}), ("softmax", {"matrix": True}), ("cnn", {}), ("rnn", {})],
)
def test_each_line_the_page_marks_as_a_step_is_one_of_the_networks_steps(network, options):
    """``data-step`` names the step a line works (the stepper and the check find lines by it): every
    line that has one names a step of the document, once, and the matrix form's lines, which work no
    single step, have none."""
    from derive.publishing.publish import Options, document_steps

    spec = load_builtin(network)
    page = html_page(spec, **options)
    marked = [unescape(key) for key in re.findall(r'<div class="eq"[^>]* data-step="([^"]*)"', page)]
    steps = {step.key for step in document_steps(spec, Options())}
    assert marked and set(marked) <= steps, set(marked) - steps
    assert len(marked) == len(set(marked)), "a step worked twice"
