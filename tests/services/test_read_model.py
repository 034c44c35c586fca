"""trial_data: the analysis tables as of a data cut-off, in the contract's columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from service_support import STUDY, Trial, screening, treat

from cartrial.analysis import TABLE_COLUMNS
from cartrial.errors import ValidationFailed
from cartrial.services import (
    RecordAda,
    RecordAE,
    RecordCrsIcansDay,
    RecordFollowUp,
    RecordGradeChange,
    RecordKinetics,
    RecordSubsequentTherapy,
    record_ae,
    record_crs_icans_day,
    record_follow_up,
    record_grade_change,
    record_kinetics,
    record_subsequent_therapy,
    screen_subject,
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


def test_screening_lymphodepletion_therapy_and_vitals_for_the_cdisc_exchange(
    followed: Trial,
) -> None:
    coord = followed.as_("coord1")
    # a screen failure: ANC 0.5 x 10^9/L against the protocol's >= 1.0
    screen_subject(coord, screening("S01-002", "S01", dt.date(2026, 2, 20), anc_1e9_l=0.5))
    record_crs_icans_day(
        coord,
        RecordCrsIcansDay(
            subject_id="S01-001",
            observed_date=D0 + dt.timedelta(days=1),
            temperature_c=38.6,
            oxygen_device="nasal_cannula",
            oxygen_flow_l_min=2.0,
            ice_orientation=4,
            ice_naming=3,
            ice_commands=1,
            ice_writing=1,
            ice_attention=1,
        ),
    )
    record_subsequent_therapy(
        followed.as_("inv"),
        RecordSubsequentTherapy(
            subject_id="S01-001", therapy="FOLFIRI", start_date=dt.date(2026, 5, 1)
        ),
    )
    data = trial_data(followed.factory, STUDY)
    # both subjects screened; S01-001 screened 20 days before its infusion (service_support)
    assert list(data.screening["subject_id"]) == ["S01-001", "S01-002"]
    assert list(data.screening["eligible"]) == [True, False]
    assert data.screening.iloc[0]["screened_date"] == pd.Timestamp(D0 - dt.timedelta(days=20))
    # 14 criteria per screening; S01-002 failed only the ANC criterion
    failed = data.eligibility.loc[~data.eligibility["met"]]
    assert len(data.eligibility) == 28 and failed[["subject_id", "criterion"]].values.tolist() == [
        ["S01-002", "anc"]
    ]
    # fludarabine 25 and cyclophosphamide 250 mg/m2 on days -5, -4, -3 (service_support.REGIMEN)
    ld = data.lymphodepletion
    assert len(ld) == 6 and sorted(set(ld["day"])) == [-5, -4, -3]
    assert set(zip(ld["agent"], ld["dose"], ld["unit"], strict=True)) == {
        ("fludarabine", 25.0, "mg/m2"),
        ("cyclophosphamide", 250.0, "mg/m2"),
    }
    assert data.subsequent_therapies[["subject_id", "therapy"]].values.tolist() == [
        ["S01-001", "FOLFIRI"]
    ]
    day1 = data.crs_icans.iloc[0]
    assert (day1["temperature_c"], day1["oxygen_flow_l_min"]) == (38.6, 2.0)
    # the cut-off hides what comes later: the therapy started on 1 May
    early = trial_data(followed.factory, STUDY, data_cutoff=dt.date(2026, 4, 1))
    assert early.subsequent_therapies.empty and len(early.screening) == 2
