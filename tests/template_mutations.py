"""Mutation testing of the templates and catalogs, which mutmut cannot mutate.

Each mutant is one small, plausible slip a person could make in the mathematics or the data a reader
sees: an operator's sign flipped, a fraction (or a ∂a/∂b) turned upside down, two indices swapped,
two columns of a table swapped.  The script copies the checkout to a temporary folder (the user's own
files are never touched), applies one mutant at a time there, runs the tests that read the documents,
and reports the share the suite kills, for the templates and for the catalogs, with every survivor.

    python tests/template_mutations.py                  # every mutant
    python tests/template_mutations.py --sample 40 --seed 1
    python tests/template_mutations.py --list           # the mutants, without running anything
    python tests/template_mutations.py --only templates/beamer   # the mutants of the files under a path

Survivors are explained in tests/mutation-survivors.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tests that read each kind of output, quickest killers first (-x stops at the first failure).
SELECTIONS = {
    "templates/i18n/": "tests/test_catalog_math.py tests/test_teaching.py tests/test_spanish.py "
    "tests/test_worked_example.py",
    "templates/markdown/": "tests/test_reading_meaning.py tests/test_given_numbers.py tests/test_worked_example.py "
    "tests/test_teaching.py tests/test_documents.py",
    "templates/latex/": "tests/test_rule_meaning.py tests/test_equation_chains.py tests/test_given_numbers.py "
    "tests/test_given_everywhere.py tests/test_documents.py tests/test_course_documents.py tests/test_exam.py",
    "templates/beamer/": "tests/test_rule_meaning.py tests/test_catalog_math.py tests/test_given_everywhere.py "
    "tests/test_slides.py tests/test_given_numbers.py",
    "templates/html/": "tests/test_rule_meaning.py tests/test_class_report.py tests/test_given_numbers.py "
    "tests/test_html.py tests/test_equation_chains.py tests/test_given_everywhere.py tests/test_browser.py",
}


def selection(path: str) -> str:
    return next(tests for prefix, tests in SELECTIONS.items() if path.startswith(prefix))


# A catalog's mathematics is what sits between $…$; a template's, what sits on a line of LaTeX mathematics.
MATH_SPAN = re.compile(r"\$[^$\n]+\$")
MATH_LINE = re.compile(r"\\(?:frac|partial|delta|eta|theta|sigma|sum|cdot|mathrm)\b|\\\(|\\\[|\^\{")


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the checkout
    line: int
    kind: str
    before: str
    after: str

    @property
    def group(self) -> str:
        return "catalogs" if self.path.startswith("templates/i18n/") else "templates"

    def describe(self) -> str:
        return f"{self.path}:{self.line} [{self.kind}] {self.before.strip()[:90]!r} → {self.after.strip()[:90]!r}"


def _balanced(text: str, start: int) -> int:
    """The index just past the brace group that opens at ``text[start] == "{"``, or -1."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return -1


def _fractions(text: str) -> Iterator[str]:
    r"""``\frac{A}{B}`` → ``\frac{B}{A}``, one fraction at a time."""
    for match in re.finditer(r"\\frac\{", text):
        numerator_end = _balanced(text, match.end() - 1)
        if numerator_end < 0 or numerator_end >= len(text) or text[numerator_end] != "{":
            continue
        denominator_end = _balanced(text, numerator_end)
        if denominator_end < 0:
            continue
        numerator, denominator = text[match.end() - 1 : numerator_end], text[numerator_end:denominator_end]
        if numerator != denominator:
            yield text[: match.end() - 1] + denominator + numerator + text[denominator_end:]


_PARTIAL_RATIO = re.compile(r"(\\\\?partial [^/$]+?) / (\\\\?partial [^$,;:()]+?)(?=[\s$,;:)]|$)")
_SIGN = re.compile(r"(?<=\S) ([-+]) (?=\S)")
_INDEX = re.compile(r"_\{?([jk])\}?|_\{(kj|jk)\}")
_SWAPS = {"j": "k", "k": "j", "kj": "jk", "jk": "kj"}


def _partial_ratios(text: str) -> Iterator[str]:
    """``∂a / ∂b`` → ``∂b / ∂a``."""
    for match in _PARTIAL_RATIO.finditer(text):
        yield text[: match.start()] + f"{match[2]} / {match[1]}" + text[match.end() :]


def _signs(text: str) -> Iterator[str]:
    """``a - b`` → ``a + b`` and the reverse."""
    for match in _SIGN.finditer(text):
        flipped = "+" if match[1] == "-" else "-"
        yield text[: match.start(1)] + flipped + text[match.end(1) :]


def _indices(text: str) -> Iterator[str]:
    """``w_{kj}`` → ``w_{jk}``, ``δ_j`` → ``δ_k``."""
    for match in _INDEX.finditer(text):
        index = match[1] or match[2]
        start = match.start(1) if match[1] else match.start(2)
        yield text[:start] + _SWAPS[index] + text[start + len(index) :]


def _html_columns(text: str) -> Iterator[str]:
    """Two neighbouring cells of an HTML table row swapped."""
    cells = list(re.finditer(r"<td[^>]*>.*?</td>", text))
    for left, right in itertools.pairwise(cells):
        if left.end() == right.start() and left[0] != right[0]:
            yield text[: left.start()] + right[0] + left[0] + text[right.end() :]


def _latex_columns(text: str) -> Iterator[str]:
    r"""The first two cells of a LaTeX table row (``a & b & … \\``) swapped."""
    if text.count("&") >= 1 and text.rstrip().endswith("\\\\") and "\\begin" not in text:
        cells = text.split("&")
        if cells[0].strip() and cells[1].strip() and cells[0].strip() != cells[1].strip():
            indent = cells[0][: len(cells[0]) - len(cells[0].lstrip())]
            yield indent + cells[1].strip() + " & " + cells[0].strip() + " &" + "&".join(cells[2:])


MATH_OPERATORS: list[tuple[str, Callable[[str], Iterator[str]]]] = [
    ("sign", _signs),
    ("fraction", _fractions),
    ("fraction", _partial_ratios),
    ("index", _indices),
]


def _in_spans(line: str, operator: Callable[[str], Iterator[str]]) -> Iterator[str]:
    """The operator applied inside each $…$ span of a catalog line, one change at a time."""
    for span in MATH_SPAN.finditer(line):
        for changed in operator(span[0]):
            yield line[: span.start()] + changed + line[span.end() :]


def mutants_of(path: Path) -> Iterator[Mutant]:
    relative = path.relative_to(ROOT).as_posix()
    catalog = path.suffix == ".toml"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True), start=1):
        if line.lstrip().startswith(("#", "{#", "//")):
            continue
        for kind, operator in MATH_OPERATORS:
            if catalog:
                changes = _in_spans(line, operator)
            elif MATH_LINE.search(line) and "<%" not in line[:3]:
                changes = operator(line)
            else:
                continue
            for after in changes:
                yield Mutant(relative, number, kind, line, after)
        if not catalog:
            for after in [*_html_columns(line), *_latex_columns(line)]:
                yield Mutant(relative, number, "column", line, after)


def all_mutants() -> list[Mutant]:
    files = sorted((ROOT / "templates").rglob("*.j2")) + sorted((ROOT / "templates" / "i18n").glob("*.toml"))
    return [mutant for path in files for mutant in mutants_of(path)]


def _copy_checkout(into: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".mutmut-cache", "output", "*.egg-info", "dist")
    copy = into / "derive-checkout"
    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
    return copy


def _apply(copy: Path, mutant: Mutant) -> str:
    """Write the mutant into the copy; return the file's original text to restore it."""
    target = copy / mutant.path
    original = target.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    assert lines[mutant.line - 1] == mutant.before, mutant.describe()
    lines[mutant.line - 1] = mutant.after
    target.write_text("".join(lines), encoding="utf-8")
    return original


def _killed(copy: Path, tests: str, timeout: float) -> bool:
    # -n 0: one process; the mutants run one after another, and the machine is shared
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests.split()]
    env = {**os.environ, "CI": os.environ.get("CI", "true"), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True  # counted as mutmut counts a timeout: the suite noticed something
    return result.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, help="run this many mutants, picked at random (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tests", help="the pytest selection each mutant runs (default: its folder's, SELECTIONS)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--only", metavar="PREFIX", help="only the mutants whose path starts with PREFIX")
    args = parser.parse_args()
    mutants = [mutant for mutant in all_mutants() if mutant.path.startswith(args.only or "")]
    if args.sample is not None and args.sample < len(mutants):
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.path, m.line))
    if args.list:
        print("\n".join(mutant.describe() for mutant in mutants))
        print(f"{len(mutants)} mutants")
        return 0
    score: dict[str, list[int]] = {"templates": [0, 0], "catalogs": [0, 0]}
    survivors: list[Mutant] = []
    with tempfile.TemporaryDirectory(prefix="derive-template-mutants-") as folder:
        copy = _copy_checkout(Path(folder))
        for n, mutant in enumerate(mutants, start=1):
            started = time.monotonic()
            original = _apply(copy, mutant)
            try:
                killed = _killed(copy, args.tests or selection(mutant.path), args.timeout)
            finally:
                (copy / mutant.path).write_text(original, encoding="utf-8")
            score[mutant.group][0] += killed
            score[mutant.group][1] += 1
            if not killed:
                survivors.append(mutant)
            verdict = "killed" if killed else "SURVIVED"
            print(f"{n}/{len(mutants)} {verdict} ({time.monotonic() - started:.0f} s) {mutant.describe()}", flush=True)
    for group, (killed, total) in score.items():
        if total:
            print(f"{group}: {killed} of {total} killed, {100 * killed / total:.1f} %")
    for mutant in survivors:
        print(f"survived: {mutant.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
