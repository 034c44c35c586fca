"""Expansion rules and pathways against direct computation.

* Toxicity monitoring (Thall, Simon & Estey 1995 style): the smallest DLT count with
  ``Pr(p > limit | y, n) > threshold`` found by ``scipy.stats.beta.sf``, and the three boundary
  rows of phase1-designs.md sec. 7.1.
* Predictive probability (Lee & Liu 2008): the beta-binomial weights written out with
  ``scipy.special.betaln``/``comb`` instead of ``scipy.stats.betabinom``.
* Dose transition pathways: for every design, each node is what ``decide`` returns on the data
  replayed along its path.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from cartrial.designs import (
    BOIN,
    CRM,
    MTPI2,
    TITEBOIN,
    TITECRM,
    I3Plus3,
    Keyboard,
    ThreePlusThree,
)
from cartrial.designs.base import Design
from cartrial.designs.expansion import predictive_probability, toxicity_monitoring_boundary
from cartrial.designs.pathways import dose_transition_pathways

REFERENCE_ROWS = [
    # phase1-designs.md sec. 7.1, n = 3..20
    (0.30, 0.90, 1.0, 1.0, [2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 8, 8, 8, 9, 9]),
    (0.30, 0.95, 1.0, 1.0, [3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10]),
    (1 / 3, 0.80, 0.5, 0.5, [2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9]),
]


@pytest.mark.parametrize(("limit", "threshold", "a", "b", "expected"), REFERENCE_ROWS)
def test_monitoring_boundary(
    limit: float, threshold: float, a: float, b: float, expected: list[int]
) -> None:
    table = toxicity_monitoring_boundary(limit, threshold, prior_a=a, prior_b=b, n_min=3)
    direct = []
    for n in range(3, 21):
        ys = np.arange(n + 1)
        hits = ys[stats.beta.sf(limit, a + ys, b + n - ys) > threshold]
        direct.append(int(hits[0]))
    assert direct == expected
    assert table["stop_if_dlt_ge"].tolist() == expected


def _pp_direct(y: int, n: int, n_max: int, p0: float, theta: float, a: float, b: float) -> float:
    m = n_max - n
    total = 0.0
    for x in range(m + 1):
        log_w = (
            math.log(math.comb(m, x))
            + special.betaln(a + y + x, b + n - y + m - x)
            - special.betaln(a + y, b + n - y)
        )
        if stats.beta.sf(p0, a + y + x, b + n_max - y - x) > theta:
            total += math.exp(log_w)
    return total


@pytest.mark.parametrize(
    ("y", "n", "n_max", "p0", "theta", "a", "b"),
    [
        (16, 23, 40, 0.6, 0.9, 0.6, 0.4),
        (4, 12, 20, 0.2, 0.9, 1.0, 1.0),
        (2, 10, 29, 0.1, 0.95, 0.5, 0.5),
        (0, 5, 20, 0.15, 0.85, 1.0, 1.0),
    ],
)
def test_predictive_probability_direct_sum(
    y: int, n: int, n_max: int, p0: float, theta: float, a: float, b: float
) -> None:
    got = predictive_probability(y, n, n_max, p0, theta_t=theta, prior_a=a, prior_b=b)
    assert got == pytest.approx(_pp_direct(y, n, n_max, p0, theta, a, b), abs=1e-12)


DESIGNS: list[Design] = [
    ThreePlusThree(n_doses=4),
    BOIN(target=0.25, n_doses=4, n_earlystop=9),
    TITEBOIN(target=0.3, n_doses=4),
    Keyboard(target=0.3, n_doses=4),
    MTPI2(target=0.3, n_doses=4),
    I3Plus3(target=0.3, n_doses=4),
    CRM(target=0.25, n_doses=4, skeleton=(0.08, 0.16, 0.25, 0.35)),
    TITECRM(target=0.25, n_doses=4, skeleton=(0.08, 0.16, 0.25, 0.35), model="logistic"),
]


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: type(d).__name__)
def test_pathways_replay_decide(design: Design) -> None:
    table = dose_transition_pathways(design, n=[3, 0, 0, 0], dlt=[0, 0, 0, 0], current=0, cohorts=3)
    assert len(table) >= 4
    for row in table.itertuples(index=False):
        n, dlt = [3, 0, 0, 0], [0, 0, 0, 0]
        first = design.decide(n, dlt, 0)
        assert first.next_dose is not None
        current = first.next_dose
        for outcome in row.path.split():
            treated_at = current
            n[treated_at] += design.cohort_size
            dlt[treated_at] += int(outcome.split("/")[0])
            decision = design.decide(n, dlt, treated_at)
            current = decision.next_dose if decision.next_dose is not None else -1
        assert row.dose == treated_at
        assert (row.n_at_dose, row.dlt_at_dose) == (n[treated_at], dlt[treated_at])
        assert row.action == decision.action
        assert (None if pd.isna(row.next_dose) else row.next_dose) == decision.next_dose
