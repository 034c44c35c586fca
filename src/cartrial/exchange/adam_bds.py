"""ADaM efficacy, kinetics and immunogenicity datasets (BDS): ADRS, ADTTE, ADPC, ADPP, ADIS.

Best overall response and the time-to-event variables come from the analysis functions the
report uses (:func:`~cartrial.analysis.response.best_overall_response`,
:func:`~cartrial.analysis.survival.time_to_event`; ADPP reads SDTM PP, which holds
:func:`~cartrial.analysis.kinetics.nca`'s parameters):
ORR, DCR and Kaplan-Meier medians recomputed from ADRS and ADTTE equal the report's by
construction, and a test recomputes them independently.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData, analysis_settings
from cartrial.analysis.response import best_overall_response
from cartrial.analysis.survival import time_to_event
from cartrial.exchange.adam import adsl_columns, relative_day
from cartrial.exchange.adam_visits import analysis_visits
from cartrial.exchange.common import conform, from_iso, iso_date, sas_date, usubjid
from cartrial.exchange.metadata import dataset_spec, pk_parameters

__all__ = ["RESPONSE_CODES", "build_adis", "build_adpc", "build_adpp", "build_adrs", "build_adtte"]

#: ``AVAL`` of a response category in ADRS (best first).
RESPONSE_CODES = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6}
_TTE = {
    "PFS": "Progression-Free Survival (days)",
    "OS": "Overall Survival (days)",
    "DOR": "Duration of Response (days)",
}
#: ADPP's PARAMCD letter and PARAM text of each analyte (PP.PPGRPID, the PCTESTCD).
_ANALYTE = {"CARTGENE": ("G", "transgene"), "CARTCELL": ("C", "CAR+ cells")}


def _with_adsl(adsl: pd.DataFrame, frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.concat([frame, adsl_columns(adsl, frame["USUBJID"], names)], axis=1)


def build_adrs(
    trial: TrialData, adsl: pd.DataFrame, rs: pd.DataFrame, windows: pd.DataFrame
) -> pd.DataFrame:
    """ADRS: time-point responses (OVR) at the analysis visit of RS's visit, best response as
    the protocol defines it (BOR) and without confirmation (UBOR), which are no visit's."""
    settings = analysis_settings(trial.protocol)
    study = trial.protocol.study.id
    best = best_overall_response(trial, settings)
    overall = rs.loc[rs["RSTESTCD"] == "OVRLRESP"].reset_index(drop=True)
    ovr = pd.DataFrame(
        {
            "STUDYID": overall["STUDYID"],
            "USUBJID": overall["USUBJID"],
            "PARAMCD": "OVR",
            "PARAM": "Overall Response by Investigator (RECIST 1.1)",
            "AVALC": overall["RSSTRESC"],
            "ADT": sas_date(from_iso(overall["RSDTC"])),
            "SRCDOM": "RS",
            "SRCSEQ": overall["RSSEQ"],
        }
    )
    ovr = pd.concat([ovr, analysis_visits(overall["VISIT"], overall["VISITNUM"], windows)], axis=1)
    used = best.timepoints
    used_keys = usubjid(study, used["subject_id"]) + "/" + iso_date(used["assessment_date"])
    in_best = (ovr["USUBJID"] + "/" + overall["RSDTC"]).isin(set(used_keys))
    ovr["ANL01FL"] = pd.Series("Y", index=ovr.index, dtype=object).where(in_best, None)
    unconfirmed = best_overall_response(trial, dataclasses.replace(settings, confirm=False))
    bests = []
    for code, name, result in (
        ("BOR", "Best Overall Response (RECIST 1.1, as per protocol)", best),
        ("UBOR", "Best Overall Response, Unconfirmed", unconfirmed),
    ):
        subjects = result.subjects
        bests.append(
            pd.DataFrame(
                {
                    "STUDYID": study,
                    "USUBJID": usubjid(study, subjects["subject_id"]),
                    "PARAMCD": code,
                    "PARAM": name,
                    "AVALC": subjects["bor"],
                    "ADT": sas_date(subjects["first_response_date"]),
                }
            )
        )
    out = pd.concat([ovr, *bests], ignore_index=True)
    out = _with_adsl(adsl, out, ("TRT01A", "SAFFL", "EFFFL", "TRTSDT"))
    out["AVAL"] = out["AVALC"].map(RESPONSE_CODES)
    out["ADY"] = relative_day(out["ADT"], out["TRTSDT"]).where(out["ADT"].notna())
    return conform(out, dataset_spec("ADRS"))


def build_adtte(trial: TrialData, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADTTE: PFS, OS (from the infusion) and DOR (from the first response), CNSR 1 = censored."""
    settings = analysis_settings(trial.protocol)
    study = trial.protocol.study.id
    best = best_overall_response(trial, settings)
    times = time_to_event(trial, settings, best)
    infusion = trial.subjects.set_index("subject_id")["infusion_date"]
    first_response = best.subjects.set_index("subject_id")["first_response_date"]
    parts = []
    for code in _TTE:
        key = code.lower()
        rows = times.loc[times[f"{key}_days"].notna()]
        start = rows["subject_id"].map(first_response if code == "DOR" else infusion)
        event = rows[f"{key}_event"].astype(bool)
        rule = rows["pfs_rule"] if code in ("PFS", "DOR") else rows["os_rule"]
        text = rule.str.replace(r"^(event|censored): ", "", regex=True)
        parts.append(
            pd.DataFrame(
                {
                    "STUDYID": study,
                    "USUBJID": usubjid(study, rows["subject_id"]),
                    "PARAMCD": code,
                    "PARAM": _TTE[code],
                    "AVAL": rows[f"{key}_days"].astype(float),
                    "STARTDT": sas_date(start),
                    "CNSR": np.where(event, 0.0, 1.0),
                    "EVNTDESC": text.where(event),
                    "CNSDTDSC": text.where(~event),
                    "SRCDOM": np.where(
                        event & text.str.contains("PD"), "RS", np.where(event, "DM", "ADSL")
                    ),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["ADT"] = out["STARTDT"] + out["AVAL"]
    out = _with_adsl(adsl, out, ("TRT01A", "SAFFL"))
    return conform(out, dataset_spec("ADTTE"))


def build_adpc(adsl: pd.DataFrame, pc: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """ADPC: CAR-T levels with the NCA time scale (days from infusion) at the analysis visit of
    PC's visit; BLQ after the infusion is 0."""
    out = pc[["STUDYID", "USUBJID"]].copy()
    out = _with_adsl(adsl, out, ("TRT01A", "TRTSDT"))
    out["PARAMCD"] = pc["PCTESTCD"]
    out["PARAM"] = pc["PCTEST"] + " (" + pc["PCSTRESU"].fillna("") + ")"
    out["ADT"] = sas_date(from_iso(pc["PCDTC"]))
    out["AFRLT"] = out["ADT"] - out["TRTSDT"]
    out["ADY"] = relative_day(out["ADT"], out["TRTSDT"]).where(out["TRTSDT"].notna())
    out = pd.concat([out, analysis_visits(pc["VISIT"], pc["VISITNUM"], windows)], axis=1)
    blq = pc["PCSTRESC"] == "BLQ"
    out["BLQFL"] = np.where(blq, "Y", "N")
    out["AVAL"] = pc["PCSTRESN"].where(~blq, np.where(out["AFRLT"] >= 0, 0.0, np.nan))
    out["SRCDOM"] = "PC"
    out["SRCSEQ"] = pc["PCSEQ"]
    return conform(out, dataset_spec("ADPC"))


def build_adpp(adsl: pd.DataFrame, pp: pd.DataFrame) -> pd.DataFrame:
    """ADPP: the computed parameters of PP (the report's NCA), one record per parameter and
    analyte, traceable to PP by ``SRCDOM``/``SRCSEQ``."""
    done = pp.loc[pp["PPSTRESN"].notna()].reset_index(drop=True)
    by_test = {p.pptestcd: p for p in pk_parameters().values()}
    code = done["PPTESTCD"].map({t: p.paramcd for t, p in by_test.items()})
    name = done["PPTESTCD"].map({t: p.param for t, p in by_test.items()})
    suffix = done["PPGRPID"].map({t: letter for t, (letter, _) in _ANALYTE.items()})
    analyte = done["PPGRPID"].map({t: text for t, (_, text) in _ANALYTE.items()})
    out = done[["STUDYID", "USUBJID"]].copy()
    out["PARAMCD"] = code + suffix.fillna("X")
    out["PARAM"] = name + ", " + analyte.fillna(done["PPCAT"]) + " (" + done["PPSTRESU"] + ")"
    out["AVAL"] = done["PPSTRESN"]
    out["AVALU"] = done["PPSTRESU"]
    out["SRCDOM"] = "PP"
    out["SRCSEQ"] = done["PPSEQ"]
    out = _with_adsl(adsl, out, ("TRT01A",))
    return conform(out, dataset_spec("ADPP"))


def build_adis(adsl: pd.DataFrame, is_: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """ADIS: anti-CAR antibody results per sample (screen, confirmation, titer) at the analysis
    visit of IS's visit."""
    out = is_[["STUDYID", "USUBJID"]].copy()
    out = _with_adsl(adsl, out, ("TRT01A", "TRTSDT"))
    out["PARAMCD"] = is_["ISTESTCD"]
    out["PARAM"] = is_["ISTEST"]
    out["AVALC"] = is_["ISSTRESC"]
    out["AVAL"] = is_["ISSTRESN"]
    out["ADT"] = sas_date(from_iso(is_["ISDTC"]))
    out["ADY"] = relative_day(out["ADT"], out["TRTSDT"]).where(out["TRTSDT"].notna())
    out = pd.concat([out, analysis_visits(is_["VISIT"], is_["VISITNUM"], windows)], axis=1)
    out["SRCDOM"] = "IS"
    out["SRCSEQ"] = is_["ISSEQ"]
    return conform(out, dataset_spec("ADIS"))
