"""SDTM findings domains (SDTMIG v3.4): labs, CRS/ICANS grades, RECIST, immunogenicity, kinetics.

Each builder maps one table of the read model to one domain, every record with the scheduled
visit (``VISITNUM``, ``VISIT``) whose window holds its day; values the rule engines derived at
data entry (CTCAE lab grades, ASTCT grades, RECIST responses) are exported as they are stored,
with their origin "Derived" in the metadata.

* LB: results in the units entered, standardised to the SI unit of the CTCAE engine's unit table
  (``LBSTRESN``/``LBSTRESU``), ``LBTOXGR`` the CTCAE v5.0 grade; ``LBBLFL`` on the last result
  of each test on or before the infusion day.
* FA: the daily ASTCT 2019 CRS and ICANS grades as findings about the two syndromes, and the DLT
  adjudication of each adverse event (``FACAT`` DLT ADJUDICATION, ``FALNKID`` = the AE's
  ``AESPID``; RELREC relates the two records).
* TU/TR/RS: lesions (TUMIDENT), their measurements (longest diameter, short axis for nodes, state
  of non-target and new lesions, the sum of diameters) and the time-point responses of the RECIST
  1.1 engine (target, non-target, new lesions, overall).
* IS: anti-CAR antibodies (screen, confirmation, titer); PC: CAR transgene or CAR+ cell levels
  with the assay LLOQ (BLQ below it); CP: the CAR+ cell phenotype (markers.csv).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.errors import ExchangeError
from cartrial.exchange.common import (
    conform,
    grade_text,
    identifiers,
    iso_date,
    number_text,
    reference_dates,
    sequence,
    study_day,
)
from cartrial.exchange.metadata import dataset_spec, lab_tests, markers
from cartrial.exchange.sdtm_design import visits_of
from cartrial.rules.ctcae import lab_tests as lab_tests_graded
from cartrial.rules.ctcae_units import unit_factor

__all__ = ["FINDINGS", "KINETICS_TESTS"]

#: PCTESTCD and PCTEST of each kinetics assay unit (sponsor-defined: no CDISC analyte term).
KINETICS_TESTS = {
    "copies/ug gDNA": ("CARTGENE", "CAR Transgene Copies"),
    "cells/uL": ("CARTCELL", "CAR+ T Cells"),
}
_STATE = {
    "present": "PRESENT",
    "absent": "ABSENT",
    "unequivocal_progression": "UNEQUIVOCAL PROGRESSION",
    "unequivocal": "UNEQUIVOCAL",
    "equivocal": "EQUIVOCAL",
    "too_small": "TOO SMALL TO MEASURE",
}


def _dated(
    trial: TrialData, domain: str, frame: pd.DataFrame, date: str, assessment: str | pd.Series
) -> pd.DataFrame:
    """Identifiers, ``VISITNUM``/``VISIT`` (the scheduled visit of the record's ``assessment``,
    :func:`~cartrial.exchange.sdtm_design.visits_of`), ``--DTC`` and ``--DY`` of ``frame[date]``."""
    out = identifiers(trial, domain, frame)
    kinds = assessment if isinstance(assessment, pd.Series) else pd.Series(assessment, frame.index)
    visits = visits_of(trial, frame["subject_id"], frame[date], kinds)
    out["VISITNUM"] = visits["VISITNUM"]
    out["VISIT"] = visits["VISIT"]
    out[f"{domain}DTC"] = iso_date(frame[date])
    out[f"{domain}DY"] = study_day(frame[date], reference_dates(trial, frame["subject_id"]))
    return out


def _si_conversion(labs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per result: the factor to the SI unit and the SI unit (the CTCAE engine's unit table)."""
    groups = {test.lbtestcd: test.unit_group for test in lab_tests_graded()}
    pairs = {
        (code, unit): unit_factor(groups[code], str(unit), what=f"LB {code}")
        for code, unit in set(zip(labs["lbtestcd"], labs["unit"], strict=True))
    }
    keys = list(zip(labs["lbtestcd"], labs["unit"], strict=True))
    factor = pd.Series([pairs[k][0] for k in keys], index=labs.index, dtype=float)
    unit = pd.Series([pairs[k][1] for k in keys], index=labs.index, dtype=object)
    return factor, unit


def build_lb(trial: TrialData) -> pd.DataFrame:
    """LB: every lab result with its CTCAE v5.0 term and grade."""
    labs = trial.labs.reset_index(drop=True)
    names = lab_tests()
    unknown = sorted(set(labs["lbtestcd"]) - set(names))
    if unknown:
        raise ExchangeError(f"LB: lab test codes without an LBTEST name: {unknown}")
    out = _dated(trial, "LB", labs, "date", "labs")
    out["LBTESTCD"] = labs["lbtestcd"]
    out["LBTEST"] = labs["lbtestcd"].map(names)
    out["LBORRES"] = number_text(labs["value"])
    out["LBORRESU"] = labs["unit"]
    out["LBORNRLO"] = number_text(labs["lln"])
    out["LBORNRHI"] = number_text(labs["uln"])
    factor, si_unit = _si_conversion(labs)
    out["LBSTRESN"] = labs["value"] * factor
    out["LBSTRESC"] = number_text(out["LBSTRESN"])
    out["LBSTRESU"] = si_unit
    out["LBSTNRLO"] = labs["lln"] * factor
    out["LBSTNRHI"] = labs["uln"] * factor
    out["LBTOX"] = labs["term"].where(labs["grade"].fillna(0) > 0)
    out["LBTOXGR"] = grade_text(labs["grade"])
    infusion = reference_dates(trial, labs["subject_id"])
    before = labs.loc[labs["date"] <= infusion]
    last = before.sort_values("date", kind="stable").groupby(["subject_id", "lbtestcd"]).tail(1)
    out["LBBLFL"] = pd.Series(None, index=labs.index, dtype=object)
    out.loc[last.index, "LBBLFL"] = "Y"
    out["LBSEQ"] = sequence(out.assign(_d=labs["date"]), ["_d", "LBTESTCD"])
    return conform(out, dataset_spec("LB"))


def _dlt_adjudications(trial: TrialData) -> pd.DataFrame:
    """One row per adjudicated AE: its term, the Y/N decision and the date it refers to.

    The date is the day the subject's DLT window closes (infusion + ``dlt.window_days``), or the
    data cut-off when earlier: the adjudication covers the window, and its signing time is in
    the audit trail, not in the study's calendar.
    """
    ae = trial.adverse_events.loc[trial.adverse_events["is_dlt"].notna()]
    infusion = pd.to_datetime(reference_dates(trial, ae["subject_id"]))
    closes = infusion + pd.Timedelta(days=trial.protocol.dlt.window_days)
    date = closes.where(closes <= trial.data_cutoff, trial.data_cutoff).where(infusion.notna())
    return pd.DataFrame(
        {
            "subject_id": ae["subject_id"],
            "date": date,
            "FAOBJ": ae["term"].astype(str).str.upper(),
            "FATESTCD": "DLTIND",
            "FATEST": "Dose-Limiting Toxicity Indicator",
            "FACAT": "DLT ADJUDICATION",
            "FAORRES": ae["is_dlt"].astype(bool).map({True: "Y", False: "N"}),
            "FALNKID": ae["ae_id"].astype(str),
            "FAEVAL": "INVESTIGATOR",
        }
    )


def build_fa(trial: TrialData) -> pd.DataFrame:
    """FA: the daily ASTCT CRS and ICANS grades (0 = none that day) and the DLT adjudications."""
    days = trial.crs_icans
    parts = [
        days.loc[days[column].notna(), ["subject_id", "date"]].assign(
            FAOBJ=obj,
            FATESTCD="SEV",
            FATEST="Severity/Intensity",
            FACAT="ASTCT CONSENSUS GRADING 2019",
            FAORRES=grade_text(days.loc[days[column].notna(), column]),
        )
        for column, obj in (
            ("crs_grade", "CYTOKINE RELEASE SYNDROME"),
            ("icans_grade", "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME"),
        )
    ]
    frame = pd.concat([*parts, _dlt_adjudications(trial)], ignore_index=True)
    # the daily grades belong to the CRS/ICANS visits; a DLT adjudication to no visit
    kinds = frame["FACAT"].map({"ASTCT CONSENSUS GRADING 2019": "crs_icans"})
    out = _dated(trial, "FA", frame, "date", kinds)
    for name in ("FATESTCD", "FATEST", "FAOBJ", "FACAT", "FAORRES"):
        out[name] = frame[name]
    out["FASTRESC"] = out["FAORRES"]
    out["FALNKID"] = frame.get("FALNKID")
    out["FAEVAL"] = frame.get("FAEVAL")
    out["FASEQ"] = sequence(
        out.assign(_d=pd.to_datetime(frame["date"]), _l=frame.get("FALNKID")),
        ["_d", "FACAT", "FAOBJ", "_l"],
    )
    return conform(out, dataset_spec("FA"))


def _category(values: pd.Series) -> pd.Series:
    return values.map({"target": "TARGET", "non_target": "NON-TARGET", "new": "NEW"})


def build_tu(trial: TrialData) -> pd.DataFrame:
    """TU: one record per lesion (first recorded date, category, organ)."""
    lesions = trial.lesions.sort_values("assessment_date", kind="stable")
    first = lesions.groupby(["subject_id", "lesion_id"], sort=False).head(1).reset_index(drop=True)
    out = _dated(trial, "TU", first, "assessment_date", "tumour")
    out["TULNKID"] = first["lesion_id"].astype(str)
    out["TUTESTCD"] = "TUMIDENT"
    out["TUTEST"] = "Tumor Identification"
    out["TUORRES"] = out["TUSTRESC"] = _category(first["category"])
    out["TULOC"] = first["organ"].astype(str).str.upper()
    out["TUEVAL"] = "INVESTIGATOR"
    out["TUSEQ"] = sequence(out, ["TULNKID"])
    return conform(out, dataset_spec("TU"))


def build_tr(trial: TrialData) -> pd.DataFrame:
    """TR: diameters of target lesions, states of the others, and the sum of diameters."""
    lesions = trial.lesions.reset_index(drop=True)
    target = lesions["category"] == "target"
    node = lesions["is_lymph_node"].astype("boolean").fillna(False).astype(bool)
    status = lesions["status"].fillna("").astype(str)
    diameter = lesions["diameter_mm"].where(target)
    diameter = diameter.where(~(target & diameter.isna() & (status == "absent")), 0.0)
    measured = target & diameter.notna()
    out = _dated(trial, "TR", lesions, "assessment_date", "tumour")
    out["TRLNKID"] = lesions["lesion_id"].astype(str)
    out["TRTESTCD"] = np.where(target, np.where(node, "SAXIS", "LDIAM"), "TUMSTATE")
    out["TRTEST"] = out["TRTESTCD"].map(
        {"SAXIS": "Short Axis", "LDIAM": "Longest Diameter", "TUMSTATE": "Tumor State"}
    )
    state = status.map(_STATE)
    out["TRORRES"] = number_text(diameter).where(measured, state)
    out["TRSTRESC"] = out["TRORRES"]
    out["TRSTRESN"] = diameter.where(measured)
    out["TRORRESU"] = out["TRSTRESU"] = pd.Series("mm", index=lesions.index).where(measured)
    out["TRSTAT"] = pd.Series("NOT DONE", index=lesions.index).where(out["TRORRES"].isna())
    sums = trial.tumour_timepoints.loc[trial.tumour_timepoints["sum_of_diameters_mm"].notna()]
    sums = sums.reset_index(drop=True)
    total = _dated(trial, "TR", sums, "assessment_date", "tumour")
    total["TRTESTCD"] = "SUMDIAM"
    total["TRTEST"] = "Sum of Diameter"
    total["TRORRES"] = total["TRSTRESC"] = number_text(sums["sum_of_diameters_mm"])
    total["TRSTRESN"] = sums["sum_of_diameters_mm"]
    total["TRORRESU"] = total["TRSTRESU"] = "mm"
    both = pd.concat([out, total], ignore_index=True)
    both["TREVAL"] = "INVESTIGATOR"
    both["TRSEQ"] = sequence(both, ["TRDTC", "TRLNKID", "TRTESTCD"])
    return conform(both, dataset_spec("TR"))


def build_rs(trial: TrialData) -> pd.DataFrame:
    """RS: target, non-target, new-lesion and overall responses per time point (RECIST 1.1)."""
    tps = trial.tumour_timepoints
    # a baseline scan has lesions and a sum of diameters (TU/TR) but no response
    assessed = tps["overall_response"].notna() & (tps["overall_response"].astype(str) != "")
    tps = tps.loc[assessed].reset_index(drop=True)
    new = tps["new_lesions"].astype("boolean").map({True: "Y", False: "N"})
    parts = []
    for code, name, values in (
        ("TRGRESP", "Target Response", tps["target_response"]),
        ("NTRGRESP", "Non-target Response", tps["nontarget_response"]),
        ("NEWLIND", "New Lesion Indicator", new),
        ("OVRLRESP", "Overall Response", tps["overall_response"]),
    ):
        # no non-target lesions: no non-target response record (RECIST's "not applicable")
        kept = values.notna() & ~values.astype(str).isin(["", "NOT-APPLICABLE", "NA"])
        parts.append(
            tps.loc[kept, ["subject_id", "assessment_date"]].assign(
                RSTESTCD=code, RSTEST=name, result=values[kept]
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    out = _dated(trial, "RS", frame, "assessment_date", "tumour")
    out["RSTESTCD"] = frame["RSTESTCD"]
    out["RSTEST"] = frame["RSTEST"]
    out["RSCAT"] = "RECIST 1.1"
    out["RSORRES"] = out["RSSTRESC"] = frame["result"].astype(object)
    out["RSEVAL"] = "INVESTIGATOR"
    out["RSSEQ"] = sequence(out, ["RSDTC", "RSTESTCD"])
    return conform(out, dataset_spec("RS"))


def build_is(trial: TrialData) -> pd.DataFrame:
    """IS: anti-CAR antibody screen, confirmation and titer per sample."""
    ada = trial.ada.reset_index(drop=True)
    confirmed = ada["confirmed"].astype("boolean").map({True: "POSITIVE", False: "NEGATIVE"})
    # values are computed from the selected rows (a whole column assigned to an empty
    # selection would add its rows to it)
    parts = [
        ada.loc[ada["screen"].notna()].assign(
            ISTESTCD="CARABSCR",
            ISTEST="Anti-CAR Antibody Screen",
            ISORRES=lambda rows: rows["screen"].astype(str).str.upper(),
        ),
        ada.loc[confirmed.notna()].assign(
            ISTESTCD="CARABCNF",
            ISTEST="Anti-CAR Antibody Confirmation",
            ISORRES=lambda rows: confirmed[rows.index],
        ),
        ada.loc[ada["titer"].notna()].assign(
            ISTESTCD="CARABTIT",
            ISTEST="Anti-CAR Antibody Titer",
            ISORRES=lambda rows: number_text(rows["titer"]),
            ISSTRESN=lambda rows: rows["titer"],
            ISORRESU="TITER",
        ),
    ]
    frame = pd.concat(parts, ignore_index=True)
    out = _dated(trial, "IS", frame, "date", "ada")
    for name in ("ISTESTCD", "ISTEST", "ISORRES"):
        out[name] = frame[name]
    out["ISSTRESC"] = frame["ISORRES"]
    out["ISSTRESN"] = frame.get("ISSTRESN")
    out["ISORRESU"] = out["ISSTRESU"] = frame.get("ISORRESU")
    out["ISCAT"] = "ANTI-CAR ANTIBODY"
    out["ISSPEC"] = "SERUM"
    out["ISSEQ"] = sequence(out, ["ISDTC", "ISTESTCD"])
    return conform(out, dataset_spec("IS"))


def build_pc(trial: TrialData) -> pd.DataFrame:
    """PC: CAR-T levels per sample (transgene copies or CAR+ cells) with the assay LLOQ."""
    kin = trial.kinetics.reset_index(drop=True)
    unknown = sorted(set(kin["unit"].dropna()) - set(KINETICS_TESTS))
    if unknown:
        raise ExchangeError(f"PC: kinetics units without a PC test code: {unknown}")
    blq = kin["below_lloq"].astype("boolean").fillna(False).astype(bool)
    out = _dated(trial, "PC", kin, "date", "kinetics")
    out["PCTESTCD"] = kin["unit"].map({u: code for u, (code, _) in KINETICS_TESTS.items()})
    out["PCTEST"] = kin["unit"].map({u: name for u, (_, name) in KINETICS_TESTS.items()})
    out["PCORRES"] = number_text(kin["value"]).where(~blq, "<" + number_text(kin["lloq"]))
    out["PCSTRESC"] = number_text(kin["value"]).where(~blq, "BLQ")
    out["PCSTRESN"] = kin["value"].where(~blq)
    out["PCORRESU"] = out["PCSTRESU"] = kin["unit"]
    out["PCSPEC"] = "BLOOD"
    out["PCLLOQ"] = kin["lloq"]
    # the NCA's profile (PP): the samples on or after the infusion (day 0)
    out["PCGRPID"] = out["PCTESTCD"].where(kin["day"].astype(float) >= 0)
    out["PCSEQ"] = sequence(out.assign(_d=kin["date"]), ["_d", "PCTESTCD"])
    return conform(out, dataset_spec("PC"))


def build_cp(trial: TrialData) -> pd.DataFrame:
    """CP: the phenotype of CAR+ T cells per sample (memory subsets, exhaustion, CD4:CD8)."""
    pheno = trial.phenotype.reset_index(drop=True)
    known = markers()
    marker = pheno["marker"].astype(str).str.lower()
    unknown = sorted(set(marker) - set(known))
    if unknown:
        raise ExchangeError(
            f"CP: phenotype markers without a CP test code in data/cdisc/markers.csv: {unknown}"
        )
    out = _dated(trial, "CP", pheno, "date", "phenotype")
    out["CPTESTCD"] = marker.map({m: spec.testcd for m, spec in known.items()})
    out["CPTEST"] = marker.map({m: spec.test for m, spec in known.items()})
    out["CPORRES"] = out["CPSTRESC"] = number_text(pheno["value"])
    out["CPSTRESN"] = pheno["value"]
    out["CPORRESU"] = out["CPSTRESU"] = marker.map({m: spec.unit for m, spec in known.items()})
    out["CPSPEC"] = "BLOOD"
    out["CPSEQ"] = sequence(out, ["CPDTC", "CPTESTCD"])
    return conform(out, dataset_spec("CP"))


#: The findings domains in output order.
FINDINGS: dict[str, Callable[[TrialData], pd.DataFrame]] = {
    "LB": build_lb,
    "FA": build_fa,
    "TU": build_tu,
    "TR": build_tr,
    "RS": build_rs,
    "IS": build_is,
    "PC": build_pc,
    "CP": build_cp,
}
