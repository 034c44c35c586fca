"""CDISC Dataset-JSON v1.1 files of the CDISC datasets, validated against the standard's schema.

The layout follows the CDISC Dataset-JSON v1.1 specification (CDISC Data Exchange Standards Team,
final 2024-12-05): top-level attributes in the specified order (creation time, version, file OID,
source system, study and metadata-version OIDs, the item group OID, records, name, label), one
``columns`` entry per variable (item OID, name, label, data type, length, display format, key
sequence) and ``rows`` as arrays of values, ``null`` for a missing value. SDTM dates are ISO 8601
strings (data type ``date``); ADaM numeric dates are written as ISO 8601 strings with
``targetDataType: "integer"`` and the ``E8601DA.`` display format, as the specification shows.

``data/cdisc/dataset-json-1.1.schema.json`` is a JSON Schema written from the specification's
attribute tables (types, required attributes, enumerations and patterns);
:func:`validate_dataset_json` checks a document against it with ``jsonschema``.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from cartrial import __version__
from cartrial.errors import ExchangeError
from cartrial.exchange.metadata import DatasetSpec
from cartrial.exchange.text import distinct

__all__ = [
    "DatasetJsonWriter",
    "dataset_columns",
    "dataset_header",
    "dataset_json",
    "dataset_rows",
    "validate_dataset_json",
    "write_dataset_json",
]


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("cartrial.data.cdisc").joinpath("dataset-json-1.1.schema.json")
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return schema


def _column(spec: DatasetSpec, index: int, frame: pd.DataFrame) -> dict[str, Any]:
    variable = spec.variables[index]
    column: dict[str, Any] = {
        "itemOID": f"IT.{spec.name}.{variable.name}",
        "name": variable.name,
        "label": variable.label,
    }
    if variable.is_date:
        column.update(dataType="date", targetDataType="integer", displayFormat="E8601DA.")
    elif variable.type == "Num":
        values = frame[variable.name].dropna()
        whole = bool(len(values)) and bool((values == values.round()).all())
        column["dataType"] = "integer" if whole and variable.name.endswith("SEQ") else "double"
    else:
        column["dataType"] = "date" if variable.codelist == "ISO8601" else "string"
        distinct = pd.unique(frame[variable.name].dropna().astype(str))
        column["length"] = max([1, *map(len, distinct)])
    if variable.name in spec.keys:
        column["keySequence"] = spec.keys.index(variable.name) + 1
    return column


def dataset_columns(frame: pd.DataFrame, spec: DatasetSpec) -> list[dict[str, Any]]:
    """The ``columns`` of ``frame`` (or of its witness rows, :mod:`cartrial.exchange.chunks`)."""
    return [_column(spec, i, frame) for i in range(len(spec.variables))]


def _values(values: pd.Series, column: dict[str, Any]) -> list[object]:
    """One column's values as JSON values, converted column-wise (``None`` when missing)."""
    missing = values.isna().to_numpy()
    if column.get("targetDataType") == "integer":
        days = values.to_numpy(dtype=float, na_value=np.nan)
        dates = np.datetime64("1960-01-01") + np.nan_to_num(days).astype("timedelta64[D]")
        converted = np.datetime_as_string(dates, unit="D").astype(object)
    elif column["dataType"] == "integer":
        whole = values.to_numpy(dtype=float, na_value=0.0).astype(np.int64)
        converted = whole.astype(object)
    elif column["dataType"] == "double":
        converted = values.to_numpy(dtype=float, na_value=np.nan).astype(object)
    else:
        codes, texts = distinct(values)
        with_missing = np.empty(len(texts) + 1, dtype=object)
        with_missing[:-1] = texts  # the code -1 of a missing value picks the last: None
        return list(with_missing[codes])
    converted[missing] = None
    return list(converted)


def dataset_rows(frame: pd.DataFrame, columns: list[dict[str, Any]]) -> list[list[object]]:
    """The ``rows`` of ``frame``: one list of values per record, in the order of ``columns``."""
    values = [_values(frame[column["name"]], column) for column in columns]
    return [list(row) for row in zip(*values, strict=True)] if values else []


def dataset_header(
    spec: DatasetSpec,
    columns: list[dict[str, Any]],
    records: int,
    *,
    study_id: str,
    created: dt.datetime,
    data_cutoff: dt.date,
) -> dict[str, Any]:
    """The document's attributes and ``columns``, with ``rows`` last and empty (module doc)."""
    standard = "SDTM" if spec.standard == "SDTM" else "ADAM"
    return {
        "datasetJSONCreationDateTime": created.isoformat(timespec="seconds"),
        "datasetJSONVersion": "1.1.0",
        "fileOID": f"cartrial.{study_id}.{standard}.{spec.name}",
        "dbLastModifiedDateTime": dt.datetime.combine(data_cutoff, dt.time()).isoformat(),
        "originator": "cartrial",
        "sourceSystem": {"name": "cartrial", "version": __version__},
        "studyOID": study_id,
        "metaDataVersionOID": f"MDV.{study_id}.{standard}",
        "metaDataRef": "define.xml",
        "itemGroupOID": f"IG.{spec.name}",
        "records": records,
        "name": spec.name,
        "label": spec.label,
        "columns": columns,
        "rows": [],
    }


def dataset_json(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    study_id: str,
    created: dt.datetime,
    data_cutoff: dt.date,
) -> dict[str, Any]:
    """The Dataset-JSON v1.1 document of ``frame`` (module docstring)."""
    columns = dataset_columns(frame, spec)
    document = dataset_header(
        spec, columns, len(frame), study_id=study_id, created=created, data_cutoff=data_cutoff
    )
    document["rows"] = dataset_rows(frame, columns)
    return document


class DatasetJsonWriter:
    """Write a Dataset-JSON document to ``path`` with its rows appended chunk by chunk.

    The file is the bytes of ``json.dumps(document, ensure_ascii=False)`` of the whole document:
    the header (:func:`dataset_header`, checked against the schema when the writer opens) up to
    ``"rows": [``, each chunk's rows, then ``]}``. The rows' part of the schema (every value a
    string, number or null, one per column) holds by construction (:func:`dataset_rows`).
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._file: TextIO | None = None
        self._rows = 0

    def __enter__(self) -> DatasetJsonWriter:
        problems = validate_dataset_json({**self.header, "records": 0})
        if problems:
            raise ExchangeError(
                f"{self.header.get('name')}: not valid Dataset-JSON v1.1:\n  "
                + "\n  ".join(problems[:20])
            )
        text = json.dumps(self.header, ensure_ascii=False)
        self._file = self.path.open("w", encoding="utf-8")
        self._file.write(text.removesuffix("[]}") + "[")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame``."""
        assert self._file is not None, "use DatasetJsonWriter as a context manager"
        if frame.empty:
            return
        text = json.dumps(dataset_rows(frame, self.header["columns"]), ensure_ascii=False)
        self._file.write((", " if self._rows else "") + text[1:-1])
        self._rows += len(frame)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        assert self._file is not None
        self._file.write("]}")
        self._file.close()
        self._file = None
        if kind is None and self._rows != self.header["records"]:
            raise ExchangeError(
                f"{self.header['name']}: {self._rows} rows written, not the "
                f"{self.header['records']} announced"
            )


def validate_dataset_json(document: dict[str, Any]) -> list[str]:
    """Every way ``document`` breaks the Dataset-JSON v1.1 schema (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '<document>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
    width = len(document.get("columns", []))
    bad = [i + 1 for i, row in enumerate(document.get("rows", [])) if len(row) != width]
    if bad:
        problems.append(f"rows {bad[:5]} do not have one value per column")
    if document.get("records") != len(document.get("rows", [])):
        problems.append("records does not equal the number of rows")
    return problems


def write_dataset_json(document: dict[str, Any], path: Path) -> Path:
    """Validate ``document`` and write it as UTF-8 JSON to ``path``.

    Raises
    ------
    ExchangeError
        When the document breaks the schema; nothing is written.
    """
    problems = validate_dataset_json(document)
    if problems:
        raise ExchangeError(
            f"{document.get('name')}: not valid Dataset-JSON v1.1:\n  " + "\n  ".join(problems[:20])
        )
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path
