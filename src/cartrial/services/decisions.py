"""Governance: dose decisions, electronic signatures, DLT adjudication, data lock.

* :func:`decide_next_dose` runs the protocol's design (``make_design``) on the DLT counts of the
  evaluable subjects (and, for TITE designs, the pending ones) and records the recommendation and
  the committee's decision (which may be more cautious than the design, never bolder);
* :func:`sign_record` adds an e-signature (password re-entered); a dose decision allows dosing
  only once signed;
* the end of escalation, the RP2D (:mod:`cartrial.services.escalation`) and the expansion
  decisions (:mod:`cartrial.services.expansion`) are signed governance records;
* :func:`lock_data` freezes the data up to a cut-off (signed); later writes dated on or before
  the cut-off are refused (:mod:`cartrial.services.context`); a checkpoint of the audit chain is
  written outside the database; :func:`~cartrial.services.datalock.release_data_lock` lifts it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, SecretStr
from sqlalchemy import func, select

from cartrial.designs.labels import name_doses
from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.database import checkpoint_after_write
from cartrial.services.derive import OVERRIDE_RULE, derive_subject_dlt
from cartrial.services.enrolment import allowed_dose, current_cohort
from cartrial.services.escalation import (
    DECIDERS,
    check_escalation_open,
    escalation_counts,
    protocol_design,
    recommend,
    refuse_pending,
)
from cartrial.services.signing import (
    IMPORTED_COPY,
    Signed,
    SourceSignature,
    already_signed,
    import_reason,
    sign,
    signed_result,
)
from cartrial.services.treatment import infusion_of
from cartrial.store import (
    AdverseEvent,
    DataLock,
    DataQuery,
    DoseDecision,
    Infusion,
    live,
    utcnow,
)

__all__ = [
    "AdjudicateDLT",
    "DLTAdjudicated",
    "DLTOverride",
    "DataLocked",
    "DecideNextDose",
    "DoseDecided",
    "LockData",
    "SignRecord",
    "adjudicate_dlt",
    "decide_next_dose",
    "lock_data",
    "sign_record",
]


class DecideNextDose(ServiceInput):
    """Ask the design for the next cohort's dose; optionally decide more cautiously.

    ``as_of`` is the date whose DLT windows count as closed (default: today, UTC).
    ``action``/``next_dose_level`` override the recommendation (never to a higher dose) and then
    need ``rationale``; naming exactly the recommendation is no override.
    ``source_signature``: the decision is moved in from another system where it was signed; it
    is then signed at once by the importing user (``password``) as an imported copy
    (:func:`~cartrial.services.signing.sign_imported`).
    """

    as_of: dt.date | None = None
    action: Literal["escalate", "stay", "de-escalate", "stop"] | None = None
    next_dose_level: str | None = None
    rationale: str | None = Field(default=None, max_length=2000)
    source_signature: SourceSignature | None = None
    password: SecretStr | None = None


class DoseDecided(ServiceResult):
    """The recorded decision: counts per dose, the design's recommendation and the decision."""

    decision_id: int
    cohort: int
    design: str
    dose_level: str
    n_per_dose: tuple[int, ...]
    dlt_per_dose: tuple[int, ...]
    pending: int
    recommended_action: str
    recommended_next_dose_level: str | None
    recommendation_reason: str
    action: str
    next_dose_level: str | None


def decide_next_dose(ctx: ServiceContext, data: DecideNextDose) -> DoseDecided:
    """Record the dose decision for the next escalation cohort.

    Counts per dose come from :func:`~cartrial.services.escalation.escalation_counts` (the pure
    :func:`~cartrial.services.dose_counts.dose_counts` over the DLT follow-up): the DLT-evaluable
    subjects (window closed, or a DLT); for TITE designs every treated subject counts and those
    still in the window are passed as pending with their followed fraction. Other designs refuse
    to decide while a subject is pending.

    Raises
    ------
    ValidationFailed
        ``as_of`` while subjects are pending (non-TITE designs) or before any subject of the
        cohort was infused; ``next_dose_level`` unknown or above the recommendation;
        ``rationale`` missing for an override; the study is not in escalation, escalation has
        ended, or the previous decision is not signed yet.
    """
    with use_case(ctx, *DECIDERS) as uc:
        as_of = data.as_of or uc.today
        p = uc.protocol
        check_escalation_open(uc)
        current, _ = allowed_dose(uc)
        if current is None:
            raise ValidationFailed("as_of", "dosing was stopped by the previous decision")
        names = [level.name for level in p.dose_levels]
        design, tite = protocol_design(p)
        counts = escalation_counts(uc, as_of, time_to_event=tite)
        if not tite:
            refuse_pending(counts, as_of)
        if sum(counts.n) == 0:
            raise ValidationFailed("as_of", "no DLT-evaluable subject yet")
        rec = recommend(design, counts, current)
        action: str = rec.action
        next_index = rec.next_dose
        reason = name_doses(rec.reason, names)  # the design counts doses from 0
        if _overrides(data, rec.action, rec.next_dose, names):
            action, next_index = _override(data, rec.action, rec.next_dose, names)
        cohort = current_cohort(uc)
        source = data.source_signature
        if source is not None:
            uc.because(import_reason(source, uc.user.username))
        decision = DoseDecision(
            study_id=uc.study.id,
            cohort=cohort,
            dose_level=names[current],
            dose_index=current,
            n_treated=counts.n[current],
            n_dlt=counts.dlt[current],
            design=p.escalation.design.name,
            recommended_action=rec.action,
            recommended_next_dose_index=rec.next_dose,
            recommendation_reason=reason,
            action=action,
            next_dose_index=next_index,
            next_dose_level=names[next_index] if next_index is not None else None,
            rationale=data.rationale,
            decided_at=utcnow(),
            data_cutoff_date=as_of,
        )
        uc.session.add(decision)
        uc.session.flush()
        if source is not None:
            if data.password is None:
                raise ValidationFailed("password", "an imported decision is signed by the importer")
            sign(uc, data.password.get_secret_value(), source.meaning, decision, source=source)
        return DoseDecided(
            decision_id=decision.id,
            cohort=cohort,
            design=decision.design,
            dose_level=decision.dose_level,
            n_per_dose=counts.n,
            dlt_per_dose=counts.dlt,
            pending=len(counts.pending_subjects),
            recommended_action=rec.action,
            recommended_next_dose_level=names[rec.next_dose] if rec.next_dose is not None else None,
            recommendation_reason=reason,
            action=action,
            next_dose_level=decision.next_dose_level,
        )


def _overrides(data: DecideNextDose, action: str, next_index: int | None, names: list[str]) -> bool:
    """Whether ``data`` decides otherwise than the design's ``action`` and ``next_index``."""
    if data.action is None and data.next_dose_level is None:
        return False
    recommended = names[next_index] if next_index is not None else None
    return (data.action or action, data.next_dose_level) != (action, recommended)


def _override(
    data: DecideNextDose, action: str, next_index: int | None, names: list[str]
) -> tuple[str, int | None]:
    if not (data.rationale or "").strip():
        recommended = names[next_index] if next_index is not None else "none"
        raise ValidationFailed(
            "rationale",
            f"overriding the design needs a rationale (the design recommends {action}, "
            f"next dose {recommended})",
        )
    chosen_action = data.action or action
    if chosen_action == "stop":
        return "stop", None
    if data.next_dose_level is None:
        raise ValidationFailed("next_dose_level", "name the dose level of the decision")
    if data.next_dose_level not in names:
        raise ValidationFailed("next_dose_level", f"unknown dose level; protocol levels: {names}")
    chosen = names.index(data.next_dose_level)
    if next_index is None or chosen > next_index:
        allowed = names[next_index] if next_index is not None else "none (stop)"
        raise ValidationFailed(
            "next_dose_level",
            f"{data.next_dose_level} is above the design's recommendation ({allowed})",
        )
    return chosen_action, chosen


class SignRecord(ServiceInput):
    """An e-signature: the record, the meaning of the signature and the re-entered password."""

    record: Literal["dose_decision", "data_lock"]
    record_id: int = Field(gt=0)
    meaning: str = Field(min_length=1, max_length=64)
    password: SecretStr


_SIGNERS: dict[str, tuple[str, ...]] = {
    "dose_decision": DECIDERS,
    "data_lock": ("data_manager",),
}


def sign_record(ctx: ServiceContext, data: SignRecord) -> Signed:
    """Sign a dose decision or a data lock.

    Raises
    ------
    AuthenticationFailed
        Wrong password (recorded; repeated failures lock the account) or a locked account.
    ValidationFailed
        ``record_id``: the user already signed this version of the record with this meaning.
    """
    with use_case(ctx, *_SIGNERS[data.record]) as uc:
        record: DoseDecision | DataLock | None = (
            uc.session.get(DoseDecision, data.record_id)
            if data.record == "dose_decision"
            else uc.session.get(DataLock, data.record_id)
        )
        if record is None or record.study_id != uc.study.id or record.deleted_at is not None:
            raise NotFound(f"record_id: no {data.record} {data.record_id} in this study")
        [signature] = sign(uc, data.password.get_secret_value(), data.meaning, record)
        return signed_result(signature, uc.protocol.study.time_zone)


class LockData(ServiceInput):
    """Lock the data up to ``data_cutoff`` under ``name`` (e.g. ``"primary analysis"``)."""

    name: str = Field(min_length=1, max_length=64)
    data_cutoff: dt.date
    password: SecretStr


class DataLocked(ServiceResult):
    """The lock and its signature."""

    lock_id: int
    name: str
    data_cutoff: dt.date
    signature: Signed


def lock_data(ctx: ServiceContext, data: LockData) -> DataLocked:
    """Lock the data (data managers; signed). Every query must be closed first.

    Raises
    ------
    ValidationFailed
        ``data_cutoff`` in the future, or ``name`` while queries are still open or answered.
    """
    with use_case(ctx, "data_manager") as uc:
        if data.data_cutoff > uc.today:
            raise ValidationFailed("data_cutoff", "the cut-off cannot be in the future")
        unresolved = uc.session.scalar(
            select(func.count(DataQuery.id)).where(
                DataQuery.study_id == uc.study.id,
                DataQuery.status != "closed",
                live(DataQuery),
            )
        )
        if unresolved:
            raise ValidationFailed("name", f"{unresolved} data queries are not closed")
        lock = DataLock(
            study_id=uc.study.id,
            name=data.name,
            data_cutoff=data.data_cutoff,
            locked_at=utcnow(),
            locked_by=uc.user.username,
        )
        uc.session.add(lock)
        uc.session.flush()
        [signature] = sign(uc, data.password.get_secret_value(), "data_lock", lock)
        locked = DataLocked(
            lock_id=lock.id,
            name=lock.name,
            data_cutoff=lock.data_cutoff,
            signature=signed_result(signature, uc.protocol.study.time_zone),
        )
    checkpoint_after_write(ctx.session_factory)  # the trail's head, kept outside the database
    return locked


class DLTOverride(ServiceInput):
    """The investigator's decision on one AE where it differs from the rules, with the reason."""

    ae_id: int = Field(gt=0)
    is_dlt: bool
    reason: str = Field(min_length=1, max_length=2000)


class AdjudicateDLT(ServiceInput):
    """Adjudicate a subject's DLTs: the rules' result, any overrides, signed with the password."""

    subject_id: SubjectId
    overrides: tuple[DLTOverride, ...] = ()
    password: SecretStr
    source_signature: SourceSignature | None = None


class EventDecision(ServiceResult):
    """One AE's adjudicated DLT status and the rule (or override) that decided it."""

    ae_id: int
    term: str
    is_dlt: bool
    rule_id: str
    reason: str


class DLTAdjudicated(ServiceResult):
    """The subject's adjudication: DLT or not, the decisive rule, each AE, signatures made.

    ``signed`` shows each signature made (AEs, and the infusion unless its unchanged version was
    already signed by the same investigator).
    """

    subject_id: str
    is_dlt: bool
    events: tuple[EventDecision, ...]
    signatures: int
    signed: tuple[Signed, ...] = ()


def adjudicate_dlt(ctx: ServiceContext, data: AdjudicateDLT) -> DLTAdjudicated:
    """Adjudicate and sign the DLT status of every AE in the subject's DLT window.

    The protocol's DLT rules (``cartrial.rules.dlt``) decide each AE; the investigator may
    override an AE with a reason (kept by later re-derivations). Every AE in the window is then
    signed with meaning ``dlt_adjudication``, and so is the infusion record (the subject-level
    attestation, also when no AE falls in the window).

    Raises
    ------
    ValidationFailed
        ``subject_id`` not infused, or an AE still pending (its outcome needs more follow-up)
        and not overridden; ``overrides`` naming an AE of another subject.
    PermissionDenied
        Not an investigator at the subject's site, or a wrong password.
    """
    with use_case(
        ctx, "investigator", site_scoped=True, reason="DLT adjudication", subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, "investigator")
        result = derive_subject_dlt(uc, subject)
        if result is None:
            raise ValidationFailed("subject_id", "DLTs are adjudicated after the infusion")
        window = uc.protocol.dlt.window_days
        in_window = {int(e.ae_id): e for e in result.per_event if 0 <= e.onset_day <= window}
        aes = {
            ae.id: ae
            for ae in uc.session.scalars(
                select(AdverseEvent).where(
                    AdverseEvent.subject_id == subject.id, live(AdverseEvent)
                )
            )
            if ae.id in in_window
        }
        reason = f"DLT adjudication of {subject.subject_code} by {uc.user.username}"
        source = data.source_signature
        if source is not None:
            reason = f"DLT adjudication of {subject.subject_code}; " + import_reason(
                source, uc.user.username
            )
        uc.because(reason)
        for i, override in enumerate(data.overrides):
            ae = aes.get(override.ae_id)
            if ae is None:
                raise ValidationFailed(
                    f"overrides.{i}.ae_id",
                    f"AE {override.ae_id} is not in {data.subject_id}'s DLT window",
                )
            rules = in_window[ae.id]
            ae.is_dlt = override.is_dlt
            ae.dlt_rule_id = OVERRIDE_RULE
            ae.dlt_reason = f"{override.reason} (rules: {rules.status}, {rules.rule_id})"
        now = utcnow()
        decisions = []
        for ae in aes.values():
            if ae.is_dlt is None:
                raise ValidationFailed(
                    "subject_id",
                    f"AE {ae.id} ({ae.term}) is pending: {in_window[ae.id].reason}; wait for "
                    "more follow-up or override it",
                )
            ae.dlt_adjudicated_at = now
            ae.dlt_adjudicated_by = uc.user.username
            decisions.append(
                EventDecision(
                    ae_id=ae.id,
                    term=ae.term,
                    is_dlt=ae.is_dlt,
                    rule_id=ae.dlt_rule_id or "",
                    reason=ae.dlt_reason or "",
                )
            )
        infusion = infusion_of(uc, subject)
        records: list[AdverseEvent | Infusion] = list(aes.values())
        meaning = IMPORTED_COPY if source is not None else "dlt_adjudication"
        if infusion is not None and already_signed(uc, meaning, infusion) is None:
            # The subject-level attestation; an unchanged infusion keeps its earlier signature.
            records.append(infusion)
        signatures = sign(
            uc, data.password.get_secret_value(), "dlt_adjudication", *records, source=source
        )
        return DLTAdjudicated(
            subject_id=data.subject_id,
            is_dlt=any(d.is_dlt for d in decisions),
            events=tuple(decisions),
            signatures=len(signatures),
            signed=tuple(signed_result(sig, uc.protocol.study.time_zone) for sig in signatures),
        )
