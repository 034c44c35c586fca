"""ADaM datasets: structure, traceability to SDTM, and the report's figures recomputed from them.

The recomputation test is the issue's acceptance check: ORR and DCR counted from ADRS, Kaplan-Meier
medians fitted to ADTTE's AVAL/CNSR alone, and subject counts of ADAE equal what the report's
analysis functions give for the same data.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cartrial.analysis import TrialData, analysis_settings
from cartrial.analysis.efficacy import response_rates
from cartrial.analysis.response import best_overall_response
from cartrial.analysis.safety import ae_overview
from cartrial.analysis.survival import kaplan_meier, survival_tables
from cartrial.exchange import check_datasets, dataset_spec
from cartrial.exchange.adam import POPULATION_FLAGS

STUDY = "CLDN18-PDL1-CART-01"


def test_adam_structure_and_conformance(adam: dict[str, pd.DataFrame]) -> None:
    assert list(adam) == ["ADSL", "ADAE", "ADLB", "ADRS", "ADTTE", "ADPC", "ADPP", "ADIS"]
    for name, frame in adam.items():
        assert tuple(frame.columns) == dataset_spec(name).columns, name
    assert [f for f in check_datasets(adam) if f.severity == "error"] == []


def test_adsl_populations_and_dates(adam: dict[str, pd.DataFrame]) -> None:
    adsl = adam["ADSL"].set_index("SUBJID")
    # trial_builder: S01-S06 infused, S06 not DLT/efficacy evaluable, S07 never infused
    assert list(adsl["SAFFL"]) == ["Y"] * 6 + ["N"]
    assert list(adsl["EFFFL"]) == ["Y"] * 5 + ["N", "N"]
    assert list(adsl["ENRLFL"]) == ["Y"] * 7
    # SAS dates: 2025-01-06 is 23747 days after 1960-01-01 (SAS date value)
    assert (
        adsl.loc["S01", "TRTSDT"]
        == (pd.Timestamp("2025-01-06") - pd.Timestamp("1960-01-01")).days
        == 23747
    )
    assert adsl.loc["S01", "TRT01A"] == "DL1" and adsl.loc["S04", "TRT01AN"] == 3  # DL-1, DL1, DL2
    assert (
        adsl.loc["S07", "TRT01P"] == "ASSIGNED, NOT TREATED" and adsl.loc["S07", "TRT01A"] is None
    )
    # S02 died day 150: last known alive = death date
    assert adsl.loc["S02", "LSTALVDT"] == adsl.loc["S02", "DTHDT"]


def test_adlb_baseline_change_and_shift(adam: dict[str, pd.DataFrame]) -> None:
    adlb = adam["ADLB"]
    s01 = adlb.loc[adlb["USUBJID"] == f"{STUDY}-S01"]
    # neutrophils 2.0 (baseline, grade 0), 0.3 (grade 4), 1.2 (grade 2)
    assert list(s01["BASE"]) == [2.0, 2.0, 2.0]
    assert s01["CHG"].round(6).tolist()[1:] == [-1.7, -0.8] and math.isnan(s01["CHG"].iloc[0])
    assert list(s01["SHIFT1"])[1:] == ["0 to 4", "0 to 2"]
    assert list(s01["SRCSEQ"]) == [1.0, 2.0, 3.0] and set(s01["SRCDOM"]) == {"LB"}


def test_orr_and_dcr_from_adrs_equal_the_report(
    trial: TrialData, adam: dict[str, pd.DataFrame]
) -> None:
    settings = analysis_settings(trial.protocol)
    table = response_rates(trial, settings, best_overall_response(trial, settings)).frame
    name = settings.population_for("orr", "efficacy_evaluable")
    report = table.loc[(table["population"] == name) & (table["subgroup"] == "overall")].set_index(
        "endpoint"
    )
    adsl = adam["ADSL"]
    members = adsl.loc[adsl[_flag(name)] == "Y", "USUBJID"]
    bor = adam["ADRS"].loc[lambda f: (f["PARAMCD"] == "BOR") & f["USUBJID"].isin(members)]
    assert len(bor) == report.loc["ORR (CR+PR)", "n"]
    assert bor["AVALC"].isin(["CR", "PR"]).sum() == report.loc["ORR (CR+PR)", "responders"] == 2
    control = bor["AVALC"].isin(["CR", "PR", "SD", "NON-CR/NON-PD"]).sum()
    assert control == report.loc["DCR (CR+PR+SD)", "responders"]


def _flag(population: str) -> str:
    return {name: flag for flag, name in POPULATION_FLAGS.items()}[population]


@pytest.mark.parametrize("endpoint", ["PFS", "OS", "DOR"])
def test_kaplan_meier_medians_from_adtte_equal_the_report(
    trial: TrialData, adam: dict[str, pd.DataFrame], endpoint: str
) -> None:
    settings = analysis_settings(trial.protocol)
    curves = survival_tables(trial, settings, best_overall_response(trial, settings))[3]
    curve = curves[endpoint.lower()]
    name = settings.population_for(endpoint.lower(), "safety")
    adsl = adam["ADSL"]
    members = adsl.loc[adsl[_flag(name)] == "Y", "USUBJID"]
    rows = adam["ADTTE"].loc[lambda f: (f["PARAMCD"] == endpoint) & f["USUBJID"].isin(members)]
    assert len(rows) == curve.n
    assert int((rows["CNSR"] == 0).sum()) == curve.events
    refit = kaplan_meier(rows["AVAL"], rows["CNSR"] == 0, endpoint)
    for field in ("median_days", "median_lower_days", "median_upper_days", "rate_6m", "rate_12m"):
        ours, report = getattr(refit, field), getattr(curve, field)
        assert (math.isnan(ours) and math.isnan(report)) or ours == report, field


def test_safety_counts_from_adae_equal_the_report(
    trial: TrialData, adam: dict[str, pd.DataFrame]
) -> None:
    settings = analysis_settings(trial.protocol)
    overview = ae_overview(trial, settings).frame.set_index("category")
    total = next(c for c in overview.columns if c.startswith("Total") and c.endswith(" n"))
    adae = adam["ADAE"]
    te = adae.loc[(adae["TRTEMFL"] == "Y") & (adae["SAFFL"] == "Y")]
    checks = {
        "Any treatment-emergent AE": te,
        "Grade ≥ 3 AE": te.loc[te["ATOXGRN"] >= 3],
        "Serious AE": te.loc[te["AESER"] == "Y"],
        "Dose-limiting toxicity": te.loc[te["DLTFL"] == "Y"],
    }
    for category, rows in checks.items():
        assert rows["USUBJID"].nunique() == overview.loc[category, total], category
    # trial_builder: S06's nausea on day -10 precedes lymphodepletion (day -5): not emergent
    s06 = adae.loc[adae["USUBJID"] == f"{STUDY}-S06"]
    assert list(s06["TRTEMFL"]) == ["N"]


def test_worst_grade_flags(adam: dict[str, pd.DataFrame]) -> None:
    adae = adam["ADAE"]
    s01 = adae.loc[adae["USUBJID"] == f"{STUDY}-S01"].set_index("AESEQ")
    # S01: grade 4 neutrophil count decreased (AESEQ 2) is the worst; nausea's worst is grade 2
    assert s01["AOCCIFL"].eq("Y").sum() == 1 and s01.loc[2.0, "AOCCIFL"] == "Y"
    assert s01.loc[4.0, "AOCCPIFL"] == "Y" and s01.loc[1.0, "AOCCPIFL"] is None


def test_adpc_adpp_and_adis(adam: dict[str, pd.DataFrame], sdtm: dict[str, pd.DataFrame]) -> None:
    adpc = adam["ADPC"]
    assert len(adpc) == len(sdtm["PC"]) and list(adpc["SRCSEQ"]) == list(sdtm["PC"]["PCSEQ"])
    blq = adpc.loc[adpc["BLQFL"] == "Y"]
    assert (blq.loc[blq["AFRLT"] >= 0, "AVAL"] == 0).all()
    adpp = adam["ADPP"].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    # cart-kinetics NCA test case (trial_builder S01): Cmax 15000 at day 7
    assert adpp[(f"{STUDY}-S01", "CMAXG")] == 15000.0
    assert adpp[(f"{STUDY}-S01", "TMAXG")] == 7.0
    assert len(adam["ADIS"]) == len(sdtm["IS"])
