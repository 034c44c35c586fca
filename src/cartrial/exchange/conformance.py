"""Conformance checks that run offline on the CDISC datasets cartrial writes.

Each rule is one a submission validator (e.g. Pinnacle 21 / CDISC CORE) applies and that needs no
external dictionary; every finding names the dataset, variable, rule and how many rows break it:

============== ===================================================================================
rule           what it checks
============== ===================================================================================
required       every Req variable is present and populated on every record (SDTMIG 3.4 4.1.1.5)
key            the dataset's key variables identify one record each (Define-XML KeySequence)
seq            --SEQ is unique within each USUBJID (SDTMIG 3.4 4.1.2.6)
iso8601        --DTC values are ISO 8601 dates, durations (TEDUR, TD, --STINT/--ENINT) ISO 8601
               durations (4.4.1, 4.4.3)
codelist       values are terms of the variable's codelist (an error for a non-extensible
               codelist, a note for an extensible one)
one-per-subj   DM and ADSL hold one record per subject
subject        every USUBJID of a dataset is a subject of DM (and of ADSL for ADaM)
visit-map      VISIT and VISITNUM (SDTMIG 3.4 4.4.5), AVISIT and AVISITN (ADaMIG 1.3 3.3.3) map
               one to one within a dataset
tptref         a record with --STINT or --ENINT has --TPTREF, the reference the interval is
               measured from (CDISC CORE-000616 and CORE-000642)
============== ===================================================================================

The checks also run on a dataset written chunk by chunk of subjects
(:class:`ConformanceTally`): each chunk's datasets are checked together and the counts added.
Every rule that looks across records (seq, key, one-per-subj, subject) compares records of one
subject, and a chunk holds all the records of its subjects, so the sums equal the counts on the
whole datasets; a dataset without USUBJID (trial design) is added once. visit-map looks across
subjects: the tally keeps each dataset's distinct (name, number) pairs and judges them at the end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from cartrial.exchange.metadata import codelists, dataset_spec
from cartrial.exchange.text import distinct

__all__ = ["ConformanceTally", "Finding", "check_datasets"]

_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?)?$")
_ISO_DURATION = re.compile(r"^P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$")
#: The pattern and the finding's message of each ISO 8601 "codelist".
_ISO = {
    "ISO8601": (_ISO_DATE, "not an ISO 8601 date"),
    "ISO8601DUR": (_ISO_DURATION, "not an ISO 8601 duration"),
}


@dataclass(frozen=True)
class Finding:
    """One conformance finding: where, which rule, and what was found."""

    dataset: str
    variable: str
    rule: str
    message: str
    rows: int
    severity: Literal["error", "note"] = "error"

    def __str__(self) -> str:
        where = f"{self.dataset}.{self.variable}" if self.variable else self.dataset
        return f"{self.severity}: {where} [{self.rule}] {self.message} ({self.rows} row(s))"


#: Where a finding sits in the report before it is sorted: the order of the checks on one dataset.
_ORDER = {"required": 0, "iso8601": 1, "codelist": 2, "tptref": 3, "seq": 4, "key": 5,
          "one-per-subj": 6, "visit-map": 7}  # fmt: skip
#: Visit name and number pairs that map one to one (SDTM, ADaM).
_VISIT_PAIRS = (("VISIT", "VISITNUM"), ("AVISIT", "AVISITN"))
#: The most codelist terms a finding's message lists.
_TERMS_SHOWN = 5
_Key = tuple[str, str, str, str, str]


@dataclass
class ConformanceTally:
    """The findings of datasets checked chunk by chunk of subjects (module docstring).

    :meth:`add` checks one chunk's datasets (by name, SDTM and/or ADaM); :meth:`findings` gives
    what :func:`check_datasets` gives on the whole datasets.
    """

    _rows: dict[_Key, int] = field(default_factory=dict)
    _rank: dict[_Key, tuple[int, ...]] = field(default_factory=dict)
    _terms: dict[_Key, list[str]] = field(default_factory=dict)
    _datasets: list[str] = field(default_factory=list)
    #: (dataset, name variable, number variable) -> the distinct (name, number) pairs seen
    _visits: dict[tuple[str, str, str], set[tuple[str | None, float | None]]] = field(
        default_factory=dict
    )

    def _count(
        self,
        key: _Key,
        rows: int,
        rank: tuple[int, ...],
        terms: list[str] | None = None,
    ) -> None:
        self._rows[key] = self._rows.get(key, 0) + rows
        self._rank.setdefault(key, rank)
        if terms is not None:
            self._terms[key] = sorted({*self._terms.get(key, []), *terms})[:_TERMS_SHOWN]

    def _dataset(self, name: str, frame: pd.DataFrame) -> None:
        if name not in self._datasets:
            self._datasets.append(name)
        at = self._datasets.index(name)
        spec = dataset_spec(name)
        lists = codelists()
        for number, variable in enumerate(spec.variables):
            where = (0, at, number)
            if variable.name not in frame.columns:
                if variable.core == "Req":
                    key = (name, variable.name, "required", "error", "variable missing")
                    self._count(key, len(frame), (*where, 0))
                continue
            values = frame[variable.name]
            codes, texts = distinct(values) if variable.type == "Char" else (None, None)
            missing = int((codes == -1).sum()) if codes is not None else int(values.isna().sum())
            if variable.core == "Req" and missing:
                key = (name, variable.name, "required", "error", "required variable is null")
                self._count(key, missing, (*where, 1))
            if codes is None or texts is None:
                continue
            if variable.codelist in _ISO:
                pattern, what = _ISO[variable.codelist]
                wrong = [i for i, text in enumerate(texts) if not pattern.match(text)]
                bad = int(np.isin(codes, wrong).sum())
                if bad:
                    key = (name, variable.name, "iso8601", "error", what)
                    self._count(key, bad, (*where, 2))
            elif variable.codelist in lists:
                codelist = lists[variable.codelist]
                outside = [i for i, text in enumerate(texts) if text not in codelist.terms]
                count = int(np.isin(codes, outside).sum())
                if count:
                    severity = "note" if codelist.extensible else "error"
                    message = f"values not in codelist {codelist.name} ({codelist.nci_code})"
                    key = (name, variable.name, "codelist", severity, message)
                    terms = sorted(texts[outside])[:_TERMS_SHOWN]
                    self._count(key, count, (*where, 3), terms)
        self._across_records(name, frame, at)

    def _timing(self, name: str, frame: pd.DataFrame, at: int) -> None:
        """tptref per chunk; the visit pairs kept for :meth:`_visit_findings`."""
        reference = f"{name}TPTREF"
        intervals = [f"{name}STINT", f"{name}ENINT"]
        if reference in frame.columns and len(frame):
            for interval in (v for v in intervals if v in frame.columns):
                bad = int((frame[interval].notna() & frame[reference].isna()).sum())
                if bad:
                    message = f"{interval} without {reference}"
                    self._count((name, interval, "tptref", "error", message), bad, (1, at, 3))
        for label, number in _VISIT_PAIRS:
            if label in frame.columns and number in frame.columns:
                pairs = frame[[label, number]].dropna(how="all").drop_duplicates()
                seen = self._visits.setdefault((name, label, number), set())
                seen |= {
                    (None if pd.isna(a) else str(a), None if pd.isna(b) else float(b))
                    for a, b in pairs.itertuples(index=False, name=None)
                }

    def _visit_findings(self) -> list[Finding]:
        """visit-map: names with more than one number and numbers with more than one name."""
        found = []
        for (name, label, number), pairs in self._visits.items():
            both = [(a, b) for a, b in pairs if a is not None and b is not None]
            half = len(pairs) - len(both)  # a name without a number, or a number without a name
            names, numbers = {a for a, _ in both}, {b for _, b in both}
            repeated = 2 * len(both) - len(names) - len(numbers)
            if repeated or half:
                message = f"{label} and {number} do not map one to one"
                found.append(Finding(name, label, "visit-map", message, repeated + half))
        return found

    def _across_records(self, name: str, frame: pd.DataFrame, at: int) -> None:
        spec = dataset_spec(name)
        self._timing(name, frame, at)
        seq = [v.name for v in spec.variables if v.name.endswith("SEQ") and v.name != "SRCSEQ"]
        if seq and "USUBJID" in frame.columns and len(frame):
            repeated = int(frame.duplicated(["USUBJID", seq[0]]).sum())
            if repeated:
                key = (name, seq[0], "seq", "error", "not unique within USUBJID")
                self._count(key, repeated, (1, at, _ORDER["seq"]))
        keys = [k for k in spec.keys if k in frame.columns]
        if keys and len(frame):
            repeated = int(frame.duplicated(keys).sum())
            if repeated:
                key = (name, "", "key", "error", f"key {', '.join(keys)} repeats")
                self._count(key, repeated, (1, at, _ORDER["key"]))
        if name in {"DM", "ADSL"}:
            repeated = int(frame["USUBJID"].duplicated().sum())
            if repeated:
                key = (name, "USUBJID", "one-per-subj", "error", "more than one record per subject")
                self._count(key, repeated, (1, at, _ORDER["one-per-subj"]))

    def add(self, datasets: Mapping[str, pd.DataFrame]) -> None:
        """Check the datasets of one chunk of subjects (every dataset of its standard)."""
        for name, frame in datasets.items():
            self._dataset(name, frame)
        for number, parent in enumerate(("DM", "ADSL")):
            if parent not in datasets:
                continue
            subjects = set(datasets[parent]["USUBJID"])
            family = dataset_spec(parent).standard
            for name, frame in datasets.items():
                if dataset_spec(name).standard != family or "USUBJID" not in frame.columns:
                    continue
                unknown = int((frame["USUBJID"].notna() & ~frame["USUBJID"].isin(subjects)).sum())
                if unknown:
                    key = (name, "USUBJID", "subject", "error", f"subjects not in {parent}")
                    self._count(key, unknown, (2, number, self._datasets.index(name)))

    def findings(self) -> list[Finding]:
        """Every finding so far, errors first, then by dataset and variable."""
        found = []
        for key in sorted(self._rows, key=self._rank.__getitem__):
            name, variable, rule, severity, message = key
            if key in self._terms:
                message = f"{message}: {', '.join(self._terms[key])}"
            found.append(Finding(name, variable, rule, message, self._rows[key], severity))  # type: ignore[arg-type]
        found += self._visit_findings()
        return sorted(found, key=lambda f: (f.severity != "error", f.dataset, f.variable))


def check_datasets(datasets: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Every conformance finding of ``datasets`` (SDTM and/or ADaM by name), errors first."""
    tally = ConformanceTally()
    tally.add(datasets)
    return tally.findings()
