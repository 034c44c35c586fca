"""The end of escalation, the RP2D and the escalation dashboard as use cases.

Expected values and their sources:

* 3+3 (packaged protocol, Storer 1989; shared/reference phase1-designs §3+3, with the
  de-escalation variant): 0/3 at DL1 -> escalate; 2/3 at DL2 -> DL2 exceeds the MTD and, with
  fewer than 6 at DL1, de-escalate to DL1. The MTD is the highest dose below the lowest dose with
  >= 2 DLTs, treated in >= 3 subjects with <= 1 DLT: on n (0, 3, 3, 0), DLT (0, 0, 2, 0) that is
  DL1 (index 1). With only DL1 treated (0/3) the top dose DL3 was never treated: no MTD.
* The RP2D is never above the MTD (designs.rp2d.RP2DRecord; shared/reference phase1-designs,
  "RP2D").
* The DLT window is 28 days from the infusion (protocol ``dlt.window_days``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from service_support import PASSWORD, STUDY, Trial, screening, treat
from sqlalchemy import select

from cartrial.analysis import TABLE_COLUMNS
from cartrial.designs import ThreePlusThree
from cartrial.designs.pathways import dose_transition_pathways
from cartrial.errors import AuthenticationFailed, PermissionDenied, ValidationFailed
from cartrial.services import (
    DecideNextDose,
    DecideRP2D,
    EndEscalation,
    EnrolSubject,
    EscalationEnded,
    OpenExpansion,
    RecordAE,
    RP2DDecided,
    SignRecord,
    decide_next_dose,
    decide_rp2d,
    end_escalation,
    enrol_subject,
    escalation_state,
    open_expansion,
    record_ae,
    rp2d_record,
    screen_subject,
    sign_record,
    trial_data,
)
from cartrial.store import AuditLog

D0 = dt.date(2026, 1, 12)
D1 = D0 + dt.timedelta(days=35)
COHORT1 = ("S01-001", "S01-002", "S01-003")
COHORT2 = ("S02-001", "S02-002", "S02-003")


def _sign(trial: Trial, decision_id: int) -> None:
    sign_record(
        trial.as_("dsmc"),
        SignRecord(
            record="dose_decision", record_id=decision_id, meaning="approval", password=PASSWORD
        ),
    )


def _gastritis(trial: Trial, subject: str, coordinator: str) -> None:
    """Grade 3 gastritis, probably related, in the window: protocol gastric_mucosal_injury DLT."""
    ae = record_ae(
        trial.as_(coordinator),
        RecordAE(
            subject_id=subject,
            term="Gastritis",
            grade=3,
            onset_at=D1 + dt.timedelta(days=10),
            resolved_at=D1 + dt.timedelta(days=20),
            attribution="probable",
        ),
    )
    assert ae.is_dlt


def _governance_audit(trial: Trial) -> list[tuple[str, str | None]]:
    with trial.factory() as session:
        rows = session.execute(
            select(AuditLog.username, AuditLog.reason).where(
                AuditLog.table_name == "governance_records", AuditLog.action == "insert"
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


@pytest.fixture
def first_cohort(trial: Trial) -> Trial:
    """Cohort 1 at DL1, 0/3 DLTs, decided (escalate to DL2) and signed."""
    for subject in COHORT1:
        treat(trial.as_("coord1"), trial.as_("inv"), subject, "S01", D0)
    decided = decide_next_dose(trial.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(28)))
    assert (decided.action, decided.next_dose_level) == ("escalate", "DL2")
    _sign(trial, decided.decision_id)
    return trial


@pytest.fixture
def two_cohorts(first_cohort: Trial) -> Trial:
    """Cohort 2 at DL2 with 2/3 DLTs (infused on D1); no decision yet."""
    trial = first_cohort
    for subject in COHORT2:
        treat(
            trial.as_("coord2"),
            trial.as_("inv"),
            subject,
            "S02",
            D1,
            dose_level="DL2",
            cells=3.75e8,
        )
    for subject in COHORT2[:2]:
        _gastritis(trial, subject, "coord2")
    return trial


def _end(
    trial: Trial, user: str = "dsmc", *, password: str = PASSWORD, days: int = 28
) -> EscalationEnded:
    return end_escalation(
        trial.as_(user),
        EndEscalation(
            rationale="DL2 exceeds the MTD",
            password=password,
            as_of=D1 + dt.timedelta(days=days),
        ),
    )


def test_end_of_escalation_waits_for_the_data_and_a_signed_decision(two_cohorts: Trial) -> None:
    before = two_cohorts.audit_rows()
    with pytest.raises(ValidationFailed, match="DLT windows still open") as caught:
        _end(two_cohorts, days=10)
    assert caught.value.field == "as_of"
    decided = decide_next_dose(two_cohorts.as_("dsmc"), DecideNextDose(as_of=D1 + dt.timedelta(28)))
    assert (decided.recommended_action, decided.next_dose_level) == ("de-escalate", "DL1")
    with pytest.raises(ValidationFailed, match="is not signed yet"):
        _end(two_cohorts)
    _sign(two_cohorts, decided.decision_id)
    after_sign = two_cohorts.audit_rows()
    with pytest.raises(PermissionDenied):
        _end(two_cohorts, "coord1")
    assert two_cohorts.audit_rows() == after_sign > before
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        _end(two_cohorts, password="wrong password!")  # refused; the failed check is recorded
    assert _governance_audit(two_cohorts) == []


def test_the_mtd_is_the_designs_selection_signed_and_audited(two_cohorts: Trial) -> None:
    decided = decide_next_dose(two_cohorts.as_("dsmc"), DecideNextDose(as_of=D1 + dt.timedelta(28)))
    _sign(two_cohorts, decided.decision_id)
    n, dlt = (0, 3, 3, 0), (0, 0, 2, 0)
    assert (decided.n_per_dose, decided.dlt_per_dose) == (n, dlt)
    ended = _end(two_cohorts)
    # the design object the protocol names, asked directly on the same counts
    assert ThreePlusThree(n_doses=4).select_mtd(n, dlt) == 1
    assert (ended.dose_level, ended.dose_index, ended.method) == ("DL1", 1, "3+3 select_mtd")
    assert "DL1 0/3, DL2 2/3" in ended.basis and ended.basis.endswith(": DL1")
    assert (ended.n_evaluable, ended.n_dlt) == (6, 2)
    assert (ended.signature.signer, ended.signature.meaning) == ("dsmc", "escalation_ended")
    assert ended.signature.record_table == "governance_records"
    assert _governance_audit(two_cohorts) == [("dsmc", "escalation end: DL2 exceeds the MTD")]
    before = two_cohorts.audit_rows()
    with pytest.raises(ValidationFailed, match="already ended"):
        _end(two_cohorts)
    with pytest.raises(ValidationFailed, match="the escalation has already ended"):
        decide_next_dose(two_cohorts.as_("dsmc"), DecideNextDose(as_of=D1 + dt.timedelta(40)))
    coord = two_cohorts.as_("coord1")
    screen_subject(coord, screening("S01-009", "S01", D1 + dt.timedelta(40)))
    after_screen = two_cohorts.audit_rows()
    with pytest.raises(ValidationFailed, match="the escalation has ended"):
        enrol_subject(
            coord, EnrolSubject(subject_id="S01-009", enrolled_date=D1 + dt.timedelta(41))
        )
    assert two_cohorts.audit_rows() == after_screen > before


def test_no_mtd_when_the_design_selects_none(first_cohort: Trial) -> None:
    # 3+3 on n (0, 3, 0, 0), DLT (0, 0, 0, 0): no dose exceeds, the top dose DL3 was not treated
    assert ThreePlusThree(n_doses=4).select_mtd((0, 3, 0, 0), (0, 0, 0, 0)) is None
    ended = end_escalation(
        first_cohort.as_("dsmc"),
        EndEscalation(rationale="sponsor", password=PASSWORD, as_of=D0 + dt.timedelta(30)),
    )
    assert (ended.dose_level, ended.dose_index) == (None, None)
    assert ended.basis.endswith("no MTD")
    with pytest.raises(ValidationFailed, match="without an MTD"):
        decide_rp2d(
            first_cohort.as_("dsmc"),
            DecideRP2D(dose_level="DL1", rationale="x", password=PASSWORD, as_of=D1),
        )
    state = escalation_state(first_cohort.as_("mon"), as_of=D1)
    assert state.current_dose_level is None and state.pathways == ()
    assert state.recommendation_reason == "the escalation has ended"
    assert state.mtd_level is None and state.escalation_end == ended


@pytest.fixture
def ended(two_cohorts: Trial) -> Trial:
    decided = decide_next_dose(two_cohorts.as_("dsmc"), DecideNextDose(as_of=D1 + dt.timedelta(28)))
    _sign(two_cohorts, decided.decision_id)
    _end(two_cohorts)
    return two_cohorts


def _rp2d(trial: Trial, level: str, user: str = "dsmc") -> RP2DDecided:
    return decide_rp2d(
        trial.as_(user),
        DecideRP2D(
            dose_level=level,
            rationale="tolerable at the MTD",
            password=PASSWORD,
            as_of=D1 + dt.timedelta(30),
        ),
    )


def test_rp2d_needs_the_end_of_escalation(first_cohort: Trial) -> None:
    with pytest.raises(ValidationFailed, match="has not ended") as caught:
        _rp2d(first_cohort, "DL1")
    assert caught.value.field == "dose_level"
    assert rp2d_record(first_cohort.as_("stat")) is None


def test_rp2d_is_never_above_the_mtd_and_is_signed(ended: Trial) -> None:
    before = ended.audit_rows()
    with pytest.raises(ValidationFailed, match="cannot be above the MTD"):
        _rp2d(ended, "DL2")
    with pytest.raises(ValidationFailed, match="no DLT-evaluable subject at DL-1"):
        _rp2d(ended, "DL-1")
    with pytest.raises(ValidationFailed, match="unknown dose level"):
        _rp2d(ended, "DL9")
    with pytest.raises(PermissionDenied):
        _rp2d(ended, "DL1", "stat")
    assert ended.audit_rows() == before
    with pytest.raises(AuthenticationFailed, match="wrong password"):  # no record, no signature
        decide_rp2d(
            ended.as_("dsmc"),
            DecideRP2D(dose_level="DL1", rationale="x", password="wrong password!", as_of=D1),
        )
    assert len(_governance_audit(ended)) == 1  # the end of escalation only
    rp2d = _rp2d(ended, "DL1")
    assert (rp2d.dose_level, rp2d.mtd_level, rp2d.below_mtd) == ("DL1", "DL1", False)
    assert (rp2d.n_evaluable, rp2d.n_dlt) == (3, 0)
    assert (rp2d.signature.signer_name, rp2d.signature.meaning) == ("Dsmc", "rp2d_decided")
    assert rp2d_record(ended.as_("coord1")) == rp2d
    assert _governance_audit(ended)[-1] == ("dsmc", "rp2d: tolerable at the MTD")
    with pytest.raises(ValidationFailed, match="already been decided"):
        _rp2d(ended, "DL1")


def test_governance_records_reach_the_analysis_read_model(ended: Trial) -> None:
    _rp2d(ended, "DL1")
    request = OpenExpansion(
        rationale="RP2D decided", password=PASSWORD, as_of=D1 + dt.timedelta(days=31)
    )
    with pytest.raises(PermissionDenied):  # protocol expansion.opened_by: investigator
        open_expansion(ended.as_("dsmc"), request)
    with pytest.raises(ValidationFailed, match="opens at the RP2D DL1, not DL2"):
        open_expansion(ended.as_("inv"), request.model_copy(update={"dose_level": "DL2"}))
    backdated = request.model_copy(update={"as_of": D0 + dt.timedelta(days=10)})
    with pytest.raises(ValidationFailed, match="DLT window of DL1 is still open"):
        open_expansion(ended.as_("inv"), backdated)
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        open_expansion(
            ended.as_("inv"),
            OpenExpansion(rationale="RP2D decided", password="wrong pass!", as_of=request.as_of),
        )
    opened = open_expansion(ended.as_("inv"), request)
    assert _governance_audit(ended)[-1] == ("inv", "expansion open: RP2D decided")
    assert (opened.dose_level, opened.n_evaluable, opened.n_dlt) == ("DL1", 3, 0)
    assert opened.signature.meaning == "expansion_opened"
    table = trial_data(ended.factory, STUDY).governance
    assert list(table.columns) == list(TABLE_COLUMNS["governance"])
    assert table["kind"].tolist() == ["escalation_end", "rp2d", "expansion_open"]
    assert table["dose_level"].tolist() == ["DL1"] * 3
    assert table["dose_index"].tolist() == [1, 1, 1]
    assert table["signed_by"].tolist() == ["dsmc", "dsmc", "inv"]
    assert table["signer_name"].tolist() == ["Dsmc", "Dsmc", "Inv"]
    assert table["meaning"].tolist() == ["escalation_ended", "rp2d_decided", "expansion_opened"]
    assert table["decided_date"].tolist() == [
        pd.Timestamp(D1 + dt.timedelta(28)),
        pd.Timestamp(D1 + dt.timedelta(30)),
        pd.Timestamp(D1 + dt.timedelta(31)),
    ]
    assert str(table["signed_at"].dt.tz) == "UTC"
    # a data cut-off before the RP2D leaves it out
    early = trial_data(ended.factory, STUDY, D1 + dt.timedelta(29)).governance
    assert early["kind"].tolist() == ["escalation_end"]


def test_escalation_state_counts_pending_windows_and_pathways(two_cohorts: Trial) -> None:
    as_of = D1 + dt.timedelta(days=10)
    state = escalation_state(two_cohorts.as_("stat"), as_of=as_of)
    assert state.design == "3+3"
    assert (state.current_dose_level, state.current_dose_index) == ("DL2", 2)
    by_level = {d.dose_level: d for d in state.doses}
    assert [d.dose_level for d in state.doses] == ["DL-1", "DL1", "DL2", "DL3"]
    assert (by_level["DL1"].treated, by_level["DL1"].evaluable, by_level["DL1"].dlts) == (3, 3, 0)
    # DL2: the two subjects with a DLT are evaluable; the third is pending until day 28
    assert (by_level["DL2"].treated, by_level["DL2"].evaluable, by_level["DL2"].dlts) == (3, 2, 2)
    (pending,) = by_level["DL2"].pending
    assert (pending.subject_id, pending.window_end, pending.days_left) == (
        "S02-003",
        D1 + dt.timedelta(days=28),
        18,
    )
    assert not state.can_decide  # 3+3 waits for every window
    # The design's answer and the pathways on the evaluable counts n (0, 3, 2, 0), DLT (0, 0, 2, 0)
    design = ThreePlusThree(n_doses=4)
    expected = design.decide((0, 3, 2, 0), (0, 0, 2, 0), 2)
    assert (state.recommended_action, state.recommended_next_dose_index) == (
        expected.action,
        expected.next_dose,
    )
    assert state.recommendation_reason == expected.reason
    paths = dose_transition_pathways(design, n=(0, 3, 2, 0), dlt=(0, 0, 2, 0), current=2, cohorts=1)
    assert [r.path for r in state.pathways] == paths["path"].tolist()
    assert [r.dose_index for r in state.pathways] == paths["dose"].tolist()
    assert all(r.dose_level == "DL1" for r in state.pathways)  # the de-escalated next cohort
    assert [r.action for r in state.pathways] == paths["action"].tolist()
    assert [d.action for d in state.decisions] == ["escalate"]
    assert state.decisions[0].signed_by == "dsmc"
    assert state.escalation_end is None and state.rp2d is None
    later = escalation_state(two_cohorts.as_("stat"), as_of=D1 + dt.timedelta(days=28))
    assert later.can_decide and later.recommended_next_dose_level == "DL1"


def test_state_before_any_subject_shows_the_first_cohorts_pathways(trial: Trial) -> None:
    state = escalation_state(trial.as_("dm"), as_of=D0)
    assert (state.current_dose_level, state.recommended_action) == ("DL1", None)
    assert state.recommendation_reason == "no DLT-evaluable subject yet" and not state.can_decide
    # 3+3 (Storer 1989) from no data at DL1: 0/3 escalate, 1/3 stay, 2/3 and 3/3 de-escalate
    assert [(r.path, r.dose_level, r.action, r.next_dose_level) for r in state.pathways] == [
        ("0/3", "DL1", "escalate", "DL2"),
        ("1/3", "DL1", "stay", "DL1"),
        ("2/3", "DL1", "de-escalate", "DL-1"),
        ("3/3", "DL1", "de-escalate", "DL-1"),
    ]
