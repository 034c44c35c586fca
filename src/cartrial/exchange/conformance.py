"""Conformance checks that run offline on the CDISC datasets cartrial writes.

Each rule is one a submission validator (e.g. Pinnacle 21 / CDISC CORE) applies and that needs no
external dictionary; every finding names the dataset, variable, rule and how many rows break it:

============== ===================================================================================
rule           what it checks
============== ===================================================================================
required       every Req variable is present and populated on every record (SDTMIG 3.4 4.1.1.5)
key            the dataset's key variables identify one record each (Define-XML KeySequence)
seq            --SEQ is unique within each USUBJID (SDTMIG 3.4 4.1.2.6)
iso8601        --DTC values are ISO 8601 dates, durations (TEDUR, TD) ISO 8601 durations (4.4.1)
codelist       values are terms of the variable's codelist (an error for a non-extensible
               codelist, a note for an extensible one)
one-per-subj   DM and ADSL hold one record per subject
subject        every USUBJID of a dataset is a subject of DM (and of ADSL for ADaM)
============== ===================================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from cartrial.exchange.metadata import codelists, dataset_spec

__all__ = ["Finding", "check_datasets"]

_ISO_DATE = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?)?$"
    r"|^P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$"
)


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


def _dataset_findings(name: str, frame: pd.DataFrame) -> list[Finding]:
    spec = dataset_spec(name)
    lists = codelists()
    found: list[Finding] = []
    for variable in spec.variables:
        if variable.name not in frame.columns:
            if variable.core == "Req":
                found.append(
                    Finding(name, variable.name, "required", "variable missing", len(frame))
                )
            continue
        values = frame[variable.name]
        if variable.core == "Req" and values.isna().any():
            found.append(
                Finding(
                    name,
                    variable.name,
                    "required",
                    "required variable is null",
                    int(values.isna().sum()),
                )
            )
        present = values.dropna()
        if variable.codelist == "ISO8601":
            wrong = {v for v in pd.unique(present.astype(str)) if not _ISO_DATE.match(v)}
            bad = present.astype(str).isin(wrong)
            if bad.any():
                found.append(
                    Finding(name, variable.name, "iso8601", "not an ISO 8601 date", int(bad.sum()))
                )
        elif variable.codelist in lists and variable.type == "Char":
            codelist = lists[variable.codelist]
            outside = present.loc[~present.astype(str).isin(codelist.terms)]
            if len(outside):
                terms = ", ".join(sorted(map(str, outside.unique()))[:5])
                found.append(
                    Finding(
                        name,
                        variable.name,
                        "codelist",
                        f"values not in codelist {codelist.name} ({codelist.nci_code}): {terms}",
                        len(outside),
                        "note" if codelist.extensible else "error",
                    )
                )
    seq = [v.name for v in spec.variables if v.name.endswith("SEQ") and v.name != "SRCSEQ"]
    if seq and "USUBJID" in frame.columns and len(frame):
        duplicated = frame.duplicated(["USUBJID", seq[0]])
        if duplicated.any():
            found.append(
                Finding(name, seq[0], "seq", "not unique within USUBJID", int(duplicated.sum()))
            )
    keys = [k for k in spec.keys if k in frame.columns]
    if keys and len(frame) and frame.duplicated(keys).any():
        found.append(
            Finding(
                name, "", "key", f"key {', '.join(keys)} repeats", int(frame.duplicated(keys).sum())
            )
        )
    if name in {"DM", "ADSL"} and frame["USUBJID"].duplicated().any():
        found.append(
            Finding(
                name,
                "USUBJID",
                "one-per-subj",
                "more than one record per subject",
                int(frame["USUBJID"].duplicated().sum()),
            )
        )
    return found


def check_datasets(datasets: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Every conformance finding of ``datasets`` (SDTM and/or ADaM by name), errors first."""
    found: list[Finding] = []
    for name, frame in datasets.items():
        found.extend(_dataset_findings(name, frame))
    for parent in ("DM", "ADSL"):
        if parent not in datasets:
            continue
        subjects = set(datasets[parent]["USUBJID"])
        family = dataset_spec(parent).standard
        for name, frame in datasets.items():
            if dataset_spec(name).standard != family or "USUBJID" not in frame.columns:
                continue
            unknown = frame.loc[frame["USUBJID"].notna() & ~frame["USUBJID"].isin(subjects)]
            if len(unknown):
                found.append(
                    Finding(name, "USUBJID", "subject", f"subjects not in {parent}", len(unknown))
                )
    return sorted(found, key=lambda f: (f.severity != "error", f.dataset, f.variable))
