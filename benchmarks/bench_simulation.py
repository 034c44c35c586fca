"""Benchmark the dose-finding simulation engine against the per-trial reference loop (one core).

Run: ``.venv/bin/python benchmarks/bench_simulation.py`` (add ``--quick`` for a smoke run).

Times are CPU seconds of this single-threaded process (``time.process_time``; BLAS limited to one
thread), which stay meaningful on a shared machine; wall-clock seconds are printed alongside.
For each case the vectorised engine simulates the full number of trials (best of ``--repeat``
runs); the per-trial reference loop (``cartrial.simulation.reference``, the design's own
``decide`` per cohort) simulates a smaller number of the same trials in the same run, and its
time is scaled linearly to the full number for the speed-up. Peak memory of 10,000,000 BOIN trials
is measured in a fresh subprocess: peak resident set size (``VmHWM``, everything including the
interpreter and imported libraries) and the ``tracemalloc`` peak of allocations during the run.

Figures of issue 15 follow the table: the cost of a TITE-BOIN trial relative to a BOIN trial of
the same scenario (target <= 2x), 100,000 TITE-CRM trials of the README scenario (target < 60 s
on one core) and the cost of TITE-CRM's adaptive weights.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from cartrial.designs import BOIN, CRM, TITEBOIN, TITECRM, Design, ThreePlusThree
from cartrial.simulation import simulate
from cartrial.simulation.engine import Coherence, plan_simulation
from cartrial.simulation.exact import exact_three_plus_three
from cartrial.simulation.reference import reference_trials

FIVE = (0.05, 0.10, 0.20, 0.30, 0.45)
SIX = (0.02, 0.05, 0.10, 0.20, 0.30, 0.45)


@dataclass(frozen=True)
class Case:
    name: str
    design: Design
    truth: tuple[float, ...]
    n_trials: int
    n_reference: int
    target_s: float | None
    accrual_rate: float | None = None
    coherence: Coherence = "all-patients"


def _cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    return [
        Case(
            "BOIN 5 doses, 10 cohorts of 3",
            BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10),
            FIVE,
            100_000 // scale,
            1_000 // scale,
            1.0,
        ),
        Case(
            "CRM 6 doses, 10 cohorts of 3 (30 patients)",
            CRM(target=0.3, n_doses=6, cohort_size=3, n_cohorts=10),
            SIX,
            10_000 // scale,
            200 // scale,
            2.0,
        ),
        Case(
            "CRM as above, coherence on the last cohort",
            CRM(target=0.3, n_doses=6, cohort_size=3, n_cohorts=10),
            SIX,
            10_000 // scale,
            200 // scale,
            None,
            coherence="last-cohort",
        ),
        Case(
            "TITE-BOIN 5 doses, 10 cohorts of 3, 2 pts/month",
            TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10),
            FIVE,
            10_000 // scale,
            300 // scale,
            2.0,
            accrual_rate=2.0,
        ),
        Case(
            "3+3 5 doses",
            ThreePlusThree(n_doses=5),
            FIVE,
            100_000 // scale,
            2_000 // scale,
            None,
        ),
        Case(
            "CRM 6 doses, 30 cohorts of 1",
            CRM(target=0.3, n_doses=6, cohort_size=1, n_cohorts=30),
            SIX,
            10_000 // scale,
            100 // scale,
            None,
        ),
        Case(
            "TITE-CRM 5 doses, 10 cohorts of 3, 2 pts/month",
            TITECRM(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10),
            FIVE,
            2_000 // scale,
            100 // scale,
            None,
            accrual_rate=2.0,
        ),
    ]


def _best(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """``(CPU s, wall s)`` of the run with the least CPU time (robust on a shared machine)."""
    times = []
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        times.append((time.process_time() - cpu, time.perf_counter() - wall))
    return min(times)


def _peak_rss_mib() -> float:
    """Peak resident memory of this process image: ``VmHWM`` (reset by exec), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _memory_child(n_trials: int) -> None:
    design = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    tracemalloc.start()
    start = time.process_time()
    simulate(design, FIVE, n_trials, seed=1)
    elapsed = time.process_time() - start
    traced_mib = tracemalloc.get_traced_memory()[1] / 2**20
    print(f"{elapsed:.1f} {_peak_rss_mib():.0f} {traced_mib:.0f}")


def _tite_figures(quick: bool, repeat: int) -> None:
    """TITE-BOIN against BOIN per trial, and 100,000 TITE-CRM trials of the README scenario."""
    n_trials = 4_096 if quick else 40_960
    boin = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    tite = TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    # BOIN and TITE-BOIN runs alternate, so that both see the same load; best of each
    boin_s = tite_s = float("inf")
    for _ in range(max(repeat, 5)):
        boin_s = min(boin_s, _best(lambda: simulate(boin, FIVE, n_trials, seed=1), 1)[0])
        tite_s = min(
            tite_s, _best(lambda: simulate(tite, FIVE, n_trials, seed=1, accrual_rate=2.0), 1)[0]
        )
    per_boin, per_tite = 1e6 * boin_s / n_trials, 1e6 * tite_s / n_trials
    print(
        f"\nper trial, same scenario ({n_trials:,} trials, CPU time, best of alternating runs): "
        f"BOIN {per_boin:.1f} us, TITE-BOIN (2 patients/month) {per_tite:.1f} us, ratio "
        f"{per_tite / per_boin:.2f}x (target <= 2x)"
    )
    crm_trials = 10_000 if quick else 100_000
    crm = TITECRM(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    crm_s, crm_wall = _best(lambda: simulate(crm, FIVE, crm_trials, seed=1, accrual_rate=2.0), 1)
    print(
        f"TITE-CRM, README scenario (5 doses, 10 cohorts of 3, 2 patients/month), "
        f"{crm_trials:,} trials: {crm_s:.1f} CPU s ({crm_wall:.1f} s wall; target < 60 s "
        "for 100,000)"
    )
    adaptive_trials = crm_trials // 10
    adaptive = TITECRM(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10, scheme="adaptive")
    adaptive_s, _ = _best(
        lambda: simulate(adaptive, FIVE, adaptive_trials, seed=1, accrual_rate=2.0), 1
    )
    print(
        f"TITE-CRM with adaptive weights, same scenario, {adaptive_trials:,} trials: "
        f"{adaptive_s:.1f} CPU s ({1e6 * adaptive_s / adaptive_trials:.0f} us per trial; linear "
        f"weights {1e6 * crm_s / crm_trials:.0f} us)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10x fewer trials, no 10M run")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many engine runs")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        # one core: restart with single-threaded BLAS (numpy reads these at import)
        threads = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **threads})
    if args.memory_child is not None:
        _memory_child(args.memory_child)
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    header = (
        f"{'case':50s} {'trials':>9s} {'CPU s':>7s} {'wall s':>7s} {'target s':>9s} "
        f"{'ref trials':>10s} {'ref CPU s (scaled)':>19s} {'speed-up':>9s}"
    )
    print(header)
    print("-" * len(header))
    for case in _cases(args.quick):
        engine_s, wall_s = _best(
            lambda c=case: simulate(
                c.design,
                c.truth,
                c.n_trials,
                seed=1,
                accrual_rate=c.accrual_rate,
                coherence=c.coherence,
            ),
            args.repeat,
        )
        plan = plan_simulation(
            case.design,
            case.truth,
            1,
            accrual_rate=case.accrual_rate,
            coherence=case.coherence,
        )
        start = time.process_time()
        reference_trials(plan, case.n_reference)
        reference_s = (time.process_time() - start) * case.n_trials / case.n_reference
        target = f"{case.target_s:.1f}" if case.target_s is not None else "-"
        print(
            f"{case.name:50s} {case.n_trials:9d} {engine_s:7.3f} {wall_s:7.3f} {target:>9s} "
            f"{case.n_reference:10d} {reference_s:19.1f} {reference_s / engine_s:8.0f}x"
        )
    _tite_figures(args.quick, args.repeat)
    exact_s, exact_wall = _best(lambda: exact_three_plus_three(FIVE), args.repeat)
    name = "3+3 5 doses, exact enumeration (no Monte Carlo)"
    print(f"{name:50s} {'-':>9s} {exact_s:7.3f} {exact_wall:7.3f}")
    n_memory = 1_000_000 if args.quick else 10_000_000
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(n_memory)],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed, peak, traced = child.stdout.split()
    print(
        f"\nBOIN {n_memory:,} trials in a fresh process: {elapsed} CPU s, peak resident memory "
        f"{peak} MiB (target < 1024 MiB; tracemalloc peak of allocations {traced} MiB)"
    )


if __name__ == "__main__":
    main()
