"""A data lock that holds: every write to locked data refused, dates read in the study's zone.

The packaged protocol declares ``study.time_zone: Asia/Shanghai`` (UTC+8, no daylight saving time
since 1991: IANA tz database, ``asia`` file). Expected study days below are that conversion done
by hand: e.g. 2026-01-31T00:30+10:00 is 2026-01-30T14:30Z, i.e. 2026-01-30 22:30 in Shanghai.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from service_support import PASSWORD, STUDY, Trial, build_trial, treat
from sqlalchemy import select

from cartrial.errors import (
    AuthenticationFailed,
    ImportFailed,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from cartrial.protocol import default_protocol_path
from cartrial.services import (
    AdjudicateDLT,
    DLTOverride,
    LockData,
    RecordAE,
    RecordGradeChange,
    RecordLab,
    RederiveStudy,
    ReleaseDataLock,
    adjudicate_dlt,
    import_labs,
    lock_data,
    record_ae,
    record_grade_change,
    record_lab,
    rederive_study,
    release_data_lock,
    trial_data,
)
from cartrial.services.context import use_case
from cartrial.store import AdverseEvent, AuditLog, LabResult, soft_delete, unit_of_work
from cartrial.store.migrate import upgrade

D0 = dt.date(2026, 1, 5)  # infusion
CUTOFF = dt.date(2026, 1, 30)
SHANGHAI_OFFSET = dt.timezone(dt.timedelta(hours=8))


def _ae(trial: Trial, onset: dt.datetime | dt.date, term: str = "Fatigue") -> int:
    return record_ae(
        trial.as_("coord1"),
        RecordAE(subject_id="S01-001", term=term, grade=2, onset_at=onset, attribution="possible"),
    ).ae_id


@pytest.fixture
def locked(trial: Trial) -> tuple[Trial, int]:
    """One infused subject, an AE on D0+5 (inside the lock), the data locked at CUTOFF."""
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    ae_id = _ae(trial, dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC))
    lock_data(trial.as_("dm"), LockData(name="DLT cohort 1", data_cutoff=CUTOFF, password=PASSWORD))
    return trial, ae_id


def test_offsets_are_read_in_the_study_time_zone(locked: tuple[Trial, int]) -> None:
    trial, _ae_id = locked
    # 2026-01-31 00:30 at UTC+10 is 2026-01-30 22:30 in Shanghai: locked, whatever the caller's day
    with pytest.raises(ValidationFailed, match=r"2026-01-30 in Asia/Shanghai.*cut-off 2026-01-30"):
        _ae(trial, dt.datetime(2026, 1, 31, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=10))))
    # 2026-01-30 20:00 UTC is 2026-01-31 04:00 in Shanghai: after the cut-off
    _ae(trial, dt.datetime(2026, 1, 30, 20, 0, tzinfo=dt.UTC), term="Nausea")
    # 2026-01-31 01:00+08:00 counts as 2026-01-31 in Shanghai
    _ae(trial, dt.datetime(2026, 1, 31, 1, 0, tzinfo=SHANGHAI_OFFSET), term="Headache")
    # the last Shanghai minute of the cut-off day is locked
    with pytest.raises(ValidationFailed, match="cut-off"):
        _ae(trial, dt.datetime(2026, 1, 30, 15, 59, tzinfo=dt.UTC), term="Fever")


def test_a_dlt_override_on_a_locked_ae_is_refused(locked: tuple[Trial, int]) -> None:
    trial, ae_id = locked
    with pytest.raises(ValidationFailed, match=r"adverse_events .* onset_at.*cut-off"):
        adjudicate_dlt(
            trial.as_("inv"),
            AdjudicateDLT(
                subject_id="S01-001",
                overrides=(DLTOverride(ae_id=ae_id, is_dlt=True, reason="clinical judgement"),),
                password=PASSWORD,
            ),
        )


def test_a_grade_change_on_a_locked_ae_is_refused(locked: tuple[Trial, int]) -> None:
    """Even dated after the cut-off: it changes the AE (its worst grade), which is locked."""
    trial, ae_id = locked
    with trial.factory() as session:
        version = session.get_one(AdverseEvent, ae_id).version
    with pytest.raises(ValidationFailed, match="cut-off"):
        record_grade_change(
            trial.as_("coord1"),
            RecordGradeChange(
                ae_id=ae_id,
                grade=3,
                changed_at=dt.datetime(2026, 2, 3, 9, 0, tzinfo=dt.UTC),
                expected_version=version,
            ),
        )


def test_rederivation_cannot_change_locked_data(trial: Trial) -> None:
    """A lab grade made stale before the lock; re-deriving it after the lock is refused."""
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    lab = record_lab(
        trial.as_("coord1"),
        RecordLab(
            subject_id="S01-001",
            collected_at=dt.datetime(2026, 1, 8, 7, 0, tzinfo=dt.UTC),
            lbtestcd="NEUT",
            value=0.3,
            unit="10^9/L",
            lln=1.8,
        ),
    )
    with unit_of_work(trial.factory, "dm", "grading table being corrected") as session:
        stored = session.get_one(LabResult, lab.lab_id)
        stored.grade = 1  # stale: the CTCAE table says grade 4 for ANC < 0.5
    lock_data(trial.as_("dm"), LockData(name="DLT cohort 1", data_cutoff=CUTOFF, password=PASSWORD))
    with pytest.raises(ValidationFailed, match=r"lab_results .* collected_at.*cut-off"):
        rederive_study(trial.as_("dm"), RederiveStudy(reason="CTCAE table fix"))


def test_a_deletion_of_locked_data_is_refused(locked: tuple[Trial, int]) -> None:
    trial, ae_id = locked
    with (
        pytest.raises(ValidationFailed, match="cut-off"),
        use_case(trial.as_("dm"), "data_manager", reason="entered twice") as uc,
    ):
        soft_delete(uc.session, uc.session.get_one(AdverseEvent, ae_id))
        uc.session.flush()


def test_lifting_the_lock_is_signed_with_a_reason_in_the_trail(locked: tuple[Trial, int]) -> None:
    trial, _ae_id = locked
    with pytest.raises(AuthenticationFailed):  # a wrong password (recorded by the auth layer)
        release_data_lock(
            trial.as_("dm"),
            ReleaseDataLock(name="DLT cohort 1", reason="query on AE", password="wrong"),
        )
    with pytest.raises(PermissionDenied):
        release_data_lock(
            trial.as_("coord1"),
            ReleaseDataLock(name="DLT cohort 1", reason="query on AE", password=PASSWORD),
        )
    released = release_data_lock(
        trial.as_("dm"),
        ReleaseDataLock(name="DLT cohort 1", reason="SAE reconciliation", password=PASSWORD),
    )
    assert released.signature.meaning == "data_lock_release"
    assert released.released_by == "dm"
    with trial.factory() as session:
        row = session.scalars(
            select(AuditLog).where(
                AuditLog.table_name == "data_locks", AuditLog.field == "released_at"
            )
        ).one()
    assert (row.username, row.reason) == ("dm", "SAE reconciliation")
    _ae(trial, dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC), term="Nausea")  # writable again
    with pytest.raises(NotFound):
        release_data_lock(
            trial.as_("dm"),
            ReleaseDataLock(name="DLT cohort 1", reason="again", password=PASSWORD),
        )


def test_the_lock_writes_a_checkpoint_outside_the_database(
    locked: tuple[Trial, int], tmp_path: Path
) -> None:
    written = sorted((tmp_path / "checkpoints").glob("checkpoint-*.json"))
    assert len(written) == 1


def _locked_study_in(zone: str, tmp_path: Path, infused: dt.date, cutoff: dt.date) -> Trial:
    """The packaged study in ``zone``: subject S01-001 infused, the data locked at ``cutoff``."""
    text = default_protocol_path().read_text(encoding="utf-8")
    text = text.replace("time_zone: Asia/Shanghai", f"time_zone: {zone}")
    url = f"sqlite:///{tmp_path / 'zoned.db'}"
    upgrade(url)
    trial = build_trial(url, protocol_yaml=text)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", infused)
    lock_data(trial.as_("dm"), LockData(name="interim", data_cutoff=cutoff, password=PASSWORD))
    return trial


def test_dst_transition_days_are_read_in_the_declared_zone(tmp_path: Path) -> None:
    """A study in America/New_York: the spring-forward night (2026-03-08, 02:00 EST -> 03:00 EDT,
    IANA tz database ``northamerica``) and the fall-back night (2026-11-01, 02:00 EDT -> 01:00
    EST). Offsets by hand: EST = UTC-5, EDT = UTC-4."""
    trial = _locked_study_in(
        "America/New_York", tmp_path, dt.date(2026, 2, 20), dt.date(2026, 3, 7)
    )
    # 2026-03-08 04:59 UTC = 2026-03-07 23:59 EST: locked
    with pytest.raises(ValidationFailed, match="2026-03-07 in America/New_York"):
        _ae(trial, dt.datetime(2026, 3, 8, 4, 59, tzinfo=dt.UTC))
    # 2026-03-08 07:30 UTC = 03:30 EDT, just after the gap: the 8th, not locked
    _ae(trial, dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC), term="Nausea")
    # with a caller offset: 2026-03-08 13:00+09:00 = 04:00 UTC = 23:00 EST on the 7th
    with pytest.raises(ValidationFailed, match="cut-off 2026-03-07"):
        _ae(trial, dt.datetime(2026, 3, 8, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    trial.engine.dispose()


def test_a_dst_gap_at_midnight_cannot_slip_a_time_past_the_lock(tmp_path: Path) -> None:
    """A study in America/Santiago: on 2026-09-06 clocks jump from 00:00 (-04) to 01:00 (-03)
    (IANA tz database ``southamerica``, ``Rule Chile 2023 max - Sep Sun>=2 4:00u 1:00``), so the
    local time 2026-09-06 00:30 does not exist: read with the old offset it is 04:30 UTC (the
    6th, after a 2026-09-05 cut-off), with the new one 03:30 UTC (23:30 on the 5th, locked).
    The import refuses it instead of picking one; the times either side fall where they belong."""
    trial = _locked_study_in(
        "America/Santiago", tmp_path, dt.date(2026, 8, 20), dt.date(2026, 9, 5)
    )

    def labs(day: str, time: str) -> Path:
        path = tmp_path / f"labs-{day}-{time.replace(':', '')}.csv"
        path.write_text(
            "subject_id,date,time,lbtestcd,value,unit,lln,uln\n"
            f"S01-001,{day},{time},NEUT,3.1,10^9/L,1.8,7.5\n",
            encoding="utf-8",
        )
        return path

    with pytest.raises(ImportFailed) as gap:
        import_labs(trial.as_("dm"), labs("2026-09-06", "00:30"))
    assert "does not exist in America/Santiago" in str(gap.value.errors)
    with pytest.raises((ImportFailed, ValidationFailed), match="cut-off 2026-09-05"):
        import_labs(trial.as_("dm"), labs("2026-09-05", "23:30"))
    import_labs(trial.as_("dm"), labs("2026-09-06", "01:30"))  # 04:30 UTC: the 6th, unlocked
    with trial.factory() as session:
        stored = list(session.scalars(select(LabResult.collected_at)))
    assert stored == [dt.datetime(2026, 9, 6, 4, 30, tzinfo=dt.UTC)]
    # an offset given by the caller is converted too: 03:30 UTC is 23:30 on the 5th (-04)
    with pytest.raises(ValidationFailed, match="2026-09-05 in America/Santiago"):
        _ae(trial, dt.datetime(2026, 9, 6, 3, 30, tzinfo=dt.UTC))
    trial.engine.dispose()


@pytest.mark.parametrize(
    ("zone", "noon_utc_hour"),
    [
        # New York in January: EST = UTC-5 (IANA tz database ``northamerica``): noon is 17:00 UTC
        ("America/New_York", 17),
        # Shanghai: UTC+8 all year (IANA ``asia``): noon is 04:00 UTC
        ("Asia/Shanghai", 4),
    ],
)
def test_a_date_without_a_time_is_that_day_in_the_study_zone(
    zone: str, noon_utc_hour: int, tmp_path: Path
) -> None:
    """A date-only AE or lab means that calendar day in the study's zone (stored at 12:00 local
    time, converted to UTC): dated the day after the cut-off it is accepted, dated the cut-off day
    refused; the read model shows the date as typed. Before, a date meant 00:00 UTC, which in New
    York is the evening of the previous day, so the day after the cut-off was refused as locked."""
    trial = _locked_study_in(zone, tmp_path, D0, CUTOFF)
    after = CUTOFF + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed, match=f"cut-off {CUTOFF}"):
        _ae(trial, CUTOFF)
    ae_id = _ae(trial, after, term="Nausea")
    lab = RecordLab(
        subject_id="S01-001",
        collected_at=CUTOFF,
        lbtestcd="NEUT",
        value=3.1,
        unit="10^9/L",
        lln=1.8,
    )
    with pytest.raises(ValidationFailed, match=f"cut-off {CUTOFF}"):
        record_lab(trial.as_("coord1"), lab)
    lab_id = record_lab(trial.as_("coord1"), lab.model_copy(update={"collected_at": after})).lab_id
    noon = dt.datetime.combine(after, dt.time(noon_utc_hour), tzinfo=dt.UTC)
    with trial.factory() as session:
        assert session.get_one(AdverseEvent, ae_id).onset_at == noon
        assert session.get_one(LabResult, lab_id).collected_at == noon
    data = trial_data(trial.factory, STUDY)
    onset = data.adverse_events.set_index("ae_id").loc[ae_id, "onset_date"]
    assert onset == pd.Timestamp(after)
    trial.engine.dispose()


def test_a_date_only_lab_import_is_that_day_and_a_reimport_is_a_duplicate(tmp_path: Path) -> None:
    """The CSV import without ``time`` follows the same convention (America/New_York, EST), and
    its duplicate key uses the stored value: the same file again is refused as already there."""
    trial = _locked_study_in("America/New_York", tmp_path, D0, CUTOFF)
    path = tmp_path / "labs.csv"
    path.write_text(
        "subject_id,date,lbtestcd,value,unit,lln,uln\n"
        f"S01-001,{CUTOFF + dt.timedelta(days=1)},NEUT,3.1,10^9/L,1.8,7.5\n",
        encoding="utf-8",
    )
    import_labs(trial.as_("dm"), path)
    with trial.factory() as session:
        stored = list(session.scalars(select(LabResult.collected_at)))
    assert stored == [dt.datetime(2026, 1, 31, 17, 0, tzinfo=dt.UTC)]  # 12:00 EST
    with pytest.raises(ImportFailed, match=r"already imported|duplicate-record"):
        import_labs(trial.as_("dm"), path)
    with trial.factory() as session:
        assert len(list(session.scalars(select(LabResult.id)))) == 1
    trial.engine.dispose()
