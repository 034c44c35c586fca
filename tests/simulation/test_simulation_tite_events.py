"""TITE-BOIN's event skipping gives the decisions of re-deciding at every change of follow-up.

Independent source: the row-per-trial engine with skipping switched off (``resume_day`` replaced
by the next change of any patient's status, the rule the engine followed before skipping)
simulates the same trials as the slot-by-trial TITE-BOIN engine, which skips; the kept dosing
sequences must be identical, not only the summaries. A hand-built trial
checks the one exception to "nothing changes until enough patients resolve": a completed window
that makes the elimination rule fire (Beta(1, 1) posterior, target 0.2: with 2 DLTs among 3
completed patients Pr(p > 0.2) = 1 - I_0.2(3, 2) = 1 - 0.2^3 (4 - 3 * 0.2) = 0.9728 > 0.95).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.simulation.test_simulation_tite_boin_trials import SCENARIOS, row_engine

from cartrial.designs import TITEBOIN
from cartrial.simulation import simulate
from cartrial.simulation import tite as engine_module
from cartrial.simulation import tite_boin as tite_module
from cartrial.simulation.follow_up import FollowUp, follow_up_at, next_follow_up_change
from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.tite_boin import TiteBoinKernel


def _every_event(
    self: TiteBoinKernel,
    follow: FollowUp,
    suspended: np.ndarray,
    current: np.ndarray,
    resolve_day: np.ndarray,
    now: np.ndarray,
) -> np.ndarray:
    return next_follow_up_change(resolve_day, now)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("rate", [1.0, 6.0])
def test_skipping_events_keeps_every_trial_identical(
    name: str, rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    design, truth, options = SCENARIOS[name]
    skipped = simulate(design, truth, 3000, seed=9, accrual_rate=rate, keep_trials=True, **options)
    monkeypatch.setattr(tite_module.TiteBoinKernel, "resume_day", _every_event)
    monkeypatch.setattr(engine_module, "run_tite_boin_trials", row_engine)
    stepped = simulate(design, truth, 3000, seed=9, accrual_rate=rate, keep_trials=True, **options)
    assert skipped == stepped
    assert skipped.trials is not None and skipped.trials.equals(stepped.trials)


def test_a_window_that_makes_elimination_fire_is_not_skipped() -> None:
    design = TITEBOIN(target=0.2, n_doses=3, cohort_size=1, n_cohorts=20)
    kernel = TiteBoinKernel(design, IntervalKernel(design, 20))
    window = 28.0
    # dose 0: two DLTs seen (days 5 and 6), five patients pending, windows closing 20..28
    enrol = np.array([[0.0, 1.0, -8.0, -6.0, -4.0, -2.0, 0.0]])
    dlt_day = np.array([[5.0, 6.0, np.inf, np.inf, np.inf, np.inf, np.inf]])
    has_dlt = np.isfinite(dlt_day)
    resolve = np.where(has_dlt, dlt_day, enrol + window)
    current = np.array([0])

    def follow_at(day: float) -> FollowUp:
        observed, pending, fraction, unseen = follow_up_at(
            np.array([day]), enrol, resolve, has_dlt, window
        )
        return FollowUp(
            n=np.array([[7, 0, 0]]),
            dlt_all=np.array([[2, 0, 0]]),
            dose=np.zeros((1, 7), dtype=np.int64),
            observed=observed,
            pending=pending,
            fraction=fraction,
            unseen=unseen,
            last=slice(6, 7),
        )

    now = follow_at(10.0)
    following, suspended = kernel.decide(now, current)
    assert suspended.tolist() == [True]  # 5 of 7 pending, de-escalation impossible at dose 0
    day = kernel.resume_day(now, suspended, current, resolve, np.array([10.0]))
    # the first window closes on day 20: 3 completed, 2 DLTs, dose 0 eliminated -> stop; the
    # pending share alone would wait for a second resolution (day 22)
    assert day.tolist() == [20.0]
    following, suspended = kernel.decide(follow_at(20.0), current)
    assert following.tolist() == [-1] and suspended.tolist() == [False]
