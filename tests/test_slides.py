"""The lecture's slides, read as a hall reads them: checked on the compiled PDF with pdftotext and pdffonts.

Each deck is compiled once per language; the checks read what a student at the back would see:
numbers of at most four significant figures (the handout keeps nine decimals), labels large enough
to project, no paragraph of prose, frames filled, the maths set in the documents' serif.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from derive import example
from tests.conftest import require_tool, run_derive
from tests.documents import compile_latex
from tests.reference import autograd_gradients

pytestmark = pytest.mark.xdist_group("slides")  # its module-scoped fixtures made once, on one worker

TITLES = {
    "en": {"paths": "A hidden weight: a sum over paths", "delta": "The general delta rule"},
    "es": {"paths": "Un peso oculto: una suma sobre caminos", "delta": "La regla delta generalizada"},
}
DECIMAL = re.compile(r"\d+\.\d+")
PROSE_WORD = re.compile(r"^[^\W\d_]{3,}[.,:;]?$")  # a word of three letters or more, as prose has


@dataclass
class Deck:
    language: str
    folder: Path
    logs: dict[str, str]

    def pdf(self, name: str = "slides") -> Path:
        return self.folder / f"{name}.pdf"

    def tex(self, name: str = "slides") -> str:
        return (self.folder / f"{name}.tex").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def decks() -> dict[str, Deck]:
    """The decks made so far, by language: each made once, however pytest orders the tests that read it."""
    return {}


@pytest.fixture(params=["en", "es"])
def deck(request, decks, tmp_path_factory) -> Deck:
    language = request.param
    if language not in decks:
        folder = tmp_path_factory.mktemp(f"slides-{language}")
        run_derive("slides", "--lang", language, "-o", str(folder))
        run_derive("slides", "--handout", "--lang", language, "-o", str(folder))
        logs = {name: compile_latex(folder / f"{name}.tex") for name in ("slides", "slides-handout")}
        decks[language] = Deck(language, folder, logs)
    return decks[language]


def pages_text(pdf: Path) -> list[str]:
    """Each page's text, as pdftotext reads it (pages end with a form feed)."""
    text = subprocess.run(
        [require_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def bbox_pages(pdf: Path, layout: bool = False) -> list[tuple[float, str]]:
    """Each page's height and its pdftotext -bbox XHTML: every word with its box."""
    option = "-bbox-layout" if layout else "-bbox"
    xml = subprocess.run(
        [require_tool("pdftotext"), option, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [
        (float(height), body)
        for height, body in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', xml, re.S)
    ]


def words(body: str) -> list[tuple[float, float, str]]:
    """(top, bottom, text) of each word of a page."""
    found = re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', body)
    return [(float(top), float(bottom), text) for top, bottom, text in found]


def full_frames(pdf: Path) -> list[tuple[float, str]]:
    """The last overlay of each frame (everything revealed): the last page showing each frame number."""
    last: dict[str, tuple[float, str]] = {}
    for height, body in bbox_pages(pdf):
        found = words(body)
        footer = max(top for top, _, _ in found)
        number = next(text for top, _, text in found if top >= footer - 1)
        last[number] = (height, body)
    return list(last.values())


def significant_figures(number: str) -> int:
    """How many significant figures a decimal number shows: 0.0004386 → 4, 0.2910 → 4, 1.106 → 4."""
    return len(number.replace(".", "").lstrip("0"))


def figures(value: float) -> str:
    """A value as a slide should show it: four significant figures, trailing zeros kept."""
    return format(value, "#.4g")


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def worked_example() -> dict[str, float]:
    """Mazur's example by the textbook formulas (σ, ½(t − out)², η = 0.5, biases fixed), in floats:
    E_total before and after one step, and the gradients and updates a lecturer checks first."""
    spec = example().spec
    gradient = autograd_gradients(spec)
    weights = {name: float(value) for name, value in spec.parameters().items()}

    def total(w: dict[str, float]) -> float:
        i1, i2, t1, t2 = 0.05, 0.10, 0.01, 0.99
        h1 = sigmoid(w["w1"] * i1 + w["w2"] * i2 + w["b1"])
        h2 = sigmoid(w["w3"] * i1 + w["w4"] * i2 + w["b1"])
        o1 = sigmoid(w["w5"] * h1 + w["w6"] * h2 + w["b2"])
        o2 = sigmoid(w["w7"] * h1 + w["w8"] * h2 + w["b2"])
        return (t1 - o1) ** 2 / 2 + (t2 - o2) ** 2 / 2

    after = {name: value - (0.5 * gradient[name] if name.startswith("w") else 0) for name, value in weights.items()}
    return {
        "E_total": total(weights),
        "dE/dw5": gradient["w5"],
        "dE/dw1": gradient["w1"],
        "w5+": after["w5"],
        "E_total after": total(after),
    }


def test_both_decks_compile_without_an_overfull_box(deck):
    for name, log in deck.logs.items():
        assert "Overfull" not in log, f"{name}: " + next(line for line in log.splitlines() if "Overfull" in line)
    frames = len(full_frames(deck.pdf()))
    handout = len(pages_text(deck.pdf("slides-handout")))
    assert handout == frames  # the handout prints each frame once
    assert 15 <= frames <= 25
    assert 2 * frames <= len(pages_text(deck.pdf())) <= 80  # each frame reveals its lines one at a time


def written(text: str, language: str) -> str:
    """A number as the deck's language writes it: 0.2984 in English, 0,2984 in Spanish."""
    return text.replace(".", ",") if language == "es" else text


def test_no_number_on_a_slide_has_more_than_four_significant_figures(deck):
    decimal = re.compile(r"\d+,\d+") if deck.language == "es" else DECIMAL
    for number, page in enumerate(pages_text(deck.pdf()), 1):
        long = [found for found in decimal.findall(page) if significant_figures(found.replace(",", ".")) > 4]
        assert not long, f"page {number}: {long}"
    slides = " ".join(pages_text(deck.pdf()))
    handout = " ".join(pages_text(deck.pdf("slides-handout")))
    for name, value in worked_example().items():
        assert written(figures(value), deck.language) in slides, (name, figures(value))
    # the handout keeps the nine decimals of the documents
    assert written("0.082167041", deck.language) in handout and written("0.291027774", deck.language) in handout
    assert written("0.08217", deck.language) not in handout


def test_a_frame_sums_a_hidden_weight_over_its_paths(deck):
    tex = deck.tex()
    frame = tex[tex.index(TITLES[deck.language]["paths"]) :]
    frame = frame[: frame.index("\\end{frame}")]
    # w1 reaches E_total through h1 and then each output neuron: one row, in its own colour, per output
    for k, colour in ((1, "path1"), (2, "path2")):
        row = next(line for line in frame.splitlines() if f"\\color{{{colour}}}" in line)
        own = row[row.index(f"\\color{{{colour}}}") :]
        for factor in (
            rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{o{k}}}}}",
            rf"\frac{{\partial \mathrm{{net}}_{{o{k}}}}}{{\partial \mathrm{{out}}_{{h1}}}}",
            r"\frac{\partial \mathrm{net}_{h1}}{\partial w_{1}}",
        ):
            assert factor in own, (colour, factor)
        # the network draws that path, h1 → o_k, in the same colour
        edge = next(line for line in frame.splitlines() if f"{colour}] (h1) -- " in line)
        assert edge.endswith(f"(o{k});"), edge
    assert r"\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}" in frame  # the paths grouped by δ
    pages = pages_text(deck.pdf())
    assert sum(TITLES[deck.language]["paths"] in page for page in pages) >= 3  # revealed path by path


def test_a_gradient_frame_highlights_its_paths_and_reveals_each_factor(deck):
    tex = deck.tex()
    title = "The gradient of $w_{1}$" if deck.language == "en" else "El gradiente de $w_{1}$"
    frame = tex[tex.index(title) :]
    frame = frame[: frame.index("\\end{frame}")]
    # w1's own edge, h1, and both edges out of h1: thick, in the path's colour, labelled with their weights
    for source, target, weight in (("i1", "h1", "w_{1}"), ("h1", "o1", "w_{5}"), ("h1", "o2", "w_{7}")):
        edge = next(line for line in frame.splitlines() if f"({source}) -- " in line and f"({target});" in line)
        assert "very thick, onpath" in edge and f"{{${weight}$}}" in edge, edge
    assert "\\draw[->, off] (i2) -- (h1);" in frame  # the rest of the network drawn light, unlabelled
    assert frame.count("\\pause") >= 4  # statement, then each factor, δ and the result one at a time


def test_the_brief_deck_compiles_in_spanish(tmp_path):
    run_derive("slides", "--lang", "es", "--detail", "brief", "-o", str(tmp_path))
    assert "Overfull" not in compile_latex(tmp_path / "slides.tex")


def test_the_delta_rule_is_a_boxed_display_and_no_prose_runs_past_three_lines(deck):
    tex = deck.tex()
    rule = tex[tex.index(TITLES[deck.language]["delta"]) :]
    assert "\\boxed{\\begin{aligned}" in rule[: rule.index("\\end{frame}")]
    for name in ("slides", "slides-handout"):
        for number, (_, body) in enumerate(bbox_pages(deck.pdf(name), layout=True), 1):
            for block in re.findall(r"<block .*?</block>", body, re.S):
                lines = [re.findall(r">([^<]*)</word>", line) for line in re.findall(r"<line .*?</line>", block, re.S)]
                prose = [line for line in lines if sum(bool(PROSE_WORD.match(word)) for word in line) >= 3]
                assert len(prose) <= 3, f"{name} page {number}: " + " / ".join(" ".join(line) for line in prose)


def test_labels_project_and_the_maths_fills_the_frames(deck):
    reach = []
    for number, (height, body) in enumerate(full_frames(deck.pdf()), 1):
        found = words(body)
        # the smallest text on a slide: a subscript of a label, no longer a 4 pt thumbnail
        smallest = min(bottom - top for top, bottom, _ in found)
        assert smallest >= 5, f"frame {number}: text {smallest:.1f} pt high"
        footer = max(top for top, _, _ in found)
        reach.append(max(bottom for top, bottom, _ in found if top < footer - 1) / height)
    filled = sorted(reach)[len(reach) // 2]
    assert filled >= 0.7, f"half the frames end above {filled:.0%} of the height"
    assert sum(r >= 0.6 for r in reach) >= 0.85 * len(reach), [round(r, 2) for r in reach]


def test_the_loss_and_the_activation_are_defined_on_the_network_frame(deck):
    title = "The network" if deck.language == "en" else "La red"
    frame = next(page for page in pages_text(deck.pdf()) if page.strip().startswith(title))
    for shown in ("η = 0.5", "0.05", "0.99"):  # the rate, an input, a target
        assert written(shown, deck.language) in frame, shown
    tex = deck.tex()
    network = tex[tex.index("\\begin{frame}[t]{" + title + "}") :]
    network = network[: network.index("\\end{frame}")]
    assert r"\mathrm{out}_j = \sigma(\mathrm{net}_j) = \dfrac{1}{1 + e^{-\mathrm{net}_j}}" in network
    assert r"E_{\text{total}} = \sum_{o} \tfrac{1}{2} \left(t_o - \mathrm{out}_o\right)^2" in network


def test_the_maths_is_set_in_the_documents_serif(deck):
    listing = subprocess.run(
        [require_tool("pdffonts"), str(deck.pdf())], capture_output=True, text=True, check=True
    ).stdout
    fonts = {line.split()[0].split("+")[-1] for line in listing.splitlines()[2:]}
    assert all(" yes " in line for line in listing.splitlines()[2:])  # every font embedded
    assert {"LMRoman10-Regular", "LMMathItalic10-Regular", "LMSans10-Regular"} <= fonts
    # sans-serif is the text's alone, at 9 pt and up: a subscript such as E_total's "total" set in the
    # slides' sans would bring an 8 pt sans (LMSans8); set in roman as in the documents, it is LMRoman8
    sans = sorted(font for font in fonts if font.startswith("LMSans"))
    assert all(int(re.search(r"\d+", font)[0]) >= 9 for font in sans), sans
    assert "LMRoman8-Regular" in fonts


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("0.291027774", "0.2910"),  # a rounded value keeps its significant zero
        ("0.000438568", "0.0004386"),
        (r"\left(-0.038098237\right)", r"\left(-0.03810\right)"),
        ("9.99996", "10.00"),  # rounded up to the next power of ten: still four figures
        ("0.12345", "0.1234"),  # a tie, to even
        ("0.05 \\cdot 0.3775", "0.05 \\cdot 0.3775"),  # exact values stay as given
        ("w_{5} = 0.4, 0.5em", "w_{5} = 0.4, 0.5em"),  # names and dimensions are not numbers
        ("0{,}593256764", "0{,}5933"),  # a Spanish decimal comma, as LaTeX sets it
    ],
)
def test_numbers_round_to_four_significant_figures(text, shown):
    from derive.document.slides import significant

    assert significant(text, 4) == shown


def test_a_network_named_with_a_number_keeps_its_name_while_its_numbers_are_rounded(tmp_path):
    """The slides round every number to a few figures, but not the network's name: xor-0.123456 stays whole
    in the subtitle, while the weight written 0.123456 is shown to the slides' figures."""
    text = (Path(__file__).resolve().parents[1] / "derive" / "examples" / "xor.toml").read_text(encoding="utf-8")
    weight = re.search(r"weights = \[\[(-?[\d.]+)", text)[1]
    (tmp_path / "xor-0.123456.toml").write_text(text.replace(weight, "0.123456", 1), encoding="utf-8")
    run_derive("slides", "xor-0.123456.toml", "-o", "out", cwd=tmp_path)
    deck = (tmp_path / "out" / "slides.tex").read_text(encoding="utf-8")
    assert "on the network “xor-0.123456”, worked by hand." in deck
    assert "0.123456" not in deck.replace("xor-0.123456", "") and "0.1235" in deck


@pytest.mark.parametrize(("detail", "spelled_out"), [("standard", 2), ("full", 9)])
def test_a_feature_map_works_its_first_two_positions_and_lists_the_rest(tmp_path, detail, spelled_out):
    """A convolution's nine positions are computed alike: the forward pass works the first two line by
    line and lists the other seven by value, unless the detail is full."""
    run_derive("slides", "cnn", "--detail", detail, "-o", str(tmp_path))
    deck = (tmp_path / "slides.tex").read_text(encoding="utf-8")
    positions = [f"c1,{row}{column}" for row in (1, 2, 3) for column in (1, 2, 3)]
    worked = re.findall(r"\\stepline\{\\mathrm\{net\}_\{(c1,\d+)\} = w_\{1\}", deck)
    listed = re.findall(r"^\$\\mathrm\{net\}_\{(c1,\d+)\} = [^$]*\$ & \$\\mathrm\{out\}_\{\1\} = ", deck, re.M)
    assert worked == positions[:spelled_out]
    assert listed == positions[spelled_out:]


def test_a_kernel_entrys_frames_derive_one_delta_of_each_layer_and_list_the_rest(tmp_path):
    """Beyond four error signals, a slide derives the first δ of each layer (c1,11 is the layer c1's,
    p1,11 the layer p1's: a name's position is not its layer) and the first that sums two windows'
    paths, c1,23; the other nine are listed with their values."""
    run_derive("slides", "cnn", "-o", str(tmp_path))
    deck = (tmp_path / "slides.tex").read_text(encoding="utf-8")
    derived = re.findall(r"\\stepline\{\\delta_\{([^}]*)\}", deck)
    listed = dict(re.findall(r"\$\\delta_\{([^}]*)\} = (-?[\d.]+)\$", deck))
    layers = example("cnn").derivation.deltas[0]
    deltas = {delta.neuron.name: float(delta.precise) for layer in layers for delta in layer}
    assert derived == ["o1", "p1,11", "c1,11", "c1,23"]
    assert set(listed) == set(deltas) - set(derived)
    for name, shown in listed.items():
        assert math.isclose(float(shown), deltas[name], rel_tol=5e-4, abs_tol=1e-12), name


@pytest.mark.parametrize(("outputs", "worked"), [(4, 4), (5, 2)])
def test_a_layer_of_more_than_four_neurons_works_two_and_lists_the_rest(tmp_path, outputs, worked):
    """The forward pass works every neuron of a layer of up to four, line by line; of a wider layer, the
    first two, the others listed with their net input and output (before the update and after it)."""
    network = tmp_path / "fan.toml"
    network.write_text(fan_out(outputs), encoding="utf-8")
    run_derive("slides", str(network), "-o", str(tmp_path))
    deck = (tmp_path / "slides.tex").read_text(encoding="utf-8")
    names = [f"o{k}" for k in range(1, outputs + 1)]
    for after in ("", "^{+}"):
        mark = re.escape(after)
        steps = re.findall(rf"\\stepline\{{\\mathrm\{{net\}}_\{{(o\d+)\}}{mark} = ", deck)
        row = rf"^\$\\mathrm\{{net\}}_\{{(o\d+)\}}{mark} = [^$]*\$ & \$\\mathrm\{{out\}}_\{{\1\}}"
        rows = re.findall(row, deck, re.M)
        assert steps == names[:worked] and rows == names[worked:], after


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_each_lit_link_is_labelled_with_its_parameter_and_a_poolings_with_nothing(tmp_path, name):
    """On a gradient's frames, a lit link writes the symbol of the weight it carries (w_{5}); a max
    pooling's link carries no parameter, so it is drawn bare, with no empty label beside it (a bias's
    link comes from the node that names it)."""
    run_derive("slides", name, "-o", str(tmp_path))
    deck = (tmp_path / "slides.tex").read_text(encoding="utf-8")
    lit = re.findall(r"^  \\draw\[->, very thick, [^]]*\] \(([^)]*)\) -- (.*?)\(([^)]*)\);$", deck, re.M)
    assert len(lit) > 50
    assert (name == "cnn") == any(target.startswith("p1-") for _, _, target in lit)  # the cnn's pooling is lit
    for source, label, target in lit:
        if target.startswith("p1-") or re.match(r"b\d+-", source):  # a pooling's link, a bias's from its node
            assert label == "", (source, target, label)
        else:
            assert re.fullmatch(r"node\[label, [^]]*\] \{\$w_\{\d+\}\$\} ", label), (source, target, label)


def fan_out(outputs: int) -> str:
    """One input, one hidden neuron, ``outputs`` sigmoid outputs: the hidden weight w1 reaches E_total
    along one path per output."""
    weights = ", ".join(f"[{0.1 * (n + 1):.1f}]" for n in range(outputs))
    targets = ", ".join("0.5" for _ in range(outputs))
    return (
        'learning_rate = 0.5\nloss = "half_sse"\n'
        '[[layers]]\nname = "h"\nactivation = "sigmoid"\nweights = [[0.3]]\nbias = 0.1\n'
        f'[[layers]]\nname = "o"\nactivation = "sigmoid"\nweights = [{weights}]\nbias = 0.2\n'
        f"[[examples]]\ninputs = [0.7]\ntargets = [{targets}]\n"
    )


@pytest.mark.parametrize(("outputs", "written"), [(4, 4), (5, 3), (6, 3)])
def test_a_weight_of_many_paths_writes_as_many_as_there_are_colours(tmp_path, outputs, written):
    """The path-sum frame colours each path it writes out: up to four, every path; beyond, three, and
    the rest summed as "the other n"."""
    from derive import load
    from derive.document import build
    from derive.document.slides import path_sum

    network = tmp_path / "fan.toml"
    network.write_text(fan_out(outputs), encoding="utf-8")
    paths = path_sum(build(load(network).derivation))
    assert paths is not None and paths.gradient.name == "w1" and paths.total == outputs
    assert [term.colour for term in paths.terms] == list(range(1, written + 1))
    assert paths.more == outputs - written
    # each written path's own factors, from its own output back to h1; then the factors every path shares
    assert [len(term.own) for term in paths.terms] == [3] * written
    shared = [
        r"\frac{\partial \mathrm{out}_{h1}}{\partial \mathrm{net}_{h1}}",
        r"\frac{\partial \mathrm{net}_{h1}}{\partial w_{1}}",
    ]
    assert all(term.shared == shared for term in paths.terms)
    ends = [term.own[0] for term in paths.terms]
    assert ends == [
        rf"\frac{{\partial E_{{\text{{total}}}}}}{{\partial \mathrm{{out}}_{{o{k}}}}}" for k in range(1, written + 1)
    ]


def test_the_path_sum_groups_the_paths_as_the_deltas_first_factor_writes_them(tmp_path):
    """Beside the sum over paths, their own factors summed: δ·w over the next layer's neurons, times the
    factors every path shares. At the brief detail no δ is derived factor by factor, and nothing is grouped."""
    from derive import load
    from derive.document import build
    from derive.document.slides import path_sum
    from tests.test_recurrent import alone_two_tanh

    worked = path_sum(build(example().derivation))
    assert worked is not None and worked.grouped == r"\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}"
    # a recurrent weight's uses, one a step, share no factor to group: no path-sum frame
    assert path_sum(build(load(alone_two_tanh().write(tmp_path, "alone")).derivation)) is None
    brief = path_sum(build(example().derivation, detail="brief"))
    assert brief is not None and brief.grouped == ""


def test_a_network_whose_hidden_weights_reach_one_output_has_no_sum_over_paths():
    """xor's hidden neurons feed its one output: each hidden weight reaches E_total along one path, so
    the deck has no "sum over paths" frame (nor for its biases, or for the output layer's weights)."""
    from derive.document import build
    from derive.document.slides import path_sum

    assert path_sum(build(example("xor").derivation)) is None


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", ["mazur", "rnn"])
def test_a_frame_of_several_gradients_is_titled_in_the_plural(name, language):
    """A brief deck works a layer's gradients together: a frame of several is titled "The gradients of …",
    one of one "The gradient of …", in the deck's language."""
    import tomllib

    from derive.publishing.publish import slides_files
    from derive.spec.files import load_builtin

    catalog = tomllib.loads((Path(__file__).parent.parent / "templates/i18n" / f"{language}.toml").read_text("utf-8"))
    singular, plural = catalog["gradient_of"].split("{")[0], catalog["slides"]["gradients_of"].split("{")[0]
    deck = slides_files(load_builtin(name), detail="brief", language=language)["slides.tex"]
    titles = re.findall(r"^\\begin\{frame\}\[t\]\{(.*)\}$", deck, re.MULTILINE)
    named = [title for title in titles if title.startswith((singular, plural))]
    several = [title for title in named if "$, $" in title.split(" (")[0]]
    assert several and len(several) < len(named)
    for title in named:
        assert title.startswith(plural if title in several else singular), title
