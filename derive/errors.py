"""The one exception a user ever sees: what went wrong, where, and what was expected."""

from __future__ import annotations

MAX_SHOWN = 200


class DeriveError(Exception):
    """A mistake in the user's input; the command line prints it and exits with status 2.

    The message is one line: ``source: key: message``, where the source (a file name) and the key
    path (``layers[1].weights[0][2]``) are shown with control characters escaped and long ones cut.

    >>> str(DeriveError("expected a number, got the string 'x'", source="net.toml", key="learning_rate"))
    "net.toml: learning_rate: expected a number, got the string 'x'"
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.detail = message
        where = ": ".join(_printable(part) for part in (source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


def _printable(text: str) -> str:
    """``text`` on one line: control and other unprintable characters escaped, at most MAX_SHOWN long."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
