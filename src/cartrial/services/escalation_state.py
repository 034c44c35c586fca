"""What a dose-escalation dashboard draws, read in one use case (:func:`escalation_state`).

Per dose level the subjects treated, DLT-evaluable and pending (with the end of their DLT window
and the days left), the DLTs; the design's recommendation on the data now and its reason; the dose
transition pathways of the next cohort(s); the dose decisions so far; the end of escalation (the
MTD) and the RP2D once signed. Dose levels are carried by protocol name plus 0-based index.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from cartrial.designs import Decision, Design
from cartrial.designs.labels import name_doses
from cartrial.designs.pathways import dose_transition_pathways
from cartrial.errors import DesignError
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.dose_counts import DoseCounts
from cartrial.services.enrolment import allowed_dose
from cartrial.services.escalation import (
    EscalationEnded,
    RP2DDecided,
    escalation_counts,
    protocol_design,
    recommend,
    rp2d_with_mtd,
    unsigned_dose_decision,
)
from cartrial.services.governance import latest_decision
from cartrial.services.read_cache import read_cache
from cartrial.store import DoseDecision, Signature, live
from cartrial.vocab import ROLES

__all__ = [
    "DoseDecisionRow",
    "DoseLevelState",
    "EscalationState",
    "PathwayRow",
    "PendingSubject",
    "TreatedSubject",
    "escalation_state",
]


class PendingSubject(ServiceResult):
    """A subject inside the DLT window without a DLT: its window end and the days left."""

    subject_id: str
    dose_level: str
    dose_index: int
    window_end: dt.date
    days_left: int


class TreatedSubject(ServiceResult):
    """A subject treated in the escalation: the DLT window clock and where the subject stands.

    ``window_end`` = infusion date + the protocol's ``dlt.window_days``; ``days_left`` until it
    as of the state's date (0 once closed).
    """

    subject_id: str
    infusion_date: dt.date
    window_end: dt.date
    days_left: int
    dlt_evaluable: bool
    pending: bool
    has_dlt: bool


class DoseLevelState(ServiceResult):
    """One dose level in the escalation: subjects treated, evaluable, pending; DLTs.

    ``subjects`` lists every treated subject with its window (the counts are over them).
    """

    dose_level: str
    dose_index: int
    treated: int
    evaluable: int
    dlts: int
    pending: tuple[PendingSubject, ...]
    subjects: tuple[TreatedSubject, ...] = ()


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
        .where(Signature.record_table == DoseDecision.__tablename__, live(Signature))
        .subquery()
    )
    rows = uc.session.execute(
        select(DoseDecision, signer.c.signer)
        .outerjoin(signer, signer.c.record_id == DoseDecision.id)
        .where(DoseDecision.study_id == uc.study.id, live(DoseDecision))
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
                reason=name_doses(str(r["reason"]), names),
            )
        )
    return tuple(rows)


def escalation_state(
    ctx: ServiceContext, *, as_of: dt.date | None = None, cohorts: int = 1
) -> EscalationState:
    """Where the escalation stands: per dose, the design's answer, pathways and decisions.

    Reads only (any study role). The counts are those :func:`decide_next_dose` uses
    (:func:`escalation_counts`); ``cohorts`` (1-3) future cohorts are enumerated in the pathways.
    The state is kept in the process's read cache until the audit trail shows a write to a table
    it read (:mod:`cartrial.services.read_cache`).
    """
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        when = as_of or uc.today
        return read_cache(ctx.session_factory).read(
            uc.session,
            ("escalation_state", uc.study.id, when, cohorts),
            lambda: _escalation_state(uc, when, cohorts),
            depends_on=("studies",),  # the protocol and the phase, read by use_case
        )


def _escalation_state(uc: UseCase, when: dt.date, cohorts: int) -> EscalationState:
    """:func:`escalation_state` once the use case has let the user read the study."""
    p = uc.protocol
    names = [level.name for level in p.dose_levels]
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
            subjects=tuple(
                TreatedSubject(
                    subject_id=w.subject_id,
                    infusion_date=w.infusion_date,
                    window_end=w.window_end,
                    days_left=max((w.window_end - when).days, 0),
                    dlt_evaluable=w.dlt_evaluable,
                    pending=w.pending,
                    has_dlt=w.has_dlt,
                )
                for w in counts.subjects
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
            reason = name_doses(decision.reason, names)  # the design counts doses from 0
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
        rp2d=rp2d_with_mtd(rp2d, ended) if rp2d is not None and ended is not None else None,
    )
