"""The checking worksheet as a SCORM package: one SCO that an LMS launches, grades and records.

The package is a zip of two files: ``imsmanifest.xml``, as the content-packaging part of SCORM
1.2 or SCORM 2004 4th edition requires it, and ``index.html``, the page of ``derive html
--worksheet`` with every student's variant inside it and a small bridge to the LMS's run-time API.

Why one page with every variant rather than a page per variant: the SCO is launched once and calls
``Initialize`` once; to move to another page inside the SCO it would have to leave the page that
initialised the session, which some LMSs take for the end of the attempt.  The variants sit in inert
``<template>`` elements, and the bridge swaps the learner's one in before the page's script starts.
The package is no larger for it: deflate compresses each variant's working (about 160 KB of
MathML) to about 11 KB whether it is a file of its own or a part of one file.

A learner's variant is :func:`variant_of` their LMS learner id, computed in Python for
``derive scorm --which`` and in the page's bridge by the same arithmetic.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from derive.assessment.grading import ECF_POLICIES
from derive.assessment.quiz import network_name, zip_bytes
from derive.core.steps import Step, Steps
from derive.errors import DeriveError
from derive.outputs.render import Catalog, meaning
from derive.publishing.publish import Options, document_steps, html_page
from derive.publishing.webpage import json_script
from derive.spec.model import NetworkSpec
from derive.spec.variants import variant

VERSIONS = ("1.2", "2004")
DEFAULT_PASS = Decimal(50)  # percent of the marks
LAUNCH = "index.html"  # the SCO, at the package's root
# cmi.suspend_data's size: SCORM 1.2's CMIString4096, SCORM 2004's characterstring of SPM 64000
SUSPEND_LIMIT = {"1.2": 4096, "2004": 64000}
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193  # FNV-1a, 32 bits
_MAIN = re.compile(r"<main>\n(.*)</main>", re.DOTALL)
_CHECKING = re.compile(r'<script type="application/json" id="derive-checking">(.*?)</script>', re.DOTALL)
# the steps' formulas as JavaScript: one variant's differ from another's where a max pool routes δ
# to another position or a ReLU stops it, so each variant whose formulas differ carries its own
_FORMULAS = re.compile(r'<script id="derive-formulas">\nwindow\.deriveFormulas = (.*?);\n</script>', re.DOTALL)

# What each version's manifest is written in (SCORM 1.2 CAM 2.3; SCORM 2004 4th edition CAM 3.4).
_NAMESPACES = {
    "1.2": {
        "": "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
        "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    },
    "2004": {
        "": "http://www.imsglobal.org/xsd/imscp_v1p1",
        "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
        "adlseq": "http://www.adlnet.org/xsd/adlseq_v1p3",
        "adlnav": "http://www.adlnet.org/xsd/adlnav_v1p3",
        "imsss": "http://www.imsglobal.org/xsd/imsss",
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    },
}
_SCHEMAS = {
    "1.2": {
        "": "imscp_rootv1p1p2.xsd",
        "imsmd": "imsmd_rootv1p2p1.xsd",
        "adlcp": "adlcp_rootv1p2.xsd",
    },
    "2004": {
        "": "imscp_v1p1.xsd",
        "adlcp": "adlcp_v1p3.xsd",
        "adlseq": "adlseq_v1p3.xsd",
        "adlnav": "adlnav_v1p3.xsd",
        "imsss": "imsss_v1p0.xsd",
    },
}
_IMSMD = "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"
_SCHEMA_VERSION = {"1.2": "1.2", "2004": "2004 4th Edition"}
_SCORM_TYPE = {"1.2": "scormtype", "2004": "scormType"}  # the attribute's spelling differs between versions


def variant_of(learner_id: str, variants: int, seed: int) -> int:
    """The learner's variant: K = FNV-1a-32(UTF-8 bytes of "S:ID") mod N + 1.

    The page's bridge computes the same from ``cmi.core.student_id`` (``cmi.learner_id`` in 2004).
    """
    value = _FNV_OFFSET
    for byte in f"{seed}:{learner_id}".encode():
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value % variants + 1


def interaction_id(step: Step) -> str:
    """An interaction's id, made from the blank and its key: ``blank15-dE-dw5``, ``blank34-w1plus``.

    Letters, digits, ``-`` and ``_`` only, as SCORM 1.2's CMIIdentifier allows; the blank number makes it unique.
    """
    readable = step.key.replace("/", "-").replace("+", "plus")
    return f"blank{step.blank}-" + re.sub(r"[^A-Za-z0-9_-]", "_", readable)


def graded_steps(steps: Steps, ask: Sequence[str]) -> list[Step]:
    """The steps the grade counts: ``--ask``'s keys or blank numbers, in document order; every blank without it."""
    if not ask:
        return [step for step in steps if step.blank is not None]
    chosen = steps.asked(ask)
    for name, step in zip(ask, chosen, strict=True):
        if step.blank is None:
            raise DeriveError(f"{name!r} is not a blank of the worksheet (`derive keys` numbers them)", key="--ask")
    keys = {step.key for step in chosen}
    return [step for step in steps if step.key in keys]


@dataclass(frozen=True)
class Setting:
    """What the teacher chose: the variants, the graded steps, the ECF credit, the pass mark, the SCORM version."""

    variants: int = 0  # 0: one page, the network as given
    seed: int = 0
    ask: Sequence[str] = ()
    ecf: str = "full"
    pass_mark: Decimal = DEFAULT_PASS  # percent
    version: str = "1.2"

    def check(self) -> None:
        if self.version not in VERSIONS:
            raise DeriveError(f"unknown SCORM version {self.version!r} (expected 1.2 or 2004)", key="--version")
        if self.ecf not in ECF_POLICIES:
            raise DeriveError(f"unknown ECF policy {self.ecf!r} (expected full, half or none)", key="--ecf")
        if not Decimal(0) <= self.pass_mark <= Decimal(100):
            raise DeriveError(f"expected a percentage from 0 to 100, got {self.pass_mark}", key="--pass")


def scorm_package(spec: NetworkSpec, setting: Setting, **options: Any) -> bytes:
    """The zip: ``imsmanifest.xml`` and ``index.html``; the same input gives the same bytes."""
    setting.check()
    chosen = Options(**options)
    catalog = chosen.templates.catalog(chosen.language)
    count = setting.variants or 1
    # every variant's page shares one title: the page shows "variant K of N" itself
    networks = [replace(variant(spec, setting.seed, k), name=spec.name) for k in range(1, count + 1)]
    networks = networks if setting.variants else [spec]
    steps = document_steps(networks[0], chosen)
    graded = graded_steps(steps, setting.ask)
    title = f"{catalog('worksheet.title')}: {network_name(spec, catalog)}"
    context: dict[str, Any] = {
        "data": json_script(_bridge_data(setting, graded, catalog)),
        "variants": [],
        "count": count,
        "asked": [step.blank for step in graded] if setting.ask else [],
        "pass_mark": _percent_text(setting.pass_mark),
        "ecf": setting.ecf,
    }
    # each variant's page as the LMS shows it (its instructions say that the course records the work);
    # the first variant's is the page, the others' working goes into it
    pages = [html_page(network, worksheet=True, curve_steps=0, scorm=context, **options) for network in networks]
    first = _Shared(_outside(pages[0]), _part(_FORMULAS, pages[0]))
    context["variants"] = [_working(first, other, k) for k, other in enumerate(pages[1:], 2)]
    page = html_page(networks[0], worksheet=True, curve_steps=0, scorm=context, **options)
    files = {LAUNCH: page.encode("utf-8")}
    files["imsmanifest.xml"] = manifest(setting, title, sorted(files))
    return zip_bytes(files)


def _bridge_data(setting: Setting, graded: Sequence[Step], catalog: Catalog) -> dict[str, Any]:
    """What the page's bridge needs: the version, the rule of the variants, the pass mark, the credit of a
    carried-forward value, the size of the suspend data, and each graded step's key, blank, id and meaning."""
    return {
        "version": setting.version,
        "variants": setting.variants or 1,
        "seed": setting.seed,
        "pass": str(setting.pass_mark),
        "carried": str(ECF_POLICIES[setting.ecf]),
        "suspendLimit": SUSPEND_LIMIT[setting.version],
        "asked": [
            {"key": step.key, "blank": step.blank, "id": interaction_id(step), "meaning": meaning(step, catalog)}
            for step in graded
        ],
    }


@dataclass(frozen=True)
class Working:
    """One more variant's part of the page: its working (the inside of ``<main>``), its checking data and,
    where they differ from the first variant's, its formulas (a JavaScript object)."""

    number: int
    main: Markup
    checking: Markup
    formulas: Markup | None


@dataclass(frozen=True)
class _Shared:
    """What every variant's page must share with the first's (the page outside the working), and the
    first's formulas, which a variant carries again only where its own differ."""

    outside: str
    formulas: str


def _part(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    if found is None or page.count("<main>") != 1:
        raise DeriveError("the worksheet page has no single <main>, checking data and formulas to share")
    return found.group(1)


def _working(first: _Shared, page: str, number: int) -> Working:
    """Variant ``number``'s working, cut from its page; the rest of its page must be the first variant's."""
    main, checking, formulas = (_part(pattern, page) for pattern in (_MAIN, _CHECKING, _FORMULAS))
    if _outside(page) != first.outside:
        raise DeriveError(f"variant {number}'s page differs from variant 1's outside its working; cannot share a page")
    own = None if formulas == first.formulas else Markup(formulas)
    return Working(number, Markup(main), Markup(checking), own)


def _outside(page: str) -> str:
    return _FORMULAS.sub("", _CHECKING.sub("", _MAIN.sub("", page)))


def _percent_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def manifest(setting: Setting, title: str, files: Sequence[str]) -> bytes:
    """``imsmanifest.xml``: metadata (schema, schema version), one organization of one item, one SCO resource
    listing every file of the package."""
    version = setting.version
    spaces = _NAMESPACES[version]
    for prefix, uri in spaces.items():
        ET.register_namespace(prefix, uri)

    def tag(name: str, prefix: str = "") -> str:
        return f"{{{spaces[prefix]}}}{name}"

    digest = hashlib.blake2b("\x1f".join([title, version, *files]).encode("utf-8"), digest_size=8).hexdigest()
    root = ET.Element(tag("manifest"), {"identifier": f"derive-{digest}", "version": "1"})
    locations = {**spaces, "imsmd": _IMSMD} if version == "1.2" else spaces
    pairs = [f"{locations[prefix]} {schema}" for prefix, schema in _SCHEMAS[version].items()]
    root.set(tag("schemaLocation", "xsi"), " ".join(pairs))
    metadata = ET.SubElement(root, tag("metadata"))
    ET.SubElement(metadata, tag("schema")).text = "ADL SCORM"
    ET.SubElement(metadata, tag("schemaversion")).text = _SCHEMA_VERSION[version]
    organizations = ET.SubElement(root, tag("organizations"), {"default": "derive-organization"})
    organization = ET.SubElement(organizations, tag("organization"), {"identifier": "derive-organization"})
    ET.SubElement(organization, tag("title")).text = title
    item = ET.SubElement(
        organization, tag("item"), {"identifier": "derive-item", "identifierref": "derive-sco", "isvisible": "true"}
    )
    ET.SubElement(item, tag("title")).text = title
    if version == "1.2":
        # the LMS may judge passed/failed from the score itself: the same mark the page applies
        ET.SubElement(item, tag("masteryscore", "adlcp")).text = _percent_text(setting.pass_mark)
    else:
        _pass_objective(item, setting.pass_mark, tag)
    resources = ET.SubElement(root, tag("resources"))
    attributes = {"identifier": "derive-sco", "type": "webcontent", "href": LAUNCH}
    attributes[tag(_SCORM_TYPE[version], "adlcp")] = "sco"
    resource = ET.SubElement(resources, tag("resource"), attributes)
    for name in files:
        ET.SubElement(resource, tag("file"), {"href": name})
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _pass_objective(item: ET.Element, pass_mark: Decimal, tag: Any) -> None:
    """SCORM 2004: the item's primary objective is satisfied by a scaled score of at least the pass mark,
    which the LMS hands to the SCO as ``cmi.scaled_passing_score``."""
    sequencing = ET.SubElement(item, tag("sequencing", "imsss"))
    objectives = ET.SubElement(sequencing, tag("objectives", "imsss"))
    primary = ET.SubElement(
        objectives, tag("primaryObjective", "imsss"), {"objectiveID": "derive-pass", "satisfiedByMeasure": "true"}
    )
    ET.SubElement(primary, tag("minNormalizedMeasure", "imsss")).text = _percent_text(pass_mark / 100)


def which(learner_id: str, variants: int, seed: int) -> str:
    """``derive scorm --which``: the learner's variant number, a line of its own."""
    return f"{variant_of(learner_id, variants, seed)}\n"
