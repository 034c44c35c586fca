"""SDTM PP (SDTMIG v3.4 PP domain) from cartrial's NCA, its links to PC and ADPP, and its
files: the values equal the analysis layer's NCA, and S01's Cmax, Tmax and AUCs are recomputed
here by hand from the samples of tests/analysis/trial_builder.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cartrial.analysis import TrialData, analysis_settings
from cartrial.analysis.kinetics import nca
from cartrial.exchange import build_sdtm, check_datasets, dataset_spec, write_package
from cartrial.exchange.datasetjson import dataset_json, validate_dataset_json
from cartrial.exchange.define import DEFINE_NS, ODM_NS, define_problems, define_xml

STUDY = "CLDN18-PDL1-CART-01"
NS = {"odm": ODM_NS, "def": DEFINE_NS}
#: nca()'s column of each PPTESTCD (data/cdisc/pk_parameters.csv, written out here).
COLUMNS = {"CMAX": "cmax", "TMAX": "tmax_day", "CLST": "clast", "TLST": "tlast_day",
           "AUCLST": "auc_last", "AUCALL": "auc_all", "AUCINT": "auc_0_28"}  # fmt: skip


def _subject(frame: pd.DataFrame, subject: str) -> pd.DataFrame:
    return frame.loc[frame["USUBJID"] == f"{STUDY}-{subject}"]


def test_pp_values_equal_the_analysis_layers_nca(
    trial: TrialData, sdtm: dict[str, pd.DataFrame]
) -> None:
    parameters = nca(trial, analysis_settings(trial.protocol))
    pp = sdtm["PP"]
    # six infused subjects with samples (S01-S06), seven parameters each, one analyte
    assert len(pp) == len(parameters) * len(COLUMNS) == 6 * 7
    for row in parameters.itertuples(index=False):
        mine = _subject(pp, row.subject_id).set_index("PPTESTCD")
        for code, column in COLUMNS.items():
            expected = getattr(row, column)
            got = mine.loc[code]
            if math.isnan(expected):
                assert got["PPSTAT"] == "NOT DONE" and math.isnan(got["PPSTRESN"]), (row, code)
            else:
                assert got["PPSTRESN"] == expected and got["PPSTAT"] is None, (row, code)
                assert float(got["PPORRES"]) == expected  # the shortest text that reads back


def test_s01_cmax_tmax_and_aucs_by_hand(sdtm: dict[str, pd.DataFrame]) -> None:
    # trial_builder S01 (cart-kinetics.md section 2 NCA test case): days 0, 1, 4, 7, 10, 14, 21,
    # 28, 91, 182 at 0 (< LLOQ 10: 0 before the first quantifiable sample), 50, 2000, 15000,
    # 12000, 4000, 900, 300, 120 and < LLOQ. Cmax is the highest level, Tmax its day.
    pp = _subject(sdtm["PP"], "S01").set_index("PPTESTCD")["PPSTRESN"]
    assert (pp["CMAX"], pp["TMAX"], pp["CLST"], pp["TLST"]) == (15000.0, 7.0, 120.0, 91.0)

    # linear-up / log-down trapezoid (PKNCA "lin up/log down"): a rising segment (t2-t1)(C1+C2)/2,
    # a falling one between positive levels (t2-t1)(C1-C2)/ln(C1/C2)
    def up(t1: float, c1: float, t2: float, c2: float) -> float:
        return (t2 - t1) * (c1 + c2) / 2

    def down(t1: float, c1: float, t2: float, c2: float) -> float:
        return (t2 - t1) * (c1 - c2) / math.log(c1 / c2)

    auc_0_28 = (
        up(0, 0, 1, 50) + up(1, 50, 4, 2000) + up(4, 2000, 7, 15000)  # 25 + 3075 + 25500
        + down(7, 15000, 10, 12000) + down(10, 12000, 14, 4000) + down(14, 4000, 21, 900)
        + down(21, 900, 28, 300)
    )  # fmt: skip
    auc_last = auc_0_28 + down(28, 300, 91, 120)
    auc_all = auc_last + up(91, 120, 182, 0)  # the BLQ after Tlast counts as 0 (AUCall only)
    assert pp["AUCINT"] == pytest.approx(auc_0_28, rel=1e-12)
    assert pp["AUCLST"] == pytest.approx(auc_last, rel=1e-12)
    assert pp["AUCALL"] == pytest.approx(auc_all, rel=1e-12)
    assert round(auc_0_28, 2) == 116431.04 and round(auc_all - auc_last, 6) == 5460.0


def test_pp_records_follow_sdtmig_3_4(sdtm: dict[str, pd.DataFrame]) -> None:
    s01 = _subject(sdtm["PP"], "S01").sort_values("PPSEQ")
    # PKPARMCD / PKPARM terms (CDISC CT), in data/cdisc/pk_parameters.csv order
    assert list(s01["PPTESTCD"]) == ["CMAX", "TMAX", "CLST", "TLST", "AUCLST", "AUCALL", "AUCINT"]
    assert list(s01["PPTEST"]) == [
        "Max Conc", "Time of CMAX Observation", "Last Nonzero Conc", "Time of Last Nonzero Conc",
        "AUC to Last Nonzero Conc", "AUC All", "AUC from T1 to T2",
    ]  # fmt: skip
    assert (
        list(s01["PPSTRESU"])
        == ["copies/ug gDNA", "day", "copies/ug gDNA", "day"] + ["day*copies/ug gDNA"] * 3
    )
    # the analyte of PC (PCTEST) is the category, its PCTESTCD the group ID; S01 infused
    # 2025-01-06 is the reference point; only the interval AUC has PPSTINT/PPENINT
    assert set(s01["PPCAT"]) == {"CAR Transgene Copies"} and set(s01["PPGRPID"]) == {"CARTGENE"}
    assert set(s01["PPRFTDTC"]) == {"2025-01-06"} and set(s01["PPTPTREF"]) == {"CAR-T INFUSION"}
    interval = s01.set_index("PPTESTCD")[["PPSTINT", "PPENINT"]]
    assert tuple(interval.loc["AUCINT"]) == ("P0D", "P28D")
    assert interval.drop("AUCINT").isna().all().all()
    assert set(s01["PPSPEC"]) == {"BLOOD"} and set(s01["PPSCAT"]) == {"NON-COMPARTMENTAL"}
    # S03 died before day 28: no AUC0-28; S06 had every sample below the LLOQ: nothing computed
    s03 = _subject(sdtm["PP"], "S03").set_index("PPTESTCD")
    assert (s03.loc["AUCINT", "PPSTAT"], s03.loc["AUCINT", "PPREASND"]) == (
        "NOT DONE", "NOT SAMPLED THROUGH THE END OF THE INTERVAL",
    )  # fmt: skip
    assert s03["PPSTAT"].notna().sum() == 1
    s06 = _subject(sdtm["PP"], "S06")
    assert set(s06["PPREASND"]) == {"NO QUANTIFIABLE SAMPLE"} and s06["PPORRES"].isna().all()


def test_pc_groups_and_relrec_relate_the_profile_to_its_parameters(
    trial: TrialData, sdtm: dict[str, pd.DataFrame]
) -> None:
    # SDTMIG 3.4's PP section (relating PP to PC records): PC and PP records related by
    # PCGRPID / PPGRPID per subject
    assert set(sdtm["PC"]["PCGRPID"]) == {"CARTGENE"}  # every builder sample is from day 0 on
    relrec = sdtm["RELREC"]
    pk = relrec.loc[relrec["RELID"] == "PK-CARTGENE"]
    assert len(pk) == 12 and set(pk["USUBJID"]) == {f"{STUDY}-S0{i}" for i in range(1, 7)}
    assert set(zip(pk["RDOMAIN"], pk["IDVAR"], pk["IDVARVAL"], strict=True)) == {
        ("PC", "PCGRPID", "CARTGENE"), ("PP", "PPGRPID", "CARTGENE"),
    }  # fmt: skip
    # a sample before the infusion (day -3) is not in the profile: no group ID
    early = trial.kinetics.iloc[[0]].assign(
        date=pd.Timestamp("2025-01-03"), day=-3, value=20.0, below_lloq=False
    )
    kinetics = pd.concat([early, trial.kinetics], ignore_index=True)
    pc = build_sdtm(dataclasses.replace(trial, kinetics=kinetics))["PC"]
    first = _subject(pc, "S01").sort_values("PCSEQ").iloc[0]
    assert (first["PCDTC"], first["PCGRPID"]) == ("2025-01-03", None)


def test_adpp_is_traceable_to_pp(
    sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]
) -> None:
    adpp, pp = adam["ADPP"], sdtm["PP"]
    # every computed PP parameter, none of the NOT DONE ones
    assert len(adpp) == int(pp["PPSTRESN"].notna().sum()) and set(adpp["SRCDOM"]) == {"PP"}
    source = adpp.merge(
        pp, left_on=["USUBJID", "SRCSEQ"], right_on=["USUBJID", "PPSEQ"], validate="one_to_one"
    )
    assert len(source) == len(adpp)
    assert (source["AVAL"] == source["PPSTRESN"]).all()
    assert (source["AVALU"] == source["PPSTRESU"]).all()
    codes = dict(zip(source["PPTESTCD"], source["PARAMCD"], strict=False))
    assert codes == {"CMAX": "CMAXG", "TMAX": "TMAXG", "CLST": "CLSTG", "TLST": "TLSTG",
                     "AUCLST": "AUCLSTG", "AUCALL": "AUCALLG", "AUCINT": "AUCD28G"}  # fmt: skip


def test_pp_conformance_and_its_broken_twin(sdtm: dict[str, pd.DataFrame]) -> None:
    assert [f for f in check_datasets({"DM": sdtm["DM"], "PP": sdtm["PP"]})
            if f.severity == "error"] == []  # fmt: skip
    pp = sdtm["PP"].copy()
    pp.loc[0, "PPTPTREF"] = None  # an interval without its reference (CORE-000616)
    pp.loc[pp["PPSTINT"].notna(), "PPTPTREF"] = None
    pp.loc[1, "PPTESTCD"] = "AUC28"  # not a PKPARMCD term (extensible: a note)
    pp.loc[2, "PPSTINT"] = "28 days"  # not an ISO 8601 duration
    found = {(f.variable, f.rule, f.severity) for f in check_datasets({"PP": pp})}
    assert {
        ("PPSTINT", "tptref", "error"),
        ("PPENINT", "tptref", "error"),
        ("PPTESTCD", "codelist", "note"),
        ("PPSTINT", "iso8601", "error"),
    } <= found


def test_define_has_pp_value_level_metadata_by_analyte_and_parameter(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    root = define_xml(sdtm, study_id=STUDY, study_title="Study", fmt="xpt",
                      created=dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC))  # fmt: skip
    assert define_problems(root) == []
    values = root.find(".//def:ValueListDef[@OID='VL.PP.PPSTRESN']", NS)
    refs = [r.get("ItemOID") for r in values.findall("odm:ItemRef", NS)]
    assert len(refs) == 7 and "IT.PP.PPSTRESN.CAR_Transgene_Copies.AUCINT" in refs
    where = root.find(
        ".//def:WhereClauseDef[@OID='WC.PP.PPCAT.PPTESTCD.CAR_Transgene_Copies.AUCINT']", NS
    )
    checks = [
        (c.get(f"{{{DEFINE_NS}}}ItemOID"), c.findtext("odm:CheckValue", namespaces=NS))
        for c in where.findall("odm:RangeCheck", NS)
    ]
    assert checks == [("IT.PP.PPCAT", "CAR Transgene Copies"), ("IT.PP.PPTESTCD", "AUCINT")]
    item = root.find(".//odm:ItemDef[@OID='IT.PP.PPSTRESN.CAR_Transgene_Copies.AUCINT']", NS)
    assert "AUCINT CAR Transgene Copies in day*copies/ug gDNA" in "".join(item.itertext())
    # PPSTINT/PPENINT hold ISO 8601 durations (P28D), not dates
    for oid in ("IT.PP.PPSTINT", "IT.PP.PPENINT", "IT.PP.PPRFTDTC"):
        item = root.find(f".//odm:ItemDef[@OID='{oid}']", NS)
        expected = "date" if oid.endswith("DTC") else "durationDatetime"
        assert item.get("DataType") == expected, oid
    codes = root.findall(".//odm:CodeList[@OID='CL.PKPARMCD']/odm:CodeListItem", NS)
    assert [c.get("CodedValue") for c in codes][:2] == ["CMAX", "TMAX"]
    alias = root.find(".//odm:CodeList[@OID='CL.PKPARMCD']/odm:Alias", NS)
    assert alias.get("Name") == "C85839"


def test_pp_round_trips_through_xpt_and_dataset_json(
    trial: TrialData, sdtm: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    write_package(trial, "sdtm", tmp_path, "xpt")
    spec = dataset_spec("PP")
    data, meta = pyreadstat.read_xport(str(tmp_path / "pp.xpt"))
    assert (meta.table_name, meta.file_label) == ("PP", "Pharmacokinetics Parameters")
    assert meta.column_names == list(spec.columns)
    assert meta.column_labels == [v.label for v in spec.variables]
    by_pandas = pd.read_sas(tmp_path / "pp.xpt", format="xport", encoding="ascii")
    for variable in spec.variables:
        expected = sdtm["PP"][variable.name]
        if variable.type == "Num":
            assert np.allclose(data[variable.name], expected, equal_nan=True), variable.name
            assert np.allclose(by_pandas[variable.name], expected, equal_nan=True)
        else:
            assert list(data[variable.name]) == [v or "" for v in expected], variable.name
    document = dataset_json(sdtm["PP"], spec, study_id=STUDY,
                            created=dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC),
                            data_cutoff=dt.date(2026, 1, 5))  # fmt: skip
    assert validate_dataset_json(document) == [] and document["records"] == len(sdtm["PP"])
    types = {c["name"]: c["dataType"] for c in document["columns"]}
    assert (types["PPRFTDTC"], types["PPSTINT"], types["PPSTRESN"]) == ("date", "string", "double")
    rows = [dict(zip([c["name"] for c in document["columns"]], r, strict=True))
            for r in document["rows"]]  # fmt: skip
    assert rows[0]["PPSTRESN"] == sdtm["PP"]["PPSTRESN"].iloc[0]


def _with_cells(trial: TrialData) -> TrialData:
    """S01's CAR+ T cells by flow cytometry beside its transgene copies: 10, 80 and 20 cells/uL
    on days 1, 7 and 28."""
    cells = pd.DataFrame(
        {
            "subject_id": "S01",
            "date": pd.to_datetime(["2025-01-07", "2025-01-13", "2025-02-03"]),
            "day": [1, 7, 28],
            "value": [10.0, 80.0, 20.0],
            "unit": "cells/uL",
            "lloq": 1.0,
            "below_lloq": False,
        }
    )
    return dataclasses.replace(
        trial, kinetics=pd.concat([trial.kinetics, cells], ignore_index=True)
    )


def test_a_second_analyte_is_its_own_profile(trial: TrialData) -> None:
    # S01's cells (Cmax 80 on day 7): the parameters, the ADPP codes (letter C) and the
    # value-level metadata are per analyte
    both = _with_cells(trial)
    sdtm = build_sdtm(both)
    s01 = _subject(sdtm["PP"], "S01")
    cell = s01.loc[s01["PPCAT"] == "CAR+ T Cells"].set_index("PPTESTCD")
    assert len(s01) == 14 and set(cell["PPGRPID"]) == {"CARTCELL"}
    assert (cell.loc["CMAX", "PPSTRESN"], cell.loc["TMAX", "PPSTRESN"]) == (80.0, 7.0)
    assert cell.loc["AUCINT", "PPSTRESU"] == "day*cells/uL"
    # AUC0-28 by hand: 0 -> 10 (day 0 to 1, rising), 10 -> 80 (rising), 80 -> 20 (falling, log)
    auc = 1 * 10 / 2 + 6 * (10 + 80) / 2 + 21 * (80 - 20) / math.log(80 / 20)
    assert cell.loc["AUCINT", "PPSTRESN"] == pytest.approx(auc, rel=1e-12)
    pk = sdtm["RELREC"].loc[lambda f: f["USUBJID"] == f"{STUDY}-S01"]
    assert {"PK-CARTGENE", "PK-CARTCELL"} <= set(pk["RELID"])
    from cartrial.exchange import build_adam

    adpp = _subject(build_adam(both, sdtm)["ADPP"], "S01").set_index("PARAMCD")
    assert adpp.loc["CMAXC", "AVAL"] == 80.0 and adpp.loc["CMAXG", "AVAL"] == 15000.0
    root = define_xml(sdtm, study_id=STUDY, study_title="Study", fmt="xpt",
                      created=dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC))  # fmt: skip
    assert define_problems(root) == []
    refs = root.findall(".//def:ValueListDef[@OID='VL.PP.PPSTRESN']/odm:ItemRef", NS)
    assert len(refs) == 14
    item = root.find(".//odm:ItemDef[@OID='IT.PP.PPSTRESN.CAR_T_Cells.CMAX']", NS)
    assert "CMAX CAR+ T Cells in cells/uL" in "".join(item.itertext())


def test_chunks_write_the_same_pp_files_and_define(trial: TrialData, tmp_path: Path) -> None:
    # two analytes in one chunk and one in the others: the value-level metadata (per analyte and
    # parameter) and the files are those of the export in one piece
    both = _with_cells(trial)
    created = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)
    whole = write_package(both, "sdtm", tmp_path / "whole", "csv", created=created)
    parts = write_package(both, "sdtm", tmp_path / "parts", "csv", created=created,
                          chunk_subjects=2)  # fmt: skip
    for name in ("pp.csv", "pc.csv", "relrec.csv", "define.xml"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()
    assert whole.records["PP"] == parts.records["PP"] == 7 * 7
