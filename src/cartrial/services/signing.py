"""Electronic signatures for people (21 CFR Part 11 §11.50, §11.70, §11.200).

* :func:`sign` re-checks the signer's password once (a wrong one is recorded and counts towards
  the account lock: :mod:`cartrial.services.lockout`), refuses a locked account, and refuses a
  second signature by the same signer with the same meaning on the same version of a record;
  a record changed since (a new version) can be signed again.
* :class:`Signed` is how a signature is shown everywhere: the signer's printed name, the date and
  time in UTC and in the study's time zone (``study.time_zone`` of the protocol), the meaning and
  the version of the record signed (:attr:`Signed.manifestation` writes it in one line).
* :func:`signatures_of` lists the signatures of one record, each with whether the record still
  has the content that was signed.
* :func:`sign_imported` signs a record moved in from another EDC: a signature cannot be
  re-made for someone else, so the importing user signs (password re-entered, meaning
  :data:`IMPORTED_COPY`: "a true copy of the record signed in the source system") and the source
  system's signature (:class:`SourceSignature`: system, signer, printed name, meaning, time) is
  kept as data with it; :attr:`Signed.manifestation` shows both ("signed in <system> by ...;
  imported by ...").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, SecretStr
from sqlalchemy import select

from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.lockout import PasswordRejected, check_password, is_locked
from cartrial.store import (
    AdverseEvent,
    DataLock,
    DoseDecision,
    Infusion,
    Regulated,
    Signature,
    Subject,
    live,
)
from cartrial.store.auth import add_signature, record_sha256, table_of, verify_password
from cartrial.vocab import ROLES

__all__ = [
    "IMPORTED_COPY",
    "SignaturesOf",
    "Signed",
    "SourceSignature",
    "already_signed",
    "check_signing_password",
    "import_reason",
    "manifestation",
    "manifestation_of",
    "sign",
    "sign_imported",
    "signatures_of",
    "signed_result",
]


#: Meaning of the importing user's signature on a record moved in from another system.
IMPORTED_COPY = "imported_copy"


class SourceSignature(ServiceInput):
    """A signature made in the source system of an imported record, kept as data (never re-made).

    ``signed_at`` is when it was signed there (ISO 8601 with its UTC offset).
    """

    system: str = Field(min_length=1, max_length=200)
    signer: str = Field(min_length=1, max_length=64)
    signer_name: str = Field(min_length=1, max_length=200)
    meaning: str = Field(min_length=1, max_length=64)
    signed_at: AwareDatetime


class Signed(ServiceResult):
    """A stored signature as shown to people: its manifestation (§11.50) and what it binds.

    ``signed_at`` is UTC; ``signed_at_local`` is the same instant in the study's time zone
    ``time_zone``. ``record_version`` is the version of the record that was signed (a record
    changed and signed again shows a higher version). ``valid`` is false once the record has
    changed since it was signed (``None`` when not checked).
    """

    signature_id: int
    record_table: str
    record_id: int
    record_version: int
    signer: str
    signer_name: str
    meaning: str
    signed_at: dt.datetime
    signed_at_local: dt.datetime
    time_zone: str
    record_sha256: str
    manifestation: str
    valid: bool | None = None
    source: SourceSignature | None = None


def manifestation(
    signer_name: str,
    signer: str,
    meaning: str,
    signed_at: dt.datetime,
    time_zone: str,
    record_version: int,
) -> str:
    """The signature written out for a person: name, meaning, UTC and study time, version.

    Examples
    --------
    >>> import datetime as dt
    >>> manifestation("Dr A. Li", "ali", "approval",
    ...               dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC), "Asia/Shanghai", 2)
    'Dr A. Li (ali), approval, 2026-03-01 08:30:00 UTC (2026-03-01 16:30:00 Asia/Shanghai, UTC+08:00), record version 2'
    """  # noqa: E501
    local = signed_at.astimezone(ZoneInfo(time_zone))
    offset = local.strftime("%z")
    return (
        f"{signer_name} ({signer}), {meaning}, {signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} "
        f"UTC ({local:%Y-%m-%d %H:%M:%S} {time_zone}, UTC{offset[:3]}:{offset[3:]}), "
        f"record version {record_version}"
    )


def source_of(signature: Signature) -> SourceSignature | None:
    """The source system's signature kept with an imported record's signature, if any."""
    if signature.source_system is None or signature.source_signed_at is None:
        return None
    return SourceSignature(
        system=signature.source_system,
        signer=signature.source_signer or "",
        signer_name=signature.source_signer_name or "",
        meaning=signature.source_meaning or "",
        signed_at=signature.source_signed_at,
    )


def manifestation_of(signature: Signature, time_zone: str) -> str:
    """The stored ``signature`` written out for a person (:func:`manifestation`).

    An imported record's signature reads ``"signed in <system> by <name> (<user>), <meaning>,
    <time> UTC (...); imported by <name> (<user>), imported_copy, <time> UTC (...), record
    version <n>"``: the source signature as data, then the importing user's own signature.
    """
    own = manifestation(
        signature.signer_name,
        signature.signer,
        signature.meaning,
        signature.signed_at,
        time_zone,
        signature.record_version,
    )
    source = source_of(signature)
    if source is None:
        return own
    original = manifestation(
        source.signer_name, source.signer, source.meaning, source.signed_at, time_zone, 0
    ).removesuffix(", record version 0")
    return f"signed in {source.system} by {original}; imported by {own}"


def signed_result(signature: Signature, time_zone: str, *, valid: bool | None = None) -> Signed:
    """The signature ``signature`` as shown in the study's ``time_zone``."""
    return Signed(
        signature_id=signature.id,
        record_table=signature.record_table,
        record_id=signature.record_id,
        record_version=signature.record_version,
        signer=signature.signer,
        signer_name=signature.signer_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
        signed_at_local=signature.signed_at.astimezone(ZoneInfo(time_zone)),
        time_zone=time_zone,
        record_sha256=signature.record_sha256,
        manifestation=manifestation_of(signature, time_zone),
        valid=valid,
        source=source_of(signature),
    )


def already_signed(uc: UseCase, meaning: str, record: Regulated) -> Signature | None:
    """The user's live signature with ``meaning`` on the current version of ``record``, if any."""
    uc.session.flush()
    return uc.session.scalar(
        select(Signature).where(
            Signature.user_id == uc.user.id,
            Signature.meaning == meaning.strip(),
            Signature.record_table == table_of(record),
            Signature.record_id == record.id,
            Signature.record_version == record.version,
            live(Signature),
        )
    )


def sign(
    uc: UseCase,
    password: str,
    meaning: str,
    *records: Regulated,
    source: SourceSignature | None = None,
) -> list[Signature]:
    """Sign ``records`` as the use case's user, with ``meaning``, after one password check.

    With ``source`` (a record moved in from another system) the user signs with meaning
    :data:`IMPORTED_COPY` instead and the source system's signature, whose meaning was
    ``meaning``, is kept with it as data (:func:`sign_imported`).

    Raises
    ------
    PasswordRejected
        Wrong password or locked account (``use_case`` records it after the rollback).
    ValidationFailed
        ``record_id``: the user already signed this version of a record with this meaning;
        ``meaning`` empty; a deleted record.
    """
    username = uc.user.username
    locked = is_locked(uc.session, uc.user.id)
    if locked or not verify_password(uc.user.password_hash, password):
        raise PasswordRejected(
            username,
            "signature",
            uc.source,
            "the account is locked; an administrator must unlock it"
            if locked
            else "wrong password: the signature was not made",
        )
    if source is not None:
        return sign_imported(uc, source.model_copy(update={"meaning": meaning}), *records)
    signatures = []
    for record in records:
        previous = already_signed(uc, meaning, record)
        if previous is not None:
            raise ValidationFailed(
                "record_id",
                f"{table_of(record)} {record.id} version {record.version} is already signed by "
                f"{username} as {previous.meaning!r} (at {previous.signed_at:%Y-%m-%d %H:%M} "
                "UTC); a changed record can be signed again",
            )
        signatures.append(add_signature(uc.session, uc.user, meaning, record))
    return signatures


def import_reason(source: SourceSignature, importer: str) -> str:
    """The audit reason of every write of an imported signed record (who imported it, from
    where, and whose signature the source holds)."""
    return (
        f"imported by {importer} from {source.system}: signed there by {source.signer_name} "
        f"({source.signer}) as {source.meaning} at "
        f"{source.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
    )


def sign_imported(uc: UseCase, source: SourceSignature, *records: Regulated) -> list[Signature]:
    """The importing user's signature on imported ``records``, the source's kept as data.

    Called by :func:`sign` once the password was checked. The audit reason of the use case
    names the source signature, so the trail shows who imported what from where.

    Raises
    ------
    ValidationFailed
        ``record_id``: the record was already imported and signed.
    """
    uc.because(import_reason(source, uc.user.username))
    signatures = []
    for record in records:
        if already_signed(uc, IMPORTED_COPY, record) is not None:
            raise ValidationFailed(
                "record_id", f"{table_of(record)} {record.id} is already imported and signed"
            )
        kept = {
            "source_system": source.system,
            "source_signer": source.signer,
            "source_signer_name": source.signer_name,
            "source_meaning": source.meaning,
            "source_signed_at": source.signed_at.astimezone(dt.UTC),
        }
        signatures.append(add_signature(uc.session, uc.user, IMPORTED_COPY, record, source=kept))
    return signatures


def check_signing_password(ctx: ServiceContext, password: SecretStr) -> None:
    """Check the user's password once before signing many records (an import).

    Raises
    ------
    AuthenticationFailed
        Wrong password or locked account (recorded as a failed signature, as :func:`sign`).
    """
    with use_case(ctx, *ROLES, read_only=True) as uc:
        check_password(
            uc.session, uc.user.username, password.get_secret_value(), kind="signature",
            source=uc.source,
        )  # fmt: skip


#: Records whose signatures can be listed, with their model.
SIGNABLE: dict[str, type[Regulated]] = {
    "dose_decision": DoseDecision,
    "data_lock": DataLock,
    "adverse_event": AdverseEvent,
    "infusion": Infusion,
}


class SignaturesOf(ServiceInput):
    """The record whose signatures are wanted."""

    record: Literal["dose_decision", "data_lock", "adverse_event", "infusion"]
    record_id: int = Field(gt=0)


def _record_in_study(uc: UseCase, data: SignaturesOf) -> Regulated:
    """The record, if it belongs to the study and the user may see it (site scope)."""
    model = SIGNABLE[data.record]
    record = uc.session.get(model, data.record_id)
    missing = NotFound(f"record_id: no {data.record} {data.record_id} in this study")
    if record is None:
        raise missing
    if isinstance(record, DoseDecision | DataLock):
        if record.study_id != uc.study.id:
            raise missing
        return record
    subject_id = record.subject_id  # type: ignore[attr-defined]
    subject = uc.session.get(Subject, subject_id)
    if subject is None or subject.study_id != uc.study.id:
        raise missing
    uc.require(*ROLES, site_id=subject.site_id)
    return record


def signatures_of(ctx: ServiceContext, data: SignaturesOf) -> tuple[Signed, ...]:
    """Every signature of a record, oldest first, with its manifestation and validity.

    ``valid`` says whether the record still has the content it had when that signature was made
    (a later version makes earlier signatures historical, not void: they are kept and shown).
    """
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        record = _record_in_study(uc, data)
        current = record_sha256(record)
        rows: Sequence[Signature] = uc.session.scalars(
            select(Signature)
            .where(
                Signature.record_table == table_of(record),
                Signature.record_id == record.id,
                live(Signature),
            )
            .order_by(Signature.signed_at, Signature.id)
        ).all()
        zone = uc.protocol.study.time_zone
        return tuple(signed_result(s, zone, valid=s.record_sha256 == current) for s in rows)
