"""The end of dose escalation: the MTD chosen by the protocol's design, the RP2D, and the state.

* :func:`end_escalation` closes the escalation once every DLT window has closed: the protocol's
  design selects the MTD (``select_mtd``) on the DLT-evaluable counts, and the decision is a
  signed governance record;
* :func:`decide_rp2d` records the RP2D (the MTD or a lower dose, never above it, as
  :class:`cartrial.designs.rp2d.RP2DRecord` requires), signed;
* :func:`escalation_state`, :func:`rp2d_record` read what a dashboard draws: per dose level the
  subjects treated, evaluable and pending (with the end of their DLT window), the DLTs, the
  design's recommendation and its reason, the dose transition pathways of the next cohort, the
  decisions so far and the MTD/RP2D once chosen.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pydantic import Field, ValidationError
from sqlalchemy import select

from cartrial.designs import Decision, Design, make_design
from cartrial.designs.pathways import dose_transition_pathways
from cartrial.designs.rp2d import RP2DRecord
from cartrial.errors import DesignError, NotFound, ValidationFailed
from cartrial.protocol import Protocol
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.dose_counts import DoseCounts, dose_counts
from cartrial.services.enrolment import allowed_dose
from cartrial.services.followup_window import dlt_followup
from cartrial.services.governance import (
    GovernanceDecided,
    SignedDecision,
    latest_decision,
    record_decision,
    refuse_if_decided,
)
from cartrial.store import DoseDecision, Signature, utcnow
from cartrial.store.vocab import ROLES

__all__ = [
    "DECIDERS",
    "DecideRP2D",
    "DoseDecisionRow",
    "DoseLevelState",
    "EndEscalation",
    "EscalationEnded",
    "EscalationState",
    "PathwayRow",
    "PendingSubject",
    "RP2DDecided",
    "decide_rp2d",
    "end_escalation",
    "escalation_counts",
    "escalation_state",
    "protocol_design",
    "recommend",
    "refuse_pending",
    "rp2d_record",
    "unsigned_dose_decision",
]

#: Who decides doses, the end of escalation and the RP2D.
DECIDERS = ("safety_committee", "investigator")


def protocol_design(protocol: Protocol) -> tuple[Design, bool]:
    """The protocol's escalation design, and whether it weighs pending subjects (TITE).

    Raises
    ------
    ValidationFailed
        The design's parameters are refused by the design (field ``as_of``).
    """
    spec = protocol.escalation.design
    try:
        design = make_design(spec.name, n_doses=len(protocol.dose_levels), **dict(spec.params))
    except DesignError as exc:
        raise ValidationFailed("as_of", f"the design cannot decide: {exc}") from None
    return design, spec.name.startswith("tite-")


def escalation_counts(uc: UseCase, as_of: dt.date, *, time_to_event: bool) -> DoseCounts:
    """The escalation subjects' counts per dose as of ``as_of`` (see :func:`dose_counts`)."""
    table = dlt_followup(uc.session, uc.study.id, uc.protocol, as_of)
    table = table[table["phase"] == "escalation"]
    return dose_counts(table, len(uc.protocol.dose_levels), time_to_event=time_to_event)


def recommend(design: Design, counts: DoseCounts, current: int) -> Decision:
    """The design's decision on ``counts`` with ``current`` the dose in use.

    TITE designs are also given the pending subjects' followed fractions.

    Raises
    ------
    ValidationFailed
        The design refuses the data (field ``as_of``).
    """
    try:
        if counts.time_to_event:
            return design.decide(  # type: ignore[call-arg]
                n=list(counts.n),
                dlt=list(counts.dlt),
                current=current,
                pending_followup=counts.pending_followup,
            )
        return design.decide(n=list(counts.n), dlt=list(counts.dlt), current=current)
    except DesignError as exc:
        raise ValidationFailed("as_of", f"the design cannot decide: {exc}") from None


def unsigned_dose_decision(uc: UseCase) -> int | None:
    """The id of the study's latest dose decision when it is not signed yet, else ``None``."""
    latest = uc.session.scalar(
        select(DoseDecision.id)
        .where(DoseDecision.study_id == uc.study.id, DoseDecision.deleted_at.is_(None))
        .order_by(DoseDecision.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    signed = uc.session.scalar(
        select(Signature.id).where(
            Signature.record_table == DoseDecision.__tablename__,
            Signature.record_id == latest,
            Signature.deleted_at.is_(None),
        )
    )
    return None if signed is not None else latest


def refuse_pending(counts: DoseCounts, as_of: dt.date) -> None:
    """Raise :class:`ValidationFailed` on ``as_of`` naming every subject still in the window."""
    if counts.pending_subjects:
        waiting = ", ".join(
            f"{p.subject_id} (window ends {p.window_end})" for p in counts.pending_subjects
        )
        raise ValidationFailed("as_of", f"DLT windows still open on {as_of}: {waiting}")


def _names(protocol: Protocol) -> list[str]:
    return [level.name for level in protocol.dose_levels]


def _counts_text(counts: DoseCounts, names: list[str]) -> str:
    return ", ".join(
        f"{name} {d}/{n}" for name, n, d in zip(names, counts.n, counts.dlt, strict=True) if n
    )


# ---------------------------------------------------------------------------- end of escalation


class EndEscalation(SignedDecision):
    """End the dose escalation; the protocol's design selects the MTD on the data of ``as_of``."""


class EscalationEnded(GovernanceDecided):
    """The signed end of escalation; ``dose_level``/``dose_index`` are the MTD (``None``: none).

    ``method`` names the design's MTD selection (e.g. ``"3+3 select_mtd"``) and ``basis`` the
    DLT-evaluable counts per dose it was given and its result.
    """


def end_escalation(ctx: ServiceContext, data: EndEscalation) -> EscalationEnded:
    """End the escalation with the MTD that the protocol's design selects (``select_mtd``).

    The design is given the DLT-evaluable subjects and their DLTs per dose (the counts of
    :func:`escalation_counts`, without pending subjects: the MTD rests on complete follow-up).

    Raises
    ------
    ValidationFailed
        The study is not in escalation, or escalation has already ended; the latest dose decision
        is not signed; ``as_of`` while a DLT window is still open, before any subject is
        DLT-evaluable, or inside locked data.
    PermissionDenied
        Not a safety committee member or investigator, or a wrong password.
    """
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, *DECIDERS) as uc:
        if uc.study.phase != "escalation":
            raise ValidationFailed("as_of", "the study is not in its escalation phase")
        refuse_if_decided(uc, "escalation_end", "as_of", "the escalation has already ended")
        unsigned = unsigned_dose_decision(uc)
        if unsigned is not None:
            raise ValidationFailed("as_of", f"dose decision {unsigned} is not signed yet")
        design, _ = protocol_design(uc.protocol)
        counts = escalation_counts(uc, as_of, time_to_event=False)
        refuse_pending(counts, as_of)
        if counts.n_evaluable == 0:
            raise ValidationFailed("as_of", "no DLT-evaluable subject yet")
        names = _names(uc.protocol)
        mtd = design.select_mtd(n=list(counts.n), dlt=list(counts.dlt))
        name = uc.protocol.escalation.design.name
        result = names[mtd] if mtd is not None else "no MTD"
        decided = record_decision(
            uc,
            "escalation_end",
            data,
            as_of=as_of,
            dose_index=mtd,
            method=f"{name} select_mtd",
            basis=(
                f"{name} select_mtd on DLT-evaluable subjects (DLTs/evaluable: "
                f"{_counts_text(counts, names)}): {result}"
            ),
            n_evaluable=counts.n_evaluable,
            n_dlt=counts.n_dlt,
        )
        return EscalationEnded(**decided.model_dump())


# ---------------------------------------------------------------------------- RP2D


class DecideRP2D(SignedDecision):
    """Decide the recommended phase 2 dose ``dose_level`` (a protocol name; at most the MTD)."""

    dose_level: str = Field(min_length=1)


class RP2DDecided(GovernanceDecided):
    """The signed RP2D (``dose_level``/``dose_index``) with the MTD it was chosen against."""

    mtd_level: str
    mtd_index: int

    @property
    def below_mtd(self) -> bool:
        """True when the RP2D is a dose lower than the MTD."""
        return self.dose_index is not None and self.dose_index < self.mtd_index


def _rp2d_decided(decided: GovernanceDecided, ended: GovernanceDecided) -> RP2DDecided:
    if ended.dose_level is None or ended.dose_index is None:
        raise NotFound("the RP2D record has no MTD")  # pragma: no cover - refused when decided
    return RP2DDecided(
        **decided.model_dump(), mtd_level=ended.dose_level, mtd_index=ended.dose_index
    )


def decide_rp2d(ctx: ServiceContext, data: DecideRP2D) -> RP2DDecided:
    """Record the RP2D: the MTD or a lower dose, with the rationale, signed.

    The record is checked as a :class:`cartrial.designs.rp2d.RP2DRecord` (never above the MTD,
    a non-blank reason).

    Raises
    ------
    ValidationFailed
        Escalation has not ended or ended without an MTD; the RP2D was already decided;
        ``dose_level`` unknown, above the MTD or without a DLT-evaluable subject; ``as_of``
        inside locked data.
    PermissionDenied
        Not a safety committee member or investigator, or a wrong password.
    """
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, *DECIDERS) as uc:
        ended = latest_decision(uc, "escalation_end")
        if ended is None:
            raise ValidationFailed("dose_level", "the escalation has not ended (no MTD yet)")
        if ended.dose_index is None or ended.dose_level is None:
            raise ValidationFailed("dose_level", "the escalation ended without an MTD")
        refuse_if_decided(uc, "rp2d", "dose_level", "the RP2D has already been decided")
        names = _names(uc.protocol)
        if data.dose_level not in names:
            raise ValidationFailed("dose_level", f"unknown dose level; protocol levels: {names}")
        index = names.index(data.dose_level)
        method = "safety committee decision at or below the MTD"
        try:
            RP2DRecord(
                mtd=ended.dose_index,
                rp2d=index,
                dose_level=data.dose_level,
                method=ended.method,
                reasons=(data.rationale,),
                committee_decision="approved",
                decided_on=as_of,
                committee_members=(uc.user.full_name or uc.user.username,),
            )
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValidationFailed("dose_level", message) from None
        counts = escalation_counts(uc, as_of, time_to_event=False)
        if counts.evaluable[index] == 0:
            raise ValidationFailed("dose_level", f"no DLT-evaluable subject at {data.dose_level}")
        decided = record_decision(
            uc,
            "rp2d",
            data,
            as_of=as_of,
            dose_index=index,
            method=method,
            basis=(
                f"MTD {ended.dose_level} ({ended.method}); RP2D {data.dose_level}: "
                f"{counts.dlt[index]}/{counts.evaluable[index]} DLTs"
            ),
            n_evaluable=counts.evaluable[index],
            n_dlt=counts.dlt[index],
        )
        return _rp2d_decided(decided, ended)


def rp2d_record(ctx: ServiceContext) -> RP2DDecided | None:
    """The signed RP2D with its MTD, or ``None`` while none has been decided (any study role)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        decided = latest_decision(uc, "rp2d")
        ended = latest_decision(uc, "escalation_end")
        if decided is None or ended is None:
            return None
        return _rp2d_decided(decided, ended)


# ---------------------------------------------------------------------------- escalation state


class PendingSubject(ServiceResult):
    """A subject inside the DLT window without a DLT: its window end and the days left."""

    subject_id: str
    dose_level: str
    dose_index: int
    window_end: dt.date
    days_left: int


class DoseLevelState(ServiceResult):
    """One dose level in the escalation: subjects treated, evaluable, pending; DLTs."""

    dose_level: str
    dose_index: int
    treated: int
    evaluable: int
    dlts: int
    pending: tuple[PendingSubject, ...]


class PathwayRow(ServiceResult):
    """One outcome of a future cohort (a node of the dose transition pathways).

    ``path`` lists the DLT counts of the cohorts so far (e.g. ``"0/3 1/3"``), ``parent`` the path
    before this cohort; the cohort is treated at ``dose_level`` and the design then answers
    ``action`` with ``next_dose_level`` (``None`` on stop) for ``reason``.
    """

    path: str
    parent: str
    cohort: int
    dose_level: str
    dose_index: int
    n_dlt: int
    n_at_dose: int
    dlt_at_dose: int
    action: str
    next_dose_level: str | None
    next_dose_index: int | None
    reason: str


class DoseDecisionRow(ServiceResult):
    """A recorded dose decision: the cohort's data, the design's answer and the decision."""

    decision_id: int
    cohort: int
    dose_level: str
    dose_index: int
    n_treated: int
    n_dlt: int
    recommended_action: str
    recommendation_reason: str
    action: str
    next_dose_level: str | None
    next_dose_index: int | None
    decided_date: dt.date
    signed_by: str | None


class EscalationState(ServiceResult):
    """Where the escalation stands as of ``as_of``.

    Attributes
    ----------
    design
        The protocol's escalation design (e.g. ``"3+3"``).
    current_dose_level, current_dose_index
        The dose the latest signed decision allows (``None``: dosing stopped or escalation over).
    doses
        Every protocol dose level, lowest first.
    recommended_action, recommended_next_dose_level, recommended_next_dose_index
        The design's answer on the data now (``None`` when it cannot answer yet).
    recommendation_reason
        The rule that fired, or why there is no recommendation yet.
    can_decide
        Whether :func:`~cartrial.services.decide_next_dose` would accept ``as_of`` (no open DLT
        window for a design that waits for them, an evaluable subject, previous decision signed).
    pathways
        Dose transition pathways of the next cohort(s) from the current data.
    decisions
        The dose decisions so far, oldest first.
    escalation_end, rp2d
        The signed end of escalation (with the MTD) and RP2D, once recorded.
    """

    as_of: dt.date
    design: str
    current_dose_level: str | None
    current_dose_index: int | None
    doses: tuple[DoseLevelState, ...]
    recommended_action: str | None
    recommended_next_dose_level: str | None
    recommended_next_dose_index: int | None
    recommendation_reason: str
    can_decide: bool
    pathways: tuple[PathwayRow, ...]
    decisions: tuple[DoseDecisionRow, ...]
    escalation_end: EscalationEnded | None
    rp2d: RP2DDecided | None

    @property
    def mtd_level(self) -> str | None:
        """The MTD's protocol name once escalation has ended with one."""
        return self.escalation_end.dose_level if self.escalation_end is not None else None


def _decision_rows(uc: UseCase, names: list[str]) -> tuple[DoseDecisionRow, ...]:
    signer = (
        select(Signature.record_id, Signature.signer)
        .where(Signature.record_table == DoseDecision.__tablename__, Signature.deleted_at.is_(None))
        .subquery()
    )
    rows = uc.session.execute(
        select(DoseDecision, signer.c.signer)
        .outerjoin(signer, signer.c.record_id == DoseDecision.id)
        .where(DoseDecision.study_id == uc.study.id, DoseDecision.deleted_at.is_(None))
        .order_by(DoseDecision.id)
    ).tuples()
    found: dict[int, DoseDecisionRow] = {}
    for d, signed_by in rows:
        found.setdefault(
            d.id,
            DoseDecisionRow(
                decision_id=d.id,
                cohort=d.cohort,
                dose_level=d.dose_level,
                dose_index=d.dose_index,
                n_treated=d.n_treated,
                n_dlt=d.n_dlt,
                recommended_action=d.recommended_action,
                recommendation_reason=d.recommendation_reason,
                action=d.action,
                next_dose_level=d.next_dose_level,
                next_dose_index=d.next_dose_index,
                decided_date=d.data_cutoff_date,
                signed_by=signed_by,
            ),
        )
    return tuple(found.values())


def _pathways(
    design: Design, counts: DoseCounts, current: int, cohorts: int, names: list[str]
) -> tuple[PathwayRow, ...]:
    try:
        table = dose_transition_pathways(
            design, n=list(counts.n), dlt=list(counts.dlt), current=current, cohorts=cohorts
        )
    except DesignError:
        return ()
    rows = []
    for r in table.to_dict("records"):
        nxt = None if pd.isna(r["next_dose"]) else int(r["next_dose"])
        rows.append(
            PathwayRow(
                path=str(r["path"]),
                parent=str(r["parent"]),
                cohort=int(r["cohort"]),
                dose_level=names[int(r["dose"])],
                dose_index=int(r["dose"]),
                n_dlt=int(r["n_dlt"]),
                n_at_dose=int(r["n_at_dose"]),
                dlt_at_dose=int(r["dlt_at_dose"]),
                action=str(r["action"]),
                next_dose_level=names[nxt] if nxt is not None else None,
                next_dose_index=nxt,
                reason=str(r["reason"]),
            )
        )
    return tuple(rows)


def escalation_state(
    ctx: ServiceContext, *, as_of: dt.date | None = None, cohorts: int = 1
) -> EscalationState:
    """Where the escalation stands: per dose, the design's answer, pathways and decisions.

    Reads only (any study role). The counts are those :func:`decide_next_dose` uses
    (:func:`escalation_counts`); ``cohorts`` (1-3) future cohorts are enumerated in the pathways.
    """
    when = as_of or utcnow().date()
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        p = uc.protocol
        names = _names(p)
        design, tite = protocol_design(p)
        counts = escalation_counts(uc, when, time_to_event=tite)
        current, _ = allowed_dose(uc) if uc.study.phase == "escalation" else (None, None)
        doses = tuple(
            DoseLevelState(
                dose_level=name,
                dose_index=i,
                treated=counts.treated[i],
                evaluable=counts.evaluable[i],
                dlts=counts.dlt[i],
                pending=tuple(
                    PendingSubject(
                        subject_id=w.subject_id,
                        dose_level=name,
                        dose_index=i,
                        window_end=w.window_end,
                        days_left=max((w.window_end - when).days, 0),
                    )
                    for w in counts.pending_subjects
                    if w.dose_index == i
                ),
            )
            for i, name in enumerate(names)
        )
        ended = latest_decision(uc, "escalation_end")
        rp2d = latest_decision(uc, "rp2d")
        decision: Decision | None = None
        reason = ""
        if current is None:
            reason = "the escalation has ended" if ended is not None else "dosing has stopped"
        waiting = bool(counts.pending_subjects) and not tite
        unsigned = unsigned_dose_decision(uc)
        if current is not None:
            if sum(counts.n) == 0:
                reason = "no DLT-evaluable subject yet"
            else:
                decision = recommend(design, counts, current)
                reason = decision.reason
        pathways = () if current is None else _pathways(design, counts, current, cohorts, names)
        next_dose = decision.next_dose if decision is not None else None
        return EscalationState(
            as_of=when,
            design=p.escalation.design.name,
            current_dose_level=names[current] if current is not None else None,
            current_dose_index=current,
            doses=doses,
            recommended_action=decision.action if decision is not None else None,
            recommended_next_dose_level=names[next_dose] if next_dose is not None else None,
            recommended_next_dose_index=next_dose,
            recommendation_reason=reason,
            can_decide=decision is not None and not waiting and unsigned is None,
            pathways=pathways,
            decisions=_decision_rows(uc, names),
            escalation_end=EscalationEnded(**ended.model_dump()) if ended else None,
            rp2d=_rp2d_decided(rp2d, ended) if rp2d is not None and ended is not None else None,
        )
