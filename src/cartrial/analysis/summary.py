"""Run every endpoint analysis of a trial at once: the input of the report and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cartrial.analysis import (
    crs_icans,
    efficacy,
    immunogenicity,
    kinetics,
    phenotype,
    safety,
    survival,
)
from cartrial.analysis.dataset import TrialData, normalise_trial_data, validate_trial_data
from cartrial.analysis.populations import population_table
from cartrial.analysis.response import BestResponse, best_overall_response
from cartrial.analysis.settings import AnalysisSettings, analysis_settings
from cartrial.analysis.survival import KaplanMeier
from cartrial.analysis.tables import AnalysisTable
from cartrial.errors import AnalysisError

__all__ = ["SECTIONS", "TrialAnalysis", "analyse_trial"]

#: Report sections in order, with their titles.
SECTIONS = {
    "populations": "Analysis populations",
    "escalation": "Dose escalation",
    "safety": "Safety",
    "efficacy": "Efficacy",
    "kinetics": "Cellular kinetics",
    "immunogenicity": "Immunogenicity",
    "phenotype": "Phenotype",
}


@dataclass(frozen=True)
class TrialAnalysis:
    """Every table of the trial, by report section, plus the objects the figures need.

    Attributes
    ----------
    settings
        The protocol settings used.
    sections
        Section key (:data:`SECTIONS`) -> its tables, in report order.
    best_response
        Best overall response per subject (whole follow-up).
    curves
        Kaplan–Meier curves of ``"pfs"``, ``"os"``, ``"dor"``.
    nca
        Per-subject kinetics parameters.
    """

    settings: AnalysisSettings
    sections: dict[str, tuple[AnalysisTable, ...]]
    best_response: BestResponse
    curves: dict[str, KaplanMeier]
    nca: pd.DataFrame

    def tables(self) -> tuple[AnalysisTable, ...]:
        """All tables in report order."""
        return tuple(table for tables in self.sections.values() for table in tables)

    def table(self, key: str) -> AnalysisTable:
        """The table whose ``key`` is ``key``.

        Raises
        ------
        AnalysisError
            If no table has that key.
        """
        for table in self.tables():
            if table.key == key:
                return table
        raise AnalysisError(f"no analysis table {key!r}")


def _escalation_table(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    decisions = trial.dose_decisions.sort_values("cohort").copy()
    decisions["dose"] = decisions["dose_level"].map(settings.dose_labels)
    counts = ["cohort", "dose_index", "n_treated", "n_dlt", "next_dose_index"]
    decisions[counts] = decisions[counts].round().astype("Int64")
    decisions["decided_date"] = pd.to_datetime(decisions["decided_date"]).dt.strftime("%Y-%m-%d")
    columns = [
        "cohort",
        "dose_level",
        "dose",
        "n_treated",
        "n_dlt",
        "action",
        "next_dose_index",
        "decided_date",
        "signed_by",
    ]
    if "signature" in decisions.columns:  # e-signature manifestations (read from a database)
        columns.append("signature")
    return AnalysisTable(
        key="dose_escalation",
        title="Dose-escalation decisions per cohort",
        frame=decisions[columns].reset_index(drop=True),
        population="dlt_evaluable",
        n=int(decisions["n_treated"].sum()) if len(decisions) else 0,
        method="as recorded and signed by the safety review committee",
        notes=() if len(decisions) else ("No dose-escalation decision recorded yet.",),
    )


def analyse_trial(trial: TrialData) -> TrialAnalysis:
    """Compute every table of the report from ``trial`` (no figures, no files).

    The input is first checked (:func:`validate_trial_data`) and brought to plain numpy dtypes
    (:func:`normalise_trial_data`).

    Raises
    ------
    AnalysisError
        If a table of ``trial`` lacks contract columns (:func:`validate_trial_data`).
    """
    validate_trial_data(trial)
    trial = normalise_trial_data(trial)
    settings = analysis_settings(trial.protocol)
    best = best_overall_response(trial, settings)
    km_summary, at_risk, tte_listing, curves = survival.survival_tables(trial, settings, best)
    parameters = kinetics.nca(trial, settings)
    crs = crs_icans.crs_icans_by_subject(trial).set_index("subject_id")["crs_max_grade"]
    te = safety.treatment_emergent_aes(trial)
    sections: dict[str, tuple[AnalysisTable, ...]] = {
        "populations": (population_table(trial, settings),),
        "escalation": (_escalation_table(trial, settings), safety.dlt_by_dose(trial, settings)),
        "safety": (
            safety.ae_overview(trial, settings, te),
            *(safety.ae_incidence(trial, settings, subset, te) for subset in safety.AE_SUBSETS),
            safety.ae_worst_grade(trial, te),
            crs_icans.crs_icans_summary(trial, settings),
            safety.lab_shift(trial),
            safety.deaths(trial),
        ),
        "efficacy": (
            efficacy.bor_table(trial, settings, best),
            efficacy.response_rates(trial, settings, best),
            efficacy.time_to_response(trial, settings, best),
            km_summary,
            at_risk,
            efficacy.response_listing(trial, best),
            tte_listing,
        ),
        "kinetics": (
            kinetics.kinetics_summary(trial, settings, parameters),
            kinetics.exposure_response(trial, parameters, best, crs),
            kinetics.nca_table(trial, parameters),
        ),
        "immunogenicity": (
            immunogenicity.ada_incidence(trial, settings),
            immunogenicity.ada_over_time(trial, settings),
        ),
        "phenotype": (phenotype.phenotype_over_time(trial, settings),),
    }
    return TrialAnalysis(
        settings=settings, sections=sections, best_response=best, curves=curves, nca=parameters
    )
