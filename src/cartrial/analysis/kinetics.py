"""CAR-T cellular kinetics: non-compartmental parameters per subject, summaries, exposure-response.

Per subject and assay unit, on the post-infusion samples (day ≥ 0):

* **Cmax / Tmax**: highest quantifiable level and the first day it was observed;
* **Clast / Tlast**: last quantifiable level (≥ LLOQ) and its day;
* **AUClast, AUCall, AUC0–28d** by the *lin up/log down* trapezoidal rule (PKNCA's name): a
  falling segment between two positive levels contributes (t₂ − t₁)(C₁ − C₂)/ln(C₁/C₂), every
  other segment (t₂ − t₁)(C₁ + C₂)/2; AUC0–28d also by the linear rule. The level at day 0 is 0
  when not sampled; a segment crossing day 28 is cut there with the same rule
  (:mod:`cartrial.analysis.nca`, which follows PKNCA).
* **Below-LLOQ handling** (reference ``cart-kinetics.md`` §2, common CAR-T practice): BLQ before the
  first quantifiable sample = 0; BLQ between quantifiable samples (embedded) = excluded; BLQ after
  Tlast = excluded from AUClast and AUC0–28d (they stop at Tlast), 0 for AUCall, and marks the loss
  of persistence (PKNCA ``conc.blq`` defaults).
  AUC0–28d is NE when the subject was not sampled through day 28; everything is NE when no sample
  is quantifiable.
* **Persistence at months 3, 6, 12**: *detectable* if a quantifiable sample exists on or after the
  first day of the window of the scheduled kinetics visit of that month, *not detectable* if the
  subject was sampled then but nothing was quantifiable, NE if not sampled that late.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis.dataset import TrialData, as_flag
from cartrial.analysis.nca import nca_many
from cartrial.analysis.populations import dose_groups, member_records, population
from cartrial.analysis.response import BestResponse, listing_note
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.stats import geometric_summary
from cartrial.analysis.tables import AnalysisTable
from cartrial.vocab import OBJECTIVE_RESPONSES

__all__ = [
    "AUC_METHOD",
    "PERSISTENCE_MONTHS",
    "exposure_response",
    "kinetics_summary",
    "nca",
    "nca_table",
    "persistence_window_start",
]

#: How AUC is integrated (printed with every AUC; PKNCA's name; ``auc_0_28_linear`` also given).
AUC_METHOD = "lin up/log down"
#: Months at which persistence is reported, with their nominal day after infusion.
PERSISTENCE_MONTHS = {3: 91, 6: 182, 12: 365}
_AUC_END = 28.0


def persistence_window_start(settings: AnalysisSettings, nominal_day: int) -> int:
    """First day of the window of the scheduled kinetics visit nearest ``nominal_day``.

    Falls back to ``nominal_day`` when the protocol schedules no kinetics visit.
    """
    visits = settings.visits.get("kinetics", ())
    if not visits:
        return nominal_day
    return min(visits, key=lambda v: abs(v.day - nominal_day)).earliest


def nca(trial: TrialData, settings: AnalysisSettings) -> pd.DataFrame:
    """Non-compartmental parameters per safety subject and assay unit (:mod:`~.nca` rules).

    Returns
    -------
    DataFrame
        ``subject_id, dose_level, unit, n_samples, n_quantifiable, cmax, tmax_day, clast,
        tlast_day, auc_last, auc_all, auc_0_28, auc_0_28_linear, auc_method, persistence_m3,
        persistence_m6, persistence_m12`` (levels in the assay unit, AUC in unit × day;
        ``auc_0_28`` by linear-up/log-down, ``auc_0_28_linear`` by the linear rule; persistence
        "detectable", "not detectable" or "NE").
    """
    safety = population(trial, "safety")
    kin = trial.kinetics
    kin = kin.loc[member_records(kin, safety, trial.data_cutoff) & (kin["day"] >= 0)]
    above_lloq = kin["lloq"].isna() | (kin["value"] >= kin["lloq"])
    quant = ~as_flag(kin["below_lloq"]) & kin["value"].notna() & (kin["value"] > 0) & above_lloq
    kin = kin.assign(blq=~quant)
    key = ["subject_id", "unit"]
    out = nca_many(kin, key, end=_AUC_END)
    grouped = kin.groupby(key, sort=True)
    out["n_samples"] = grouped.size()
    out["n_quantifiable"] = (~kin["blq"]).groupby([kin[k] for k in key]).sum().astype(int)
    last_sample = grouped["day"].max()
    out = out.rename(
        columns={"tmax": "tmax_day", "tlast": "tlast_day", "auc_0_end": "auc_0_28",
                 "auc_0_end_linear": "auc_0_28_linear"}
    )  # fmt: skip
    out["auc_method"] = AUC_METHOD
    for month, nominal in PERSISTENCE_MONTHS.items():
        start = persistence_window_start(settings, nominal)
        out[f"persistence_m{month}"] = np.select(
            [out["tlast_day"] >= start, last_sample >= start],
            ["detectable", "not detectable"],
            default="NE",
        )
    out = out.reset_index()
    dose = safety.set_index("subject_id")["dose_level"]
    out.insert(1, "dose_level", out["subject_id"].map(dose))
    columns = [
        "subject_id", "dose_level", "unit", "n_samples", "n_quantifiable", "cmax", "tmax_day",
        "clast", "tlast_day", "auc_last", "auc_all", "auc_0_28", "auc_0_28_linear", "auc_method",
        *[f"persistence_m{m}" for m in PERSISTENCE_MONTHS],
    ]  # fmt: skip
    return out[columns]


def _nca_notes(parameters: pd.DataFrame, safety_n: int) -> tuple[str, ...]:
    notes: list[str] = []
    if safety_n == 0:
        notes.append("No subject in the safety population (n = 0): no kinetics parameters.")
    blq = sorted(set(parameters.loc[parameters["n_quantifiable"] == 0, "subject_id"]))
    if blq:
        notes.append(listing_note(blq, "had every kinetics sample below the LLOQ (parameters NE)"))
    short = parameters.loc[(parameters["n_quantifiable"] > 0) & parameters["auc_0_28"].isna()]
    if len(short):
        notes.append(
            listing_note(
                sorted(set(short["subject_id"])), "were not sampled through day 28 (AUC0–28d NE)"
            )
        )
    return tuple(notes)


def nca_table(trial: TrialData, parameters: pd.DataFrame) -> AnalysisTable:
    """Per-subject NCA parameters (from :func:`nca`) as a report table."""
    safety_n = len(population(trial, "safety"))
    return AnalysisTable(
        key="kinetics_nca",
        title="CAR-T cellular kinetics: non-compartmental parameters per subject",
        frame=parameters,
        population="safety",
        n=safety_n,
        method=(
            f'AUC auc_method="{AUC_METHOD}" (AUC0–28d also linear); BLQ as PKNCA: leading = 0,'
            " embedded dropped, trailing = 0 (AUCall only)"
        ),
        notes=_nca_notes(parameters, safety_n),
    )


def _median(values: pd.Series) -> float:
    present = values.dropna().astype(float)
    return float(present.median()) if len(present) else float("nan")


def _exposure_columns(group: pd.DataFrame) -> dict[str, object]:
    """Geometric mean and geometric CV % of Cmax and AUC0–28d in one group of subjects."""
    cmax, auc = geometric_summary(group["cmax"]), geometric_summary(group["auc_0_28"])
    return {
        "cmax_n": cmax.n,
        "cmax_geo_mean": cmax.geometric_mean,
        "cmax_geo_cv_pct": cmax.geometric_cv_pct,
        "auc_0_28_n": auc.n,
        "auc_0_28_geo_mean": auc.geometric_mean,
        "auc_0_28_geo_cv_pct": auc.geometric_cv_pct,
    }


def kinetics_summary(
    trial: TrialData, settings: AnalysisSettings, parameters: pd.DataFrame
) -> AnalysisTable:
    """By unit and dose level: geometric mean (geo CV %) of Cmax and AUC, median Tmax and Tlast,
    and persistence at months 3, 6, 12 (detectable / assessed)."""
    rows = []
    for unit in sorted(parameters["unit"].unique()):
        per_unit = parameters.loc[parameters["unit"] == unit]
        for level in [*dose_groups(settings, per_unit), "Total"]:
            group = per_unit if level == "Total" else per_unit.loc[per_unit["dose_level"] == level]
            row: dict[str, object] = {
                "unit": unit,
                "dose_level": level,
                "subjects": len(group),
                **_exposure_columns(group),
                "tmax_median_day": _median(group["tmax_day"]),
                "tmax_min_day": group["tmax_day"].min(),
                "tmax_max_day": group["tmax_day"].max(),
                "tlast_median_day": _median(group["tlast_day"]),
            }
            for month in PERSISTENCE_MONTHS:
                status = group[f"persistence_m{month}"]
                assessed = int((status != "NE").sum())
                row[f"persistent_m{month}"] = f"{int((status == 'detectable').sum())}/{assessed}"
            rows.append(row)
    return AnalysisTable(
        key="kinetics_summary",
        title="CAR-T cellular kinetics by dose level",
        frame=pd.DataFrame(rows),
        population="safety",
        n=len(population(trial, "safety")),
        method=(
            f'geometric mean and geometric CV % (√(exp(s²)−1)·100); auc_method="{AUC_METHOD}";'
            " persistence = detectable / subjects sampled at that month"
        ),
        notes=_nca_notes(parameters, len(population(trial, "safety"))),
    )


def exposure_response(
    trial: TrialData, parameters: pd.DataFrame, best: BestResponse, crs_max_grade: pd.Series
) -> AnalysisTable:
    """Cmax and AUC0–28d (geometric mean, CV %) by best response and by maximum CRS grade.

    Parameters
    ----------
    crs_max_grade
        Maximum CRS grade per subject, indexed by ``subject_id``.
    """
    bor = best.subjects.set_index("subject_id")["bor"]
    rows = []
    for unit in sorted(parameters["unit"].unique()):
        data = parameters.loc[parameters["unit"] == unit].copy()
        data["response"] = data["subject_id"].map(bor)
        data["responder"] = np.where(
            data["response"].isin(OBJECTIVE_RESPONSES), "responder (CR/PR)", "non-responder"
        )
        grade = data["subject_id"].map(crs_max_grade).fillna(0).astype(int)
        data["crs"] = np.where(grade >= 3, "CRS grade ≥ 3", "CRS grade " + grade.astype(str))
        for factor in ("responder", "response", "crs"):
            for level, group in data.groupby(factor, sort=True):
                rows.append(
                    {
                        "unit": unit,
                        "factor": {
                            "responder": "response (CR/PR)",
                            "response": "best overall response",
                            "crs": "maximum CRS grade",
                        }[factor],
                        "level": level,
                        "subjects": len(group),
                        **_exposure_columns(group),
                    }
                )
    return AnalysisTable(
        key="exposure_response",
        title="Exposure–response: Cmax and AUC0–28d by response and by CRS grade",
        frame=pd.DataFrame(rows),
        population="safety",
        n=len(population(trial, "safety")),
        method="descriptive: geometric mean and geometric CV % per group (no test in a phase I)",
        notes=(),
    )
