"""Expansion-cohort rules: Bayesian toxicity monitoring, Simon two-stage and predictive futility.

* Toxicity monitoring (Thall, Simon & Estey 1995 style): stop, or pause for review, when
  ``Pr(p_DLT > limit | y, n) > threshold`` under a Beta(a, b) prior.
* Simon (1989) two-stage designs for the response rate, optimal (minimal expected size under
  ``p0``) and minimax (minimal maximum size), found by exhaustive search.
* Bayesian predictive probability of trial success (Lee & Liu 2008) and its futility boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from cartrial.designs.base import check_positive_int, check_probability_vector, check_target
from cartrial.designs.interval import prob_above
from cartrial.errors import DesignError

__all__ = [
    "SimonDesign",
    "SimonResult",
    "admissible_designs",
    "monitoring_operating_characteristics",
    "predictive_futility_boundary",
    "predictive_probability",
    "simon_design",
    "simon_two_stage",
    "toxicity_monitoring_boundary",
    "toxicity_stop_count",
]

#: Futility methods that are Simon two-stage designs, and which of the two each picks.
SIMON_METHODS = {"simon-optimal": "optimal", "simon-minimax": "minimax"}


def _check_prior(prior_a: float, prior_b: float) -> None:
    if not (prior_a > 0 and prior_b > 0):
        raise DesignError(f"beta prior parameters must be positive, got {prior_a}, {prior_b}")


def _boundary_table(
    n_min: int,
    n_max: int,
    count_column: str,
    value_column: str,
    boundary: Callable[[int], tuple[int | None, float]],
) -> pd.DataFrame:
    """One row per number of patients ``n`` in ``n_min..n_max``: ``boundary(n)`` as two columns.

    ``boundary(n)`` gives the boundary count (``None`` when no count qualifies, shown ``<NA>``)
    and the probability at that count.
    """
    check_positive_int(n_min, "n_min")
    if check_positive_int(n_max, "n_max") < n_min:
        raise DesignError("n_max must be at least n_min")
    rows = []
    for n in range(n_min, n_max + 1):
        count, value = boundary(n)
        rows.append(
            {"n": n, count_column: count if count is not None else pd.NA, value_column: value}
        )
    table = pd.DataFrame(rows)
    table[count_column] = table[count_column].astype("Int64")
    return table


def toxicity_monitoring_boundary(
    limit: float,
    threshold: float,
    *,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    n_max: int = 20,
    n_min: int = 1,
) -> pd.DataFrame:
    """Beta-binomial stopping boundary: smallest DLT count that stops, per number of patients.

    Parameters
    ----------
    limit
        Unacceptable DLT rate ``theta``.
    threshold
        Posterior probability ``c`` above which to stop: ``Pr(p > limit | y, n) > c``.
    prior_a, prior_b
        Beta prior.
    n_max, n_min
        Patients covered by the table.

    Returns
    -------
    pandas.DataFrame
        ``n``, ``stop_if_dlt_ge`` (``<NA>`` when even ``n`` DLTs do not stop) and
        ``prob_above_limit`` at that count.
    """
    check_target(limit, "limit")
    check_target(threshold, "threshold")
    _check_prior(prior_a, prior_b)

    def first_stop(n: int) -> tuple[int | None, float]:
        prob = prob_above(limit, np.arange(n + 1), n, prior_a, prior_b)
        hits = np.flatnonzero(prob > threshold)
        return (int(hits[0]), float(prob[hits[0]])) if hits.size else (None, np.nan)

    return _boundary_table(n_min, n_max, "stop_if_dlt_ge", "prob_above_limit", first_stop)


def toxicity_stop_count(
    n: int,
    limit: float,
    threshold: float,
    *,
    prior_a: float,
    prior_b: float,
    min_subjects: int,
) -> int | None:
    """The number of DLTs among ``n`` evaluable subjects that stops the expansion for toxicity.

    The row ``n`` of :func:`toxicity_monitoring_boundary`; ``None`` when fewer than
    ``min_subjects`` are evaluable (the rule is not checked yet) or when even ``n`` DLTs would not
    give ``Pr(p > limit | y, n) > threshold``.

    Examples
    --------
    >>> toxicity_stop_count(6, 0.3, 0.9, prior_a=1, prior_b=1, min_subjects=3)
    4
    """
    check_positive_int(min_subjects, "min_subjects")
    if n < min_subjects:
        return None
    row = toxicity_monitoring_boundary(
        limit, threshold, prior_a=prior_a, prior_b=prior_b, n_min=n, n_max=n
    )
    value = row["stop_if_dlt_ge"].iloc[0]
    return None if pd.isna(value) else int(value)


def monitoring_operating_characteristics(
    boundary: pd.DataFrame, true_rates: Sequence[float], looks: Sequence[int]
) -> pd.DataFrame:
    """Exact probability of stopping and expected size when the boundary is checked at ``looks``.

    Computed by propagating the distribution of the DLT count through the looks (binomial
    increments between looks), removing the mass that crosses the boundary at each look.

    Parameters
    ----------
    boundary
        A table from :func:`toxicity_monitoring_boundary` covering every look.
    true_rates
        True DLT rates to evaluate.
    looks
        Increasing numbers of patients at which the rule is applied (e.g. 5, 10, 15, 20).
    """
    look_list = [check_positive_int(k, "look") for k in looks]
    if not look_list or look_list != sorted(set(look_list)):
        raise DesignError(f"looks must be increasing, got {list(looks)}")
    cut = dict(zip(boundary["n"].tolist(), boundary["stop_if_dlt_ge"].tolist(), strict=True))
    missing = [k for k in look_list if k not in cut]
    if missing:
        raise DesignError(f"the boundary table does not cover looks {missing}")
    rows = []
    for p in check_probability_vector(true_rates, "true_rates").tolist():
        alive = np.array([1.0])
        previous, stop, expected = 0, 0.0, 0.0
        for k in look_list:
            step = stats.binom.pmf(np.arange(k - previous + 1), k - previous, p)
            alive = np.convolve(alive, step)
            limit_k = cut[k]
            if limit_k is not pd.NA and limit_k is not None:
                crossed = float(alive[int(limit_k) :].sum())
                stop += crossed
                expected += crossed * k
                alive[int(limit_k) :] = 0.0
            previous = k
        expected += (1 - stop) * look_list[-1]
        rows.append({"true_rate": p, "prob_stop": stop, "expected_n": expected})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design: stop after stage 1 if responses ``<= r1`` of ``n1``; declare
    the treatment promising if responses ``> r`` of ``n``.

    Attributes
    ----------
    r1, n1, r, n
        Stage-1 futility bound and size, final bound and total size.
    expected_n0
        Expected sample size under ``p0``: ``n1 + (1 - PET0)(n - n1)``.
    pet0
        Probability of early termination under ``p0``: ``B(r1; n1, p0)``.
    alpha, power
        Attained type I error under ``p0`` and power under ``p1``.
    pet1, expected_n1
        The same under ``p1``: ``B(r1; n1, p1)`` and ``n1 + (1 - PET1)(n - n1)``
        (clinfun ``ph2simon``'s ``PET(p1)`` and ``EN(p1)``).
    """

    r1: int
    n1: int
    r: int
    n: int
    expected_n0: float
    pet0: float
    alpha: float
    power: float
    pet1: float
    expected_n1: float


@dataclass(frozen=True)
class SimonResult:
    """Optimal and minimax Simon designs for ``p0`` versus ``p1`` at ``alpha`` and ``beta``.

    ``admissible`` lists the admissible designs of Jung, Lee, Kim & George (Stat Med
    2004;23:561-569), minimax first and optimal last: the designs that minimise the expected loss
    ``q n + (1 - q) EN(p0)`` for some weight ``q`` in [0, 1] (the lower convex hull of the
    best design of each total size in the (n, EN(p0)) plane).
    """

    p0: float
    p1: float
    alpha: float
    beta: float
    optimal: SimonDesign
    minimax: SimonDesign
    admissible: tuple[SimonDesign, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Optimal, minimax and the admissible designs between them, one row each."""
        rows = []
        for label, design in (("optimal", self.optimal), ("minimax", self.minimax)):
            rows.append({"design": label} | design.__dict__)
        for design in self.admissible:
            if design not in (self.optimal, self.minimax):
                rows.append({"design": "admissible"} | design.__dict__)
        return pd.DataFrame(rows)


def admissible_designs(best_by_n: Sequence[SimonDesign]) -> tuple[SimonDesign, ...]:
    """Jung et al. (2004) admissible designs among the best design of each total size.

    ``best_by_n`` holds, for each ``n``, the qualifying design of least ``EN(p0)``. A design is
    admissible when it minimises ``q n + (1 - q) EN(p0)`` for some ``q`` in [0, 1]: the lower
    convex hull of the points ``(n, EN(p0))`` from the minimax to the optimal design.
    """
    if not best_by_n:
        return ()
    points = sorted(best_by_n, key=lambda d: (d.n, d.expected_n0))
    optimal = min(points, key=lambda d: d.expected_n0)
    points = [d for d in points if d.n <= optimal.n]
    hull: list[SimonDesign] = []
    for design in points:
        if hull and design.n == hull[-1].n:
            continue
        # drop the last hull point while it lies on or above the segment to the new point
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (b.n - a.n) * (design.expected_n0 - a.expected_n0) - (
                b.expected_n0 - a.expected_n0
            ) * (design.n - a.n)
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(design)
    # the hull must fall from minimax to optimal: keep the decreasing part
    out = [hull[0]]
    for design in hull[1:]:
        if design.expected_n0 < out[-1].expected_n0:
            out.append(design)
    return tuple(out)


@dataclass(frozen=True)
class _BinomialTables:
    """Binomial tables for one response rate, sizes 0..n_max.

    ``pmf[m, x]`` and ``cdf[m, x]`` for X ~ Bin(m, p) (zero beyond ``m``), and
    ``sf[m, k + n_max] = Pr(X > k)`` for ``k = -n_max..n_max``.
    """

    pmf: npt.NDArray[np.float64]
    cdf: npt.NDArray[np.float64]
    sf: npt.NDArray[np.float64]
    n_max: int

    @classmethod
    def build(cls, p: float, n_max: int) -> _BinomialTables:
        sizes = np.arange(n_max + 1)[:, None]
        xs = np.arange(n_max + 1)[None, :]
        ks = np.arange(-n_max, n_max + 1)[None, :]
        return cls(
            pmf=np.asarray(stats.binom.pmf(xs, sizes, p), float),
            cdf=np.asarray(stats.binom.cdf(xs, sizes, p), float),
            sf=np.asarray(stats.binom.sf(ks, sizes, p), float),
            n_max=n_max,
        )

    def reject(self, n: int) -> npt.NDArray[np.float64]:
        """``Pr(reject)`` for every stage-1 size and bounds at total size ``n``.

        Array ``[n1 - 1, r1, r]`` for ``n1 = 1..n-1``, ``r1 = 0..n-2``, ``r = 0..n-1``:
        ``sum_{x1 > r1} b(x1; n1) Pr(X2 > r - x1)`` with ``X2 ~ Bin(n - n1)``.
        """
        n1 = np.arange(1, n)[:, None, None]
        x1 = np.arange(n)[None, :, None]
        r = np.arange(n)[None, None, :]
        terms = self.pmf[n1, x1] * self.sf[n - n1, r - x1 + self.n_max]
        tail = np.cumsum(terms[:, ::-1, :], axis=1)[:, ::-1, :]  # tail[., x, .] = sum x1 >= x
        return np.asarray(tail[:, 1:, :], float)  # [., r1, .] -> sum over x1 > r1


def simon_two_stage(
    p0: float, p1: float, alpha: float = 0.05, beta: float = 0.2, *, n_max: int = 100
) -> SimonResult:
    """Optimal and minimax Simon (1989) two-stage designs by exhaustive search up to ``n_max``.

    ``Pr(reject | p) = sum_{x1 = r1 + 1}^{n1} b(x1; n1, p) [1 - B(r - x1; n - n1, p)]``; a design
    qualifies when ``Pr(reject | p0) < alpha`` and ``1 - Pr(reject | p1) < beta`` (the strict
    inequalities of clinfun ``ph2simon``), with ``r1 <= r``. Optimal: minimal ``EN(p0)`` (ties:
    smaller ``n``, then smaller ``n1``); minimax: minimal ``n``, then minimal ``EN(p0)``. When
    several final bounds ``r`` qualify for the same ``(r1, n1, n)`` (same ``EN(p0)``), the largest
    is reported, as ``ph2simon`` does.

    Examples
    --------
    >>> res = simon_two_stage(0.05, 0.25, 0.05, 0.2)
    >>> (res.optimal.r1, res.optimal.n1, res.optimal.r, res.optimal.n)
    (0, 9, 2, 17)
    """
    check_target(p0, "p0")
    check_target(p1, "p1")
    check_target(alpha, "alpha")
    check_target(beta, "beta")
    if not p0 < p1:
        raise DesignError(f"need p0 < p1, got {p0}, {p1}")
    n_max = check_positive_int(n_max, "n_max", minimum=2)
    null, alternative = _BinomialTables.build(p0, n_max), _BinomialTables.build(p1, n_max)
    best_optimal: SimonDesign | None = None
    best_minimax: SimonDesign | None = None
    best_by_n: list[SimonDesign] = []
    for n in range(2, n_max + 1):
        reject0, reject1 = null.reject(n), alternative.reject(n)
        # Pr(reject) falls as r grows, so for each (n1, r1) the final bounds meeting both error
        # rates form a run r_alpha..r_power (r >= r1; every r <= r1 rejects exactly as r = r1).
        # The expected size does not depend on r; like clinfun ph2simon, take the largest r.
        meets_alpha = reject0 < alpha
        r_alpha = np.argmax(meets_alpha, axis=2)
        r_power = np.sum(1.0 - reject1 < beta, axis=2) - 1
        n1 = np.arange(1, n)[:, None]
        r1 = np.arange(n - 1)[None, :]
        r_pick = np.clip(r_power, 0, None)
        ok = (r1 < n1) & meets_alpha.any(axis=2) & (r_power >= np.maximum(r_alpha, r1))
        if not ok.any():
            continue
        pet = null.cdf[n1, r1]
        en0 = np.where(ok, n1 + (1 - pet) * (n - n1), np.inf)
        i, j = np.unravel_index(int(np.argmin(en0)), en0.shape)
        r = int(r_pick[i, j])
        pet1 = float(alternative.cdf[int(i) + 1, int(j)])
        design = SimonDesign(
            int(j),
            int(i) + 1,
            r,
            n,
            float(en0[i, j]),
            float(pet[i, j]),
            float(reject0[i, j, r]),
            float(reject1[i, j, r]),
            pet1,
            float(int(i) + 1 + (1 - pet1) * (n - int(i) - 1)),
        )
        best_by_n.append(design)
        if best_optimal is None or design.expected_n0 < best_optimal.expected_n0:
            best_optimal = design
        if best_minimax is None:
            best_minimax = design
    if best_optimal is None or best_minimax is None:
        raise DesignError(f"no two-stage design with n <= {n_max} meets alpha and beta")
    return SimonResult(
        p0, p1, alpha, beta, best_optimal, best_minimax, admissible_designs(best_by_n)
    )


@cache
def simon_design(
    method: str, p0: float, p1: float, alpha: float, beta: float
) -> SimonDesign | None:
    """The Simon two-stage design a futility ``method`` names, or ``None`` for other methods.

    ``"simon-optimal"`` and ``"simon-minimax"`` pick that design of :func:`simon_two_stage`
    (``p0`` versus ``p1`` at ``alpha``/``beta``); any other method (e.g.
    ``"predictive-probability"``) has no stage-1 rule. The one place where the protocol's
    futility method becomes a stage-1 size ``n1`` and bound ``r1``. The exhaustive search takes
    seconds, so results are kept per argument tuple (the design is frozen).

    Examples
    --------
    >>> d = simon_design("simon-optimal", 0.1, 0.3, 0.1, 0.2)
    >>> (d.r1, d.n1, d.r, d.n)
    (0, 7, 3, 18)
    """
    which = SIMON_METHODS.get(method)
    if which is None:
        return None
    designs = simon_two_stage(p0, p1, alpha, beta)
    return designs.optimal if which == "optimal" else designs.minimax


def predictive_probability(
    responses: int,
    n: int,
    n_max: int,
    p0: float,
    *,
    theta_t: float = 0.9,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> float:
    """Predictive probability that the trial ends a success (Lee & Liu 2008).

    With ``y`` responses in ``n`` and ``m = n_max - n`` patients to come, future responses ``X``
    follow a beta-binomial(m, a + y, b + n - y); the trial succeeds if
    ``Pr(p > p0 | y + X responses in n_max) > theta_t``. Returns
    ``PP = sum_x Pr(X = x | data) 1[success with x]``.
    """
    check_target(p0, "p0")
    check_target(theta_t, "theta_t")
    _check_prior(prior_a, prior_b)
    if not 0 <= responses <= n <= n_max or n_max < 1:
        raise DesignError(f"need 0 <= responses <= n <= n_max, got {responses}, {n}, {n_max}")
    remaining = n_max - n
    future = np.arange(remaining + 1)
    weight = stats.betabinom.pmf(future, remaining, prior_a + responses, prior_b + n - responses)
    success = prob_above(p0, responses + future, n_max, prior_a, prior_b) > theta_t
    return float(np.sum(weight * success))


def predictive_futility_boundary(
    n_max: int,
    p0: float,
    *,
    theta_t: float = 0.9,
    theta_l: float = 0.05,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    n_min: int = 1,
) -> pd.DataFrame:
    """Futility boundary: stop when the predictive probability of success is below ``theta_l``.

    Returns
    -------
    pandas.DataFrame
        ``n``, ``stop_if_responses_le`` (largest response count with ``PP < theta_l``; ``<NA>``
        when none) and ``predictive_probability`` at that count.
    """
    check_target(theta_l, "theta_l")

    def last_futile(n: int) -> tuple[int | None, float]:
        pp = np.array(
            [
                predictive_probability(
                    y, n, n_max, p0, theta_t=theta_t, prior_a=prior_a, prior_b=prior_b
                )
                for y in range(n + 1)
            ]
        )
        futile = np.flatnonzero(pp < theta_l)
        return (int(futile[-1]), float(pp[futile[-1]])) if futile.size else (None, np.nan)

    return _boundary_table(
        n_min, n_max, "stop_if_responses_le", "predictive_probability", last_futile
    )
