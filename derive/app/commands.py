"""What each command does, given its parsed options: load the network, call the library, emit.

The parser (:mod:`derive.app.cli`) declares the options; these functions read them by name.  Every
command that takes a NETWORK works on student K's variant when ``--variant K --seed S`` is given.
"""

from __future__ import annotations

import json
import math
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

from derive.errors import DeriveError, stop_if_terminated
from derive.spec.model import NetworkSpec

PROGRESS_FROM = 100_000  # steps: shorter runs finish before a bar would help
DOCUMENT_DIGITS = 9  # an exam's key works to 9 decimals, as the solutions do: its --digits are the figures asked


def network_of(options: Namespace) -> NetworkSpec:
    """The NETWORK argument as a spec: student K's variant with ``--variant``, rounded if asked."""
    from derive.spec.checks import with_options
    from derive.spec.files import resolve
    from derive.spec.variants import variant

    spec = resolve(options.network)
    if options.variant is not None:
        spec = variant(spec, options.seed, options.variant)
    if getattr(options, "round_activations", None) is not None:
        spec = with_options(spec, round_activations=options.round_activations)
    return spec


def run(options: Namespace) -> int:
    """Run the command the options name; a problem found while computing names the user's file."""
    if options.command == "example":
        return example(options)
    spec = network_of(options)
    try:
        return COMMANDS[options.command](spec, options)
    except DeriveError as error:
        if error.source is None and options.network is not None:
            raise DeriveError(error.detail, source=str(options.network), key=error.key) from None
        raise


def example(options: Namespace) -> int:
    from derive.spec.files import builtin_names, builtin_text

    say(("\n".join(builtin_names()) if options.list else builtin_text(options.name).rstrip("\n")) + "\n")
    return 0


def explain(spec: NetworkSpec, options: Namespace) -> int:
    from derive.publishing.publish import explanation

    return emit(explanation(spec, **document_options(options)), options.output, options)


def html(spec: NetworkSpec, options: Namespace) -> int:
    """One web page, written to ``-o`` or to output/explanation-LANG.html (worksheet-LANG.html)."""
    from derive.publishing.publish import html_page

    text = html_page(spec, worksheet=options.worksheet, **document_options(options))
    if options.output is not None:
        return emit(text, options.output, options)
    kind = "worksheet" if options.worksheet else "explanation"
    return write({f"{kind}-{options.lang}.html": text}, None, options)


def worksheet(spec: NetworkSpec, options: Namespace) -> int:
    from derive.publishing import publish

    roster = publish.read_roster(options.roster, options.variants) if options.roster else ()
    spec, exam, drawn = exam_setting(spec, options)
    texts = publish.worksheet_files(
        spec,
        exercise=options.exercise,
        ask=options.ask,
        variants=options.variants,
        seed=options.seed or 0,
        student=options.variant,
        roster=roster,
        combined=options.combined,
        exam=exam,
        **document_options(options),
    )
    if drawn is not None:  # once the exam is made (a refused option leaves nothing to note), before LaTeX runs
        print(f"the exam's numbers come from --seed {drawn} (printed on its key)", file=sys.stderr)
    if not options.pdf and not options.combined:
        return write(texts, options.output, options)
    return write(publish.class_pdfs(texts, every=options.pdf) | texts, options.output, options)


def exam_setting(spec: NetworkSpec, options: Namespace) -> tuple[NetworkSpec, Any, int | None]:
    """The network an exam works on, what the lecturer set, and the seed drawn for it (if one was).

    An exam has numbers of its own: variant 1 of ``--seed S``, or of a seed drawn at random, unless
    the network is named (``derive worksheet mazur``: the published numbers) and no seed is given.
    Students' variants (``--variant``, ``--variants``) are already numbers of their own.
    """
    from derive.document import ExamSetting
    from derive.spec.variants import variant

    if options.exercise != "exam":
        return spec, None, None
    seed, drawn = options.seed, None
    if not options.variants and options.variant is None and (options.network is None or seed is not None):
        if seed is None:
            import secrets

            seed = drawn = secrets.randbelow(10_000)
        spec = variant(spec, seed, 1)
    elif options.variants:
        seed = seed or 0
    setting = ExamSetting(
        marks=options.marks or (),
        minutes=options.minutes,
        figures=options.figures,
        course=options.course,
        date=options.date,
        seed=seed,
    )
    return spec, setting, drawn


def slides(spec: NetworkSpec, options: Namespace) -> int:
    from derive.publishing import publish

    texts = publish.slides_files(spec, handout=options.handout, **document_options(options))
    return write(publish.compile_pdfs(texts) | texts if options.pdf else texts, options.output, options)


def write(files: dict[str, str | bytes], folder: Path | None, options: Namespace) -> int:
    """Write every file into the folder (default ``output``), all or nothing, and say so."""
    from derive.publishing.writing import write_files

    for path in write_files(folder or Path("output"), dict(sorted(files.items())), inputs=inputs_of(options)):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def inputs_of(options: Namespace) -> list[Path]:
    """The files (and the templates folder) a command reads: no output may replace one of them."""
    named = [getattr(options, key, None) for key in ("network", "answers", "roster", "templates")]
    if options.command == "check":
        named.append(options.marks)  # worksheet's --marks are numbers, check's a file
    return [Path(name) for name in named if name]


def worked_derivation(spec: NetworkSpec, options: Namespace) -> Any:
    """The derivation of the update a command works (:func:`derive.training.worked.worked`)."""
    from derive.training.worked import worked

    return worked(spec, getattr(options, "example", None)).derivation


def keys(spec: NetworkSpec, options: Namespace) -> int:
    from derive.core.steps import build_steps
    from derive.outputs import report

    renderer = renderer_of(options)
    steps = build_steps(worked_derivation(spec, options), options.only, options.detail)
    rows = report.key_rows(steps, renderer.catalog(options.lang))
    if options.json:
        print_json(rows)
        return 0
    return emit(report.keys_text(rows), options.output, options)


def gradients(spec: NetworkSpec, options: Namespace) -> int:
    from derive.outputs import report
    from derive.training.worked import worked

    update = worked(spec, options.example)  # online or with mini-batches: one batch's update
    derivation, examples = report.trained_update(update.spec), update.example_numbers()
    if options.json:
        print_json(report.gradients_json(derivation, examples))
    else:
        say(report.gradients_text(derivation, options.digits, examples))
    return 0


# The flags of `derive train` that set a training key of the file, and the key each sets.
TRAINING_FLAGS = {
    "batch_size": "--batch-size",
    "shuffle": "--shuffle",
    "momentum": "--momentum",
    "weight_decay": "--weight-decay",
}


def train(spec: NetworkSpec, options: Namespace) -> int:
    from derive.outputs import report
    from derive.spec.checks import with_training
    from derive.training import descent as training

    flags = {key: getattr(options, key) for key in TRAINING_FLAGS if getattr(options, key) is not None}
    if flags:
        spec = with_training(spec, flags, names=TRAINING_FLAGS)
    if options.plot is not None:
        from derive.outputs.plot import check_target

        check_target(options.plot)
    total = training.planned_updates(spec, options.steps, options.epochs)
    until = float(options.until) if options.until is not None else None
    run = training.train(spec, options.steps, options.update, progress_bar(total), epochs=options.epochs, until=until)
    if options.plot is not None:
        from derive.outputs.plot import loss_curve
        from derive.publishing.writing import write_file

        title = f"{spec.name}: {run.steps} steps, {options.update} updates"
        write_file(options.plot, loss_curve(run.history, options.plot, title=title), inputs=inputs_of(options))
        print(f"wrote {options.plot}", file=sys.stderr)
    if options.json:
        print_json(report.training_json(run))
    else:
        say(report.training_text(spec, run, options.update, options.digits))
    return 0


def code(spec: NetworkSpec, options: Namespace) -> int:
    from derive.outputs.code import module_source

    return emit(module_source(spec), options.output, options)


def check(spec: NetworkSpec, options: Namespace) -> int:
    """Grade one student's sheet (a table or JSON), or a class's CSV (a gradebook CSV)."""
    from derive.assessment import answers, grading
    from derive.assessment.classes import render_report, report_template
    from derive.assessment.diagnosis import diagnose
    from derive.core.steps import build_steps
    from derive.spec.variants import variant

    catalog = renderer_of(options).catalog(options.lang)
    steps = build_steps(worked_derivation(spec, options), options.only, options.detail)
    keys = answers.StepKeys(
        steps, build_steps(worked_derivation(spec, options), (), options.detail) if options.only else None
    )
    if options.report is not None:
        report_template(options.report)  # a report of an unknown format fails before any work
    sheets = answers.read_answers(options.answers, keys, catalog.decimal_mark)
    weights = answers.read_marks(options.marks, keys) if options.marks else {}
    if options.report is not None and not sheets.roster:
        message = "--report: a class report needs a class CSV (a student column, a row per student)"
        raise DeriveError(message, source=sheets.source)
    if sheets.variants and options.variant is not None:
        message = "has a variant column (each row names its variant); expected no --variant"
        raise DeriveError(message, source=sheets.source)
    if sheets.variants and options.seed is None:
        raise DeriveError(
            "has a variant column; give --seed S, the seed that made the variants", source=sheets.source, key="variant"
        )
    graded = {None: steps}

    def steps_of(number: int | None) -> Any:
        if number not in graded:
            mine = variant(spec, options.seed, number)
            graded[number] = build_steps(worked_derivation(mine, options), options.only, options.detail)
        return graded[number]

    rule = {"ecf": options.ecf, "weights": weights, "min_digits": options.min_digits or grading.MIN_DIGITS}
    graded_sheets = [
        grading.grade(steps_of(sheet.variant), sheet.answers, student=sheet.student, variant=sheet.variant, **rule)
        for sheet in sheets.sheets
    ]
    results = diagnose(graded_sheets, rule["min_digits"])
    if options.report is not None:
        from derive.publishing.writing import write_file

        page = render_report(
            results, renderer_of(options), options.lang, options.report, source=sheets.source, network=spec.name
        )
        write_file(options.report, page, inputs=inputs_of(options))
        print(f"wrote {options.report}", file=sys.stderr)
    if sheets.roster:
        if options.json:
            return emit(json_text(grading.class_json(results, catalog)), options.output, options)
        return emit(grading.grades_csv(results), options.output, options)
    if options.json:
        return emit(json_text(grading.grade_json(results[0], catalog)), options.output, options)
    heading = catalog(
        "check.heading", answers=sheets.source, network=spec.name, credit=catalog(f"check.ecf_{options.ecf}")
    )
    return emit(
        grading.grade_text(results[0], catalog, heading=heading, digits=options.digits), options.output, options
    )


def quiz(spec: NetworkSpec, options: Namespace) -> int:
    """A Moodle XML file (printed, or written with -o) or a QTI zip (written to -o, default quiz.zip)."""
    from derive.assessment import quiz as quizzes
    from derive.publishing.writing import write_file
    from derive.spec.variants import variant

    catalog = renderer_of(options).catalog(options.lang)
    seed = options.seed or 0
    if options.variants:
        networks = [(number, variant(spec, seed, number)) for number in range(1, options.variants + 1)]
    else:
        networks = [(options.variant, spec)]
    made = quizzes.questions(
        networks, ask=options.ask, digits=options.digits, only=options.only, example=options.example, catalog=catalog
    )
    # the quiz is titled as the documents title the network: "Mazur's worked example", or “name”
    name = quizzes.network_name(spec, catalog, student=options.variant, seed=options.seed)
    if options.format == "moodle":
        return emit(quizzes.moodle_xml(made, catalog, name=name, digits=options.digits), options.output, options)
    path = options.output or Path("quiz.zip")
    write_file(path, quizzes.qti_package(made, catalog, name=name, digits=options.digits), inputs=inputs_of(options))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def scorm(spec: NetworkSpec, options: Namespace) -> int:
    """A SCORM package (written to -o, default scorm.zip), or with --which the variant a learner id gets."""
    from derive.publishing import scorm as packages
    from derive.publishing.writing import write_file

    seed = options.seed or 0
    if options.which is not None:
        say(packages.which(options.which, options.variants, seed))
        return 0
    setting = packages.Setting(
        variants=options.variants,
        seed=seed,
        ask=options.ask,
        ecf=options.ecf,
        pass_mark=options.pass_mark,
        version=options.scorm_version,
    )
    package = packages.scorm_package(spec, setting, **document_options(options))
    path = options.output or Path("scorm.zip")
    write_file(path, package, inputs=inputs_of(options))
    print(f"wrote {path}", file=sys.stderr)
    return 0


COMMANDS = {
    "explain": explain,
    "html": html,
    "worksheet": worksheet,
    "slides": slides,
    "keys": keys,
    "gradients": gradients,
    "train": train,
    "code": code,
    "check": check,
    "quiz": quiz,
    "scorm": scorm,
}


def renderer_of(options: Namespace) -> Any:
    """The template renderer, with ``--templates``; an unknown ``--lang`` fails before any work."""
    from derive.outputs.render import Renderer

    renderer = Renderer(options.templates)
    renderer.catalog(options.lang)
    return renderer


def document_options(options: Namespace) -> dict[str, Any]:
    """The options every document shares, as the keywords of :mod:`derive.publishing.publish`."""
    return {
        "renderer": renderer_of(options),
        "language": options.lang,
        "notation": options.notation,
        "digits": DOCUMENT_DIGITS if getattr(options, "exercise", "") == "exam" else options.digits,
        "only": options.only,
        "matrix": getattr(options, "matrix", False),
        "detail": options.detail,
        "paper": getattr(options, "paper", "a4"),
        "example": options.example,
    }


def emit(text: str, output: Path | None, options: Namespace) -> int:
    """Print ``text``, or write it to ``output`` (atomically, or through to a device, a pipe or ``-``)."""
    if output is None:
        say(text)
        return 0
    from derive.publishing.writing import STANDARD_OUTPUT, write_file

    write_file(output, text, inputs=inputs_of(options))
    if str(output) != STANDARD_OUTPUT:
        print(f"wrote {output}", file=sys.stderr)
    return 0


def print_json(data: Any) -> None:
    say(json_text(data))


def say(text: str) -> None:
    """Print a command's result, unless SIGTERM came meanwhile (its exception may have been swallowed)."""
    stop_if_terminated()
    sys.stdout.write(text)


def json_text(data: Any) -> str:
    """Strict JSON: a value no double holds (an overflow to infinity) is an error naming the quantity."""
    where = _not_finite(data, "")
    if where is not None:
        raise DeriveError(
            "is beyond what a JSON number holds (a double, up to about 1.8e308); "
            "expected finite values (the text output, without --json, shows them in full)",
            key=where,
        )
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _not_finite(data: Any, path: str) -> str | None:
    """The path (``gradients.w1``, ``history[3]``) of the first infinite or NaN number in ``data``, if any."""
    if isinstance(data, float):
        return None if math.isfinite(data) else path or "the value"
    if isinstance(data, dict):
        items: Any = ((f"{path}.{key}" if path else str(key), value) for key, value in data.items())
    elif isinstance(data, list | tuple):
        items = ((f"{path}[{index}]", value) for index, value in enumerate(data))
    else:
        return None
    return next((found for key, value in items if (found := _not_finite(value, key)) is not None), None)


def progress_bar(steps: int) -> Any:
    """A bar on stderr for long runs on a terminal; nothing when the output goes to a file or pipe."""
    if steps < PROGRESS_FROM or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        filled = round(30 * done / total)
        sys.stderr.write(f"\rtraining [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} steps")
        if done == total:
            sys.stderr.write("\r" + " " * 72 + "\r")
        sys.stderr.flush()

    return show
