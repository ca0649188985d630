"""The exam as a department prints it, and its key with the mark scheme, read as a lecturer reads them.

Every answer of the key is recomputed here for the exam's own numbers: the forward pass written out
in plain Python and the gradients by autograd (tests/reference.py), never by derive.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from decimal import Decimal

import pytest

from derive.spec.files import builtin_text, load_builtin, load_path
from derive.spec.variants import variant
from tests.conftest import require_tool, run_derive
from tests.documents import compile_latex, pdf_text
from tests.reference import autograd_gradients

pytestmark = pytest.mark.xdist_group("exam")  # its module-scoped fixtures made once, on one worker

NUMBER = r"-?\d+(?:(?:\.|\{,\})\d+)?"  # a number in the key's LaTeX: 0.5933, or in Spanish 0{,}5933

SEED = 11
# What each language's sheet says, as pdftotext reads it.
WORDS = {
    "en": {
        "head": ["Neural networks", "Exam: backpropagation", "Date:", "Name:", "Student ID:", "Instructions"],
        "calculator": "Calculators: a scientific calculator is allowed",
        "duration": r"Duration:\s+(\d+) minutes",
        "total": r"Total:\s+(\d+) marks",
        "marks": r"\[(\d+) marks?\]",
        "question": r"^\s*Question (\d+)",
        "example": "e.g. [4 marks]",
        "figures": "Give every numerical answer to {figures} significant figures",
        "symbolic": ["in symbols, without numbers", "times one more chain-rule factor", "needs every path"],
        "conventions": [
            "signals (δo1 = ∂Etotal /∂neto1 , δo2 = ∂Etotal /∂neto2 )",
            "2 inputs, a hidden layer of 2 neurons and an output layer of 2.",
            "θ+ = θ − η ∂Etotal /∂θ",
            "(w5 after the update)",
        ],
        "legend": ["the significant figures the part asks (4 unless the part says more)", "the result of the rounded"],
        "accept": rf"\(accept \$({NUMBER})\$ to \$({NUMBER})\$\)",
        "seed": "variant 1 of seed {seed}",
        "key": ["Exam: answer key and mark scheme", "M: a method mark", "ECF (error carried forward)"],
    },
    "es": {
        "head": ["Redes neuronales", "Examen: retropropagación", "Fecha:", "Nombre y apellidos:", "DNI:"],
        "calculator": "Calculadora: se permite una calculadora científica",
        "duration": r"Duración:\s+(\d+) minutos",
        "total": r"Total:\s+(\d+) puntos",
        "marks": r"\[(\d+) puntos?\]",
        "question": r"^\s*Pregunta (\d+)",
        "example": "p. ej. [4 puntos]",
        "figures": "Da cada resultado numérico con {figures} cifras significativas",
        "symbolic": ["en símbolos, sin números", "por un factor más de la regla", "necesita todos los caminos"],
        "conventions": [
            "señales de error de la capa siguiente (δo1 = ∂Etotal /∂neto1 , δo2 = ∂Etotal /∂neto2 )",
            "2 entradas, una capa oculta de 2 neuronas y una capa de salida de 2.",
            "θ+ = θ − η ∂Etotal /∂θ",
            "(w5 tras la actualización)",
            "Muestra todos los cálculos",
            "si se deduce correctamente",
        ],
        "legend": [
            "las cifras significativas que pide el apartado (4 salvo que pida más)",
            "el resultado de los números",
        ],
        "accept": rf"\(se acepta de \$({NUMBER})\$ a \$({NUMBER})\$\)",
        "seed": "variante 1 de la semilla {seed}",
        "key": ["Examen: soluciones y criterios de corrección", "M: punto de método", "EA (error arrastrado)"],
    },
}


@pytest.fixture(scope="module")
def exams() -> dict:
    """The exams made so far, by language: each made once, however pytest orders the tests that read it."""
    return {}


@pytest.fixture(params=["en", "es"])
def exam(request, exams, tmp_path_factory):
    """The exam of seed SEED and its key, written and compiled by the command line, in one language."""
    language = request.param
    if language not in exams:
        folder = tmp_path_factory.mktemp(f"exam-{language}")
        options = ["--exercise", "exam", "--seed", str(SEED), "--lang", language, "--pdf", "-o", str(folder)]
        run_derive("worksheet", *options)
        exams[language] = WORDS[language], folder
    return exams[language]


def pages(pdf) -> int:
    info = subprocess.run([require_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])


def test_both_documents_compile_cleanly_with_their_fonts_embedded(exam):
    _, folder = exam
    for name, most in (("exam", 5), ("exam-solutions", 4)):
        log = compile_latex(folder / f"{name}.tex")
        assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log, name
        assert 2 <= pages(folder / f"{name}.pdf") <= most, name
        fonts = subprocess.run([require_tool("pdffonts"), str(folder / f"{name}.pdf")], capture_output=True, text=True)
        rows = fonts.stdout.splitlines()[2:]
        assert rows and all(row.split()[-5] == "yes" for row in rows), fonts.stdout  # the "emb" column


def test_the_header_names_what_a_student_needs(exam):
    words, folder = exam
    text = pdf_text(folder / "exam.pdf")
    first = text.split("\f")[0]
    for field in words["head"]:
        assert field in first, field
    assert words["calculator"] in " ".join(first.split())
    total = int(re.search(words["total"], first)[1])
    minutes = int(re.search(words["duration"], first)[1])
    assert minutes == max(30, 5 * math.ceil(1.5 * total / 5))  # the default: a mark and a half a minute
    assert words["figures"].format(figures=4) in " ".join(first.split())


def test_the_marks_of_the_parts_add_up_to_each_question_and_to_the_total(exam):
    words, folder = exam
    text = pdf_text(folder / "exam.pdf")
    total = int(re.search(words["total"], text)[1])
    questions: list[tuple[int, int]] = []  # each question's heading marks
    parts: dict[int, list[int]] = {}
    current = 0
    for line in text.replace(words["example"], "").splitlines():
        heading = re.match(words["question"], line)
        found = [int(m) for m in re.findall(words["marks"], line)]
        if heading:
            current = int(heading[1])
            questions.append((current, found[0]))
        elif found:
            parts.setdefault(current, []).extend(found)
    assert [number for number, _ in questions] == [1, 2, 3]
    assert all(number > 0 for number in parts)  # no marks before the first question
    for number, marks in questions:
        assert sum(parts[number]) == marks, (number, parts[number], marks)
    assert sum(marks for _, marks in questions) == total
    assert [len(parts[number]) for number, _ in questions] == [3, 2, 4]


def test_the_exam_asks_for_the_figures_and_for_symbols(exam):
    words, folder = exam
    text = " ".join(pdf_text(folder / "exam.pdf").split())
    for phrase in words["symbolic"]:
        assert phrase in text, phrase
    assert "δh1" in text and "∂Etotal /∂w1" in text


def test_the_exam_states_its_conventions_and_the_key_its_legend(exam):
    """δ of the next layer defined, the layers counted without the inputs, the update rule, the legend."""
    words, folder = exam
    text = " ".join(pdf_text(folder / "exam.pdf").split())
    for phrase in words["conventions"]:
        assert phrase in text, phrase
    assert "layers of 2 → 2 → 2" not in text and "capas de 2 → 2 → 2" not in text
    assert "after the step" not in text and "tras el paso" not in text and "ejemplo resuelto" not in text
    key = " ".join(pdf_text(folder / "exam-solutions.pdf").split())
    for phrase in words["legend"]:
        assert phrase in key, phrase


def test_the_hidden_gradient_part_does_not_mark_the_sum_over_paths_again(exam):
    """3(b) builds ∂E/∂w1 on 3(a)'s δ: the sum over the paths is written and marked in 3(a) only."""
    _, folder = exam
    key = pdf_text(folder / "exam-solutions.pdf")
    third = key[key.index("3:") :]
    first, second = third[: third.index("(b) [")], third[third.index("(b) [") : third.index("(c) [")]
    paths = re.compile(r"δo1 · w5\s*\+\s*δo2 · w7")
    assert len(paths.findall(first)) == 2  # the answer and its B mark
    assert not paths.findall(second) and "∂neto" not in second
    assert "δh1 · i1" in second


# -- the key, recomputed ------------------------------------------------------------------------------


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def independent_values(spec) -> dict[str, float]:
    """The key's values by the textbook formulas: the forward pass by hand, the gradients by autograd."""
    values: dict[str, float] = {}
    inputs = [float(x) for x in spec.examples[0].inputs]
    for layer in spec.layers:
        outs = []
        for j, row in enumerate(layer.weights):
            bias = float(layer.bias if layer.shared_bias else layer.bias[j])
            net = sum(float(w) * x for w, x in zip(row, inputs, strict=True)) + bias
            name = layer.neuron_name(j)
            values[rf"\mathrm{{net}}_{{{name}}}"] = net
            values[rf"\mathrm{{out}}_{{{name}}}"] = sigmoid(net)
            outs.append(sigmoid(net))
        inputs = outs
    targets = [float(t) for t in spec.examples[0].targets]
    values[r"E_{\text{total}}"] = sum((t - o) ** 2 / 2 for t, o in zip(targets, inputs, strict=True))
    gradients = autograd_gradients(spec)
    weights = {name: float(value) for name, value in spec.parameters().items()}
    for name in ("w5", "w1"):
        values[rf"\partial E_{{\text{{total}}}} / \partial w_{{{name[1:]}}}"] = gradients[name]
        values[rf"w_{{{name[1:]}}}^{{+}}"] = weights[name] - float(spec.learning_rate) * gradients[name]
    return values | {f"grad {name}": value for name, value in gradients.items()} | weights


def the_exams_network():
    return variant(load_builtin("mazur"), SEED, 1)


def test_the_exam_shows_its_own_numbers_and_the_key_names_the_seed(exam):
    words, folder = exam
    spec = the_exams_network()
    sheet = pdf_text(folder / "exam.pdf")
    for name, value in spec.parameters().items():  # the parameter table: w1 i1 → h1 0.72
        assert re.search(rf"\b{name[0]}{name[1:]}\s.*\s{float(value):g}\b", sheet), name
    assert spec.parameters() != load_builtin("mazur").parameters()  # not the published numbers
    key = " ".join(pdf_text(folder / "exam-solutions.pdf").split())
    assert words["seed"].format(seed=SEED) in key
    for phrase in words["key"]:
        assert phrase in key, phrase


def point(number: str) -> str:
    """A number as the key writes it, with a decimal point: Spanish writes 0{,}5933."""
    return number.replace("{,}", ".")


def accuracy_marks(key_tex: str, accept: str) -> dict[str, tuple[str, float, float]]:
    """Each A mark's value and window in the key's LaTeX: symbol → (answer, lowest, highest)."""
    found = {}
    for line in key_tex.splitlines():
        if not line.startswith(r"\item[\textbf{A1}") and not line.startswith(r"\item[\textbf{E1}"):
            continue
        for symbol, answer, low, high in re.findall(rf"\$([^$]+?) = ({NUMBER})\$ {accept}", line):
            found[symbol] = (point(answer), float(point(low)), float(point(high)))
    return found


def last_place(answer: str) -> float:
    return 10.0 ** Decimal(answer).as_tuple().exponent


def test_every_answer_of_the_key_is_the_value_recomputed(exam):
    words, folder = exam
    spec = the_exams_network()
    expected = independent_values(spec)
    marks = accuracy_marks((folder / "exam-solutions.tex").read_text(encoding="utf-8"), words["accept"])
    asked = [symbol for symbol in expected if not symbol.startswith("grad ") and "_" in symbol]
    assert set(asked) <= set(marks), set(asked) - set(marks)
    for symbol in asked:
        answer, low, high = marks[symbol]
        value = expected[symbol]
        assert abs(float(answer) - value) <= last_place(answer) / 2 * (1 + 1e-9), (symbol, answer, value)
        assert low <= value <= high and high - low <= 4 * last_place(answer), (symbol, low, high)
        digits = len(Decimal(answer).normalize().as_tuple().digits)
        if symbol.endswith("^{+}"):  # an update: enough figures that its change −η·∂E/∂w shows to 4
            weight = "w" + re.match(r"w_\{(\d+)\}", symbol)[1]
            change = abs(value - expected[weight])
            assert last_place(answer) <= 10.0 ** (math.floor(math.log10(change)) - 3), (symbol, answer)
        else:
            assert digits <= 4 and last_place(answer) == 10.0 ** (math.floor(math.log10(abs(value))) - 3), symbol


def rhs_of(key_tex: str, lhs: str) -> list[str]:
    """The right sides of a symbolic answer in the key: the rows after ``lhs &=``, up to the align's end."""
    block = key_tex[key_tex.index(f"{lhs} &= ") :]
    block = block[: block.index(r"\end{align*}")]
    return [row.split("&=", 1)[1].strip().rstrip("\\").strip() for row in block.split("\n") if "&=" in row]


def as_python(latex: str) -> str:
    """A product of symbols in LaTeX as Python: δ_o1 → d_o1, out_h1 → out_h1, w_5 → w5."""
    text = latex.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\cdot", "*")
    text = re.sub(r"\\delta_\{(\w+)\}", r"d_\1", text)
    text = re.sub(r"\\mathrm\{out\}_\{(\w+)\}", r"out_\1", text)
    return re.sub(r"w_\{(\d+)\}", r"w\1", text)


def test_the_symbolic_delta_is_the_gradient_autograd_finds(exam):
    """δ_h1 as the key writes it, evaluated at the numbers: ∂E/∂w1 = δ_h1 · i1 (autograd)."""
    _, folder = exam
    spec = the_exams_network()
    values = independent_values(spec)
    key = (folder / "exam-solutions.tex").read_text(encoding="utf-8")
    symbolic = rhs_of(key, r"\delta_{h1}")[-1]
    assert symbolic == (
        r"\left(\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}\right) \cdot \mathrm{out}_{h1} \cdot "
        r"\left(1 - \mathrm{out}_{h1}\right)"
    )
    out_h1 = values[r"\mathrm{out}_{h1}"]
    names = {
        "d_o1": values["grad w5"] / out_h1,  # ∂E/∂w5 = δ_o1 · out_h1
        "d_o2": values["grad w7"] / out_h1,
        "out_h1": out_h1,
        "w5": values["w5"],
        "w7": values["w7"],
    }
    delta = eval(as_python(symbolic), {}, names)  # our own key's formula, parsed above
    assert delta * float(spec.examples[0].inputs[0]) == pytest.approx(values["grad w1"], rel=1e-12)
    # the gradient from δ: δ_h1 · ∂net_h1/∂w1, then δ_h1 · i1
    gradient = rhs_of(key, r"\frac{\partial E_{\text{total}}}{\partial w_{1}}")
    assert gradient[-1] == r"\delta_{h1} \cdot i_{1}"


# -- what the lecturer sets ---------------------------------------------------------------------------


def part_marks(tex: str) -> list[int]:
    return [int(m) for m in re.findall(r"\\mbox\{\[(\d+) marks?\]\}", tex)]


def heading_marks(tex: str) -> list[int]:
    return [int(m) for m in re.findall(r"\\bfseries Question \d+: [^\n]*\\hfill\[(\d+) marks\]", tex)]


def scheme_marks(key: str) -> list[int]:
    """Each part's marks in the mark scheme: the sum of its M, A and B lines."""
    found = []
    for part in re.split(r"\\paragraph\{\([a-z]\) \[\d+ marks?\]\}", key)[1:]:
        found.append(sum(int(m) for m in re.findall(r"\\item\[\\textbf\{[MAB](\d+)\}", part)))
    return found


@pytest.mark.parametrize(
    ("marks", "questions", "each"),
    [
        ("10,8,12", [10, 8, 12], None),
        ("4+4+3,4+2,3+3+4+2", [11, 6, 12], [4, 4, 3, 4, 2, 3, 3, 4, 2]),
        ("5,2,20", [5, 2, 20], None),
    ],
)
def test_marks_sets_each_question_or_each_part(marks, questions, each, tmp_path):
    run_derive("worksheet", "--exercise", "exam", "--seed", "3", "--marks", marks, "-o", str(tmp_path))
    tex = (tmp_path / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "exam-solutions.tex").read_text(encoding="utf-8")
    assert heading_marks(tex) == questions
    parts = part_marks(tex)
    assert sum(parts) == sum(questions) and f"Total:}} {sum(questions)} marks" in tex
    if each:
        assert parts == each
    assert scheme_marks(key) == parts  # each part's mark scheme is worth its marks


MARKS_FORM = (
    "derive worksheet: error: argument --marks: expected whole numbers of marks from 1 to 100, one per question "
    "separated by commas, a question's parts joined by + (e.g. 11,6,12 or 4+4+3,6,12); got '{}' "
    "(see 'derive worksheet --help')"
)
BAD_MARKS = {  # seed 3's exam: three questions of 3, 2 and 4 parts, 4+4+3,4+2,3+3+4+2 by default
    "10,10": "derive: --marks: this exam has 3 questions, got marks for 2 "
    "(its default, part by part: --marks 4+4+3,4+2,3+3+4+2)",
    "4+4,6,12": "derive: --marks: question 1 has 3 parts, got 2 marks for it (4+4; its default is 4+4+3)",
    "4+4+3,4+2+1,12": "derive: --marks: question 2 has 2 parts, got 3 marks for it (4+2+1; its default is 4+2)",
    "2,2,2": "derive: --marks: question 1 has 3 parts of at least 1 mark each, got 2",
    "4+4+3,1,12": "derive: --marks: question 2 has 2 parts of at least 1 mark each, got 1",
    "x": MARKS_FORM.format("x"),
    "0,5,5": MARKS_FORM.format("0,5,5"),
    "4,,5": MARKS_FORM.format("4,,5"),
}


@pytest.mark.parametrize("marks", sorted(BAD_MARKS))
def test_a_bad_marks_is_one_line_naming_the_option_and_writes_nothing(marks, tmp_path):
    folder = tmp_path / "out"
    result = run_derive(
        "worksheet", "--exercise", "exam", "--seed", "3", "--marks", marks, "-o", str(folder), check=False
    )
    assert result.returncode == 2
    assert result.stderr == BAD_MARKS[marks] + "\n"
    assert not folder.exists()


def test_the_header_options_and_the_figures_asked(tmp_path):
    run_derive(
        "worksheet",
        "--exercise",
        "exam",
        "--seed",
        "3",
        "--course",
        "Machine Learning II",
        "--date",
        "12 June 2025",
        "--minutes",
        "90",
        "--digits",
        "3",
        "-o",
        str(tmp_path),
    )
    tex = (tmp_path / "exam.tex").read_text(encoding="utf-8")
    assert "Machine Learning II" in tex and "12 June 2025" in tex and "90 minutes" in tex
    assert "Give every numerical answer to 3 significant figures" in tex
    key = (tmp_path / "exam-solutions.tex").read_text(encoding="utf-8")
    answers = accuracy_marks(key, WORDS["en"]["accept"])
    gradient = answers[r"\partial E_{\text{total}} / \partial w_{5}"][0]
    assert len(Decimal(gradient).as_tuple().digits) == 3
    # a document that is not an exam has no marks, time or header
    result = run_derive("worksheet", "--marks", "4,4", "-o", str(tmp_path / "ws"), check=False)
    assert result.returncode == 2 and "argument --marks: goes with --exercise exam" in result.stderr


def test_the_published_example_only_when_named(tmp_path):
    run_derive("worksheet", "mazur", "--exercise", "exam", "-o", str(tmp_path / "named"))
    key = (tmp_path / "named" / "exam-solutions.tex").read_text(encoding="utf-8")
    published = accuracy_marks(key, WORDS["en"]["accept"])
    assert published[r"\partial E_{\text{total}} / \partial w_{5}"][0] == "0.08217"  # Mazur: 0.082167041
    assert "Mazur's worked example" in key
    result = run_derive("worksheet", "--exercise", "exam", "-o", str(tmp_path / "default"))
    seed = re.search(r"--seed (\d+)", result.stderr)[1]
    key = (tmp_path / "default" / "exam-solutions.tex").read_text(encoding="utf-8")
    assert f"variant 1 of seed {seed}" in key and rf"\texttt{{-{{}}-seed {seed}}}" in key
    own = accuracy_marks(key, WORDS["en"]["accept"])
    spec = variant(load_builtin("mazur"), int(seed), 1)
    expected = autograd_gradients(spec)["w5"]
    assert abs(float(own[r"\partial E_{\text{total}} / \partial w_{5}"][0]) - expected) < 1e-4 * max(1, abs(expected))
    # each student's variant names itself on the key, so that it can be written again
    run_derive("worksheet", "--exercise", "exam", "--variants", "2", "--seed", "5", "-o", str(tmp_path / "class"))
    key = (tmp_path / "class" / "exam-solutions-02.tex").read_text(encoding="utf-8")
    assert r"variant 2 of seed 5" in key and r"\texttt{-{}-variant 2 -{}-seed 5}" in key


@pytest.mark.parametrize(("total", "minutes"), [(1, 30), (12, 30), (19, 30), (20, 30), (21, 35), (34, 55), (60, 90)])
def test_an_exam_lasts_a_minute_and_a_half_a_mark_in_fives_and_at_least_half_an_hour(total, minutes):
    from derive.document.marking import ExamSetting

    assert ExamSetting().duration(total) == minutes  # 21 marks: 31.5 minutes, so 35
    assert ExamSetting(minutes=45).duration(total) == 45  # as the lecturer sets it


def test_the_figures_a_small_change_needs_stop_at_the_most_the_command_line_allows(tmp_path):
    """w⁺ = 1 − 10⁻²⁰ would need 23 figures for its change to show: it is asked to 15, the most `--digits` takes."""
    from fractions import Fraction

    from derive.core.numbers import exact
    from derive.document.marking import figures_for_change

    after, change = exact(Fraction(1) - Fraction(1, 10**20)), exact(Fraction(-1, 10**20))
    assert figures_for_change(after, change, 4) == 15
    assert figures_for_change(exact(Fraction(2999431, 10**7)), exact(Fraction(-569, 10**7)), 4) == 8  # 4 + 4 more
    cases = [((25, 1), (0, 1), 4), ((0, 1), (-1, 1000), 4), ((1, 1), (-1, 1000), 7), ((3, 10), (1, 10), 4)]
    cases.append(((1, 100), (-1, 2), 4))  # a change larger than the value: no more figures
    for (after_p, after_q), (change_p, change_q), figures in cases:
        found = figures_for_change(exact(Fraction(after_p, after_q)), exact(Fraction(change_p, change_q)), 4)
        assert found == figures, (after_p / after_q, change_p / change_q)
    result = run_derive("worksheet", "--exercise", "exam", "--digits", "16", "-o", str(tmp_path / "out"), check=False)
    assert result.returncode == 2 and "expected 1 to 15" in result.stderr


def largest_remainder(total: int, weights: list[int]) -> tuple[int, ...]:
    """Hamilton's method after one mark each: quotas 1 + (total − n)·w/Σw, each cut to its whole part,
    the marks left over given to the largest fractional parts (the first of equal ones first)."""
    from fractions import Fraction

    quotas = [1 + Fraction((total - len(weights)) * weight, sum(weights)) for weight in weights]
    shares = [math.floor(quota) for quota in quotas]
    order = sorted(range(len(quotas)), key=lambda k: (-(quotas[k] - shares[k]), k))
    for k in order[: total - sum(shares)]:
        shares[k] += 1
    return tuple(shares)


def test_a_questions_marks_are_shared_among_its_parts_by_largest_remainder():
    import random

    from derive.document.marking import share

    assert share(5, [3, 1]) == (3, 2)  # quotas 3.25 and 1.75: the larger remainder takes the mark left
    assert share(12, [4, 2, 4, 2]) == (4, 2, 4, 2)
    assert share(4, [1, 1, 1]) == (2, 1, 1)  # three equal remainders: the first part takes the mark
    assert share(8, [1, 2, 2]) == (2, 3, 3)  # quotas 2, 3 and 3 exactly: nothing left to give
    assert share(9, [2, 1, 1, 2]) == (3, 2, 2, 2)  # quotas 2⅔, 1⅚, 1⅚, 2⅔: both ⅚, then the first ⅔
    chance = random.Random(3)
    for _ in range(300):
        weights = [chance.randint(1, 6) for _ in range(chance.randint(1, 5))]
        total = chance.randint(len(weights), 40)
        assert share(total, weights) == largest_remainder(total, weights), (total, weights)


def test_a_scheme_given_more_marks_gives_them_to_the_method_and_given_fewer_merges_neighbours():
    from derive.document.marking import allot
    from derive.document.model import Mark

    scheme = [Mark("M", 1, ["m1"]), Mark("A", 1, ["a1"]), Mark("M", 1, ["m2"]), Mark("A", 1, ["a2"])]
    more = allot(scheme, 7)  # three more, to the method lines in turn
    assert [(mark.code, mark.marks) for mark in more] == [("M", 3), ("A", 1), ("M", 2), ("A", 1)]
    independent = allot([Mark("B", 1, ["b"]), Mark("A", 1, ["a"])], 4)  # no method: the independent line
    assert [(mark.code, mark.marks) for mark in independent] == [("B", 3), ("A", 1)]
    fewer = allot([Mark("M", 2, ["m1"]), Mark("A", 1, ["a1"]), Mark("A", 1, ["a2"])], 2)
    assert [(mark.code, mark.marks, mark.earned) for mark in fewer] == [("M", 1, ["m1"]), ("A", 1, ["a1", "a2"])]
    first = allot([Mark("A", 1, ["a1"]), Mark("A", 1, ["a2"]), Mark("M", 1, ["m"])], 2)  # the first pair merges
    assert [(mark.code, mark.marks, mark.earned) for mark in first] == [("A", 1, ["a1", "a2"]), ("M", 1, ["m"])]
    heavier = allot([Mark("M", 2, ["m"]), Mark("A", 3, ["a"])], 4)  # the mark worth most gives one up
    assert [(mark.code, mark.marks) for mark in heavier] == [("M", 2), ("A", 2)]
    assert [mark.marks for mark in scheme] == [1, 1, 1, 1]  # the scheme given is left as it was


def test_the_schemes_method_lines_write_fractions_with_a_slash(exam):
    """A mark scheme's line sits in running text: σ is 1/(1 + e^{−net}), its denominator in parentheses,
    and each ∂a/∂b of a chain a/b, never a \\frac."""
    _, folder = exam
    key = (folder / "exam-solutions.tex").read_text(encoding="utf-8")
    lines = re.findall(r"^\\item\[\\textbf\{[MAB]\d\}\\hfill\] (.*)$", key, re.M)
    assert r"$\mathrm{out}_{h1} = 1/\left(1 + e^{- \mathrm{net}_{h1}}\right)$" in lines
    chain = r"\partial E_{\text{total}} / \partial \mathrm{out}_{o1} \cdot "
    chain += r"\partial \mathrm{out}_{o1} / \partial \mathrm{net}_{o1}"
    delta = rf"$\delta_{{o1}} = {chain}$"
    assert delta in lines
    assert lines and not [line for line in lines if r"\frac" in line]


def test_marks_of_one_line_each_are_gathered_neighbours_together():
    from derive.document.marking import grouped
    from derive.document.model import Mark

    lines = [Mark("M", 1, [name]) for name in "abcde"]
    assert [(mark.code, mark.marks, mark.earned) for mark in grouped(lines, 2)] == [
        ("M", 1, ["a", "b", "c"]),
        ("M", 1, ["d", "e"]),
    ]
    assert [mark.earned for mark in grouped(lines, 3)] == [["a", "b"], ["c", "d"], ["e"]]
    assert grouped(lines, 5) == lines and grouped(lines, 9) == lines


def test_a_value_is_asked_to_its_figures_and_accepted_a_unit_of_the_last_either_side():
    from fractions import Fraction

    from derive.core.numbers import exact
    from derive.document.marking import shown, significant, window

    assert significant(Decimal("0.000438568"), 4) == Decimal("0.0004386")
    assert significant(Decimal("0.00043865"), 4) == Decimal("0.0004386")  # a tie, to even
    assert significant(Decimal(0), 4) == 0 and shown(significant(Decimal(0), 4)) == "0"
    assert significant(Decimal(1), 4) == 1 and significant(Decimal("0.99996"), 4) == Decimal("1.000")
    assert [shown(Decimal(text)) for text in ("-0.000", "12350", "-0.03810")] == ["0", "12350", "-0.03810"]
    assert window(exact(Fraction(0)), Decimal(0), 4) == ("0", "-0.0001", "0.0001")
    assert window(exact(Fraction(3, 8)), Decimal("0.3751"), 3) == ("0.375", "0.374", "0.376")
    # the value a student rounding as they go gets is accepted too, with its own unit beyond it
    assert window(exact(Fraction(3, 8)), Decimal("0.3772"), 3) == ("0.375", "0.374", "0.378")


def test_the_symbolic_delta_part_asks_for_it_by_its_definition_and_keys_each_factor(tmp_path):
    """The hidden δ's part names δ_h1 by its definition, the next layer's δs by theirs and out_h1; its
    key writes δ_h1 as ∂E/∂out · ∂out/∂net, then by the next layer's δs and the weights, one mark each."""
    run_derive("worksheet", "--exercise", "exam", "--seed", str(SEED), "-o", str(tmp_path))
    exam = (tmp_path / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "exam-solutions.tex").read_text(encoding="utf-8")
    total = r"\partial E_{\text{total}}"
    assert (
        rf"Write the error signal $\delta_{{h1}} = {total} / \partial \mathrm{{net}}_{{h1}}$ of neuron h1 in symbols, "
        "without numbers: as a product of two chain-rule factors, then with each factor written in terms of the "
        rf"next layer's error signals ($\delta_{{o1}} = {total} / \partial \mathrm{{net}}_{{o1}}$, "
        rf"$\delta_{{o2}} = {total} / \partial \mathrm{{net}}_{{o2}}$), the weights and $\mathrm{{out}}_{{h1}}$."
    ) in exam
    factors = rf"{total} / \partial \mathrm{{out}}_{{h1}} \cdot "
    factors += r"\partial \mathrm{out}_{h1} / \partial \mathrm{net}_{h1}"
    assert (
        rf"\delta_{{h1}} &= \frac{{{total}}}{{\partial \mathrm{{out}}_{{h1}}}} \cdot "
        r"\frac{\partial \mathrm{out}_{h1}}{\partial \mathrm{net}_{h1}} \\" + "\n"
        r" &= \left(\delta_{o1} \cdot w_{5} + \delta_{o2} \cdot w_{7}\right) \cdot \mathrm{out}_{h1} \cdot "
        r"\left(1 - \mathrm{out}_{h1}\right)" + "\n"
    ) in key
    assert (
        rf"\item[\textbf{{B1}}\hfill] $\delta_{{h1}} = {factors}$" + "\n"
        rf"\item[\textbf{{B1}}\hfill] ${total} / \partial \mathrm{{out}}_{{h1}} = \delta_{{o1}} \cdot w_{{5}} + "
        r"\delta_{o2} \cdot w_{7}$" + "\n"
        r"\item[\textbf{B1}\hfill] $\partial \mathrm{out}_{h1} / \partial \mathrm{net}_{h1} = \mathrm{out}_{h1} \cdot "
        r"\left(1 - \mathrm{out}_{h1}\right)$" + "\n"
    ) in key


def test_a_network_without_a_hidden_layer_is_examined_on_its_forward_pass_and_its_output_layer(tmp_path):
    """One layer of weights: the forward pass, then the output weight's gradient (in symbols as its
    chain, then its value, then the update); no question on a hidden layer it does not have."""
    network = {"learning_rate": 0.5, "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2]]}]}
    network["layers"][0]["bias"] = 0.1
    network["examples"] = [{"inputs": [0.5, 0.9], "targets": [0.2]}]
    (tmp_path / "one.json").write_text(json.dumps(network), encoding="utf-8")
    run_derive("worksheet", str(tmp_path / "one.json"), "--exercise", "exam", "--seed", "2", "-o", str(tmp_path))
    exam = (tmp_path / "exam.tex").read_text(encoding="utf-8")
    questions = re.findall(r"Question (\d+): ([^\\]+)\\hfill\[(\d+) marks\]", exam)
    assert questions == [("1", "the forward pass", "5"), ("2", "the output layer", "8")]
    parts = re.findall(r"\\item\[\((\w)\)\] (\w+)", exam)
    assert parts == [("a", "Compute"), ("b", "Compute"), ("a", "Write"), ("b", "Compute"), ("c", "Compute")]
    assert r"Write $\partial E_{\text{total}} / \partial w_{1}$ as a product of chain-rule factors" in exam


# -- the hidden gradient's part, whole ------------------------------------------------------------------

# the worked example with a second example of its own (its numbers and both examples' δ checked below)
TWO_EXAMPLES = builtin_text("mazur") + "\n[[examples]]\ninputs = [0.30, 0.80]\ntargets = [0.70, 0.20]\n"


def hidden_deltas(text: str) -> list[float]:
    """δ_h1 of each example by the textbook: δ_o = (out − t)·out·(1 − out), δ_h1 = Σ_k δ_ok·w_k1·out_h1·(1 − out_h1)."""
    import tomllib

    spec = tomllib.loads(text)
    hidden, output = spec["layers"]
    deltas = []
    for example in spec["examples"]:
        x, t = example["inputs"], example["targets"]
        out_h = [sigmoid(sum(w * v for w, v in zip(row, x, strict=True)) + hidden["bias"]) for row in hidden["weights"]]
        out_o = [
            sigmoid(sum(w * v for w, v in zip(row, out_h, strict=True)) + output["bias"]) for row in output["weights"]
        ]
        delta_o = [(o - target) * o * (1 - o) for o, target in zip(out_o, t, strict=True)]
        back = sum(d * row[0] for d, row in zip(delta_o, output["weights"], strict=True))
        deltas.append(back * out_h[0] * (1 - out_h[0]))
    return deltas


TOTAL, W1 = r"\partial E_{\text{total}}", r"\partial w_{1}"


def gradient_key(examples: list[str], mark: str = "B") -> tuple[str, str]:
    """3(b)'s display and its two B lines as the key writes them, for the examples' superscripts
    (``[""]``: one example, none): each example's chain, δ · ∂net/∂w1, δ · i1, one product a line, added."""
    out, net = [rf"\mathrm{{out}}_{{h1}}{e}" for e in examples], [rf"\mathrm{{net}}_{{h1}}{e}" for e in examples]
    delta, i1 = [rf"\delta_{{h1}}{e}" for e in examples], [rf"i_{{1}}{e}" for e in examples]
    fraction = r"\frac{{{}}}{{{}}}".format
    d_out, d_net = [rf"\partial {o}" for o in out], [rf"\partial {n}" for n in net]
    chains = [
        rf"{fraction(TOTAL, o)} \cdot {fraction(o, n)} \cdot {fraction(n, W1)}"
        for o, n in zip(d_out, d_net, strict=True)
    ]
    by_delta = [rf"{d} \cdot {fraction(n, W1)}" for d, n in zip(delta, d_net, strict=True)]
    by_input = [rf"{d} \cdot {i}" for d, i in zip(delta, i1, strict=True)]
    added = " \\\\\n&\\quad + "  # a further example's product, on a line of its own
    rows = [
        rf"{fraction(TOTAL, W1)} &= {added.join(chains)}",
        *(f" &= {added.join(row)}" for row in (by_delta, by_input)),
    ]
    display = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
    inline = [rf"{d} \cdot \partial {n} / {W1}" for d, n in zip(delta, net, strict=True)]
    factors = "; ".join(rf"$\partial {n} / {W1} = {i}$" for n, i in zip(net, i1, strict=True))
    lines = (
        rf"\item[\textbf{{{mark}1}}\hfill] ${TOTAL} / {W1} = {' + '.join(inline)}$" + "\n"
        rf"\item[\textbf{{{mark}1}}\hfill] {factors}; ${TOTAL} / {W1} = {' + '.join(by_input)}$" + "\n"
    )
    return display, lines


def test_the_hidden_gradient_part_writes_each_examples_product_and_adds_them(tmp_path):
    """With two examples, 3(b)'s key adds each example's product, line by line and in its B lines, and the
    sheet says it is a sum; 3(c)'s numbers are each example's δ_h1 (the textbook's, computed here) times
    its i1, adding up to autograd's ∂E/∂w1."""
    (tmp_path / "two.toml").write_text(TWO_EXAMPLES, encoding="utf-8")
    run_derive("worksheet", "two.toml", "--exercise", "exam", "-o", "out", cwd=tmp_path)
    exam = (tmp_path / "out" / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "out" / "exam-solutions.tex").read_text(encoding="utf-8")
    display, lines = gradient_key(["^{(1)}", "^{(2)}"])
    assert display in key and lines in key
    assert "With several examples it is a sum of such products, one for each example." in exam
    assert "Compute the net input and the output of each neuron of layer h, for each example. " in exam
    assert (
        r"\item[\textbf{B1}\hfill] The reason: $\mathrm{out}_{h1}^{(1)}$ feeds 2 neurons of the next layer (o1, o2), "
        r"so a change in w1 reaches the error along 2 paths, one through each of them; $\delta_{h1}^{(1)}$ adds them "
        "all up (the multivariable chain rule), while an output weight reaches the error along one path only.\n"
    ) in key
    assert "Explain in one or two sentences why the gradient of w1 needs every path from neuron h1 to the error" in exam
    # room to write: 3(a) δ's two rows and its two factors, 1.2 cm a line and 0.4 cm more; 3(b) its
    # four lines and one for each example's product beyond the first
    spaces = re.findall(r"^\\item\[\((\w)\)\] (Write the error signal|Using).*\n\\vspace\{([\d.]+)cm", exam, re.M)
    assert [(letter, float(cm)) for letter, _, cm in spaces] == [("a", 5.2), ("b", 7.6)]
    products = r"\delta_{h1}^{(1)} \cdot i_{1}^{(1)} + \delta_{h1}^{(2)} \cdot i_{1}^{(2)}"
    number = r"(-?\d+\.\d+)"
    sums = rf"{re.escape(products)} = {number} \\cdot {number} \+ {number} \\cdot {number} = \\answer\{{{number}\}}"
    found = re.search(sums, key)
    assert found, "3(c)'s sum of products"
    first, i_first, second, i_second, gradient = map(float, found.groups())
    assert [first, second] == pytest.approx(hidden_deltas(TWO_EXAMPLES), abs=1e-9)
    assert [i_first, i_second] == [0.05, 0.30]
    assert gradient == pytest.approx(autograd_gradients(load_path(tmp_path / "two.toml"))["w1"], abs=1e-9)


def test_the_hidden_gradient_part_of_one_example_is_one_product_a_line(exam):
    """One example: 3(b)'s key is the chain, δ_h1 · ∂net_h1/∂w1, δ_h1 · i1, no sum, and the sheet says none."""
    words, folder = exam
    key = (folder / "exam-solutions.tex").read_text(encoding="utf-8")
    display, lines = gradient_key([""], mark="I" if words is WORDS["es"] else "B")
    assert display in key and lines in key
    sheet = (folder / "exam.tex").read_text(encoding="utf-8")
    assert "sum of such products" not in sheet and "suma de tales productos" not in sheet
    if words is WORDS["en"]:  # the layers' parts: one example, so no "for each example"
        assert "Compute the net input and the output of each neuron of layer h. " in sheet


def test_a_deeper_networks_hidden_delta_is_asked_from_the_layer_after_it(tmp_path):
    """The sheet gives deep.toml's shape (2 inputs, h, g, o); in h → g → o, δ_h1 is asked and keyed in terms
    of g's error signals (the next layer, not the output's) and the weights from h1 into g: w5 into g1 and w7
    into g2 (deep.toml's second layer, its first column)."""
    run_derive("worksheet", "deep", "--exercise", "exam", "-o", str(tmp_path))
    sheet = (tmp_path / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "exam-solutions.tex").read_text(encoding="utf-8")
    total = r"\partial E_{\text{total}}"
    assert "A feed-forward network of shape 2 → 2 → 2 → 1: the inputs, then the neurons of each layer." in sheet
    next_layer = ", ".join(
        rf"$\delta_{{g{k}}}^{{(1)}} = {total} / \partial \mathrm{{net}}_{{g{k}}}^{{(1)}}$" for k in (1, 2)
    )
    assert f"in terms of the next layer's error signals ({next_layer}), the weights" in sheet
    sum_over_g = r"\delta_{g1}^{(1)} \cdot w_{5} + \delta_{g2}^{(1)} \cdot w_{7}"
    assert rf" &= \left({sum_over_g}\right) \cdot " in key
    assert rf"\item[\textbf{{B1}}\hfill] ${total} / \partial \mathrm{{out}}_{{h1}}^{{(1)}} = {sum_over_g}$" in key


def method_formulas(part: str) -> int:
    """The formulas a part's M lines write: the lines of working the key expects of a student."""
    lines = re.findall(r"^\\item\[\\textbf\{M\d+\}\\hfill\] (.*)$", part, re.M)
    return sum(len(re.findall(r"\$[^$]+\$", line)) for line in lines)


def test_an_exam_of_asked_values_asks_each_in_a_question_of_its_own(tmp_path):
    """``--ask net_h1,out_h1,w5+``: a question of one part each, without a part letter, each asking its value
    by name; each with room for the working its key expects (1.2 cm a formula of its M lines, plus 0.4 cm);
    each key carries forward the value the question before worked; an unknown key is refused naming it and
    --ask, with no seed noted; a seed drawn is noted once the exam is written, and printed on its key."""
    run_derive(
        "worksheet", "--exercise", "exam", "--ask", "net_h1,out_h1,w5+", "--seed", "5", "-o", "out", cwd=tmp_path
    )
    sheet = (tmp_path / "out" / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "out" / "exam-solutions.tex").read_text(encoding="utf-8")
    titles = re.findall(r"\\noindent\{\\large\\bfseries ([^}]*)\}", sheet)
    assert titles == ["Question 1", "Question 2", "Question 3"]
    asked = re.findall(r"^\\item\[([^]]*)\] (Compute the value of .*?\.) ", sheet, re.M)
    assert asked == [
        ("", r"Compute the value of $\mathrm{net}_{h1}$ (net input of neuron h1)."),
        ("", r"Compute the value of $\mathrm{out}_{h1}$ (output of neuron h1)."),
        ("", r"Compute the value of $w_{5}^{+}$ (w5 after the update)."),
    ]
    spaces = [float(cm) for cm in re.findall(r"^\\vspace\{([\d.]+)cm plus \1fil\}$", sheet, re.M)]
    parts = re.split(r"\\paragraph\{ \[\d+ marks?\]\}", key)[1:]
    assert len(parts) == len(spaces) == 3
    assert [method_formulas(part) for part in parts] == [1, 1, 9]  # net_h1; out_h1; w5+'s way from net_h2
    assert spaces == [round(1.2 * method_formulas(part) + 0.4, 1) for part in parts]
    assert "ECF: from the student's own $\\mathrm{net}_{h1}$ of 1." in parts[1]
    assert "ECF: from the student's own $\\mathrm{out}_{h1}$ of 2." in parts[2]
    refused = run_derive("worksheet", "--exercise", "exam", "--ask", "nope", "-o", "none", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and not (tmp_path / "none").exists()
    assert refused.stderr == "derive: --ask: unknown key 'nope' (`derive keys` lists them)\n"  # no seed to note
    twice = run_derive(
        "worksheet", "--exercise", "exam", "--ask", "out_h1,out_h1", "-o", "none", cwd=tmp_path, check=False
    )
    assert twice.returncode == 2 and not (tmp_path / "none").exists()
    assert twice.stderr == "derive: --ask: 'out_h1' asks for 'out_h1' a second time; expected each step once\n"
    drawn = run_derive("worksheet", "--exercise", "exam", "-o", "drawn", cwd=tmp_path)
    said = drawn.stderr.splitlines()  # the seed, then what was written
    seed = re.fullmatch(r"the exam's numbers come from --seed (\d+) \(printed on its key\)", said[0])
    assert said[1:] == ["wrote drawn/exam-solutions.tex", "wrote drawn/exam.tex"]
    key_of_drawn = (tmp_path / "drawn" / "exam-solutions.tex").read_text(encoding="utf-8")
    assert (
        seed
        and f"variant 1 of seed {seed[1]}: give the same network and \\texttt{{-{{}}-seed {seed[1]}}}" in key_of_drawn
    )


def test_a_part_built_on_another_names_it(exam):
    """3(b) uses 3(a)'s δ_h1 by its label, and the key carries 3(c)'s gradient into 4's update by its label."""
    words, folder = exam
    sheet = (folder / "exam.tex").read_text(encoding="utf-8")
    key = (folder / "exam-solutions.tex").read_text(encoding="utf-8")
    if words is WORDS["en"]:
        assert (
            r"\item[(b)] Using $\delta_{h1}$ from 3(a), write $\partial E_{\text{total}} / \partial w_{1}$ in symbols "
            r"as $\delta_{h1}$ times one more chain-rule factor, and write that factor in terms of the network's "
            "quantities. Explain in one or two sentences why the gradient of w1 needs every path from neuron h1 to "
            "the error, where that of an output weight needs one. "
        ) in sheet
        assert r"ECF: from the student's own $\partial E_{\text{total}} / \partial w_{1}$ of 3(c)." in key
    else:
        assert r"\item[(b)] A partir de $\delta_{h1}$ de 3(a), escribe" in sheet
        assert (
            r"EA: a partir de los valores del propio estudiante: $\partial E_{\text{total}} / \partial w_{1}$ de 3(c)."
            in key
        )


def test_a_momentum_exam_states_the_changes_before_as_the_file_gives_them(tmp_path):
    """With momentum and ``previous_update`` the student has no file: the sheet states each change before,
    read back here against the file (tomllib), and that every other is 0; without them, that every one is 0."""
    import tomllib

    text = builtin_text("mazur").replace("learning_rate = 0.5", "learning_rate = 0.5\nmomentum = 0.9", 1)
    given = text.replace("momentum = 0.9", "momentum = 0.9\nprevious_update = { w5 = 0.02, w1 = -0.0125 }", 1)
    (tmp_path / "given.toml").write_text(given, encoding="utf-8")
    (tmp_path / "zero.toml").write_text(text, encoding="utf-8")
    for name in ("given", "zero"):
        run_derive("worksheet", f"{name}.toml", "--exercise", "exam", "--seed", "3", "-o", name, cwd=tmp_path)
    sheet = (tmp_path / "given" / "exam.tex").read_text(encoding="utf-8")
    stated = re.search(r"The changes before, from an earlier step: (.*); every other \$\\Delta\\theta\$ is 0\.", sheet)
    assert stated, "the changes before"
    read = {
        f"{letter}{index}": float(value)
        for letter, index, value in re.findall(r"\$\\Delta (\w)_\{(\d+)\} = (-?[\d.]+)\$", stated[1])
    }
    assert read == tomllib.loads(given)["previous_update"]
    zero = (tmp_path / "zero" / "exam.tex").read_text(encoding="utf-8")
    assert "On this first step there is no change before: every $\\Delta\\theta$ is 0." in zero
    assert "The changes before" not in zero


def test_a_one_layer_networks_chain_part_adds_each_examples_product(tmp_path):
    """One layer, two examples: 2(a)'s key writes ∂E/∂w1 as each example's chain, added, then each chain in
    the network's quantities (the second term's minus sign as the operator, not "+ -"), and marks both; its
    sum, evaluated here at a forward pass written in the test, is autograd's gradient."""
    network = {"learning_rate": 0.5, "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2]]}]}
    network["layers"][0]["bias"] = 0.1
    network["examples"] = [{"inputs": [0.5, 0.9], "targets": [0.2]}, {"inputs": [0.1, 0.4], "targets": [0.7]}]
    (tmp_path / "one.json").write_text(json.dumps(network), encoding="utf-8")
    run_derive("worksheet", "one.json", "--exercise", "exam", "--seed", "2", "-o", "out", cwd=tmp_path)
    sheet = (tmp_path / "out" / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "out" / "exam-solutions.tex").read_text(encoding="utf-8")
    total, w1 = r"\partial E_{\text{total}}", r"\partial w_{1}"
    out, net = (
        [rf"\mathrm{{out}}_{{o1}}^{{({e})}}" for e in (1, 2)],
        [rf"\mathrm{{net}}_{{o1}}^{{({e})}}" for e in (1, 2)],
    )
    fraction = r"\frac{{{}}}{{{}}}".format
    d_out, d_net = [rf"\partial {o}" for o in out], [rf"\partial {n}" for n in net]
    chains = [
        rf"{fraction(total, o)} \cdot {fraction(o, n)} \cdot {fraction(n, w1)}"
        for o, n in zip(d_out, d_net, strict=True)
    ]
    terms = [
        rf"(t_{{o1}}^{{({e})}} - {o}) \cdot {o} \cdot \left(1 - {o}\right) \cdot i_{{1}}^{{({e})}}"
        for e, o in ((1, out[0]), (2, out[1]))
    ]
    display = (
        rf"\frac{{{total}}}{{{w1}}} &= {chains[0]} \\" + "\n" + rf"&\quad + {chains[1]} \\" + "\n"
        rf" &= - {terms[0]} \\" + "\n" + rf"&\quad - {terms[1]}" + "\n\\end{align*}"
    )
    assert display in key
    named = [
        rf"{total} / \partial {o} \cdot \partial {o} / \partial {n} \cdot \partial {n} / {w1}"
        for o, n in zip(out, net, strict=True)
    ]
    assert rf"\item[\textbf{{B1}}\hfill] ${total} / {w1} = {named[0]} + {named[1]}$" + "\n" in key
    assert rf"\item[\textbf{{B1}}\hfill] ${total} / {w1} = - {terms[0]} - {terms[1]}$" + "\n" in key
    assert "in terms of the network's quantities. With several examples it is a sum of such products" in sheet
    assert "A feed-forward network with 2 inputs and a single neuron, its output. The neuron adds up" in sheet
    # room to write: the chain's three lines and one for each example's product, 1.2 cm a line and 0.4 cm more
    room = re.search(r"^\\item\[\(a\)\] Write \$\\partial E.*\n\\vspace\{([\d.]+)cm", sheet, re.M)
    assert room and float(room[1]) == 6.4
    values = {}
    for e, example in enumerate(network["examples"], start=1):
        x, t = example["inputs"], example["targets"][0]
        o = sigmoid(0.3 * x[0] + 0.2 * x[1] + 0.1)
        values |= {f"t{e}": t, f"out{e}": o, f"i{e}": x[0]}
    formula = key[key.index(rf"\item[\textbf{{B1}}\hfill] ${total} / {w1} = - ") :].split("$")[1].split(" = ", 1)[1]
    python = re.sub(r"t_\{o1\}\^\{\((\d)\)\}", r"t\1", formula)
    python = re.sub(r"\\mathrm\{out\}_\{o1\}\^\{\((\d)\)\}", r"out\1", python)
    python = re.sub(r"i_\{1\}\^\{\((\d)\)\}", r"i\1", python)
    python = python.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\cdot", "*")
    gradient = eval(python, {}, values)  # the key's own formula, parsed above
    assert gradient == pytest.approx(autograd_gradients(load_path(tmp_path / "one.json"))["w1"], rel=1e-12)


RECURRENT_ALONE = {
    "learning_rate": 0.1,
    "layers": [
        {
            "type": "recurrent",
            "name": "h",
            "activation": "tanh",
            "weights": [[0.5], [-0.3]],
            "recurrent_weights": [[0.1, 0.2], [-0.4, 0.3]],  # w3 = h1→h1, w4 = h2→h1, w5 = h1→h2, w6 = h2→h2
            "bias": [0.0, 0.1],
        }
    ],
    "examples": [{"inputs": [[0.5], [-0.1], [0.8]], "targets": [[0.3, 0.1], [0.0, 0.2], [0.1, 0.4]]}],
}


def test_a_sum_through_time_or_across_a_map_is_said_as_such(tmp_path):
    """One example: a recurrent weight's gradient adds a product for each step (said "through time"), a
    kernel weight's one for each position (said "across the map"), neither "with several examples". The
    recurrent layer alone is its own output: ∂E/∂out_h1,1 adds its own error and the paths through h1,2
    (w3) and h2,2 (w5), and the key says why, one mark each."""
    (tmp_path / "alone.json").write_text(json.dumps(RECURRENT_ALONE), encoding="utf-8")
    for network, folder in (("alone.json", "rnn"), ("cnn", "cnn")):
        run_derive("worksheet", network, "--exercise", "exam", "--seed", "2", "-o", folder, cwd=tmp_path)
    rnn, cnn = ((tmp_path / name / "exam.tex").read_text(encoding="utf-8") for name in ("rnn", "cnn"))
    through_time = "Through time it is a sum of such products, one for each step at which the weight acts."
    across = "Across the map it is a sum of such products, one for each position at which the kernel weight acts."
    assert through_time in rnn and across not in rnn
    assert across in cnn and through_time not in cnn
    assert "With several examples" not in rnn + cnn
    key = (tmp_path / "rnn" / "exam-solutions.tex").read_text(encoding="utf-8")
    out = r"\mathrm{out}_{h1,1}"
    fraction, total = r"\frac{{\partial {}}}{{\partial {}}}".format, r"E_{\text{total}}"
    outs, nets = [rf"\mathrm{{out}}_{{h1,{t}}}" for t in (1, 2, 3)], [rf"\mathrm{{net}}_{{h1,{t}}}" for t in (1, 2, 3)]
    steps = [
        rf"{fraction(total, o)} \cdot {fraction(o, n)} \cdot {fraction(n, 'w_{1}')}"
        for o, n in zip(outs, nets, strict=True)
    ]
    paths = [rf"{fraction(total, 'E_{h1,1}')} \cdot {fraction('E_{h1,1}', out)}"]
    paths += [
        rf"{fraction(total, n)} \cdot {fraction(n, out)}" for n in (r"\mathrm{net}_{h1,2}", r"\mathrm{net}_{h2,2}")
    ]
    assert (
        "\\begin{align*}\n"
        rf"{fraction(total, 'w_{1}')} &= {steps[0]} \\" + "\n" + rf"&\quad + {steps[1]} \\" + "\n"
        rf"&\quad + {steps[2]} \\" + "\n" + rf"{fraction(total, out)} &= {' + '.join(paths)} \\" + "\n"
        rf" &= - (t_{{h1,1}} - {out}) + \delta_{{h1,2}} \cdot w_{{3}} + \delta_{{h2,2}} \cdot w_{{5}}"
        + "\n\\end{align*}"
    ) in key
    assert (
        rf"\item[\textbf{{B1}}\hfill] The reason: ${out}$ is compared with its target and also feeds 2 neurons of "
        rf"the next step (h1,2, h2,2), so a change in ${out}$ reaches the error along 3 paths, one through its own "
        "error and one through each of them; the multivariable chain rule adds the products of the factors along the "
        "paths.\n"
    ) in key
    slashed = [
        rf"\partial E_{{\text{{total}}}} / \partial {a} \cdot \partial {a} / \partial {out}" for a in ("E_{h1,1}",)
    ]
    slashed += [
        rf"\partial E_{{\text{{total}}}} / \partial {n} \cdot \partial {n} / \partial {out}"
        for n in (r"\mathrm{net}_{h1,2}", r"\mathrm{net}_{h2,2}")
    ]
    assert (
        rf"\item[\textbf{{B1}}\hfill] $\partial E_{{\text{{total}}}} / \partial {out} = {' + '.join(slashed)}$" + "\n"
        in key
    )
    # room to write: the chain's three lines, the sum over the paths and its value, and one for each step's product
    room = re.search(r"^\\item\[\(a\)\] Write \$\\partial E.*\n\\vspace\{([\d.]+)cm", rnn, re.M)
    assert room and float(room[1]) == 10.0
    last_step = json.loads(json.dumps(RECURRENT_ALONE))
    last_step["examples"][0]["targets"] = [0.3, 0.1]  # a target at the last step only: no error of its own at step 1
    (tmp_path / "last.json").write_text(json.dumps(last_step), encoding="utf-8")
    run_derive("worksheet", "last.json", "--exercise", "exam", "--seed", "2", "-o", "last", cwd=tmp_path)
    assert (
        rf"\item[\textbf{{B1}}\hfill] The reason: ${out}$ feeds 2 neurons after it, in the next layer or at the next "
        rf"step (h1,2, h2,2), so a change in ${out}$ reaches the error along 2 paths, one through each of them;"
    ) in (tmp_path / "last" / "exam-solutions.tex").read_text(encoding="utf-8")
    part = key[key.index(r"\paragraph{(a) [3 marks]}", key.index("Question 2")) :]
    assert len(re.findall(r"^\\item\[\\textbf\{B1\}", part[: part.index(r"\paragraph{(b)")], re.M)) == 3


def test_a_recurrent_layer_alone_is_introduced_as_its_own_output(tmp_path):
    """The explanation of a recurrent layer that is the network's output (a target at every step) says so, and
    reads its matrices without an output layer's V; a recurrent layer with a layer after it is introduced as
    a hidden layer feeding one."""
    from derive.outputs.render import Renderer

    catalog = Renderer().catalog("en")

    def t(key: str) -> str:
        return catalog(key, net=r"\mathrm{net}")  # the introductions write the net input in the notation

    (tmp_path / "alone.json").write_text(json.dumps(RECURRENT_ALONE), encoding="utf-8")
    alone = run_derive("explain", "alone.json", cwd=tmp_path).stdout
    with_output = run_derive("explain", "rnn").stdout
    assert t("through_time_intro_output") in alone and t("through_time_weights_alone") in alone
    assert t("through_time_intro") not in alone and t("through_time_weights") not in alone
    assert t("through_time_intro") in with_output and t("through_time_weights") in with_output
    assert t("through_time_intro_output") not in with_output


def test_a_bias_is_said_to_be_shared_only_by_a_layer_of_several_neurons(tmp_path):
    """The worked example's layers share one bias among their two neurons, and the documents say so; a
    network of one neuron has a bias of its own, whether written as a number or a list of one."""
    from derive.outputs.render import Renderer

    note = Renderer().catalog("en")("shared_bias_note")
    one = {
        "learning_rate": 0.5,
        "layers": [{"name": "o", "activation": "sigmoid", "weights": [[0.3, 0.2]], "bias": 0.1}],
    }
    one["examples"] = [{"inputs": [0.5, 0.9], "targets": [0.2]}]
    (tmp_path / "one.json").write_text(json.dumps(one), encoding="utf-8")
    assert note in run_derive("explain").stdout
    assert note not in run_derive("explain", "one.json", cwd=tmp_path).stdout
    run_derive("worksheet", "one.json", "--exercise", "exam", "--seed", "2", "-o", "exam", cwd=tmp_path)
    sheet = (tmp_path / "exam" / "exam.tex").read_text(encoding="utf-8")
    assert "one bias shared by all its neurons" not in sheet


def test_an_answer_space_is_a_line_of_working_at_a_time_up_to_twelve_centimetres():
    """1.2 cm a handwritten line and 0.4 cm to start, so that a part of many values (four examples)
    still fits a page: never more than 12 cm."""
    from derive.document.model import ExamPart

    spaces = [ExamPart("a", "compute", 1, lines, scheme=[]).space for lines in (1, 2, 5, 9, 10, 30)]
    assert spaces == [1.6, 2.8, 6.4, 11.2, 12.0, 12.0]


def test_a_hidden_neuron_that_feeds_one_neuron_asks_no_reason_for_a_sum_over_paths(tmp_path):
    """xor's hidden neurons feed its one output: a change in w1 reaches the error along one path, so the
    hidden gradient's part neither asks why it needs every path nor keys a reason; its chain part (the output
    layer's, compared with its target only) none either."""
    run_derive("worksheet", "xor", "--exercise", "exam", "--seed", "2", "-o", "out", cwd=tmp_path)
    sheet = (tmp_path / "out" / "exam.tex").read_text(encoding="utf-8")
    key = (tmp_path / "out" / "exam-solutions.tex").read_text(encoding="utf-8")
    assert "needs every path" not in sheet
    assert "The reason:" not in key
    mazur = tmp_path / "mazur"
    run_derive("worksheet", "--exercise", "exam", "--seed", "2", "-o", str(mazur))
    assert "needs every path" in (mazur / "exam.tex").read_text(encoding="utf-8")  # h1 feeds o1 and o2


def test_a_recurrent_networks_hidden_gradient_is_a_sum_through_time(tmp_path):
    """The built-in recurrent network (h then o): w1 acts at each of the three steps, and over two steps at
    each of two, so the hidden gradient's part says its sum runs through time, never across a map."""
    toml = run_derive("example", "rnn").stdout
    assert "inputs = [[0.5], [-0.1], [0.8]]" in toml
    (tmp_path / "two.toml").write_text(toml.replace("inputs = [[0.5], [-0.1], [0.8]]", "inputs = [[0.5], [-0.1]]"))
    for network, folder in (("rnn", "three"), ("two.toml", "two")):
        run_derive("worksheet", network, "--exercise", "exam", "--seed", "2", "-o", folder, cwd=tmp_path)
        sheet = (tmp_path / folder / "exam.tex").read_text(encoding="utf-8")
        assert "Through time it is a sum of such products, one for each step at which the weight acts." in sheet
        assert "Across the map" not in sheet


def test_a_recurrent_output_read_only_at_the_last_step_has_no_sum_over_paths_to_explain(tmp_path):
    """One tanh neuron alone, its target at the last step only: h1,1 reaches the error through h1,2 alone,
    one path, so the chain part keys no reason for a sum (one with a target at every step has two paths)."""
    from tests.test_recurrent import SEQUENCE, alone_one_neuron

    last = alone_one_neuron()
    last.examples = [(SEQUENCE, [0.5])]  # a flat vector: a target at the last step only
    for net, name, reasons in ((last, "last", 0), (alone_one_neuron(), "every", 1)):
        network = net.write(tmp_path, name)
        run_derive("worksheet", str(network), "--exercise", "exam", "--seed", "2", "-o", name, cwd=tmp_path)
        key = (tmp_path / name / "exam-solutions.tex").read_text(encoding="utf-8")
        assert key.count("The reason:") == reasons, name
