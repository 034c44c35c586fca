"""The expansion: its rules against the data, a signed review, a signed stop that is enforced.

Expected values: the journey's own data (one expansion subject, S02-002, enrolled after the
expansion opened at the RP2D DL1) and the packaged protocol (toxicity rule: stop when
Pr(DLT rate > 0.3) > 0.9 under Beta(1, 1), checked from 3 evaluable subjects; the boundary per n
is recomputed here with scipy's beta distribution. Simon optimal design for p0 0.1, p1 0.3,
alpha 0.1, beta 0.2: r1/n1 = 0/7, r/n = 3/18, EN(p0) 12.74, as Simon 1989 Table 1 lists and an
exhaustive scipy search confirms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from journey import D3, run_journey
from scipy import stats
from service_support import PASSWORD, STUDY, Trial, build_trial, screening

from cartrial.errors import AuthenticationFailed, PermissionDenied, ValidationFailed
from cartrial.services import (
    EnrolSubject,
    ReviewExpansion,
    StopExpansion,
    enrol_subject,
    expansion_state,
    review_expansion,
    screen_subject,
    stop_expansion,
    trial_data,
)

WHEN = D3 + dt.timedelta(201)


@pytest.fixture
def journey(migrated_db_url: str) -> Iterator[Trial]:
    trial = build_trial(migrated_db_url)
    run_journey(trial)
    yield trial
    trial.engine.dispose()


def _review(trial: Trial, user: str, password: str = PASSWORD) -> object:
    return review_expansion(
        trial.as_(user),
        ReviewExpansion(rationale="monthly review", password=password, as_of=WHEN),
    )


def test_state_applies_the_protocol_rules(journey: Trial) -> None:
    state = expansion_state(journey.as_("coord2"), as_of=WHEN)
    assert (state.dose_level, state.dose_index, state.is_open, state.stopped) == (
        "DL1",
        1,
        True,
        False,
    )
    rules = state.rules
    assert (rules.n_enrolled, rules.n_evaluable, rules.n_dlt) == (1, 1, 0)  # died on day 140
    assert rules.stop_if_dlt_ge is None  # fewer than min_subjects (3) evaluable
    assert (rules.futility_n1, rules.futility_r1, rules.futility_n, rules.futility_r) == (
        7,
        0,
        18,
        3,
    )
    assert rules.responders_in_n1 is None  # stage 1 not complete
    assert not rules.stop and rules.reasons == ()
    # the boundary: smallest y with P(p > 0.3 | y of n) > 0.9, posterior Beta(1 + y, 1 + n - y)
    expected = [
        next(y for y in range(n + 1) if stats.beta.sf(0.3, 1 + y, 1 + n - y) > 0.9)
        for n in range(3, 21)
    ]
    assert [r.n for r in state.toxicity_boundary] == list(range(3, 21))
    assert [r.stop_if_dlt_ge for r in state.toxicity_boundary] == expected
    assert [d.kind for d in state.decisions] == ["rp2d", "expansion_open"]


def test_review_is_signed_and_recorded(journey: Trial) -> None:
    before = journey.audit_rows()
    with pytest.raises(PermissionDenied):
        _review(journey, "coord2")
    assert journey.audit_rows() == before
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        _review(journey, "stat", "not the password")  # refused; the failed check is recorded
    assert [d.kind for d in expansion_state(journey.as_("stat"), as_of=WHEN).decisions] == [
        "rp2d",
        "expansion_open",
    ]
    reviewed = _review(journey, "stat")
    assert reviewed.rules == expansion_state(journey.as_("stat"), as_of=WHEN).rules
    assert (reviewed.kind, reviewed.dose_level) == ("expansion_review", "DL1")
    assert (reviewed.signature.signer, reviewed.signature.meaning) == ("stat", "expansion_reviewed")
    assert "toxicity: 0/1 DLTs, boundary not checked yet" in reviewed.basis
    assert journey.audit_rows() > before
    governance = trial_data(journey.factory, STUDY, WHEN).governance
    assert governance["kind"].tolist()[-1] == "expansion_review"


def test_stop_is_signed_recorded_and_blocks_enrolment(journey: Trial) -> None:
    with pytest.raises(PermissionDenied):
        stop_expansion(
            journey.as_("coord2"), StopExpansion(rationale="x", password=PASSWORD, as_of=WHEN)
        )
    stopped = stop_expansion(
        journey.as_("dsmc"),
        StopExpansion(rationale="toxicity boundary reached", password=PASSWORD, as_of=WHEN),
    )
    assert stopped.signature.meaning == "expansion_stopped"
    governance = trial_data(journey.factory, STUDY).governance
    assert governance["kind"].tolist()[-1] == "expansion_stop"
    assert governance["rationale"].tolist()[-1] == "toxicity boundary reached"
    state = expansion_state(journey.as_("mon"), as_of=WHEN)
    assert state.stopped and not state.is_open
    coord = journey.as_("coord2")
    screen_subject(coord, screening("S02-009", "S02", WHEN))
    before = journey.audit_rows()
    with pytest.raises(ValidationFailed, match="expansion was stopped") as caught:
        enrol_subject(coord, EnrolSubject(subject_id="S02-009", enrolled_date=WHEN))
    assert caught.value.field == "subject_id"
    with pytest.raises(ValidationFailed, match="already stopped"):
        stop_expansion(
            journey.as_("dsmc"), StopExpansion(rationale="again", password=PASSWORD, as_of=WHEN)
        )
    with pytest.raises(ValidationFailed, match="already stopped"):
        _review(journey, "dsmc")
    assert journey.audit_rows() == before


def test_no_review_before_the_expansion(trial: Trial) -> None:
    with pytest.raises(ValidationFailed, match="not in its expansion phase"):
        _review(trial, "dsmc")
    state = expansion_state(trial.as_("dsmc"), as_of=WHEN)
    assert (state.dose_level, state.is_open, state.decisions) == (None, False, ())
