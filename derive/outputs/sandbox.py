"""Jinja2's sandbox with limits: templates may come from anyone, so one may not run forever, fill the
memory, or read a file outside its folder.

Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` already keeps a template away from Python's
internals and caps ``range`` at 100,000 items.  Here, in addition:

* a rendering that takes longer than ``MAX_SECONDS`` is stopped where it stands (two nested loops of
  100,000 rounds would otherwise run for hours);
* a rendering's output is capped at ``MAX_CHARACTERS``, and so is what one operation may make
  (``'a' * 10**10``, ``'x' | center(10**10)``, ``lipsum(10**9)``), before it is made;
* a template is read only from inside its folder (a link to ``/etc/passwd`` is refused), as UTF-8.

Every such failure is a :class:`DeriveError` naming the template file and line.
"""

from __future__ import annotations

import ctypes
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from derive.errors import DeriveError

MAX_SECONDS = 60.0  # per template rendered: the shipped ones take well under a second
MAX_CHARACTERS = 32 * 2**20  # per template rendered, and per value one operation makes
MAX_POWER_BITS = 100_000  # an integer power larger than this (about 30,000 digits) is refused


class TemplateTimeout(Exception):
    """Raised inside the rendering thread when its time is up."""


class TemplateLimit(Exception):
    """A template asked for more than the limits allow; the message says what."""


def inside(folder: Path, path: Path) -> bool:
    """``path``, links followed, lies inside ``folder``."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


class ConfinedLoader(jinja2.FileSystemLoader):
    """A folder of templates whose files must stay in it (no link out) and be UTF-8 text."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.folder = folder

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.folder / template
        try:
            if path.exists() and not inside(self.folder, path):
                raise DeriveError(
                    f"leads outside the templates folder (to {path.resolve()}); expected a template inside "
                    f"{self.folder}",
                    source=str(path),
                )
            return super().get_source(environment, template)
        except jinja2.TemplateNotFound:  # an OSError too: the next folder may have it
            raise
        except UnicodeDecodeError as error:
            raw = path.read_bytes()
            line = raw.count(b"\n", 0, error.start) + 1
            raise DeriveError(
                f"line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); expected UTF-8: save the file as UTF-8",
                source=str(path),
            ) from None
        except OSError as error:
            raise DeriveError(f"cannot be read ({error.strerror or error})", source=str(path)) from None


def _too_large(size: int, what: str) -> None:
    if size > MAX_CHARACTERS:
        raise TemplateLimit(f"{what} of {size:,} items; a template may make at most {MAX_CHARACTERS:,}")


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """A count or width past MAX_CHARACTERS (``center(10**10)``, ``lipsum(10**9)``) would make a value that large."""
    for value in [*args, *kwargs.values()]:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_CHARACTERS:
            _too_large(abs(value), "asks for a value")


def _checked_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args[1:], kwargs)  # the first is the value filtered (or the context)
        return function(*args, **kwargs)

    checked.__dict__.update(getattr(function, "__dict__", {}))  # jinja_pass_arg: how Jinja2 calls the filter
    checked.__name__ = getattr(function, "__name__", "filter")
    return checked


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox, with every call, filter, ``*`` and ``**`` checked against the size limits."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _checked_filter(function) for name, function in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                    _too_large(len(sequence) * count, "a repetition")
        elif isinstance(left, int) and isinstance(right, int) and abs(left).bit_length() * right > MAX_POWER_BITS:
            raise TemplateLimit(f"a power of {abs(left).bit_length() * right:,} bits; at most {MAX_POWER_BITS:,}")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


class _Watchdog:
    """Raises :class:`TemplateTimeout` in the current thread after ``seconds``, unless stopped first."""

    def __init__(self, seconds: float) -> None:
        self.thread = threading.get_ident()
        self.lock = threading.Lock()
        self.done = False
        self.timer = threading.Timer(seconds, self._interrupt)
        self.timer.daemon = True
        self.timer.start()

    def _interrupt(self) -> None:
        with self.lock:
            if not self.done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread), ctypes.py_object(TemplateTimeout)
                )

    def stop(self) -> None:
        with self.lock:
            self.done = True
        self.timer.cancel()


def render_limited(template: jinja2.Template, context: Mapping[str, Any], user_folders: list[Path]) -> str:
    """The template's text, within MAX_SECONDS and MAX_CHARACTERS; a failure names the template and line.

    An exception raised in a template from ``user_folders`` (a recursion, a range too big, a division
    by zero) is the template's mistake, not derive's: it is reported as such.
    """
    watchdog = _Watchdog(MAX_SECONDS)
    try:
        text = "".join(_bounded(template.generate(**context)))
        watchdog.stop()  # inside the try: a timeout raised just before it lands here
        return text
    except TemplateTimeout as error:
        raise _failure(error, template, f"took longer than {MAX_SECONDS:.0f} s to render and was stopped") from None
    except TemplateLimit as error:
        raise _failure(error, template, str(error)) from None
    except (DeriveError, jinja2.TemplateError):
        raise
    except Exception as error:
        source, _ = template_line(error, template)
        if not any(inside(folder, Path(source)) for folder in user_folders if Path(source).exists()):
            raise
        message = (str(error).splitlines() or [""])[0][:200]
        if isinstance(error, RecursionError):
            message = "it includes itself, or a macro calls itself, without end"
        raise _failure(error, template, f"{type(error).__name__}: {message}") from None
    finally:
        watchdog.stop()


def _failure(error: BaseException, template: jinja2.Template, message: str) -> DeriveError:
    source, line = template_line(error, template)
    return DeriveError(f"line {line}: {message}" if line != "?" else message, source=source)


def _bounded(chunks: Iterator[str]) -> Iterator[str]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_CHARACTERS:
            raise TemplateLimit(f"made more than {MAX_CHARACTERS:,} characters and was stopped")
        yield chunk


def template_line(error: BaseException, template: jinja2.Template | None = None) -> tuple[str, int | str]:
    """The template file and line where a rendering error was raised (Jinja2 maps its frames to them)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.endswith(".j2")]
    if not frames:
        return (template.filename or template.name or "template") if template else "template", "?"
    return frames[-1].filename, frames[-1].lineno or "?"
