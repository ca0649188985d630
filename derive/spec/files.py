"""Network files and the built-in examples: read, parsed, and checked by :func:`~derive.spec.checks.from_mapping`.

A file is refused with a reason if it is missing, unreadable, too large, binary or not UTF-8; a TOML
or JSON error gives its line and column and a hint at the usual cause.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from derive.errors import DeriveError
from derive.spec.checks import from_mapping
from derive.spec.literals import OVERFLOWS, BadNumber, DuplicateKey, decimal_literal
from derive.spec.messages import unknown_name
from derive.spec.model import MAX_FILE_BYTES, NetworkSpec


def builtin_names() -> list[str]:
    """The names of the built-in example networks."""
    folder = resources.files("derive") / "examples"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """The TOML source of a built-in example, comments included."""
    if name not in builtin_names():
        raise DeriveError(unknown_name(name, builtin_names(), "built-in example"), key="NAME")
    return (resources.files("derive") / "examples" / f"{name}.toml").read_text(encoding="utf-8")


def load_builtin(name: str) -> NetworkSpec:
    """A built-in example by name (``mazur`` is the worked example)."""
    text = builtin_text(name)
    return from_mapping(_parse_toml(text, f"<built-in {name}>"), name=name, source=f"<built-in {name}>")


def load_path(path: str | Path) -> NetworkSpec:
    """Read a ``.toml`` or ``.json`` network file."""
    path = Path(path)
    source = str(path)
    text = _read_text(path, source)
    if path.suffix.lower() == ".json" or (path.suffix.lower() != ".toml" and text.lstrip().startswith("{")):
        data = _parse_json(text, source)
    else:
        data = _parse_toml(text, source)
    return from_mapping(data, name=network_name(path), source=source)


def network_name(path: Path) -> str:
    """The network's name from its file's: on one line, control characters as spaces (a heading holds it)."""
    name = " ".join("".join(char if char.isprintable() else " " for char in path.stem).split())
    return name or "network"


def resolve(network: str | Path | None) -> NetworkSpec:
    """A file path, or the name of a built-in example (default ``mazur``)."""
    if network is None:
        return load_builtin("mazur")
    text = str(network)
    if not text:
        raise DeriveError(
            "expected a .toml or .json file or a built-in example name, got an empty string", key="NETWORK"
        )
    exists = _exists(Path(text))
    if text in builtin_names() and not exists:
        return load_builtin(text)
    if Path(text).suffix or exists or "/" in text or "\\" in text:
        return load_path(text)
    raise DeriveError(unknown_name(text, builtin_names(), "built-in example or file"), key="NETWORK")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL in it
        return False


# What a network file's messages say was expected, what else would do, and where to see one.
_NETWORK_FILE = (
    "expected a .toml or .json network file",
    " or a built-in example name",
    " (see `derive example mazur`)",
)


def _read_text(path: Path, source: str, kind: tuple[str, str, str] = _NETWORK_FILE) -> str:
    """The file's text: refused with a reason if missing, unreadable, too large, binary or not UTF-8.

    ``kind`` words the messages: what file was expected, what else would do when it is missing, and
    where to see one when it is empty.
    """
    expected, otherwise, example = kind
    try:
        if path.is_dir():
            raise DeriveError(f"is a directory; {expected}", source=source)
        if path.exists() and not path.is_file():
            raise DeriveError(f"is not a regular file; {expected}", source=source)
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DeriveError(f"no such file; {expected}{otherwise}", source=source) from None
    except OSError as error:
        raise DeriveError(f"cannot be read ({error.strerror or error}); {expected}", source=source) from None
    except ValueError as error:  # e.g. a NUL in the path
        raise DeriveError(f"is not a usable path ({error}); {expected}", source=source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise DeriveError(f"is larger than {MAX_FILE_BYTES // 2**20} MiB; {expected}", source=source)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DeriveError("is UTF-16 (or UTF-32) text; expected UTF-8: save the file as UTF-8", source=source)
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        kind_of_file = expected.removeprefix("expected ")
        message = f"is a binary file (a NUL byte on line {line}); expected a UTF-8 text file ({kind_of_file})"
        raise DeriveError(message, source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise DeriveError(
            f"not UTF-8 text (byte 0x{raw[error.start]:02x}); expected UTF-8: save the file as UTF-8",
            source=source,
            key=f"line {line}, column {column}",
        ) from None
    if not text.strip():
        raise DeriveError(f"is empty; {expected}{example}", source=source)
    return text


# tomllib's message → a hint at the usual cause
_TOML_HINTS = {
    "Cannot overwrite a value": "a key given twice, or [name] and [[name]] mixed",
    "Cannot declare": "a table given twice",
    "Invalid value": 'text needs quotes ("sigmoid"); a number needs a digit before the point (0.5)',
    "Unclosed array": "a ']' is missing",
    "Unclosed inline table": "a '}' is missing",
}
_JSON_HINTS = {
    "Expecting property name enclosed in double quotes": "keys need double quotes; no comma before '}'",
    "Expecting value": "no comma before ']' or '}', no comments, text in double quotes",
    "Illegal trailing comma": "no comma before '}' or ']'",  # Python 3.13's words for a trailing comma
}


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomllib.loads(text, parse_float=decimal_literal)
    except tomllib.TOMLDecodeError as error:
        message, line, column = _toml_position(str(error), text)
        hint = next((f" ({hint})" for start, hint in _TOML_HINTS.items() if message.startswith(start)), "")
        raise DeriveError(
            f"not valid TOML: {message}{hint}", source=source, key=f"line {line}, column {column}"
        ) from None
    except ValueError as error:  # int() refuses a literal of thousands of digits
        return _long_literal(text, source, "TOML", error)
    except RecursionError:
        raise DeriveError("not valid TOML: lists or tables nested too deeply", source=source) from None


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=decimal_literal,
            parse_int=_integer,
            parse_constant=lambda name: BadNumber(name, ""),
            object_pairs_hook=_json_object,
        )
    except json.JSONDecodeError as error:
        hint = next((f" ({hint})" for start, hint in _JSON_HINTS.items() if error.msg.startswith(start)), "")
        raise DeriveError(
            f"not valid JSON: {error.msg}{hint}", source=source, key=f"line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise DeriveError("not valid JSON: lists or objects nested too deeply", source=source) from None
    except ValueError as error:
        return _long_literal(text, source, "JSON", error)


def _toml_position(message: str, text: str) -> tuple[str, int, int]:
    """tomllib's message without its ``(at line 3, column 9)``, and that line and column."""
    found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if found:
        return found[1], int(found[2]), int(found[3])
    lines = text.split("\n")  # "(at end of document)": point just past the last character
    return message.removesuffix(" (at end of document)"), len(lines), len(lines[-1]) + 1


def _long_literal(text: str, source: str, language: str, error: ValueError) -> Any:
    long = re.search(r"[-+]?(?:0[xob])?[0-9a-fA-F_]{4000,}", text)
    if long is None:
        raise DeriveError(f"not valid {language}: {error}", source=source) from None
    line = text.count("\n", 0, long.start()) + 1
    column = long.start() - (text.rfind("\n", 0, long.start()) + 1) + 1
    raise DeriveError(
        f"a number literal of {len(long[0])} characters; expected a finite number (at most about 1.8e308)",
        source=source,
        key=f"line {line}, column {column}",
    ) from None


def _integer(text: str) -> int | BadNumber:
    if len(text.lstrip("-")) > 400:  # far beyond a double, and int() refuses thousands of digits
        return BadNumber(text, OVERFLOWS)
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return DuplicateKey(pairs, key)
        seen.add(key)
    return dict(pairs)


# ---------------------------------------------------------------------------------------------
# For the other files a user writes (answer sheets, marks): read and parse them as networks are


def read_user_file(path: Path, expected: str, example: str = "") -> str:
    """A user's text file, with the checks and messages of a network file (``expected`` names its kind)."""
    return _read_text(path, str(path), (expected, "", example))


def parse_user_data(text: str, source: str, *, json_format: bool) -> Any:
    """TOML or JSON data: floats as :class:`~decimal.Decimal` exactly as written, errors with their line.

    A JSON object that gives a key twice reports it through :func:`~derive.spec.literals.duplicate_key`; a
    number no double can hold is left for :func:`~derive.spec.messages.number_problem` to describe.
    """
    return _parse_json(text, source) if json_format else _parse_toml(text, source)
