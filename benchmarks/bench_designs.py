"""Benchmark of the dose-finding designs and expansion calculators (plain python; prints a table).

    .venv/bin/python benchmarks/bench_designs.py

* latency of one ``decide`` call per design (5 doses, mid-trial data);
* CRM posterior for a batch of 2,000 data sets with the vectorised Simpson grid
  (:func:`cartrial.designs.crm.crm_posterior`) against a per-data-set ``scipy.integrate.quad``
  reference (posterior mean of beta), with the largest difference;
* Simon two-stage search (vectorised over the stage bounds) against a straightforward loop over
  every (n, n1, r1, r) with ``scipy.stats.binom``, on a search up to n = 30.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from scipy import integrate, stats

from cartrial.designs import BOIN, CRM, MTPI2, TITEBOIN, TITECRM, I3Plus3, Keyboard, ThreePlusThree
from cartrial.designs.crm import crm_posterior
from cartrial.designs.expansion import simon_two_stage

SKELETON = (0.05, 0.12, 0.25, 0.40, 0.55)


def best_of(func: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def decide_latency() -> list[tuple[str, float]]:
    n, dlt, current = [3, 6, 6, 3, 0], [0, 1, 2, 1, 0], 3
    pending = [(3, 0.4), (3, 0.8)]
    common = {"target": 0.3, "n_doses": 5}
    cases: list[tuple[str, Callable[[], object]]] = [
        ("3+3", lambda: ThreePlusThree(n_doses=5).decide(n, dlt, 2)),
        ("BOIN", lambda: BOIN(**common).decide(n, dlt, current)),  # type: ignore[arg-type]
        ("TITE-BOIN", lambda: TITEBOIN(**common).decide(n, dlt, current, pending)),  # type: ignore[arg-type]
        ("Keyboard", lambda: Keyboard(**common).decide(n, dlt, current)),  # type: ignore[arg-type]
        ("mTPI-2", lambda: MTPI2(**common).decide(n, dlt, current)),  # type: ignore[arg-type]
        ("i3+3", lambda: I3Plus3(**common).decide(n, dlt, current)),  # type: ignore[arg-type]
        ("CRM", lambda: CRM(**common, skeleton=SKELETON).decide(n, dlt, current)),  # type: ignore[arg-type]
        (
            "TITE-CRM",
            lambda: TITECRM(**common, skeleton=SKELETON).decide(n, dlt, current, pending),  # type: ignore[arg-type]
        ),
    ]
    reps = 200
    rows = []
    for name, call in cases:
        seconds = best_of(lambda call=call: [call() for _ in range(reps)]) / reps  # type: ignore[misc]
        rows.append((name, seconds))
    return rows


def quad_beta_mean(y: np.ndarray, nt: np.ndarray) -> float:
    sk = np.asarray(SKELETON)

    def lik(b: float) -> float:
        p = sk ** math.exp(b)
        return float(np.prod(p**y * (1 - p) ** nt) * stats.norm.pdf(b, 0, math.sqrt(1.34)))

    lim = 12 * math.sqrt(1.34)
    hints = [-1.0, 0.0, 1.0]  # the likelihood mass sits near 0; without hints quad can miss it
    z = integrate.quad(lik, -lim, lim, limit=200, points=hints)[0]
    return integrate.quad(lambda b: b * lik(b), -lim, lim, limit=200, points=hints)[0] / z


def crm_batch() -> tuple[float, float, float]:
    rng = np.random.default_rng(3)
    batch = 2_000
    n = rng.integers(0, 10, size=(batch, 5))
    y = rng.binomial(n, [0.05, 0.1, 0.2, 0.3, 0.45])
    nt = n - y
    grid_time = best_of(lambda: crm_posterior(SKELETON, 0.25, y, nt))
    beta, _, _ = crm_posterior(SKELETON, 0.25, y, nt)
    sample = 100
    start = time.perf_counter()
    reference = [quad_beta_mean(y[i], nt[i]) for i in range(sample)]
    quad_time = (time.perf_counter() - start) * batch / sample
    error = float(np.max(np.abs(beta[:sample] - np.asarray(reference))))
    return grid_time, quad_time, error


def simon_loop(p0: float, p1: float, alpha: float, beta: float, n_max: int) -> tuple[int, ...]:
    """Reference: every (n, n1, r1, r), rejection probabilities by direct binomial sums."""
    best: tuple[float, tuple[int, ...]] | None = None
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            b0 = stats.binom.pmf(np.arange(n1 + 1), n1, p0)
            b1 = stats.binom.pmf(np.arange(n1 + 1), n1, p1)
            for r1 in range(n1):
                pet = float(b0[: r1 + 1].sum())
                for r in range(r1, n):
                    x1 = np.arange(r1 + 1, n1 + 1)
                    rej0 = float(np.sum(b0[x1] * stats.binom.sf(r - x1, n - n1, p0)))
                    if rej0 > alpha:
                        continue
                    rej1 = float(np.sum(b1[x1] * stats.binom.sf(r - x1, n - n1, p1)))
                    if rej1 >= 1 - beta:
                        en0 = n1 + (1 - pet) * (n - n1)
                        if best is None or en0 < best[0]:
                            best = (en0, (r1, n1, r, n))
                    break
    assert best is not None
    return best[1]


def main() -> None:
    print("decide() latency, 5 doses (best of 3 x 200 calls)")
    print(f"{'design':<10} {'us/call':>10}")
    for name, seconds in decide_latency():
        print(f"{name:<10} {seconds * 1e6:>10.0f}")
    grid_time, quad_time, error = crm_batch()
    print("\nCRM posterior, 2,000 data sets")
    print(f"  vectorised Simpson grid : {grid_time:8.3f} s")
    print(f"  scipy quad per data set : {quad_time:8.3f} s (100 timed, scaled)")
    print(
        f"  speed-up                : {quad_time / grid_time:8.0f}x   max |beta diff| {error:.1e}"
    )
    n_max = 30
    fast = best_of(lambda: simon_two_stage(0.05, 0.25, 0.05, 0.2, n_max=n_max), repeat=2)
    start = time.perf_counter()
    loop = simon_loop(0.05, 0.25, 0.05, 0.2, n_max)
    slow = time.perf_counter() - start
    got = simon_two_stage(0.05, 0.25, 0.05, 0.2, n_max=n_max).optimal
    same = loop == (got.r1, got.n1, got.r, got.n)
    print(f"\nSimon two-stage search, p0 0.05 vs p1 0.25, n <= {n_max}")
    print(f"  vectorised              : {fast:8.3f} s")
    print(f"  per-design loop         : {slow:8.3f} s")
    print(f"  speed-up                : {slow / fast:8.0f}x   same optimal design: {same}")
    full = best_of(lambda: simon_two_stage(0.2, 0.4, 0.05, 0.2), repeat=2)
    print(f"  full search n <= 100 (p0 0.20 vs 0.40): {full:.2f} s")


if __name__ == "__main__":
    main()
