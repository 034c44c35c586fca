"""Plausibility checks of captured data, each named by the rule that fires.

Checks from the data and the protocol, applied by every use case that writes a subject's record
(:func:`cartrial.services.record_checks.check_record`) and by the bulk imports (:mod:`.imports`):

======================== ============================================================ =========
rule                     refuses                                                       queryable
======================== ============================================================ =========
``date-in-future``       a date after today in the study's time zone (the data's own     no
                         cut-off: nothing can have been measured later)
``before-screening``     a date before the subject's screening (consent is signed at     no
                         screening)
``after-death``          a date after the subject's recorded death                      yes
``after-withdrawal``     a date after the subject withdrew                              yes
``physiological-range``  a value outside the test's bounds (``lab_ranges.csv``)         yes
``reference-limits``     LLN/ULN that are not reference limits in the value's unit      yes
``duplicate-record``     an exact copy of a stored record (or of an earlier line)       no
``near-duplicate``       never refused: the same test of the same subject on the same   (query)
                         day with another value or time opens a data query
``local-time``           a local time that does not exist (DST gap) or is ambiguous     no
                         (DST overlap) in the study's time zone
``lesion-size``          a lesion diameter above :data:`MAX_LESION_DIAMETER_MM`          yes
======================== ============================================================ =========

A *queryable* rule may be turned, by the protocol (``data_checks.query_instead_of_refusal``),
from a refusal into a data query raised on the stored record, which the site answers.
The bounds of the lab checks live in ``cartrial/data/plausibility/lab_ranges.csv`` with the
published source of each row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from cartrial.errors import RuleInputError, ValidationFailed
from cartrial.protocol.checks import QUERYABLE_RULES
from cartrial.rules import ctcae

__all__ = [
    "MAX_LESION_DIAMETER_MM",
    "QUERYABLE_RULES",
    "Finding",
    "LabRange",
    "check_lab_values",
    "check_lesion_diameter",
    "check_subject_dates",
    "lab_ranges",
    "local_datetime",
]

#: Largest plausible lesion diameter: the widest field of view of clinical CT (500 mm) — a lesion
#: measured on a scan cannot be larger than the scan (RECIST 1.1 measures on CT/MRI, §3.1).
MAX_LESION_DIAMETER_MM = 500.0


@dataclass(frozen=True)
class Finding:
    """One failed plausibility check: the field at fault, the rule that fired and why."""

    field: str
    rule: str
    message: str

    def text(self) -> str:
        """The message with the rule named, as rows of an import report show it."""
        return f"{self.message} (rule: {self.rule})"


@dataclass(frozen=True)
class LabRange:
    """Plausibility bounds of one test in its SI unit (one row of ``lab_ranges.csv``)."""

    lbtestcd: str
    si_unit: str
    value_min: float
    value_max: float
    limit_min: float
    limit_max: float
    ref_interval: str
    source: str

    def limit_bounds(self, which: str) -> tuple[float, float]:
        """Plausible range of the lab's ``lln`` or ``uln`` (SI), as ``lab_ranges.csv`` states.

        An LLN lies in ``[limit_min, 3 x reference low]``, a ULN in
        ``[reference high / 3, limit_max]``.
        """
        low, high = (float(x) for x in self.ref_interval.split("-"))
        if which == "lln":
            return self.limit_min, max(3 * low, self.limit_min)
        return min(high / 3, self.limit_max), self.limit_max


@cache
def lab_ranges() -> dict[str, LabRange]:
    """The rows of ``data/plausibility/lab_ranges.csv`` by LBTESTCD."""
    text = (resources.files("cartrial") / "data" / "plausibility" / "lab_ranges.csv").read_text(
        encoding="utf-8"
    )
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    return {
        row["lbtestcd"]: LabRange(
            lbtestcd=row["lbtestcd"],
            si_unit=row["si_unit"],
            value_min=float(row["value_min"]),
            value_max=float(row["value_max"]),
            limit_min=float(row["limit_min"]),
            limit_max=float(row["limit_max"]),
            ref_interval=row["ref_interval"],
            source=row["source"],
        )
        for row in rows
    }


@cache
def _si_factor(lbtestcd: str, unit: str) -> tuple[float, str] | None:
    """Factor from ``unit`` to the test's SI unit; None when grading does not know the pair."""
    groups = {test.lbtestcd: test.unit_group for test in ctcae.lab_tests()}
    group = groups.get(lbtestcd)
    if group is None:
        return None
    try:
        factor, si_unit = ctcae.unit_factor(group, unit, what=lbtestcd)
    except RuleInputError:
        return None
    return factor, si_unit


def check_lab_values(
    lbtestcd: str, value: float, unit: str, lln: float | None, uln: float | None
) -> list[Finding]:
    """Rules ``physiological-range`` and ``reference-limits`` for one lab result.

    A test or unit the grading tables do not know is left to the grading, which refuses it.
    """
    bounds = lab_ranges().get(lbtestcd)
    converted = _si_factor(lbtestcd, unit)
    if bounds is None or converted is None:
        return []
    factor, si_unit = converted
    findings: list[Finding] = []
    si_value = value * factor
    if not bounds.value_min <= si_value <= bounds.value_max:
        findings.append(
            Finding(
                "value",
                "physiological-range",
                f"{value:g} {unit} ({si_value:g} {si_unit}) is outside the plausible range "
                f"{bounds.value_min:g}-{bounds.value_max:g} {si_unit} of {lbtestcd}",
            )
        )
    for name, limit in (("lln", lln), ("uln", uln)):
        if limit is None:
            continue
        si_limit = limit * factor
        lowest, highest = bounds.limit_bounds(name)
        if not lowest <= si_limit <= highest:
            findings.append(
                Finding(
                    name,
                    "reference-limits",
                    f"{name.upper()} {limit:g} {unit} ({si_limit:g} {si_unit}) is not a reference "
                    f"limit of {lbtestcd} in {unit} (adult reference interval "
                    f"{bounds.ref_interval} {si_unit}): are the limits in another unit?",
                )
            )
    return findings


def check_lesion_diameter(diameter_mm: float | None) -> list[Finding]:
    """Rule ``lesion-size``: a diameter no larger than :data:`MAX_LESION_DIAMETER_MM`."""
    if diameter_mm is None or diameter_mm <= MAX_LESION_DIAMETER_MM:
        return []
    return [
        Finding(
            "diameter_mm",
            "lesion-size",
            f"{diameter_mm:g} mm is larger than any lesion a scan can show "
            f"(at most {MAX_LESION_DIAMETER_MM:g} mm, the field of view of clinical CT)",
        )
    ]


def check_subject_dates(
    day: dt.date,
    field: str,
    *,
    today: dt.date,
    screened: dt.date | None,
    died: dt.date | None,
    withdrawn: dt.date | None,
) -> list[Finding]:
    """Rules ``date-in-future``, ``before-screening``, ``after-death`` and ``after-withdrawal``."""
    findings: list[Finding] = []
    if day > today:
        findings.append(
            Finding(field, "date-in-future", f"{day} is after today ({today}, study time zone)")
        )
    if screened is not None and day < screened:
        findings.append(
            Finding(field, "before-screening", f"{day} is before the screening date {screened}")
        )
    if died is not None and day > died:
        findings.append(Finding(field, "after-death", f"{day} is after the death on {died}"))
    if withdrawn is not None and day > withdrawn:
        findings.append(
            Finding(field, "after-withdrawal", f"{day} is after the withdrawal on {withdrawn}")
        )
    return findings


def local_datetime(day: dt.date, time: dt.time, zone: str, field: str) -> dt.datetime:
    """The UTC datetime of local ``day`` ``time`` in the study's ``zone`` (rule ``local-time``).

    Raises
    ------
    ValidationFailed
        The local time does not exist (skipped by a daylight-saving change) or exists twice (the
        hour repeated when clocks go back): the site must give the time in UTC instead.
    """
    tz = ZoneInfo(zone)
    naive = dt.datetime.combine(day, time)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    back = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        raise ValidationFailed(
            field,
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (clocks jump forward): "
            "give the time in UTC (rule: local-time)",
        )
    if first.utcoffset() != second.utcoffset():
        raise ValidationFailed(
            field,
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone} (clocks go back): "
            "give the time in UTC (rule: local-time)",
        )
    return first.astimezone(dt.UTC)
