"""The end of dose escalation: the MTD chosen by the protocol's design, the RP2D, and the state.

* :func:`end_escalation` closes the escalation once every DLT window has closed: the protocol's
  design selects the MTD (``select_mtd``) on the DLT-evaluable counts, and the decision is a
  signed governance record;
* :func:`decide_rp2d` records the RP2D (the MTD or a lower dose, never above it, as
  :class:`cartrial.designs.rp2d.RP2DRecord` requires), signed;
* :func:`rp2d_record` reads the signed RP2D with its MTD;
  :func:`cartrial.services.escalation_state.escalation_state` reads the whole escalation for a
  dashboard.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, ValidationError
from sqlalchemy import select

from cartrial.designs import (
    Decision,
    Design,
    is_time_to_event,
    make_design,
    needs_dlt_followup,
)
from cartrial.designs.rp2d import RP2DRecord
from cartrial.errors import DesignError, NotFound, ValidationFailed
from cartrial.protocol import Protocol
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.dose_counts import DoseCounts, dose_counts
from cartrial.services.followup_window import dlt_followup
from cartrial.services.governance import (
    GovernanceDecided,
    SignedDecision,
    latest_decision,
    record_decision,
    refuse_if_decided,
)
from cartrial.store import DoseDecision, Signature, live
from cartrial.vocab import ROLES

__all__ = [
    "DECIDERS",
    "DecideRP2D",
    "EndEscalation",
    "EscalationEnded",
    "RP2DDecided",
    "check_escalation_open",
    "decide_rp2d",
    "end_escalation",
    "escalation_counts",
    "protocol_design",
    "recommend",
    "refuse_pending",
    "rp2d_record",
    "rp2d_with_mtd",
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
    return design, is_time_to_event(design)


def escalation_counts(uc: UseCase, as_of: dt.date, *, time_to_event: bool) -> DoseCounts:
    """The escalation subjects' counts per dose as of ``as_of`` (see :func:`dose_counts`)."""
    table = dlt_followup(uc.session, uc.study.id, uc.protocol, as_of)
    table = table[table["phase"] == "escalation"]
    return dose_counts(table, len(uc.protocol.dose_levels), time_to_event=time_to_event)


def recommend(design: Design, counts: DoseCounts, current: int) -> Decision:
    """The design's decision on ``counts`` with ``current`` the dose in use.

    Time-to-event designs (:func:`cartrial.designs.is_time_to_event`) are also given the pending
    subjects' followed fractions when ``counts`` counts them, and those that declare they need
    it (:func:`cartrial.designs.needs_dlt_followup`: TITE-CRM with adaptive weights) the fraction
    of the window at which each counted DLT began.

    Raises
    ------
    ValidationFailed
        The design refuses the data (field ``as_of``).
    """
    try:
        n, dlt, pending = list(counts.n), list(counts.dlt), counts.pending_followup
        if counts.time_to_event and needs_dlt_followup(design):
            return design.decide(n, dlt, current, pending, dlt_followup=list(counts.dlt_followup))
        if counts.time_to_event and is_time_to_event(design):
            return design.decide(n, dlt, current, pending)
        return design.decide(n, dlt, current)
    except DesignError as exc:
        raise ValidationFailed("as_of", f"the design cannot decide: {exc}") from None


def unsigned_dose_decision(uc: UseCase) -> int | None:
    """The id of the study's latest dose decision when it is not signed yet, else ``None``."""
    latest = uc.session.scalar(
        select(DoseDecision.id)
        .where(DoseDecision.study_id == uc.study.id, live(DoseDecision))
        .order_by(DoseDecision.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    signed = uc.session.scalar(
        select(Signature.id).where(
            Signature.record_table == DoseDecision.__tablename__,
            Signature.record_id == latest,
            live(Signature),
        )
    )
    return None if signed is not None else latest


def check_escalation_open(uc: UseCase) -> None:
    """Refuse (field ``as_of``) unless the study is escalating: in its escalation phase, the
    escalation not ended, and the latest dose decision signed."""
    if uc.study.phase != "escalation":
        raise ValidationFailed("as_of", "the study is not in its escalation phase")
    refuse_if_decided(uc, "escalation_end", "as_of", "the escalation has already ended")
    unsigned = unsigned_dose_decision(uc)
    if unsigned is not None:
        raise ValidationFailed("as_of", f"dose decision {unsigned} is not signed yet")


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
    with use_case(ctx, *DECIDERS) as uc:
        as_of = data.as_of or uc.today
        check_escalation_open(uc)
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


def rp2d_with_mtd(decided: GovernanceDecided, ended: GovernanceDecided) -> RP2DDecided:
    """The RP2D record with the MTD of the end of escalation (never ``None``: decide_rp2d
    refuses an RP2D without an MTD)."""
    if ended.dose_level is None or ended.dose_index is None:
        raise NotFound(f"governance record {decided.record_id}: an RP2D without an MTD")
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
    with use_case(ctx, *DECIDERS) as uc:
        as_of = data.as_of or uc.today
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
        return rp2d_with_mtd(decided, ended)


def rp2d_record(ctx: ServiceContext) -> RP2DDecided | None:
    """The signed RP2D with its MTD, or ``None`` while none has been decided (any study role)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        decided = latest_decision(uc, "rp2d")
        ended = latest_decision(uc, "escalation_end")
        if decided is None or ended is None:
            return None
        return rp2d_with_mtd(decided, ended)
