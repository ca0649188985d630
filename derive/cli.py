"""The command line: parses options, calls the engine and the renderer, prints; no logic of its own."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from derive.errors import DeriveError

MAX_VARIANTS = 200
PROGRESS_FROM = 100_000  # steps: shorter runs finish before a bar would help


def _whole(low: int, high: int | None = None, what: str = "a whole number") -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value}")
        return value

    return parse


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected parameter names separated by commas, e.g. w5,w1")
    return names


def _choice(what: str, options: Sequence[str]) -> Any:
    """An option with fixed values that answers a typo with a did-you-mean."""

    def parse(text: str) -> str:
        if text in options:
            return text
        close = difflib.get_close_matches(text.lower(), options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentTypeError(f"unknown {what} {text!r}{hint} (expected one of: {', '.join(options)})")

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """Bad options: one line that says what is wrong and where to read more, status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive",
        description="Forward and back propagation on small networks, derived step by step with SymPy. "
        "Without a command, prints the explanation of the worked example.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str, network: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        if network:
            sub.add_argument(
                "network", nargs="?", metavar="NETWORK", help="a .toml/.json file or a built-in name (default: mazur)"
            )
        # SUPPRESS: `derive --debug COMMAND` must not be reset by the command's own default
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return sub

    def numbers(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--digits", type=_whole(0, 30), default=9, metavar="N", help="decimals shown (default 9)")
        sub.add_argument(
            "--round-activations",
            type=_whole(0, 15, "a number of decimals"),
            metavar="K",
            help="round each hidden output to K decimals before the next layer uses it, as done by hand",
        )

    def documents(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--lang", default="en", metavar="LANG", help="language: en (default) or es")
        sub.add_argument(
            "--notation",
            type=_choice("notation", ("net", "in")),
            metavar="net|in",
            help="name of the net input: net_h1 or in_h1 (default: the language's)",
        )
        sub.add_argument("--only", type=_names, default=[], metavar="w5,w1", help="derive only these gradients")
        sub.add_argument("--matrix", action="store_true", help="add the matrix form of the derivation")
        sub.add_argument(
            "--templates", type=Path, metavar="DIR", help="a folder of templates overriding the shipped ones"
        )
        numbers(sub)

    explain = command("explain", "the step-by-step explanation in Markdown (the default command)")
    explain.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of printing")
    documents(explain)

    worksheet = command("worksheet", "a LaTeX worksheet and its solutions (and PDFs with --pdf)")
    worksheet.add_argument(
        "-o", "--output", type=Path, default=Path("output"), metavar="DIR", help="folder (default: output)"
    )
    worksheet.add_argument("--pdf", action="store_true", help="also compile PDFs with latexmk or pdflatex")
    worksheet.add_argument(
        "--variants",
        type=_whole(1, MAX_VARIANTS),
        default=0,
        metavar="N",
        help="N per-student variants with answer keys",
    )
    worksheet.add_argument("--seed", type=_whole(0), default=0, metavar="S", help="seed of the variants (default 0)")
    documents(worksheet)

    gradients = command("gradients", "the forward pass, every gradient and the updated parameters")
    gradients.add_argument("--json", action="store_true", help="print JSON (values and the chain of every gradient)")
    numbers(gradients)

    train = command("train", "N steps of gradient descent, with the error history")
    train.add_argument("--steps", type=_whole(0, 10_000_000), required=True, metavar="N", help="number of steps")
    train.add_argument(
        "--update",
        type=_choice("update order", ("simultaneous", "sequential")),
        default="simultaneous",
        metavar="ORDER",
        help="simultaneous (default): every gradient from one forward pass; sequential: the output layer "
        "first, hidden deltas through the updated weights",
    )
    train.add_argument("--json", action="store_true", help="print JSON")
    train.add_argument("--plot", type=Path, metavar="FILE", help="draw the error curve into FILE (.png or .svg)")
    numbers(train)

    code = command("code", "a standalone NumPy module computing the loss and every gradient")
    code.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of printing")
    code.add_argument(
        "--round-activations", type=_whole(0, 15, "a number of decimals"), metavar="K", help=argparse.SUPPRESS
    )

    example = command("example", "print a built-in example's TOML, to copy and edit", network=False)
    example.add_argument("name", nargs="?", default="mazur", metavar="NAME", help="built-in name (default: mazur)")
    example.add_argument("--list", action="store_true", help="list the built-in examples")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["explain", *(["--debug"] if args.debug else [])])
    try:
        return _run(args)
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


def _run(args: argparse.Namespace) -> int:
    if args.command == "example":
        from derive import spec

        print("\n".join(spec.builtin_names()) if args.list else spec.builtin_text(args.name).rstrip("\n"))
        return 0

    from derive.spec import resolve

    spec = resolve(args.network)
    if args.round_activations is not None:
        spec = spec.with_options(round_activations=args.round_activations)
    if args.command == "code":
        from derive.codegen import module_source

        return _emit(module_source(spec), args.output)

    from derive.network import Network

    network = Network(spec)
    try:
        return _compute(args, network)
    except DeriveError as error:
        if error.source is None and args.network is not None:
            # a problem found while computing still belongs to the user's file: name it
            raise DeriveError(error.detail, source=str(args.network), key=error.key) from None
        raise


def _compute(args: argparse.Namespace, network: Any) -> int:
    if args.command in ("explain", "worksheet"):
        return _documents(args, network)

    from derive import report

    if args.command == "gradients":
        if args.json:
            _print_json(report.gradients_json(network))
        else:
            print(report.gradients_text(network, args.digits), end="")
    elif args.command == "train":
        if args.plot is not None:
            from derive.plot import check_target

            check_target(args.plot)
        result = network.train(args.steps, update=args.update, progress=_progress_bar(args.steps))
        if args.plot is not None:
            from derive.plot import loss_curve
            from derive.publish import write_file

            title = f"{network.name}: {args.steps} steps, {args.update} updates"
            write_file(args.plot, loss_curve(result.history, args.plot, title=title))
            print(f"wrote {args.plot}", file=sys.stderr)
        if args.json:
            _print_json(report.training_json(result))
        else:
            print(report.training_text(network, result, args.update, args.digits), end="")
    return 0


def _documents(args: argparse.Namespace, network: Any) -> int:
    from derive import publish
    from derive.render import Renderer

    renderer = Renderer(args.templates)
    options = {
        "language": args.lang,
        "notation": args.notation,
        "digits": args.digits,
        "only": args.only,
        "matrix": args.matrix,
        "renderer": renderer,
    }
    renderer.catalog(args.lang)  # an unknown language fails before any work
    if args.command == "explain":
        return _emit(publish.explanation(network, **options), args.output)
    files: dict[str, str | bytes] = dict(
        publish.worksheet_files(network, variants=args.variants, seed=args.seed, **options)
    )
    if args.pdf:
        files |= publish.compile_pdfs({name: text for name, text in files.items() if isinstance(text, str)})
    for path in publish.write_files(args.output, files):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _emit(text: str, output: Path | None) -> int:
    """Print ``text``, or write it atomically to ``output``."""
    if output is None:
        sys.stdout.write(text)
        return 0
    from derive.publish import write_file

    write_file(output, text)
    print(f"wrote {output}", file=sys.stderr)
    return 0


def _progress_bar(steps: int) -> Any:
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


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
