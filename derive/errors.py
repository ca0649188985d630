"""The one exception a user ever sees: what went wrong, where, and what was expected."""

from __future__ import annotations


class DeriveError(Exception):
    """A mistake in the user's input; the command line prints it and exits with status 2."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
