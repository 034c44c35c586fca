"""Independent cross-checks of BOIN against values computed another way.

* ``lambda_e``/``lambda_d`` as the roots of the binomial log-likelihood ratio (Liu & Yuan 2015,
  sec. 2: the boundary is where the data favour the target and the sub-therapeutic / toxic rate
  equally), found with ``scipy.optimize.brentq`` instead of the closed form.
* Count boundaries by enumerating ``y = 0..n`` against those roots, and elimination cut-offs from
  ``scipy.stats.beta.sf`` (Beta(1, 1) prior), for targets 0.2, 0.25, 0.3, 0.33 and 0.4.
* The table printed by ``BOIN::get.boundary(target = 0.3, ncohort = 10, cohortsize = 3)``.
* Whole trials driven by a transcription of the BOIN package's ``get.oc`` loop and
  ``select.mtd`` (github.com/cran/BOIN, ``R/get.oc.R`` and ``R/select.mtd.R``), compared with
  ``decide``/``select_mtd`` after every cohort.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from cartrial.designs import BOIN, boin_lambdas

TARGETS = (0.20, 0.25, 0.30, 0.33, 0.40)


def _opt(value: object) -> int | None:
    """A table cell as an int, ``None`` for ``<NA>``."""
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


def _llr_root(target: float, other: float) -> float:
    """Observed rate at which Bin(n, target) and Bin(n, other) are equally likely (any n)."""

    def llr(rate: float) -> float:
        return rate * math.log(target / other) + (1 - rate) * math.log((1 - target) / (1 - other))

    return float(optimize.brentq(llr, 1e-9, 1 - 1e-9, xtol=1e-14))


@pytest.mark.parametrize("target", TARGETS)
def test_lambdas_are_likelihood_ratio_roots(target: float) -> None:
    lambda_e, lambda_d = boin_lambdas(target, 0.6 * target, 1.4 * target)
    assert lambda_e == pytest.approx(_llr_root(target, 0.6 * target), abs=1e-10)
    assert lambda_d == pytest.approx(_llr_root(target, 1.4 * target), abs=1e-10)


@pytest.mark.parametrize(
    ("target", "lambda_e", "lambda_d"),
    # phase1-designs.md sec. 2.1 table (calc; 0.30 also the simFastBOIN vignette: 0.2364907,
    # 0.3585195); 0.33 from the LLR roots above, rounded to 4 decimals.
    [
        (0.20, 0.1572, 0.2385),
        (0.25, 0.1968, 0.2984),
        (0.30, 0.2365, 0.3585),
        (0.40, 0.3164, 0.4797),
    ],
)
def test_lambdas_published_four_decimals(target: float, lambda_e: float, lambda_d: float) -> None:
    got = BOIN(target=target, n_doses=3).lambdas()
    assert got == pytest.approx((lambda_e, lambda_d), abs=5e-5)


@pytest.mark.parametrize("target", TARGETS)
def test_count_boundaries_by_enumeration(target: float) -> None:
    lambda_e = _llr_root(target, 0.6 * target)
    lambda_d = _llr_root(target, 1.4 * target)
    table = BOIN(target=target, n_doses=5, cohort_size=3, n_cohorts=10).boundaries()
    for row in table.itertuples():
        n = int(row.n_treated)
        ys = np.arange(n + 1)
        esc = ys[ys / n <= lambda_e]
        # BOIN get.boundary: de-escalate when y >= floor(n lambda_d) + 1, i.e. y/n > lambda_d.
        deesc = ys[ys / n > lambda_d]
        assert _opt(row.escalate_if_dlt_le) == (int(esc.max()) if esc.size else None)
        assert _opt(row.deescalate_if_dlt_ge) == (int(deesc.min()) if deesc.size else None)
        # BOIN select.mtd / get.boundary: n >= 3 and 1 - pbeta(target, y + 1, n - y + 1) > 0.95.
        over = ys[stats.beta.sf(target, ys + 1, n - ys + 1) > 0.95] if n >= 3 else ys[:0]
        assert _opt(row.eliminate_if_dlt_ge) == (int(over.min()) if over.size else None)


def test_get_boundary_printed_table_target_030() -> None:
    # BOIN::get.boundary(target = 0.3, ncohort = 10, cohortsize = 3)$boundary_tab (BOIN package
    # tutorial; re-derived here: floor(n lambda_e), floor(n lambda_d) + 1, Beta(1, 1) > 0.95).
    expected = {
        "escalate_if_dlt_le": [0, 1, 2, 2, 3, 4, 4, 5, 6, 7],
        "deescalate_if_dlt_ge": [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "eliminate_if_dlt_ge": [3, 4, 5, 7, 8, 9, 10, 11, 12, 14],
    }
    table = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10).boundaries()
    rows = table[table["n_treated"] % 3 == 0]
    for column, values in expected.items():
        assert rows[column].tolist() == values


# -- a transcription of the BOIN package's trial loop (get.oc) and select.mtd --------------------


def _r_pava(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``pava`` of BOIN ``select.mtd``: pool the first violating pair's level sets, repeat."""
    x = x.astype(float).copy()
    levels = np.arange(x.size)
    while True:
        viol = np.flatnonzero(np.diff(x) < 0)
        if viol.size == 0:
            return x
        i = viol[0]
        members = (levels == levels[i]) | (levels == levels[i + 1])
        x[members] = np.sum(x[members] * wt[members]) / np.sum(wt[members])
        levels[members] = levels[i]


def _r_select_mtd(
    target: float,
    n: np.ndarray,
    y: np.ndarray,
    *,
    extrasafe: bool = False,
    bound_mtd: bool = False,
) -> int | None:
    """``BOIN::select.mtd`` (cutoff.eli 0.95, offset 0.05, p.tox 1.4 target); None for 99."""
    p_tox = 1.4 * target
    lambda_d = math.log((1 - target) / (1 - p_tox)) / math.log(
        p_tox * (1 - target) / (target * (1 - p_tox))
    )
    elimi = np.zeros(n.size, dtype=bool)
    for i in range(n.size):
        if n[i] >= 3 and stats.beta.sf(target, y[i] + 1, n[i] - y[i] + 1) > 0.95:
            elimi[i:] = True
            break
    if extrasafe and n[0] >= 3 and stats.beta.sf(target, y[0] + 1, n[0] - y[0] + 1) > 0.90:
        elimi[:] = True
    if elimi[0] or n[~elimi].sum() == 0:
        return None
    adm = np.flatnonzero((n != 0) & ~elimi)
    ya, na = y[adm].astype(float), n[adm].astype(float)
    phat = (ya + 0.05) / (na + 0.1)
    var = (ya + 0.05) * (na - ya + 0.05) / ((na + 0.1) ** 2 * (na + 0.1 + 1))
    phat = _r_pava(phat, 1 / var) + np.arange(1, adm.size + 1) * 1e-10
    if bound_mtd:
        if np.all(phat >= lambda_d):
            return None
        phat = phat[phat < lambda_d]
    return int(adm[int(np.argmin(np.abs(phat - target)))])


def _r_trial(
    design: BOIN, table: pd.DataFrame, truth: np.ndarray, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, int, int | None]]:
    """One ``get.oc`` trial; per cohort the data, the dose used and the package's next dose.

    ``table`` is ``design.boundaries()``, the package's ``get.boundary`` table (checked above).
    """
    target, size = design.target, design.cohort_size
    b_e, b_d, b_elim = (
        {int(row.n_treated): _opt(getattr(row, column)) for row in table.itertuples()}
        for column in ("escalate_if_dlt_le", "deescalate_if_dlt_ge", "eliminate_if_dlt_ge")
    )
    n_doses, npts = truth.size, design.max_patients
    n = np.zeros(n_doses, dtype=np.int64)
    y = np.zeros(n_doses, dtype=np.int64)
    elimi = np.zeros(n_doses, dtype=bool)
    d = design.start
    early = design.n_earlystop if design.n_earlystop is not None else 10**6
    steps = []
    for _ in range(design.n_cohorts):
        y[d] += int((rng.random(size) < truth[d]).sum())
        n[d] += size
        used = d
        if n.sum() >= npts:
            steps.append((n.copy(), y.copy(), used, None))
            break
        stop = False
        cut = b_elim[int(n[d])]
        if cut is not None:
            if y[d] >= cut:
                elimi[d:] = True
                stop = d == 0
            if not stop and design.extrasafe and d == 0 and n[0] >= 3:
                stop = stats.beta.sf(target, y[0] + 1, n[0] - y[0] + 1) > 0.90
        if stop:
            steps.append((n.copy(), y.copy(), used, None))
            break
        e_cut, d_cut = b_e[int(n[d])], b_d[int(n[d])]
        esc = e_cut is not None and y[d] <= e_cut
        deesc = d_cut is not None and y[d] >= d_cut
        top = d == n_doses - 1 or (d + 1 < n_doses and elimi[d + 1])
        if n[d] >= early and ((not esc and not deesc) or (d == 0 and deesc) or (top and esc)):
            steps.append((n.copy(), y.copy(), used, None))
            break
        if esc and d != n_doses - 1:
            if not elimi[d + 1]:
                d += 1
        elif deesc and d != 0:
            d -= 1
        steps.append((n.copy(), y.copy(), used, d))
    return steps


SCENARIOS = (
    (0.05, 0.10, 0.20, 0.30, 0.45),
    (0.25, 0.40, 0.50, 0.60, 0.70),
    (0.02, 0.05, 0.08, 0.12, 0.30),
    (0.45, 0.55, 0.65, 0.75, 0.85),
)


@pytest.mark.parametrize(
    "params",
    [
        {"target": 0.30},
        {"target": 0.25, "n_earlystop": 9},
        {"target": 0.30, "extrasafe": True, "start": 1},
        {"target": 0.20, "bound_mtd": True, "n_cohorts": 12},
    ],
)
def test_decisions_and_mtd_match_boin_package_loop(params: dict[str, float]) -> None:
    design = BOIN(n_doses=5, cohort_size=3, **{"n_cohorts": 10} | params)  # type: ignore[arg-type]
    rng = np.random.default_rng(20261126)
    table = design.boundaries()
    compared = 0
    for truth in SCENARIOS:
        for _ in range(30):
            steps = _r_trial(design, table, np.asarray(truth), rng)
            for n, y, used, expected in steps:
                decision = design.decide(n=n, dlt=y, current=used)
                assert decision.next_dose == expected, (n, y, used, decision.reason)
                compared += 1
            # get.oc: 99 after a safety stop, else select.mtd, which re-applies those rules.
            n, y = steps[-1][0], steps[-1][1]
            expected_mtd = _r_select_mtd(
                design.target, n, y, extrasafe=design.extrasafe, bound_mtd=design.bound_mtd
            )
            assert design.select_mtd(n=n, dlt=y) == expected_mtd, (n, y)
    assert compared > 300


@pytest.mark.parametrize(
    ("n", "y", "mtd"),
    [
        # BOIN select.mtd help-page example and the two oracles of phase1-designs.md sec. 2.4.
        ((3, 3, 15, 9, 0), (0, 0, 4, 4, 0), 2),
        ((3, 6, 9, 3, 0), (0, 1, 4, 0, 0), 3),
        # Ties: doses 0-1 pooled at 0/3 + 0/3 below target -> the higher tied dose (1).
        ((3, 3, 0, 0, 0), (0, 0, 0, 0, 0), 1),
        # Ties above target: 2/3 then 1/3 pooled to 0.5 -> the lower tied dose (0).
        ((3, 3, 0, 0, 0), (2, 1, 0, 0, 0), 0),
    ],
)
def test_select_mtd_against_package_transcription(
    n: tuple[int, ...], y: tuple[int, ...], mtd: int
) -> None:
    design = BOIN(target=0.3, n_doses=5)
    n_arr, y_arr = np.asarray(n), np.asarray(y)
    assert _r_select_mtd(0.3, n_arr, y_arr) == mtd
    assert design.select_mtd(n=n, dlt=y) == mtd
