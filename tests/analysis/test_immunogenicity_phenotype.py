"""ADA classification (tiers and titer-fold rule) and phenotype summaries."""

from __future__ import annotations

from cartrial.analysis import TrialData
from cartrial.analysis.immunogenicity import ada_by_subject, ada_incidence, ada_over_time
from cartrial.analysis.phenotype import marker_group, phenotype_over_time
from cartrial.analysis.settings import AnalysisSettings


def test_ada_classes(trial: TrialData) -> None:
    classes = ada_by_subject(trial).set_index("subject_id")["ada_class"].to_dict()
    # S01 neg -> pos: induced; S02 20 -> 160 (8-fold >= 4): boosted; S04 40 -> 80 (2-fold):
    # pre-existing; S05 screen positive but not confirmed: negative; S03/S06 no post sample.
    assert classes == {
        "S01": "treatment-induced",
        "S02": "treatment-boosted",
        "S03": "not evaluable",
        "S04": "pre-existing",
        "S05": "negative",
        "S06": "not evaluable",
    }
    # With a 2-fold rule S04 becomes boosted.
    assert (
        ada_by_subject(trial, boost_fold=2).set_index("subject_id").loc["S04", "ada_class"]
        == "treatment-boosted"
    )


def test_ada_incidence_and_titers(trial: TrialData, settings: AnalysisSettings) -> None:
    total = ada_incidence(trial, settings).frame.set_index("dose_level").loc["Total"]
    # Treatment-emergent = induced + boosted = 2 of the 4 evaluable subjects (S01, S02, S04, S05).
    assert total["treatment-emergent"] == "2/4 (50.0%; 95% CI 6.8–93.2)"
    assert total["evaluable"] == 4
    over_time = ada_over_time(trial, settings).frame.set_index("nominal_day")
    # Day 28: S01 40, S02 160, S04 80 positive (S05 unconfirmed) -> median 80.
    assert over_time.loc[28, ["samples", "positive", "titer_median"]].tolist() == [4, 3, 80.0]


def test_phenotype_over_time(trial: TrialData, settings: AnalysisSettings) -> None:
    frame = phenotype_over_time(trial, settings).frame
    ratio = frame.loc[frame["marker"] == "cd4_cd8_ratio"].set_index("visit_day")
    # Day 7: S01 1.5, S04 2.5 -> median 2.0; day 28: 0.8, 1.2 -> 1.0.
    assert ratio.loc[7, "median"] == 2.0 and ratio.loc[28, "median"] == 1.0
    assert marker_group("PD1") == "exhaustion marker"
    assert marker_group("tscm") == "memory subset"
    assert marker_group("cd25") == "other"
