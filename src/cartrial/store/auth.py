"""Users, roles and electronic signatures (21 CFR Part 11 style): tables and hashing primitives.

Passwords are stored as argon2id hashes with the parameters of :data:`PASSWORD_PROFILE` (RFC 9106
"low memory" profile: t=3, m=64 MiB, p=4; argon2-cffi's default). A signature records the signer,
the meaning of the signature (e.g. ``"approval"``, ``"dlt_adjudication"``, ``"data_lock"``), the
UTC time, the record's version and the SHA-256 of the signed record's content, so that any later
change to the record is visible (:func:`signature_is_valid`).

Checking a password, counting failures and locking accounts, sessions, tokens and the rules of
signing (password re-entered, one signature per signer and meaning per record version) are the
services' job (:mod:`cartrial.services.auth`, :mod:`cartrial.services.signing`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from cartrial.errors import NotFound, ValidationFailed
from cartrial.store.base import Base, Regulated, live, utcnow
from cartrial.store.models import RoleAssignment, Signature, User
from cartrial.vocab import ROLES

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_PROFILE",
    "add_signature",
    "assign_role",
    "create_user",
    "has_role",
    "hash_password",
    "record_sha256",
    "signature_is_valid",
    "signatures_for",
    "table_of",
    "verify_password",
]

#: Shortest password accepted by :func:`create_user`.
MIN_PASSWORD_LENGTH = 10
#: Columns left out of a record's content hash (bookkeeping that a signature does not attest).
_UNSIGNED_COLUMNS = frozenset({"version"})


#: argon2 parameters of new password hashes (tests substitute ``argon2.profiles.CHEAPEST``).
PASSWORD_PROFILE: Parameters = RFC_9106_LOW_MEMORY


def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(PASSWORD_PROFILE)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (salted; PHC string format)."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the argon2 ``password_hash``."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed("role", f"unknown role {role!r}; roles are {', '.join(ROLES)}")


def create_user(
    session: Session,
    username: str,
    full_name: str,
    password: str,
    roles: Iterable[str | tuple[str, int | None]] = (),
    *,
    email: str | None = None,
) -> User:
    """Create a user with an argon2 password hash and role assignments.

    Parameters
    ----------
    session
        An audited session (see :func:`cartrial.store.unit_of_work`).
    username, full_name, password, email
        Login name (unique), the person's name, the password (at least
        :data:`MIN_PASSWORD_LENGTH` characters, stored only as a hash) and an optional e-mail.
    roles
        Role names (study-wide) or ``(role, site_id)`` pairs (the role at one site).

    Raises
    ------
    cartrial.errors.ValidationFailed
        Empty or taken username, short password, unknown role.
    """
    name = username.strip()
    if not name:
        raise ValidationFailed("username", "must not be empty")
    taken = session.scalar(select(User.id).where(User.username == name))
    if taken is not None:
        raise ValidationFailed("username", f"{name!r} already exists")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        username=name, full_name=full_name, email=email, password_hash=hash_password(password)
    )
    session.add(user)
    session.flush()
    for item in roles:
        role, site_id = (item, None) if isinstance(item, str) else item
        assign_role(session, user, role, site_id)
    return user


def assign_role(
    session: Session, user: User, role: str, site_id: int | None = None
) -> RoleAssignment:
    """Give ``user`` a ``role`` at ``site_id`` (``None``: every site of the study)."""
    _check_role(role)
    assignment = RoleAssignment(user_id=user.id, role=role, site_id=site_id)
    session.add(assignment)
    session.flush()
    return assignment


def has_role(session: Session, user: User, role: str, site_id: int | None = None) -> bool:
    """True when ``user`` holds ``role`` study-wide or at ``site_id`` (not soft-deleted)."""
    _check_role(role)
    query = select(RoleAssignment.id).where(
        RoleAssignment.user_id == user.id,
        RoleAssignment.role == role,
        live(RoleAssignment),
    )
    if site_id is not None:
        query = query.where(RoleAssignment.site_id.is_(None) | (RoleAssignment.site_id == site_id))
    return session.scalar(query.limit(1)) is not None


def _encode(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def record_sha256(record: Regulated) -> str:
    """SHA-256 of a record's content: table name and every column except ``version``.

    The record is flushed first by :func:`sign`; the hash is over canonical JSON (sorted keys).
    """
    state = instance_state(record)
    content: dict[str, object] = {"__table__": state.mapper.local_table.description}
    for prop in state.mapper.column_attrs:
        if prop.key not in _UNSIGNED_COLUMNS:
            content[prop.key] = _encode(getattr(record, prop.key))
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def add_signature(
    session: Session,
    signer: User,
    meaning: str,
    record: Regulated,
    *,
    source: Mapping[str, object] | None = None,
) -> Signature:
    """Write the signature of ``signer`` on ``record``: meaning, UTC time, version, content hash.

    ``source`` holds the ``source_*`` columns of an imported record's signature (the signature
    it had in its source system, kept as data); written with the signature, in one insert.

    A storage primitive: it does NOT check the password, the account lock or duplicates. Signing
    for a person goes through :func:`cartrial.services.signing.sign`, which does.

    Parameters
    ----------
    session
        An audited session; the signature is written in its transaction.
    signer
        The person signing (authenticated by the caller).
    meaning
        What the signature means, e.g. ``"approval"``, ``"dlt_adjudication"``, ``"data_lock"``.
    record
        The regulated record being signed (flushed first so that it has an id and its version).

    Raises
    ------
    cartrial.errors.ValidationFailed
        Empty meaning, or the record is soft-deleted.
    """
    if not meaning.strip():
        raise ValidationFailed("meaning", "a signature needs its meaning")
    if record.deleted_at is not None:
        raise ValidationFailed("record", "a deleted record cannot be signed")
    session.flush()
    signature = Signature(
        user_id=signer.id,
        signer=signer.username,
        signer_name=signer.full_name,
        meaning=meaning.strip(),
        record_table=table_of(record),
        record_id=record.id,
        record_version=record.version,
        record_sha256=record_sha256(record),
        signed_at=utcnow(),
        **(source or {}),
    )
    session.add(signature)
    session.flush()
    return signature


def table_of(record: Regulated) -> str:
    """The table name of ``record`` (as stored in ``signatures.record_table``)."""
    return str(instance_state(record).mapper.local_table.description)


def signatures_for(session: Session, record: Regulated) -> list[Signature]:
    """Every signature on ``record``, oldest first."""
    table = table_of(record)
    return list(
        session.scalars(
            select(Signature)
            .where(
                Signature.record_table == table,
                Signature.record_id == record.id,
                live(Signature),
            )
            .order_by(Signature.signed_at, Signature.id)
        )
    )


def signature_is_valid(session: Session, signature: Signature) -> bool:
    """True while the signed record still has the content it had when signed.

    Raises
    ------
    cartrial.errors.NotFound
        The signed record no longer exists.
    """
    mapper = next(
        (m for m in Base.registry.mappers if m.local_table.description == signature.record_table),
        None,
    )
    record = None if mapper is None else session.get(mapper.class_, signature.record_id)
    if not isinstance(record, Regulated):
        raise NotFound(f"{signature.record_table} {signature.record_id} does not exist")
    return record_sha256(record) == signature.record_sha256
