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
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from cartrial import __version__
from cartrial.errors import ExchangeError
from cartrial.exchange.metadata import DatasetSpec

__all__ = ["dataset_json", "validate_dataset_json", "write_dataset_json"]


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


def _value(value: object, column: dict[str, Any]) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column.get("targetDataType") == "integer":
        return (dt.date(1960, 1, 1) + dt.timedelta(days=int(value))).isoformat()  # type: ignore[call-overload]
    if column["dataType"] == "integer":
        return int(value)  # type: ignore[call-overload]
    if column["dataType"] == "double":
        return float(value)  # type: ignore[arg-type]
    return str(value)


def dataset_json(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    study_id: str,
    created: dt.datetime,
    data_cutoff: dt.date,
) -> dict[str, Any]:
    """The Dataset-JSON v1.1 document of ``frame`` (module docstring)."""
    columns = [_column(spec, i, frame) for i in range(len(spec.variables))]
    rows = [
        [_value(value, column) for value, column in zip(record, columns, strict=True)]
        for record in frame.itertuples(index=False, name=None)
    ]
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
        "records": len(rows),
        "name": spec.name,
        "label": spec.label,
        "columns": columns,
        "rows": rows,
    }


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
