"""Signed governance records: the one helper that writes and reads them.

The end of escalation (with the MTD), the RP2D and the expansion decisions (opened, reviewed,
stopped) are each a :class:`~cartrial.store.GovernanceRecord` signed in the same transaction by
the person deciding (password re-entered, 21 CFR Part 11 style). :func:`record_decision` writes
one; :func:`decisions_of` reads them back as :class:`GovernanceDecided` results. The use cases
live in :mod:`cartrial.services.escalation` and :mod:`cartrial.services.expansion`.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, SecretStr
from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import UseCase
from cartrial.services.signing import (
    Signed,
    SourceSignature,
    import_reason,
    sign,
    signed_result,
)
from cartrial.store import GovernanceRecord, Signature, live, utcnow
from cartrial.vocab import GovernanceKind

__all__ = [
    "MEANINGS",
    "GovernanceDecided",
    "GovernanceKind",
    "SignedDecision",
    "SourceBasis",
    "decisions_of",
    "latest_decision",
    "record_decision",
    "refuse_if_decided",
]

#: The meaning of the signature on each kind of record.
MEANINGS: dict[str, str] = {
    "escalation_end": "escalation_ended",
    "rp2d": "rp2d_decided",
    "expansion_open": "expansion_opened",
    "expansion_review": "expansion_reviewed",
    "expansion_stop": "expansion_stopped",
}


class SourceBasis(ServiceInput):
    """An imported decision's basis as its source system recorded it (the committee's view)."""

    basis: str = Field(min_length=1)
    n_evaluable: int | None = Field(default=None, ge=0)
    n_dlt: int | None = Field(default=None, ge=0)


class SignedDecision(ServiceInput):
    """A committee or investigator decision: its rationale, signed with the re-entered password.

    ``as_of`` is the study date whose data the decision rests on (default: today, UTC).
    ``source_signature``: the decision is moved in from another system, where it was signed
    (kept as data); ``password`` is then the importing user's, who signs the copy
    (:func:`~cartrial.services.signing.sign_imported`). ``source_basis``: what the decision
    rested on as the source recorded it (what the committee saw), kept instead of the basis
    recomputed on the imported data (which the audit reason states when it differs).
    """

    rationale: str = Field(min_length=1, max_length=2000)
    password: SecretStr
    as_of: dt.date | None = None
    source_signature: SourceSignature | None = None
    source_basis: SourceBasis | None = None


class GovernanceDecided(ServiceResult):
    """A signed governance record.

    Attributes
    ----------
    record_id
        Database id of the record.
    kind
        ``escalation_end``, ``rp2d``, ``expansion_open``, ``expansion_review`` or
        ``expansion_stop``.
    dose_level, dose_index
        The dose the decision is about: protocol name (e.g. ``"DL1"``) and 0-based index
        (``None`` when escalation ended without an MTD).
    method
        The rule or design that produced the result (e.g. ``"3+3 select_mtd"``).
    basis
        The data and the result of the rule, in words.
    n_evaluable, n_dlt
        DLT-evaluable subjects and those with a DLT that the decision counted (``None``: not
        counted for this kind).
    rationale
        The decider's own words.
    decided_date
        Study date of the data the decision rests on.
    signature
        The e-signature made with the record.
    """

    record_id: int
    kind: GovernanceKind
    dose_level: str | None
    dose_index: int | None
    method: str
    basis: str
    n_evaluable: int | None
    n_dlt: int | None
    rationale: str
    decided_date: dt.date
    signature: Signed


def record_decision(
    uc: UseCase,
    kind: GovernanceKind,
    data: SignedDecision,
    *,
    as_of: dt.date,
    dose_index: int | None,
    method: str,
    basis: str,
    n_evaluable: int | None = None,
    n_dlt: int | None = None,
) -> GovernanceDecided:
    """Write one governance record and sign it (meaning :data:`MEANINGS` ``[kind]``).

    The write is audited in the use case's transaction with the reason ``"<kind>: <rationale>"``.

    Raises
    ------
    ValidationFailed
        ``as_of`` on or before the cut-off of an active data lock.
    PermissionDenied
        Wrong password.
    """
    uc.check_unlocked(as_of, "as_of")
    names = [level.name for level in uc.protocol.dose_levels]
    reason = f"{kind.replace('_', ' ')}: {data.rationale}"
    source = data.source_signature
    if source is not None:
        reason += f"; {import_reason(source, uc.user.username)}"
    kept = data.source_basis
    if kept is not None and (kept.basis, kept.n_evaluable, kept.n_dlt) != (
        basis,
        n_evaluable,
        n_dlt,
    ):
        reason += f"; recorded basis kept, on the imported data: {basis}"
        basis, n_evaluable, n_dlt = kept.basis, kept.n_evaluable, kept.n_dlt
    record = GovernanceRecord(
        study_id=uc.study.id,
        kind=kind,
        dose_level=names[dose_index] if dose_index is not None else None,
        dose_index=dose_index,
        method=method,
        basis=basis,
        n_evaluable=n_evaluable,
        n_dlt=n_dlt,
        rationale=data.rationale,
        decided_date=as_of,
        decided_at=utcnow(),
    )
    uc.because(reason)
    uc.session.add(record)
    uc.session.flush()
    [signature] = sign(uc, data.password.get_secret_value(), MEANINGS[kind], record, source=source)
    return _result(record, signature, uc.protocol.study.time_zone)


def _result(record: GovernanceRecord, signature: Signature, time_zone: str) -> GovernanceDecided:
    return GovernanceDecided(
        record_id=record.id,
        kind=record.kind,
        dose_level=record.dose_level,
        dose_index=record.dose_index,
        method=record.method,
        basis=record.basis,
        n_evaluable=record.n_evaluable,
        n_dlt=record.n_dlt,
        rationale=record.rationale,
        decided_date=record.decided_date,
        signature=signed_result(signature, time_zone),
    )


def decisions_of(uc: UseCase, *kinds: GovernanceKind) -> tuple[GovernanceDecided, ...]:
    """The study's signed governance records of ``kinds`` (all kinds if none), oldest first.

    A record without a live signature is not a decision and is left out.
    """
    query = (
        select(GovernanceRecord, Signature)
        .join(
            Signature,
            (Signature.record_table == GovernanceRecord.__tablename__)
            & (Signature.record_id == GovernanceRecord.id)
            & live(Signature),
        )
        .where(GovernanceRecord.study_id == uc.study.id, live(GovernanceRecord))
        .order_by(GovernanceRecord.id, Signature.id)
    )
    if kinds:
        query = query.where(GovernanceRecord.kind.in_(kinds))
    seen: dict[int, GovernanceDecided] = {}
    for record, signature in uc.session.execute(query).tuples():
        seen.setdefault(record.id, _result(record, signature, uc.protocol.study.time_zone))
    return tuple(seen.values())


def latest_decision(uc: UseCase, kind: GovernanceKind) -> GovernanceDecided | None:
    """The study's latest signed governance record of ``kind``, or ``None``."""
    found = decisions_of(uc, kind)
    return found[-1] if found else None


def refuse_if_decided(uc: UseCase, kind: GovernanceKind, field: str, message: str) -> None:
    """Raise :class:`ValidationFailed` on ``field`` when a record of ``kind`` exists."""
    if latest_decision(uc, kind) is not None:
        raise ValidationFailed(field, message)
