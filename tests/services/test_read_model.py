"""trial_data: the analysis tables as of a data cut-off, in the contract's columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from service_support import STUDY, Trial, treat

from cartrial.analysis import TABLE_COLUMNS
from cartrial.errors import ValidationFailed
from cartrial.services import (
    RecordAda,
    RecordAE,
    RecordFollowUp,
    RecordGradeChange,
    RecordKinetics,
    record_ae,
    record_follow_up,
    record_grade_change,
    record_kinetics,
    trial_data,
)

D0 = dt.date(2026, 3, 2)


@pytest.fixture
def followed(trial: Trial) -> Trial:
    coord = trial.as_("coord1")
    treat(coord, trial.as_("inv"), "S01-001", "S01", D0)
    ae = record_ae(
        coord,
        RecordAE(
            subject_id="S01-001",
            term="Nausea",
            grade=1,
            onset_at=dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC),
            attribution="possible",
        ),
    )
    record_grade_change(
        coord,
        RecordGradeChange(
            ae_id=ae.ae_id,
            grade=3,
            changed_at=dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC),
            expected_version=1,
        ),
    )
    record_grade_change(
        coord,
        RecordGradeChange(
            ae_id=ae.ae_id,
            grade=0,
            changed_at=dt.datetime(2026, 3, 20, 8, tzinfo=dt.UTC),
            expected_version=2,
            outcome="recovered",
        ),
    )
    for day, value in ((1, 5200.0), (28, None)):
        record_kinetics(
            coord,
            RecordKinetics(
                subject_id="S01-001",
                collected_at=D0 + dt.timedelta(days=day),
                unit="copies/ug gDNA",
                value=value,
                lloq=50.0,
            ),
        )
    record_follow_up(
        coord,
        RecordFollowUp(
            subject_id="S01-001",
            contact_date=dt.date(2026, 6, 1),
            status="dead",
            death_date=dt.date(2026, 5, 28),
            death_cause="disease progression",
        ),
    )
    return trial


def test_every_table_has_the_contract_columns(followed: Trial) -> None:
    data = trial_data(followed.factory, STUDY)
    for name, columns in TABLE_COLUMNS.items():
        assert set(columns) <= set(getattr(data, name).columns), name
    subject = data.subjects.iloc[0]
    assert subject["infusion_date"] == pd.Timestamp(D0)
    assert subject["lymphodepletion_date"] == pd.Timestamp(D0 - dt.timedelta(days=5))
    assert subject["death_date"] == pd.Timestamp("2026-05-28")
    assert data.kinetics["below_lloq"].tolist() == [False, True]
    assert data.kinetics["day"].tolist() == [1, 28]


def test_cut_off_hides_later_records_and_grades(followed: Trial) -> None:
    early = trial_data(followed.factory, STUDY, data_cutoff=dt.date(2026, 3, 12))
    ae = early.adverse_events.iloc[0]
    assert ae["grade"] == 3  # grade 1 on 3 March, grade 3 from 10 March
    assert pd.isna(ae["resolution_date"])  # resolved on 20 March: ongoing at the cut-off
    assert early.kinetics["day"].tolist() == [1]
    assert pd.isna(early.subjects.iloc[0]["death_date"])
    earlier = trial_data(followed.factory, STUDY, data_cutoff=dt.date(2026, 3, 5))
    assert earlier.adverse_events.iloc[0]["grade"] == 1
    complete = trial_data(followed.factory, STUDY)
    assert complete.adverse_events.iloc[0]["resolution_date"] == pd.Timestamp("2026-03-20")


def test_sample_tiers_are_checked() -> None:
    with pytest.raises(ValidationFailed) as info:
        RecordAda(subject_id="S01-001", sample_date=D0, screen="positive", titer=40.0)
    assert info.value.field == "titer"
    with pytest.raises(ValidationFailed) as info:
        RecordFollowUp(subject_id="S01-001", contact_date=D0, status="dead")
    assert info.value.field == "death_date"
