"""SAS transport v5 (XPT) and CSV files of the CDISC datasets, checked before they are written.

SAS transport version 5 (the format the FDA Study Data Technical Conformance Guide requires) limits
dataset and variable names to 8 characters, labels to 40 and character values to 200 bytes, and
holds ASCII text only. :func:`transport_problems` lists every breach of those limits for one
dataset in one pass; :func:`write_xpt` refuses to write a dataset that has any, naming the dataset,
variable, row and limit. The file itself is written by pyreadstat (``file_format_version=5``);
numeric ADaM dates carry the ``DATE9.`` format so that SAS, R and pandas read them as dates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cartrial.errors import ExchangeError
from cartrial.exchange.metadata import DatasetSpec

__all__ = ["MAX_CHAR_BYTES", "transport_problems", "write_csv", "write_xpt"]

#: The longest character value SAS transport v5 holds (bytes).
MAX_CHAR_BYTES = 200
_MAX_NAME = 8
_MAX_LABEL = 40


def _char_problems(frame: pd.DataFrame, name: str) -> list[str]:
    """Values over 200 bytes or not ASCII, checked on the distinct values (fast), rows named."""
    values = frame[name].dropna().astype(str)
    distinct = pd.unique(values)
    too_long = {v for v in distinct if len(v.encode("utf-8")) > MAX_CHAR_BYTES}
    if "".join(distinct).isascii() and not too_long:
        return []
    problems = []
    for row in values.index[values.isin(too_long)][:5]:
        problems.append(
            f"{name} row {row + 1}: {len(values[row].encode('utf-8'))} bytes, more than the "
            f"{MAX_CHAR_BYTES} a SAS transport v5 character value holds"
        )
    foreign = {v for v in distinct if not v.isascii()}
    for row in values.index[values.isin(foreign)][:5]:
        problems.append(f"{name} row {row + 1}: non-ASCII text {values[row]!r}")
    return problems


def transport_problems(frame: pd.DataFrame, spec: DatasetSpec) -> list[str]:
    """Every breach of the SAS transport v5 limits in ``frame`` (empty when it can be written)."""
    problems: list[str] = []
    if len(spec.name) > _MAX_NAME:
        problems.append(f"dataset name {spec.name!r} is longer than {_MAX_NAME} characters")
    if len(spec.label) > _MAX_LABEL:
        problems.append(f"dataset label is longer than {_MAX_LABEL} characters")
    if list(frame.columns) != list(spec.columns):
        problems.append(f"variables {list(frame.columns)} differ from the metadata {spec.columns}")
    for variable in spec.variables:
        if len(variable.name) > _MAX_NAME:
            problems.append(f"variable name {variable.name!r} is longer than {_MAX_NAME}")
        if len(variable.label) > _MAX_LABEL:
            problems.append(f"{variable.name}: label longer than {_MAX_LABEL} characters")
        if variable.name in frame.columns and variable.type == "Char":
            problems.extend(_char_problems(frame, variable.name))
    return problems


def write_xpt(frame: pd.DataFrame, spec: DatasetSpec, path: Path) -> Path:
    """Write ``frame`` as SAS transport v5 to ``path`` after checking it; return the path.

    Raises
    ------
    ExchangeError
        Listing every breach of the transport limits; nothing is written.
    """
    import pyreadstat

    problems = transport_problems(frame, spec)
    if problems:
        raise ExchangeError(
            f"{spec.name}: cannot be written as SAS transport v5:\n  " + "\n  ".join(problems)
        )
    data = frame.copy()
    for variable in spec.variables:
        if variable.type == "Char":
            data[variable.name] = data[variable.name].fillna("").astype(str)
    pyreadstat.write_xport(
        data,
        str(path),
        file_label=spec.label,
        column_labels=[v.label for v in spec.variables],
        table_name=spec.name,
        file_format_version=5,
        variable_format={v.name: v.format.rstrip(".") for v in spec.variables if v.format},
    )
    return path


def write_csv(frame: pd.DataFrame, spec: DatasetSpec, path: Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with the variable names as header (dates as ISO 8601)."""
    data = frame.copy()
    for variable in spec.variables:
        if variable.is_date:
            dates = pd.Timestamp("1960-01-01") + pd.to_timedelta(data[variable.name], unit="D")
            data[variable.name] = dates.dt.strftime("%Y-%m-%d")
    data.to_csv(path, index=False, encoding="utf-8")
    return path
