"""CAR-T cellular kinetics: non-compartmental parameters per subject, summaries, exposure-response.

Per subject and assay unit, on the post-infusion samples (day ≥ 0):

* **Cmax / Tmax**: highest quantifiable level and the first day it was observed;
* **Clast / Tlast**: last quantifiable level (≥ LLOQ) and its day;
* **AUC0–28d** by the *linear-up / log-down* trapezoidal rule: a falling segment between two
  positive levels contributes (t₂ − t₁)(C₁ − C₂)/ln(C₁/C₂), every other segment
  (t₂ − t₁)(C₁ + C₂)/2.
  The level at day 0 is 0 when not sampled (no CAR-T cells before the infusion); a segment crossing
  day 28 is cut there with the same rule (linear if rising, log if falling).
* **Below-LLOQ handling** (reference ``cart-kinetics.md`` §2, common CAR-T practice): BLQ before the
  first quantifiable sample = 0; BLQ between quantifiable samples (embedded) = excluded; BLQ after
  Tlast = excluded from AUC (the AUC then stops at Tlast) but marks the loss of persistence.
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

#: How AUC is integrated (printed with every AUC).
AUC_METHOD = "linear-up/log-down"
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


def _segment_area(t1: np.ndarray, c1: np.ndarray, t2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    falling = (c2 < c1) & (c2 > 0) & (c1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_area = (t2 - t1) * (c1 - c2) / np.log(c1 / c2)
    return np.where(falling, log_area, (t2 - t1) * (c1 + c2) / 2)


def _level_at(
    t1: np.ndarray, c1: np.ndarray, t2: np.ndarray, c2: np.ndarray, t: float
) -> np.ndarray:
    falling = (c2 < c1) & (c2 > 0) & (c1 > 0)
    fraction = (t - t1) / (t2 - t1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_level = c1 * np.exp(fraction * np.log(c2 / c1))
    return np.where(falling, log_level, c1 + fraction * (c2 - c1))


def nca(trial: TrialData, settings: AnalysisSettings) -> pd.DataFrame:
    """Non-compartmental parameters per safety subject and assay unit (module rules).

    Returns
    -------
    DataFrame
        ``subject_id, dose_level, unit, n_samples, n_quantifiable, cmax, tmax_day, clast,
        tlast_day, auc_0_28, auc_method, persistence_m3, persistence_m6, persistence_m12``
        (levels in the assay unit, AUC in unit × day; persistence "detectable", "not detectable"
        or "NE").
    """
    safety = population(trial, "safety")
    kin = trial.kinetics
    kin = kin.loc[member_records(kin, safety, trial.data_cutoff) & (kin["day"] >= 0)]
    kin = kin.sort_values(["subject_id", "unit", "day"], kind="stable").reset_index(drop=True)
    above_lloq = kin["lloq"].isna() | (kin["value"] >= kin["lloq"])
    quant = ~as_flag(kin["below_lloq"]) & kin["value"].notna() & (kin["value"] > 0) & above_lloq
    key = ["subject_id", "unit"]
    grouped = kin.groupby(key, sort=True)
    out = grouped.agg(n_samples=("day", "size"), last_sample_day=("day", "max"))
    q = kin.loc[quant]
    qg = q.groupby(key, sort=True)
    out["n_quantifiable"] = qg.size().reindex(out.index).fillna(0).astype(int)
    first_q = qg["day"].min().reindex(out.index)
    out["tlast_day"] = qg["day"].max().reindex(out.index)
    cmax_rows = q.loc[qg["value"].idxmax()] if len(q) else q
    out["cmax"] = cmax_rows.set_index(key)["value"].reindex(out.index)
    out["tmax_day"] = cmax_rows.set_index(key)["day"].reindex(out.index)
    last_rows = q.loc[qg["day"].idxmax()] if len(q) else q
    out["clast"] = last_rows.set_index(key)["value"].reindex(out.index)

    # AUC points: leading BLQ = 0, embedded and trailing BLQ dropped.
    first_arr = (
        kin[key].merge(first_q.rename("first").reset_index(), on=key, how="left")["first"]
    ).to_numpy(dtype=float)
    leading = ~quant.to_numpy() & (kin["day"].to_numpy() < first_arr)
    used = kin.loc[quant.to_numpy() | leading, [*key, "day"]].copy()
    used["c"] = np.where(quant[used.index], kin.loc[used.index, "value"], 0.0)
    code = used.groupby(key, sort=True).ngroup().to_numpy()
    t = used["day"].to_numpy(dtype=float)
    c = used["c"].to_numpy(dtype=float)
    same = np.r_[code[1:] == code[:-1], False]
    t1, c1, t2, c2, g = t[:-1], c[:-1], t[1:], c[1:], code[:-1]
    keep = same[:-1] & (t1 < _AUC_END)
    t1, c1, t2, c2, g = t1[keep], c1[keep], t2[keep], c2[keep], g[keep]
    cut = t2 > _AUC_END
    c2 = np.where(cut, _level_at(t1, c1, t2, c2, _AUC_END), c2)
    t2 = np.where(cut, _AUC_END, t2)
    n_groups = int(code.max(initial=-1)) + 1
    areas = np.bincount(g, weights=_segment_area(t1, c1, t2, c2), minlength=n_groups)
    areas = areas.astype(float)
    starts = np.r_[True, code[1:] != code[:-1]] if code.size else np.array([], dtype=bool)
    start_t, start_c = t[starts], c[starts]
    # Linear rise from the level 0 at day 0 to the first point (cut at day 28 if later).
    end = np.minimum(start_t, _AUC_END)
    with np.errstate(divide="ignore", invalid="ignore"):
        level_at_end = np.where(start_t > 0, start_c * end / start_t, 0.0)
    areas += np.where(start_t > 0, end * level_at_end / 2, 0.0)
    auc_index = used.groupby(key, sort=True).size().index
    auc = pd.Series(areas, index=auc_index).reindex(out.index)
    followed = out["last_sample_day"] >= _AUC_END
    out["auc_0_28"] = auc.where(followed & (out["n_quantifiable"] > 0))
    out["auc_method"] = AUC_METHOD
    for month, nominal in PERSISTENCE_MONTHS.items():
        start = persistence_window_start(settings, nominal)
        detectable = out["tlast_day"] >= start
        sampled = out["last_sample_day"] >= start
        out[f"persistence_m{month}"] = np.select(
            [detectable, sampled], ["detectable", "not detectable"], default="NE"
        )
    out = out.reset_index()
    dose = safety.set_index("subject_id")["dose_level"]
    out.insert(1, "dose_level", out["subject_id"].map(dose))
    columns = [
        "subject_id", "dose_level", "unit", "n_samples", "n_quantifiable", "cmax", "tmax_day",
        "clast", "tlast_day", "auc_0_28", "auc_method",
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
            f'AUC0–28d auc_method="{AUC_METHOD}"; BLQ: leading = 0, embedded and trailing excluded'
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
