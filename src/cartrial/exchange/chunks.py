"""The trial in chunks of subjects, and what a writer must know of a dataset before writing it.

A large trial is exported chunk by chunk of subjects (:func:`subject_chunks`): every table of the
read model that has a ``subject_id`` is cut into the rows of those subjects, the others (dose
decisions, governance records, the protocol) are passed whole, and the ordinary dataset builders
run on each chunk. Chunks are consecutive runs of the subject ids in sorted order, so that the
datasets of the chunks, one after the other, are the datasets of the whole trial: a dataset is
sorted by its keys, which begin with USUBJID (``STUDYID-SUBJID``) after keys of one value
(STUDYID; SUPPAE's RDOMAIN), and every derivation (--SEQ, baseline flags, best response,
populations) is made within one subject. A dataset without USUBJID (the trial design domains)
depends on the protocol only; :func:`trial_level` says which. The exception, RELREC (RDOMAIN
first, and dataset-level records without USUBJID), is sorted whole once every chunk is built
(:class:`cartrial.exchange.package.write_packages`).

Some metadata needs the whole dataset before the first record is written: the width of a SAS
transport text variable, the Dataset-JSON ``length`` and ``dataType``, the Define-XML lengths,
data types and value-level lists. :func:`witness_rows` keeps, per chunk, the few records that
decide them (the longest value of each text variable, a non-whole value of each number if any,
the first record and first unit of each LB/PC test and PP parameter): the witnesses of all
chunks give the same metadata as the whole dataset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.exchange.define import VALUE_LEVEL
from cartrial.exchange.metadata import DatasetSpec, dataset_spec
from cartrial.exchange.text import distinct

__all__ = ["DEFAULT_CHUNK_SUBJECTS", "subject_chunks", "trial_level", "witness_rows"]

#: Subjects per chunk: about 170 records each, 1 MB of dataset rows per 10 subjects.
DEFAULT_CHUNK_SUBJECTS = 5_000


def trial_level(name: str) -> bool:
    """Whether the dataset ``name`` has no USUBJID (one copy for the trial, not per subject)."""
    return "USUBJID" not in dataset_spec(name).columns


def _subject_tables(trial: TrialData) -> dict[str, pd.DataFrame]:
    return {
        f.name: getattr(trial, f.name)
        for f in dataclasses.fields(trial)
        if isinstance(getattr(trial, f.name), pd.DataFrame)
        and "subject_id" in getattr(trial, f.name).columns
    }


def subject_chunks(trial: TrialData, size: int = DEFAULT_CHUNK_SUBJECTS) -> Iterator[TrialData]:
    """``trial`` cut into chunks of at most ``size`` subjects (module docstring).

    Every subject id found in any table is in exactly one chunk (a record whose subject is not
    in ``subjects`` too, so that a conformance check still sees it). Within a subject, records
    keep their order.
    """
    if size < 1:
        raise ValueError("a chunk holds at least one subject")
    tables = _subject_tables(trial)
    ids = np.unique(
        np.concatenate(
            [t["subject_id"].astype(str).to_numpy() for t in tables.values()]
            or [np.array([], dtype=object)]
        )
    )
    # per table, its rows in subject order and each row's subject number: no copy of the table
    ordered: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, table in tables.items():
        position = np.searchsorted(ids, table["subject_id"].astype(str).to_numpy())
        order = np.argsort(position, kind="stable")
        small = np.int32 if len(table) < 2**31 else np.int64  # 8 bytes a record, not 16
        ordered[name] = (order.astype(small), position[order].astype(small))
    for start in range(0, max(len(ids), 1), size):
        stop = start + size
        parts: dict[str, Any] = {}
        for name, (order, position) in ordered.items():
            first, last = np.searchsorted(position, [start, stop])
            parts[name] = tables[name].iloc[order[first:last]].reset_index(drop=True)
        yield dataclasses.replace(trial, **parts)


def _longest(values: pd.Series) -> list[object]:
    codes, texts = distinct(values)
    if not (codes >= 0).any():
        return []
    longest = int(np.argmax(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))))
    return [values.index[int(np.argmax(codes == longest))]]


def _number(values: pd.Series) -> list[object]:
    present = values.dropna()
    if present.empty:
        return []
    fractional = present.index[(present != present.round()).to_numpy()]
    return [fractional[0] if len(fractional) else present.index[0]]


def _value_level(frame: pd.DataFrame, name: str) -> list[object]:
    """The first record and first record with a unit of each test, and each test's result
    witness (the LB/PC value-level metadata of Define-XML)."""
    result, tests = VALUE_LEVEL[name]
    test = list(tests)
    unit = f"{name}STRESU"
    kept: list[object] = [*frame.groupby(test, sort=False, observed=True).head(1).index]
    kept += [*frame.loc[frame[unit].notna()].groupby(test, sort=False, observed=True).head(1).index]
    for _, rows in frame.groupby(test, sort=False, observed=True):
        kept += _number(rows[result]) if rows[result].dtype.kind == "f" else _longest(rows[result])
    return kept


def witness_rows(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The records of ``frame`` that decide its writers' metadata (module docstring), in order."""
    kept: list[object] = []
    for variable in spec.variables:
        values = frame[variable.name]
        kept += _number(values) if variable.type == "Num" else _longest(values)
    if spec.name in VALUE_LEVEL and len(frame):
        kept += _value_level(frame, spec.name)
    return frame.loc[sorted(set(kept))]  # type: ignore[type-var]
