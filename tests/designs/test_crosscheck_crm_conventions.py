"""dfcrm conventions offered as CRM options, against dfcrm's algorithm reproduced by hand.

Source: the R package dfcrm (github.com/cran/dfcrm, ``R/dfcrm.R``).

* ``crm(prior, target, tox, level, conf.level = 0.90)``: ``post.var = E[beta^2] - E[beta]^2``
  with both moments from ``integrate(..., -Inf, Inf)``; ``crit = qnorm(0.5 + conf.level/2)``;
  ``ptoxL = prior^exp(est + crit sd)``, ``ptoxU = prior^exp(est - crit sd)`` (empiric), the same
  ``beta`` bounds through the logistic curve. Reproduced here with ``scipy.integrate.quad``.
* ``crm()``'s recommendation (``mtd``) ranges over all doses, as ``crmsim``'s final MTD:
  ``mtd_rule="dfcrm"``.
* ``crmsim(PI, prior, target, n, x0 = c(...), mcohort)`` with a vector ``x0``: cohorts follow
  ``x0`` while no DLT has occurred, then the CRM with ``restrict`` decides.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from tests.designs.test_crosscheck_crm import _p  # dfcrm's models, written out once

from cartrial.designs import CRM, TITECRM
from cartrial.errors import DesignError
from cartrial.simulation import simulate
from cartrial.simulation.engine import plan_simulation, simulate_range
from cartrial.simulation.reference import reference_trials

SKELETON = (0.05, 0.12, 0.25, 0.40, 0.55)
PRIOR_VAR = 1.34


def _dfcrm_crm(levels: list[int], tox: list[int], model: str, conf: float = 0.9):  # type: ignore[no-untyped-def]
    """dfcrm ``crm()``'s est, post.var, ptox, ptoxL, ptoxU and mtd, by quad integration."""

    def posterior(beta: float) -> float:
        value = math.exp(-(beta**2) / (2 * PRIOR_VAR))
        for level, y in zip(levels, tox, strict=True):
            p = _p(beta, SKELETON[level], model)
            value *= p if y else 1 - p
        return value

    den = integrate.quad(posterior, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)[0]
    est = integrate.quad(lambda b: b * posterior(b), -np.inf, np.inf, epsabs=1e-13)[0] / den
    e2 = integrate.quad(lambda b: b * b * posterior(b), -np.inf, np.inf, epsabs=1e-13)[0] / den
    post_var = e2 - est**2
    crit = stats.norm.ppf(0.5 + conf / 2)
    lb, ub = est - crit * math.sqrt(post_var), est + crit * math.sqrt(post_var)
    ptox = [_p(est, a, model) for a in SKELETON]
    lower = [_p(ub, a, model) for a in SKELETON]
    upper = [_p(lb, a, model) for a in SKELETON]
    mtd = int(np.argsort(np.abs(np.asarray(ptox) - 0.25), kind="stable")[0])
    return est, post_var, ptox, lower, upper, mtd


DATA = [
    ([0, 0, 0], [0, 0, 0]),
    ([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1]),
    ([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0, 1, 1, 0]),
    ([1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2], [0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1]),
]


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize(("levels", "tox"), DATA)
@pytest.mark.parametrize("conf", [0.9, 0.95])
def test_posterior_variance_and_credible_intervals_match_dfcrm_crm(
    model: str, levels: list[int], tox: list[int], conf: float
) -> None:
    # R: crm(prior = c(0.05, 0.12, 0.25, 0.40, 0.55), target = 0.25, tox = tox,
    #        level = levels + 1, model = model, conf.level = conf)
    design = CRM(target=0.25, n_doses=5, skeleton=SKELETON, model=model, conf_level=conf)  # type: ignore[arg-type]
    n = np.bincount(levels, minlength=5)
    dlt = np.bincount(levels, weights=tox, minlength=5).astype(int)
    fit = design.posterior(n, dlt)
    est, post_var, ptox, lower, upper, _ = _dfcrm_crm(levels, tox, model, conf)
    assert fit.beta_mean == pytest.approx(est, abs=1e-6)
    assert fit.beta_var == pytest.approx(post_var, abs=1e-6)
    assert fit.p_hat == pytest.approx(ptox, abs=1e-6)
    assert fit.p_lower == pytest.approx(lower, abs=1e-6)
    assert fit.p_upper == pytest.approx(upper, abs=1e-6)
    assert all(lo < p < hi for lo, p, hi in zip(fit.p_lower, fit.p_hat, fit.p_upper, strict=True))


def test_tite_posterior_variance_uses_the_weights() -> None:
    design = TITECRM(target=0.25, n_doses=5, skeleton=SKELETON)
    complete = design.posterior([3, 3, 0, 0, 0], [0, 0, 0, 0, 0])
    partial = design.posterior([3, 3, 0, 0, 0], [0, 0, 0, 0, 0], [(1, 0.5), (1, 0.5), (1, 0.5)])
    # pending patients carry less information than complete ones: a wider posterior
    assert partial.beta_var > complete.beta_var


@pytest.mark.parametrize(("levels", "tox"), DATA)
def test_mtd_rule_dfcrm_is_crm_recommendation_over_all_doses(
    levels: list[int], tox: list[int]
) -> None:
    n = np.bincount(levels, minlength=5)
    dlt = np.bincount(levels, weights=tox, minlength=5).astype(int)
    dfcrm = CRM(target=0.25, n_doses=5, skeleton=SKELETON, mtd_rule="dfcrm", stop_threshold=None)
    treated = CRM(target=0.25, n_doses=5, skeleton=SKELETON, stop_threshold=None)
    expected = _dfcrm_crm(levels, tox, "empiric")[5]
    assert dfcrm.select_mtd(n, dlt) == expected
    assert treated.select_mtd(n, dlt) == min(expected, max(levels))


def test_mtd_rule_dfcrm_can_select_an_untreated_dose() -> None:
    # 0/3 at DL1 only: crm() recommends a higher dose nobody received
    dfcrm = CRM(target=0.25, n_doses=5, skeleton=SKELETON, mtd_rule="dfcrm")
    expected = _dfcrm_crm([0, 0, 0], [0, 0, 0], "empiric")[5]
    assert expected > 0
    assert dfcrm.select_mtd([3, 0, 0, 0, 0], [0, 0, 0, 0, 0]) == expected
    assert CRM(target=0.25, n_doses=5, skeleton=SKELETON).select_mtd([3, 0, 0, 0, 0], [0] * 5) == 0


def _crmsim_two_stage(x0: list[int], outcomes: list[list[int]], design: CRM) -> list[int]:
    """dfcrm onetrial() with a vector x0 and mcohort = cohort size, on given cohort outcomes.

    Stage 1 treats cohort m at x0[m] until a cohort has a DLT; then each cohort's dose is
    crm()'s recommendation, restricted to at most one level above the last dose and to no
    escalation after a last cohort with DLT fraction >= target (restrict = TRUE).
    """
    levels: list[int] = []
    tox: list[int] = []
    stage1 = True
    doses = []
    dose = x0[0]
    for m, cohort in enumerate(outcomes):
        if stage1:
            dose = x0[m]
        doses.append(dose)
        levels += [dose] * len(cohort)
        tox += cohort
        if stage1 and any(cohort):
            stage1 = False
        if not stage1:
            rec = _dfcrm_crm(levels, tox, "empiric")[5]
            if sum(cohort) / len(cohort) >= design.target:
                dose = min(rec, dose)
            else:
                dose = min(rec, dose + 1)
    return doses


def test_two_stage_start_follows_the_sequence_until_the_first_dlt() -> None:
    x0 = (0, 1, 2, 3, 4)
    design = CRM(target=0.25, n_doses=5, skeleton=SKELETON, initial_doses=x0, stop_threshold=None)
    outcomes = [[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]]
    expected = _crmsim_two_stage(list(x0), outcomes, design)
    n = np.zeros(5, dtype=int)
    dlt = np.zeros(5, dtype=int)
    current = design.start
    got = []
    for cohort in outcomes:
        got.append(current)
        n[current] += len(cohort)
        dlt[current] += sum(cohort)
        decision = design.decide(n, dlt, current, last_cohort=(len(cohort), sum(cohort)))
        assert decision.next_dose is not None
        current = decision.next_dose
    assert got == expected
    assert got[:3] == [0, 1, 2]  # the fixed sequence until the DLT in the third cohort


def test_initial_doses_are_checked() -> None:
    with pytest.raises(DesignError, match="starting dose"):
        CRM(target=0.25, n_doses=5, initial_doses=(1, 2))
    with pytest.raises(DesignError, match="never decrease"):
        CRM(target=0.25, n_doses=5, initial_doses=(0, 2, 1))
    with pytest.raises(DesignError, match="mtd_rule"):
        CRM(target=0.25, n_doses=5, mtd_rule="any")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "design",
    [
        CRM(target=0.25, n_doses=5, skeleton=SKELETON, mtd_rule="dfcrm", n_cohorts=8),
        CRM(target=0.25, n_doses=5, skeleton=SKELETON, initial_doses=(0, 0, 1, 2), n_cohorts=8),
        TITECRM(target=0.25, n_doses=5, skeleton=SKELETON, initial_doses=(0, 1, 2), n_cohorts=6),
    ],
)
def test_engine_matches_the_per_trial_loop_with_the_options(design: CRM) -> None:
    truth = (0.05, 0.10, 0.25, 0.40, 0.55)
    settings: dict[str, object] = {"accrual_rate": 2.0} if isinstance(design, TITECRM) else {}
    coherence = "last-cohort"
    plan = plan_simulation(design, truth, 5, keep_trials=True, coherence=coherence, **settings)  # type: ignore[arg-type]
    expected = reference_trials(plan, 60)
    tally, _ = simulate_range(plan, 0, 60)
    counts = np.bincount(
        [r.selected for r in expected if r.selected is not None], minlength=design.n_doses
    )
    assert tally.selected.tolist() == counts.tolist()
    assert tally.patients.tolist() == np.sum([r.n for r in expected], axis=0).tolist()


def test_dfcrm_rule_changes_the_selection_in_simulation() -> None:
    truth = (0.02, 0.04, 0.08, 0.15, 0.25)  # the MTD is the top dose: often not reached
    base = dict(target=0.25, n_doses=5, skeleton=SKELETON, n_cohorts=4)
    treated = simulate(CRM(**base), truth, 2000, seed=1)  # type: ignore[arg-type]
    dfcrm = simulate(CRM(**base, mtd_rule="dfcrm"), truth, 2000, seed=1)  # type: ignore[arg-type]
    assert dfcrm.selection_pct[4] > treated.selection_pct[4]
