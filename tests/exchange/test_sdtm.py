"""SDTM datasets of the hand-made trial (tests/analysis/trial_builder.py): every expected value is
read off the builder's rows; the conventions are SDTMIG v3.4's (section cited per test)."""

from __future__ import annotations

import pandas as pd
import pytest

from cartrial.analysis import TrialData
from cartrial.exchange import check_datasets, dataset_spec

STUDY = "CLDN18-PDL1-CART-01"


def _subject(frame: pd.DataFrame, subject: str) -> pd.DataFrame:
    return frame.loc[frame["USUBJID"] == f"{STUDY}-{subject}"]


def test_every_dataset_has_exactly_its_metadata_variables(sdtm: dict[str, pd.DataFrame]) -> None:
    assert list(sdtm) == ["TS", "TA", "TE", "TV", "TD", "TI", "DM", "DS", "SV", "EX", "CM", "AE",
                          "SUPPAE", "IE", "LB", "FA", "VS", "TU", "TR", "RS", "IS", "PC", "PP",
                          "CP", "RELREC"]  # fmt: skip
    for name, frame in sdtm.items():
        assert tuple(frame.columns) == dataset_spec(name).columns, name


def test_the_datasets_pass_the_offline_conformance_rules(sdtm: dict[str, pd.DataFrame]) -> None:
    errors = [f for f in check_datasets(sdtm) if f.severity == "error"]
    assert errors == []


def test_dm_one_record_per_enrolled_subject_with_arm_by_dose_level_name(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    dm = sdtm["DM"].set_index("SUBJID")
    # the seven enrolled subjects, then the screen failure S08 (tests/exchange/records.py)
    assert list(dm.index) == ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"]
    # S01: infused 2025-01-06 at DL1 (2.5 x 10^8 in the protocol), alive
    assert dm.loc["S01", "RFSTDTC"] == dm.loc["S01", "RFXENDTC"] == "2025-01-06"
    assert (dm.loc["S01", "ARMCD"], dm.loc["S01", "ACTARMCD"]) == ("DL1", "DL1")
    assert dm.loc["S01", "ARM"] == "Escalation DL1: 2.5 x 10^8 CAR+ T cells"
    assert dm.loc["S01", "DTHFL"] is None and dm.loc["S01", "USUBJID"] == f"{STUDY}-S01"
    # S02 died on day 150 after 2025-01-20 -> 2025-06-19
    assert (dm.loc["S02", "DTHDTC"], dm.loc["S02", "DTHFL"]) == ("2025-06-19", "Y")
    # S07 enrolled, never infused: no arm, the reason instead (SDTMIG 3.4 5.2 ARMNRS)
    assert dm.loc["S07", "ARMCD"] is None and dm.loc["S07", "ARMNRS"] == "ASSIGNED, NOT TREATED"
    assert set(dm["COUNTRY"]) == {"CHN"}  # ISO 3166-1 alpha-3 of "CN"
    assert set(dm["AGEU"]) == {"YEARS"} and set(dm.loc[dm.index != "S08", "SEX"]) == {"F"}


def test_study_days_have_no_day_zero(sdtm: dict[str, pd.DataFrame]) -> None:
    # SDTMIG 3.4 4.4.4: day 1 = RFSTDTC; the day before is -1. S01's labs at trial days -7, 3, 10
    lb = _subject(sdtm["LB"], "S01")
    assert list(lb["LBDTC"]) == ["2024-12-30", "2025-01-09", "2025-01-16"]
    assert list(lb["LBDY"]) == [-7.0, 4.0, 11.0]
    assert list(lb["LBSEQ"]) == [1.0, 2.0, 3.0]


def test_lab_baseline_grade_and_si_units(sdtm: dict[str, pd.DataFrame]) -> None:
    lb = sdtm["LB"]
    s01 = _subject(lb, "S01")
    # the last result on or before the infusion day is the baseline; S04 has none before
    assert list(s01["LBBLFL"]) == ["Y", None, None]
    assert _subject(lb, "S04")["LBBLFL"].isna().all()
    # grade 4 neutrophils 0.3 x 10^9/L (trial_builder: grade 4 -> 0.3); 10^9/L is the SI unit
    row = s01.iloc[1]
    assert (row["LBTESTCD"], row["LBORRES"], row["LBSTRESN"], row["LBSTRESU"]) == (
        "NEUT", "0.3", 0.3, "10^9/L",
    )  # fmt: skip
    assert (row["LBTOX"], row["LBTOXGR"]) == ("Neutrophil count decreased", "4")
    assert s01.iloc[0]["LBTOX"] is None and s01.iloc[0]["LBTOXGR"] == "0"


def test_ae_sequence_grade_and_dlt_supplemental_qualifier(sdtm: dict[str, pd.DataFrame]) -> None:
    ae = _subject(sdtm["AE"], "S01").sort_values("AESEQ")
    # the file is sorted by its keys (AEDECOD first); AESEQ follows onset. S01's events by
    # onset day: Nausea -3, Neutrophil count decreased 3, Anemia 5, Nausea 10
    assert list(ae["AEDECOD"]) == ["Nausea", "Neutrophil count decreased", "Anemia", "Nausea"]
    assert list(ae["AESEQ"]) == [1.0, 2.0, 3.0, 4.0]
    assert list(ae["AESTDY"]) == [-3.0, 4.0, 6.0, 11.0]
    assert list(ae["AETOXGR"]) == ["1", "4", "2", "2"]
    assert list(ae["AEREL"]) == ["NOT RELATED", "PROBABLY RELATED", "PROBABLY RELATED",
                                 "NOT RELATED"]  # fmt: skip
    s02 = _subject(sdtm["AE"], "S02")
    crs = s02.loc[s02["AEDECOD"] == "Cytokine release syndrome"].iloc[0]
    assert (crs["AESER"], crs["AETOXGR"]) == ("Y", "3")
    supp = sdtm["SUPPAE"]
    assert len(supp) == len(sdtm["AE"])  # every event of the builder is adjudicated
    dlt = supp.loc[supp["QVAL"] == "Y"]
    assert list(dlt["USUBJID"]) == [f"{STUDY}-S02"]
    assert dlt.iloc[0]["IDVARVAL"] == str(int(crs["AESEQ"]))
    assert set(supp["QNAM"]) == {"AEDLT"} and set(supp["IDVAR"]) == {"AESEQ"}


def test_response_domains(sdtm: dict[str, pd.DataFrame]) -> None:
    rs = sdtm["RS"]
    overall = _subject(rs, "S01").loc[lambda f: f["RSTESTCD"] == "OVRLRESP"]
    assert list(overall["RSORRES"]) == ["PR", "PR", "PD"]
    assert list(overall["RSDY"]) == [43.0, 85.0, 127.0]
    # 11 post-baseline time points in the builder, each with four RS tests
    assert len(rs) == 11 * 4
    assert set(rs["RSCAT"]) == {"RECIST 1.1"}
    tr = sdtm["TR"]
    sums = _subject(tr, "S01").loc[lambda f: f["TRTESTCD"] == "SUMDIAM"]
    assert list(sums["TRSTRESN"]) == [100.0, 65.0, 60.0, 90.0]
    assert set(sums["TRSTRESU"]) == {"mm"}


def test_kinetics_below_lloq_is_blq(sdtm: dict[str, pd.DataFrame]) -> None:
    pc = _subject(sdtm["PC"], "S01")
    # S01's day-182 sample is missing (below the LLOQ of 10): BLQ, no numeric value
    last = pc.iloc[-1]
    assert (last["PCORRES"], last["PCSTRESC"]) == ("<10", "BLQ") and pd.isna(last["PCSTRESN"])
    assert pc.iloc[3]["PCSTRESN"] == 15000.0 and pc.iloc[3]["PCDY"] == 8.0
    assert set(pc["PCTESTCD"]) == {"CARTGENE"} and set(pc["PCLLOQ"]) == {10.0}


def test_immunogenicity_and_phenotype(sdtm: dict[str, pd.DataFrame]) -> None:
    is_ = _subject(sdtm["IS"], "S01")
    titer = is_.loc[is_["ISTESTCD"] == "CARABTIT"]
    assert list(titer["ISSTRESN"]) == [40.0] and list(titer["ISDY"]) == [29.0]
    assert list(is_.loc[is_["ISTESTCD"] == "CARABSCR", "ISORRES"]) == ["NEGATIVE", "POSITIVE"]
    cp = _subject(sdtm["CP"], "S01")
    ratio = cp.loc[cp["CPTESTCD"] == "CD4CD8"]
    assert list(ratio["CPSTRESN"]) == [1.5, 0.8] and set(ratio["CPORRESU"]) == {"RATIO"}


def test_trial_summary_from_the_protocol(sdtm: dict[str, pd.DataFrame], trial: TrialData) -> None:
    ts = sdtm["TS"].set_index(["TSPARMCD", "TSSEQ"])["TSVAL"]
    assert ts[("TITLE", 1)] == trial.protocol.study.title
    # 9 escalation + 20 expansion subjects planned
    assert ts[("PLANSUB", 1)] == "29"
    assert ts[("AGEMIN", 1)] == "P18Y" and ts[("AGEMAX", 1)] == "P75Y"
    assert [ts[("INDIC", i)] for i in (1, 2, 3)] == ["GASTRIC", "GEJ", "PANCREATIC"]


def test_cm_holds_the_crs_icans_medications(
    sdtm: dict[str, pd.DataFrame], trial: TrialData
) -> None:
    days = trial.crs_icans
    expected = int(days["tocilizumab"].astype(bool).sum() + days["steroids"].astype(bool).sum())
    cm = sdtm["CM"].loc[sdtm["CM"]["CMSCAT"] == "CRS/ICANS MANAGEMENT"]
    assert len(cm) == expected
    assert set(cm["CMTRT"]) <= {"TOCILIZUMAB", "CORTICOSTEROIDS"}


@pytest.mark.parametrize("name", ["AE", "LB", "TR", "RS", "PC"])
def test_sequence_numbers_are_unique_per_subject(sdtm: dict[str, pd.DataFrame], name: str) -> None:
    frame = sdtm[name]
    assert not frame.duplicated(["USUBJID", f"{name}SEQ"]).any()
