"""The expansion at the RP2D: opened, reviewed and stopped, each a signed governance record.

* :func:`open_expansion` opens the expansion at the signed RP2D once every subject dosed there has
  completed the DLT window (the protocol names who may: ``expansion.opened_by``);
* :func:`review_expansion` records the committee's signed review of the protocol's stopping rules
  on the recorded data: the Bayesian beta-binomial toxicity boundary (``expansion.tox_monitoring``)
  over the expansion subjects evaluable for DLT, and the Simon stage-1 futility rule
  (``expansion.futility``) over the first ``n1`` expansion subjects;
* :func:`stop_expansion` records the signed decision to stop; later enrolments are refused;
* :func:`expansion_state` reads the same rules against where the data stand, for a dashboard.

The rules' numbers come from one place, :mod:`cartrial.designs.expansion`
(:func:`~cartrial.designs.expansion.toxicity_stop_count`,
:func:`~cartrial.designs.expansion.simon_design`); every decision is written by
:func:`cartrial.services.governance.record_decision`.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import Select, select

from cartrial.designs.expansion import (
    simon_design,
    toxicity_monitoring_boundary,
    toxicity_stop_count,
)
from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.escalation import DECIDERS
from cartrial.services.followup_window import dlt_followup
from cartrial.services.governance import (
    GovernanceDecided,
    SignedDecision,
    decisions_of,
    latest_decision,
    record_decision,
    refuse_if_decided,
)
from cartrial.services.read_cache import read_cache
from cartrial.store import Enrolment, Subject, TimepointResponse, live
from cartrial.vocab import OBJECTIVE_RESPONSES, ROLES, GovernanceKind

__all__ = [
    "REVIEWERS",
    "BoundaryRow",
    "ExpansionOpened",
    "ExpansionReviewed",
    "ExpansionRules",
    "ExpansionState",
    "ExpansionStopped",
    "OpenExpansion",
    "ReviewExpansion",
    "StopExpansion",
    "expansion_state",
    "open_expansion",
    "review_expansion",
    "stop_expansion",
]

#: Who reviews the expansion's stopping rules.
REVIEWERS = ("safety_committee", "investigator", "statistician")


class ExpansionRules(ServiceResult):
    """The protocol's stopping rules applied to the expansion data as of ``as_of``.

    Attributes
    ----------
    n_enrolled, n_evaluable, n_dlt
        Expansion subjects enrolled, DLT-evaluable (a DLT or the window completed), with a DLT.
    tox_limit, tox_threshold, tox_min_subjects
        The toxicity rule: stop when ``Pr(DLT rate > tox_limit | data) > tox_threshold``
        (beta-binomial), checked from ``tox_min_subjects`` evaluable subjects.
    stop_if_dlt_ge
        The boundary for ``n_evaluable`` subjects (``None``: too few evaluable, or no number of
        DLTs stops yet).
    futility_method
        ``simon-optimal``, ``simon-minimax`` or ``predictive-probability``.
    futility_n1, futility_r1, futility_n, futility_r
        The Simon design (``None`` for other methods): stop after stage 1 when at most ``r1`` of
        the first ``n1`` subjects respond.
    responders_in_n1
        Responders (CR or PR at any time point, unconfirmed counting, as at a stage-1 look) among
        the first ``n1`` expansion subjects; ``None`` until ``n1`` are enrolled.
    stop_for_toxicity, stop_for_futility, reasons
        Which rule is met, and why, in words.
    """

    as_of: dt.date
    n_enrolled: int
    n_evaluable: int
    n_dlt: int
    tox_limit: float
    tox_threshold: float
    tox_min_subjects: int
    stop_if_dlt_ge: int | None
    futility_method: str
    futility_n1: int | None
    futility_r1: int | None
    futility_n: int | None
    futility_r: int | None
    responders_in_n1: int | None
    stop_for_toxicity: bool
    stop_for_futility: bool
    reasons: tuple[str, ...]

    @property
    def stop(self) -> bool:
        """Whether a stopping rule is met."""
        return self.stop_for_toxicity or self.stop_for_futility

    def basis(self) -> str:
        """The data and the rules' result in words (stored with a review or stop)."""
        bound = "not checked yet" if self.stop_if_dlt_ge is None else f"{self.stop_if_dlt_ge}"
        text = f"toxicity: {self.n_dlt}/{self.n_evaluable} DLTs, boundary {bound}"
        if self.futility_n1 is not None:
            seen = "stage 1 incomplete" if self.responders_in_n1 is None else self.responders_in_n1
            text += (
                f"; futility ({self.futility_method}): responders in the first "
                f"{self.futility_n1}: {seen}, stop at <= {self.futility_r1}"
            )
        return text + (f"; stop: {'; '.join(self.reasons)}" if self.reasons else "; no rule met")


def _expansion_enrolments(uc: UseCase, as_of: dt.date) -> Select[tuple[int]]:
    """Internal ids of the expansion's subjects enrolled by ``as_of``, in enrolment order."""
    return (
        select(Enrolment.subject_id)
        .join(Subject, Subject.id == Enrolment.subject_id)
        .where(
            Subject.study_id == uc.study.id,
            Enrolment.phase == "expansion",
            live(Enrolment),
            Enrolment.enrolled_date <= as_of,
        )
        .order_by(Enrolment.enrolled_date, Enrolment.id)
    )


def _responders(uc: UseCase, subjects: list[int], as_of: dt.date) -> int:
    """Subjects among ``subjects`` with a CR or PR at a time point by ``as_of``."""
    found = uc.session.scalars(
        select(TimepointResponse.subject_id)
        .where(
            TimepointResponse.subject_id.in_(subjects),
            TimepointResponse.overall_response.in_(OBJECTIVE_RESPONSES),
            TimepointResponse.assessment_date <= as_of,
            live(TimepointResponse),
        )
        .distinct()
    ).all()
    return len(found)


def expansion_rules(uc: UseCase, as_of: dt.date) -> ExpansionRules:
    """Apply the protocol's toxicity and futility rules to the expansion data as of ``as_of``."""
    expansion = uc.protocol.expansion
    table = dlt_followup(uc.session, uc.study.id, uc.protocol, as_of)
    table = table[table["phase"] == "expansion"]
    evaluable = table[table["dlt_evaluable"].astype(bool)]
    n_eval, n_dlt = len(evaluable), int(evaluable["has_dlt"].sum())
    tox = expansion.tox_monitoring
    bound = toxicity_stop_count(
        n_eval,
        tox.limit,
        tox.threshold,
        prior_a=tox.prior_a,
        prior_b=tox.prior_b,
        min_subjects=tox.min_subjects,
    )
    reasons: list[str] = []
    stop_tox = bound is not None and n_dlt >= bound
    if stop_tox:
        reasons.append(
            f"toxicity: {n_dlt}/{n_eval} DLTs reach the boundary of {bound} "
            f"(P(DLT rate > {tox.limit:g}) > {tox.threshold:g})"
        )
    enrolled = list(uc.session.scalars(_expansion_enrolments(uc, as_of)).all())
    futility = expansion.futility
    simon = simon_design(futility.method, futility.p0, futility.p1, futility.alpha, futility.beta)
    responders: int | None = None
    if simon is not None and len(enrolled) >= simon.n1:
        responders = _responders(uc, enrolled[: simon.n1], as_of)
    stop_futility = simon is not None and responders is not None and responders <= simon.r1
    if stop_futility and simon is not None:
        reasons.append(
            f"futility (Simon stage 1): {responders}/{simon.n1} responders <= {simon.r1}"
        )
    return ExpansionRules(
        as_of=as_of,
        n_enrolled=len(enrolled),
        n_evaluable=n_eval,
        n_dlt=n_dlt,
        tox_limit=tox.limit,
        tox_threshold=tox.threshold,
        tox_min_subjects=tox.min_subjects,
        stop_if_dlt_ge=bound,
        futility_method=futility.method,
        futility_n1=simon.n1 if simon is not None else None,
        futility_r1=simon.r1 if simon is not None else None,
        futility_n=simon.n if simon is not None else None,
        futility_r=simon.r if simon is not None else None,
        responders_in_n1=responders,
        stop_for_toxicity=stop_tox,
        stop_for_futility=stop_futility,
        reasons=tuple(reasons),
    )


# ---------------------------------------------------------------------------- open


class OpenExpansion(SignedDecision):
    """Open the expansion at the signed RP2D (``dose_level``, if given, must be the RP2D)."""

    dose_level: str | None = Field(default=None, min_length=1)


class ExpansionOpened(GovernanceDecided):
    """The signed opening of the expansion at the RP2D (``dose_level``/``dose_index``).

    ``n_evaluable``/``n_dlt`` are the DLT-evaluable subjects and DLTs at that dose.
    """


def open_expansion(ctx: ServiceContext, data: OpenExpansion) -> ExpansionOpened:
    """Open the expansion at the RP2D (the protocol names who may: ``expansion.opened_by``).

    Raises
    ------
    ValidationFailed
        No signed RP2D yet, or ``dose_level`` is not it; ``as_of`` while a subject dosed at the
        RP2D is still in the DLT window (when the protocol requires the window closed) or inside
        locked data; the study already in expansion.
    PermissionDenied
        Not the protocol's ``opened_by`` role, or a wrong password.
    """
    with use_case(ctx, *DECIDERS) as uc:
        as_of = data.as_of or uc.today
        p = uc.protocol
        uc.require(p.expansion.opened_by)
        if uc.study.phase != "escalation":
            raise ValidationFailed("dose_level", "the expansion is already open")
        rp2d = latest_decision(uc, "rp2d")
        if rp2d is None or rp2d.dose_index is None:
            raise ValidationFailed("dose_level", "the RP2D has not been decided yet")
        if data.dose_level is not None and data.dose_level != rp2d.dose_level:
            raise ValidationFailed(
                "dose_level",
                f"the expansion opens at the RP2D {rp2d.dose_level}, not {data.dose_level}",
            )
        table = dlt_followup(uc.session, uc.study.id, p, as_of)
        at_dose = table[table["dose_index"] == rp2d.dose_index]
        if p.expansion.requires_dlt_window_closed:
            open_windows = at_dose[at_dose["pending"].astype(bool)]
            if not open_windows.empty:
                waiting = ", ".join(
                    f"{r.subject_id} (until {r.window_end})" for r in open_windows.itertuples()
                )
                raise ValidationFailed(
                    "as_of", f"the DLT window of {rp2d.dose_level} is still open: {waiting}"
                )
        evaluable = at_dose[at_dose["dlt_evaluable"].astype(bool)]
        n_dlt = int(evaluable["has_dlt"].sum())
        decided = record_decision(
            uc,
            "expansion_open",
            data,
            as_of=as_of,
            dose_index=rp2d.dose_index,
            method=f"expansion.opened_by {p.expansion.opened_by} at the RP2D",
            basis=f"RP2D {rp2d.dose_level}: {n_dlt}/{len(evaluable)} DLTs, DLT windows closed",
            n_evaluable=len(evaluable),
            n_dlt=n_dlt,
        )
        uc.study.phase = "expansion"
        return ExpansionOpened(**decided.model_dump())


# ---------------------------------------------------------------------------- review and stop


class ReviewExpansion(SignedDecision):
    """The committee's review of the expansion's stopping rules on the data as of ``as_of``."""


class ExpansionReviewed(GovernanceDecided):
    """The signed review, with the rules' result it rests on (``rules``)."""

    rules: ExpansionRules


class StopExpansion(SignedDecision):
    """Stop the expansion (the committee's decision)."""


class ExpansionStopped(GovernanceDecided):
    """The signed decision stopping the expansion, with the rules' result at that date."""

    rules: ExpansionRules


def _rules_decision(
    uc: UseCase, kind: GovernanceKind, data: SignedDecision
) -> tuple[GovernanceDecided, ExpansionRules]:
    """Apply the rules as of ``data.as_of`` and record them as a signed ``kind`` decision."""
    as_of = data.as_of or uc.today
    opened = latest_decision(uc, "expansion_open")
    if uc.study.phase != "expansion" or opened is None:
        raise ValidationFailed("as_of", "the study is not in its expansion phase")
    refuse_if_decided(uc, "expansion_stop", "as_of", "the expansion was already stopped")
    rules = expansion_rules(uc, as_of)
    decided = record_decision(
        uc,
        kind,
        data,
        as_of=as_of,
        dose_index=opened.dose_index,
        method=f"beta-binomial toxicity boundary; {uc.protocol.expansion.futility.method} futility",
        basis=rules.basis(),
        n_evaluable=rules.n_evaluable,
        n_dlt=rules.n_dlt,
    )
    return decided, rules


def review_expansion(ctx: ServiceContext, data: ReviewExpansion) -> ExpansionReviewed:
    """Record the committee's signed review of the toxicity and futility stopping rules.

    Toxicity: expansion subjects with a DLT or a completed DLT window are evaluable; a stop is due
    when the number of DLTs reaches the beta-binomial boundary for that many subjects. Futility
    (Simon methods): once the first ``n1`` expansion subjects are enrolled, a stop is due when at
    most ``r1`` of them had a CR or PR at any time point by ``as_of``. The review records the
    result; stopping is :func:`stop_expansion`.

    Raises
    ------
    ValidationFailed
        The study is not in its expansion phase or the expansion was stopped; ``as_of`` inside
        locked data.
    PermissionDenied
        Not a safety committee member, investigator or statistician; a wrong password.
    """
    with use_case(ctx, *REVIEWERS) as uc:
        decided, rules = _rules_decision(uc, "expansion_review", data)
        return ExpansionReviewed(**decided.model_dump(), rules=rules)


def stop_expansion(ctx: ServiceContext, data: StopExpansion) -> ExpansionStopped:
    """Record and sign the decision to stop the expansion; later enrolments are refused.

    Raises
    ------
    ValidationFailed
        The study is not in its expansion phase, or the expansion was already stopped;
        ``as_of`` inside locked data.
    PermissionDenied
        Not a safety committee member or investigator, or a wrong password.
    """
    with use_case(ctx, *DECIDERS) as uc:
        decided, rules = _rules_decision(uc, "expansion_stop", data)
        return ExpansionStopped(**decided.model_dump(), rules=rules)


# ---------------------------------------------------------------------------- state


class BoundaryRow(ServiceResult):
    """One row of the toxicity boundary: with ``n`` evaluable subjects, stop at this many DLTs."""

    n: int
    stop_if_dlt_ge: int | None


class ExpansionState(ServiceResult):
    """Where the expansion stands as of ``as_of``: its dose, the rules and the decisions.

    Attributes
    ----------
    dose_level, dose_index
        The RP2D the expansion treats at (``None`` before the RP2D is decided).
    is_open, stopped
        Whether the expansion is enrolling, and whether a stop was signed.
    planned_subjects
        The protocol's expansion size.
    rules
        The stopping rules against the data (:class:`ExpansionRules`).
    toxicity_boundary
        The toxicity boundary for every number of evaluable subjects from the rule's minimum to
        ``planned_subjects``.
    decisions
        The signed RP2D and expansion records (opened, reviewed, stopped), oldest first.
    """

    as_of: dt.date
    dose_level: str | None
    dose_index: int | None
    is_open: bool
    stopped: bool
    planned_subjects: int
    rules: ExpansionRules
    toxicity_boundary: tuple[BoundaryRow, ...]
    decisions: tuple[GovernanceDecided, ...]


def expansion_state(ctx: ServiceContext, *, as_of: dt.date | None = None) -> ExpansionState:
    """The expansion's stopping rules against the recorded data, and its decisions (any role).

    Kept in the process's read cache until the audit trail shows a write to a table it read
    (:mod:`cartrial.services.read_cache`).
    """
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        when = as_of or uc.today
        return read_cache(ctx.session_factory).read(
            uc.session,
            ("expansion_state", uc.study.id, when),
            lambda: _expansion_state(uc, when),
            depends_on=("studies",),  # the protocol and the phase, read by use_case
        )


def _expansion_state(uc: UseCase, when: dt.date) -> ExpansionState:
    """:func:`expansion_state` once the use case has let the user read the study."""
    expansion = uc.protocol.expansion
    tox = expansion.tox_monitoring
    top = max(expansion.planned_subjects, tox.min_subjects)
    boundary = toxicity_monitoring_boundary(
        tox.limit,
        tox.threshold,
        prior_a=tox.prior_a,
        prior_b=tox.prior_b,
        n_min=tox.min_subjects,
        n_max=top,
    )
    rp2d = latest_decision(uc, "rp2d")
    stopped = latest_decision(uc, "expansion_stop") is not None
    return ExpansionState(
        as_of=when,
        dose_level=rp2d.dose_level if rp2d is not None else None,
        dose_index=rp2d.dose_index if rp2d is not None else None,
        is_open=uc.study.phase == "expansion" and not stopped,
        stopped=stopped,
        planned_subjects=expansion.planned_subjects,
        rules=expansion_rules(uc, when),
        toxicity_boundary=tuple(
            BoundaryRow(
                n=int(r["n"]),
                stop_if_dlt_ge=None if r["stop_if_dlt_ge"] is None else int(r["stop_if_dlt_ge"]),
            )
            for r in boundary.astype(object).where(boundary.notna(), None).to_dict("records")
        ),
        decisions=decisions_of(uc, "rp2d", "expansion_open", "expansion_review", "expansion_stop"),
    )
