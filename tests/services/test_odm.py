"""CDISC ODM 1.3: export every record family, import into a fresh database, export again."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pydantic import BaseModel
from record_files import GOOD
from service_support import Trial, build_trial

from cartrial.errors import ImportFailed
from cartrial.services.imports_records import RECORD_FAMILIES, import_study
from cartrial.services.odm import ODM_NS, export_odm, import_odm
from cartrial.services.odm_check import odm_problems
from cartrial.services.records_read import recorded_rows
from cartrial.store import make_engine, session_factory

CREATED = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.UTC)
#: The clinical record families (the signed governance ones: test_odm_governance.py)
CLINICAL = [name for name, f in RECORD_FAMILIES.items() if f.stage == "record"]
NS = {"odm": ODM_NS}


@pytest.fixture
def fresh(template_db: Path, tmp_path: Path) -> Iterator[Trial]:
    """A second, empty copy of the study (the database a study moves into)."""
    path = tmp_path / "fresh.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Trial(engine=engine, factory=session_factory(engine))
    engine.dispose()


@pytest.fixture
def full(trial: Trial) -> Trial:
    import_study(trial.as_("inv"), [(f, GOOD[f]) for f in CLINICAL])
    return trial


def test_export_has_one_form_and_item_group_per_family(full: Trial) -> None:
    root = etree.fromstring(export_odm(full.as_("dm"), created=CREATED))
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert mdv is not None
    forms = [f.get("Name") for f in mdv.iterfind("odm:FormDef", NS)]
    groups = [g.get("Name") for g in mdv.iterfind("odm:ItemGroupDef", NS)]
    # study-level families (dose and governance decisions) are ReferenceData: no form
    forms_expected = [f for f, spec in RECORD_FAMILIES.items() if spec.stage != "decision"]
    assert forms == forms_expected
    assert groups == list(RECORD_FAMILIES)
    types = {i.get("OID"): i.get("DataType") for i in mdv.iterfind("odm:ItemDef", NS)}
    # one ItemDef per row field (the subject id is the SubjectKey)
    assert len(types) == sum(
        len(f.row.model_fields) - ("subject_id" in f.row.model_fields)
        for f in RECORD_FAMILIES.values()
    )
    assert types["IT.SCREENING.CLDN18_IHC_INTENSITY"] == "integer"
    assert types["IT.SCREENING.CLDN18_IHC_PCT"] == "float"
    assert types["IT.SCREENING.SCREENING_DATE"] == "date"
    assert types["IT.INFUSION.INFUSED_AT"] == "datetime"
    assert types["IT.ADVERSE_EVENTS.SERIOUS"] == "boolean"
    assert types["IT.ADVERSE_EVENTS.TERM"] == "text"
    subjects = [s.get("SubjectKey") for s in root.iterfind("odm:ClinicalData/odm:SubjectData", NS)]
    assert subjects == ["S01-101", "S02-101"]
    # every data row of record_files.GOOD is one ItemGroupData, plus one: the Nausea AE typed
    # as resolved is written in canonical form, onset record + grade change to 0
    groups_written = root.findall(".//odm:ItemGroupData", NS)
    assert len(groups_written) == sum(text.count("\n") - 1 for text in GOOD.values()) + 1


def test_round_trip_is_identical(full: Trial, fresh: Trial, tmp_path: Path) -> None:
    first = export_odm(full.as_("dm"), created=CREATED)
    path = tmp_path / "study.xml"
    path.write_bytes(first)
    reports = import_odm(fresh.as_("inv"), path)
    assert [r.kind for r in reports] == CLINICAL
    assert recorded_rows(fresh.as_("dm")) == recorded_rows(full.as_("dm"))
    assert export_odm(fresh.as_("dm"), created=CREATED) == first


def test_bad_item_groups_are_reported_by_line_and_nothing_is_written(
    full: Trial, fresh: Trial, tmp_path: Path
) -> None:
    text = export_odm(full.as_("dm"), created=CREATED).decode()
    text = text.replace(
        'ItemOID="IT.ENROLMENT.ENROLLED_DATE" Value="2026-02-20"',
        'ItemOID="IT.ENROLMENT.ENROLLED_DATE" Value="someday"',
        1,
    )
    text = text.replace('ItemOID="IT.LABS.LBTESTCD" Value', 'ItemOID="IT.LABS.NOSUCH" Value', 1)
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    bad_date = next(i for i, line in enumerate(lines, 1) if "someday" in line) - 1
    bad_item = next(i for i, line in enumerate(lines, 1) if "IT.LABS.NOSUCH" in line)
    before = fresh.audit_rows()
    with pytest.raises(ImportFailed) as failed:
        import_odm(fresh.as_("inv"), path)
    found = {(line, field) for line, field, _ in failed.value.errors}
    # the enrolment's ItemGroupData opens one line above its (only) ItemData
    assert (bad_date, "enrolled_date") in found
    assert (bad_item, "ItemOID") in found
    assert fresh.audit_rows() == before
    assert recorded_rows(fresh.as_("dm")) == {}


def test_not_odm_is_refused_with_its_line(fresh: Trial, tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<?xml version='1.0'?>\n<ODM>\n<broken></ODM>\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_odm(fresh.as_("inv"), path)
    assert failed.value.errors[0][0] == 3


def test_the_export_reads_back_what_was_imported(full: Trial) -> None:
    rows = recorded_rows(full.as_("dm"))
    for family, text in GOOD.items():
        if family in ("adverse_events", "grade_changes"):
            continue  # canonical form: see test_export_has_one_form_and_item_group_per_family
        model = RECORD_FAMILIES[family].row
        expected = [model.model_validate(cells) for cells in csv.DictReader(io.StringIO(text))]
        expected = [_study_noon(r) for r in expected]
        key = lambda r: str(r.subject_id)  # noqa: E731 - rows come out by subject
        assert sorted(rows[family], key=key) == sorted(expected, key=key), family
    nausea = next(r for r in rows["adverse_events"] if r.term == "Nausea")
    assert (nausea.grade, nausea.resolved_at) == (1, None)
    resolved = [r for r in rows["grade_changes"] if r.term == "Nausea"]
    assert [(r.grade, r.changed_at, r.outcome) for r in resolved] == [
        (0, dt.datetime(2026, 3, 6, 4, tzinfo=dt.UTC), "recovered")  # 12:00 in Shanghai
    ]


def _study_noon(row: BaseModel) -> BaseModel:
    """A lab or sample typed with a date only is that day in the study's zone, stored at 12:00
    local time (UseCase.study_time): the packaged protocol's Asia/Shanghai is UTC+8 all year
    (IANA tz database ``asia``), so 04:00 UTC of that day."""
    when = getattr(row, "collected_at", None)
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        noon = dt.datetime.combine(when, dt.time(4), tzinfo=dt.UTC)
        return row.model_copy(update={"collected_at": noon})
    return row


def test_a_study_moves_into_each_database_backend(
    fresh: Trial, migrated_db_url: str, tmp_path: Path
) -> None:
    """SQLite -> ODM -> a fresh SQLite or PostgreSQL database -> ODM: identical; bad rows: none."""
    # the source is `fresh` (fresh.db): migrated_db_url's SQLite file is tmp_path/trial.db
    import_study(fresh.as_("inv"), [(f, GOOD[f]) for f in CLINICAL])
    target = build_trial(migrated_db_url)
    try:
        first = export_odm(fresh.as_("dm"), created=CREATED)
        bad = tmp_path / "bad.xml"
        bad.write_bytes(first.replace(b'Value="DL1"', b'Value="DL7"'))
        before = target.audit_rows()
        with pytest.raises(ImportFailed) as failed:
            import_odm(target.as_("inv"), bad)
        assert {field for _, field, _ in failed.value.errors} >= {"dose_level"}
        assert target.audit_rows() == before
        assert recorded_rows(target.as_("dm")) == {}
        path = tmp_path / "study.xml"
        path.write_bytes(first)
        import_odm(target.as_("inv"), path)
        assert export_odm(target.as_("dm"), created=CREATED) == first
    finally:
        target.engine.dispose()


def test_the_export_is_valid_odm_1_3_2(full: Trial) -> None:
    # the schema and reference checks of services.odm_check (ODM 1.3.2 specification)
    assert odm_problems(export_odm(full.as_("dm"), created=CREATED)) == []


def test_the_odm_check_finds_schema_reference_and_value_errors(full: Trial) -> None:
    text = export_odm(full.as_("dm"), created=CREATED)
    wrong_type = text.replace(b'FileType="Snapshot"', b'FileType="Copy"', 1)
    assert any("FileType" in p for p in odm_problems(wrong_type))
    no_item = text.replace(b'ItemOID="IT.LABS.VALUE"', b'ItemOID="IT.LABS.NOPE"', 1)
    assert any("'IT.LABS.NOPE' has no ItemDef" in p for p in odm_problems(no_item))
    root = etree.fromstring(text)
    datum = root.find(".//odm:ItemData[@ItemOID='IT.SCREENING.CLDN18_IHC_PCT']", NS)
    assert datum is not None
    datum.set("Value", "seventy")
    problems = odm_problems(etree.tostring(root))
    assert any("IT.SCREENING.CLDN18_IHC_PCT 'seventy' is not float" in p for p in problems)
