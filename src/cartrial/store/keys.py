"""The audit key: the secret under which the audit chain is MAC'd, kept OUTSIDE the database.

Every audit row's ``row_sha256`` column holds HMAC-SHA256(key, previous MAC + canonical JSON of
the row) (from schema revision 0004; the column keeps its historical name). Whoever can write the
database file but does not hold the key cannot forge, edit or re-chain a row without
``cartrial audit verify`` noticing.

Where the key lives (resolved at call time, never at import):

1. ``$CARTRIAL_AUDIT_KEY_FILE`` (a server deployment sets it; the file belongs to the service
   account and users cannot read it);
2. else, for a SQLite database ``trial.db``, the file ``trial.db.audit-key`` next to it (a
   single-user installation: whoever holds both files can re-chain, which the checkpoints written
   elsewhere still reveal).

A PostgreSQL database has no default: set ``$CARTRIAL_AUDIT_KEY_FILE``. The file holds 64 hex
digits (32 random bytes), is created with mode 0600 by ``cartrial study init`` (or by the
migration that converts an older database) and is never overwritten. Writing without the key is
refused (:class:`~cartrial.errors.AuditKeyMissing`); verifying without it still checks the data
against the trail and reports that the chain could not be authenticated.

Checkpoints (:mod:`cartrial.store.checkpoints`) go to ``$CARTRIAL_CHECKPOINT_DIR``, else, for
SQLite, the directory ``trial.db.checkpoints`` next to the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from cartrial.errors import AuditKeyMissing

__all__ = [
    "AUDIT_KEY_FILE_ENV",
    "AUDIT_KEY_OPTION",
    "CHECKPOINT_DIR_ENV",
    "audit_key_path",
    "checkpoint_dir",
    "create_audit_key",
    "key_id",
    "load_audit_key",
]

#: Environment variable naming the audit key file.
AUDIT_KEY_FILE_ENV = "CARTRIAL_AUDIT_KEY_FILE"
#: Environment variable naming the directory automatic checkpoints are written to.
CHECKPOINT_DIR_ENV = "CARTRIAL_CHECKPOINT_DIR"
#: Engine execution option carrying the key (bytes) to the audit writer.
AUDIT_KEY_OPTION = "cartrial_audit_key"
_KEY_BYTES = 32


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def audit_key_path(url: str) -> Path | None:
    """Where the audit key of the database at ``url`` is (``None``: nowhere configured)."""
    env = os.environ.get(AUDIT_KEY_FILE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    path = _sqlite_file(url)
    return path.with_name(path.name + ".audit-key") if path is not None else None


def checkpoint_dir(url: str) -> Path | None:
    """Directory of automatic checkpoints of the database at ``url`` (``None``: not configured)."""
    env = os.environ.get(CHECKPOINT_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    path = _sqlite_file(url)
    return path.with_name(path.name + ".checkpoints") if path is not None else None


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditKeyMissing(f"audit key file {path}: not {2 * _KEY_BYTES} hex digits") from None
    if len(key) != _KEY_BYTES:
        raise AuditKeyMissing(f"audit key file {path}: not {2 * _KEY_BYTES} hex digits")
    return key


def load_audit_key(url: str) -> bytes | None:
    """The audit key of the database at ``url``, or ``None`` when there is no key file or this
    user may not read it (a server deployment: users verify without the key, only the server
    writes)."""
    path = audit_key_path(url)
    if path is None or not path.exists():
        return None
    try:
        return _read_key(path)
    except PermissionError:
        return None


def create_audit_key(url: str) -> Path:
    """Create the audit key file of ``url`` (mode 0600) unless it exists; return its path.

    Raises
    ------
    AuditKeyMissing
        No key location is configured (PostgreSQL without ``$CARTRIAL_AUDIT_KEY_FILE``).
    """
    path = audit_key_path(url)
    if path is None:
        raise AuditKeyMissing(
            f"no audit key location for this database: set {AUDIT_KEY_FILE_ENV} to a file the "
            "server holds"
        )
    if path.exists():
        _read_key(path)  # an existing key is kept, never replaced
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(_KEY_BYTES) + "\n")
    return path


def key_id(key: bytes) -> str:
    """A public fingerprint of ``key`` (16 hex digits), stored with the chain head and checkpoints.

    It tells which key a chain was written under without revealing the key.
    """
    return hmac.new(key, b"cartrial audit key id", hashlib.sha256).hexdigest()[:16]
