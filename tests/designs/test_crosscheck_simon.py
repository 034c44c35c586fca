"""Simon two-stage designs against published values and an independent exhaustive search.

Published: Simon R. Optimal two-stage designs for phase II clinical trials. Control Clin Trials
1989;10:1-10, Table 1 (alpha 0.05, beta 0.20), as listed in phase1-designs.md sec. 7.2.
The exhaustive search below enumerates every (r1, n1, r, n) with scipy.stats.binom and applies the
selection rules of clinfun ``ph2simon`` (github.com/cran/clinfun ``src/ph2simon.f``): type I error
``< alpha``, type II error ``< beta``, ``r >= r1``; optimal = smallest EN(p0) (first in n, then
n1), minimax = smallest n then smallest EN(p0); the largest qualifying r for a given (r1, n1, n).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from scipy import stats

from cartrial.designs.expansion import SimonDesign, SimonResult, simon_two_stage


@lru_cache
def _simon(p0: float, p1: float, alpha: float, beta: float) -> SimonResult:
    return simon_two_stage(p0, p1, alpha, beta)


PUBLISHED = [
    # p0, p1, alpha, beta, design, r1, n1, r, n, EN(p0), PET(p0)
    (0.05, 0.25, 0.05, 0.20, "optimal", 0, 9, 2, 17, 11.96, 0.630),
    (0.05, 0.25, 0.05, 0.20, "minimax", 0, 12, 2, 16, 13.84, 0.540),
    (0.10, 0.30, 0.05, 0.20, "optimal", 1, 10, 5, 29, 15.01, 0.736),
    (0.10, 0.30, 0.05, 0.20, "minimax", 1, 15, 5, 25, 19.51, 0.549),
    (0.20, 0.40, 0.05, 0.20, "optimal", 3, 13, 12, 43, 20.58, 0.747),
    (0.20, 0.40, 0.05, 0.20, "minimax", 4, 18, 10, 33, 22.25, 0.716),
]


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda r: f"{r[0]}-{r[1]}-{r[4]}")
def test_published_simon_1989(row: tuple[float, ...]) -> None:
    p0, p1, alpha, beta, kind, r1, n1, r, n, en0, pet0 = row
    design = getattr(_simon(p0, p1, alpha, beta), str(kind))
    assert (design.r1, design.n1, design.r, design.n) == (r1, n1, r, n)
    assert design.expected_n0 == pytest.approx(en0, abs=0.005)
    assert design.pet0 == pytest.approx(pet0, abs=0.0005)


def test_attained_error_rates_first_row() -> None:
    # phase1-designs.md sec. 7.2: 0/9, 2/17 attains alpha 0.0466 and power 0.8122.
    design = _simon(0.05, 0.25, 0.05, 0.20).optimal
    assert design.alpha == pytest.approx(0.0466, abs=5e-5)
    assert design.power == pytest.approx(0.8122, abs=5e-5)


def _reject_matrix(p: float, n1: int, n2: int) -> np.ndarray:
    """``[r1, r]``: Pr(reject | p) = sum_{x1 > r1} b(x1; n1, p) Pr(X2 > r - x1), X2 ~ Bin(n2, p)."""
    x1 = np.arange(n1 + 1)[:, None]
    r = np.arange(n1 + n2)[None, :]
    terms = stats.binom.pmf(x1, n1, p) * stats.binom.sf(r - x1, n2, p)
    # row r1 = sum over x1 = r1 + 1 .. n1
    return np.asarray(np.cumsum(terms[::-1], axis=0)[::-1][1:], float)


def _exhaustive(p0: float, p1: float, alpha: float, beta: float, n_max: int) -> list[SimonDesign]:
    """Every qualifying design (largest r per (r1, n1, n)), ordered by n, n1, r1."""
    found = []
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            rej0, rej1 = _reject_matrix(p0, n1, n - n1), _reject_matrix(p1, n1, n - n1)
            for r1 in range(n1):
                good = (rej0[r1] < alpha) & (1 - rej1[r1] < beta)
                good[:r1] = False
                if not good.any():
                    continue
                r = int(np.flatnonzero(good)[-1])
                pet = float(stats.binom.cdf(r1, n1, p0))
                pet1 = float(stats.binom.cdf(r1, n1, p1))
                found.append(
                    SimonDesign(
                        r1,
                        n1,
                        r,
                        n,
                        n1 + (1 - pet) * (n - n1),
                        pet,
                        float(rej0[r1, r]),
                        float(rej1[r1, r]),
                        pet1,
                        n1 + (1 - pet1) * (n - n1),
                    )
                )
    return found


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "beta", "n_max"),
    [
        (0.05, 0.25, 0.05, 0.20, 30),
        (0.05, 0.25, 0.10, 0.10, 30),
        (0.10, 0.30, 0.10, 0.10, 40),
        (0.10, 0.30, 0.05, 0.20, 34),
    ],
)
def test_against_exhaustive_search(
    p0: float, p1: float, alpha: float, beta: float, n_max: int
) -> None:
    designs = _exhaustive(p0, p1, alpha, beta, n_max)
    optimal = min(designs, key=lambda d: d.expected_n0)
    smallest_n = min(d.n for d in designs)
    minimax = min((d for d in designs if d.n == smallest_n), key=lambda d: d.expected_n0)
    result = simon_two_stage(p0, p1, alpha, beta, n_max=n_max)
    for got, want in ((result.optimal, optimal), (result.minimax, minimax)):
        assert (got.r1, got.n1, got.r, got.n) == (want.r1, want.n1, want.r, want.n)
        assert got.expected_n0 == pytest.approx(want.expected_n0, rel=1e-12)
        assert got.pet0 == pytest.approx(want.pet0, rel=1e-12)
        assert got.alpha == pytest.approx(want.alpha, rel=1e-9)
        assert got.power == pytest.approx(want.power, rel=1e-9)


def test_pet_and_en_under_p1_for_the_optimal_design() -> None:
    # clinfun: ph2simon(pu = 0.1, pa = 0.3, ep1 = 0.05, ep2 = 0.2) -> optimal 1/10, 5/29.
    # Exact: PET(p1) = B(1; 10, 0.3) = 0.7^10 + 10 * 0.3 * 0.7^9 = 0.1493083;
    # EN(p1) = 10 + (1 - PET(p1)) * 19 = 26.16314.
    design = _simon(0.10, 0.30, 0.05, 0.20).optimal
    assert design.pet1 == pytest.approx(0.7**10 + 10 * 0.3 * 0.7**9, abs=1e-12)
    assert design.pet1 == pytest.approx(0.1493083, abs=1e-7)
    assert design.expected_n1 == pytest.approx(26.16314, abs=1e-5)


@pytest.mark.parametrize(("p0", "p1", "n_max"), [(0.10, 0.30, 34), (0.05, 0.25, 30)])
def test_admissible_designs_minimise_a_weighted_loss(p0: float, p1: float, n_max: int) -> None:
    # Jung et al. (Stat Med 2004;23:561-569): a design is admissible when it minimises
    # q * n + (1 - q) * EN(p0) for some q in [0, 1]. Independent check: every qualifying design
    # from the exhaustive search, minimised over a fine grid of q.
    designs = _exhaustive(p0, p1, 0.05, 0.20, n_max)
    winners = set()
    for q in np.linspace(0, 1, 2001):
        best = min(designs, key=lambda d: (q * d.n + (1 - q) * d.expected_n0, d.expected_n0, d.n))
        winners.add((best.r1, best.n1, best.r, best.n))
    result = simon_two_stage(p0, p1, 0.05, 0.20, n_max=n_max)
    got = [(d.r1, d.n1, d.r, d.n) for d in result.admissible]
    assert set(got) == winners
    assert result.admissible[0] == result.minimax and result.admissible[-1] == result.optimal
    assert set(result.to_frame()["design"]) >= {"optimal", "minimax"}
