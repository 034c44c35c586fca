"""Benchmark: CTCAE v5.0 grading of 1,000,000 lab rows on one core.

Compares :func:`cartrial.rules.ctcae.grade_labs` (vectorised, numpy) with the simple reference,
a per-row Python loop over :func:`cartrial.rules.ctcae.grade_lab` (timed on a sample and scaled
to the full table). Run: ``.venv/bin/python benchmarks/bench_ctcae.py [rows]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

from cartrial.rules import ctcae

# one core: keep BLAS/numexpr from spreading work over threads
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

# LBTESTCD -> (LLN, ULN, unit): typical adult reference ranges (illustrative values)
RANGES = {
    "NEUT": (1.8, 7.5, "10^9/L"),
    "PLAT": (150.0, 400.0, "10^9/L"),
    "WBC": (4.0, 10.0, "10^9/L"),
    "LYM": (1.0, 4.0, "10^9/L"),
    "HGB": (120.0, 160.0, "g/L"),
    "ALT": (0.0, 40.0, "U/L"),
    "AST": (0.0, 40.0, "U/L"),
    "ALP": (40.0, 130.0, "U/L"),
    "BILI": (3.0, 21.0, "umol/L"),
    "CREAT": (60.0, 110.0, "umol/L"),
    "K": (3.5, 5.1, "mmol/L"),
    "SODIUM": (135.0, 145.0, "mmol/L"),
    "CA": (2.1, 2.6, "mmol/L"),
    "MG": (0.7, 1.0, "mmol/L"),
    "ALB": (35.0, 50.0, "g/L"),
    "FIBRINO": (2.0, 4.0, "g/L"),
    "INR": (0.8, 1.2, "ratio"),
    "APTT": (25.0, 35.0, "s"),
    "CK": (30.0, 200.0, "U/L"),
    "LIPASE": (10.0, 60.0, "U/L"),
    "GLUC": (3.9, 6.1, "mmol/L"),
    "TRIG": (0.5, 1.7, "mmol/L"),
    "CHOL": (3.0, 5.2, "mmol/L"),
    "URATE": (200.0, 420.0, "umol/L"),
}


def make_table(n: int, seed: int = 20261126) -> pd.DataFrame:
    """A seeded long lab table: lbtestcd, value (0-3 x ULN), unit, lln, uln, baseline."""
    rng = np.random.default_rng(seed)
    codes = np.array(list(RANGES))
    pick = rng.integers(0, len(codes), n)
    lln = np.array([RANGES[c][0] for c in codes])[pick]
    uln = np.array([RANGES[c][1] for c in codes])[pick]
    return pd.DataFrame(
        {
            "lbtestcd": codes[pick],
            "value": uln * rng.uniform(0.0, 3.0, n),
            "unit": np.array([RANGES[c][2] for c in codes])[pick],
            "lln": lln,
            "uln": uln,
            "baseline": np.where(rng.random(n) < 0.5, uln * rng.uniform(0.5, 1.5, n), np.nan),
        }
    )


def per_row_loop(df: pd.DataFrame) -> list[int | None]:
    """Reference implementation, one row at a time with grade_lab.

    Same semantics as grade_labs: grade both directions, keep the worse; a value beyond the
    limit in a direction without numeric criteria (e.g. Hyperglycemia) has no grade (None).
    """
    grades: list[int | None] = []
    for row in df.itertuples(index=False):
        best, clinical = 0, False
        for direction in ("low", "high"):
            term = ctcae.term_for_testcd(row.lbtestcd, direction)
            if term is None:
                continue
            if not ctcae.term_info(term).lab_gradable:
                limit = row.lln if direction == "low" else row.uln
                clinical = row.value < limit if direction == "low" else row.value > limit
                continue
            baseline = None if np.isnan(row.baseline) else row.baseline
            g = ctcae.grade_lab(
                term, row.value, unit=row.unit, lln=row.lln, uln=row.uln, baseline=baseline
            ).grade
            best = max(best, g)
        grades.append(None if clinical and best == 0 else best)
    return grades


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    sample = min(n, 20_000)
    df = make_table(n)
    ctcae.grade_labs(df.head(1000))  # load the package data once
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        graded = ctcae.grade_labs(df)
        timings.append(time.perf_counter() - start)
    vector_s = min(timings)
    start = time.perf_counter()
    reference = per_row_loop(df.head(sample))
    loop_s = (time.perf_counter() - start) * n / sample
    agree = graded["grade"].head(sample).fillna(-1).astype(int).tolist() == [
        -1 if g is None else g for g in reference
    ]
    print(f"CTCAE v{ctcae.CTCAE_VERSION} lab grading, {n:,} rows, {len(RANGES)} test codes")
    print(f"{'method':<44}{'seconds':>10}{'rows/s':>14}")
    print(f"{'grade_labs (vectorised, best of 3)':<44}{vector_s:>10.3f}{n / vector_s:>14,.0f}")
    label = f"per-row grade_lab loop (x{n // sample} of {sample:,})"
    print(f"{label:<44}{loop_s:>10.1f}{n / loop_s:>14,.0f}")
    print(f"speed-up: {loop_s / vector_s:,.0f}x; grades agree on the sample: {agree}")


if __name__ == "__main__":
    main()
