"""Every error of every ``cartrial`` command, reported in one place: a message, never a traceback.

:func:`report_errors` wraps the invocation of each command (see
:class:`cartrial.cli.lazy.LazyGroup`) and :func:`cartrial.cli.main` wraps the whole process. The
mapping:

===============================================  ===========  =====================================
raised                                           exit code    printed
===============================================  ===========  =====================================
:class:`~cartrial.errors.CartrialError` (tree)   2            ``error: <message>`` on stderr (an
                                                              import: one line per bad row)
``OSError`` (a file given on the command line)   2            the file and the system's reason
``UnicodeDecodeError``                           2            the byte offset that is not UTF-8
a CSV or YAML parser's error (pandas, PyYAML)    2            the parser's message
usage error (Typer)                              2            Typer's usage message
anything else (a bug in cartrial)                70           one line asking for a bug report;
                                                              ``CARTRIAL_TRACEBACK=1`` shows it
===============================================  ===========  =====================================

With ``--json`` anywhere on the command line the error is printed on stdout as JSON,
``{"error": "<summary>", "type": "<class>", "details": [...]}``, numbers as numbers (rows and
lines as integers), so that a script can read it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer

from cartrial.errors import (
    CartrialError,
    Conflict,
    DatabaseUnavailable,
    ImportFailed,
    ProtocolError,
    ValidationFailed,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERNAL",
    "JSON_KEY",
    "TRACEBACK_ENV",
    "error_payload",
    "report_error",
    "report_errors",
    "wants_json",
]

#: Exit code of every refused command (bad input, a rule or a database that says no).
EXIT_ERROR = 2
#: Exit code of an unexpected failure (a bug): sysexits' EX_SOFTWARE.
EXIT_INTERNAL = 70
#: Key in ``click.Context.meta`` telling whether the command line asked for ``--json``.
JSON_KEY = "cartrial.json"
#: Set to 1 to see the traceback of an unexpected failure (for developers).
TRACEBACK_ENV = "CARTRIAL_TRACEBACK"
#: Bad rows listed in the terminal before "... and N more".
_ROWS_SHOWN = 100


def wants_json(args: Sequence[str]) -> bool:
    """Whether ``--json`` appears among the options of ``args`` (before a ``--``)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def error_payload(exc: BaseException) -> dict[str, object]:
    """The JSON form of an error: ``{"error", "type", "details"}``, numbers kept as numbers."""
    details: list[dict[str, object]] = []
    summary = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ProtocolError):
        summary = f"{exc.source}: {len(exc.issues)} error(s)"
        details = [{"path": p, "line": line, "message": m} for p, line, m in exc.issues]
    elif isinstance(exc, ImportFailed):
        summary = f"{exc.source}: {exc.title or 'import rejected, nothing written'}"
        details = [{"line": r, "field": f, "message": m} for r, f, m in exc.errors]
        if exc.more:
            details.append({"more": exc.more})
    elif isinstance(exc, ValidationFailed):
        details = [{"field": exc.field, "message": str(exc).removeprefix(f"{exc.field}: ")}]
    elif isinstance(exc, Conflict):
        details = [
            {
                "record": exc.record,
                "expected_version": exc.expected_version,
                "actual_version": exc.actual_version,
            }
        ]
    elif isinstance(exc, DatabaseUnavailable):
        details = [{"database": exc.database, "reason": exc.reason}]
    elif isinstance(exc, typer.TyperException):
        summary = exc.format_message()
        param = getattr(exc, "param", None)
        hint = getattr(exc, "param_hint", None)
        if param is not None and param.name:
            details = [{"parameter": param.name}]
        elif isinstance(hint, str):
            details = [{"parameter": hint}]
    elif isinstance(exc, OSError):
        summary = _os_message(exc)
        details = [{"path": exc.filename, "errno": exc.errno}] if exc.filename else []
    elif isinstance(exc, UnicodeDecodeError):
        summary = _decode_message(exc)
        details = [{"byte_offset": exc.start, "encoding": exc.encoding}]
    if isinstance(exc, CartrialError) and len(str(exc).splitlines()) > 1 and not details:
        details = [{"message": line.strip()} for line in str(exc).splitlines()[1:]]
    return {"error": summary, "type": type(exc).__name__, "details": details}


def report_error(exc: BaseException, *, as_json: bool) -> int:
    """Print ``exc`` for a person (stderr) or a program (JSON on stdout); the exit code."""
    internal = not (
        isinstance(exc, CartrialError | OSError | UnicodeDecodeError | typer.TyperException)
        or _is_parser_error(exc)
    )
    code = EXIT_INTERNAL if internal else _exit_code(exc)
    if as_json:
        payload = error_payload(exc)
        if internal:
            payload["error"] = f"internal error: {payload['error']}"
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        return code
    if internal:
        typer.echo(
            f"error: cartrial failed unexpectedly ({type(exc).__name__}: {exc}). This is a bug: "
            f"please report it with the command you ran ({TRACEBACK_ENV}=1 shows the details).",
            err=True,
        )
        if os.environ.get(TRACEBACK_ENV) == "1":
            traceback.print_exception(exc, file=sys.stderr)
        return code
    if isinstance(exc, typer.TyperException):
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"Error: {exc.format_message()}", err=True)
        return code
    typer.echo(f"error: {_human(exc)}", err=True)
    return code


@contextmanager
def report_errors(*, as_json: bool) -> Iterator[None]:
    """Turn any error raised in the block into a message and ``click``'s exit with its code.

    Typer's own exits and aborts pass through; without ``--json`` its usage errors pass through
    too (Typer prints them); everything else is printed by :func:`report_error`.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except typer.TyperException as exc:
        if not as_json:
            raise
        raise typer.Exit(report_error(exc, as_json=True)) from None
    except Exception as exc:
        raise typer.Exit(report_error(exc, as_json=as_json)) from None


#: Modules whose exceptions mean "this input file cannot be parsed", not a bug of cartrial.
_PARSERS = ("pandas.errors", "pandas._libs", "yaml")


def _is_parser_error(exc: BaseException) -> bool:
    """A CSV (pandas) or YAML (PyYAML) parser refused an input file."""
    module = type(exc).__module__
    return any(module == name or module.startswith(f"{name}.") for name in _PARSERS)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, typer.TyperException):
        return exc.exit_code
    return EXIT_ERROR


def _human(exc: BaseException) -> str:
    if isinstance(exc, ImportFailed):
        title = exc.title or "import rejected, nothing written"
        found = len(exc.errors) + exc.more
        lines = [f"{exc.source}: {title} ({found} problem(s))"]
        lines += [
            f"  line {r}, {f}: {m}" if r > 0 else f"  {f}: {m}"
            for r, f, m in exc.errors[:_ROWS_SHOWN]
        ]
        if found > _ROWS_SHOWN:
            lines.append(f"  ... and {found - _ROWS_SHOWN} more error(s)")
        return "\n".join(lines)
    if isinstance(exc, OSError):
        return _os_message(exc)
    if isinstance(exc, UnicodeDecodeError):
        return _decode_message(exc)
    if _is_parser_error(exc):
        return f"cannot parse the input ({type(exc).__name__}): {exc}"
    return str(exc)


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _decode_message(exc: UnicodeDecodeError) -> str:
    return (
        f"the input is not {exc.encoding} text: byte {exc.object[exc.start : exc.start + 1]!r} "
        f"at offset {exc.start} ({exc.reason})"
    )
