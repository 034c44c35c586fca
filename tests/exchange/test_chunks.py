"""The export chunk by chunk of subjects: the same files as in one piece, XPT bytes as pyreadstat
writes them, conformance counts added up across chunks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cartrial.analysis import TrialData
from cartrial.errors import ExchangeError
from cartrial.exchange import check_datasets, dataset_spec, write_packages
from cartrial.exchange.chunks import subject_chunks
from cartrial.exchange.transport import write_xpt
from cartrial.exchange.xport import ibm_double

CREATED = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)
#: The creation/modification stamps of an XPT header (``06JAN26:09:30:00``).
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


@pytest.mark.parametrize("fmt", ["xpt", "json", "csv"])
def test_chunks_of_any_size_write_the_same_files(
    trial: TrialData, tmp_path: Path, fmt: str
) -> None:
    whole = write_packages(
        trial,
        {"sdtm": tmp_path / "whole" / "sdtm", "adam": tmp_path / "whole" / "adam"},
        fmt,  # type: ignore[arg-type]
        created=CREATED,
    )
    expected = _files(tmp_path / "whole")
    assert {"sdtm/dm." + fmt, "adam/adsl." + fmt, "sdtm/define.xml"} <= set(expected)
    for size in (3,):  # chunks of 3, 3 and 1 subjects
        folder = tmp_path / f"by{size}"
        chunked = write_packages(
            trial,
            {"sdtm": folder / "sdtm", "adam": folder / "adam"},
            fmt,  # type: ignore[arg-type]
            created=CREATED,
            chunk_subjects=size,
        )
        assert _files(folder) == expected, size
        for one, other in zip(whole, chunked, strict=True):
            assert one.records == other.records and one.findings == other.findings


def test_every_record_is_in_exactly_one_chunk(trial: TrialData) -> None:
    chunks = list(subject_chunks(trial, 3))
    assert len(chunks) == 3  # seven subjects: 3 + 3 + 1
    for field in ("subjects", "adverse_events", "labs", "lesions", "kinetics"):
        parts = [getattr(c, field) for c in chunks]
        subjects = [set(p["subject_id"]) for p in parts]
        assert all(not a & b for i, a in enumerate(subjects) for b in subjects[i + 1 :])
        together = pd.concat(parts, ignore_index=True)
        original = getattr(trial, field)
        key = ["subject_id", *[c for c in original.columns if c != "subject_id"][:1]]
        assert len(together) == len(original)
        # within a subject, records keep their order
        for subject, rows in original.groupby("subject_id", sort=False):
            mine = together.loc[together["subject_id"] == subject, key]
            assert mine.reset_index(drop=True).equals(rows[key].reset_index(drop=True))
    assert chunks[0].dose_decisions is trial.dose_decisions  # study-level tables pass whole


def test_xpt_bytes_are_those_pyreadstat_writes(
    sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    # pyreadstat (ReadStat's C writer) is the independent reference: same frame, same bytes,
    # the header timestamps aside
    for name, frame in {**sdtm, **adam}.items():
        spec = dataset_spec(name)
        ours = write_xpt(frame, spec, tmp_path / f"{name}.xpt", created=CREATED).read_bytes()
        data = frame.copy()
        for variable in spec.variables:
            if variable.type == "Char":
                data[variable.name] = data[variable.name].fillna("").astype(str)
        reference = tmp_path / f"{name}-pyreadstat.xpt"
        pyreadstat.write_xport(
            data,
            str(reference),
            file_label=spec.label,
            column_labels=[v.label for v in spec.variables],
            table_name=spec.name,
            file_format_version=5,
            variable_format={v.name: v.format.rstrip(".") for v in spec.variables if v.format},
        )
        theirs = reference.read_bytes()
        assert _STAMP.sub(b"", ours) == _STAMP.sub(b"", theirs), name
        if len(frame):  # pandas' reader raises StopIteration on a file without records
            read = pd.read_sas(tmp_path / f"{name}.xpt", format="xport", encoding="ascii")
            assert list(read.columns) == list(spec.columns) and len(read) == len(frame)


def test_ibm_doubles_of_known_values() -> None:
    # IBM System/360 hexadecimal floating point: 1 = X'4110000000000000', -3 = X'C130...',
    # 0.1 = X'401999999999999A' (the IEEE significand shifted, TS-140), missing = '.' then zeros
    values = np.array([1.0, -3.0, 0.1, 0.0, np.nan, 23000.0])
    got = [bytes(row).hex() for row in ibm_double(values)]
    assert got == [
        "4110000000000000",
        "c130000000000000",
        "401999999999999a",
        "0000000000000000",
        "2e00000000000000",
        "4459d80000000000",
    ]
    with pytest.raises(ExchangeError, match="outside the range"):
        ibm_double(np.array([1e300]))


def test_conformance_counts_add_up_across_chunks(trial: TrialData, tmp_path: Path) -> None:
    # a duplicated --SEQ and an unknown sex in two different chunks are counted once each
    subjects = trial.subjects.copy()
    subjects.loc[subjects.index[-1], "sex"] = "Q"
    broken = dataclasses.replace(trial, subjects=subjects)
    [report] = write_packages(broken, {"sdtm": tmp_path / "sdtm"}, "csv", chunk_subjects=4)
    from cartrial.exchange import build_sdtm

    assert list(report.findings) == check_datasets(build_sdtm(broken))
    sex = [f for f in report.findings if f.variable == "SEX" and f.rule == "codelist"]
    assert [f.rows for f in sex] == [1]


def test_a_refused_export_writes_nothing(trial: TrialData, tmp_path: Path) -> None:
    subjects = trial.subjects.copy()
    subjects.loc[subjects.index[-1], "sex"] = "é"
    broken = dataclasses.replace(trial, subjects=subjects)
    with pytest.raises(ExchangeError, match="DM: SEX row 7: non-ASCII"):
        write_packages(broken, {"sdtm": tmp_path / "sdtm"}, "xpt", chunk_subjects=4)
    assert not (tmp_path / "sdtm").exists()
    assert list(tmp_path.iterdir()) == []
