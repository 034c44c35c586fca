"""Expected efficacy of the demo's virtual population, for calibrating it to published results.

The 29 subjects of one demo run say little about the model (an ORR of 5/32 has a 95% interval of
5-33 %), so :func:`simulate_efficacy` treats thousands of virtual patients the way the demo does and
:func:`expected_efficacy` summarises them:

1. referred patients (:func:`cartrial.virtual.sample_population`) are screened with the
   protocol's criteria by the services' own rule (:func:`cartrial.services.evaluate_eligibility`
   on the demo's screening record) and the eligible ones are treated at a dose level's cells;
2. each scheduled tumour scan up to death, withdrawal or the end of follow-up is the lesion table
   the demo records (:func:`cartrial.virtual.scans.scan_lesions`, missed visits left out), and the
   project's RECIST 1.1 engine (:func:`cartrial.rules.recist.evaluate`, with the protocol's
   confirmation and minimum-SD settings) derives every time point and best overall response;
3. ORR (confirmed CR + PR) and DCR (CR + PR + SD, SD at least ``sd_min_days``) are over the
   efficacy-evaluable patients (a post-baseline scan, or death before one); PFS is from the first
   PD time point or death, censored at the last adequate scan when new anticancer therapy comes
   first, and OS from death, censored at withdrawal or the end of follow-up; medians and 6-month
   rates are Kaplan-Meier estimates (:mod:`cartrial.analysis.km`, R ``survival`` conventions).

:data:`PUBLISHED` holds the published first-in-human CLDN18.2 CAR-T results that the model's
tumour and survival parameters are calibrated against (``virtual/params.yaml`` cites them);
``scripts/calibrate_efficacy.py`` prints the comparison and ``docs/demo.md`` records it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.analysis.km import km_estimate, km_quantiles
from cartrial.demo.conduct import screening_record
from cartrial.protocol import Protocol
from cartrial.rules import recist
from cartrial.services.eligibility import evaluate_eligibility
from cartrial.virtual.cohort import VirtualCohort, VirtualPopulation, sample_population
from cartrial.virtual.params import INDICATIONS, VirtualParams
from cartrial.virtual.scans import baseline_lesions, scan_lesions

__all__ = [
    "DAYS_PER_MONTH",
    "PUBLISHED",
    "ExpectedEfficacy",
    "PublishedEfficacy",
    "eligible_population",
    "expected_efficacy",
    "simulate_efficacy",
]

#: Days per month of the report's times in months (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12
_REFERENCE = dt.date(2000, 1, 1)
FloatArray = npt.NDArray[np.float64]
_DISEASE_CONTROL = ("CR", "PR", "SD", "NON-CR/NON-PD")


@dataclass(frozen=True)
class PublishedEfficacy:
    """Published efficacy of a CAR-T trial: the calibration targets, with their source.

    Rates are fractions; ``pfs_median_months`` the Kaplan-Meier median PFS; ``os_6m`` the
    6-month overall survival rate (``gastric_only`` fields give the gastric-cancer subgroup).
    """

    source: str
    orr: float
    dcr: float
    orr_gastric: float
    dcr_gastric: float
    pfs_median_months: float
    os_6m_gastric: float


#: CT041 (satricabtagene autoleucel), the first-in-human CLDN18.2 CAR-T: Qi C, Gong J, Li J, et al.
#: Claudin18.2-specific CAR T cells in gastrointestinal cancers: phase 1 trial interim results.
#: Nat Med 2022;28:1189-1198 (NCT03874897; 37 patients at 2.5, 3.75 or 5.0 x 10^8 cells).
#: ORR, DCR, the gastric-cancer ORR/DCR and 6-month OS are in the abstract; the median PFS of
#: 3.7 months (all patients) is from the paper's results as the project brief quotes them.
PUBLISHED = PublishedEfficacy(
    source="Qi et al., Nat Med 2022;28:1189-1198 (CT041-CG4006 interim, NCT03874897)",
    orr=0.486,
    dcr=0.730,
    orr_gastric=0.571,
    dcr_gastric=0.750,
    pfs_median_months=3.7,
    os_6m_gastric=0.812,
)


def eligible_population(
    protocol: Protocol, n_referred: int, seed: int, params: VirtualParams | None = None
) -> VirtualPopulation:
    """The referred patients (of ``n_referred``) that the protocol's screening lets in.

    Each patient's demo screening record goes through the services' eligibility rule; patients
    lost at screening for other reasons (``other_screen_failure``) are left out too.
    """
    pool = sample_population(n_referred, np.random.SeedSequence(seed), params)
    b = pool.baseline
    day = dt.date(2023, 1, 2)
    keep = [
        i
        for i in range(pool.n)
        if not b.other_screen_failure[i]
        and all(
            c.met
            for c in evaluate_eligibility(protocol, screening_record(f"P{i}", "S01", day, b, i))
        )
    ]
    index = np.asarray(keep, dtype=np.int64)
    seed_after = np.random.SeedSequence(seed, spawn_key=(1,))
    return VirtualPopulation(b.take(index), seed_after, pool.params)


def _pfs(
    timepoints: pd.DataFrame,
    subjects: pd.Index,
    first_pd: FloatArray,
    death: FloatArray,
    therapy: FloatArray,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """PFS days and event flags: first PD time point or death; censored at the last adequate
    scan (day 0 without one) when new anticancer therapy starts first or neither happens."""
    event_day = np.fmin(first_pd, death)
    event = np.isfinite(event_day) & ~(therapy <= event_day)
    adequate = timepoints.loc[timepoints["overall_response"] != "NE", ["subject_id", "day"]]
    limit = adequate["subject_id"].map(pd.Series(event_day, index=subjects))
    before = adequate.loc[~(adequate["day"] >= limit)]
    last = before.groupby("subject_id")["day"].max().reindex(subjects).fillna(0.0)
    return np.where(event, event_day, last.to_numpy(dtype=float)), event


def _lesion_table(
    cohort: VirtualCohort, scan_days: list[int], last_day: FloatArray, subjects: pd.Index
) -> pd.DataFrame:
    """The baseline and follow-up scans the site records, as the RECIST engine's lesion table.

    The site scans until death, withdrawal or the end of follow-up (``last_day``) and stops after
    PD: every scan after the first one whose true target sum is twice the baseline sum (a certain
    PD) is left out, so that no unphysical size of an untreated tumour years on reaches the engine.
    """
    scans = scan_lesions(cohort, scan_days)
    les = cohort.baseline.lesions
    sums = cohort.tumour.true_sum_of_diameters(np.asarray(scan_days, dtype=float))
    doubled = sums > 2.0 * (les.baseline_mm * les.target).sum(axis=1)[:, None]
    stop = np.where(doubled.any(axis=1), np.asarray(scan_days)[doubled.argmax(axis=1)], np.inf)
    patient = scans["patient"].to_numpy()
    scans = scans[scans["day"].to_numpy() <= np.minimum(last_day, stop)[patient]]
    base = baseline_lesions(cohort.baseline).assign(
        day=float(cohort.params.population.baseline_scan_day)
    )
    table = pd.concat([base, scans.drop(columns="scan")], ignore_index=True)
    table["subject_id"] = subjects.to_numpy()[table["patient"].to_numpy()]
    table["assessment_date"] = pd.Timestamp(_REFERENCE) + pd.to_timedelta(table["day"], unit="D")
    return table[list(recist.LESION_COLUMNS)]


def simulate_efficacy(
    protocol: Protocol,
    dose_level: str,
    n_referred: int,
    seed: int,
    params: VirtualParams | None = None,
) -> pd.DataFrame:
    """Screen ``n_referred`` virtual patients, treat the eligible at ``dose_level``, follow them.

    Returns one row per treated patient: ``indication, evaluable, bor`` (RECIST 1.1 best overall
    response by the project's engine), ``any_response`` (a CR/PR time point before any PD,
    confirmed or not), ``pfs_days, pfs_event, os_days, os_event`` and, to show that calibrating
    efficacy leaves toxicity alone, ``crs_max_grade, icans_max_grade`` (ASTCT grades).

    Raises
    ------
    ValueError
        If ``dose_level`` is not one of the protocol's dose levels.
    """
    levels = {level.name: level.cells for level in protocol.dose_levels}
    if dose_level not in levels:
        raise ValueError(f"unknown dose level {dose_level!r}; the protocol has {', '.join(levels)}")
    cohort = eligible_population(protocol, n_referred, seed, params).treat(levels[dose_level])
    truth = cohort.truth(protocol.dlt.window_days, protocol.recist.sd_min_days)
    follow_up = float(protocol.schedule.follow_up_days)
    ends = np.minimum(truth["death_day"].to_numpy(float), truth["dropout_day"].to_numpy(float))
    last_day = np.floor(np.minimum(ends, follow_up))
    subjects = pd.Index([f"V{i:06d}" for i in range(cohort.n)], name="subject_id")
    scan_days = sorted({v.day for v in protocol.schedule.visits_with("tumour") if v.day > 0})
    result = recist.evaluate(
        _lesion_table(cohort, scan_days, last_day, subjects),
        {s: _REFERENCE for s in subjects},
        confirm=protocol.recist.confirm,
        sd_min_days=protocol.recist.sd_min_days,
        confirm_min_days=protocol.recist.confirm_min_days,
    )
    best = result.best.set_index("subject_id").reindex(subjects)
    tps = result.timepoints
    death = truth["death_day"].to_numpy(dtype=float)
    died = death <= np.minimum(truth["dropout_day"].to_numpy(), follow_up)
    death_seen = np.where(died, np.floor(death), np.inf)
    scanned = np.asarray(subjects.isin(tps["subject_id"]))
    first_pd = tps.loc[tps["overall_response"] == "PD"].groupby("subject_id")["day"].min()
    responding = tps.loc[
        tps["overall_response"].isin(["CR", "PR"])
        & ~(tps["day"] >= tps["subject_id"].map(first_pd))
    ]
    therapy = np.floor(truth["subsequent_therapy_day"].to_numpy(dtype=float))
    pfs_days, pfs_event = _pfs(
        tps, subjects, first_pd.reindex(subjects).to_numpy(dtype=float), death_seen, therapy
    )
    return pd.DataFrame(
        {
            "indication": np.asarray(INDICATIONS, dtype=object)[cohort.baseline.indication],
            "evaluable": scanned | (died & (death_seen < scan_days[0])),
            "bor": best["best_overall_response"].fillna("NE").to_numpy(),
            "any_response": np.asarray(subjects.isin(responding["subject_id"])),
            "pfs_days": pfs_days,
            "pfs_event": pfs_event,
            "os_days": np.where(died, death_seen, last_day),
            "os_event": died,
            "crs_max_grade": cohort.crs.max_grade,
            "icans_max_grade": cohort.icans.max_grade,
        },
        index=subjects,
    )


def _km(days: pd.Series, events: pd.Series, at_months: float) -> tuple[float, float]:
    """Kaplan-Meier median (months; NaN when not reached) and survival at ``at_months``."""
    km = km_estimate(days.to_numpy(dtype=float), events.to_numpy(dtype=bool))
    median = km_quantiles(km, (0.5,))[0].estimate
    before = km.time <= at_months * DAYS_PER_MONTH
    rate = float(km.surv[before][-1]) if before.any() else 1.0
    return median / DAYS_PER_MONTH if math.isfinite(median) else math.nan, rate


@dataclass(frozen=True)
class ExpectedEfficacy:
    """Expected efficacy of a simulated cohort (rates as fractions, times in months).

    ``orr`` counts confirmed CR/PR as the protocol requires (when it does), ``orr_unconfirmed``
    any CR/PR time point before PD; ``gastric`` fields are the gastric and GEJ patients (the
    "GC" of Qi 2022); ``pfs_at_published_median`` is the PFS rate at
    ``PUBLISHED.pfs_median_months`` (0.5 when the model's median is the published one; the KM
    median itself jumps between the 6-weekly scan days).
    """

    n: int
    n_evaluable: int
    orr: float
    orr_unconfirmed: float
    dcr: float
    orr_gastric: float
    dcr_gastric: float
    pfs_median_months: float
    pfs_at_published_median: float
    os_median_months: float
    os_6m: float
    os_6m_gastric: float


def expected_efficacy(frame: pd.DataFrame) -> ExpectedEfficacy:
    """Summarise :func:`simulate_efficacy`'s patients (rates over the evaluable ones)."""
    evaluable = frame[frame["evaluable"]]
    gastric = evaluable["indication"].isin(["gastric", "gej"])
    responders = evaluable["bor"].isin(["CR", "PR"])
    controlled = evaluable["bor"].isin(_DISEASE_CONTROL)
    pfs_median, pfs_at = _km(frame["pfs_days"], frame["pfs_event"], PUBLISHED.pfs_median_months)
    os_median, os_6m = _km(frame["os_days"], frame["os_event"], 6.0)
    in_gastric = frame["indication"].isin(["gastric", "gej"])
    _, os_6m_gastric = _km(frame.loc[in_gastric, "os_days"], frame.loc[in_gastric, "os_event"], 6.0)
    return ExpectedEfficacy(
        n=len(frame),
        n_evaluable=len(evaluable),
        orr=float(responders.mean()),
        orr_unconfirmed=float(evaluable["any_response"].mean()),
        dcr=float(controlled.mean()),
        orr_gastric=float(responders[gastric].mean()),
        dcr_gastric=float(controlled[gastric].mean()),
        pfs_median_months=pfs_median,
        pfs_at_published_median=pfs_at,
        os_median_months=os_median,
        os_6m=os_6m,
        os_6m_gastric=os_6m_gastric,
    )
