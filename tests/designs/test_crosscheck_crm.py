"""CRM against quantities computed another way.

* Skeleton calibration (Lee & Cheung 2009; dfcrm ``getprior``): the defining property, checked
  with ``scipy.optimize.brentq`` -- for consecutive doses k, k+1 there is one beta at which
  ``p_k(beta) = target - halfwidth`` and ``p_{k+1}(beta) = target + halfwidth``.
* Posterior mean of beta, plug-in ``p_hat`` and ``Pr(p_j > target | data)`` by
  ``scipy.integrate.quad`` over the whole real line, as dfcrm ``crm``/``titecrm`` integrate
  (github.com/cran/dfcrm ``R/dfcrm.R``: ``integrate(crmht, -Inf, Inf) / integrate(crmh, ...)``).
* The recommended dose by dfcrm's rule: all ``p_hat <= target`` -> highest dose, all ``>=`` ->
  lowest, else the first dose of ``order(abs(p_hat - target))``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from cartrial.designs import CRM, TITECRM, get_skeleton
from cartrial.errors import DesignError

A0 = 3.0
PRIOR_VAR = 1.34


def _p(beta: float, alpha: float, model: str) -> float:
    """dfcrm's models: ``alpha^exp(beta)``; ``expit(a0 + exp(beta) (logit(alpha) - a0))``."""
    with np.errstate(over="ignore"):
        scale = np.exp(np.float64(beta))
        if model == "empiric":
            return float(np.float64(alpha) ** scale)
        x = math.log(alpha / (1 - alpha)) - A0
        return float(special.expit(A0 + scale * x))


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(
    ("halfwidth", "target", "prior_mtd", "n_doses"),
    [(0.05, 0.25, 2, 5), (0.05, 0.30, 1, 4), (0.07, 0.30, 3, 6), (0.04, 0.20, 0, 4)],
)
def test_skeleton_indifference_property(
    model: str, halfwidth: float, target: float, prior_mtd: int, n_doses: int
) -> None:
    skeleton = get_skeleton(halfwidth, target, prior_mtd, n_doses, model)  # type: ignore[arg-type]
    assert skeleton[prior_mtd] == pytest.approx(target, abs=1e-12)
    assert all(a < b for a, b in itertools.pairwise(skeleton))
    for k in range(n_doses - 1):
        beta = optimize.brentq(
            lambda b, k=k: _p(b, skeleton[k], model) - (target - halfwidth), -10, 10, xtol=1e-14
        )
        assert _p(beta, skeleton[k + 1], model) == pytest.approx(target + halfwidth, abs=1e-9)


def _quad_posterior(
    skeleton: tuple[float, ...],
    target: float,
    levels: list[int],
    tox: list[int],
    weights: list[float],
    model: str,
) -> tuple[float, list[float], list[float]]:
    def likelihood(beta: float) -> float:
        value = math.exp(-(beta**2) / (2 * PRIOR_VAR))
        for level, y, w in zip(levels, tox, weights, strict=True):
            p = _p(beta, skeleton[level], model)
            value *= p if y else 1 - w * p
        return value

    total = integrate.quad(likelihood, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)[0]
    mean = integrate.quad(lambda b: b * likelihood(b), -np.inf, np.inf, epsabs=1e-13)[0] / total
    p_hat = [_p(mean, a, model) for a in skeleton]
    over = []
    for alpha in skeleton:
        # p_j(beta) > target exactly when beta < b_j (p_j falls as beta grows)
        cut = optimize.brentq(lambda b, a=alpha: _p(b, a, model) - target, -30, 30, xtol=1e-14)
        over.append(integrate.quad(likelihood, -np.inf, cut, epsabs=1e-13)[0] / total)
    return mean, p_hat, over


DATA = [
    # levels (0-based), DLTs, follow-up weights (1 = complete)
    ([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1], [1.0] * 6),
    ([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0, 1, 1, 0], [1.0] * 9),
    ([1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2], [0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1], [1.0] * 12),
    ([0, 0, 0, 1, 1, 1, 2, 2, 2], [0] * 9, [1, 1, 1, 1, 1, 1, 0.5, 0.25, 0.75]),
    ([0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0.9, 0.1, 0.0]),
]


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(("levels", "tox", "weights"), DATA)
def test_posterior_against_quad(
    model: str, levels: list[int], tox: list[int], weights: list[float]
) -> None:
    skeleton = (0.05, 0.12, 0.25, 0.40, 0.55)
    target = 0.25
    n = np.bincount(levels, minlength=5)
    dlt = np.bincount(levels, weights=tox, minlength=5).astype(int)
    pending = [(lv, w) for lv, y, w in zip(levels, tox, weights, strict=True) if w < 1 and not y]
    design = TITECRM(target=target, n_doses=5, skeleton=skeleton, model=model)  # type: ignore[arg-type]
    fit = design.posterior(n, dlt, pending)
    mean, p_hat, over = _quad_posterior(skeleton, target, levels, tox, weights, model)
    assert fit.beta_mean == pytest.approx(mean, abs=1e-6)
    assert fit.p_hat == pytest.approx(p_hat, abs=1e-6)
    assert fit.prob_overdose == pytest.approx(over, abs=1e-6)


def _dfcrm_recommendation(p_hat: list[float], target: float) -> int:
    if all(p <= target for p in p_hat):
        return len(p_hat) - 1
    if all(p >= target for p in p_hat):
        return 0
    return int(np.argsort(np.abs(np.asarray(p_hat) - target), kind="stable")[0])


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(("levels", "tox", "weights"), DATA[:3])
def test_recommendation_follows_dfcrm_rule(
    model: str, levels: list[int], tox: list[int], weights: list[float]
) -> None:
    skeleton = (0.05, 0.12, 0.25, 0.40, 0.55)
    design = CRM(
        target=0.25,
        n_doses=5,
        skeleton=skeleton,
        model=model,  # type: ignore[arg-type]
        no_skip=False,
        coherent=False,
        stop_threshold=None,
    )
    n = np.bincount(levels, minlength=5)
    dlt = np.bincount(levels, weights=tox, minlength=5).astype(int)
    _, p_hat, _ = _quad_posterior(skeleton, 0.25, levels, tox, weights, model)
    expected = _dfcrm_recommendation(p_hat, 0.25)
    assert design.decide(n, dlt, current=levels[-1]).next_dose == expected
    # dfcrm restrict = TRUE (no skipping): at most one level above the current dose
    restricted = CRM(target=0.25, n_doses=5, skeleton=skeleton, model=model, coherent=False)  # type: ignore[arg-type]
    got = restricted.decide(n, dlt, current=levels[-1]).next_dose
    assert got == min(expected, levels[-1] + 1)


@pytest.mark.parametrize(
    ("last_cohort", "expected"),
    [
        # 0/3 then 1/3 at dose 1: all patients there 1/6 < 0.25, but dfcrm's restriction looks at
        # the last cohort, 1/3 >= 0.25 -> no escalation ("if (sum(ynew)/mcohort >= target)").
        ((3, 1), 1),
        # 1/3 then 0/3: the last cohort had no DLT -> escalate one level (no skipping).
        ((3, 0), 2),
        # without the last cohort: the count-based form, 1/6 < 0.25 -> escalate.
        (None, 2),
    ],
)
def test_coherence_looks_at_the_last_cohort_as_dfcrm(
    last_cohort: tuple[int, int] | None, expected: int
) -> None:
    skeleton = (0.05, 0.12, 0.25, 0.40, 0.55)
    levels = [0, 0, 0, 1, 1, 1, 1, 1, 1]
    tox = [0, 0, 0, 0, 0, 0, 0, 0, 1]
    _, p_hat, _ = _quad_posterior(skeleton, 0.25, levels, tox, [1.0] * 9, "empiric")
    assert _dfcrm_recommendation(p_hat, 0.25) == 2  # unrestricted: dose 2 (p_hat 0.267)
    design = CRM(target=0.25, n_doses=5, skeleton=skeleton)
    n, dlt = [3, 6, 0, 0, 0], [0, 1, 0, 0, 0]
    assert design.decide(n, dlt, 1, last_cohort=last_cohort).next_dose == expected


def test_last_cohort_must_fit_the_counts() -> None:
    design = CRM(target=0.25, n_doses=3, skeleton=(0.1, 0.25, 0.4))
    with pytest.raises(DesignError):
        design.decide([3, 3, 0], [0, 0, 0], 1, last_cohort=(3, 1))
    with pytest.raises(DesignError):
        design.decide([3, 3, 0], [0, 1, 0], 1, last_cohort=(4, 1))


# TITE-CRM adaptive weights (Cheung & Chappell 2000, Biometrics 56:1177), as R dfcrm 0.2-2.1
# defines them in titecrm(..., scheme = "adaptive") (github.com/cran/dfcrm R/dfcrm.R):
# support <- sort(followup[tox == 1]); z <- length(support); for each patient m = #support <=
# followup: m = 0 -> followup / support[1] / (z + 1); m = z -> (z + (followup - support[z]) /
# (obswin - support[z])) / (z + 1); else (m + (followup - support[m]) / (support[m + 1] -
# support[m])) / (z + 1); weights capped at 1 and set to 1 for DLTs. The R call reproduced:
#   titecrm(prior = c(0.05, 0.12, 0.25, 0.40, 0.55), target = 0.25,
#           tox = c(0, 1, 0, 0, 1, 0, 0, 0, 0), level = c(1, 1, 1, 2, 2, 2, 3, 3, 3),
#           followup = c(28, 10, 28, 28, 20, 15, 7, 3, 25), obswin = 28, scheme = "adaptive")
ADAPTIVE_LEVELS = [0, 0, 0, 1, 1, 1, 2, 2, 2]  # 0-based
ADAPTIVE_TOX = [0, 1, 0, 0, 1, 0, 0, 0, 0]
ADAPTIVE_FOLLOWUP = [28, 10, 28, 28, 20, 15, 7, 3, 25]  # days, window 28
# by hand: support (10, 20), z = 2; complete patients m = 2 -> (2 + 8/8)/3 = 1; 15 days: m = 1
# -> (1 + 5/10)/3 = 0.5; 7 days: 7/10/3; 3 days: 3/10/3; 25 days: m = 2 -> (2 + 5/8)/3 = 0.875
ADAPTIVE_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 7 / 30, 0.1, 2.625 / 3]


def _adaptive_case() -> tuple[np.ndarray, np.ndarray, list[tuple[int, float]], list[float]]:
    n = np.bincount(ADAPTIVE_LEVELS, minlength=5)
    dlt = np.bincount(ADAPTIVE_LEVELS, weights=ADAPTIVE_TOX, minlength=5).astype(int)
    pending = [
        (level, days / 28)
        for level, y, days in zip(ADAPTIVE_LEVELS, ADAPTIVE_TOX, ADAPTIVE_FOLLOWUP, strict=True)
        if not y and days < 28
    ]
    onsets = [days / 28 for y, days in zip(ADAPTIVE_TOX, ADAPTIVE_FOLLOWUP, strict=True) if y]
    return n, dlt, pending, onsets


def test_adaptive_weights_match_the_hand_calculation() -> None:
    from cartrial.designs.tite_weights import pending_weights

    _, _, pending, onsets = _adaptive_case()
    weights = pending_weights("adaptive", np.array([u for _, u in pending]), np.array(onsets))
    assert weights.tolist() == pytest.approx([0.5, 7 / 30, 0.1, 2.625 / 3], abs=1e-14)
    # without any DLT the adaptive weight is the linear one (dfcrm: weights <- followup/obswin)
    assert pending_weights("adaptive", np.array([0.3, 0.9]), np.array([])).tolist() == [0.3, 0.9]


def test_adaptive_posterior_and_decision_against_quad() -> None:
    skeleton = (0.05, 0.12, 0.25, 0.40, 0.55)
    n, dlt, pending, onsets = _adaptive_case()
    design = TITECRM(target=0.25, n_doses=5, skeleton=skeleton, scheme="adaptive")
    fit = design.posterior(n, dlt, pending, dlt_followup=onsets)
    mean, p_hat, over = _quad_posterior(
        skeleton, 0.25, ADAPTIVE_LEVELS, ADAPTIVE_TOX, ADAPTIVE_WEIGHTS, "empiric"
    )
    assert fit.beta_mean == pytest.approx(mean, abs=1e-6)
    assert fit.p_hat == pytest.approx(p_hat, abs=1e-6)
    assert fit.prob_overdose == pytest.approx(over, abs=1e-6)
    linear = TITECRM(target=0.25, n_doses=5, skeleton=skeleton).posterior(n, dlt, pending)
    assert abs(linear.beta_mean - fit.beta_mean) > 1e-3  # the scheme changes the estimate
    decision = design.decide(n, dlt, 2, pending, dlt_followup=onsets)
    assert decision.next_dose == min(_dfcrm_recommendation(p_hat, 0.25), 3)


def test_adaptive_scheme_needs_the_dlt_onsets() -> None:
    n, dlt, pending, onsets = _adaptive_case()
    design = TITECRM(target=0.25, n_doses=5, scheme="adaptive")
    with pytest.raises(DesignError, match="dlt_followup"):
        design.decide(n, dlt, 2, pending)
    with pytest.raises(DesignError, match="2 DLTs"):
        design.decide(n, dlt, 2, pending, dlt_followup=onsets[:1])
    with pytest.raises(DesignError, match="scheme"):
        TITECRM(target=0.25, n_doses=5, scheme="quadratic")  # type: ignore[arg-type]


def test_adaptive_scheme_without_pending_patients_needs_no_onsets() -> None:
    # nothing to weigh: the likelihood is CRM's, whatever the DLT times (dose pathways, end of
    # escalation ask a TITE design on complete follow-up)
    from cartrial.designs import needs_dlt_followup

    design = TITECRM(target=0.25, n_doses=5, scheme="adaptive")
    n, dlt = [3, 3, 0, 0, 0], [0, 1, 0, 0, 0]
    plain = CRM(target=0.25, n_doses=5).decide(n, dlt, 1)
    assert design.decide(n, dlt, 1).next_dose == plain.next_dose
    assert design.decide(n, dlt, 1, dlt_followup=[0.4]).details == design.decide(n, dlt, 1).details
    assert needs_dlt_followup(design)
    assert not needs_dlt_followup(TITECRM(target=0.25, n_doses=5))
    assert not needs_dlt_followup(CRM(target=0.25, n_doses=5))
