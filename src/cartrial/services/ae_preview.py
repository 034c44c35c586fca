"""The AE form's live answer: the text of the chosen CTCAE grade and the DLT flag the protocol's
rules would give the event, before it is saved.

:func:`preview_ae` checks the term and grade as :func:`~cartrial.services.safety.record_ae` does
and adjudicates the typed event with the same rules call
(:func:`~cartrial.services.derive.adjudicate_events`, the protocol's DLT definition, the subject's
infusion time), in a read-only use case: nothing is stored. Each event is decided on its own by
the rules, so the other AEs of the subject do not change the answer.
"""

from __future__ import annotations

from cartrial.rules import dlt
from cartrial.rules.ctcae_text import grade_definitions
from cartrial.services.base import ServiceResult, check_order
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.derive import adjudicate_events, dlt_values, fallback_course
from cartrial.services.safety import CLINICAL_STAFF, RecordAE, check_term

__all__ = ["AEPreview", "preview_ae"]


class AEPreview(ServiceResult):
    """The typed AE as the rules see it.

    ``grades`` lists the text of every grade the term allows (CTCAE v5.0; ASTCT 2019 for ICANS).
    ``dlt_status`` is ``"dlt"``, ``"not_dlt"``, ``"pending"`` (the outcome depends on more
    follow-up, e.g. duration) or ``"before_infusion"`` (no DLT window yet); ``dlt_rule_id`` and
    ``dlt_reason`` name the protocol rule that decided and why.
    """

    subject_id: str
    term: str
    soc: str
    grade: int
    grade_text: str
    grade_source: str
    grades: tuple[tuple[int, str], ...]
    dlt_status: str
    dlt_rule_id: str | None
    dlt_reason: str | None


def preview_ae(ctx: ServiceContext, data: RecordAE) -> AEPreview:
    """The grade text and the DLT flag of ``data``, without storing anything.

    Raises
    ------
    ValidationFailed
        ``term`` unknown to CTCAE v5.0, ``grade`` the term does not have, ``resolved_at``
        before the onset.
    """
    code = data.subject_id
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, read_only=True, subjects=[code]) as uc:
        subject = uc.subject(code, *CLINICAL_STAFF)
        info = check_term(data.term, data.grade)
        onset = uc.study_time(data.onset_at)
        resolved = uc.study_time(data.resolved_at) if data.resolved_at is not None else None
        check_order(onset, resolved, field="resolved_at", earlier_name="the onset")
        texts = grade_definitions(info.term)
        shown = {
            "subject_id": code,
            "term": info.term,
            "soc": info.soc,
            "grade": data.grade,
            "grade_text": texts.grades[data.grade],
            "grade_source": texts.source,
            "grades": tuple(sorted(texts.grades.items())),
        }
        infused_at = uc.dates[subject.id].infused_at
        if infused_at is None:
            return AEPreview(
                **shown, dlt_status="before_infusion", dlt_rule_id=None, dlt_reason=None
            )
        event = dlt.AdverseEvent(
            ae_id="typed",
            term=info.term,
            course=fallback_course(onset, data.grade, resolved),
            attribution=data.attribution,
            alternative_cause=data.alternative_cause,
        )
        (decided,) = adjudicate_events(uc.protocol, [event], infused_at, code).per_event
        is_dlt, rule_id, reason = dlt_values(decided)
        status = "pending" if is_dlt is None else ("dlt" if is_dlt else "not_dlt")
        return AEPreview(**shown, dlt_status=status, dlt_rule_id=rule_id, dlt_reason=reason)
