"""Import of every record family through the use cases: good files, bad rows, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from record_files import BAD, GOOD
from service_support import STUDY, Trial, build_trial

from cartrial.errors import ImportFailed
from cartrial.services import recorded_rows, trial_data
from cartrial.services.csvrows import MAX_ERRORS
from cartrial.services.imports_records import (
    RECORD_FAMILIES,
    columns_reference,
    import_records,
    import_study,
)

#: The clinical record families (the signed governance ones: tests/services/test_odm_governance.py)
FAMILIES = [name for name, f in RECORD_FAMILIES.items() if f.stage == "record"]


def _snapshot(trial: Trial) -> tuple[int, object]:
    """Audit rows (every write makes some) and every record read back."""
    return trial.audit_rows(), recorded_rows(trial.as_("dm"))


def test_every_family_has_a_good_and_a_bad_file() -> None:
    assert list(GOOD) == FAMILIES
    assert set(BAD) == set(FAMILIES)


def test_good_files_import_family_by_family(trial: Trial, tmp_path: Path) -> None:
    inv = trial.as_("inv")
    for family in FAMILIES:
        path = tmp_path / f"{family}.csv"
        path.write_text(GOOD[family], encoding="utf-8")
        before = trial.audit_rows()
        report = import_records(inv, family, path)
        assert report.kind == family
        assert report.rows == GOOD[family].count("\n") - 1
        assert trial.audit_rows() > before, family
    data = trial_data(trial.factory, STUDY)
    # derived on import exactly as when typed (the same values as tests/services/journey.py):
    assert sorted(data.subjects["dose_level"]) == ["DL1", "DL1"]
    # ASTCT consensus (Lee 2019) CRS: fever alone grade 1; fever + low-flow nasal cannula grade 2
    assert list(data.crs_icans["crs_grade"]) == [1, 2]
    # CTCAE v5.0 (ctcae-5.0 reference §2.1): NEUT 0.4 -> grade 4; PLAT 60 -> grade 2 (<75-50)
    assert sorted(zip(data.labs["lbtestcd"], data.labs["grade"], strict=True)) == [
        ("NEUT", 4),
        ("PLAT", 2),
    ]
    # RECIST 1.1: sum 60 -> 40 mm, -33.3% (>= 30% decrease) = PR
    timepoint = data.tumour_timepoints.iloc[0]
    assert timepoint["overall_response"] == "PR"
    assert round(timepoint["pct_change_from_baseline"], 1) == -33.3
    # the CRS AE's grade course 1 -> 2 -> 0: worst grade 2, resolved on 2026-03-06
    crs = data.adverse_events.set_index("term").loc["Cytokine release syndrome"]
    assert crs["grade"] == 2
    assert str(crs["resolution_date"])[:10] == "2026-03-06"


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_rows_are_all_reported_and_nothing_is_written(
    trial: Trial, tmp_path: Path, family: str
) -> None:
    inv = trial.as_("inv")
    earlier = FAMILIES[: FAMILIES.index(family)]
    if earlier:
        import_study(inv, [(f, GOOD[f]) for f in earlier])
    path = tmp_path / f"{family}.csv"
    text, expected = BAD[family]
    path.write_text(text, encoding="utf-8")
    before = _snapshot(trial)
    with pytest.raises(ImportFailed) as failed:
        import_records(inv, family, path)
    assert failed.value.source == str(path)
    assert [(line, field) for line, field, _ in failed.value.errors] == expected
    assert _snapshot(trial) == before


def test_a_study_imports_in_one_transaction(trial: Trial) -> None:
    reports = import_study(trial.as_("inv"), [(f, GOOD[f]) for f in reversed(FAMILIES)])
    assert [r.kind for r in reports] == FAMILIES


def test_one_bad_row_in_the_last_family_leaves_the_whole_study_out(trial: Trial) -> None:
    before = _snapshot(trial)
    sources = [(f, GOOD[f]) for f in FAMILIES[:-1]]
    sources.append(("withdrawal", BAD["withdrawal"][0]))
    with pytest.raises(ImportFailed) as failed:
        import_study(trial.as_("inv"), sources)
    errors = [(line, field) for line, field, _ in failed.value.errors]
    assert errors == [(2, "reason"), (3, "subject_id")]
    assert _snapshot(trial) == before


def test_site_scope_applies_to_imported_rows(trial: Trial) -> None:
    # coord1 works at S01 only: the S02 subject's screening is refused (use_case site scope)
    with pytest.raises(ImportFailed) as failed:
        import_records(trial.as_("coord1"), "screening", GOOD["screening"])
    assert [(line, field) for line, field, _ in failed.value.errors] == [(3, "subject_id")]


def test_docs_list_the_columns_of_every_family() -> None:
    docs = Path(__file__).parents[2] / "docs" / "import.md"
    assert docs.read_text(encoding="utf-8") == columns_reference() + "\n"


def test_the_report_keeps_the_first_errors_and_counts_the_rest(trial: Trial) -> None:
    rows = "".join(f"S09-{i:03d},2026-02-20\n" for i in range(MAX_ERRORS + 20))
    with pytest.raises(ImportFailed) as failed:
        import_records(trial.as_("inv"), "enrolment", "subject_id,enrolled_date\n" + rows)
    assert [line for line, _, _ in failed.value.errors] == list(range(2, MAX_ERRORS + 2))
    assert failed.value.more == 20
    assert "... and 20 more error(s)" in str(failed.value)


def test_all_or_nothing_on_each_database_backend(migrated_db_url: str) -> None:
    """SQLite and PostgreSQL: a refused row undoes the whole study; the good files then import."""
    target = build_trial(migrated_db_url)
    try:
        inv = target.as_("inv")
        before = _snapshot(target)
        sources = [(f, GOOD[f]) for f in FAMILIES[:-1]]
        with pytest.raises(ImportFailed) as failed:
            import_study(inv, [*sources, ("withdrawal", BAD["withdrawal"][0])])
        errors = [(line, field) for line, field, _ in failed.value.errors]
        assert errors == [(2, "reason"), (3, "subject_id")]
        assert _snapshot(target) == before
        reports = import_study(inv, [*sources, ("withdrawal", GOOD["withdrawal"])])
        assert [r.kind for r in reports] == FAMILIES
        # the 42 rows of record_files.GOOD, the resolved Nausea AE read back as AE + grade change
        assert sum(len(rows) for rows in recorded_rows(target.as_("dm")).values()) == 43
    finally:
        target.engine.dispose()


def test_errors_of_several_files_name_their_file(trial: Trial) -> None:
    sources = [("follow_up", BAD["follow_up"][0]), ("ada", BAD["ada"][0])]
    with pytest.raises(ImportFailed) as failed:
        import_study(trial.as_("inv"), sources)
    # the files in the order given, each file's errors by line
    assert [(line, field) for line, field, _ in failed.value.errors] == [
        (2, "<follow_up csv text>: status"),
        (3, "<follow_up csv text>: subject_id"),
        (2, "<ada csv text>: screen"),
        (3, "<ada csv text>: subject_id"),
    ]
