"""Dose transition pathways: the tree of the next cohorts, checked by replaying each path."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
from matplotlib.figure import Figure

from cartrial.designs import BOIN, CRM, ThreePlusThree
from cartrial.designs.pathways import PATHWAY_COLUMNS, dose_transition_pathways
from cartrial.designs.pathways_plot import plot_pathways
from cartrial.errors import DesignError


def test_every_node_is_the_designs_decision_on_the_replayed_data() -> None:
    design = BOIN(target=0.3, n_doses=4)
    table = dose_transition_pathways(design, n=[0] * 4, dlt=[0] * 4, current=0, cohorts=3)
    assert list(table.columns) == list(PATHWAY_COLUMNS)
    for row in table.itertuples(index=False):
        n, dlt, dose = [0] * 4, [0] * 4, 0
        for cohort, outcome in enumerate(row.path.split(), start=1):
            k = int(outcome.split("/")[0])
            n[dose] += 3
            dlt[dose] += k
            decision = design.decide(n, dlt, dose)
            if cohort < row.cohort:
                assert decision.next_dose is not None
                dose = decision.next_dose
        assert (row.dose, row.action) == (dose, decision.action)
        if decision.next_dose is None:
            assert pd.isna(row.next_dose)
        else:
            assert row.next_dose == decision.next_dose


def test_tree_shape_for_one_and_two_cohorts() -> None:
    # From the start of a BOIN trial at target 0.3: four outcomes of the first cohort; only 3/3
    # stops (dose 0 eliminated: Pr(p > 0.3 | 3/3) = 0.9919), so 3 x 4 second-cohort nodes.
    design = BOIN(target=0.3, n_doses=4)
    one = dose_transition_pathways(design, n=[0] * 4, dlt=[0] * 4, current=0, cohorts=1)
    assert one["path"].tolist() == ["0/3", "1/3", "2/3", "3/3"]
    assert one["next_dose"].tolist() == [1, 0, 0, pd.NA]
    two = dose_transition_pathways(design, n=[0] * 4, dlt=[0] * 4, current=0, cohorts=2)
    assert len(two) == 4 + 3 * 4


def test_three_plus_three_pathways_follow_the_rules() -> None:
    table = dose_transition_pathways(
        ThreePlusThree(n_doses=3), n=[0, 0, 0], dlt=[0, 0, 0], current=0, cohorts=2
    )
    by_path = table.set_index("path")
    assert by_path.loc["0/3", "next_dose"] == 1
    assert by_path.loc["1/3 0/3", "action"] == "escalate"  # 1/6 -> escalate
    assert by_path.loc["1/3 1/3", "action"] == "stop"  # 2/6 at the lowest dose


def test_stopped_design_gives_empty_table() -> None:
    design = BOIN(target=0.3, n_doses=2, n_cohorts=2)
    table = dose_transition_pathways(design, n=[3, 3], dlt=[0, 0], current=1)
    assert table.empty


def test_crm_pathways_and_cohort_size() -> None:
    design = CRM(target=0.25, n_doses=4, skeleton=(0.05, 0.12, 0.25, 0.4))
    table = dose_transition_pathways(
        design, n=[0] * 4, dlt=[0] * 4, current=0, cohorts=1, cohort_size=2
    )
    assert table["path"].tolist() == ["0/2", "1/2", "2/2"]


def test_bad_cohort_count() -> None:
    with pytest.raises(DesignError):
        dose_transition_pathways(
            BOIN(target=0.3, n_doses=3), n=[0] * 3, dlt=[0] * 3, current=0, cohorts=4
        )


def test_plot_returns_a_figure(tmp_path: object) -> None:
    table = dose_transition_pathways(
        BOIN(target=0.3, n_doses=3), n=[0] * 3, dlt=[0] * 3, current=0, cohorts=2
    )
    fig = plot_pathways(table, dose_labels=("DL-1", "DL1", "DL2"))
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "DL-1: 3 DLT -> stop" in texts
    with pytest.raises(DesignError):
        plot_pathways(pd.DataFrame({"path": []}))
