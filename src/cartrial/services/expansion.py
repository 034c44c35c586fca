"""Expansion monitoring: the protocol's stopping rules applied to the recorded data.

* :func:`review_expansion` applies the Bayesian beta-binomial toxicity boundary
  (``expansion.tox_monitoring``) to the expansion subjects evaluable for DLT, and the Simon stage-1
  futility rule (``expansion.futility``, Simon methods) to the first ``n1`` expansion subjects;
  it writes nothing.
* :func:`stop_expansion` records the committee's decision to stop the expansion (a signed dose
  decision with action ``stop``); from then on no subject is enrolled into the expansion.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Select, select

from cartrial.designs.expansion import simon_two_stage, toxicity_monitoring_boundary
from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.decisions import SignedDecision
from cartrial.services.enrolment import STOP_DESIGN, current_cohort, expansion_stopped
from cartrial.services.followup_window import dlt_followup
from cartrial.services.signing import Signed, sign, signed_result
from cartrial.store import DoseDecision, Enrolment, Subject, TimepointResponse, live, utcnow

__all__ = [
    "ExpansionReview",
    "ExpansionStopped",
    "ReviewExpansion",
    "StopExpansion",
    "review_expansion",
    "stop_expansion",
]

REVIEWERS = ("safety_committee", "investigator", "statistician")


class ReviewExpansion(ServiceInput):
    """Review the expansion's stopping rules on the data recorded up to ``as_of``."""

    as_of: dt.date | None = None


class ExpansionReview(ServiceResult):
    """The stopping rules applied to the expansion as of ``as_of``.

    ``stop_if_dlt_ge`` is the toxicity boundary for ``n_evaluable`` subjects (None: no number of
    DLTs stops yet, or fewer than ``tox_monitoring.min_subjects`` are evaluable).
    """

    as_of: dt.date
    n_enrolled: int
    n_evaluable: int
    n_dlt: int
    stop_if_dlt_ge: int | None
    stop_for_toxicity: bool
    futility_n1: int | None
    futility_r1: int | None
    responders_in_n1: int | None
    stop_for_futility: bool
    reasons: tuple[str, ...]


def review_expansion(ctx: ServiceContext, data: ReviewExpansion) -> ExpansionReview:
    """Apply the protocol's toxicity and futility stopping rules to the expansion.

    Toxicity: expansion subjects with a DLT or a completed DLT window are evaluable; stop when
    the number of DLTs reaches the beta-binomial boundary for that many subjects
    (:func:`cartrial.designs.expansion.toxicity_monitoring_boundary`). Futility (Simon methods):
    once the first ``n1`` expansion subjects are evaluable for response, stop when at most ``r1``
    of them had a CR or PR at any time point (unconfirmed responses count, as at a stage-1 look).

    Raises
    ------
    ValidationFailed
        ``as_of`` while the study is not in its expansion phase.
    """
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, *REVIEWERS, read_only=True) as uc:
        if uc.study.phase != "expansion":
            raise ValidationFailed("as_of", "the study is not in its expansion phase")
        p = uc.protocol
        table = dlt_followup(uc.session, uc.study.id, p, as_of)
        expansion = table[table["phase"] == "expansion"]
        evaluable = expansion[expansion["dlt_evaluable"]]
        n_eval, n_dlt = len(evaluable), int(evaluable["has_dlt"].sum())
        rule = p.expansion.tox_monitoring
        bound: int | None = None
        if n_eval >= rule.min_subjects:
            boundary = toxicity_monitoring_boundary(
                rule.limit,
                rule.threshold,
                prior_a=rule.prior_a,
                prior_b=rule.prior_b,
                n_min=n_eval,
                n_max=n_eval,
            )
            value = boundary["stop_if_dlt_ge"].iloc[0]
            bound = None if pd.isna(value) else int(value)
        reasons: list[str] = []
        stop_tox = bound is not None and n_dlt >= bound
        if stop_tox:
            reasons.append(
                f"toxicity: {n_dlt}/{n_eval} DLTs reach the boundary of {bound} "
                f"(P(DLT rate > {rule.limit:g}) > {rule.threshold:g})"
            )
        n1, r1, responders = _futility(uc, as_of)
        stop_futility = responders is not None and r1 is not None and responders <= r1
        if stop_futility:
            reasons.append(f"futility (Simon stage 1): {responders}/{n1} responders <= {r1}")
        enrolled = uc.session.scalars(_expansion_enrolments(uc, as_of)).all()
        return ExpansionReview(
            as_of=as_of,
            n_enrolled=len(enrolled),
            n_evaluable=n_eval,
            n_dlt=n_dlt,
            stop_if_dlt_ge=bound,
            stop_for_toxicity=stop_tox,
            futility_n1=n1,
            futility_r1=r1,
            responders_in_n1=responders,
            stop_for_futility=stop_futility,
            reasons=tuple(reasons),
        )


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


def _futility(uc: UseCase, as_of: dt.date) -> tuple[int | None, int | None, int | None]:
    """Simon stage 1 over the first ``n1`` expansion subjects: (n1, r1, responders or None)."""
    futility = uc.protocol.expansion.futility
    if not futility.method.startswith("simon"):
        return None, None, None
    designs = simon_two_stage(futility.p0, futility.p1, futility.alpha, futility.beta)
    stage1 = designs.minimax if futility.method == "simon-minimax" else designs.optimal
    first = uc.session.scalars(_expansion_enrolments(uc, as_of).limit(stage1.n1)).all()
    if len(first) < stage1.n1:
        return stage1.n1, stage1.r1, None
    responders = uc.session.scalars(
        select(TimepointResponse.subject_id)
        .where(
            TimepointResponse.subject_id.in_(first),
            TimepointResponse.overall_response.in_(("CR", "PR")),
            TimepointResponse.assessment_date <= as_of,
            live(TimepointResponse),
        )
        .distinct()
    ).all()
    return stage1.n1, stage1.r1, len(responders)


class StopExpansion(SignedDecision):
    """Stop the expansion (the committee's decision)."""


class ExpansionStopped(ServiceResult):
    """The decision stopping the expansion and its signature (with its manifestation)."""

    decision_id: int
    signature_id: int
    rationale: str
    signature: Signed


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
    as_of = data.as_of or utcnow().date()
    with use_case(ctx, "safety_committee", "investigator") as uc:
        if uc.study.phase != "expansion":
            raise ValidationFailed("rationale", "the study is not in its expansion phase")
        if expansion_stopped(uc):
            raise ValidationFailed("rationale", "the expansion was already stopped")
        uc.check_unlocked(as_of, "as_of")
        opened = uc.session.scalars(
            select(DoseDecision)
            .where(
                DoseDecision.study_id == uc.study.id,
                DoseDecision.action == "expand",
                live(DoseDecision),
            )
            .order_by(DoseDecision.id.desc())
            .limit(1)
        ).one()
        table = dlt_followup(uc.session, uc.study.id, uc.protocol, as_of)
        evaluable = table[(table["phase"] == "expansion") & table["dlt_evaluable"]]
        decision = DoseDecision(
            study_id=uc.study.id,
            cohort=current_cohort(uc),
            dose_level=opened.dose_level,
            dose_index=opened.dose_index,
            n_treated=len(evaluable),
            n_dlt=int(evaluable["has_dlt"].sum()),
            design=STOP_DESIGN,
            recommended_action="stop",
            recommended_next_dose_index=None,
            recommendation_reason=data.rationale,
            action="stop",
            next_dose_index=None,
            next_dose_level=None,
            rationale=data.rationale,
            decided_at=utcnow(),
            data_cutoff_date=as_of,
        )
        uc.session.add(decision)
        uc.session.flush()
        [signature] = sign(uc, data.password.get_secret_value(), "expansion_stopped", decision)
        uc.because("expansion stopped")
        return ExpansionStopped(
            decision_id=decision.id,
            signature_id=signature.id,
            rationale=data.rationale,
            signature=signed_result(signature, uc.protocol.study.time_zone),
        )
