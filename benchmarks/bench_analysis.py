"""Benchmark of the analysis and the report (plain python; prints a table).

    .venv/bin/python benchmarks/bench_analysis.py          # 29-subject report, 100,000 analysed
    .venv/bin/python benchmarks/bench_analysis.py --quick  # smaller in-silico trial (10,000)

* full report (numbered tables and listings, 12 figures as PNG and SVG, HTML, PDF, DOCX, CSV) of
  a 29-subject study — target < 10 s of CPU;
* analysis without figures (every table of :func:`cartrial.analysis.analyse_trial`) of a
  100,000-subject in-silico trial — target < 30 s;
* a reference per-subject loop (pandas groupby-apply) for the kinetics AUC, to show the speed-up of
  the vectorised linear-up/log-down AUC.

The synthetic trial is random but plausible (fixed seed): AEs, labs, daily CRS/ICANS grades, RECIST
time points every 42 days, kinetics on the protocol schedule, ADA and phenotype samples.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData, analyse_trial, analysis_settings, empty_table
from cartrial.analysis.kinetics import nca
from cartrial.protocol import load_protocol
from cartrial.report import build_report

TERMS = [
    ("Cytokine release syndrome", "Immune system disorders"),
    ("Neutrophil count decreased", "Investigations"),
    ("Anemia", "Blood and lymphatic system disorders"),
    ("Nausea", "Gastrointestinal disorders"),
    ("Fever", "General disorders and administration site conditions"),
    ("Platelet count decreased", "Investigations"),
    ("Diarrhea", "Gastrointestinal disorders"),
    ("Fatigue", "General disorders and administration site conditions"),
    ("Immune effector cell-associated neurotoxicity syndrome", "Nervous system disorders"),
    ("Gastric hemorrhage", "Gastrointestinal disorders"),
]
KIN_DAYS = np.array([0, 1, 4, 7, 10, 14, 21, 28, 56, 91, 182, 273, 365])


def synthetic_trial(n: int, seed: int = 1) -> TrialData:
    """A random in-silico trial of ``n`` infused subjects (vectorised, seconds for 100,000)."""
    rng = np.random.default_rng(seed)
    protocol = load_protocol()
    levels = [d.name for d in protocol.dose_levels]
    ids = np.array([f"S{i:06d}" for i in range(n)])
    dose_index = rng.integers(1, len(levels), n)
    infusion = pd.Timestamp("2025-01-06") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    cutoff = pd.Timestamp("2026-06-30")
    death_day = np.where(rng.random(n) < 0.4, rng.integers(30, 500, n), -1)
    death = pd.Series(infusion + pd.to_timedelta(np.maximum(death_day, 0), unit="D")).where(
        death_day > 0
    )
    subjects = pd.DataFrame(
        {
            "subject_id": ids,
            "site_id": "SITE-1",
            "phase": np.where(np.arange(n) < 9, "escalation", "expansion"),
            "indication": rng.choice(["gastric", "gej", "pancreatic"], n),
            "age": rng.integers(30, 75, n),
            "sex": rng.choice(["F", "M"], n),
            "ecog": rng.integers(0, 2, n),
            "dose_level": np.array(levels)[dose_index],
            "dose_index": dose_index,
            "cells_infused": 2.5e8,
            "enrolled_date": infusion - pd.Timedelta(days=30),
            "lymphodepletion_date": infusion - pd.Timedelta(days=5),
            "infusion_date": infusion,
            "dlt_evaluable": rng.random(n) < 0.95,
            "efficacy_evaluable": rng.random(n) < 0.9,
            "death_date": death,
            "death_cause": np.where(death_day > 0, "disease progression", ""),
            "last_contact_date": pd.Series(death).fillna(cutoff),
            "withdrawn_date": pd.NaT,
            "subsequent_therapy_date": pd.Series(
                infusion + pd.to_timedelta(rng.integers(60, 400, n), unit="D")
            ).where(rng.random(n) < 0.2),
        }
    )

    def per_subject(k: int) -> tuple[np.ndarray, np.ndarray]:
        counts = rng.poisson(k, n)
        rows = np.repeat(np.arange(n), counts)
        return rows, counts

    rows, _ = per_subject(5)
    term = rng.integers(0, len(TERMS), rows.size)
    onset = rng.integers(-4, 60, rows.size)
    grade = rng.choice([1, 2, 3, 4, 5], rows.size, p=[0.45, 0.3, 0.18, 0.06, 0.01])
    adverse_events = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "ae_id": np.arange(rows.size),
            "term": [TERMS[t][0] for t in term],
            "soc": [TERMS[t][1] for t in term],
            "grade": grade,
            "onset_date": infusion[rows] + pd.to_timedelta(onset, unit="D"),
            "resolution_date": infusion[rows] + pd.to_timedelta(onset + 5, unit="D"),
            "serious": rng.random(rows.size) < 0.2,
            "related": rng.random(rows.size) < 0.5,
            "attribution": "possible",
            "outcome": "recovered",
            "is_dlt": (grade >= 3) & (onset <= 28) & (rng.random(rows.size) < 0.3),
        }
    )
    lab_days = np.array([-7, 1, 3, 7, 14, 28, 56, 91])
    rows = np.repeat(np.arange(n), lab_days.size)
    lday = np.tile(lab_days, n)
    labs = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "date": infusion[rows] + pd.to_timedelta(lday, unit="D"),
            "day": lday,
            "lbtestcd": "NEUT",
            "value": rng.lognormal(0.5, 0.6, rows.size),
            "unit": "10^9/L",
            "lln": 2.0,
            "uln": 7.5,
            "term": "Neutrophil count decreased",
            "grade": rng.choice([0, 1, 2, 3, 4], rows.size, p=[0.5, 0.2, 0.15, 0.1, 0.05]),
        }
    )
    rows = np.repeat(np.arange(n), 10)
    cday = np.tile(np.arange(1, 11), n)
    crs_icans = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "date": infusion[rows] + pd.to_timedelta(cday, unit="D"),
            "day": cday,
            "crs_grade": rng.choice([0, 1, 2, 3], rows.size, p=[0.7, 0.2, 0.08, 0.02]),
            "icans_grade": rng.choice([0, 1, 2, 3], rows.size, p=[0.9, 0.06, 0.03, 0.01]),
            "tocilizumab": rng.random(rows.size) < 0.05,
            "steroids": rng.random(rows.size) < 0.03,
        }
    )
    scans = np.arange(0, 8)
    rows = np.repeat(np.arange(n), scans.size)
    sday = np.where(np.tile(scans, n) == 0, -10, np.tile(scans, n) * 42)
    trend = rng.normal(-1.0, 1.5, n)[rows] * np.maximum(sday, 0) / 42 * 6
    pct = np.round(np.where(sday < 0, 0.0, trend + rng.normal(0, 4, rows.size)), 1)
    response = np.select([sday < 0, pct >= 20, pct <= -30], ["", "PD", "PR"], default="SD").astype(
        object
    )
    response[response == ""] = np.nan
    tumour_timepoints = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "assessment_date": infusion[rows] + pd.to_timedelta(sday, unit="D"),
            "day": sday,
            "target_response": response,
            "nontarget_response": "NON-CR/NON-PD",
            "new_lesions": False,
            "overall_response": response,
            "sum_of_diameters_mm": 60 * (1 + pct / 100),
            "pct_change_from_baseline": pct,
        }
    )
    rows = np.repeat(np.arange(n), KIN_DAYS.size)
    kday = np.tile(KIN_DAYS, n).astype(float)
    cmax = rng.lognormal(8, 1.2, n)[rows]
    tmax = rng.uniform(6, 12, n)[rows]
    after = kday - tmax
    decline = 0.99 * np.exp(-0.16 * after) + 0.01 * np.exp(-0.003 * after)
    level = cmax * np.where(kday < tmax, np.exp(after * 0.9), decline)
    level = level * rng.lognormal(0, 0.3, rows.size)
    kinetics = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "date": infusion[rows] + pd.to_timedelta(kday, unit="D"),
            "day": kday,
            "value": np.where(level >= 10, level, np.nan),
            "unit": "copies/ug gDNA",
            "lloq": 10.0,
            "below_lloq": level < 10,
        }
    )
    ada_days = np.array([-28, 14, 28, 91, 182])
    rows = np.repeat(np.arange(n), ada_days.size)
    positive = rng.random(rows.size) < 0.15
    ada = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "date": infusion[rows] + pd.to_timedelta(np.tile(ada_days, n), unit="D"),
            "day": np.tile(ada_days, n),
            "screen": np.where(positive, "positive", "negative"),
            "confirmed": positive,
            "titer": np.where(positive, 2.0 ** rng.integers(2, 9, rows.size), np.nan),
        }
    )
    markers = ["cd4_cd8_ratio", "tscm", "tcm", "tem", "pd1", "lag3"]
    ph_days = np.array([7, 28, 91])
    rows = np.repeat(np.arange(n), len(markers) * ph_days.size)
    phenotype = pd.DataFrame(
        {
            "subject_id": ids[rows],
            "day": np.tile(np.repeat(ph_days, len(markers)), n),
            "marker": np.tile(markers * ph_days.size, n),
            "value": rng.uniform(0.5, 60, rows.size),
        }
    )
    phenotype["date"] = infusion[rows] + pd.to_timedelta(phenotype["day"], unit="D")
    cohorts = np.arange(1, 4)
    dose_decisions = pd.DataFrame(
        {
            "cohort": cohorts,
            "dose_level": ["DL1", "DL2", "DL3"],
            "dose_index": [1, 2, 3],
            "n_treated": 3,
            "n_dlt": [0, 0, 1],
            "action": ["escalate", "escalate", "stay"],
            "next_dose_index": [2, 3, 3],
            "decided_date": pd.Timestamp("2025-04-01") + pd.to_timedelta(cohorts * 35, unit="D"),
            "signed_by": "SRC",
        }
    )
    return TrialData(
        subjects=subjects,
        adverse_events=adverse_events,
        labs=labs,
        crs_icans=crs_icans,
        tumour_timepoints=tumour_timepoints,
        lesions=empty_table("lesions"),
        kinetics=kinetics,
        ada=ada,
        phenotype=phenotype,
        dose_decisions=dose_decisions,
        data_cutoff=cutoff,
        protocol=protocol,
    )


def reference_auc(trial: TrialData) -> pd.Series:
    """Per-subject loop (groupby-apply) of the linear-up/log-down AUC0-28: the slow reference."""

    def one(group: pd.DataFrame) -> float:
        group = group.sort_values("day")
        quant = ~group["below_lloq"]
        if not quant.any():
            return math.nan
        first = group.loc[quant, "day"].min()
        keep = quant | (group["day"] < first)
        t = group.loc[keep, "day"].to_numpy(float)
        c = np.where(quant[keep], group.loc[keep, "value"], 0.0)
        area = 0.0
        for t1, c1, t2, c2 in zip(t[:-1], c[:-1], t[1:], c[1:], strict=True):
            if t1 >= 28:
                break
            if t2 > 28:
                falling = c2 < c1 and c2 > 0
                c2 = (
                    c1 * (c2 / c1) ** ((28 - t1) / (t2 - t1))
                    if falling
                    else c1 + (c2 - c1) * (28 - t1) / (t2 - t1)
                )
                t2 = 28.0
            if c2 < c1 and c2 > 0:
                area += (t2 - t1) * (c1 - c2) / math.log(c1 / c2)
            else:
                area += (t2 - t1) * (c1 + c2) / 2
        return area

    kin = trial.kinetics.loc[trial.kinetics["day"] >= 0]
    return kin.groupby("subject_id")[["day", "value", "below_lloq"]].apply(one)


def timed(
    label: str,
    func: Callable[[], object],
    rows: list[tuple[str, float, float, str]],
    target: str = "",
) -> object:
    """Run ``func``; append (label, wall seconds, CPU seconds of this process, target) to rows."""
    start, cpu = time.perf_counter(), time.process_time()
    value = func()
    rows.append((label, time.perf_counter() - start, time.process_time() - cpu, target))
    print(f"{label:<74} {rows[-1][1]:7.2f} {rows[-1][2]:7.2f}  {target}", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 instead of 100,000 subjects")
    args = parser.parse_args()
    big = 10_000 if args.quick else 100_000
    rows: list[tuple[str, float, float, str]] = []
    print(f"{'step':<74} {'wall s':>7} {'CPU s':>7}  target")
    small = synthetic_trial(29)
    with tempfile.TemporaryDirectory() as out:
        timed(
            "29-subject study: full report (HTML, PDF, DOCX, CSV, 12 figures PNG+SVG)",
            lambda: build_report(small, out),
            rows,
            "< 10 s CPU",
        )
    trial = timed(
        f"{big:,}-subject in-silico trial: generate data", lambda: synthetic_trial(big), rows
    )
    assert isinstance(trial, TrialData)
    timed(
        f"{big:,}-subject in-silico trial: analysis without figures (all tables)",
        lambda: analyse_trial(trial),
        rows,
        "< 30 s",
    )
    settings = analysis_settings(trial.protocol)
    sample = TrialData(**{**trial.__dict__, "subjects": trial.subjects.head(5_000)})
    fast = timed("kinetics NCA, 5,000 subjects, vectorised", lambda: nca(sample, settings), rows)
    kept = sample.kinetics.loc[sample.kinetics["subject_id"].isin(sample.subjects["subject_id"])]
    reference = TrialData(**{**sample.__dict__, "kinetics": kept})
    slow = timed(
        "kinetics AUC, 5,000 subjects, reference groupby-apply loop",
        lambda: reference_auc(reference),
        rows,
    )
    assert isinstance(fast, pd.DataFrame) and isinstance(slow, pd.Series)
    check = fast.set_index("subject_id")["auc_0_28"].dropna()
    assert np.allclose(check, slow.reindex(check.index), rtol=1e-9), "vectorised AUC differs"
    ratio = rows[-1][2] / rows[-2][2]
    print(f"speed-up (CPU time) of the vectorised AUC over the reference loop: {ratio:.1f}x")


if __name__ == "__main__":
    main()
