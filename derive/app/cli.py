"""The command line: each shared option declared once, each command adding only its own.

The parser turns words into typed options; :mod:`derive.app.commands` does the work.  Bad options end
with one line and status 2, user errors with one line and status 2, internal errors with one line
and status 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from derive.app.options import choice, decimal, marks, names, percent, text_line, whole
from derive.errors import DeriveError, Terminated, request_termination, stop_if_terminated
from derive.spec.variants import MAX_VARIANTS
from derive.version import __version__

# The choices of the shared options (kept here, not imported, so that `--help` starts at once).
DETAILS = ("full", "standard", "brief")
EXERCISES = ("numbers", "formulas", "exam")
PAPERS = ("a4", "letter")
DIGITS = 9  # decimals shown
FIGURES = 4  # the significant figures a document asks for (derive.document.precision.ANSWER_FIGURES)
MOST_FIGURES = 15  # derive.document.marking.MOST_FIGURES
EXAM_ONLY = ("ask", "marks", "minutes", "course", "date")

Declare = Callable[[argparse.ArgumentParser], None]


# -- the shared options, each declared once -------------------------------------------------------


def network(sub: argparse.ArgumentParser) -> None:
    """NETWORK, and student K's variant of it."""
    sub.add_argument(
        "network", nargs="?", metavar="NETWORK", help="a .toml/.json file or a built-in name (default: mazur)"
    )
    sub.add_argument(
        "--variant",
        type=whole(1, MAX_VARIANTS),
        metavar="K",
        help="work on student K's variant (needs --seed): the numbers `worksheet --variants N --seed S` gave them",
    )
    sub.add_argument("--seed", type=whole(0), metavar="S", help="seed of the variants, and of an exam's numbers")


def language(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--lang", default="en", metavar="LANG", help="language: en (default) or es")


def notation(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--notation",
        type=choice("notation", ("net", "in")),
        metavar="net|in",
        help="name of the net input: net_h1 or in_h1 (default: the language's)",
    )


def digits(sub: argparse.ArgumentParser) -> None:
    # no default here: parse() fills in DIGITS, and an exam its FIGURES, when --digits is not given
    sub.add_argument(
        "--digits",
        type=whole(0, 30),
        metavar="N",
        help=f"decimals shown (default {DIGITS}); an exam: the significant figures asked (default {FIGURES})",
    )


def rounding(sub: argparse.ArgumentParser, shown: bool = True) -> None:
    sub.add_argument(
        "--round-activations",
        type=whole(0, 15, "a number of decimals"),
        metavar="K",
        help="round each hidden output to K decimals before the next layer uses it, as done by hand"
        if shown
        else argparse.SUPPRESS,
    )


def only(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--only", type=names, default=[], metavar="w5,w1", help="derive only these gradients")


def detail(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--detail",
        type=choice("detail", DETAILS),
        default="standard",
        metavar="full|standard|brief",
        help="full: every gradient derived in full; standard (default): each δ once, the other gradients cite it; "
        "brief: each δ in one line",
    )


def example(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--example",
        type=whole(1),
        metavar="P",
        help="with online or mini-batch updates: work the update of example P, from the weights the earlier left",
    )


def paper(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--paper", type=choice("paper", PAPERS), default="a4", metavar="a4|letter", help="paper size")


def pdf(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--pdf", action="store_true", help="also compile PDFs with pdflatex, one document per core")


def matrix(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--matrix", action="store_true", help="add the matrix form of the derivation")


def templates(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--templates", type=Path, metavar="DIR", help="a folder of templates overriding the shipped ones")


def output_file(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of printing")


def output_folder(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("-o", "--output", type=Path, metavar="DIR", help="folder (default: output)")


def variants(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--variants",
        type=whole(1, MAX_VARIANTS),
        default=0,
        metavar="N",
        help="N per-student variants, each with its own values and answers (seed: --seed, default 0)",
    )


def as_json(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print JSON")


DOCUMENT = [network, language, notation, only, detail, example, matrix, templates, digits, rounding]


# -- each command's own options -----------------------------------------------------------------


def _worksheet(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--exercise",
        type=choice("exercise", EXERCISES),
        default="numbers",
        metavar="numbers|formulas|exam",
        help="numbers (default): formulas given, numbers blank; formulas: the factors' formulas blank too; "
        "exam: a sheet of questions with marks, and its answer key with the mark scheme, with numbers of its own "
        "(from --seed S, or a seed drawn at random) unless NETWORK is named",
    )
    sub.add_argument(
        "--ask",
        type=names,
        default=[],
        metavar="KEYS",
        help="the exam's questions, one value each, as keys (see `derive keys`) instead of the default exam",
    )
    sub.add_argument(
        "--marks",
        type=marks,
        metavar="M,M,…",
        help="the exam's marks: each question's (shared among its parts), or its parts' joined by +, e.g. 11,6,4+4+2+2",
    )
    sub.add_argument("--minutes", type=whole(1, 600), metavar="N", help="the exam's duration (default: 1.5 a mark)")
    sub.add_argument("--course", type=text_line("a course name"), metavar="TEXT", help="the course, at the exam's head")
    sub.add_argument(
        "--date", type=text_line("a date"), metavar="TEXT", help="the exam's date (default: a line to fill in)"
    )
    sub.add_argument(
        "--combined", action="store_true", help="with --variants: also class-worksheets.pdf and class-solutions.pdf"
    )
    sub.add_argument(
        "--roster", type=Path, metavar="FILE", help="with --combined: a CSV whose student column names them"
    )


def _html(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--worksheet",
        action="store_true",
        help="the worksheet: every blank an input, checked in the page as by `check`",
    )
    sub.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write to FILE (default: output/explanation-LANG.html, or output/worksheet-LANG.html)",
    )


def _slides(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--handout", action="store_true", help="every frame once, fully revealed, for printing (slides-handout.tex)"
    )


def _train(sub: argparse.ArgumentParser) -> None:
    length = sub.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=whole(0, 10_000_000), metavar="N", help="number of steps (updates)")
    length.add_argument(
        "--epochs", type=whole(0, 10_000_000), metavar="N", help="number of epochs (passes over the examples)"
    )
    sub.add_argument(
        "--until",
        type=decimal("an error goal above 0", positive=True),
        metavar="E",
        help="stop once E_total over all the examples is E or below",
    )
    sub.add_argument(
        "--batch-size",
        type=whole(1, what="a whole number of examples per update"),
        metavar="K",
        help="examples per update: 1 online, K mini-batches (default: all, or the file's batch_size)",
    )
    sub.add_argument("--shuffle", type=whole(0, what="a seed"), metavar="S", help="reshuffle every epoch with seed S")
    sub.add_argument(
        "--momentum",
        type=decimal("a number from 0 up to but not including 1", below_one=True),
        metavar="B",
        help="momentum β: Δθ ← β·Δθ − η·∂E/∂θ (default: 0, or the file's momentum)",
    )
    sub.add_argument(
        "--weight-decay",
        type=decimal("0 or a positive number"),
        metavar="L",
        help="weight decay λ: descend E + (λ/2)·Σ w² (default: 0, or the file's weight_decay)",
    )
    sub.add_argument(
        "--update",
        type=choice("update order", ("simultaneous", "sequential")),
        default="simultaneous",
        metavar="ORDER",
        help="simultaneous (default): every gradient from one forward pass; sequential: the output layer "
        "first, hidden deltas through the updated weights",
    )
    sub.add_argument("--plot", type=Path, metavar="FILE", help="draw the error curve into FILE (.png or .svg)")


def _keys(text: str) -> list[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise argparse.ArgumentTypeError("expected step keys or blank numbers separated by commas, e.g. E_total,dE/dw5")
    return keys


def _check(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "answers",
        type=Path,
        metavar="ANSWERS",
        help="a .toml or .json file of key = number (one student), or a .csv file for a class",
    )


def _ecf(sub: argparse.ArgumentParser) -> None:
    """--ecf, shared by check and scorm: what a step carried forward earns."""
    sub.add_argument(
        "--ecf",
        type=choice("ECF policy", ("full", "half", "none")),
        default="full",
        metavar="full|half|none",
        help="what a step carried forward from an earlier mistake earns: 1, 1/2 or 0 (default full)",
    )


def _grading(sub: argparse.ArgumentParser) -> None:
    _ecf(sub)
    sub.add_argument(
        "--min-digits",
        type=whole(1, 20, "a number of significant digits"),
        metavar="N",
        help="significant digits an answer needs (default 4, as the worksheets ask)",
    )
    sub.add_argument("--marks", type=Path, metavar="FILE", help="a TOML file with a [weights] table of key = weight")
    sub.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="with a class CSV, also write the class report: a page (.html) or Markdown (.md) of the shares "
        "correct at each step, the mistakes, the scores and where students first go wrong",
    )


def _quiz(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--format", type=choice("quiz format", ("moodle", "qti")), required=True, metavar="moodle|qti")
    sub.add_argument(
        "--ask",
        type=_keys,
        default=[],
        metavar="KEYS",
        help="the steps to ask, by key or blank number (default: E_total, the gradients, the updates, E_total+)",
    )
    sub.add_argument(
        "--digits",
        type=whole(1, 15, "a number of significant digits"),
        default=FIGURES,
        metavar="N",
        help="significant digits an answer needs (default 4)",
    )


def _scorm(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--ask",
        type=_keys,
        default=[],
        metavar="KEYS",
        help="the blanks the grade counts, by key or blank number (default: every blank)",
    )
    _ecf(sub)
    sub.add_argument(
        "--pass",
        dest="pass_mark",
        type=percent,
        default=percent("50"),
        metavar="PERCENT",
        help="the share of the marks that passes (default 50)",
    )
    sub.add_argument(
        "--version",
        dest="scorm_version",
        type=choice("SCORM version", ("1.2", "2004")),
        default="1.2",
        metavar="1.2|2004",
        help="SCORM 1.2 (default; Moodle, Canvas, Blackboard) or SCORM 2004 4th edition",
    )
    sub.add_argument(
        "--which", metavar="ID", help="print the variant the learner with this LMS id gets (with --variants N --seed S)"
    )
    sub.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: scorm.zip)")


def _example(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("name", nargs="?", default="mazur", metavar="NAME", help="built-in name (default: mazur)")
    sub.add_argument("--list", action="store_true", help="list the built-in examples")


COMMANDS: list[tuple[str, str, list[Declare]]] = [
    ("explain", "the step-by-step explanation in Markdown (the default command)", [*DOCUMENT, output_file]),
    (
        "html",
        "the explanation (or the worksheet) as one web page that works offline, with MathML, SVG and a step-through",
        [*DOCUMENT, _html],
    ),
    (
        "worksheet",
        "a LaTeX worksheet and its solutions (and PDFs with --pdf)",
        [*DOCUMENT, paper, output_folder, pdf, _worksheet, variants],
    ),
    (
        "slides",
        "a Beamer deck for the lecture, revealing each derivation factor by factor",
        [network, language, notation, only, detail, example, templates, digits, rounding, output_folder, pdf, _slides],
    ),
    (
        "keys",
        "every step's key and blank number, as answer files and --ask use them",
        [network, language, only, detail, example, templates, as_json, output_file],
    ),
    (
        "gradients",
        "the forward pass, every gradient and the updated parameters",
        [network, example, as_json, digits, rounding],
    ),
    ("train", "N steps of gradient descent, with the error history", [network, _train, as_json, digits, rounding]),
    (
        "code",
        "a standalone NumPy module computing the loss and every gradient",
        [network, output_file, lambda sub: rounding(sub, shown=False)],
    ),
    (
        "check",
        "grade a student's working (or a class's) step by step, with error carried forward",
        [_check, network, _grading, language, only, detail, example, templates, digits, as_json, output_file],
    ),
    (
        "quiz",
        "a quiz for Moodle (XML with Cloze questions) or Canvas (a QTI package)",
        [network, _quiz, variants, language, only, example, templates, output_file],
    ),
    (
        "scorm",
        "the checking worksheet as a SCORM package for an LMS: a variant per learner, the ECF score to the gradebook",
        [network, variants, _scorm, language, notation, only, detail, example, templates, digits, rounding],
    ),
    ("example", "print a built-in example's TOML, to copy and edit", [_example]),
]


class _Parser(argparse.ArgumentParser):
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> None:  # type: ignore[override]
        """Bad options: one line that says what is wrong and where to read more, status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


@functools.cache  # parsing leaves the parser as it was: one per process, however many commands run in it
def build_parser() -> _Parser:
    parser = _Parser(
        prog="derive",
        description="Forward and back propagation on small networks, derived step by step with SymPy. "
        "Without a command, prints the explanation of the worked example.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.commands = {}
    for name, help, declarations in COMMANDS:
        sub = parser.commands[name] = commands.add_parser(name, help=help, description=help)
        # SUPPRESS: `derive --debug COMMAND` must not be reset by the command's own default
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for declare in declarations:
            declare(sub)
    return parser


def parse(parser: _Parser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, with the checks that span two of them."""
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["explain", *(["--debug"] if args.debug else [])])
    sub = parser.commands[args.command]
    if getattr(args, "variant", None) is not None:
        if args.seed is None:
            sub.error("argument --variant: needs --seed S, the seed that made the variants")
        if getattr(args, "variants", 0):
            sub.error("argument --variant: not allowed with --variants (one student, or all of them)")
    if getattr(args, "combined", False) and not args.variants:
        sub.error("argument --combined: needs --variants N, the students whose sheets it gathers")
    if getattr(args, "roster", None) is not None and not args.combined:
        sub.error("argument --roster: goes with --combined, which heads each student's sheet with their name")
    if getattr(args, "which", None) is not None and not args.variants:
        sub.error("argument --which: needs --variants N (and --seed S), the variants the package was made with")
    if args.command == "worksheet":
        for name in EXAM_ONLY:
            if getattr(args, name) and args.exercise != "exam":
                sub.error(f"argument --{name}: goes with --exercise exam")
        args.figures = FIGURES if args.digits is None else args.digits
        if args.exercise == "exam" and not 1 <= args.figures <= MOST_FIGURES:
            sub.error(f"argument --digits: an exam asks for significant figures: expected 1 to {MOST_FIGURES}")
    if getattr(args, "digits", DIGITS) is None:
        args.digits = DIGITS
    return args


def _terminated(signal_number: int, frame: object) -> None:
    request_termination()
    raise Terminated


def _quiet_if_terminated(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """sys.unraisablehook that says nothing of a swallowed Terminated (stop_if_terminated raises it
    again before any output is written) and passes anything else to ``previous``."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, Terminated):
            previous(unraisable)

    return hook


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; SIGTERM unwinds like Ctrl-C (temporary folders removed), then ends with status 143."""
    import signal
    import threading

    parser = build_parser()
    args = parse(parser, argv)
    request_termination(False)  # a signal to an earlier command in this process is not this one's
    if threading.current_thread() is not threading.main_thread():
        return _run(args)
    previous, unraisable = signal.signal(signal.SIGTERM, _terminated), sys.unraisablehook
    sys.unraisablehook = _quiet_if_terminated(unraisable)
    try:
        status = _run(args)
        stop_if_terminated()
        return status
    except Terminated:
        print("derive: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = unraisable
        request_termination(False)


def _run(args: argparse.Namespace) -> int:
    from derive.app import commands

    try:
        return commands.run(args)
    except DeriveError as error:
        print(f"derive: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("derive: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (head, less) went away: stop quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # an internal error: short unless asked
        if args.debug:
            raise
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        print(
            f"derive: internal error: {type(error).__name__}: {first_line} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1
