"""Quizzes for Moodle and Canvas, parsed as the platforms read them.

Every answer is checked against values computed independently (autograd's gradients and a plain
NumPy forward pass, in ``tests/reference.py``), and every tolerance by the platforms' own rule:
an answer is accepted when |answer − value| ≤ tolerance (Moodle), or when it lies between the
bounds (QTI).
"""

import base64
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from derive import example
from derive.spec.variants import variant
from tests.conftest import run_derive
from tests.documents import katex_failures
from tests.reference import as_fraction, autograd_gradients, loss_value

CLOZE = re.compile(r"\{1:NUMERICAL:=(-?[0-9.]+):([0-9.]+)\}")
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


def assert_tolerance_behaves(value: Decimal, accepts, digits: int) -> None:
    """The value rounded to ``digits`` significant digits passes; a unit off in an earlier digit fails."""
    answer = rounded(value, digits)
    assert accepts(answer), f"{answer} refused for {value}"
    earlier = Decimal(1).scaleb(value.adjusted() - digits + 2)
    assert not accepts(answer + earlier) and not accepts(answer - earlier), f"{answer} ± {earlier} accepted"


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


# ---- Moodle XML -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mazur_quiz():
    return moodle()


def test_moodle_asks_every_default_step_with_the_right_answer(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
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


def test_moodle_tolerances_accept_the_rounded_value_and_refuse_an_earlier_digit(mazur_quiz):
    (question,) = cloze_questions(mazur_quiz)
    for value, tolerance in codes(question):

        def accepts(answer, value=value, tolerance=tolerance):
            return abs(answer - value) <= tolerance  # Moodle's rule for a NUMERICAL answer

        assert_tolerance_behaves(value, accepts, 4)
    value, tolerance = codes(question)[MAZUR_ASKED.index("dE/dw1")]
    assert tolerance == Decimal("0.0000001")  # the example: 0.0004386 for 0.000438568
    assert abs(Decimal("0.0004386") - value) <= tolerance and abs(Decimal("0.0004396") - value) > tolerance


def test_more_digits_tighten_the_tolerance():
    (question,) = cloze_questions(moodle("--digits", "6", "--ask", "dE/dw1"))
    ((value, tolerance),) = codes(question)
    assert tolerance == Decimal("1e-9")
    assert_tolerance_behaves(value, lambda answer: abs(answer - value) <= tolerance, 6)


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
    assert category == "$course$/top/Backpropagation: mazur"
    for number, question in enumerate(questions, start=1):
        assert question.findtext("name/text") == f"mazur, variant {number}"
        expected = independent_values(variant(example().spec, 7, number))
        found = codes(question)
        for key, (value, tolerance) in zip(MAZUR_ASKED, found, strict=True):
            assert float(value) == pytest.approx(expected[key], rel=1e-9, abs=1e-15), (number, key)
            assert_tolerance_behaves(value, lambda answer, v=value, t=tolerance: abs(answer - v) <= t, 4)


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
    assert katex_failures("\n".join(f"${fragment}$" for fragment in math)) == []


def test_user_text_is_escaped(tmp_path):
    name = 'a&b<"c">{1:SHORTANSWER:=x}'
    (tmp_path / f"{name}.toml").write_text(run_derive("example").stdout, encoding="utf-8")
    quiz = moodle(f"{name}.toml", "--ask", "E_total,dE/dw5", cwd=tmp_path)
    (question,) = cloze_questions(quiz)
    assert question.findtext("name/text") == f"Backpropagation on the network “{name}”"
    assert quiz.find("question/category/text").text == f"$course$/top/Backpropagation: {name}"
    assert len(re.findall(r"\{\d*:", question.findtext("questiontext/text"))) == 2  # only our own blanks


def test_spanish_quiz():
    quiz = moodle("--lang", "es", "--ask", "E_total")
    (question,) = cloze_questions(quiz)
    text = question.findtext("questiontext/text")
    assert "tasa de aprendizaje" in text and "cifras significativas" in text
    assert question.findtext("name/text") == "Retropropagación en la red “mazur”"


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
        files = [element.get("href") for element in manifest.iter() if element.tag.endswith("}file")]
        assert set(files) == set(names) - {"imsmanifest.xml"}
        tests = [name for name in names if name.endswith(".xml") and name != "imsmanifest.xml"]
        assert len(tests) == 2
        for name in tests:
            root = ET.fromstring(archive.read(name))
            (assessment,) = root.findall(f"{QTI}assessment")
            number = int(assessment.get("title").rsplit(" ", 1)[1])
            expected = independent_values(variant(example().spec, 7, number))
            items = numerical_items(assessment)
            assert [item.get("title") for item in items] == MAZUR_ASKED
            for item in items:
                _check_numerical(item, expected[item.get("title")])
        for name in names:
            if name.endswith(".svg"):
                assert ET.fromstring(archive.read(name)).tag == f"{SVG}svg"


def _check_numerical(item: ET.Element, expected: float) -> None:
    condition = item.find(f".//{QTI}respcondition[@continue='No']/{QTI}conditionvar/{QTI}or")
    value = Decimal(condition.find(f"{QTI}varequal").text)
    low = Decimal(condition.find(f"{QTI}and/{QTI}vargte").text)
    high = Decimal(condition.find(f"{QTI}and/{QTI}varlte").text)
    assert float(value) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert_tolerance_behaves(value, lambda answer: answer == value or low <= answer <= high, 4)
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
