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


class Terminated(BaseException):
    """SIGTERM, raised where the program stands so that temporary files are removed on the way out."""


# Whether SIGTERM came during this command.  Python swallows an exception raised where it cannot
# propagate (a weakref callback or a __del__ run by the garbage collector), so the handler's raise
# alone may be lost; the flag makes the next checkpoint (before any output is written) raise again.
_termination = {"requested": False}


def request_termination(requested: bool = True) -> None:
    """Record that SIGTERM came (or, with False, clear the record at a command's start)."""
    _termination["requested"] = requested


def stop_if_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM came, even if the exception its handler raised was swallowed."""
    if _termination["requested"]:
        raise Terminated
