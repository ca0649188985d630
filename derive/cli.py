"""The command line: parses options, calls the engine and the renderer, prints; no logic of its own."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from derive.errors import DeriveError


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _digits(text: str) -> int:
    value = _non_negative(text)
    if value > 30:
        raise argparse.ArgumentTypeError(f"expected at most 30 digits, got {value}")
    return value


def _rounding(text: str) -> int:
    value = _non_negative(text)
    if value > 15:
        raise argparse.ArgumentTypeError(f"expected at most 15 decimals, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """Bad options: a two-line message (usage, then the error) and status 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive",
        description="Forward and back propagation on small networks, derived step by step with SymPy.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def network_command(name: str, help: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help, description=help)
        command.add_argument(
            "network", nargs="?", metavar="NETWORK", help="a .toml/.json file or a built-in name (default: mazur)"
        )
        command.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        return command

    gradients = network_command("gradients", "the forward pass, every gradient and the updated parameters")
    gradients.add_argument("--json", action="store_true", help="print JSON (values and the chain of every gradient)")
    gradients.add_argument("--digits", type=_digits, default=9, metavar="N", help="decimals shown (default 9)")
    gradients.add_argument(
        "--round-activations", type=_rounding, metavar="K", help="round each hidden output to K decimals, as by hand"
    )

    train = network_command("train", "N steps of gradient descent, with the error history")
    train.add_argument("--steps", type=_non_negative, required=True, metavar="N", help="number of steps")
    train.add_argument(
        "--update",
        choices=("simultaneous", "sequential"),
        default="simultaneous",
        help="simultaneous (default): every gradient from one forward pass; sequential: the output layer "
        "first, hidden deltas through the updated weights",
    )
    train.add_argument("--json", action="store_true", help="print JSON")
    train.add_argument("--digits", type=_digits, default=9, metavar="N", help="decimals shown (default 9)")
    train.add_argument("--round-activations", type=_rounding, metavar="K", help=argparse.SUPPRESS)

    example = commands.add_parser("example", help="print a built-in example's TOML, to copy and edit")
    example.add_argument("name", nargs="?", default="mazur", metavar="NAME", help="built-in name (default: mazur)")
    example.add_argument("--list", action="store_true", help="list the built-in examples")
    example.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            args = parser.parse_args(["gradients"])
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
        if getattr(args, "debug", False):
            raise
        print(
            f"derive: internal error: {type(error).__name__}: {error} (run with --debug for details)", file=sys.stderr
        )
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "example":
        from derive import spec

        print(
            "\n".join(spec.builtin_names()) if args.list else spec.builtin_text(args.name),
            end="" if not args.list else "\n",
        )
        return 0

    from derive import report
    from derive.network import Network
    from derive.spec import resolve

    network = Network(resolve(args.network))
    if args.round_activations is not None:
        network = network.with_options(round_activations=args.round_activations)
    if args.command == "gradients":
        if args.json:
            _print_json(report.gradients_json(network))
        else:
            print(report.gradients_text(network, args.digits), end="")
    elif args.command == "train":
        result = network.train(args.steps, update=args.update)
        if args.json:
            _print_json(report.training_json(result))
        else:
            print(report.training_text(network, result, args.update, args.digits), end="")
    return 0


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
