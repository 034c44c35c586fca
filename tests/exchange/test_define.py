"""Define-XML 2.1: sound structure (the checks the Define-XML schema and specification make),
value-level metadata, and the HTML rendering; a broken document is caught."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
from lxml import etree

from cartrial.exchange.define import DEFINE_NS, ODM_NS, define_html, define_problems, define_xml

CREATED = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)
NS = {"odm": ODM_NS, "def": DEFINE_NS}


def _define(datasets: dict[str, pd.DataFrame]) -> etree._Element:
    return define_xml(datasets, study_id="S", study_title="Study S", fmt="xpt", created=CREATED)


def test_sdtm_and_adam_define_are_sound(
    sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]
) -> None:
    for datasets in (sdtm, adam):
        root = _define(datasets)
        assert define_problems(root) == []
        groups = root.findall(".//odm:ItemGroupDef", NS)
        assert [g.get("Name") for g in groups] == list(datasets)


def test_every_variable_has_its_item_def_with_origin_and_method(
    sdtm: dict[str, pd.DataFrame],
) -> None:
    root = _define(sdtm)
    dm = root.find(".//odm:ItemGroupDef[@Name='DM']", NS)
    refs = dm.findall("odm:ItemRef", NS)
    assert [r.get("ItemOID") for r in refs][:3] == [
        "IT.DM.STUDYID",
        "IT.DM.DOMAIN",
        "IT.DM.USUBJID",
    ]
    usubjid = next(r for r in refs if r.get("ItemOID") == "IT.DM.USUBJID")
    assert usubjid.get("KeySequence") == "2" and usubjid.get("MethodOID") == "MT.DM.USUBJID"
    sex = root.find(".//odm:ItemDef[@OID='IT.DM.SEX']", NS)
    assert sex.find("odm:CodeListRef", NS).get("CodeListOID") == "CL.SEX"
    assert sex.find("def:Origin", NS).get("Type") == "Collected"
    method = root.find(".//odm:MethodDef[@OID='MT.DM.USUBJID']", NS)
    assert "STUDYID and SUBJID" in "".join(method.itertext())
    leaf = dm.find("def:leaf", NS)
    assert leaf.get("{http://www.w3.org/1999/xlink}href") == "dm.xpt"


def test_value_level_metadata_for_lab_and_kinetics_results(sdtm: dict[str, pd.DataFrame]) -> None:
    root = _define(sdtm)
    lb = root.find(".//def:ValueListDef[@OID='VL.LB.LBSTRESN']", NS)
    assert [r.get("ItemOID") for r in lb.findall("odm:ItemRef", NS)] == ["IT.LB.LBSTRESN.NEUT"]
    where = root.find(".//def:WhereClauseDef[@OID='WC.LB.LBTESTCD.NEUT']/odm:RangeCheck", NS)
    assert where.get(f"{{{DEFINE_NS}}}ItemOID") == "IT.LB.LBTESTCD"
    assert where.findtext("odm:CheckValue", namespaces=NS) == "NEUT"
    parent = root.find(".//odm:ItemDef[@OID='IT.LB.LBSTRESN']", NS)
    assert parent.find("def:ValueListRef", NS).get("ValueListOID") == "VL.LB.LBSTRESN"


def test_broken_references_are_found(sdtm: dict[str, pd.DataFrame]) -> None:
    root = copy.deepcopy(_define(sdtm))
    mdv = root.find(".//odm:MetaDataVersion", NS)
    mdv.remove(mdv.find("odm:ItemDef[@OID='IT.DM.SEX']", NS))
    mdv.remove(mdv.find("odm:CodeList[@OID='CL.NY']", NS))
    mdv.insert(0, copy.deepcopy(mdv.find("odm:MethodDef", NS)))
    problems = define_problems(root)
    assert any("ItemOID='IT.DM.SEX'" in p for p in problems)
    assert any("CodeListOID='CL.NY'" in p for p in problems)
    assert any("order" in p for p in problems)
    assert any("MethodDef OIDs repeat" in p for p in problems)


def test_html_rendering_lists_datasets_variables_and_codelists(
    adam: dict[str, pd.DataFrame],
) -> None:
    html = define_html(_define(adam))
    assert "ADSL: Subject-Level Analysis Dataset" in html
    assert "Safety Population Flag" in html and 'id="CL.NY"' in html
    assert "Days from STARTDT to ADT" in html
