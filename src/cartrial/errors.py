"""The one exception tree of cartrial.

Every error cartrial raises on purpose derives from :class:`CartrialError`; each subclass also
inherits the built-in exception it replaces, so callers that catch ``ValueError`` keep working::

    CartrialError
    ├── InputFileError(ValueError)       a user's file cannot be read as text (size, encoding)
    ├── ProtocolError(ValueError)        a protocol file is malformed or inconsistent
    ├── RuleInputError(ValueError)       bad input to a rule engine (CTCAE, ASTCT, RECIST, DLT)
    ├── DesignError(ValueError)          bad input to a dose-finding design or simulation
    ├── AnalysisError(ValueError)        bad input to an endpoint analysis
    ├── ServiceError                     a use case refused to act
    │   ├── ValidationFailed(ValueError) the input breaks a protocol or data rule (names the field)
    │   ├── NotFound(LookupError)        the record does not exist (or is not visible to the user)
    │   ├── Conflict                     optimistic-locking conflict: a stale edit
    │   ├── PermissionDenied(PermissionError)  role or site restriction
    │   └── AuthenticationFailed(PermissionError)  no valid credential: wrong password, unknown,
    │                                            expired or revoked session or token, locked account
    ├── ImportFailed(ValueError)         a bulk import was rejected as a whole (row-level report)
    ├── AuditIntegrityError              the audit hash chain does not verify
    │   └── AuditKeyMissing              the audit key is needed (to write) and not available
    ├── ExchangeError(ValueError)        a CDISC dataset cannot be built or written as required
    ├── BackupFailed(RuntimeError)       a database backup or restore could not be made
    └── DatabaseUnavailable(RuntimeError)  the database cannot be opened or used (missing, not a
                                         cartrial database, unreachable, busy, read-only, full)

Statistical caveats are typed warnings (:class:`CartrialWarning`), never prints.
"""

from __future__ import annotations

__all__ = [
    "DATABASE_PROBLEMS",
    "AnalysisError",
    "AuditIntegrityError",
    "AuditKeyMissing",
    "AuthenticationFailed",
    "BackupFailed",
    "CartrialError",
    "CartrialWarning",
    "Conflict",
    "DatabaseUnavailable",
    "DesignError",
    "ExchangeError",
    "ImportFailed",
    "InputFileError",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "RuleInputError",
    "ServiceError",
    "ValidationFailed",
]


class CartrialError(Exception):
    """Root of every error cartrial raises on purpose."""


class InputFileError(CartrialError, ValueError):
    """A file given by the user cannot be read as text: missing, too large, binary, undecodable.

    ``source`` names the file; the message says where (line or byte offset) and what was expected.
    """

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class ProtocolError(CartrialError, ValueError):
    """A protocol file is malformed or inconsistent.

    ``issues`` holds every problem found, each as ``(path, line, message)``; ``line`` is ``None``
    when the problem has no single place in the file.
    """

    def __init__(self, source: str, issues: list[tuple[str, int | None, str]]) -> None:
        self.source = source
        self.issues = issues
        lines = [f"{source}: {len(issues)} error(s)"]
        for path, line, message in issues:
            where = f"line {line}, " if line is not None else ""
            lines.append(f"  {where}{path or '<root>'}: {message}")
        super().__init__("\n".join(lines))


class RuleInputError(CartrialError, ValueError):
    """Bad input to a clinical rule engine; the message names subject, date, lesion or row."""


class DesignError(CartrialError, ValueError):
    """Bad input to a dose-finding design or to the simulation engine."""


class AnalysisError(CartrialError, ValueError):
    """Bad input to an endpoint analysis."""


class ServiceError(CartrialError):
    """A use case refused to act; nothing was written."""


class ValidationFailed(ServiceError, ValueError):
    """The input breaks a protocol or data rule; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class NotFound(ServiceError, LookupError):
    """The record does not exist, or is not visible to the current user."""


class Conflict(ServiceError):
    """A stale edit: the record changed since the user read it (optimistic locking)."""

    def __init__(self, record: str, expected_version: int, actual_version: int) -> None:
        self.record = record
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"{record} was changed by someone else: you edited version {expected_version}, "
            f"the database holds version {actual_version}"
        )


class PermissionDenied(ServiceError, PermissionError):
    """The user's role or site does not allow this action."""


class AuthenticationFailed(ServiceError, PermissionError):
    """No valid credential: wrong password, unknown, expired or revoked session or token, or a
    locked account. The message never says which of username or password was wrong."""


class ImportFailed(CartrialError, ValueError):
    """A bulk import was rejected as a whole; ``errors`` lists ``(line, field, message)``.

    ``line`` is the line number in the file (the header is line 1; 0: the file as a whole);
    ``more`` counts further errors found but not kept (the report is capped).
    """

    def __init__(
        self, source: str, errors: list[tuple[int, str, str]], *, more: int = 0, title: str = ""
    ) -> None:
        self.source = source
        self.errors = errors
        self.more = more
        self.title = title
        shown = "\n".join(
            f"  line {r}, {f}: {m}" if r > 0 else f"  {f}: {m}" for r, f, m in errors[:100]
        )
        hidden = len(errors) - 100 + more if len(errors) > 100 else more
        tail = f"\n  ... and {hidden} more error(s)" if hidden > 0 else ""
        head = title or "import rejected, nothing written"
        super().__init__(f"{source}: {head}\n{shown}{tail}")


class AuditIntegrityError(CartrialError):
    """The audit trail's hash chain does not verify: a record was edited, removed or reordered."""


class AuditKeyMissing(AuditIntegrityError):
    """The audit key (kept outside the database) is needed and cannot be read."""


class ExchangeError(CartrialError, ValueError):
    """A CDISC dataset cannot be built or written as the standard requires (names the dataset,
    variable and rule, e.g. a label over 40 characters for SAS transport v5)."""


class BackupFailed(CartrialError, RuntimeError):
    """A database backup or restore could not be made (e.g. ``pg_dump`` is not installed)."""


class DatabaseUnavailable(CartrialError, RuntimeError):
    """The database cannot be opened or used; nothing was written.

    ``database`` names it (a file path, or a URL without its password) and ``reason`` says what
    is wrong in one word (one of :data:`DATABASE_PROBLEMS`), so that a client can react to the
    kind of failure; the message says it plainly, with what to do about it.
    """

    def __init__(self, database: str, reason: str, message: str) -> None:
        self.database = database
        self.reason = reason
        super().__init__(f"{database}: {message}")


#: The kinds of :class:`DatabaseUnavailable`, each with what it means.
DATABASE_PROBLEMS: dict[str, str] = {
    "bad-url": "the URL cannot be parsed, or names a database cartrial does not support",
    "bad-setting": "an environment setting of the database connection is invalid",
    "missing": "no database at that path (only `cartrial study init` creates one)",
    "not-a-database": "the path holds something else than a cartrial database",
    "outdated": "the database schema is not the one this version of cartrial uses",
    "unreachable": "the database server cannot be reached or refused the connection",
    "busy": "another writer held the database longer than the busy timeout",
    "permission": "the file or the server refuses access to this user",
    "read-only": "the database cannot be written (read-only or immutable file or directory)",
    "disk-full": "the disk (or the server's storage) is full",
    "failed": "the database reported another error",
}


class CartrialWarning(UserWarning):
    """A statistical or clinical caveat attached to a result (e.g. a small population)."""
