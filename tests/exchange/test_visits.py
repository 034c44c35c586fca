"""Visits across the datasets: EX's and CM's VISITNUM/VISIT (SDTMIG v3.4 EX and CM assumptions:
timing variables may be added; AE carries none, docs/cdisc.md), and the ADaM analysis visits
AVISIT/AVISITN with their windows (ADaMIG v1.3 section 3.3.3). Expected windows are read off the
protocol file (src/cartrial/protocols/cldn18-pdl1-cart.yaml, schedule) and TV's numbers
(test_sdtm_domains)."""

from __future__ import annotations

import pandas as pd

from cartrial.exchange import check_datasets, dataset_spec

STUDY = "CLDN18-PDL1-CART-01"


def _subject(frame: pd.DataFrame, subject: str) -> pd.DataFrame:
    return frame.loc[frame["USUBJID"] == f"{STUDY}-{subject}"]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[object, ...]]:
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return [tuple(row) for row in values.itertuples(index=False)]


def test_ex_administrations_carry_the_visit_sv_puts_them_in(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    # protocol: Lymphodepletion on day -4 (window -1/+1: days -5 to -3, VISITNUM 2), Infusion on
    # day 0 (no window, VISITNUM 3); S01's doses on days -5, -4, -3 and its infusion on day 0
    ex = _subject(sdtm["EX"], "S01").sort_values("EXSEQ")
    assert _rows(ex, ["EXSTDY", "VISITNUM", "VISIT"]) == [
        (-5.0, 2.0, "Lymphodepletion"), (-5.0, 2.0, "Lymphodepletion"),
        (-4.0, 2.0, "Lymphodepletion"), (-4.0, 2.0, "Lymphodepletion"),
        (-3.0, 2.0, "Lymphodepletion"), (-3.0, 2.0, "Lymphodepletion"),
        (1.0, 3.0, "Infusion"),
    ]  # fmt: skip
    # visits agree across domains: every (subject, visit) of EX is a visit of SV
    sv = set(zip(sdtm["SV"]["USUBJID"], sdtm["SV"]["VISITNUM"], strict=True))
    assert set(zip(sdtm["EX"]["USUBJID"], sdtm["EX"]["VISITNUM"], strict=True)) <= sv


def test_cm_medications_carry_the_visit_of_the_daily_form(sdtm: dict[str, pd.DataFrame]) -> None:
    # S02's tocilizumab on day 2 and corticosteroids on day 3 were ticked on the daily CRS/ICANS
    # form of the visits "Day 2" and "Day 3" (no window; TV numbers 6 and 7: Day 1 = 4,
    # Kinetics day 1 = 5); S05's subsequent FOLFIRI (day 60) is no visit's record
    cm = _subject(sdtm["CM"], "S02").sort_values("CMSEQ")
    assert _rows(cm, ["CMTRT", "CMSTDY", "VISITNUM", "VISIT"]) == [
        ("TOCILIZUMAB", 3.0, 6.0, "Day 2"),
        ("CORTICOSTEROIDS", 4.0, 7.0, "Day 3"),
    ]
    assert _rows(_subject(sdtm["CM"], "S05"), ["CMTRT", "VISITNUM", "VISIT"]) == [
        ("FOLFIRI", None, None)
    ]
    sv = set(zip(sdtm["SV"]["USUBJID"], sdtm["SV"]["VISITNUM"], strict=True))
    given = sdtm["CM"].loc[sdtm["CM"]["VISITNUM"].notna()]
    assert set(zip(given["USUBJID"], given["VISITNUM"], strict=True)) <= sv


def test_ae_carries_no_visit() -> None:
    # SDTMIG v3.4: the AE specification lists no VISITNUM; an event's start date is its timing
    # (section 4.4), other timing variables "when appropriate" (AE assumption 5b), and cartrial
    # records an AE with its onset date, not the visit it was reported at (docs/cdisc.md)
    assert not {"VISITNUM", "VISIT"} & set(dataset_spec("AE").columns)
    for name in ("EX", "CM"):
        assert {"VISITNUM", "VISIT"} <= set(dataset_spec(name).columns), name


def test_adlb_analysis_visits_and_windows(adam: dict[str, pd.DataFrame]) -> None:
    # S01's labs on days -7, 3 and 10 (ADY -7, 4, 11): Screening (day -28, window +21: ADY -28
    # to -7), the daily visits "Day 3" and "Day 10" (no window); ADY has no day 0
    adlb = _subject(adam["ADLB"], "S01").sort_values("SRCSEQ")
    assert _rows(adlb, ["ADY", "AVISIT", "AVISITN", "AWTARGET", "AWLO", "AWHI", "AWU"]) == [
        (-7.0, "Screening", 1.0, -28.0, -28.0, -7.0, "DAYS"),
        (4.0, "Day 3", 7.0, 4.0, 4.0, 4.0, "DAYS"),
        (11.0, "Day 10", 17.0, 11.0, 11.0, 11.0, "DAYS"),
    ]


def test_analysis_visits_come_from_the_sdtm_visit(
    sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]
) -> None:
    for adam_name, sdtm_name in (("ADLB", "LB"), ("ADPC", "PC"), ("ADIS", "IS"), ("ADRS", "RS")):
        bds = adam[adam_name].loc[adam[adam_name]["SRCSEQ"].notna()]
        source = sdtm[sdtm_name]
        joined = bds.merge(
            source, left_on=["USUBJID", "SRCSEQ"], right_on=["USUBJID", f"{sdtm_name}SEQ"]
        )
        assert len(joined) == len(bds), adam_name
        same = (joined["AVISITN"] == joined["VISITNUM"]) | (
            joined["AVISITN"].isna() & joined["VISITNUM"].isna()
        )
        assert same.all() and (joined["AVISIT"].fillna("") == joined["VISIT"].fillna("")).all()
        inside = joined.loc[joined["AVISITN"].notna()]
        assert ((inside["ADY"] >= inside["AWLO"]) & (inside["ADY"] <= inside["AWHI"])).all()
    # ADPC S01 day 91 sample: Month 3 (day 91 +/- 7: ADY 85 to 99); day 182: Month 6 (+/- 14)
    adpc = _subject(adam["ADPC"], "S01").sort_values("ADY")
    assert _rows(adpc.tail(2), ["ADY", "AVISIT", "AWTARGET", "AWLO", "AWHI"]) == [
        (92.0, "Month 3", 92.0, 85.0, 99.0),
        (183.0, "Month 6", 183.0, 169.0, 197.0),
    ]
    # best responses are no visit's
    adrs = adam["ADRS"]
    assert adrs.loc[adrs["PARAMCD"].isin(["BOR", "UBOR"]), "AVISIT"].isna().all()
    # every time point is in a tumour visit but S06's "PR" dated 3 days before its infusion
    # (trial_builder), which no window holds
    ovr = adrs.loc[adrs["PARAMCD"] == "OVR"]
    assert list(ovr.loc[ovr["AVISIT"].isna(), "USUBJID"]) == [f"{STUDY}-S06"]
    assert ovr["AVISIT"].notna().sum() == 10


def test_visit_map_is_one_to_one_and_a_break_is_found(
    sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]
) -> None:
    assert [f for f in check_datasets({**adam}) if f.rule == "visit-map"] == []
    assert [f for f in check_datasets({**sdtm}) if f.rule == "visit-map"] == []
    adlb = adam["ADLB"].copy()
    adlb.loc[0, "AVISITN"] = 99.0  # "Screening" now numbered 1 and 99
    lb = sdtm["LB"].copy()
    lb.loc[0, "VISIT"] = None  # a number without its name
    found = [f for f in check_datasets({"ADLB": adlb, "LB": lb}) if f.rule == "visit-map"]
    assert {(f.dataset, f.variable, f.rows) for f in found} == {
        ("ADLB", "AVISIT", 1),
        ("LB", "VISIT", 1),
    }
