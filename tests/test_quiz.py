"""Quizzes for Moodle and Canvas, parsed as the platforms read them.

Every answer is checked against values computed independently (autograd's gradients and a plain
NumPy forward pass, in ``tests/reference.py``), and every tolerance by the platforms' own rule:
an answer is accepted when |answer − value| ≤ tolerance (Moodle), or when it lies between the
bounds (QTI).  The window is one unit of the last significant digit asked (derive check's rule), and no window admits
a value worked from a gradient 1 % off: the test works that value from the textbook update and
asks each platform's rule about it.
"""

import base64
import re
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import pytest

from derive import example
from derive.spec.variants import variant
from tests.conftest import ROOT, run_derive
from tests.documents import katex_failures
from tests.reference import as_fraction, autograd_gradients, loss_value

CLOZE = re.compile(r"\{1:NUMERICAL:=(-?[0-9.]+):([0-9.]+)\}")
# A row of the Cloze answer table: the quantity, the significant digits asked, the blank.
ROW = re.compile(r"<tr><td>([^<]*)</td><td>(\d+)</td><td>\{1:NUMERICAL:=(-?[0-9.]+):([0-9.]+)\}</td></tr>")
CATALOGS = {
    lang: tomllib.loads((ROOT / "templates" / "i18n" / f"{lang}.toml").read_text("utf-8")) for lang in ("en", "es")
}
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
SVG = "{http://www.w3.org/2000/svg}"
# The default questions for the worked example, in the order the backward pass derives them.
MAZUR_ASKED = (
    ["E_total", "dE/dw5", "dE/dw6", "dE/dw7", "dE/dw8", "dE/db2", "dE/dw1", "dE/dw2", "dE/dw3", "dE/dw4", "dE/db1"]
    + [f"w{n}+" for n in range(1, 9)]
    + ["E_total+"]
)


def independent_values(spec) -> dict[str, float]:
    """E_total, every gradient, every update and E_total after the step, without derive's derivation."""
    gradients = autograd_gradients(spec)
    rate = float(spec.learning_rate)
    trained = [name for name in spec.parameter_names() if spec.train_biases or name.startswith("w")]
    updated = {name: float(spec.parameters()[name]) - rate * gradients[name] for name in trained}
    after = spec.with_parameters({name: as_fraction(value) for name, value in updated.items()})
    values = {"E_total": float(loss_value(spec)), "E_total+": float(loss_value(after))}
    values |= {f"dE/d{name}": value for name, value in gradients.items()}
    values |= {f"{name}+": value for name, value in updated.items()}
    return values


def rounded(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=ROUND_HALF_EVEN)


def one_unit(value: Decimal, digits: int) -> Decimal:
    """One unit in the ``digits``-th significant digit of ``value``: 0.0001 for 0.2984 at 4 digits."""
    return Decimal(1).scaleb(value.adjusted() - digits + 1)


def assert_tolerance_behaves(value: Decimal, accepts, digits: int) -> None:
    """As derive check grades: the value rounded or cut to ``digits`` significant digits passes; two
    units off in its last digit fails."""
    last = one_unit(value, digits)
    answer = rounded(value, digits)
    cut = value.quantize(last, rounding=ROUND_DOWN)
    assert accepts(answer) and accepts(cut), f"{answer} or {cut} refused for {value}"
    assert not accepts(answer + 2 * last) and not accepts(answer - 2 * last), f"{answer} ± {2 * last} accepted"


def moodle(*args: str, cwd=None) -> ET.Element:
    return ET.fromstring(run_derive("quiz", "--format", "moodle", *args, cwd=cwd).stdout)


def cloze_questions(quiz: ET.Element) -> list[ET.Element]:
    questions = quiz.findall("question")
    assert questions[0].get("type") == "category"
    assert all(question.get("type") == "cloze" for question in questions[1:])
    return questions[1:]


def codes(question: ET.Element) -> list[tuple[Decimal, Decimal]]:
    text = question.findtext("questiontext/text")
    return [(Decimal(value), Decimal(tolerance)) for value, tolerance in CLOZE.findall(text)]


def rows(question: ET.Element) -> list[tuple[int, Decimal, Decimal]]:
    """Each answer row: the significant digits it asks, the answer and Moodle's tolerance."""
    found = ROW.findall(question.findtext("questiontext/text"))
    assert len(found) == len(codes(question)), "every blank sits in a row that states its digits"
    return [(int(digits), Decimal(value), Decimal(tolerance)) for _, digits, value, tolerance in found]


# ---- Moodle XML -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mazur_quiz():
    return moodle()


def test_moodle_asks_every_default_step_with_the_right_answer(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
    assert question.findtext("questiontext/text").startswith("<div><p>")  # HTML paragraphs, as Moodle shows them
    expected = independent_values(example().spec)
    found = codes(question)
    assert len(found) == len(MAZUR_ASKED) == 20
    for key, (value, _) in zip(MAZUR_ASKED, found, strict=True):
        assert float(value) == pytest.approx(expected[key], rel=1e-9, abs=1e-15), key
    published = {"E_total": "0.298371109", "dE/dw5": "0.082167041", "dE/dw1": "0.000438568", "w5+": "0.35891648"}
    published |= {"w1+": "0.149780716", "E_total+": "0.291027774"}
    for key, figure in published.items():
        value = found[MAZUR_ASKED.index(key)][0]
        assert abs(value - Decimal(figure)) <= Decimal("5e-10"), key
    steps = example().steps()
    for key, (value, _) in zip(MAZUR_ASKED, found, strict=True):  # the derivation's own value, 17 digits of it
        assert float(value) == pytest.approx(float(steps.find(key).value), rel=1e-15)
        # a double's worth and no more: every platform stores the answer as a double
        assert len(value.normalize().as_tuple().digits) <= 17, (key, value)
        assert not str(value).endswith("0"), (key, value)  # as a person writes it: no trailing zeros
    assert max(len(value.normalize().as_tuple().digits) for value, _ in found) == 17  # not cut shorter


def test_moodle_tolerances_accept_the_rounded_value_and_refuse_an_earlier_digit(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
    for digits, value, tolerance in rows(question):

        def accepts(answer, value=value, tolerance=tolerance):
            return abs(answer - value) <= tolerance  # Moodle's rule for a NUMERICAL answer

        assert_tolerance_behaves(value, accepts, digits)
    value, tolerance = codes(question)[MAZUR_ASKED.index("dE/dw1")]
    assert tolerance == Decimal("0.0000001")  # a unit of 0.0004386, the value rounded to 4 digits
    assert abs(Decimal("0.0004386") - value) <= tolerance and abs(Decimal("0.0004385") - value) <= tolerance
    assert abs(Decimal("0.0004384") - value) > tolerance  # two units off


def test_more_digits_tighten_the_tolerance():
    (question,) = cloze_questions(moodle("--digits", "6", "--ask", "dE/dw1"))
    ((value, tolerance),) = codes(question)
    assert tolerance == Decimal("1e-9")
    assert_tolerance_behaves(value, lambda answer: abs(answer - value) <= tolerance, 6)


def test_fewer_digits_still_refuse_a_gradient_one_percent_off():
    """With --digits 2 the window of ∂E/∂w5 = 0.082 (±0.001) would admit 0.0830, 1 % off: it asks 3 digits (±0.0001)."""
    (question,) = cloze_questions(moodle("--digits", "2", "--ask", "E_total,dE/dw5"))
    (total_digits, _, _), (digits, value, tolerance) = rows(question)
    assert (total_digits, digits, tolerance) == (2, 3, Decimal("0.0001"))
    gradient = autograd_gradients(example().spec)["w5"]
    for wrong in (Decimal(repr(gradient * 1.01)), Decimal(repr(gradient * 0.99))):
        assert abs(wrong - value) > tolerance and abs(rounded(wrong, digits) - value) > tolerance


def test_ask_chooses_the_steps_and_their_order():
    (question,) = cloze_questions(moodle("--ask", "w5+,15,E_total,out_h1"))
    expected = independent_values(example().spec)
    values = [float(value) for value, _ in codes(question)]
    assert values[:3] == pytest.approx([expected["w5+"], expected["dE/dw5"], expected["E_total"]], rel=1e-9)
    assert values[3] == pytest.approx(0.593269992107187, rel=1e-12)  # 1 / (1 + e^-0.3775)


def test_one_question_per_variant_each_with_its_own_numbers():
    quiz = moodle("--variants", "3", "--seed", "7")
    questions = cloze_questions(quiz)
    assert len(questions) == 3
    category = quiz.find("question/category/text").text
    assert category == "$course$/top/Backpropagation: Mazur's worked example"
    for number, question in enumerate(questions, start=1):
        assert question.findtext("name/text") == f"Backpropagation: Mazur's worked example, variant {number}"
        expected = independent_values(variant(example().spec, 7, number))
        for key, (digits, value, tolerance) in zip(MAZUR_ASKED, rows(question), strict=True):
            assert float(value) == pytest.approx(expected[key], rel=1e-9, abs=1e-15), (number, key)
            assert_tolerance_behaves(value, lambda answer, v=value, t=tolerance: abs(answer - v) <= t, digits)


def test_the_same_seed_gives_the_same_file():
    first = run_derive("quiz", "--format", "moodle", "--variants", "2", "--seed", "7").stdout
    again = run_derive("quiz", "--format", "moodle", "--variants", "2", "--seed", "7").stdout
    other = run_derive("quiz", "--format", "moodle", "--variants", "2", "--seed", "8").stdout
    assert first == again and first != other


def test_the_question_shows_the_network_its_data_and_its_diagram(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
    text = question.findtext("questiontext/text")
    assert '<img src="@@PLUGINFILE@@/network.svg"' in text
    for cell in ("<td>i1 → h1</td><td>0.15</td>", "<td>→ o1, o2</td><td>0.6</td>", r"\(i_{1} = 0.05\)"):
        assert cell in text
    image = question.find("questiontext/file")
    assert image.get("name") == "network.svg" and image.get("encoding") == "base64"
    svg = ET.fromstring(base64.b64decode(image.text))
    assert svg.tag == f"{SVG}svg"
    labels = [element.text for element in svg.iter(f"{SVG}text")]
    assert "w5 = 0.4" in labels and "b1 = 0.35" in labels and "o2" in labels


def test_the_feedback_is_the_worked_solution_in_mathjax(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
    feedback = question.findtext("generalfeedback/text")
    math = re.findall(r"\\\((.+?)\\\)", feedback)
    assert len(math) == 20
    assert r"\frac{\partial E_{\text{total}}}{\partial w_{5}} = \delta_{o1} \cdot \mathrm{out}_{h1}" in math[1]
    assert math[1].endswith("= 0.082167041")
    # the heading's promise, read off the numbers: at most 9 decimals, fewer only when the rest are zeros
    assert "rounded to 9 decimals, trailing zeros dropped" in feedback
    assert math[3].endswith("= -0.02260254")  # ∂E/∂w7 = -0.022602540…: its ninth decimal is a zero
    assert all(len(decimals) <= 9 for decimals in re.findall(r"\d\.(\d+)", " ".join(math)))
    assert katex_failures("\n".join(f"${fragment}$" for fragment in math)) == []


def test_user_text_is_escaped(tmp_path):
    name = 'a&b<"c">{1:SHORTANSWER:=x}'
    (tmp_path / f"{name}.toml").write_text(run_derive("example").stdout, encoding="utf-8")
    quiz = moodle(f"{name}.toml", "--ask", "E_total,dE/dw5", cwd=tmp_path)
    (question,) = cloze_questions(quiz)
    assert question.findtext("name/text") == f"Backpropagation: the network “{name}”"
    assert quiz.find("question/category/text").text == f"$course$/top/Backpropagation: the network “{name}”"
    assert len(re.findall(r"\{\d*:", question.findtext("questiontext/text"))) == 2  # only our own blanks


def test_spanish_quiz():
    quiz = moodle("--lang", "es", "--ask", "E_total")
    (question,) = cloze_questions(quiz)
    text = question.findtext("questiontext/text")
    assert "tasa de aprendizaje" in text and "cifras significativas" in text
    assert question.findtext("name/text") == "Retropropagación: el ejemplo resuelto de Mazur"


# ---- QTI for Canvas ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qti_zip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qti")
    run_derive("quiz", "--format", "qti", "--variants", "2", "--seed", "7", "-o", str(folder / "quiz.zip"))
    return folder / "quiz.zip"


def numerical_items(assessment: ET.Element) -> list[ET.Element]:
    items = list(assessment.iter(f"{QTI}item"))
    field = f".//{QTI}qtimetadatafield[{QTI}fieldlabel='question_type']/{QTI}fieldentry"
    kinds = [item.find(field).text for item in items]
    assert kinds[0] == "text_only_question" and kinds.count("text_only_question") == 1  # the network and data
    return [item for item, kind in zip(items, kinds, strict=True) if kind == "numerical_question"]


def test_the_qti_package_holds_a_manifest_and_one_item_per_asked_step_per_variant(qti_zip):
    with zipfile.ZipFile(qti_zip) as archive:
        names = archive.namelist()
        assert "imsmanifest.xml" in names and names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = ET.fromstring(archive.read("imsmanifest.xml"))
        # IMS Content Packaging 1.1, the namespace Canvas reads a Common Cartridge's manifest in
        assert manifest.tag == "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}manifest"
        files = [element.get("href") for element in manifest.iter() if element.tag.endswith("}file")]
        assert set(files) == set(names) - {"imsmanifest.xml"}
        tests = [name for name in names if name.endswith(".xml") and name != "imsmanifest.xml"]
        assert len(tests) == 2
        for name in tests:
            root = ET.fromstring(archive.read(name))
            (assessment,) = root.findall(f"{QTI}assessment")
            number = int(assessment.get("title").rsplit(" ", 1)[1])
            assert assessment.get("title") == f"Backpropagation: Mazur's worked example, variant {number}"
            expected = independent_values(variant(example().spec, 7, number))
            items = numerical_items(assessment)
            assert [item.get("title") for item in items] == MAZUR_ASKED
            for item in items:
                _check_numerical(item, expected[item.get("title")])
        for name in names:
            if name.endswith(".svg"):
                assert ET.fromstring(archive.read(name)).tag == f"{SVG}svg"
        # each test's picture of the network, by the path Canvas resolves to the package's root
        pictures = [
            source
            for name in tests
            for item in ET.fromstring(archive.read(name)).iter(f"{QTI}item")
            for source in re.findall(r'<img src="([^"]+)"', item_text(item))
        ]
        assert len(pictures) == len(tests)
        assert {source.removeprefix("%24IMS-CC-FILEBASE%24/") for source in pictures} <= set(names)


def item_text(item: ET.Element) -> str:
    """An item's question, as HTML."""
    return item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text


def qti_rule(item: ET.Element) -> tuple[Decimal, int, object]:
    """The item's answer, the significant digits its text asks, and QTI's rule: equal, or within the bounds."""
    condition = item.find(f".//{QTI}respcondition[@continue='No']/{QTI}conditionvar/{QTI}or")
    value = Decimal(condition.find(f"{QTI}varequal").text)
    low = Decimal(condition.find(f"{QTI}and/{QTI}vargte").text)
    high = Decimal(condition.find(f"{QTI}and/{QTI}varlte").text)
    digits = int(re.search(r"to at least (\d+) significant digits", item_text(item))[1])
    assert high - value == value - low == one_unit(value, digits)
    return value, digits, lambda answer: answer == value or low <= answer <= high


def _check_numerical(item: ET.Element, expected: float) -> None:
    value, digits, accepts = qti_rule(item)
    assert float(value) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert_tolerance_behaves(value, accepts, digits)
    feedback = item.find(f"{QTI}itemfeedback/{QTI}flow_mat/{QTI}material/{QTI}mattext").text
    assert feedback.count(r"\(") == 1


def test_the_same_seed_gives_the_same_package(qti_zip, tmp_path):
    run_derive("quiz", "--format", "qti", "--variants", "2", "--seed", "7", "-o", str(tmp_path / "again.zip"))
    assert (tmp_path / "again.zip").read_bytes() == qti_zip.read_bytes()


def test_qti_writes_quiz_zip_by_default(tmp_path):
    result = run_derive("quiz", "--format", "qti", "--ask", "E_total", cwd=tmp_path)
    assert result.stdout == "" and "wrote quiz.zip" in result.stderr
    with zipfile.ZipFile(tmp_path / "quiz.zip") as archive:
        (test,) = [name for name in archive.namelist() if name.endswith(".xml") and "/" in name]
        (item,) = numerical_items(ET.fromstring(archive.read(test)).find(f"{QTI}assessment"))
        _check_numerical(item, independent_values(example().spec)["E_total"])


@pytest.mark.parametrize(
    "options",
    [{"batch_size": 1}, {"batch_size": 2, "momentum": 0.9, "weight_decay": 0.01}],
    ids=["online", "mini-batch with momentum and decay"],
)
def test_an_online_or_mini_batch_quiz_asks_for_the_first_update(tmp_path, options):
    """The quiz asks about the update every other output works: the first batch's, and says so.

    The reference is autograd on the first batch alone (examples 1, or 1 and 2), the weight decay
    penalty included; the whole batch's gradient (0.0773078 for w5 online) is refused.
    """
    network = example("xor").with_options(**options)
    expected = autograd_gradients(network.spec.on_batch(network.spec.batches(1)[0]))
    path = tmp_path / "xor.toml"
    path.write_text(run_derive("example", "xor").stdout, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    path.write_text("".join(f"{key} = {value}\n" for key, value in options.items()) + text, encoding="utf-8")
    question = cloze_questions(moodle(str(path), "--ask", "dE/dw5,dE/dw1"))[0]
    (w5, _), (w1, _) = codes(question)
    assert float(w5) == pytest.approx(expected["w5"], rel=1e-12)
    assert float(w1) == pytest.approx(expected["w1"], rel=1e-12, abs=1e-15)
    text = question.findtext("questiontext/text")
    assert "learns online" in text if options["batch_size"] == 1 else "mini-batches of 2" in text


# ---- what the question states, in both formats and both languages ---------------------------------


def mathjax(sentence: str) -> str:
    return re.sub(r"\$(.+?)\$", r"\\(\1\\)", sentence)


def say(lang: str, key: str, **fields) -> str:
    """A sentence of the language's catalog, its fields filled in, as the quiz shows it (MathJax)."""
    entry = CATALOGS[lang]
    for part in key.split("."):
        entry = entry[part]
    for name, value in fields.items():
        # a number in a Spanish formula takes the decimal comma, braced for TeX: 0.5 → 0{,}5
        shown = re.sub(r"(\d)\.(\d)", r"\1{,}\2", str(value)) if lang == "es" else str(value)
        entry = entry.replace("{" + name + "}", shown)
    return mathjax(entry)


def network_file(folder, name: str, **options) -> str:
    """A built-in network written to ``folder`` with options set at its top."""
    text = run_derive("example", name).stdout
    for key, value in options.items():  # a key the file gives is replaced, any other set at the top
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        text = text if count else f"{key} = {value}\n{text}"
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def stated(form: str, lang: str, *args: str, folder) -> str:
    """What a student reads: the Cloze question's text, or the text of every QTI item, as HTML."""
    if form == "moodle":
        (question,) = cloze_questions(moodle("--lang", lang, *args, cwd=folder))
        return question.findtext("questiontext/text")
    run_derive("quiz", "--format", "qti", "--lang", lang, *args, "-o", "stated.zip", cwd=folder)
    with zipfile.ZipFile(folder / "stated.zip") as archive:
        (test,) = [name for name in archive.namelist() if name.endswith(".xml") and "/" in name]
        root = ET.fromstring(archive.read(test))
    return "\n".join(item_text(item) for item in root.iter(f"{QTI}item"))


FORMS = [(form, lang) for form in ("moodle", "qti") for lang in ("en", "es")]


@pytest.mark.parametrize(("form", "lang"), FORMS)
def test_the_worked_example_states_fixed_shared_biases_the_loss_and_the_order(form, lang, tmp_path):
    text = stated(form, lang, "--ask", "E_total,w1+,E_total+", folder=tmp_path)
    assert say(lang, "fixed_bias_note") in text and say(lang, "quiz.biases_trained") not in text
    assert say(lang, "shared_bias_note") in text  # b1 feeds h1 and h2: its gradient has two terms
    loss = say(lang, "loss_function", loss=CATALOGS[lang]["losses"]["half_sse"], reduction=say(lang, "reduction_sum"))
    assert mathjax(loss) in text and r"(t_o - \mathrm{out}_o)^2 / 2" in text  # the ½ that changes every δ
    assert say(lang, "update_intro", rate="0.5") in text  # every gradient from one pass: the simultaneous order
    assert say(lang, "quiz.marking") in text and say(lang, "quiz.window") in text
    for absent in ("decay_note", "momentum_zero", "quiz.rounding"):
        assert say(lang, absent).split("{")[0][:30] not in text, absent
    assert mathjax(say(lang, "quiz.change_before")) not in text  # no momentum: no Δθ before
    assert ("marked on its own" if lang == "en" else "se corrige por separado") in text


@pytest.mark.parametrize(("form", "lang"), FORMS)
def test_trained_biases_mean_momentum_decay_and_the_batch_are_stated(form, lang, tmp_path):
    """xor learning in mini-batches of 2 with momentum and decay, its update 2: the Δθ before is given.

    Δθ before update 2 is update 1's, −η·g on examples 1 and 2 (autograd, decay included, mean).
    """
    options = {"batch_size": 2, "momentum": 0.9, "weight_decay": 0.01, "reduction": '"mean"'}
    path = network_file(tmp_path, "xor", **options)
    text = stated(form, lang, path, "--example", "3", "--ask", "dE/dw5,w5+", folder=tmp_path)
    assert say(lang, "quiz.biases_trained") in text and say(lang, "fixed_bias_note") not in text
    assert say(lang, "shared_bias_note") not in text  # each neuron has its own bias
    loss = say(lang, "loss_function", loss=CATALOGS[lang]["losses"]["half_sse"], reduction=say(lang, "reduction_mean"))
    assert mathjax(loss) in text
    assert say(lang, "update_intro", rate="2") in text
    assert say(lang, "momentum_note", beta="0.9") in text and say(lang, "momentum_before") in text
    assert mathjax(say(lang, "quiz.change_before")) in text
    assert say(lang, "decay_note", strength="0.01") in text
    order = say(lang, "order_file")
    note = say(lang, "minibatch_note", size=2, update=2, examples="3, 4", order=order)
    assert note in text and say(lang, "earlier_update") in text
    network = example("xor").with_options(batch_size=2, momentum=0.9, weight_decay=0.01, reduction="mean")
    first = autograd_gradients(network.spec.on_batch(network.spec.batches(1)[0]))
    column = re.findall(r"<tr><td>\\\((\w)_\{(\d+)\}\\\)</td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td></tr>", text)
    assert len(column) == len(first) == 9
    for letter, number, shown in column:
        change = float(shown.replace(",", "."))  # a Spanish table writes 0,5
        assert change == pytest.approx(-2 * first[f"{letter}{number}"], abs=1e-9), (letter, number)
    assert say(lang, "quiz.change_before") in text


@pytest.mark.parametrize(("form", "lang"), FORMS)
def test_rounded_hidden_outputs_are_stated(form, lang, tmp_path):
    path = network_file(tmp_path, "xor", round_activations=4)
    text = stated(form, lang, path, "--ask", "E_total", folder=tmp_path)
    assert say(lang, "quiz.rounding", decimals=4) in text
    assert ("rounded to 4 decimals" if lang == "en" else "se redondea a 4 decimales") in text


@pytest.mark.parametrize(
    ("args", "lang", "title"),
    [
        ((), "en", "Backpropagation: Mazur's worked example"),
        ((), "es", "Retropropagación: el ejemplo resuelto de Mazur"),
        (("--variant", "2", "--seed", "7"), "en", "Backpropagation: Mazur's worked example, variant 2"),
        (("--variant", "2", "--seed", "7"), "es", "Retropropagación: el ejemplo resuelto de Mazur, variante 2"),
        (("xor",), "en", "Backpropagation: the network “xor”"),
        (("xor",), "es", "Retropropagación: la red «xor»"),
    ],
)
def test_the_title_is_the_networks_title_as_the_documents_give_it(args, lang, title, tmp_path):
    (question,) = cloze_questions(moodle(*args, "--lang", lang, "--ask", "E_total"))
    assert question.findtext("name/text") == title
    run_derive("quiz", "--format", "qti", *args, "--lang", lang, "--ask", "E_total", "-o", "q.zip", cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / "q.zip") as archive:
        (test,) = [name for name in archive.namelist() if name.endswith(".xml") and "/" in name]
        assert ET.fromstring(archive.read(test)).find(f"{QTI}assessment").get("title") == title


# ---- each window: the digits asked, and no answer from a gradient 1 % off ----------------------------


def key_of(meaning: str) -> str:
    """The step a Cloze row asks, from the quantity it names: "w1 after the step" → w1+."""
    if meaning.startswith("total error after the step"):
        return "E_total+"
    if meaning.startswith("total error"):
        return "E_total"
    found = re.match(r"gradient of the total error with respect to (\w+),", meaning)
    return f"dE/d{found[1]}" if found else re.match(r"(\w+) after the step,", meaning)[1] + "+"


def slipped(spec, scale: float) -> dict[str, float]:
    """Every gradient, update and E_total after the step, worked with the gradient times ``scale``."""
    gradients = autograd_gradients(spec)
    rate = float(spec.learning_rate)
    trained = [name for name in spec.parameter_names() if spec.train_biases or name.startswith("w")]
    updated = {name: float(spec.parameters()[name]) - rate * scale * gradients[name] for name in trained}
    after = spec.with_parameters({name: as_fraction(value) for name, value in updated.items()})
    values = {f"dE/d{name}": scale * gradient for name, gradient in gradients.items()}
    return values | {f"{name}+": value for name, value in updated.items()} | {"E_total+": float(loss_value(after))}


def assert_refuses_every_slip(key: str, digits: int, accepts, slips) -> None:
    for wrong in (Decimal(repr(values[key])) for values in slips):
        assert not accepts(wrong), f"{key}: {wrong}, from a gradient 1 % off, is accepted"
        assert not accepts(rounded(wrong, digits)), f"{key}: {rounded(wrong, digits)} (1 % off, rounded) is accepted"


@pytest.mark.parametrize("name", ["mazur", "xor"])
def test_no_moodle_window_admits_an_answer_worked_from_a_gradient_one_percent_off(name):
    spec = example(name).spec
    slips = [slipped(spec, 0.99), slipped(spec, 1.01)]
    expected = independent_values(spec)
    (question,) = cloze_questions(moodle(name))
    meanings = [meaning for meaning, *_ in ROW.findall(question.findtext("questiontext/text"))]
    keys = [key_of(meaning) for meaning in meanings]
    assert keys == MAZUR_ASKED if name == "mazur" else len(keys) == 1 + 9 + 9 + 1
    for key, (digits, value, tolerance) in zip(keys, rows(question), strict=True):
        assert float(value) == pytest.approx(expected[key], rel=1e-9, abs=1e-15), key
        assert tolerance == one_unit(value, digits), key  # relative: a unit of the last digit asked, as check
        assert digits == 4 or key.endswith("+"), key  # more digits only where the step changes little
        accepts = lambda answer, v=value, t=tolerance: abs(answer - v) <= t  # noqa: E731  Moodle's rule
        assert_tolerance_behaves(value, accepts, digits)
        if key != "E_total":
            assert_refuses_every_slip(key, digits, accepts, slips)
    if name == "mazur":  # the w1⁺: ±0.0001 at 4 digits let any gradient from 0.00024 to 0.00064 pass
        digits, value, tolerance = rows(question)[MAZUR_ASKED.index("w1+")]
        assert (digits, tolerance) == (6, Decimal("0.000001"))
        admitted = tolerance / Decimal("0.5") / Decimal("0.000438568")  # the gradient's relative error let through
        assert admitted < Decimal("0.005")  # under half the 1 % slip
        assert say("en", "quiz.more_digits") in question.findtext("questiontext/text")


@pytest.mark.parametrize("name", ["mazur", "xor"])
def test_no_qti_window_admits_an_answer_worked_from_a_gradient_one_percent_off(name, tmp_path):
    spec = example(name).spec
    slips = [slipped(spec, 0.99), slipped(spec, 1.01)]
    run_derive("quiz", name, "--format", "qti", "-o", "q.zip", cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / "q.zip") as archive:
        (test,) = [entry for entry in archive.namelist() if entry.endswith(".xml") and "/" in entry]
        items = numerical_items(ET.fromstring(archive.read(test)).find(f"{QTI}assessment"))
    for item in items:
        key = item.get("title")
        value, digits, accepts = qti_rule(item)
        assert_tolerance_behaves(value, accepts, digits)
        if key != "E_total":
            assert_refuses_every_slip(key, digits, accepts, slips)
        text = item_text(item)
        assert (say("en", "quiz.more_digits_one") in text) == (digits > 4), key


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        ("E_total,E_totl", "derive: --ask: unknown key 'E_totl'; did you mean 'E_total'? (`derive keys` lists them)"),
        ("net_h1,1", "derive: --ask: '1' asks for 'net_h1' a second time; expected each step once"),
    ],
)
def test_an_ask_list_is_refused_whole_naming_the_step(ask, message):
    result = run_derive("quiz", "--format", "moodle", "--ask", ask, check=False)
    assert (result.returncode, result.stdout, result.stderr.strip()) == (2, "", message)


def test_a_changed_network_named_like_the_worked_example_is_titled_by_its_name():
    """Only the worked example itself, or a student's variant of it, is "Mazur's worked example"; the
    same network with another learning rate is "the network “mazur”", and so are its variants."""
    from dataclasses import replace

    from derive.assessment.quiz import network_name
    from derive.outputs.render import default_renderer
    from derive.spec.files import load_builtin

    t = default_renderer().catalog("en")
    mazur = load_builtin("mazur")
    changed = replace(mazur, learning_rate=mazur.learning_rate / 2)
    assert network_name(mazur, t) == network_name(variant(mazur, 1, 2), t, student=2, seed=1)
    assert network_name(mazur, t) == "Mazur's worked example"
    assert network_name(changed, t) == "the network “mazur”"
    assert network_name(variant(changed, 1, 2), t, student=2, seed=1) == "the network “mazur”"


@pytest.mark.parametrize(("form", "lang"), FORMS)
def test_a_first_update_with_momentum_says_it_has_no_update_before(form, lang, tmp_path):
    """Update 1 of a network with momentum: Δθ before it is zero, which is said once, not listed by parameter."""
    path = network_file(tmp_path, "xor", batch_size=2, momentum=0.9)
    text = stated(form, lang, path, "--example", "1", "--ask", "dE/dw5,w5+", folder=tmp_path)
    assert say(lang, "momentum_note", beta="0.9") in text
    assert say(lang, "momentum_zero").split("{")[0][:30] in text
    assert mathjax(say(lang, "quiz.change_before")) not in text  # no column of zeros in the table
