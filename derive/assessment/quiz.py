"""Quizzes for learning platforms: Moodle XML (Cloze questions) and QTI packages (Canvas and others).

Each question shows a network, its data and every convention that changes an answer (the loss and
its constant, trained or fixed biases, the update rule and order, the batch, momentum, weight decay,
rounded hidden outputs), as the documents state them, and asks for some steps of its working.
Every answer is the step's value; its window is one unit of the last significant digit asked (derive check's rule),
with more digits asked where a gradient 1 % off would hide in them (:mod:`.windows`).  The general
feedback holds the asked values, each worked from its formula, its math in ``\\( … \\)`` for MathJax.

All XML (and the HTML and SVG inside it) is built with :mod:`xml.etree.ElementTree`, so user text
is escaped and every file is well-formed by construction.  text2qti was considered for QTI and
cannot express these questions: it writes a numerical tolerance with four decimals (0.0000001
becomes 0.0000) and refuses answers smaller than 1e-4 in size.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import mpmath

from derive.assessment.windows import digits_asked, slip, tolerance
from derive.core.chain import Derivation
from derive.core.numbers import DEFAULT_DIGITS, format_number
from derive.core.steps import Step, Steps, build_steps
from derive.document import Document, Equation, Schedule, builtin_example, from_steps, schedule_of
from derive.document.precision import ANSWER_FIGURES
from derive.document.typeset import Typesetter
from derive.outputs.diagram import network_svg
from derive.outputs.render import Catalog, svg_marked, with_decimal_mark
from derive.outputs.report import meaning
from derive.spec.files import builtin_names, load_builtin
from derive.spec.model import NetworkSpec
from derive.spec.variants import variant
from derive.training.worked import worked

DEFAULT_SIGNIFICANT = ANSWER_FIGURES  # the figures every document asks of an answer
ANSWER_DIGITS = 17  # a double's worth: every platform stores the answer as one
CLOZE_WEIGHT = 1  # marks per sub-question
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip's timestamps: the same seed gives the same bytes
QTI = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
MANIFEST = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_FILES = "%24IMS-CC-FILEBASE%24/"  # Canvas resolves this to the package's root


@dataclass(frozen=True)
class Asked:
    """One asked step: its value as a platform stores it, the digits asked, the window, how it is shown."""

    step: Step
    answer: Decimal
    digits: int  # significant digits asked: the quiz's, or more where a 1 % slip would hide in them
    tolerance: Decimal  # a unit of the last digit asked, as derive check accepts
    symbol: str  # LaTeX
    equation: Equation


@dataclass(frozen=True)
class Question:
    """One network's question: the document (for the network and its data) and the asked steps."""

    number: int | None  # the variant's number
    document: Document
    asked: tuple[Asked, ...]
    svg: str
    changes: dict[str, str]  # Δθ before this update, by parameter, when momentum carries a non-zero one


def default_asked(steps: Steps) -> list[Step]:
    """E_total, every gradient derived, every trained parameter's update, and E_total after the step."""
    gradients = [gradient.result for gradient in steps.backward]
    updates = [step for step in steps.updates if step.blank is not None]
    return [steps.total, *gradients, *updates, steps.after]


def asked_steps(steps: Steps, ask: Sequence[str]) -> list[Step]:
    """The steps ``--ask`` names (keys or blank numbers), in its order; the default list without it."""
    return steps.asked(ask) if ask else default_asked(steps)


def answer_text(value: Decimal) -> str:
    """A number as a platform reads it: plain decimals, no exponent (0.000438567540029…)."""
    return format(value, "f")


def network_name(spec: NetworkSpec, t: Catalog, *, student: int | None = None, seed: int | None = None) -> str:
    """The network as the documents title it: "Mazur's worked example" for a built-in one (or a
    student's variant of it), else "the network “name”"; student K's network is named NAME-KK."""
    name = spec.name if student is None else spec.name.removesuffix(f"-{student:02d}")
    if name in builtin_names() and t.has(f"example_name_{name}"):
        if student is None and builtin_example(spec) == name:
            return t(f"example_name_{name}")
        if student is not None and seed is not None and variant(load_builtin(name), seed, student) == spec:
            return t(f"example_name_{name}")
    return t("quiz.network_name", name=name)


def questions(
    networks: Sequence[tuple[int | None, NetworkSpec]],
    *,
    ask: Sequence[str] = (),
    digits: int = DEFAULT_SIGNIFICANT,
    only: Sequence[str] = (),
    example: int | None = None,
    catalog: Catalog,
) -> list[Question]:
    """One question per network (per student variant), each asking the same steps of its own numbers.

    Each asks about the update every other output works (:func:`derive.training.worked.worked`):
    online or with mini-batches the first batch's, or ``example``'s, and says which.
    """
    made = []
    notation = catalog("notation")
    for number, spec in networks:
        update = worked(spec, example)
        steps = build_steps(update.derivation, only)
        typeset = Typesetter(steps, notation, DEFAULT_DIGITS)
        asked = []
        for step in asked_steps(steps, ask):
            needed = digits_asked(step.value, slip(step, update.derivation), digits)
            answer = Decimal(mpmath.nstr(step.value, ANSWER_DIGITS, strip_zeros=True))
            window = tolerance(step.value, needed)
            asked.append(Asked(step, answer, needed, window, typeset.latex(step.symbol), typeset.equation(step)))
        document = from_steps(steps, notation=notation, only=only, schedule=schedule_of(update))
        svg = svg_marked(network_svg(document.nodes, document.edges, catalog("quiz.diagram")), catalog.decimal_mark)
        made.append(Question(number, document, tuple(asked), svg, changes_before(update.derivation, document)))
    return made


def changes_before(derivation: Derivation, document: Document) -> dict[str, str]:
    """Δθ before this update, by parameter, to DEFAULT_DIGITS decimals: none without momentum, or when all are 0."""
    if not document.momentum or document.previous == "zero":
        return {}
    return {name: format_number(value, DEFAULT_DIGITS) for name, value in derivation.previous_changes.items()}


# ---------------------------------------------------------------------------------------------
# HTML shared by both formats


def mathjax(text: str) -> str:
    """A catalog sentence's ``$math$`` as ``\\(math\\)``, the delimiters Moodle's and Canvas's MathJax read."""
    return re.sub(r"\$(.+?)\$", r"\\(\1\\)", text)


def _paragraph(parent: ET.Element, text: str) -> ET.Element:
    paragraph = ET.SubElement(parent, "p")
    paragraph.text = text
    return paragraph


def _row(table: ET.Element, cells: Sequence[str], tag: str = "td") -> list[ET.Element]:
    row = ET.SubElement(table, "tr")
    made = []
    for text in cells:
        cell = ET.SubElement(row, tag)
        cell.text = text
        made.append(cell)
    return made


def _table(parent: ET.Element, caption: str | None, header: Sequence[str]) -> ET.Element:
    table = ET.SubElement(parent, "table", {"border": "1", "cellpadding": "4", "style": "border-collapse: collapse"})
    if caption:
        ET.SubElement(table, "caption").text = caption
    _row(table, header, "th")
    return table


def network_html(question: Question, t: Catalog, image: str) -> ET.Element:
    """The network and its data: the sentence, the conventions, the diagram, the initial values and the examples."""
    doc = question.document
    root = ET.Element("div")
    _paragraph(root, mathjax(t("quiz.intro", shape=doc.shape, rate=doc.learning_rate)))
    activations = ", ".join(f"{layer['name']}: {t('activations.' + layer['activation'])}" for layer in doc.layers)
    _paragraph(root, f"{t('activation_function').capitalize()}: {activations}.")
    for sentence in conventions(doc, t):
        _paragraph(root, mathjax(sentence))
    svg = question.svg
    size = re.search(r'width="([\d.]+)" height="([\d.]+)"', svg)
    attributes = {"src": image, "alt": t("quiz.diagram")}
    if size:
        attributes |= {"width": size[1], "height": size[2]}
    ET.SubElement(ET.SubElement(root, "p"), "img", attributes)
    header = [t("parameter"), t("connection"), t("value")]
    values = _table(
        root, t("initial_values"), header + ([mathjax(t("quiz.change_before"))] if question.changes else [])
    )
    for parameter in doc.parameters:
        connection = f"{', '.join(parameter.sources)} → {', '.join(parameter.targets)}".strip()
        before = [question.changes[parameter.name]] if question.changes else []
        shown = [with_decimal_mark(value, t) for value in (parameter.value, *before)]
        _row(values, [f"\\({parameter.symbol}\\)", connection, *shown])
    data = _table(root, t("training_data"), [t("example"), t("inputs"), t("targets")])
    for number, example in enumerate(doc.examples, start=1):
        inputs = ", ".join(
            f"\\({symbol} = {with_decimal_mark(value, t, math=True)}\\)" for symbol, value in example.inputs
        )
        targets = ", ".join(
            f"\\({symbol} = {with_decimal_mark(value, t, math=True)}\\)" for symbol, value in example.targets
        )
        _row(data, [str(number), inputs, targets])
    return root


def conventions(doc: Document, t: Catalog) -> list[str]:
    """Every convention that changes an answer, in the documents' own sentences.

    The loss with its constant and how the examples combine; whether the biases are trained (and
    shared); rounded hidden outputs; the update rule, which says every gradient comes from one
    forward pass (the simultaneous order), with momentum's and weight decay's terms; the batch.
    """
    said = [t("loss_function", loss=t(f"losses.{doc.loss}"), reduction=t(f"reduction_{doc.reduction}"))]
    said.append(t("quiz.biases_trained") if doc.train_biases else t("fixed_bias_note"))
    # a bias feeding several neurons, not doc.shared_bias: a one-neuron layer's bias is "shared" with no one
    if any(parameter.name.startswith("b") and len(parameter.targets) > 1 for parameter in doc.parameters):
        said.append(t("shared_bias_note"))
    if doc.round_activations is not None and doc.hidden:
        said.append(t("quiz.rounding", decimals=doc.round_activations))
    rule = t("update_intro", rate=doc.learning_rate)
    if doc.momentum:
        rule += " " + t("momentum_note", beta=doc.momentum) + " " + t(f"momentum_{doc.previous}")
    said.append(rule)
    if doc.decay:
        said.append(t("decay_note", strength=doc.decay))
    if doc.schedule is not None:
        said.append(schedule_text(doc.schedule, t))
    return said


def instructions(question: Question, t: Catalog, digits: int) -> list[str]:
    """How to answer and how each answer is marked: the digits, the window, each box on its own."""
    said = [t("quiz.instructions", digits=digits), t("quiz.window"), t("quiz.marking")]
    if any(asked.digits > digits for asked in question.asked):
        said.append(t("quiz.more_digits"))
    return said


def schedule_text(schedule: Schedule, t: Catalog) -> str:
    """Which update of online or mini-batch learning is asked, as the documents say it."""
    order = t("order_shuffled", seed=schedule.shuffle) if schedule.shuffle is not None else t("order_file")
    note = t(
        f"{schedule.kind}_note", size=schedule.size, update=schedule.update, examples=schedule.examples, order=order
    )
    if not schedule.earlier:
        return note
    earlier = t("earlier_updates", count=schedule.earlier) if schedule.earlier > 1 else t("earlier_update")
    return f"{note} {earlier}"


def feedback_html(asked: Sequence[Asked], t: Catalog) -> str:
    """The asked values, each worked from its formula: ``lhs = formula = numbers = value``, one per line."""
    root = ET.Element("div")
    _paragraph(root, t("quiz.feedback", digits=DEFAULT_DIGITS))
    for step in asked:
        equation = step.equation
        parts = [equation.lhs, equation.formula, equation.substituted, equation.value]
        _paragraph(root, "\\(" + with_decimal_mark(" = ".join(part for part in parts if part), t, math=True) + "\\)")
    return _html(root)


def _title(question: Question, t: Catalog, name: str) -> str:
    """ "Backpropagation: Mazur's worked example", or "…, variant 3"; ``name`` is :func:`network_name`'s."""
    return t("quiz.variant", name=name, number=question.number) if question.number else t("quiz.title", name=name)


def _html(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode", method="html")


# ---------------------------------------------------------------------------------------------
# Moodle XML


def cloze(asked: Asked) -> str:
    """``{1:NUMERICAL:=value:tolerance}``: Moodle accepts an answer within ``tolerance`` of ``value``."""
    return f"{{{CLOZE_WEIGHT}:NUMERICAL:={answer_text(asked.answer)}:{answer_text(asked.tolerance)}}}"


def moodle_xml(items: Sequence[Question], t: Catalog, *, name: str, digits: int) -> str:
    """A category question, then one Cloze question per network (a random question picks one per student)."""
    quiz = ET.Element("quiz")
    category = ET.SubElement(quiz, "question", {"type": "category"})
    path = t("quiz.category", name=name).replace("/", "//")  # a single slash would start a subcategory
    ET.SubElement(ET.SubElement(category, "category"), "text").text = f"$course$/top/{path}"
    for question in items:
        quiz.append(_cloze_question(question, t, name, digits))
    ET.indent(quiz, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"


def _cloze_question(question: Question, t: Catalog, name: str, digits: int) -> ET.Element:
    element = ET.Element("question", {"type": "cloze"})
    ET.SubElement(ET.SubElement(element, "name"), "text").text = _title(question, t, name)
    html = network_html(question, t, "@@PLUGINFILE@@/network.svg")
    for sentence in instructions(question, t, digits):
        _paragraph(html, sentence)
    answers = _table(html, None, [t("worksheet.quantity"), t("quiz.digits"), t("quiz.answer")])
    for index, asked in enumerate(question.asked):
        _, _, cell = _row(answers, [f"{meaning(asked.step, t)}, \\({asked.symbol}\\)", str(asked.digits), ""])
        ET.SubElement(cell, "cloze", {"n": str(index)})
    # Cloze codes go in after the HTML is written, where no other text can open one: Moodle reads
    # "{" + digits + ":" as the start of a sub-question, so such a brace is written as an entity
    text = re.sub(r"\{(?=\d*:)", "&#123;", _html(html))
    text = re.sub(r'<cloze n="(\d+)"></cloze>', lambda m: cloze(question.asked[int(m[1])]), text)
    body = ET.SubElement(element, "questiontext", {"format": "html"})
    ET.SubElement(body, "text").text = text
    image = ET.SubElement(body, "file", {"name": "network.svg", "path": "/", "encoding": "base64"})
    image.text = base64.b64encode(question.svg.encode("utf-8")).decode("ascii")
    feedback = ET.SubElement(ET.SubElement(element, "generalfeedback", {"format": "html"}), "text")
    feedback.text = feedback_html(question.asked, t)
    ET.SubElement(element, "penalty").text = "0.3333333"
    ET.SubElement(element, "hidden").text = "0"
    return element


# ---------------------------------------------------------------------------------------------
# QTI 1.2, as Canvas imports it


def qti_package(items: Sequence[Question], t: Catalog, *, name: str, digits: int) -> bytes:
    """A zip: ``imsmanifest.xml``, one assessment per network, each network's diagram.

    Each assessment opens with a text item showing the network and its data, then one numerical
    item per asked step.  Identifiers are hashes of the content, so the same seed gives the same bytes.
    """
    files: dict[str, bytes] = {}
    resources = []
    for question in items:
        suffix = f"-{question.number:02d}" if question.number else ""
        image = f"images/network{suffix}.svg"
        files[image] = question.svg.encode("utf-8")
        ident = _ident(name, str(question.number), *(answer_text(a.answer) for a in question.asked))
        path = f"{ident}/{ident}.xml"
        assessment = _assessment(question, t, ident, _title(question, t, name), CANVAS_FILES + image, digits)
        files[path] = _xml_bytes(assessment)
        resources.append((ident, path, image))
    files["imsmanifest.xml"] = _xml_bytes(_manifest(name, resources))
    return zip_bytes(files)


def _ident(*parts: str) -> str:
    return "derive_" + hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _xml_bytes(element: ET.Element) -> bytes:
    ET.indent(element, space="  ")
    return ET.tostring(element, encoding="utf-8", xml_declaration=True) + b"\n"


def _manifest(name: str, resources: Sequence[tuple[str, str, str]]) -> ET.Element:
    manifest = ET.Element("manifest", {"identifier": _ident("manifest", name, *(r[0] for r in resources))})
    manifest.set("xmlns", MANIFEST)
    metadata = ET.SubElement(manifest, "metadata")
    ET.SubElement(metadata, "schema").text = "IMS Content"
    ET.SubElement(metadata, "schemaversion").text = "1.1.3"
    ET.SubElement(manifest, "organizations")
    listed = ET.SubElement(manifest, "resources")
    for ident, path, image in resources:
        resource = ET.SubElement(listed, "resource", {"identifier": ident, "type": "imsqti_xmlv1p2"})
        ET.SubElement(resource, "file", {"href": path})
        picture = ET.SubElement(
            listed, "resource", {"identifier": f"{ident}_image", "type": "webcontent", "href": image}
        )
        ET.SubElement(picture, "file", {"href": image})
    return manifest


def _assessment(question: Question, t: Catalog, ident: str, title: str, image: str, digits: int) -> ET.Element:
    root = ET.Element("questestinterop", {"xmlns": QTI})
    assessment = ET.SubElement(root, "assessment", {"ident": ident, "title": title})
    section = ET.SubElement(assessment, "section", {"ident": f"{ident}_section"})
    intro = network_html(question, t, image)
    for sentence in instructions(question, t, digits):
        _paragraph(intro, sentence)
    section.append(_item(f"{ident}_network", t("network"), "text_only_question", _html(intro), 0))
    for index, asked in enumerate(question.asked, start=1):
        symbol = f"\\({asked.symbol}\\)"
        text = t("quiz.question", meaning=meaning(asked.step, t), symbol=symbol, digits=asked.digits)
        if asked.digits > digits:
            text += " " + t("quiz.more_digits_one")
        item = _item(f"{ident}_{index:03d}", asked.step.key, "numerical_question", _html_paragraph(text), 1)
        _numerical(item, asked, feedback_html([asked], t))
        section.append(item)
    return root


def _html_paragraph(text: str) -> str:
    paragraph = ET.Element("p")
    paragraph.text = text
    return _html(paragraph)


def _item(ident: str, title: str, kind: str, html: str, points: int) -> ET.Element:
    item = ET.Element("item", {"ident": ident, "title": title})
    fields = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    for label, entry in (("question_type", kind), ("points_possible", str(points))):
        field = ET.SubElement(fields, "qtimetadatafield")
        ET.SubElement(field, "fieldlabel").text = label
        ET.SubElement(field, "fieldentry").text = entry
    presentation = ET.SubElement(item, "presentation")
    material = ET.SubElement(ET.SubElement(presentation, "material"), "mattext", {"texttype": "text/html"})
    material.text = html
    return item


def _numerical(item: ET.Element, asked: Asked, feedback: str) -> None:
    """A number box, and the rule: right when it equals the answer or lies within the tolerance of it."""
    presentation = item.find("presentation")
    assert presentation is not None
    response = ET.SubElement(presentation, "response_str", {"ident": "response1", "rcardinality": "Single"})
    ET.SubElement(ET.SubElement(response, "render_fib", {"fibtype": "Decimal"}), "response_label", {"ident": "answer1"})
    processing = ET.SubElement(item, "resprocessing")
    outcomes = ET.SubElement(processing, "outcomes")
    ET.SubElement(outcomes, "decvar", {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"})
    shown = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
    ET.SubElement(ET.SubElement(shown, "conditionvar"), "other")
    ET.SubElement(shown, "displayfeedback", {"feedbacktype": "Response", "linkrefid": "general_fb"})
    right = ET.SubElement(processing, "respcondition", {"continue": "No"})
    either = ET.SubElement(ET.SubElement(right, "conditionvar"), "or")
    ET.SubElement(either, "varequal", {"respident": "response1"}).text = answer_text(asked.answer)
    within = ET.SubElement(either, "and")
    low, high = asked.answer - asked.tolerance, asked.answer + asked.tolerance
    ET.SubElement(within, "vargte", {"respident": "response1"}).text = answer_text(low)
    ET.SubElement(within, "varlte", {"respident": "response1"}).text = answer_text(high)
    ET.SubElement(right, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"
    general = ET.SubElement(item, "itemfeedback", {"ident": "general_fb"})
    material = ET.SubElement(ET.SubElement(ET.SubElement(general, "flow_mat"), "material"), "mattext")
    material.set("texttype", "text/html")
    material.text = feedback


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend on the content only: sorted entries, fixed timestamps and modes."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, files[name], compresslevel=9)
    return stream.getvalue()
