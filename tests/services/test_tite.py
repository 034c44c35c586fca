"""A TITE design decides with subjects still inside the DLT window (pending), weighted by time.

Protocol variant: the packaged protocol with ``escalation.design`` TITE-BOIN (target 0.3).
TITE-BOIN (Yuan et al. 2018; designs package) suspends accrual - action "stay" - when more than
half of the subjects treated at the current dose are pending.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import argon2.profiles
import pytest
from service_support import STUDY, Trial, build_trial, screening, treat

from cartrial.protocol import default_protocol_path
from cartrial.services import (
    DecideNextDose,
    EnrolSubject,
    decide_next_dose,
    enrol_subject,
    escalation_state,
    screen_subject,
    trial_data,
)
from cartrial.store import auth
from cartrial.store.migrate import upgrade

D0 = dt.date(2026, 1, 12)


@pytest.fixture
def tite_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trial:
    monkeypatch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
    text = default_protocol_path().read_text(encoding="utf-8")
    design = 'design:\n    name: "3+3"\n    params: {}'
    assert design in text
    url = f"sqlite:///{tmp_path / 'tite.db'}"
    upgrade(url)
    return build_trial(
        url, text.replace(design, "design:\n    name: tite-boin\n    params: {target: 0.3}")
    )


def test_pending_subjects_enter_the_tite_decision(tite_trial: Trial) -> None:
    coord, inv = tite_trial.as_("coord1"), tite_trial.as_("inv")
    for subject in ("S01-001", "S01-002", "S01-003"):
        treat(coord, inv, subject, "S01", D0)
    # TITE designs enrol continuously: no cohort cap on a 4th subject before the decision
    screen_subject(coord, screening("S01-004", "S01", D0))
    enrolled = enrol_subject(coord, EnrolSubject(subject_id="S01-004", enrolled_date=D0))
    assert enrolled.cohort == 1
    decided = decide_next_dose(tite_trial.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(14)))
    assert decided.pending == 3
    assert (decided.n_per_dose, decided.dlt_per_dose) == ((0, 3, 0, 0), (0, 0, 0, 0))
    assert decided.design == "tite-boin"
    assert decided.recommended_action == "stay"  # 3 of 3 pending > half: accrual suspended
    assert trial_data(tite_trial.factory, STUDY).dose_decisions["n_treated"].tolist() == [3]


def test_tite_state_counts_pending_subjects_and_may_decide(tite_trial: Trial) -> None:
    coord, inv = tite_trial.as_("coord1"), tite_trial.as_("inv")
    for subject in ("S01-001", "S01-002", "S01-003"):
        treat(coord, inv, subject, "S01", D0)
    as_of = D0 + dt.timedelta(14)
    state = escalation_state(tite_trial.as_("stat"), as_of=as_of)
    dl1 = state.doses[1]
    # 3 treated on D0, none evaluable yet, each 14 of 28 days followed: 14 days left
    assert (dl1.treated, dl1.evaluable, dl1.dlts) == (3, 0, 0)
    assert [(p.subject_id, p.days_left) for p in dl1.pending] == [
        ("S01-001", 14),
        ("S01-002", 14),
        ("S01-003", 14),
    ]
    assert state.can_decide  # a TITE design decides with pending subjects
    decided = decide_next_dose(tite_trial.as_("dsmc"), DecideNextDose(as_of=as_of))
    assert (state.recommended_action, state.recommendation_reason) == (
        decided.recommended_action,
        decided.recommendation_reason,
    )
