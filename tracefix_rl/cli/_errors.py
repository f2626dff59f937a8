"""The CLI's single error boundary: a user error is one line on stderr and exit status 2.

Every ``tracefix`` command runs inside :class:`ErrorBoundary` (the root group's class), which
maps what a user can get wrong to ``error: <what was wrong>`` and exit status 2:

* usage errors (unknown option, bad value, missing argument) from Click/Typer;
* :class:`~tracefix_rl.core.errors.TraceFixError` (unknown task, bad pack, unknown episode, ...);
* ``OSError`` (missing or unwritable files), ``sqlite3.Error`` (a file that is not a store),
  ``ValueError`` (which includes ``UnicodeDecodeError``, JSON and pydantic validation errors).

``tracefix --debug ...`` (or ``TRACEFIX_DEBUG=1``) prints the traceback before that line. Any
other exception is a bug: its traceback is printed and the exit status is 1. Commands never
catch these themselves; they raise with a message that names the file, task or value.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from tracefix_rl.core.errors import TraceFixError

__all__ = ["USER_ERRORS", "ErrorBoundary", "describe", "print_error", "set_debug"]

#: Exceptions that mean "the user asked for something that cannot be done", not a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (TraceFixError, OSError, sqlite3.Error, ValueError)

_debug = False


def set_debug(value: bool) -> None:
    """Show tracebacks of user errors for the rest of this invocation (``--debug``)."""
    global _debug
    _debug = value


def _debugging() -> bool:
    return _debug or os.environ.get("TRACEFIX_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def print_error(message: str) -> None:
    """Write ``error: message`` to stderr as exactly one line (no wrapping, no markup)."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.stderr.flush()


def describe(exc: BaseException) -> str:
    """One line naming what was wrong, without the exception's Python type."""
    if isinstance(exc, TyperException):  # Typer's usage errors (bad option, value, argument)
        message = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            message += f" (see '{ctx.command_path} --help')"
        return message
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":  # pydantic, without importing it
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in errors())
        except Exception:  # noqa: BLE001 - fall back to the plain message
            pass
    return str(exc) or type(exc).__name__


class ErrorBoundary(TyperGroup):
    """The root command group: runs a command and turns user errors into one line + exit 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        set_debug(False)
        code = self._run(args, prog_name, complete_var, windows_expand_args=windows_expand_args, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None,
             **extra: Any) -> int:
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
            # Typer returns a typer.Exit's code in this mode (commands themselves return None)
            return code if isinstance(code, int) else 0
        except typer.Exit as exc:
            return exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            sys.stderr.write("\naborted\n")
            return 130
        except TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `tracefix tasks` alone: the help, as usual
                ctx = getattr(exc, "ctx", None)
                sys.stdout.write((ctx.get_help() if ctx is not None else exc.format_message()) + "\n")
                return 0
            print_error(describe(exc))
            return 2
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # `tracefix ... | head`: the reader left, nothing to say
                return 1
            if _debugging():
                traceback.print_exc()
            print_error(describe(exc))
            return 2
        except USER_ERRORS as exc:
            if _debugging():
                traceback.print_exc()
            print_error(describe(exc))
            return 2
        except Exception as exc:  # a bug: keep the whole story
            traceback.print_exc()
            print_error(f"internal error ({type(exc).__name__}: {describe(exc)}); please report it with the "
                        "traceback above")
            return 1
