"""Governance: dose decisions, electronic signatures, opening the expansion, data lock.

* :func:`decide_next_dose` runs the protocol's design (``make_design``) on the DLT counts of the
  evaluable subjects (and, for TITE designs, the pending ones) and records the recommendation and
  the committee's decision (which may be more cautious than the design, never bolder);
* :func:`sign_record` adds an e-signature (password re-entered); a dose decision allows dosing
  only once signed;
* :func:`open_expansion` opens the expansion at the RP2D once every subject dosed there has
  completed the DLT window; it is signed in the same transaction;
* :func:`lock_data` freezes the data up to a cut-off (signed); later writes dated on or before
  the cut-off are refused (:mod:`cartrial.services.context`); a checkpoint of the audit chain is
  written outside the database; :func:`~cartrial.services.datalock.release_data_lock` lifts it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
from pydantic import Field, SecretStr
from sqlalchemy import func, select

from cartrial.designs import is_time_to_event, is_time_to_event_name, make_design
from cartrial.designs.labels import name_doses
from cartrial.errors import DesignError, NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.database import checkpoint_after_write
from cartrial.services.derive import OVERRIDE_RULE, derive_subject_dlt
from cartrial.services.enrolment import allowed_dose, current_cohort
from cartrial.services.followup_window import dlt_followup
from cartrial.services.signing import Signed, already_signed, sign, signed_result
from cartrial.services.treatment import infusion_of
from cartrial.store import (
    AdverseEvent,
    DataLock,
    DataQuery,
    DoseDecision,
    Infusion,
    Signature,
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
    "ExpansionOpened",
    "LockData",
    "OpenExpansion",
    "SignRecord",
    "Signed",
    "SignedDecision",
    "adjudicate_dlt",
    "decide_next_dose",
    "lock_data",
    "open_expansion",
    "sign_record",
]

DECIDERS = ("safety_committee", "investigator")


class DecideNextDose(ServiceInput):
    """Ask the design for the next cohort's dose; optionally decide more cautiously.

    ``as_of`` is the date whose DLT windows count as closed (default: today, UTC).
    ``action``/``next_dose_level`` override the recommendation (never to a higher dose) and then
    need ``rationale``.
    """

    as_of: dt.date | None = None
    action: Literal["escalate", "stay", "de-escalate", "stop"] | None = None
    next_dose_level: str | None = None
    rationale: str | None = Field(default=None, max_length=2000)


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


def _signed(uc: UseCase, decision_id: int) -> bool:
    return (
        uc.session.scalar(
            select(Signature.id).where(
                Signature.record_table == "dose_decisions",
                Signature.record_id == decision_id,
                live(Signature),
            )
        )
        is not None
    )


def decide_next_dose(ctx: ServiceContext, data: DecideNextDose) -> DoseDecided:
    """Record the dose decision for the next escalation cohort.

    Counts per dose come from the DLT-evaluable subjects (window closed, or a DLT); for TITE
    designs every treated subject counts and those still in the window are passed as pending
    with their followed fraction. Other designs refuse to decide while a subject is pending.

    Raises
    ------
    ValidationFailed
        ``as_of`` while subjects are pending (non-TITE designs) or before any subject of the
        cohort was infused; ``next_dose_level`` unknown or above the recommendation;
        ``rationale`` missing for an override; the study is not in escalation, or the previous
        decision is not signed yet.
    """
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, *DECIDERS) as uc:
        p = uc.protocol
        if uc.study.phase != "escalation":
            raise ValidationFailed("as_of", "dose decisions belong to the escalation phase")
        latest = uc.session.scalar(
            select(DoseDecision.id)
            .where(DoseDecision.study_id == uc.study.id, live(DoseDecision))
            .order_by(DoseDecision.id.desc())
            .limit(1)
        )
        if latest is not None and not _signed(uc, latest):
            raise ValidationFailed("as_of", f"dose decision {latest} is not signed yet")
        current, _ = allowed_dose(uc)
        if current is None:
            raise ValidationFailed("as_of", "dosing was stopped by the previous decision")
        names = [level.name for level in p.dose_levels]
        table = dlt_followup(uc.session, uc.study.id, p, as_of)
        table = table[table["phase"] == "escalation"]
        tite = is_time_to_event_name(p.escalation.design.name)
        pending = table[table["pending"]]
        if not tite and not pending.empty:
            waiting = ", ".join(
                f"{r.subject_id} (window ends {r.window_end})" for r in pending.itertuples()
            )
            raise ValidationFailed("as_of", f"DLT windows still open on {as_of}: {waiting}")
        counted = table if tite else table[table["dlt_evaluable"]]
        if counted.empty:
            raise ValidationFailed("as_of", "no DLT-evaluable subject yet")
        n = np.bincount(counted["dose_index"], minlength=len(names)).astype(int)
        dlt = np.bincount(
            counted["dose_index"], weights=counted["has_dlt"].astype(int), minlength=len(names)
        ).astype(int)
        params = dict(p.escalation.design.params)
        try:
            design = make_design(p.escalation.design.name, n_doses=len(names), **params)
            if is_time_to_event(design):
                followups = [
                    (int(r["dose_index"]), float(r["followed_fraction"]))
                    for r in pending.to_dict("records")
                ]
                rec = design.decide(n=n, dlt=dlt, current=current, pending_followup=followups)
            else:
                rec = design.decide(n=n, dlt=dlt, current=current)
        except DesignError as exc:
            raise ValidationFailed("as_of", f"the design cannot decide: {exc}") from None
        action: str = rec.action
        next_index = rec.next_dose
        reason = name_doses(rec.reason, names)  # the design counts doses from 0
        if data.action is not None or data.next_dose_level is not None:
            action, next_index = _override(data, rec.action, rec.next_dose, names)
        cohort = current_cohort(uc)
        decision = DoseDecision(
            study_id=uc.study.id,
            cohort=cohort,
            dose_level=names[current],
            dose_index=current,
            n_treated=int(n[current]),
            n_dlt=int(dlt[current]),
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
        return DoseDecided(
            decision_id=decision.id,
            cohort=cohort,
            design=decision.design,
            dose_level=decision.dose_level,
            n_per_dose=tuple(int(x) for x in n),
            dlt_per_dose=tuple(int(x) for x in dlt),
            pending=len(pending),
            recommended_action=rec.action,
            recommended_next_dose_level=names[rec.next_dose] if rec.next_dose is not None else None,
            recommendation_reason=reason,
            action=action,
            next_dose_level=decision.next_dose_level,
        )


def _override(
    data: DecideNextDose, action: str, next_index: int | None, names: list[str]
) -> tuple[str, int | None]:
    if not (data.rationale or "").strip():
        raise ValidationFailed("rationale", "overriding the design needs a rationale")
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


class SignedDecision(ServiceInput):
    """A committee or investigator decision: its rationale, signed with the re-entered password."""

    rationale: str = Field(min_length=1, max_length=2000)
    password: SecretStr
    as_of: dt.date | None = None


class OpenExpansion(SignedDecision):
    """Open the expansion at the RP2D ``dose_level``."""

    dose_level: str = Field(min_length=1)


class ExpansionOpened(ServiceResult):
    """The decision opening the expansion and its signature."""

    decision_id: int
    rp2d: str
    n_evaluable: int
    n_dlt: int
    signature: Signed


def open_expansion(ctx: ServiceContext, data: OpenExpansion) -> ExpansionOpened:
    """Open the expansion at the RP2D (the protocol names who may: ``expansion.opened_by``).

    Raises
    ------
    ValidationFailed
        ``dose_level`` unknown, above the dose the current decision allows, or with no
        DLT-evaluable subject; ``as_of`` while a subject dosed there is still in the DLT window
        (when the protocol requires the window closed); the study already in expansion.
    PermissionDenied
        Not the protocol's ``opened_by`` role.
    AuthenticationFailed
        A wrong password (recorded) or a locked account.
    """
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, "investigator", "safety_committee") as uc:
        p = uc.protocol
        uc.require(p.expansion.opened_by)
        if uc.study.phase != "escalation":
            raise ValidationFailed("dose_level", "the expansion is already open")
        names = [level.name for level in p.dose_levels]
        if data.dose_level not in names:
            raise ValidationFailed("dose_level", f"unknown dose level; protocol levels: {names}")
        rp2d = names.index(data.dose_level)
        current, _ = allowed_dose(uc)
        if current is None or rp2d > current:
            raise ValidationFailed(
                "dose_level", f"{data.dose_level} is above the dose the current decision allows"
            )
        table = dlt_followup(uc.session, uc.study.id, p, as_of)
        at_dose = table[table["dose_index"] == rp2d]
        if p.expansion.requires_dlt_window_closed:
            open_windows = at_dose[at_dose["pending"]]
            if not open_windows.empty:
                waiting = ", ".join(
                    f"{r.subject_id} (until {r.window_end})" for r in open_windows.itertuples()
                )
                raise ValidationFailed(
                    "as_of", f"the DLT window of {data.dose_level} is still open: {waiting}"
                )
        evaluable = at_dose[at_dose["dlt_evaluable"]]
        if evaluable.empty:
            raise ValidationFailed("dose_level", f"no DLT-evaluable subject at {data.dose_level}")
        n_dlt = int(evaluable["has_dlt"].sum())
        decision = DoseDecision(
            study_id=uc.study.id,
            cohort=current_cohort(uc),
            dose_level=data.dose_level,
            dose_index=rp2d,
            n_treated=len(evaluable),
            n_dlt=n_dlt,
            design=p.expansion.opened_by,
            recommended_action="expand",
            recommended_next_dose_index=rp2d,
            recommendation_reason=f"RP2D {data.dose_level}: {n_dlt}/{len(evaluable)} DLTs",
            action="expand",
            next_dose_index=rp2d,
            next_dose_level=data.dose_level,
            rationale=data.rationale,
            decided_at=utcnow(),
            data_cutoff_date=as_of,
        )
        uc.session.add(decision)
        uc.session.flush()
        [signature] = sign(uc, data.password.get_secret_value(), "expansion_opened", decision)
        uc.because(f"expansion opened at {data.dose_level}")
        uc.study.phase = "expansion"
        return ExpansionOpened(
            decision_id=decision.id,
            rp2d=data.dose_level,
            n_evaluable=len(evaluable),
            n_dlt=n_dlt,
            signature=signed_result(signature, p.study.time_zone),
        )


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
        if data.data_cutoff > utcnow().date():
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
        uc.because(f"DLT adjudication of {subject.subject_code} by {uc.user.username}")
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
        if infusion is not None and already_signed(uc, "dlt_adjudication", infusion) is None:
            # The subject-level attestation; an unchanged infusion keeps its earlier signature.
            records.append(infusion)
        signatures = sign(uc, data.password.get_secret_value(), "dlt_adjudication", *records)
        return DLTAdjudicated(
            subject_id=data.subject_id,
            is_dlt=any(d.is_dlt for d in decisions),
            events=tuple(decisions),
            signatures=len(signatures),
            signed=tuple(signed_result(sig, uc.protocol.study.time_zone) for sig in signatures),
        )
