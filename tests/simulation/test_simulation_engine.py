"""The vectorised engine against the per-trial reference loop, trial by trial (same seed).

Expected values here are not numbers from a paper: each vectorised trial must reproduce exactly
what the plain loop of ``cartrial.simulation.reference`` gets by calling the design's own
``decide`` and ``select_mtd`` on the same random numbers (issue 4, "Correctness").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartrial.designs import (
    BOIN,
    CRM,
    TITEBOIN,
    TITECRM,
    DecisionTableDesign,
    Design,
    Keyboard,
    ThreePlusThree,
    make_design,
)
from cartrial.errors import DesignError
from cartrial.simulation import DLTOnset, Expansion, simulate
from cartrial.simulation.engine import COHERENCE_RULES, plan_simulation, simulate_range
from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.reference import ReferenceTrial, reference_trials

TRUTH = (0.05, 0.12, 0.25, 0.40, 0.55)

# A protocol's own decision table (rows: patients treated; codes for 0, 1, ... DLTs), in the
# mTPI-2 style of reference section 5; it covers up to 9 patients at a dose.
OWN_TABLE = {
    1: "E D",
    2: "E S D",
    3: "E S D DU",
    4: "E S D DU DU",
    5: "E E D D DU DU",
    6: "E E S D DU DU DU",
    7: "E E S D D DU DU DU",
    8: "E E E S D D DU DU DU",
    9: "E E E S D D DU DU DU DU",
}

DESIGNS: dict[str, Design] = {
    "3+3": ThreePlusThree(n_doses=5),
    "3+3-no-deescalation": ThreePlusThree(n_doses=5, deescalation=False, declare_top_dose=False),
    "boin": BOIN(target=0.3, n_doses=5, n_cohorts=8),
    "boin-earlystop-extrasafe": BOIN(
        target=0.25, n_doses=5, n_cohorts=8, n_earlystop=9, extrasafe=True, start=1
    ),
    "boin-bound-mtd": BOIN(target=0.3, n_doses=5, n_cohorts=8, bound_mtd=True),
    "mtpi2": make_design("mtpi2", n_doses=5, target=0.3, n_cohorts=6),
    "keyboard": make_design("keyboard", n_doses=5, target=0.3, n_cohorts=6),
    # uneven margins: the incomplete key [0, 0.05] below the target key [0.1, 0.25] is kept
    # (partial="include", the default) and compensated for its width
    "keyboard-uneven": Keyboard(target=0.2, n_doses=5, eps1=0.1, n_cohorts=8),
    # target key [0.35, 0.5] and key [0.5, 0.65] mirror each other about 0.5: y = n/2 is a tie
    "keyboard-ties": Keyboard(target=0.4, n_doses=5, eps1=0.05, eps2=0.1, cohort_size=2),
    "i3+3": make_design("i3+3", n_doses=5, target=0.3, n_cohorts=8),
    "crm": CRM(target=0.25, n_doses=5, n_cohorts=8),
    "crm-ewoc-cohort1": CRM(
        target=0.25, n_doses=5, n_cohorts=12, cohort_size=1, ewoc_alpha=0.25, n_earlystop=6
    ),
    "tite-boin": TITEBOIN(target=0.3, n_doses=5, n_cohorts=8),
    "tite-boin-imputation": TITEBOIN(
        target=0.3,
        n_doses=5,
        n_cohorts=10,
        cohort_size=1,
        method="imputation",
        n_earlystop=6,
        min_complete_to_escalate=1,
    ),
    "tite-boin-extrasafe": TITEBOIN(
        target=0.25, n_doses=5, n_cohorts=8, extrasafe=True, offset=0.3, start=1
    ),
    "tite-crm": TITECRM(target=0.25, n_doses=5, n_cohorts=6),
    "tite-crm-adaptive": TITECRM(target=0.25, n_doses=5, n_cohorts=6, scheme="adaptive"),
    "table": DecisionTableDesign(target=0.3, n_doses=5, n_cohorts=3, table=OWN_TABLE),
}


def _compare(design: Design, n_trials: int, **settings: object) -> None:
    plan = plan_simulation(design, TRUTH, 7, keep_trials=True, **settings)  # type: ignore[arg-type]
    expected = reference_trials(plan, n_trials)
    tally, records = simulate_range(plan, 0, n_trials)
    assert records is not None
    for trial, ref in enumerate(expected):
        rows = records[records["trial"] == trial]
        got = list(
            zip(
                rows["phase"].astype(str),
                rows["dose"].astype(int),
                rows["n"].astype(int),
                rows["dlts"].astype(int),
                strict=True,
            )
        )
        assert got == list(ref.cohorts), f"trial {trial}"
    selected = [r.selected for r in expected]
    counts = np.bincount([s for s in selected if s is not None], minlength=design.n_doses)
    assert tally.selected.tolist() == counts.tolist()
    assert tally.selected_none == sum(s is None for s in selected)
    assert tally.patients.tolist() == np.sum([r.n for r in expected], axis=0).tolist()
    assert tally.dlts.tolist() == np.sum([r.dlt for r in expected], axis=0).tolist()
    assert tally.stopped_early == sum(r.stopped and r.selected is None for r in expected)
    assert sum(tally.duration_block_sums_days) == pytest.approx(
        sum(r.duration_days for r in expected), rel=1e-12
    )


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_engine_matches_reference_loop(name: str) -> None:
    design = DESIGNS[name]
    tite = name.startswith("tite")
    settings: dict[str, object] = {"accrual_rate": 2.5} if tite else {}
    if tite:
        settings["dlt_onset"] = DLTOnset("weibull", shape=2.0, scale_fraction=0.6)
    _compare(design, 120, **settings)


@pytest.mark.parametrize("name", ["tite-boin", "tite-crm", "tite-crm-adaptive"])
def test_engine_matches_reference_with_weibull_onset_per_dose(name: str) -> None:
    _compare(DESIGNS[name], 100, accrual_rate=3.0, dlt_onset=DLTOnset("weibull-per-dose"))


@pytest.mark.parametrize("name", ["3+3", "boin", "crm", "tite-boin"])
def test_engine_matches_reference_with_expansion_and_accrual(name: str) -> None:
    expansion = Expansion(n_patients=12, cohort_size=4, tox_limit=0.3, tox_threshold=0.8)
    _compare(DESIGNS[name], 80, accrual_rate=3.0, accrual="uniform", expansion=expansion)


@pytest.mark.parametrize("name", ["3+3", "boin", "crm", "i3+3"])
def test_engine_matches_reference_with_backfill(name: str) -> None:
    expansion = Expansion(n_patients=6, tox_limit=0.3)
    _compare(DESIGNS[name], 80, backfill=2, expansion=expansion)


def test_backfill_patients_count_and_sit_below_the_current_dose() -> None:
    design = DESIGNS["boin"]
    plain = simulate(design, TRUTH, 1000, seed=12, accrual_rate=2.0)
    filled = simulate(design, TRUTH, 1000, seed=12, accrual_rate=2.0, backfill=2, keep_trials=True)
    assert filled.trials is not None
    rows = filled.trials
    backfill = rows[rows["phase"] == "backfill"]
    assert len(backfill) > 0 and set(backfill["n"]) == {2}
    escalation = rows[rows["phase"] == "escalation"].set_index(["trial", "cohort"])["dose"]
    current = escalation.loc[list(zip(backfill["trial"], backfill["cohort"], strict=True))]
    assert (backfill["dose"].to_numpy() < current.to_numpy()).all()
    # BOIN's maximum sample size (24) counts backfill patients: a trial stops after the cohort
    # (3) and backfill (2) that reach it, so at most 23 + 5 = 28 patients, and in fewer cohorts.
    assert rows.groupby("trial")["n"].sum().max() <= 28
    assert filled.mean_total_patients > plain.mean_total_patients
    assert filled.mean_duration_months < plain.mean_duration_months
    assert filled.settings["backfill"].startswith("2 per cohort")


class _CustomTite(TITEBOIN):
    """A user's TITE design: the engine cannot assume TITE-BOIN's rules, so it calls decide."""


def test_unknown_tite_design_uses_its_own_decide_per_trial() -> None:
    design = _CustomTite(target=0.3, n_doses=5, n_cohorts=6, max_pending_fraction=0.4)
    _compare(design, 40, accrual_rate=4.0)


def _decision_states(trial: ReferenceTrial, n_doses: int) -> list[tuple[int, int]]:
    """``(patients, DLTs)`` at the current dose at each decision after an escalation cohort."""
    n, y, states = [0] * n_doses, [0] * n_doses, []
    for _, dose, size, dlts in trial.cohorts:
        n[dose] += size
        y[dose] += dlts
        states.append((n[dose], y[dose]))
    return states


def test_keyboard_ties_are_reached_and_decided_as_the_design_does() -> None:
    # The engine-vs-loop comparison above covers these trials; here: they do meet ties. With 2
    # DLTs in 4 (or y = n/2 generally) the posterior Beta(1 + y, 1 + y) is symmetric about 0.5,
    # so the target key [0.35, 0.5] and the key [0.5, 0.65] hold the same, largest mass; the
    # design breaks the tie to the higher key (Keyboard package get.boundary.kb): de-escalate.
    design = DESIGNS["keyboard-ties"]
    assert isinstance(design, Keyboard)
    trials = reference_trials(plan_simulation(design, TRUTH, 7), 120)
    ties = [
        (m, k)
        for trial in trials
        for m, k in _decision_states(trial, design.n_doses)
        if m == 2 * k and k > 0
    ]
    assert len(ties) >= 20
    table = IntervalKernel(design, 20)
    assert {int(table.rule[m, k]) for m, k in ties} == {2}  # 2 = de-escalate
    assert all(design.rule(m, k) == "D" for m, k in set(ties))


def test_keyboard_uneven_margins_escalate_through_the_incomplete_key() -> None:
    # Target 0.2, eps1 0.1: the only key below the target key is the incomplete [0, 0.05].
    # Dropping it ("full keys only") leaves no escalation key, so every patient stays at the
    # start dose; the default keeps it, and trials climb above the start dose.
    truth = (0.02, 0.05, 0.1, 0.2, 0.4)
    kept = simulate(DESIGNS["keyboard-uneven"], truth, 500, seed=3)
    dropped = simulate(
        Keyboard(target=0.2, n_doses=5, eps1=0.1, n_cohorts=8, partial="drop"), truth, 500, seed=3
    )
    assert dropped.mean_patients[1:] == (0.0, 0.0, 0.0, 0.0)
    assert sum(kept.mean_patients[2:]) > 10.0


class _CustomCRM(CRM):
    """A user's CRM subclass: the engine calls its own decide once per state (MemoKernel)."""


class _CustomTiteCRM(TITECRM):
    """A user's TITE-CRM subclass: the engine calls its own decide per trial and decision."""


# TITE-CRM in cohorts of 2 with early DLTs: the last cohort's observed DLTs often decide
# differently from all patients at the dose (about 20 of 100 trials differ under TRUTH).
_TITE_SETTINGS: dict[str, object] = {
    "accrual_rate": 2.5,
    "dlt_onset": DLTOnset("weibull", shape=1.0, scale_fraction=0.2),
}
LAST_COHORT: dict[str, tuple[Design, dict[str, object]]] = {
    "crm": (DESIGNS["crm"], {}),
    "crm-cohort1-ewoc": (DESIGNS["crm-ewoc-cohort1"], {}),
    "crm-backfill": (DESIGNS["crm"], {"backfill": 2}),
    "crm-subclass": (_CustomCRM(target=0.25, n_doses=5, n_cohorts=8), {}),
    "tite-crm": (
        TITECRM(target=0.25, n_doses=5, n_cohorts=9, cohort_size=2),
        _TITE_SETTINGS,
    ),
    "tite-crm-subclass": (
        _CustomTiteCRM(target=0.25, n_doses=5, n_cohorts=9, cohort_size=2),
        _TITE_SETTINGS,
    ),
}


@pytest.mark.parametrize("name", sorted(LAST_COHORT))
def test_last_cohort_coherence_matches_reference_loop(name: str) -> None:
    design, settings = LAST_COHORT[name]
    _compare(design, 100, coherence="last-cohort", **settings)


@pytest.mark.parametrize("name", ["crm", "tite-crm"])
def test_last_cohort_coherence_changes_decisions(name: str) -> None:
    # 1 DLT in a cohort of 3 (0.33 >= target 0.25) blocks escalation under "last-cohort" even
    # when the dose's DLT rate over all its patients (e.g. 1/6) is below the target.
    design, settings = LAST_COHORT[name]
    runs = {
        rule: simulate(design, TRUTH, 300, seed=5, keep_trials=True, coherence=rule, **settings)
        for rule in COHERENCE_RULES
    }
    trials = {rule: result.trials for rule, result in runs.items()}
    assert trials["all-patients"] is not None and trials["last-cohort"] is not None
    assert not trials["all-patients"].equals(trials["last-cohort"])
    assert runs["last-cohort"].settings["coherence"].startswith("last-cohort")
    assert runs["all-patients"].settings["coherence"].startswith("all-patients")


def test_a_table_that_stops_short_is_an_error_when_reached() -> None:
    short = DecisionTableDesign(target=0.3, n_doses=2, n_cohorts=6, table=OWN_TABLE)
    # 18 patients over two doses: some dose reaches 10 treated, beyond the table
    with pytest.raises(DesignError, match=r"no row for 1[0-9] patients"):
        simulate(short, [0.01, 0.02], 50, seed=1)


def test_result_does_not_depend_on_chunk_size() -> None:
    design = DESIGNS["boin"]
    one = simulate(design, TRUTH, 5000, seed=11, chunk_size=5000, keep_trials=True)
    many = simulate(design, TRUTH, 5000, seed=11, chunk_size=1, keep_trials=True)
    assert one == many
    assert one.trials is not None and many.trials is not None
    pd.testing.assert_frame_equal(one.trials, many.trials)


def test_first_trials_do_not_depend_on_how_many_follow() -> None:
    design = DESIGNS["crm"]
    short = simulate(design, TRUTH, 30, seed=3, keep_trials=True).trials
    long = simulate(design, TRUTH, 2100, seed=3, keep_trials=True).trials
    assert short is not None and long is not None
    pd.testing.assert_frame_equal(short, long[long["trial"] < 30].reset_index(drop=True))


def test_different_seeds_give_different_trials() -> None:
    a = simulate(DESIGNS["boin"], TRUTH, 2000, seed=1)
    b = simulate(DESIGNS["boin"], TRUTH, 2000, seed=2)
    assert a.selection_pct != b.selection_pct


def test_result_totals_are_consistent() -> None:
    result = simulate(DESIGNS["boin"], TRUTH, 4000, seed=5)
    assert sum(result.selection_pct) + result.selection_none_pct == pytest.approx(100.0)
    # BOIN with 8 cohorts of 3 treats 24 patients unless it stops early for safety.
    assert result.mean_total_patients <= 24.0 + 1e-9  # a sum of per-dose means: float rounding
    assert result.mean_total_patients > 23.0
    assert result.early_stop_pct <= result.selection_none_pct
    # Instantaneous accrual: no time scale, so no duration is reported.
    assert result.mean_duration_months is None
    frame = result.to_frame()
    assert list(frame["dose"]) == ["DL1", "DL2", "DL3", "DL4", "DL5", "none"]
    assert frame.attrs["mean_total_patients"] == pytest.approx(result.mean_total_patients)


def test_expansion_patients_count_in_n_and_duration() -> None:
    base = simulate(DESIGNS["boin"], TRUTH, 2000, seed=9, accrual_rate=2.0)
    expanded = simulate(
        DESIGNS["boin"], TRUTH, 2000, seed=9, accrual_rate=2.0, expansion=Expansion(n_patients=20)
    )
    # Every trial that selected a dose adds exactly 20 patients without monitoring.
    expected_extra = 20 * (100.0 - base.selection_none_pct) / 100.0
    assert expanded.mean_expansion_patients == pytest.approx(expected_extra)
    assert expanded.mean_total_patients == pytest.approx(base.mean_total_patients + expected_extra)
    assert expanded.mean_duration_months > base.mean_duration_months


def test_kept_trials_have_one_row_per_cohort() -> None:
    result = simulate(DESIGNS["3+3"], TRUTH, 50, seed=4, keep_trials=True)
    assert result.trials is not None
    assert list(result.trials.columns) == [
        "trial",
        "phase",
        "cohort",
        "dose",
        "n",
        "dlts",
        "start_day",
    ]
    assert result.trials["trial"].nunique() == 50
    assert result.trials.groupby("trial")["n"].sum().mean() == pytest.approx(
        result.mean_total_patients
    )
    assert simulate(DESIGNS["3+3"], TRUTH, 50, seed=4).trials is None


def test_tite_trials_take_longer_with_slower_accrual() -> None:
    fast = simulate(DESIGNS["tite-boin"], TRUTH, 1000, seed=2, accrual_rate=6.0)
    slow = simulate(DESIGNS["tite-boin"], TRUTH, 1000, seed=2, accrual_rate=1.0)
    assert slow.mean_duration_months > fast.mean_duration_months
