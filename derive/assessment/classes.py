"""What a class gets wrong: the class report of ``derive check class.csv --report report.html`` (or ``.md``).

From every student's graded and diagnosed sheet: the share of the class correct, carried forward,
wrong and missing at each blank; the mistakes by count, with the steps where they occur and the
students who made them; the score distribution; and the steps where students first go wrong.
The page draws them as inline SVG bar charts; the Markdown as tables and a Mermaid pie chart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from markupsafe import Markup

from derive.assessment.grading import Grade, show_score
from derive.errors import DeriveError
from derive.outputs.charts import bars, stacked
from derive.outputs.render import Catalog, Renderer

VERDICTS = ("correct", "carried_forward", "wrong", "missing")
REPORT_FORMATS = {".html": "html/class.html.j2", ".md": "markdown/class.md.j2"}
BANDS = 10  # the score distribution's bands, each a tenth of the maximum


@dataclass(frozen=True)
class StepShare:
    """How many students were correct, carried forward, wrong and missing at one blank."""

    key: str
    blank: int
    counts: tuple[int, ...]  # in the order of VERDICTS

    def percent(self, verdict: str) -> int:
        return round(100 * self.counts[VERDICTS.index(verdict)] / (sum(self.counts) or 1))


@dataclass(frozen=True)
class MistakeCount:
    """One mistake of the catalogue: how often it was made, where, and by whom."""

    id: str
    count: int
    steps: tuple[str, ...]
    students: tuple[str, ...]


@dataclass(frozen=True)
class ClassReport:
    """The class report's figures."""

    students: int
    maximum: Decimal
    mean: Decimal
    shares: tuple[StepShare, ...]
    mistakes: tuple[MistakeCount, ...]
    scores: tuple[tuple[str, int], ...]  # each band of the score, and how many students are in it
    first_wrong: tuple[tuple[str, int], ...]  # each step where students first go wrong, and how many
    blanks: int = 0  # the worksheet's blanks, every one in each score's maximum

    @property
    def unanswered(self) -> int:
        """Blanks no student answered (a class file that asks a few steps): missing in every score."""
        return self.blanks - len(self.shares)


def summarise(results: Sequence[Grade]) -> ClassReport:
    """The class report of graded sheets (each diagnosed)."""
    if not results:
        raise DeriveError("a class report needs at least one student")
    maximum = results[0].maximum
    mean = sum((result.score for result in results), Decimal(0)) / len(results)
    blanks = sum(1 for row in results[0].rows if row.step.blank is not None)
    return ClassReport(
        len(results),
        maximum,
        mean,
        _shares(results),
        _mistakes(results),
        _bands(results),
        _first_wrong(results),
        blanks,
    )


def _name(result: Grade, n: int) -> str:
    return result.student or f"#{n + 1}"


def _shares(results: Sequence[Grade]) -> tuple[StepShare, ...]:
    """Each blank some student answered (a class file asks for some steps only), in document order."""
    asked = {key for result in results for key in result.answers}
    counts: dict[str, Counter[str]] = {}
    blanks: dict[str, int] = {}
    for result in results:
        for row in result.rows:
            if row.step.blank is not None and row.step.key in asked:
                counts.setdefault(row.step.key, Counter())[row.verdict] += 1
                blanks[row.step.key] = row.step.blank
    return tuple(StepShare(key, blanks[key], tuple(found[v] for v in VERDICTS)) for key, found in counts.items())


def _mistakes(results: Sequence[Grade]) -> tuple[MistakeCount, ...]:
    count: Counter[str] = Counter()
    steps: dict[str, dict[str, None]] = {}
    students: dict[str, dict[str, None]] = {}
    for n, result in enumerate(results):
        for row in result.rows:
            if row.mistake is not None:
                count[row.mistake.id] += 1
                steps.setdefault(row.mistake.id, {})[row.step.key] = None
                students.setdefault(row.mistake.id, {})[_name(result, n)] = None
    return tuple(
        MistakeCount(mistake, number, tuple(steps[mistake]), tuple(students[mistake]))
        for mistake, number in count.most_common()
    )


def _bands(results: Sequence[Grade]) -> tuple[tuple[str, int], ...]:
    """How many scores fall in each tenth of the maximum (the last tenth holds the maximum itself)."""
    found = [0] * BANDS
    for result in results:
        share = result.score / result.maximum if result.maximum else Decimal(0)
        found[min(int(share * BANDS), BANDS - 1)] += 1
    step = 100 // BANDS
    return tuple((f"{n * step}–{(n + 1) * step}%", number) for n, number in enumerate(found))


def _first_wrong(results: Sequence[Grade]) -> tuple[tuple[str, int], ...]:
    found = Counter(result.first_wrong.step.key for result in results if result.first_wrong is not None)
    return tuple(found.most_common())


# -- the report as a page or as Markdown ----------------------------------------------------------


def report_template(path: Path) -> str:
    """The template of a report file, by its suffix; a clear error for any other."""
    template = REPORT_FORMATS.get(path.suffix.lower())
    if template is None:
        raise DeriveError(
            f"expected a report file ending in .html or .md, got {path.suffix or 'no suffix'!r}", key="--report"
        )
    return template


def charts(report: ClassReport, t: Catalog) -> dict[str, Markup]:
    """The page's charts as inline SVG, titled in the catalog's language."""
    shares = [(f"{share.blank} {share.key}", share.counts) for share in report.shares]
    return {
        "shares": Markup(stacked(shares, VERDICTS, t("class_report.shares_title"), "shares")),
        "mistakes": Markup(
            bars([(m.id, m.count) for m in report.mistakes], t("class_report.mistakes_title"), "mistakes")
        ),
        "scores": Markup(bars(list(report.scores), t("class_report.scores_title"), "scores")),
        "first": Markup(bars(list(report.first_wrong), t("class_report.first_title"), "first")),
    }


def render_report(
    results: Sequence[Grade], renderer: Renderer, language: str, path: Path, *, source: str, network: str
) -> str:
    """The class report as a page or as Markdown, as ``path``'s suffix says."""
    template = report_template(path)
    report = summarise(results)
    t = renderer.catalog(language)
    return renderer.render(
        template,
        language,
        report=report,
        charts=charts(report, t),
        verdicts=VERDICTS,
        source=source,
        network=network,
        mean=show_score(report.mean.quantize(Decimal("0.1"))),
        maximum=show_score(report.maximum),
    )
