"""Expansion monitoring: the protocol's stopping rules reviewed, a stop recorded and enforced.

Expected values: the journey's own data (one expansion subject, S02-002, enrolled after the
expansion opened at DL1) and the packaged protocol (toxicity rule checked from 3 evaluable
subjects; Simon optimal design for p0 0.1, p1 0.3, alpha 0.1, beta 0.2: r1/n1 = 0/7,
r/n = 3/18, EN(p0) 12.74, as Simon 1989 Table 1 lists and an exhaustive scipy search confirms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from journey import D3, run_journey
from service_support import PASSWORD, STUDY, Trial, build_trial, screening

from cartrial.errors import PermissionDenied, ValidationFailed
from cartrial.services import (
    EnrolSubject,
    ReviewExpansion,
    StopExpansion,
    enrol_subject,
    review_expansion,
    screen_subject,
    stop_expansion,
    trial_data,
)


@pytest.fixture
def journey(migrated_db_url: str) -> Iterator[Trial]:
    trial = build_trial(migrated_db_url)
    run_journey(trial)
    yield trial
    trial.engine.dispose()


def test_review_applies_the_protocol_rules(journey: Trial) -> None:
    review = review_expansion(journey.as_("dsmc"), ReviewExpansion(as_of=D3 + dt.timedelta(201)))
    assert review.n_enrolled == 1
    assert review.stop_if_dlt_ge is None  # fewer than min_subjects (3) evaluable
    assert not review.stop_for_toxicity
    assert (review.futility_n1, review.futility_r1) == (7, 0)
    assert review.responders_in_n1 is None  # stage 1 not complete
    assert not review.stop_for_futility and review.reasons == ()


def test_stop_is_signed_recorded_and_blocks_enrolment(journey: Trial) -> None:
    when = D3 + dt.timedelta(201)
    with pytest.raises(PermissionDenied):
        stop_expansion(
            journey.as_("coord2"), StopExpansion(rationale="x", password=PASSWORD, as_of=when)
        )
    stopped = stop_expansion(
        journey.as_("dsmc"),
        StopExpansion(rationale="toxicity boundary reached", password=PASSWORD, as_of=when),
    )
    assert stopped.signature_id > 0
    decisions = trial_data(journey.factory, STUDY).dose_decisions
    assert decisions["action"].tolist()[-1] == "stop"
    coord = journey.as_("coord2")
    screen_subject(coord, screening("S02-009", "S02", when))
    before = journey.audit_rows()
    with pytest.raises(ValidationFailed, match="expansion was stopped") as caught:
        enrol_subject(coord, EnrolSubject(subject_id="S02-009", enrolled_date=when))
    assert caught.value.field == "subject_id"
    assert journey.audit_rows() == before
    with pytest.raises(ValidationFailed, match="already stopped"):
        stop_expansion(
            journey.as_("dsmc"), StopExpansion(rationale="again", password=PASSWORD, as_of=when)
        )
