"""The CDISC metadata tables load, obey the transport limits, and a broken row names its line;
the conformance rules each catch the defect they exist for."""

from __future__ import annotations

import pandas as pd
import pytest

from cartrial.errors import ExchangeError
from cartrial.exchange import check_datasets, dataset_spec, dataset_specs
from cartrial.exchange.metadata import VariableSpec, _parse, codelists


def test_every_dataset_and_variable_fits_sas_transport_v5() -> None:
    specs = dataset_specs()
    assert len(specs) == 33  # 25 SDTM (TS, TA, TE, TV, TD, TI, ..., PP, ..., RELREC), 8 ADaM
    for spec in specs.values():
        assert len(spec.name) <= 8 and len(spec.label) <= 40
        for variable in spec.variables:
            assert len(variable.name) <= 8 and len(variable.label) <= 40
            assert variable.name.isupper() or variable.name.isalnum()


def test_derived_variables_say_how() -> None:
    for spec in dataset_specs().values():
        for variable in spec.variables:
            if variable.origin in {"Derived", "Predecessor"}:
                assert variable.derivation, f"{spec.name}.{variable.name}"


def test_a_broken_metadata_row_names_file_line_and_field() -> None:
    row = {"dataset": "AE", "name": "AETOOLONGNAME", "label": "x", "type": "Char", "core": "Req",
           "origin": "Derived", "codelist": "", "format": "", "derivation": ""}  # fmt: skip
    with pytest.raises(ExchangeError) as caught:
        _parse(VariableSpec, "variables.csv", 42, row)
    message = str(caught.value)
    assert "variables.csv line 42" in message and "name" in message and "derivation" in message


def test_unknown_dataset_is_a_clear_error() -> None:
    with pytest.raises(ExchangeError, match="no CDISC dataset 'XX'"):
        dataset_spec("XX")


def test_codelists_include_the_lab_tests() -> None:
    lists = codelists()
    assert lists["LBTESTCD"].terms["NEUT"] == "Neutrophils (absolute count)"
    assert not lists["NY"].extensible and lists["UNIT"].extensible


def test_conformance_rules_catch_their_defects(sdtm: dict[str, pd.DataFrame]) -> None:
    dm = sdtm["DM"].copy()
    dm.loc[0, "SEX"] = "X"  # not in the non-extensible SEX codelist
    dm.loc[1, "RFSTDTC"] = "06/01/2025"  # not ISO 8601
    dm.loc[2, "SUBJID"] = None  # a Req variable null
    dm = pd.concat([dm, dm.iloc[[3]]], ignore_index=True)  # a subject twice
    ae = sdtm["AE"].copy()
    ae.loc[1, "AESEQ"] = ae.loc[0, "AESEQ"]
    ae.loc[1, "USUBJID"] = ae.loc[0, "USUBJID"]
    lb = sdtm["LB"].assign(USUBJID="CLDN18-PDL1-CART-01-S99")
    findings = {
        (f.dataset, f.variable, f.rule, f.severity)
        for f in check_datasets({"DM": dm, "AE": ae, "LB": lb})
    }
    assert ("DM", "SEX", "codelist", "error") in findings
    assert ("DM", "RFSTDTC", "iso8601", "error") in findings
    assert ("DM", "SUBJID", "required", "error") in findings
    assert ("DM", "USUBJID", "one-per-subj", "error") in findings
    assert ("AE", "AESEQ", "seq", "error") in findings
    assert ("LB", "USUBJID", "subject", "error") in findings
