"""Files: SAS transport v5 read back by pyreadstat and pandas.read_sas, Dataset-JSON v1.1 against
its schema, the transport limits refused before anything is written, and CSV."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from cartrial.analysis import TrialData
from cartrial.errors import ExchangeError
from cartrial.exchange import dataset_spec, write_package
from cartrial.exchange.datasetjson import dataset_json, validate_dataset_json
from cartrial.exchange.transport import transport_problems, write_xpt

CREATED = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def xpt_folder(trial: TrialData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adam-xpt")
    write_package(trial, "adam", out, "xpt")
    return out


def test_xpt_round_trip_through_pyreadstat(xpt_folder: Path, adam: dict[str, pd.DataFrame]) -> None:
    for name, frame in adam.items():
        data, meta = pyreadstat.read_xport(str(xpt_folder / f"{name.lower()}.xpt"))
        spec = dataset_spec(name)
        assert meta.table_name == name and meta.file_label == spec.label
        assert meta.column_names == list(spec.columns)
        assert meta.column_labels == [v.label for v in spec.variables]
        for variable in spec.variables:
            column = data[variable.name]
            expected = frame[variable.name]
            if variable.is_date:
                assert meta.original_variable_types[variable.name] == "DATE9."
                got = (pd.to_datetime(column) - pd.Timestamp("1960-01-01")).dt.days
                assert got.astype(float).equals(expected.astype(float)), variable.name
            elif variable.type == "Num":
                pd.testing.assert_series_equal(column.astype(float), expected, check_names=False)
            else:
                assert list(column) == [("" if v is None else v) for v in expected], variable.name
                width = max([1, *(len(str(v)) for v in expected.dropna())])
                assert meta.variable_storage_width[variable.name] >= width


def test_xpt_read_by_pandas(xpt_folder: Path, adam: dict[str, pd.DataFrame]) -> None:
    data = pd.read_sas(xpt_folder / "adsl.xpt", format="xport", encoding="ascii")
    assert list(data.columns) == list(dataset_spec("ADSL").columns)
    assert list(data["USUBJID"]) == list(adam["ADSL"]["USUBJID"])
    assert list(data["TRTSDT"].dropna()) == list(adam["ADSL"]["TRTSDT"].dropna())


def test_transport_limits_are_refused_before_writing(
    adam: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    spec = dataset_spec("ADSL")
    frame = adam["ADSL"].copy()
    frame.loc[0, "DTHCAUS"] = "x" * 201
    frame.loc[1, "DTHCAUS"] = "métastases"
    problems = transport_problems(frame, spec)
    assert any("DTHCAUS row 1: 201 bytes" in p for p in problems)
    assert any("DTHCAUS row 2: non-ASCII" in p for p in problems)
    with pytest.raises(ExchangeError, match="cannot be written as SAS transport v5"):
        write_xpt(frame, spec, tmp_path / "adsl.xpt")
    assert not (tmp_path / "adsl.xpt").exists()


def test_dataset_json_is_valid_and_carries_the_values(
    trial: TrialData, sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]
) -> None:
    document = dataset_json(
        adam["ADSL"],
        dataset_spec("ADSL"),
        study_id="S",
        created=CREATED,
        data_cutoff=dt.date(2026, 1, 5),
    )
    assert validate_dataset_json(document) == []
    columns = {c["name"]: c for c in document["columns"]}
    assert columns["TRTSDT"]["targetDataType"] == "integer"
    assert columns["USUBJID"]["keySequence"] == 2
    row = dict(zip(columns, document["rows"][0], strict=True))
    assert row["TRTSDT"] == "2025-01-06" and row["SAFFL"] == "Y"
    dm = dataset_json(
        sdtm["DM"],
        dataset_spec("DM"),
        study_id="S",
        created=CREATED,
        data_cutoff=dt.date(2026, 1, 5),
    )
    # seven enrolled subjects and the screen failure S08 (tests/exchange/records.py)
    assert validate_dataset_json(dm) == [] and dm["records"] == 8


def test_dataset_json_schema_catches_a_broken_document(adam: dict[str, pd.DataFrame]) -> None:
    document = dataset_json(
        adam["ADSL"],
        dataset_spec("ADSL"),
        study_id="S",
        created=CREATED,
        data_cutoff=dt.date(2026, 1, 5),
    )
    broken = copy.deepcopy(document)
    broken["columns"][0]["dataType"] = "text"
    del broken["itemGroupOID"]
    broken["records"] = 99
    problems = validate_dataset_json(broken)
    assert any("itemGroupOID" in p for p in problems)
    assert any("'text' is not one of" in p for p in problems)
    assert any("records does not equal" in p for p in problems)


def test_json_and_csv_packages(trial: TrialData, tmp_path: Path) -> None:
    report = write_package(trial, "sdtm", tmp_path / "json", "json", created=CREATED)
    assert report.errors == ()
    dm = json.loads((tmp_path / "json" / "dm.json").read_text(encoding="utf-8"))
    assert dm["name"] == "DM" and dm["datasetJSONCreationDateTime"] == "2026-01-06T09:30:00+00:00"
    csv_report = write_package(trial, "adam", tmp_path / "csv", "csv")
    adsl = pd.read_csv(tmp_path / "csv" / "adsl.csv")
    assert adsl.loc[0, "TRTSDT"] == "2025-01-06"
    assert csv_report.records["ADSL"] == 7
    findings = json.loads((tmp_path / "csv" / "conformance.json").read_text(encoding="utf-8"))
    assert all(f["severity"] == "note" for f in findings)


def test_unknown_format_is_refused(trial: TrialData, tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match="unknown format"):
        write_package(trial, "sdtm", tmp_path, "sas7bdat")  # type: ignore[arg-type]
