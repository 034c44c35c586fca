"""The SDTM domains IE, SV, TV, TA, TE, TI, TD, VS, RELREC and the lymphodepletion (EX) and
subsequent-therapy (CM) records, from the hand-made trial (tests/analysis/trial_builder.py plus
tests/exchange/records.py). Every expected row is written out from those files and the protocol
file (src/cartrial/protocols/cldn18-pdl1-cart.yaml), not from the builders; SDTMIG v3.4 sections
are cited per test."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cartrial.analysis import TABLE_COLUMNS, TrialData, empty_table
from cartrial.errors import ExchangeError
from cartrial.exchange import build_sdtm, check_datasets, dataset_spec, write_package
from cartrial.exchange.datasetjson import dataset_json, validate_dataset_json
from cartrial.exchange.define import DEFINE_NS, ODM_NS, define_problems, define_xml

STUDY = "CLDN18-PDL1-CART-01"
NEW = ("TA", "TE", "TV", "TD", "TI", "SV", "IE", "VS", "RELREC", "EX", "CM", "DM", "DS", "FA")


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[object, ...]]:
    """The rows of ``frame`` as tuples, NaN read as None (so that rows compare with ==)."""
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return [tuple(row) for row in values.itertuples(index=False)]


def _subject(frame: pd.DataFrame, subject: str) -> pd.DataFrame:
    return frame.loc[frame["USUBJID"] == f"{STUDY}-{subject}"]


def test_ti_lists_the_protocol_criteria_with_their_thresholds(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    # protocol eligibility: age 18-75, CLDN18.2 >= 40 % at >= 2+, ANC >= 1.0, ALT <= 2.5 x ULN
    ti = sdtm["TI"].set_index("IETESTCD")
    assert list(ti.index) == [f"INCL{i:02d}" for i in range(1, 15)]
    assert set(ti["IECAT"]) == {"INCLUSION"} and set(ti["TIVERS"]) == {"1.0"}
    assert ti.loc["INCL01", "IETEST"] == "Age 18 to 75 years"
    assert ti.loc["INCL02", "IETEST"] == (
        "Histologically confirmed adenocarcinoma: GASTRIC, GEJ, PANCREATIC"
    )
    assert ti.loc["INCL03", "IETEST"] == (
        "CLDN18.2 IHC: >= 40% of tumour cells with >= 2+ membrane staining"
    )
    assert ti.loc["INCL09", "IETEST"] == "Absolute neutrophil count >= 1 x 10^9/L"
    assert ti.loc["INCL13", "IETEST"] == "ALT <= 2.5 x ULN"


def test_ie_holds_only_the_criteria_not_met(sdtm: dict[str, pd.DataFrame]) -> None:
    # SDTMIG 3.4 6.3.4: IE holds the criteria not met. S01 met all 14; S08 failed age (80) and
    # ANC (0.8) on 2025-02-10 and was never infused (no study day).
    ie = sdtm["IE"]
    assert _rows(ie, ["USUBJID", "IESEQ", "IETESTCD", "IECAT", "IEORRES", "IESTRESC", "IEDTC",
                      "IEDY"]) == [
        (f"{STUDY}-S08", 1.0, "INCL01", "INCLUSION", "N", "N", "2025-02-10", None),
        (f"{STUDY}-S08", 2.0, "INCL09", "INCLUSION", "N", "N", "2025-02-10", None),
    ]  # fmt: skip
    assert list(ie["IETEST"]) == [
        "Age 18 to 75 years",
        "Absolute neutrophil count >= 1 x 10^9/L",
    ]


def test_screen_failure_in_dm_and_ds(sdtm: dict[str, pd.DataFrame]) -> None:
    # SDTMIG 3.4 5.2 DM: a screen failure has no arm, ARMNRS = SCREEN FAILURE
    dm = _subject(sdtm["DM"], "S08").iloc[0]
    assert dm["ARMCD"] is None and dm["ACTARMCD"] is None and dm["RFSTDTC"] is None
    assert (dm["ARMNRS"], dm["AGE"], dm["SEX"], dm["SITEID"]) == (
        "SCREEN FAILURE",
        80,
        "M",
        "SITE-1",
    )
    ds = _subject(sdtm["DS"], "S08")
    assert _rows(ds, ["DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSTDTC", "DSSTDY"]) == [
        (1.0, "SCREEN FAILURE", "SCREEN FAILURE", "DISPOSITION EVENT", "2025-02-10", None)
    ]


def test_ex_holds_each_lymphodepleting_dose_beside_the_infusion(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    # S01: infused 2025-01-06 at 2.5e8 cells; Flu 25 / Cy 250 mg/m2 on days -5, -4, -3
    # (2025-01-01 to 01-03, study days -5 to -3: no day 0 before RFSTDTC)
    ex = _subject(sdtm["EX"], "S01").sort_values("EXSEQ")
    columns = ["EXSEQ", "EXTRT", "EXCAT", "EXDOSE", "EXDOSU", "EXDOSFRM", "EXSTDTC", "EXSTDY"]
    ld = "LYMPHODEPLETING CHEMOTHERAPY"
    assert _rows(ex, columns) == [
        (1.0, "CYCLOPHOSPHAMIDE", ld, 250.0, "mg/m2", "INJECTION", "2025-01-01", -5.0),
        (2.0, "FLUDARABINE", ld, 25.0, "mg/m2", "INJECTION", "2025-01-01", -5.0),
        (3.0, "CYCLOPHOSPHAMIDE", ld, 250.0, "mg/m2", "INJECTION", "2025-01-02", -4.0),
        (4.0, "FLUDARABINE", ld, 25.0, "mg/m2", "INJECTION", "2025-01-02", -4.0),
        (5.0, "CYCLOPHOSPHAMIDE", ld, 250.0, "mg/m2", "INJECTION", "2025-01-03", -3.0),
        (6.0, "FLUDARABINE", ld, 25.0, "mg/m2", "INJECTION", "2025-01-03", -3.0),
        (7.0, "DUAL-TARGETING CLDN18.2 AND PD-L1 CAR-T CELLS", "CAR-T CELL INFUSION", 2.5e8,
         "CELLS", "SUSPENSION", "2025-01-06", 1.0),
    ]  # fmt: skip
    s02 = _subject(sdtm["EX"], "S02").sort_values("EXSEQ")
    assert _rows(s02, ["EXSEQ", "EXTRT", "EXSTDTC"]) == [
        (1.0, "FLUDARABINE", "2025-01-15"),
        (2.0, "DUAL-TARGETING CLDN18.2 AND PD-L1 CAR-T CELLS", "2025-01-20"),
    ]


def test_cm_separates_subsequent_therapy_from_crs_medications(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    # S05 started FOLFIRI on day 60 (2025-03-17 + 60 = 2025-05-16, study day 61);
    # S02 had tocilizumab on day 2 and corticosteroids on day 3 for CRS (trial_builder)
    assert _rows(_subject(sdtm["CM"], "S05"), ["CMTRT", "CMCAT", "CMSCAT", "CMSTDTC", "CMENDTC",
                                               "CMSTDY"]) == [
        ("FOLFIRI", "SUBSEQUENT ANTICANCER THERAPY", None, "2025-05-16", None, 61.0)
    ]  # fmt: skip
    s02 = _subject(sdtm["CM"], "S02").sort_values("CMSEQ")
    assert _rows(s02, ["CMSEQ", "CMTRT", "CMCAT", "CMSCAT", "CMINDC", "CMSTDTC"]) == [
        (1.0, "TOCILIZUMAB", "CONCOMITANT MEDICATION", "CRS/ICANS MANAGEMENT",
         "CYTOKINE RELEASE SYNDROME", "2025-01-22"),
        (2.0, "CORTICOSTEROIDS", "CONCOMITANT MEDICATION", "CRS/ICANS MANAGEMENT",
         "CYTOKINE RELEASE SYNDROME", "2025-01-23"),
    ]  # fmt: skip


def test_vs_holds_the_daily_temperatures(sdtm: dict[str, pd.DataFrame]) -> None:
    # records.py: S01 37.2 and 36.9 C on days 1 and 2 (2025-01-07/08, study days 2 and 3); no
    # measurement on or before the infusion day, hence no baseline flag; S04 has no temperature
    vs = sdtm["VS"]
    assert _rows(_subject(vs, "S01"), ["VSSEQ", "VSTESTCD", "VSTEST", "VSORRES", "VSORRESU",
                                       "VSSTRESN", "VSSTRESU", "VSBLFL", "VSDTC", "VSDY"]) == [
        (1.0, "TEMP", "Temperature", "37.2", "C", 37.2, "C", None, "2025-01-07", 2.0),
        (2.0, "TEMP", "Temperature", "36.9", "C", 36.9, "C", None, "2025-01-08", 3.0),
    ]  # fmt: skip
    assert list(_subject(vs, "S02")["VSSTRESN"]) == [38.4, 39.1, 39.5, 38.2, 37.0]
    assert _subject(vs, "S04").empty and len(vs) == 7


def test_tv_numbers_every_scheduled_visit(sdtm: dict[str, pd.DataFrame]) -> None:
    # protocol schedule: 14 written-out visits, daily days 1-14, kinetics days 1, 4, 7, 10,
    # tumour days 42-168 every 42 and 238-518 every 70: 14 + 14 + 4 + 4 + 5 = 41 visits,
    # numbered by nominal day then name; VISITDY has no day 0 (infusion = study day 1)
    tv = sdtm["TV"]
    assert len(tv) == 41 and list(tv["VISITNUM"]) == list(map(float, range(1, 42)))
    assert _rows(tv.head(6), ["VISITNUM", "VISIT", "VISITDY"]) == [
        (1.0, "Screening", -28.0),
        (2.0, "Lymphodepletion", -4.0),
        (3.0, "Infusion", 1.0),
        (4.0, "Day 1", 2.0),
        (5.0, "Kinetics day 1", 2.0),
        (6.0, "Day 2", 3.0),
    ]
    last = tv.iloc[-1]
    assert (last["VISIT"], last["VISITDY"], last["TVENRL"]) == (
        "End of follow-up (month 18)", 549.0, "Day 548 after the infusion",
    )  # fmt: skip
    assert tv.iloc[0]["TVSTRL"].startswith("Day -28 after the infusion (window -0/+21 days)")


def test_td_is_the_tumour_assessment_schedule(sdtm: dict[str, pd.DataFrame]) -> None:
    # protocol: scans every 42 days (window 7) on days 42-168 (4 scans), then every 70 days
    # (window 14) on days 238-518 (5 scans); the second series starts after day 168
    assert _rows(sdtm["TD"], ["TDORDER", "TDANCVAR", "TDSTOFF", "TDTGTPAI", "TDMINPAI",
                              "TDMAXPAI", "TDNUMRPT"]) == [
        (1.0, "RFSTDTC", "P0D", "P42D", "P35D", "P49D", 4.0),
        (2.0, "RFSTDTC", "P168D", "P70D", "P56D", "P84D", 5.0),
    ]  # fmt: skip


def test_ta_and_te_arms_and_elements(sdtm: dict[str, pd.DataFrame]) -> None:
    # four dose levels (DL-1, DL1, DL2, DL3), no expansion subject and no RP2D in the hand-made
    # trial: four escalation arms of four elements each
    ta = sdtm["TA"]
    assert list(ta["ARMCD"].unique()) == ["DL-1", "DL1", "DL2", "DL3"] and len(ta) == 16
    dl1 = ta.loc[ta["ARMCD"] == "DL1"]
    assert _rows(dl1, ["TAETORD", "ETCD", "EPOCH"]) == [
        (1.0, "SCRN", "SCREENING"),
        (2.0, "LD", "TREATMENT"),
        (3.0, "CARDL1", "TREATMENT"),
        (4.0, "FU", "FOLLOW-UP"),
    ]
    assert set(dl1["ARM"]) == {"Escalation DL1: 2.5 x 10^8 CAR+ T cells"}
    te = sdtm["TE"].set_index("ETCD")
    # sorted by its key ETCD
    assert list(te.index) == ["CARDL-1", "CARDL1", "CARDL2", "CARDL3", "FU", "LD", "SCRN"]
    # lymphodepletion days -5 to -3 (3 days); follow-up 548 days
    assert (te.loc["LD", "TEDUR"], te.loc["FU", "TEDUR"]) == ("P3D", "P548D")
    assert te.loc["LD", "TESTRL"] == (
        "First lymphodepleting dose: fludarabine 25 mg/m2 on days -5, -4, -3; "
        "cyclophosphamide 250 mg/m2 on days -5, -4, -3"
    )
    # every ARMCD of DM is an arm of TA (SDTMIG 3.4 7.2.1)
    assert set(sdtm["DM"]["ARMCD"].dropna()) <= set(ta["ARMCD"])


def test_expansion_subjects_have_the_expansion_arm(trial: TrialData) -> None:
    # S04 moved to the expansion: its arm is EXP-DL2, and TA gains the arm; ADSL keeps the dose
    subjects = trial.subjects.assign(
        phase=np.where(trial.subjects["subject_id"] == "S04", "expansion", "escalation")
    )
    sdtm = build_sdtm(dataclasses.replace(trial, subjects=subjects))
    dm = _subject(sdtm["DM"], "S04").iloc[0]
    assert (dm["ARMCD"], dm["ARM"]) == ("EXP-DL2", "Expansion DL2: 3.75 x 10^8 CAR+ T cells")
    assert list(sdtm["TA"]["ARMCD"].unique()) == ["DL-1", "DL1", "DL2", "DL3", "EXP-DL2"]


def _tiny_trial(trial: TrialData) -> TrialData:
    """S01 alone: screened day -28, Flu on days -5 and -4, infused 2025-01-06, labs on days -7,
    3 and 30, a CRS/ICANS day 1, a scan on day 45 and a kinetics sample on day 200."""
    day0 = pd.Timestamp("2025-01-06")

    def at(*days: int) -> list[pd.Timestamp]:
        return [day0 + pd.Timedelta(days=d) for d in days]

    empty = ("ada", "phenotype", "lesions")
    ld = {"day": [-5, -4], "agent": "fludarabine", "dose": 25.0, "unit": "mg/m2"}
    return dataclasses.replace(
        trial,
        **{name: empty_table(name) for name in empty},
        subjects=trial.subjects.loc[trial.subjects["subject_id"] == "S01"],
        screening=trial.screening.loc[trial.screening["subject_id"].isin(["S01", "S08"])],
        lymphodepletion=pd.DataFrame({"subject_id": "S01", "date": at(-5, -4), **ld}),
        labs=pd.DataFrame({"subject_id": "S01", "date": at(-7, 3, 30)}),
        crs_icans=pd.DataFrame({"subject_id": ["S01"], "date": at(1)}),
        tumour_timepoints=pd.DataFrame({"subject_id": ["S01"], "assessment_date": at(45)}),
        kinetics=pd.DataFrame({"subject_id": ["S01"], "date": at(200)}),
    )


def test_sv_places_dated_records_in_the_visit_windows(trial: TrialData) -> None:
    from cartrial.exchange.sdtm_subject import build_sv

    sv = build_sv(_tiny_trial(trial))
    # windows from the protocol: labs day -7 is in Screening (day -28, +21); labs day 3 in
    # "Day 3"; labs day 30 in "Day 28" (+/- 2); the scan on day 45 in "Tumour day 42" (+/- 7);
    # kinetics day 200 is after Month 6 (182 +/- 14): in no window, not a visit. VISITNUM by
    # day then name: Day 1 = 4, Day 3 = 7, Day 28 = 25, Tumour day 42 = 26 (TV above).
    assert _rows(sv, ["USUBJID", "VISITNUM", "VISIT", "VISITDY", "SVSTDTC", "SVENDTC", "SVSTDY",
                      "SVENDY"]) == [
        (f"{STUDY}-S01", 1.0, "Screening", -28.0, "2024-12-09", "2024-12-30", -28.0, -7.0),
        (f"{STUDY}-S01", 2.0, "Lymphodepletion", -4.0, "2025-01-01", "2025-01-02", -5.0, -4.0),
        (f"{STUDY}-S01", 3.0, "Infusion", 1.0, "2025-01-06", "2025-01-06", 1.0, 1.0),
        (f"{STUDY}-S01", 4.0, "Day 1", 2.0, "2025-01-07", "2025-01-07", 2.0, 2.0),
        (f"{STUDY}-S01", 7.0, "Day 3", 4.0, "2025-01-09", "2025-01-09", 4.0, 4.0),
        (f"{STUDY}-S01", 25.0, "Day 28", 29.0, "2025-02-05", "2025-02-05", 31.0, 31.0),
        (f"{STUDY}-S01", 26.0, "Tumour day 42", 43.0, "2025-02-20", "2025-02-20", 46.0, 46.0),
        (f"{STUDY}-S08", 1.0, "Screening", -28.0, "2025-02-10", "2025-02-10", None, None),
    ]  # fmt: skip


def test_fa_dlt_adjudication_and_its_relrec_link(sdtm: dict[str, pd.DataFrame]) -> None:
    # S02: CRS grade 3 DLT on day 2 (AESEQ 1), neutropenia (AESEQ 2, not a DLT). FA has 10 grade
    # records (CRS and ICANS on days 1-5), then the two adjudications dated when the 28-day DLT
    # window closed (2025-01-20 + 28 = 2025-02-17, study day 29)
    fa = _subject(sdtm["FA"], "S02")
    dlt = fa.loc[fa["FACAT"] == "DLT ADJUDICATION"].sort_values("FASEQ")
    assert _rows(dlt, ["FASEQ", "FALNKID", "FATESTCD", "FAOBJ", "FAORRES", "FAEVAL", "FADTC",
                       "FADY"]) == [
        (11.0, "AE05", "DLTIND", "CYTOKINE RELEASE SYNDROME", "Y", "INVESTIGATOR", "2025-02-17",
         29.0),
        (12.0, "AE06", "DLTIND", "NEUTROPHIL COUNT DECREASED", "N", "INVESTIGATOR", "2025-02-17",
         29.0),
    ]  # fmt: skip
    relrec = _subject(sdtm["RELREC"], "S02")
    assert sorted(_rows(relrec, ["RELID", "RDOMAIN", "IDVAR", "IDVARVAL"])) == [
        # the CRS AE and the two medications given during it (days 2 and 3, CM above)
        ("CRS-1", "AE", "AESEQ", "1"),
        ("CRS-1", "CM", "CMSEQ", "1"),
        ("CRS-1", "CM", "CMSEQ", "2"),
        ("DLT-1", "AE", "AESEQ", "1"),
        ("DLT-1", "FA", "FASEQ", "11"),
        ("DLT-2", "AE", "AESEQ", "2"),
        ("DLT-2", "FA", "FASEQ", "12"),
        # S02's transgene samples from day 0 on and the PP parameters computed from them
        ("PK-CARTGENE", "PC", "PCGRPID", "CARTGENE"),
        ("PK-CARTGENE", "PP", "PPGRPID", "CARTGENE"),
    ]
    # all 11 AEs of trial_builder carry an adjudication: 22 DLT rows, 3 CRS rows; the six
    # infused subjects' transgene profiles: 12 PK rows; TU is empty in the hand-made trial, so
    # no TU/TR dataset-level link
    assert len(sdtm["RELREC"]) == 37 and set(sdtm["RELREC"]["RELTYPE"].dropna()) == set()


def test_relrec_links_tu_and_tr_at_dataset_level(trial: TrialData) -> None:
    # SDTMIG 3.4 8.3: a dataset-level relationship has no USUBJID or IDVARVAL, RELTYPE ONE/MANY
    from cartrial.exchange.sdtm_subject import build_relrec

    sdtm = build_sdtm(trial)
    tu = pd.DataFrame({"USUBJID": [f"{STUDY}-S01"], "TULNKID": ["T01"]})
    relrec = build_relrec(trial, {**sdtm, "TU": tu})
    link = relrec.loc[relrec["RELID"] == "TUTR"]
    assert _rows(link, ["RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE"]) == [
        ("TR", None, "TRLNKID", None, "MANY"),
        ("TU", None, "TULNKID", None, "ONE"),
    ]


def test_the_new_domains_pass_the_conformance_rules(sdtm: dict[str, pd.DataFrame]) -> None:
    assert [f for f in check_datasets({n: sdtm[n] for n in NEW}) if f.severity == "error"] == []


def test_conformance_catches_broken_new_domains(sdtm: dict[str, pd.DataFrame]) -> None:
    ie = pd.concat([sdtm["IE"], sdtm["IE"].iloc[[0]]], ignore_index=True)  # IESEQ 1 twice
    ie.loc[0, "IECAT"] = "INCLUDED"  # not a term of the non-extensible IECAT (C66797)
    te = sdtm["TE"].copy()
    te.loc[0, "TEDUR"] = "3 days"  # not an ISO 8601 duration
    found = {(f.dataset, f.variable, f.rule) for f in check_datasets({"IE": ie, "TE": te})}
    assert {
        ("IE", "IESEQ", "seq"),
        ("IE", "IECAT", "codelist"),
        ("TE", "TEDUR", "iso8601"),
    } <= found


@pytest.fixture(scope="module")
def sdtm_xpt(trial: TrialData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdtm-xpt")
    write_package(trial, "sdtm", out, "xpt")
    return out


@pytest.mark.parametrize("name", ["TA", "TE", "TV", "TD", "TI", "SV", "IE", "VS", "RELREC", "EX"])
def test_xpt_v5_round_trip(sdtm_xpt: Path, sdtm: dict[str, pd.DataFrame], name: str) -> None:
    path = sdtm_xpt / f"{name.lower()}.xpt"
    spec = dataset_spec(name)
    data, meta = pyreadstat.read_xport(str(path))
    assert (meta.table_name, meta.file_label) == (name, spec.label)
    assert meta.column_names == list(spec.columns)
    assert meta.column_labels == [v.label for v in spec.variables]
    by_pandas = pd.read_sas(path, format="xport", encoding="ascii")
    assert list(by_pandas.columns) == list(spec.columns) and len(by_pandas) == len(sdtm[name])
    for variable in spec.variables:
        expected = sdtm[name][variable.name]
        if variable.type == "Num":
            assert np.allclose(data[variable.name], expected, equal_nan=True), variable.name
            assert np.allclose(by_pandas[variable.name], expected, equal_nan=True)
        else:
            assert list(data[variable.name]) == [v or "" for v in expected], variable.name


def test_dataset_json_of_the_new_domains_is_valid(sdtm: dict[str, pd.DataFrame]) -> None:
    created = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)
    for name in NEW:
        document = dataset_json(
            sdtm[name], dataset_spec(name), study_id=STUDY, created=created,
            data_cutoff=dt.date(2026, 1, 5),
        )  # fmt: skip
        assert validate_dataset_json(document) == [], name
        assert document["records"] == len(sdtm[name])


def test_define_describes_the_new_domains(sdtm: dict[str, pd.DataFrame]) -> None:
    root = define_xml(
        sdtm, study_id=STUDY, study_title="Study", fmt="xpt",
        created=dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC),
    )  # fmt: skip
    assert define_problems(root) == []
    ns = {"odm": ODM_NS, "def": DEFINE_NS}
    for name in NEW:
        group = root.find(f".//odm:ItemGroupDef[@Name='{name}']", ns)
        assert group is not None, name
        refs = [r.get("ItemOID") for r in group.findall("odm:ItemRef", ns)]
        assert refs == [f"IT.{name}.{v}" for v in dataset_spec(name).columns]
    ta = root.find(".//odm:ItemGroupDef[@Name='TA']", ns)
    assert ta.find("def:Class", ns).get("Name") == "TRIAL DESIGN"
    epoch = root.find(".//odm:ItemDef[@OID='IT.TA.EPOCH']", ns)
    assert epoch.find("odm:CodeListRef", ns).get("CodeListOID") == "CL.EPOCH"
    assert epoch.find("def:Origin", ns).get("Type") == "Protocol"
    terms = root.findall(".//odm:CodeList[@OID='CL.IECAT']/odm:CodeListItem", ns)
    assert [t.get("CodedValue") for t in terms] == ["INCLUSION", "EXCLUSION"]


def test_withdrawal_before_enrolment_is_not_assigned(trial: TrialData) -> None:
    # S09 met every criterion on 2025-02-12 and withdrew consent on 2025-02-14, never enrolled:
    # in DM with ARMNRS NOT ASSIGNED (ARMNULRS C142179), in DS as a withdrawal, not in IE
    extra = pd.DataFrame(
        {
            "subject_id": ["S09"], "site_id": "SITE-1", "country": "CN",
            "screened_date": [pd.Timestamp("2025-02-12")], "eligible": True, "age": 50,
            "sex": "F", "indication": "gej", "withdrawn_date": [pd.Timestamp("2025-02-14")],
        }
    )  # fmt: skip
    sdtm = build_sdtm(
        dataclasses.replace(trial, screening=pd.concat([trial.screening, extra], ignore_index=True))
    )
    dm = _subject(sdtm["DM"], "S09").iloc[0]
    assert (dm["ARMNRS"], dm["RFPENDTC"]) == ("NOT ASSIGNED", "2025-02-14")
    assert _rows(_subject(sdtm["DS"], "S09"), ["DSDECOD", "DSSTDTC"]) == [
        ("WITHDRAWAL BY SUBJECT", "2025-02-14")
    ]
    assert _subject(sdtm["IE"], "S09").empty


def test_a_criterion_without_a_ti_name_is_refused(trial: TrialData) -> None:
    broken = trial.eligibility.assign(
        criterion=trial.eligibility["criterion"].replace({"anc": "platelet_transfusion"})
    )
    with pytest.raises(ExchangeError, match=r"criteria\.csv: \['platelet_transfusion'\]"):
        build_sdtm(dataclasses.replace(trial, eligibility=broken))


def test_findings_carry_the_visit_of_their_window(sdtm: dict[str, pd.DataFrame]) -> None:
    # S01's labs on days -7, 3, 10: Screening (day -28, window +21), "Day 3", "Day 10" of the
    # daily series; its scans on days 42, 84, 126: the 6-weekly tumour visits. VISITNUM by day
    # then name (TV): Screening 1, Day 3 7, Day 10 17, Tumour day 42 26 (Day 28 is 25), Month 2
    # (day 56) 27, Tumour day 84 28, Month 3 (day 91) 29, Tumour day 126 30
    lb = _subject(sdtm["LB"], "S01").sort_values("LBSEQ")
    assert _rows(lb, ["VISITNUM", "VISIT", "LBDY"]) == [
        (1.0, "Screening", -7.0),
        (7.0, "Day 3", 4.0),
        (17.0, "Day 10", 11.0),
    ]
    rs = _subject(sdtm["RS"], "S01")
    overall = rs.loc[rs["RSTESTCD"] == "OVRLRESP"].sort_values("RSDTC")
    assert _rows(overall, ["VISITNUM", "VISIT"]) == [
        (26.0, "Tumour day 42"),
        (28.0, "Tumour day 84"),
        (30.0, "Tumour day 126"),
    ]
    # the DLT adjudication is no visit's record; the temperatures are the daily visits' (Day 1, 2)
    fa = sdtm["FA"]
    assert fa.loc[fa["FACAT"] == "DLT ADJUDICATION", "VISITNUM"].isna().all()
    assert list(_subject(sdtm["VS"], "S01")["VISIT"]) == ["Day 1", "Day 2"]


def test_a_trial_without_records_gives_the_design_and_empty_subject_datasets(
    trial: TrialData,
) -> None:
    # nothing recorded yet: the design domains come from the protocol alone (41 visits, 14
    # criteria, 2 tumour series); every subject dataset is empty with its full structure
    empty = dataclasses.replace(trial, **{name: empty_table(name) for name in TABLE_COLUMNS})
    sdtm = build_sdtm(empty)
    assert (len(sdtm["TV"]), len(sdtm["TI"]), len(sdtm["TD"])) == (41, 14, 2)
    for name in ("DM", "SV", "IE", "EX", "CM", "VS", "FA", "RELREC"):
        assert sdtm[name].empty and tuple(sdtm[name].columns) == dataset_spec(name).columns
