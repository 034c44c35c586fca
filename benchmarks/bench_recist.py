"""Benchmark RECIST 1.1 evaluation: 100,000 subjects x 8 post-baseline time points on one core.

Run: ``taskset -c 0 .venv/bin/python benchmarks/bench_recist.py [--subjects N] [--loop-subjects M]``

The synthetic lesion table has, per subject, a baseline and 8 follow-up assessments 42 days apart,
3 target lesions (one a lymph node in a third of subjects), 2 non-target lesions and occasional new
lesions, with NE, too-small, disappeared and unequivocal-progression statuses sprinkled in.

Reference: a simple per-subject loop that calls the same engine once per subject (what a
row-by-row implementation costs in call overhead), timed on ``--loop-subjects`` subjects and scaled
to the full count. The vectorised engine must finish the full table in < 10 s.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from cartrial.rules import recist

N_FOLLOW_UP = 8
N_TARGETS = 3
N_NONTARGETS = 2


def synthetic_lesions(n_subjects: int, seed: int = 20261126) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build a lesion table and reference dates for ``n_subjects`` (vectorised, reproducible)."""
    rng = np.random.default_rng(seed)
    n_tp = N_FOLLOW_UP + 1
    subjects = np.array([f"S{i:06d}" for i in range(n_subjects)], dtype=object)
    infusion = np.datetime64("2026-01-01") + rng.integers(0, 365, n_subjects)
    days = np.concatenate(([-7], 42 * np.arange(1, n_tp)))
    dates = infusion[:, None] + days[None, :]  # (subjects, time points)

    # targets: baseline 15-60 mm, multiplicative trend per subject plus noise
    base = rng.uniform(15, 60, (n_subjects, N_TARGETS))
    trend = rng.normal(-0.05, 0.12, (n_subjects, 1, 1))
    steps = np.exp(trend + rng.normal(0, 0.08, (n_subjects, n_tp, N_TARGETS)))
    steps[:, 0, :] = 1.0
    size = np.round(base[:, None, :] * np.cumprod(steps, axis=1), 1)
    status = np.full(size.shape, "present", dtype=object)
    status[size < 5] = "too_small"
    gone = (rng.random(size.shape) < 0.01) & (np.arange(n_tp)[None, :, None] > 0)
    status[gone] = "absent"
    not_evaluated = (rng.random(size.shape) < 0.01) & (np.arange(n_tp)[None, :, None] > 0)
    status[not_evaluated] = "NE"
    diameter = np.where(status == "present", size, np.nan)
    is_node = np.zeros((n_subjects, N_TARGETS), dtype=bool)
    is_node[:, 2] = rng.random(n_subjects) < 0.33
    base_nodes = is_node[:, None, :] & (np.arange(n_tp)[None, :, None] == 0)
    diameter = np.where(base_nodes, np.maximum(diameter, 15.0), diameter)
    organs = np.array(["liver", "lung", "adrenal"], dtype=object)
    organ = np.where(is_node, "lymph node", organs[None, :])
    targets = pd.DataFrame(
        {
            "subject_id": np.repeat(subjects, n_tp * N_TARGETS),
            "assessment_date": np.repeat(dates.ravel(), N_TARGETS),
            "lesion_id": np.tile(np.array(["T1", "T2", "T3"], dtype=object), n_subjects * n_tp),
            "category": "target",
            "organ": np.broadcast_to(organ[:, None, :], size.shape).ravel(),
            "is_lymph_node": np.broadcast_to(is_node[:, None, :], size.shape).ravel(),
            "diameter_mm": diameter.ravel(),
            "status": status.ravel(),
        }
    )
    nt_status = rng.choice(
        np.array(["present", "absent", "NE", "unequivocal_progression"], dtype=object),
        size=(n_subjects, n_tp, N_NONTARGETS),
        p=[0.9, 0.07, 0.02, 0.01],
    )
    nt_status[:, 0, :] = "present"
    nontargets = pd.DataFrame(
        {
            "subject_id": np.repeat(subjects, n_tp * N_NONTARGETS),
            "assessment_date": np.repeat(dates.ravel(), N_NONTARGETS),
            "lesion_id": np.tile(np.array(["N1", "N2"], dtype=object), n_subjects * n_tp),
            "category": "non_target",
            "organ": "peritoneum",
            "is_lymph_node": False,
            "diameter_mm": np.nan,
            "status": nt_status.ravel(),
        }
    )
    new_at = np.argwhere(rng.random((n_subjects, n_tp - 1)) < 0.03)
    new = pd.DataFrame(
        {
            "subject_id": subjects[new_at[:, 0]],
            "assessment_date": dates[new_at[:, 0], new_at[:, 1] + 1],
            "lesion_id": [f"L{j}" for j in new_at[:, 1]],
            "category": "new",
            "organ": "liver",
            "is_lymph_node": False,
            "diameter_mm": 8.0,
            "status": rng.choice(np.array(["equivocal", "unequivocal"], dtype=object), len(new_at)),
        }
    )
    lesions = pd.concat([targets, nontargets, new], ignore_index=True)
    lesions["assessment_date"] = pd.to_datetime(lesions["assessment_date"])
    references = pd.DataFrame({"subject_id": subjects, "reference_date": infusion})
    return lesions, references


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--loop-subjects", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the vectorised engine")
    args = parser.parse_args()

    lesions, references = synthetic_lesions(args.subjects)
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = recist.evaluate(lesions, references)
        timings.append(time.perf_counter() - start)
    vectorised = min(timings)

    sample_ids = references["subject_id"].iloc[: args.loop_subjects]
    sample = lesions[lesions["subject_id"].isin(sample_ids)]
    reference_of = dict(zip(references["subject_id"], references["reference_date"], strict=True))
    start = time.perf_counter()
    loop_best = [
        recist.evaluate(group, {sid: reference_of[sid]}).best
        for sid, group in sample.groupby("subject_id", sort=True)
    ]
    loop_seconds = time.perf_counter() - start
    loop_full = loop_seconds / len(sample_ids) * args.subjects
    agree = (
        pd.concat(loop_best, ignore_index=True)["best_overall_response"].to_numpy()
        == result.best["best_overall_response"].iloc[: args.loop_subjects].to_numpy()
    ).all()

    print(f"RECIST 1.1: {args.subjects:,} subjects x {N_FOLLOW_UP} follow-up time points")
    print(f"{'lesion rows':<38}{len(lesions):>14,}")
    print(f"{'time points evaluated':<38}{len(result.timepoints):>14,}")
    print(f"{'vectorised evaluate, best run (s)':<38}{vectorised:>14.2f}")
    print(f"{'vectorised evaluate, worst run (s)':<38}{max(timings):>14.2f}")
    print(f"{'per-subject loop, scaled (s)':<38}{loop_full:>14.1f}")
    print(f"{'  measured on subjects':<38}{args.loop_subjects:>14,}")
    print(f"{'speed-up (loop / vectorised)':<38}{loop_full / vectorised:>14.0f}x")
    print(f"{'loop and vectorised BOR agree':<38}{'yes' if agree else 'NO':>14}")
    counts = result.best["best_overall_response"].value_counts().to_dict()
    print("BOR counts:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
