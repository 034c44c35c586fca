"""The ASTCT 2019 CRS and ICANS grading criteria, read from ``cartrial/data/astct/``.

Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for Cytokine Release Syndrome and
Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood Marrow Transplant
2019;25(4):625-638. Every number and category of the grading (fever threshold, oxygen support
classes and the 6 L/min low-flow limit, vasopressor counting, ICE bands, consciousness, seizure,
motor and oedema findings) is a row of a CSV file with its source; each file is validated by its
row schema here and then checked as a whole (every ICE score in exactly one band, every domain with
its grade-0 finding, every oxygen class graded), so a data error fails loudly at first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field

from cartrial.errors import RuleInputError
from cartrial.rules.package_tables import NonEmpty, TableRow, load_table

__all__ = [
    "ASTCTCriteria",
    "Finding",
    "GradingRow",
    "IceBandRow",
    "IceItemRow",
    "OxygenDeviceRow",
    "ThresholdRow",
    "UncountedVasopressorRow",
    "astct_criteria",
]

HypoxiaClass = Literal["none", "low_flow", "high_flow", "positive_pressure"]
CRS_DOMAINS = ("fever", "hypotension", "hypoxia", "death")
ICANS_DOMAINS = ("ice", "consciousness", "seizure", "motor", "cerebral_edema")


class GradingRow(TableRow):
    """``crs_grading.csv`` / ``icans_grading.csv``: a finding of a domain and its grade."""

    domain: NonEmpty
    finding: NonEmpty
    grade: Annotated[int, Field(ge=0, le=5)]
    text: NonEmpty
    source: NonEmpty


class OxygenDeviceRow(TableRow):
    """``oxygen_devices.csv``: an oxygen support and its hypoxia class (``by_flow``: by flow)."""

    device: NonEmpty
    hypoxia_class: HypoxiaClass | Literal["by_flow"]
    source: NonEmpty


class ThresholdRow(TableRow):
    """``crs_thresholds.csv``: a named numeric threshold with its unit."""

    name: Literal["fever_c", "low_flow_max_l_min", "ctcae_high_fio2_pct"]
    value: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    unit: NonEmpty
    source: NonEmpty


class UncountedVasopressorRow(TableRow):
    """``uncounted_vasopressors.csv``: a vasopressor not counted towards "multiple"."""

    vasopressor: NonEmpty
    source: NonEmpty


class IceBandRow(TableRow):
    """``ice_bands.csv``: ICE scores ``min_score``-``max_score`` and their ICANS grade."""

    min_score: Annotated[int, Field(ge=0, le=10)]
    max_score: Annotated[int, Field(ge=0, le=10)]
    grade: Annotated[int, Field(ge=0, le=4)]
    source: NonEmpty


class IceItemRow(TableRow):
    """``ice_items.csv``: one item of the ICE screen and its points."""

    item: NonEmpty
    points: Annotated[int, Field(ge=1)]
    text: NonEmpty
    source: NonEmpty


@dataclass(frozen=True)
class Finding:
    """A graded finding: its grade and the rule in words."""

    grade: int
    text: str


@dataclass(frozen=True)
class ASTCTCriteria:
    """The ASTCT 2019 grading tables, checked as a whole.

    Attributes
    ----------
    fever_c : float
        Fever threshold, °C.
    low_flow_max_l_min : float
        A nasal cannula up to this flow (L/min) is low-flow oxygen; above it, high-flow.
    ctcae_high_fio2_pct : float
        CTCAE v5.0 CRS: hypoxia needing at least this inspired O2 (%) is grade 3, below it grade 2.
    uncounted_vasopressors : frozenset of str
        Vasopressors (lower case) not counted towards "multiple vasopressors".
    oxygen_devices : Mapping[str, str]
        Oxygen support -> hypoxia class (``by_flow`` for a nasal cannula).
    crs : Mapping[str, Mapping[str, Finding]]
        CRS domain -> finding -> grade and words (domains fever, hypotension, hypoxia, death).
    icans : Mapping[str, Mapping[str, Finding]]
        ICANS domain -> finding -> grade and words (ice, consciousness, seizure, motor,
        cerebral_edema).
    ice_grades : tuple of int
        ICANS grade of the ICE domain for each score 0-10 of an arousable patient.
    ice_items : tuple of str
        The ICE items, one point each.
    """

    fever_c: float
    low_flow_max_l_min: float
    ctcae_high_fio2_pct: float
    uncounted_vasopressors: frozenset[str]
    oxygen_devices: Mapping[str, str]
    crs: Mapping[str, Mapping[str, Finding]]
    icans: Mapping[str, Mapping[str, Finding]]
    ice_grades: tuple[int, ...]
    ice_items: tuple[str, ...]


def _domains(
    name: str, rows: tuple[GradingRow, ...], expected: tuple[str, ...]
) -> Mapping[str, Mapping[str, Finding]]:
    table: dict[str, dict[str, Finding]] = {domain: {} for domain in expected}
    for row in rows:
        if row.domain not in table:
            raise RuleInputError(f"data/astct/{name}: unknown domain {row.domain!r}")
        if row.finding in table[row.domain]:
            raise RuleInputError(f"data/astct/{name}: {row.domain}/{row.finding} listed twice")
        table[row.domain][row.finding] = Finding(row.grade, row.text)
    return MappingProxyType({d: MappingProxyType(f) for d, f in table.items()})


def _ice_grades(bands: tuple[IceBandRow, ...]) -> tuple[int, ...]:
    grades: list[int | None] = [None] * 11
    for band in bands:
        if band.min_score > band.max_score:
            raise RuleInputError("data/astct/ice_bands.csv: min_score above max_score")
        for score in range(band.min_score, band.max_score + 1):
            if grades[score] is not None:
                raise RuleInputError(f"data/astct/ice_bands.csv: ICE {score} in two bands")
            grades[score] = band.grade
    missing = [score for score, grade in enumerate(grades) if grade is None]
    if missing:
        raise RuleInputError(f"data/astct/ice_bands.csv: ICE scores {missing} in no band")
    return tuple(g for g in grades if g is not None)


def _check_complete(criteria: ASTCTCriteria) -> None:
    """Every domain a grading rule reads has the findings it looks up."""
    needed = {
        "crs": {
            "fever": {"none", "fever"},
            "hypotension": {"none", "without_vasopressors", "one_vasopressor"}
            | {"multiple_vasopressors"},
            "hypoxia": {"none", "low_flow", "high_flow", "positive_pressure"},
            "death": {"death"},
        },
        "icans": {
            "ice": {"unarousable", "not_performable"},
            "consciousness": {"awake", "unarousable"},
            "seizure": {"none"},
            "motor": {"none", "deep_focal_weakness"},
            "cerebral_edema": {"none"},
        },
    }
    for table_name, domains in needed.items():
        table = getattr(criteria, table_name)
        for domain, findings in domains.items():
            missing = findings - set(table[domain])
            if missing:
                raise RuleInputError(f"ASTCT {table_name} {domain}: no row for {sorted(missing)}")
    classes = set(criteria.oxygen_devices.values()) - {"by_flow"}
    if not classes <= set(criteria.crs["hypoxia"]):
        raise RuleInputError(f"ASTCT hypoxia classes without a grade: {sorted(classes)}")


@cache
def astct_criteria() -> ASTCTCriteria:
    """The ASTCT 2019 grading criteria from ``cartrial/data/astct/`` (read once, validated).

    Raises
    ------
    RuleInputError
        A row that breaks its schema (file, line, field named) or tables that are incomplete.
    """
    rows = load_table("astct", "crs_thresholds.csv", ThresholdRow)
    thresholds = {row.name: row.value for row in rows}
    missing = {"fever_c", "low_flow_max_l_min", "ctcae_high_fio2_pct"} - set(thresholds)
    if missing:
        raise RuleInputError(f"data/astct/crs_thresholds.csv: no row for {sorted(missing)}")
    devices = load_table("astct", "oxygen_devices.csv", OxygenDeviceRow)
    uncounted = load_table("astct", "uncounted_vasopressors.csv", UncountedVasopressorRow)
    criteria = ASTCTCriteria(
        fever_c=thresholds["fever_c"],
        low_flow_max_l_min=thresholds["low_flow_max_l_min"],
        ctcae_high_fio2_pct=thresholds["ctcae_high_fio2_pct"],
        uncounted_vasopressors=frozenset(row.vasopressor.casefold() for row in uncounted),
        oxygen_devices=MappingProxyType({row.device: row.hypoxia_class for row in devices}),
        crs=_domains(
            "crs_grading.csv",
            load_table("astct", "crs_grading.csv", GradingRow),
            CRS_DOMAINS,
        ),
        icans=_domains(
            "icans_grading.csv",
            load_table("astct", "icans_grading.csv", GradingRow),
            ICANS_DOMAINS,
        ),
        ice_grades=_ice_grades(load_table("astct", "ice_bands.csv", IceBandRow)),
        ice_items=tuple(row.item for row in load_table("astct", "ice_items.csv", IceItemRow)),
    )
    _check_complete(criteria)
    points = load_table("astct", "ice_items.csv", IceItemRow)
    if sum(row.points for row in points) != 10 or any(row.points != 1 for row in points):
        raise RuleInputError("data/astct/ice_items.csv: ICE is ten items of one point each")
    return criteria
