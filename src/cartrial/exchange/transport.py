"""SAS transport v5 (XPT) and CSV files of the CDISC datasets, checked before they are written.

SAS transport version 5 (the format the FDA Study Data Technical Conformance Guide requires) limits
dataset and variable names to 8 characters, labels to 40 and character values to 200 bytes, and
holds ASCII text only. :func:`transport_problems` lists every breach of those limits for one
dataset in one pass; :func:`write_xpt` refuses to write a dataset that has any, naming the dataset,
variable, row and limit. The file itself is written by the streaming writer of
:mod:`cartrial.exchange.xport` (the bytes pyreadstat writes, chunk by chunk); numeric ADaM dates
carry the ``DATE9.`` format so that SAS, R and pandas read them as dates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from cartrial.analysis.days import days_to_timedelta
from cartrial.errors import ExchangeError
from cartrial.exchange.metadata import DatasetSpec
from cartrial.exchange.text import distinct
from cartrial.exchange.xport import XportVariable, XportWriter

__all__ = [
    "MAX_CHAR_BYTES",
    "csv_chunk",
    "transport_problems",
    "write_csv",
    "write_xpt",
    "xport_writer",
]

#: The longest character value SAS transport v5 holds (bytes).
MAX_CHAR_BYTES = 200
_MAX_NAME = 8
_MAX_LABEL = 40


def _char_problems(frame: pd.DataFrame, name: str) -> list[str]:
    """Values over 200 bytes or not ASCII, checked on the distinct values (fast), rows named."""
    codes, texts = distinct(frame[name])
    # ASCII text has one byte per character: only the rare other values are encoded
    ascii_ = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    foreign = np.flatnonzero(~ascii_)
    for i in foreign:
        sizes[i] = len(texts[i].encode("utf-8"))
    too_long = np.flatnonzero(sizes > MAX_CHAR_BYTES)
    if not len(too_long) and not len(foreign):
        return []
    problems = []
    for position in np.flatnonzero(np.isin(codes, too_long))[:5]:
        problems.append(
            f"{name} row {frame.index[position] + 1}: {sizes[codes[position]]} bytes, more than "
            f"the {MAX_CHAR_BYTES} a SAS transport v5 character value holds"
        )
    for position in np.flatnonzero(np.isin(codes, foreign))[:5]:
        problems.append(
            f"{name} row {frame.index[position] + 1}: non-ASCII text {texts[codes[position]]!r}"
        )
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


def xport_writer(
    spec: DatasetSpec, witnesses: pd.DataFrame, path: Path, created: dt.datetime
) -> XportWriter:
    """The XPORT writer of one dataset; text widths are the longest values of ``witnesses``
    (the whole dataset, or its witness rows: :func:`cartrial.exchange.chunks.witness_rows`)."""
    variables = []
    for variable in spec.variables:
        width = 8
        if variable.type == "Char":
            _, texts = distinct(witnesses[variable.name])
            width = max([1, *(len(text.encode("utf-8")) for text in texts)])
        format_ = variable.format.rstrip(".")
        variables.append(
            XportVariable(variable.name, variable.label, variable.type, width, format_)
        )
    return XportWriter(path, spec.name, spec.label, tuple(variables), created)


def write_xpt(
    frame: pd.DataFrame, spec: DatasetSpec, path: Path, *, created: dt.datetime | None = None
) -> Path:
    """Write ``frame`` as SAS transport v5 to ``path`` after checking it; return the path.

    ``created`` is the time written in the headers (default now, UTC).

    Raises
    ------
    ExchangeError
        Listing every breach of the transport limits; nothing is written.
    """
    problems = transport_problems(frame, spec)
    if problems:
        raise ExchangeError(
            f"{spec.name}: cannot be written as SAS transport v5:\n  " + "\n  ".join(problems)
        )
    stamp = created or dt.datetime.now(dt.UTC).replace(microsecond=0)
    with xport_writer(spec, frame, path, stamp) as writer:
        writer.write(frame)
    return path


def csv_chunk(frame: pd.DataFrame, spec: DatasetSpec, handle: TextIO, *, header: bool) -> None:
    """Append ``frame`` to an open CSV file (UTF-8, dates as ISO 8601), with the header row
    when ``header``."""
    data = frame.copy()
    for variable in spec.variables:
        if variable.is_date:
            dates = pd.Timestamp("1960-01-01") + days_to_timedelta(data[variable.name])
            data[variable.name] = dates.dt.strftime("%Y-%m-%d")
    data.to_csv(handle, index=False, header=header)


def write_csv(frame: pd.DataFrame, spec: DatasetSpec, path: Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with the variable names as header (dates as ISO 8601)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv_chunk(frame, spec, handle, header=True)
    return path
