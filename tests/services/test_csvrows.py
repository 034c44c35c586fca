"""CSV row parsing of bulk imports: typed rows, or every bad row and field reported at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cartrial.errors import ImportFailed
from cartrial.services.csvrows import KineticsRow, LabRow, LesionRow, parse_rows


def test_lab_rows_are_typed_and_blank_cells_are_missing() -> None:
    text = "subject_id,date,lbtestcd,value,unit,lln,uln\nS-001,2026-01-05,NEUT,0.4,10^9/L,1.8,\n"
    rows = parse_rows(text, LabRow)
    assert rows == [
        LabRow(
            subject_id="S-001",
            date=dt.date(2026, 1, 5),
            lbtestcd="NEUT",
            value=0.4,
            unit="10^9/L",
            lln=1.8,
            uln=None,
        )
    ]


def test_every_bad_row_is_reported_with_its_field(tmp_path: Path) -> None:
    path = tmp_path / "labs.csv"
    path.write_text(
        "subject_id,date,lbtestcd,value,unit\n"
        "S-001,2026-01-05,NEUT,0.4,10^9/L\n"
        "S-001,2026-13-05,NEUT,0.4,10^9/L\n"
        "S-002,2026-01-05,PLAT,lots,10^9/L\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as info:
        parse_rows(path, LabRow)
    # header is row 1, so the bad data lines are rows 3 and 4
    assert [(row, field) for row, field, _ in info.value.errors] == [(3, "date"), (4, "value")]
    assert str(path) in str(info.value)


def test_missing_and_unknown_columns_are_row_one() -> None:
    with pytest.raises(ImportFailed) as info:
        parse_rows(
            "subject_id,date,value,unit,colour\nS-1,2026-01-01,1,cells/uL,red\n", KineticsRow
        )
    assert info.value.errors == [
        (1, "lloq", "required column is missing"),
        (1, "colour", "unknown column"),
    ]


def test_lesion_vocabularies_are_enforced() -> None:
    text = (
        "subject_id,assessment_date,lesion_id,category,organ,is_lymph_node,diameter_mm,status\n"
        "S-1,2026-01-01,T1,target,liver,false,23.5,present\n"
        "S-1,2026-01-01,T2,tumour,liver,false,-1,present\n"
    )
    with pytest.raises(ImportFailed) as info:
        parse_rows(text, LesionRow)
    assert [(r, f) for r, f, _ in info.value.errors] == [(3, "category"), (3, "diameter_mm")]


def test_a_file_without_data_rows_is_rejected() -> None:
    with pytest.raises(ImportFailed, match="no data rows"):
        parse_rows("subject_id,date,value,unit,lloq\n", KineticsRow)


def test_an_unreadable_file_is_an_import_failure(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="cannot read"):
        parse_rows(tmp_path / "absent.csv", KineticsRow)
