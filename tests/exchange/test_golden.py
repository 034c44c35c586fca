"""The exported files of the hand-made trial, byte for byte (a guard for speed work), and an export
that raises no numpy floating point warning.

``tests/reference/exchange/golden_sha256.json`` holds the SHA-256 of every file of the SDTM and
ADaM packages of the seven-subject trial of ``conftest.py`` in each format, written with a fixed
creation time. It was recorded before the export was made faster (issue 16, performance); a
change that is meant to alter the files (a new domain or variable) records them anew::

    CARTRIAL_GOLDEN=write python -m pytest -q -p no:cacheprovider tests/exchange/test_golden.py

and says why in its commit. Any other change must leave every digest as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas.core.arrays.timedeltas as pandas_timedeltas
import pandas.core.tools.datetimes as pandas_datetimes
import pytest
from pandas._libs.tslibs.conversion import cast_from_unit_vectorized

from cartrial.analysis import TrialData
from cartrial.exchange import write_packages

GOLDEN = Path(__file__).parents[1] / "reference" / "exchange" / "golden_sha256.json"
CREATED = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)


def _digests(trial: TrialData, folder: Path) -> dict[str, str]:
    found = {}
    for fmt in ("xpt", "json", "csv"):
        write_packages(
            trial,
            {"sdtm": folder / fmt / "sdtm", "adam": folder / fmt / "adam"},
            fmt,  # type: ignore[arg-type]
            created=CREATED,
            chunk_subjects=4,  # two chunks: the chunked path
        )
        for path in sorted((folder / fmt).rglob("*.*")):
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return found


def test_exported_files_are_the_recorded_bytes(trial: TrialData, tmp_path: Path) -> None:
    found = _digests(trial, tmp_path)
    if os.environ.get("CARTRIAL_GOLDEN") == "write":
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    names = expected.keys() | found.keys()
    changed = sorted(name for name in names if expected.get(name) != found.get(name))
    assert not changed, f"files that differ from {GOLDEN.name}: {changed}"


@pytest.fixture
def no_nan_to_pandas_units(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """pandas' float-with-unit conversion, made to fail on a NaN (it reads uninitialised
    memory for one: :mod:`cartrial.analysis.days`); the sizes of the arrays it converted."""
    sizes: list[int] = []

    def guarded(values: np.ndarray, unit: str, out_unit: str = "ns") -> np.ndarray:
        assert not np.isnan(values).any(), "a NaN passed to pandas' cast_from_unit_vectorized"
        sizes.append(len(values))
        return cast_from_unit_vectorized(values, unit, out_unit)

    monkeypatch.setattr(pandas_timedeltas, "cast_from_unit_vectorized", guarded)
    monkeypatch.setattr(pandas_datetimes, "cast_from_unit_vectorized", guarded)
    return sizes


@pytest.mark.parametrize("fmt", ["xpt", "json", "csv"])
def test_export_raises_no_floating_point_warning(
    trial: TrialData, tmp_path: Path, fmt: str, no_nan_to_pandas_units: list[int]
) -> None:
    # every numpy floating point error raises (not only warns) during the export, and no NaN
    # reaches the pandas conversion that multiplies uninitialised memory (the RuntimeWarning
    # "overflow encountered in multiply" of some 100,000-subject runs)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        write_packages(
            trial,
            {"sdtm": tmp_path / "sdtm", "adam": tmp_path / "adam"},
            fmt,  # type: ignore[arg-type]
            created=CREATED,
            chunk_subjects=4,
        )
    assert no_nan_to_pandas_units  # the guard saw the conversions (best response dates)
