"""Bad input never crashes the report and is stated in plain words; no value is invented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from cartrial.analysis import TABLE_COLUMNS, TrialData, analyse_trial, empty_table
from cartrial.report import build_report


def test_empty_trial_gives_a_report_that_says_n_0(trial: TrialData, tmp_path: Path) -> None:
    empty = dataclasses.replace(trial, **{name: empty_table(name) for name in TABLE_COLUMNS})
    result = build_report(empty, tmp_path)
    page = result.html_path.read_text(encoding="utf-8")
    assert "The safety population has no subject (n = 0)." in page
    assert "No subject in the efficacy_evaluable population (n = 0): rates are NE." in page
    assert "Progression-free survival: no subject to analyse (n = 0), no curve." in page
    # only the disposition flow is drawn (all counts 0); every other figure says why not
    assert result.figures == ("Figure 14.1.1 Subject disposition (flow diagram)",)
    assert "MTD: not decided" in page  # no governance table: "not decided", never invented
    assert result.pdf_path is not None and result.pdf_path.stat().st_size > 0
    rates = pd.read_csv(tmp_path / "tables" / "response_rates.csv")
    assert (rates["n"] == 0).all() and rates["rate_pct"].isna().all()
    assert set(rates["summary"]) == {"0/0 (NE: no subjects)"}


def test_empty_efficacy_population(trial: TrialData) -> None:
    subjects = trial.subjects.assign(efficacy_evaluable=False)
    analysis = analyse_trial(dataclasses.replace(trial, subjects=subjects))
    rates = analysis.table("response_rates")
    evaluable = rates.frame.loc[rates.frame["population"] == "efficacy_evaluable"]
    assert (evaluable["n"] == 0).all() and evaluable["rate_pct"].isna().all()
    assert rates.notes == (
        "No subject in the efficacy_evaluable population (n = 0): rates are NE.",
    )
    # the infused-subjects rows are still computed (6 subjects)
    assert set(rates.frame.loc[rates.frame["population"] == "safety", "n"].head(1)) == {6}


def test_all_kinetics_below_lloq(trial: TrialData, tmp_path: Path) -> None:
    kinetics = trial.kinetics.assign(below_lloq=True, value=float("nan"))
    result = build_report(dataclasses.replace(trial, kinetics=kinetics), tmp_path, pdf=False)
    page = result.html_path.read_text(encoding="utf-8")
    assert "No quantifiable kinetics sample (all below the LLOQ or none): no curve." in page
    assert "6 subject(s) had every kinetics sample below the LLOQ (parameters NE)" in page
    nca = pd.read_csv(tmp_path / "tables" / "kinetics_nca.csv")
    assert nca[["cmax", "tmax_day", "clast", "tlast_day", "auc_0_28"]].isna().all().all()


def test_no_post_baseline_assessment_and_response_before_infusion(trial: TrialData) -> None:
    # Every subject's only response is dated on the infusion day: nothing counts, all NE.
    tps = trial.tumour_timepoints.copy()
    tps["day"] = 0
    tps["assessment_date"] = tps["subject_id"].map(
        trial.subjects.set_index("subject_id")["infusion_date"]
    )
    analysis = analyse_trial(dataclasses.replace(trial, tumour_timepoints=tps))
    bor = analysis.table("best_overall_response")
    counts = bor.frame.set_index("best overall response")["Total (N=5) n"]
    assert counts["NE"] == 5 and counts.drop("NE").sum() == 0
    assert any("dated on or before the infusion" in note for note in bor.notes)
    assert any("no post-baseline tumour assessment" in note for note in bor.notes)
    survival = analysis.table("survival_listing").frame.set_index("subject_id")
    # no PD can be documented: S01 (alive) censored at day 0, S03 death day 35 is still an event
    assert (survival.loc["S01", "pfs_days"], bool(survival.loc["S01", "pfs_event"])) == (0, False)
    assert (survival.loc["S03", "pfs_days"], bool(survival.loc["S03", "pfs_event"])) == (35, True)


def test_missing_ae_flags_are_not_counted_as_yes(trial: TrialData) -> None:
    # S03's serious anaemia loses its "serious" flag (None): serious AEs drop from 3 to 2
    # subjects (S02 and S04), nothing crashes.
    aes = trial.adverse_events.astype({"serious": object})
    aes.loc[(aes["subject_id"] == "S03") & (aes["term"] == "Anemia"), "serious"] = None
    overview = analyse_trial(dataclasses.replace(trial, adverse_events=aes)).table("ae_overview")
    assert overview.frame.set_index("category").loc["Serious AE", "Total (N=6) n"] == 2


def test_nullable_dtypes_give_the_same_tables(trial: TrialData, tmp_path: Path) -> None:
    # The services layer hands over pandas nullable types (Int64 days, boolean flags): the tables
    # must not change and nothing may crash (figures included).
    def nullable(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column in out.columns:
            if column in (
                "day",
                "grade",
                "crs_grade",
                "icans_grade",
                "dose_index",
                "next_dose_index",
            ):
                out[column] = out[column].astype("Int64")
            elif out[column].dtype == bool:
                out[column] = out[column].astype("boolean")
        return out

    names = ["subjects", "adverse_events", "labs", "crs_icans", "tumour_timepoints", "kinetics",
             "ada", "phenotype", "dose_decisions"]  # fmt: skip
    converted = dataclasses.replace(trial, **{n: nullable(getattr(trial, n)) for n in names})
    plain, from_nullable = analyse_trial(trial), analyse_trial(converted)
    for expected, got in zip(plain.tables(), from_nullable.tables(), strict=True):
        pd.testing.assert_frame_equal(
            got.frame, expected.frame, check_dtype=False, obj=expected.key
        )
    result = build_report(converted, tmp_path, pdf=False)
    assert len(result.figures) == 12
