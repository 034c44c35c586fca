"""The analysis input: :class:`TrialData`, one frozen bundle of pandas tables.

Every endpoint analysis in :mod:`cartrial.analysis` is a pure function of a :class:`TrialData`;
nothing in this package reads a database or a file. The services layer builds it from the store
(``cartrial.services.trial_data(...)``); tests build it by hand.

Conventions shared by every table
---------------------------------
* dates are ``datetime64[ns]`` (``NaT`` = not known / did not happen);
* ``day`` is the number of days from CAR-T infusion (day 0 = infusion day, negative before);
* one row per record, long format; ``subject_id`` links every table to ``subjects``.

The column lists below are the contract (``docs``: contracts, section *TrialData*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cartrial.errors import AnalysisError
from cartrial.rules.recist_read import LESION_COLUMNS

if TYPE_CHECKING:
    from cartrial.protocol import Protocol

__all__ = [
    "DATE_COLUMNS",
    "NUMERIC_COLUMNS",
    "TABLE_COLUMNS",
    "TrialData",
    "as_flag",
    "empty_table",
    "normalise_trial_data",
    "validate_trial_data",
]

#: Required columns of every table of :class:`TrialData` (extra columns are allowed).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": (
        "subject_id",
        "site_id",
        "phase",
        "indication",
        "age",
        "sex",
        "ecog",
        "dose_level",
        "dose_index",
        "cells_infused",
        "enrolled_date",
        "lymphodepletion_date",
        "infusion_date",
        "dlt_evaluable",
        "efficacy_evaluable",
        "death_date",
        "death_cause",
        "last_contact_date",
        "withdrawn_date",
        "subsequent_therapy_date",
    ),
    "adverse_events": (
        "subject_id",
        "ae_id",
        "term",
        "soc",
        "grade",
        "onset_date",
        "resolution_date",
        "serious",
        "related",
        "attribution",
        "outcome",
        "is_dlt",
    ),
    "labs": (
        "subject_id",
        "date",
        "day",
        "lbtestcd",
        "value",
        "unit",
        "lln",
        "uln",
        "term",
        "grade",
    ),
    "crs_icans": (
        "subject_id",
        "date",
        "day",
        "crs_grade",
        "icans_grade",
        "tocilizumab",
        "steroids",
    ),
    "tumour_timepoints": (
        "subject_id",
        "assessment_date",
        "day",
        "target_response",
        "nontarget_response",
        "new_lesions",
        "overall_response",
        "sum_of_diameters_mm",
        "pct_change_from_baseline",
    ),
    "lesions": LESION_COLUMNS,
    "kinetics": ("subject_id", "date", "day", "value", "unit", "lloq", "below_lloq"),
    "ada": ("subject_id", "date", "day", "screen", "confirmed", "titer"),
    "phenotype": ("subject_id", "date", "day", "marker", "value"),
    "dose_decisions": (
        "cohort",
        "dose_level",
        "dose_index",
        "n_treated",
        "n_dlt",
        "action",
        "next_dose_index",
        "decided_date",
        "signed_by",
    ),
    "governance": (
        "kind",
        "dose_level",
        "dose_index",
        "decided_date",
        "rationale",
        "signed_by",
        "signer_name",
        "signed_at",
        "meaning",
    ),
    "screening": (
        "subject_id",
        "site_id",
        "screened_date",
        "eligible",
        "age",
        "sex",
        "indication",
        "withdrawn_date",
    ),
    "eligibility": ("subject_id", "date", "criterion", "kind", "met", "value"),
    "lymphodepletion": ("subject_id", "date", "day", "agent", "dose", "unit"),
    "subsequent_therapies": ("subject_id", "start_date", "therapy"),
}

#: Columns of each table that hold calendar dates (``datetime64``).
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": (
        "enrolled_date",
        "lymphodepletion_date",
        "infusion_date",
        "death_date",
        "last_contact_date",
        "withdrawn_date",
        "subsequent_therapy_date",
    ),
    "adverse_events": ("onset_date", "resolution_date"),
    "labs": ("date",),
    "crs_icans": ("date",),
    "tumour_timepoints": ("assessment_date",),
    "lesions": ("assessment_date",),
    "kinetics": ("date",),
    "ada": ("date",),
    "phenotype": ("date",),
    "dose_decisions": ("decided_date",),
    "governance": ("decided_date",),
    "screening": ("screened_date", "withdrawn_date"),
    "eligibility": ("date",),
    "lymphodepletion": ("date",),
    "subsequent_therapies": ("start_date",),
}


#: Columns of each table that hold numbers (read as ``float64``; text or missing -> NaN).
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": ("age", "ecog", "dose_index", "cells_infused"),
    "adverse_events": ("grade",),
    "labs": ("day", "value", "lln", "uln", "grade"),
    "crs_icans": ("day", "crs_grade", "icans_grade"),
    "tumour_timepoints": ("day", "sum_of_diameters_mm", "pct_change_from_baseline"),
    "lesions": ("diameter_mm",),
    "kinetics": ("day", "value", "lloq"),
    "ada": ("day", "titer"),
    "phenotype": ("day", "value"),
    "dose_decisions": ("cohort", "dose_index", "n_treated", "n_dlt", "next_dose_index"),
    "governance": ("dose_index",),
    "screening": ("age",),
    "eligibility": (),
    "lymphodepletion": ("day", "dose"),
    "subsequent_therapies": (),
}


def normalise_trial_data(trial: TrialData) -> TrialData:
    """Return ``trial`` with plain numpy dtypes: numbers as ``float64``, dates as ``datetime64``.

    Builders may hand over pandas nullable types (``Int64``, ``boolean``, ``Float64``), which
    numpy operations reject; the analyses run on the normalised copy. Missing values stay missing
    (NaN / NaT); nothing is filled in.
    """
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_COLUMNS:
        frame = getattr(trial, name).copy()
        # columns already float64 or datetime64 are kept as they are (a second call is cheap)
        for column in NUMERIC_COLUMNS[name]:
            if column in frame.columns and frame[column].dtype != np.float64:
                numbers = pd.to_numeric(frame[column], errors="coerce")
                frame[column] = numbers.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        for column in DATE_COLUMNS[name]:
            if column in frame.columns and not pd.api.types.is_datetime64_dtype(frame[column]):
                frame[column] = pd.to_datetime(frame[column])
        tables[name] = frame
    return TrialData(
        subjects=tables["subjects"],
        adverse_events=tables["adverse_events"],
        labs=tables["labs"],
        crs_icans=tables["crs_icans"],
        tumour_timepoints=tables["tumour_timepoints"],
        lesions=tables["lesions"],
        kinetics=tables["kinetics"],
        ada=tables["ada"],
        phenotype=tables["phenotype"],
        dose_decisions=tables["dose_decisions"],
        data_cutoff=pd.Timestamp(trial.data_cutoff),
        protocol=trial.protocol,
        governance=tables["governance"],
        screening=tables["screening"],
        eligibility=tables["eligibility"],
        lymphodepletion=tables["lymphodepletion"],
        subsequent_therapies=tables["subsequent_therapies"],
    )


def as_flag(values: pd.Series) -> pd.Series:
    """A yes/no column as plain ``bool``; a missing value (None, NaN, NA) reads as False.

    Used for ``serious``, ``related``, ``is_dlt``, ``tocilizumab``, ``confirmed``, ... so that a
    missing flag never counts as a "yes".
    """
    return values.astype("boolean").fillna(False).astype(bool)


def empty_table(name: str) -> pd.DataFrame:
    """Return an empty table with the contract columns of ``name`` (dates typed ``datetime64``).

    Parameters
    ----------
    name
        One of the keys of :data:`TABLE_COLUMNS`, e.g. ``"kinetics"``.

    Raises
    ------
    AnalysisError
        If ``name`` is not a table of :class:`TrialData`.
    """
    if name not in TABLE_COLUMNS:
        raise AnalysisError(f"no TrialData table named {name!r}; known: {sorted(TABLE_COLUMNS)}")
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in TABLE_COLUMNS[name]})
    for column in DATE_COLUMNS[name]:
        frame[column] = pd.Series(dtype="datetime64[ns]")
    return frame


@dataclass(frozen=True)
class TrialData:
    """Everything the endpoint analyses need, as of one data cut-off.

    Attributes
    ----------
    subjects
        One row per enrolled subject: demography, dose level (``dose_index`` -1 if not infused),
        key dates (infusion, death, last contact, withdrawal, start of subsequent therapy) and the
        evaluability flags ``dlt_evaluable`` / ``efficacy_evaluable``.
    adverse_events
        One row per adverse event (CTCAE term, SOC, grade 1-5, onset/resolution dates, serious,
        related = at least possibly related to CAR-T, ``is_dlt`` as adjudicated).
    labs
        Long laboratory table with the CTCAE ``term`` and ``grade`` of every value.
    crs_icans
        Daily ASTCT CRS and ICANS grades with tocilizumab / corticosteroid use that day.
    tumour_timepoints
        RECIST 1.1 time-point responses (target, non-target, new lesions, overall) and the sum of
        diameters in mm with its % change from baseline.
    lesions
        The raw per-lesion RECIST measurements.
    kinetics
        CAR transgene / CAR+ cell levels with the assay LLOQ and a below-LLOQ flag.
    ada
        Anti-CAR antibody results: screening, confirmation, titer (reciprocal dilution).
    phenotype
        Immunophenotype values (% of cells, or the ratio for ``cd4_cd8_ratio``).
    dose_decisions
        One row per dose-escalation decision (cohort, dose, treated, DLTs, action, next dose).
    data_cutoff
        The data cut-off date; records after it are ignored by every analysis.
    protocol
        The study protocol: dose levels, populations, endpoints, RECIST and DLT settings.
    governance
        One row per signed governance record, oldest first: ``kind`` (``escalation_end`` with
        the MTD, ``rp2d``, ``expansion_open``, ``expansion_review``, ``expansion_stop``), the dose
        it concerns (``dose_level`` protocol name, ``dose_index`` 0-based; missing when
        escalation ended without an MTD), ``decided_date`` (study date of the data),
        ``rationale``, and the e-signature: ``signed_by`` (username), ``signer_name`` (printed
        name), ``signed_at`` (UTC timestamp), ``meaning``. Empty by default.
    screening
        One row per screened subject, enrolled or not (screen failures included): site, screening
        date, ``eligible`` (every criterion met), age, sex, indication and ``withdrawn_date`` (a
        subject may withdraw before enrolment). Empty by default.
    eligibility
        One row per eligibility criterion checked at screening: ``criterion`` (the protocol's
        criterion code, e.g. ``anc``), ``kind`` (inclusion/exclusion), ``met`` and ``value``
        (the screening values it read, as JSON text). Empty by default.
    lymphodepletion
        One row per lymphodepleting chemotherapy administration: ``agent``, ``dose`` and ``unit``
        (mg/m2 or mg/kg), its date and ``day`` from infusion (negative). Empty by default.
    subsequent_therapies
        One row per anticancer therapy started after the infusion (``therapy`` as recorded,
        ``start_date``). Empty by default.

    Optional columns the read model adds for the CDISC exchange: ``crs_icans`` may carry the
    daily vital signs (``temperature_c`` in degrees C, ``hypotension``, ``vasopressors``,
    ``oxygen_device``, ``oxygen_flow_l_min`` in L/min); ``adverse_events`` the DLT
    adjudication's ``dlt_rule_id``; ``subjects`` the site's ``country`` (ISO 3166-1 alpha-2).
    """

    subjects: pd.DataFrame
    adverse_events: pd.DataFrame
    labs: pd.DataFrame
    crs_icans: pd.DataFrame
    tumour_timepoints: pd.DataFrame
    lesions: pd.DataFrame
    kinetics: pd.DataFrame
    ada: pd.DataFrame
    phenotype: pd.DataFrame
    dose_decisions: pd.DataFrame
    data_cutoff: pd.Timestamp
    protocol: Protocol
    governance: pd.DataFrame = field(default_factory=lambda: empty_table("governance"))
    screening: pd.DataFrame = field(default_factory=lambda: empty_table("screening"))
    eligibility: pd.DataFrame = field(default_factory=lambda: empty_table("eligibility"))
    lymphodepletion: pd.DataFrame = field(default_factory=lambda: empty_table("lymphodepletion"))
    subsequent_therapies: pd.DataFrame = field(
        default_factory=lambda: empty_table("subsequent_therapies")
    )


def validate_trial_data(trial: TrialData) -> None:
    """Check that every table of ``trial`` carries the contract columns.

    Raises
    ------
    AnalysisError
        Listing every missing column of every table, and duplicated subject identifiers.
    """
    problems: list[str] = []
    for name, columns in TABLE_COLUMNS.items():
        frame = getattr(trial, name)
        if not isinstance(frame, pd.DataFrame):
            problems.append(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
            continue
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            problems.append(f"{name}: missing column(s) {', '.join(missing)}")
    if not problems and trial.subjects["subject_id"].duplicated().any():
        duplicated = trial.subjects.loc[trial.subjects["subject_id"].duplicated(), "subject_id"]
        problems.append(f"subjects: duplicated subject_id {', '.join(map(str, duplicated))}")
    if problems:
        raise AnalysisError("TrialData is incomplete:\n  " + "\n  ".join(problems))
