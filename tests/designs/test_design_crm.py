"""CRM and TITE-CRM against dfcrm-algorithm values and scipy numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from cartrial.designs.crm import CRM, TITECRM
from cartrial.designs.skeleton import get_skeleton
from cartrial.errors import DesignError

SKELETON = (0.05, 0.12, 0.25, 0.40, 0.55)


def quad_posterior(
    skeleton: tuple[float, ...],
    target: float,
    patients: list[tuple[int, int, float]],
    model: str = "empiric",
    prior_var: float = 1.34,
    a0: float = 3.0,
) -> tuple[float, list[float]]:
    """Independent oracle: posterior mean of beta and Pr(p_j > target) by scipy.integrate.quad.

    ``patients`` holds (dose, dlt, weight) per patient; likelihood p^y (1 - w p)^(1 - y).
    """

    def p(j: int, beta: float) -> float:
        if model == "empiric":
            return float(skeleton[j] ** math.exp(beta))
        x = math.log(skeleton[j] / (1 - skeleton[j])) - a0
        return float(special.expit(a0 + math.exp(beta) * x))

    def lik(beta: float) -> float:
        value = stats.norm.pdf(beta, 0, math.sqrt(prior_var))
        for dose, y, w in patients:
            value *= p(dose, beta) if y else 1 - w * p(dose, beta)
        return float(value)

    lim = 12 * math.sqrt(prior_var)
    z = integrate.quad(lik, -lim, lim, limit=200, points=[0.0])[0]
    mean = integrate.quad(lambda b: b * lik(b), -lim, lim, limit=200, points=[0.0])[0] / z
    # p_j(beta) decreases in beta: Pr(p_j > target) = Pr(beta < b_j), b_j found by brentq.
    cuts = [
        optimize.brentq(lambda b, j=j: p(j, b) - target, -lim, lim) for j in range(len(skeleton))
    ]
    over = [integrate.quad(lik, -lim, cut, limit=200)[0] / z for cut in cuts]
    return mean, over


def test_getprior_reference_values() -> None:
    # Reference §4 [calc from dfcrm getprior]: three calibrated skeletons.
    assert get_skeleton(0.05, 0.25, 2, 5) == pytest.approx(
        (0.0840, 0.1567, 0.2500, 0.3545, 0.4603), abs=5e-5
    )
    assert get_skeleton(0.05, 0.30, 1, 4) == pytest.approx(
        (0.2040, 0.3000, 0.4018, 0.5013), abs=5e-5
    )
    assert get_skeleton(0.05, 0.25, 2, 5, "logistic") == pytest.approx(
        (0.0889, 0.1580, 0.2500, 0.3555, 0.4618), abs=5e-5
    )


def test_reference_example_one_dlt() -> None:
    # Reference §4: levels (1,1,1,2,2,2), DLT on the last -> beta = -0.2711, recommended dose 2.
    d = CRM(target=0.25, n_doses=5, skeleton=SKELETON)
    fit = d.posterior([3, 3, 0, 0, 0], [0, 1, 0, 0, 0])
    assert fit.beta_mean == pytest.approx(-0.2711, abs=1e-4)
    assert fit.p_hat == pytest.approx((0.1018, 0.1985, 0.3475, 0.4972, 0.6339), abs=1e-4)
    assert d.decide([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], current=1).next_dose == 1


def test_reference_example_two_dlts_at_dose_three() -> None:
    # Reference §4: beta = -0.1923, p_hat(3) = 0.3186, recommended dose 3 (index 2).
    d = CRM(target=0.25, n_doses=5, skeleton=SKELETON, coherent=False)
    fit = d.posterior([3, 3, 3, 0, 0], [0, 0, 2, 0, 0])
    assert fit.beta_mean == pytest.approx(-0.1923, abs=1e-4)
    assert fit.p_hat[2] == pytest.approx(0.3186, abs=1e-4)
    assert d.decide([3, 3, 3, 0, 0], [0, 0, 2, 0, 0], current=2).next_dose == 2


def test_tite_crm_reference_example() -> None:
    # Reference §4: no DLTs, dose-3 patients followed 14, 7, 21 of 28 days -> beta = 0.9198;
    # unrestricted recommendation dose 5, restricted (no skipping) dose 4 (index 3).
    pending = [(2, 0.5), (2, 0.25), (2, 0.75)]
    d = TITECRM(target=0.25, n_doses=5, skeleton=SKELETON)
    fit = d.posterior([3, 3, 3, 0, 0], [0, 0, 0, 0, 0], pending)
    assert fit.beta_mean == pytest.approx(0.9198, abs=1e-4)
    assert fit.p_hat == pytest.approx((0.0005, 0.0049, 0.0309, 0.1004, 0.2232), abs=1e-4)
    assert d.decide([3, 3, 3, 0, 0], [0, 0, 0, 0, 0], 2, pending).next_dose == 3
    free = TITECRM(target=0.25, n_doses=5, skeleton=SKELETON, no_skip=False)
    assert free.decide([3, 3, 3, 0, 0], [0, 0, 0, 0, 0], 2, pending).next_dose == 4


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(
    ("n", "dlt", "pending"),
    [
        ([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], []),
        ([3, 6, 9, 3, 0], [0, 1, 3, 2, 0], []),
        ([3, 0, 0, 0, 0], [3, 0, 0, 0, 0], []),
        ([3, 3, 3, 0, 0], [0, 0, 1, 0, 0], [(2, 0.3), (1, 0.9)]),
    ],
)
def test_posterior_against_scipy_quad(
    model: str, n: list[int], dlt: list[int], pending: list[tuple[int, float]]
) -> None:
    # Oracle: scipy.integrate.quad of the same posterior, written independently above.
    d = TITECRM(target=0.25, n_doses=5, skeleton=SKELETON, model=model)  # type: ignore[arg-type]
    patients: list[tuple[int, int, float]] = []
    for j in range(5):
        waiting = [w for dose, w in pending if dose == j]
        patients += [(j, 1, 1.0)] * dlt[j] + [(j, 0, w) for w in waiting]
        patients += [(j, 0, 1.0)] * (n[j] - dlt[j] - len(waiting))
    mean, over = quad_posterior(SKELETON, 0.25, patients, model)
    fit = d.posterior(n, dlt, pending)
    assert fit.beta_mean == pytest.approx(mean, abs=1e-6)
    assert fit.prob_overdose == pytest.approx(over, abs=1e-6)


def test_safety_stop_and_overdose_control() -> None:
    d = CRM(target=0.25, n_doses=5, skeleton=SKELETON)
    out = d.decide([3, 0, 0, 0, 0], [3, 0, 0, 0, 0], current=0)
    assert (out.action, out.next_dose) == ("stop", None)
    assert d.select_mtd([3, 0, 0, 0, 0], [3, 0, 0, 0, 0]) is None
    ewoc = CRM(target=0.25, n_doses=5, skeleton=SKELETON, ewoc_alpha=0.25)
    out = ewoc.decide([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], current=1)
    # Pr(p_j > 0.25) = (0.151, 0.366, ...) from the fit above: only dose 0 stays allowed.
    assert out.eliminated == (1, 2, 3, 4)
    assert out.next_dose == 0


def test_coherence_blocks_escalation_after_toxicity() -> None:
    # 1/3 at dose 0 (rate 0.33 >= 0.25) with a flat-looking posterior: never escalate.
    d = CRM(target=0.25, n_doses=5, skeleton=(0.01, 0.02, 0.03, 0.04, 0.05))
    out = d.decide([3, 0, 0, 0, 0], [1, 0, 0, 0, 0], current=0)
    assert out.next_dose == 0


def test_calibrated_skeleton_is_used_when_none_given() -> None:
    d = CRM(target=0.25, n_doses=5, halfwidth=0.05, prior_mtd=2)
    assert d.prior_skeleton() == pytest.approx(get_skeleton(0.05, 0.25, 2, 5))


def test_select_mtd_limited_to_treated_doses() -> None:
    d = CRM(target=0.25, n_doses=5, skeleton=SKELETON)
    assert d.select_mtd([3, 3, 0, 0, 0], [0, 0, 0, 0, 0]) == 1
    assert d.select_mtd([0, 0, 0, 0, 0], [0, 0, 0, 0, 0]) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"skeleton": (0.1, 0.3, 0.2, 0.4, 0.5)},
        {"skeleton": (0.1, 0.2, 0.3)},
        {"skeleton": (0.0, 0.1, 0.2, 0.3, 0.4)},
        {"target": 1.5},
        {"cohort_size": 0},
        {"prior_var": -1.0},
    ],
)
def test_bad_parameters(kwargs: dict[str, object]) -> None:
    params: dict[str, object] = {"target": 0.25, "n_doses": 5} | kwargs
    with pytest.raises(DesignError):
        CRM(**params)  # type: ignore[arg-type]


def test_grid_posterior_is_a_probability() -> None:
    fit = CRM(target=0.25, n_doses=5, skeleton=SKELETON).posterior([6, 6, 6, 6, 6], [0, 1, 2, 3, 4])
    assert np.all(np.diff(fit.prob_overdose) > 0)
    assert all(0 <= q <= 1 for q in fit.prob_overdose)


def test_first_cohort_is_treated_at_the_current_dose() -> None:
    # No data: the prior alone would point at dose 2 (skeleton 0.25 = target); the first cohort
    # is still treated at the starting dose.
    out = CRM(target=0.25, n_doses=5, skeleton=SKELETON).decide([0] * 5, [0] * 5, current=0)
    assert (out.action, out.next_dose) == ("stay", 0)
