"""ADaM analysis datasets (ADaMIG v1.3): ADSL, ADAE (OCCDS), ADLB (BDS).

The analysis datasets are derived from the SDTM datasets of the same export (their ``--SEQ``,
dates and flags, recorded in ``SRCDOM``/``SRCSEQ`` for traceability) and from the same analysis
functions the report uses, so that a count or rate recomputed from ADaM equals the report's:
populations by :func:`cartrial.analysis.populations.population`, treatment emergence by
:func:`cartrial.analysis.safety.treatment_emergent_aes`. The efficacy and kinetics datasets are in
:mod:`cartrial.exchange.adam_bds`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.analysis.populations import population
from cartrial.analysis.safety import treatment_emergent_aes
from cartrial.exchange.adam_visits import analysis_visits
from cartrial.exchange.common import conform, from_iso, grade_text, sas_date, usubjid
from cartrial.exchange.metadata import dataset_spec

__all__ = [
    "POPULATION_FLAGS",
    "adsl_columns",
    "build_adae",
    "build_adlb",
    "build_adsl",
    "relative_day",
]

#: ADSL population flags and the protocol population each one marks.
POPULATION_FLAGS = {
    "ENRLFL": "enrolled",
    "SAFFL": "safety",
    "DLTEVLFL": "dlt_evaluable",
    "EFFFL": "efficacy_evaluable",
}


def relative_day(dates: pd.Series, start: pd.Series) -> pd.Series:
    """ADaM relative day (``ADY``): ``ADT - TRTSDT + 1`` on or after TRTSDT, else ``ADT - TRTSDT``.

    Both arguments are SAS date numbers (days since 1960-01-01).
    """
    delta = dates.astype(float) - start.astype(float)
    return pd.Series(np.where(delta >= 0, delta + 1, delta), index=dates.index)


def build_adsl(trial: TrialData, dm: pd.DataFrame) -> pd.DataFrame:
    """ADSL: one record per enrolled subject with populations, dose level and key dates."""
    s = trial.subjects.reset_index(drop=True)
    study = trial.protocol.study.id
    out = pd.DataFrame({"USUBJID": usubjid(study, s["subject_id"])})
    from_dm = dm.set_index("USUBJID")
    for name in ("STUDYID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "COUNTRY", "DTHFL"):
        out[name] = out["USUBJID"].map(from_dm[name])
    not_treated = out["USUBJID"].map(from_dm["ARMNRS"])
    for adsl, sdtm in (("ARM", "ARM"), ("ACTARM", "ACTARM")):
        out[adsl] = out["USUBJID"].map(from_dm[sdtm]).fillna(not_treated)
    # the dose level itself, whatever the phase (DM's expansion arms are EXP-<level>)
    level = s["dose_level"].where(s["infusion_date"].notna())
    out["TRT01P"] = level.astype(object).where(level.notna(), not_treated)
    out["TRT01A"] = level.astype(object).where(level.notna(), None)
    levels = [d.name for d in trial.protocol.treatment.dose_levels]
    out["TRT01AN"] = out["TRT01A"].map({name: i + 1 for i, name in enumerate(levels)})
    out["PHASE"] = s["phase"].astype(str).str.upper().where(s["phase"].notna())
    out["INDIC"] = s["indication"].astype(str).str.upper().where(s["indication"].notna())
    out["ECOGBL"] = s["ecog"]
    out["CELLDOSE"] = s["cells_infused"]
    for flag, name in POPULATION_FLAGS.items():
        members = set(population(trial, name)["subject_id"])
        out[flag] = np.where(s["subject_id"].isin(members), "Y", "N")
    out["ENRLDT"] = sas_date(s["enrolled_date"])
    out["LDSTDT"] = sas_date(s["lymphodepletion_date"])
    out["TRTSDT"] = out["TRTEDT"] = sas_date(s["infusion_date"])
    out["DTHDT"] = sas_date(s["death_date"])
    out["DTHCAUS"] = s["death_cause"].where(s["death_date"].notna() & (s["death_cause"] != ""))
    alive = s["death_date"].fillna(s["last_contact_date"])
    out["LSTALVDT"] = sas_date(alive.where(alive <= trial.data_cutoff, trial.data_cutoff))
    out["WDDT"] = sas_date(s["withdrawn_date"])
    out["NTHDT"] = sas_date(s["subsequent_therapy_date"])
    out["CUTOFFDT"] = float((trial.data_cutoff - pd.Timestamp("1960-01-01")).days)
    return conform(out, dataset_spec("ADSL"))


def adsl_columns(adsl: pd.DataFrame, usubjids: pd.Series, names: tuple[str, ...]) -> pd.DataFrame:
    """The ADSL variables ``names`` for each subject of ``usubjids`` (BDS/OCCDS copies)."""
    indexed = adsl.set_index("USUBJID")
    return pd.DataFrame(
        {name: usubjids.map(indexed[name]).to_numpy() for name in names}, index=usubjids.index
    )


def build_adae(
    trial: TrialData, adsl: pd.DataFrame, ae: pd.DataFrame, suppae: pd.DataFrame
) -> pd.DataFrame:
    """ADAE: AE with treatment emergence, numeric grade, DLT flag and worst-grade flags."""
    out = ae[["STUDYID", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESER", "AEREL"]]
    out = out.copy()
    copies = adsl_columns(adsl, out["USUBJID"], ("SUBJID", "SITEID", "TRT01A", "PHASE", "SAFFL"))
    out = pd.concat([out, copies], axis=1)
    related = {"POSSIBLY RELATED", "PROBABLY RELATED", "RELATED"}
    out["AREL"] = out["AEREL"].map(lambda r: None if r is None else r in related)
    out["AREL"] = out["AREL"].map({True: "RELATED", False: "NOT RELATED", None: None})
    out["ASTDT"] = sas_date(from_iso(ae["AESTDTC"]))
    out["AENDT"] = sas_date(from_iso(ae["AEENDTC"]))
    start = adsl_columns(adsl, out["USUBJID"], ("TRTSDT",))["TRTSDT"]
    out["ASTDY"] = relative_day(out["ASTDT"], start).where(start.notna())
    te = treatment_emergent_aes(trial)
    te_ids = set(te["ae_id"].astype(str))
    out["TRTEMFL"] = np.where(ae["AESPID"].isin(te_ids), "Y", "N")
    out["ATOXGR"] = ae["AETOXGR"]
    out["ATOXGRN"] = pd.to_numeric(ae["AETOXGR"])
    dlt = suppae.loc[suppae["QNAM"] == "AEDLT"].set_index(["USUBJID", "IDVARVAL"])["QVAL"]
    keys = pd.MultiIndex.from_arrays([out["USUBJID"], grade_text(out["AESEQ"])])
    out["DLTFL"] = dlt.reindex(keys).to_numpy()
    out["AOCCIFL"] = _first_worst(out, ["USUBJID"])
    out["AOCCPIFL"] = _first_worst(out, ["USUBJID", "AEDECOD"])
    return conform(out, dataset_spec("ADAE"))


def _first_worst(adae: pd.DataFrame, by: list[str]) -> pd.Series:
    """Y on the first treatment-emergent record of the highest grade within each ``by`` group."""
    te = adae.loc[adae["TRTEMFL"] == "Y"]
    ranked = te.sort_values(["ATOXGRN", "ASTDT", "AESEQ"], ascending=[False, True, True])
    first = ranked.groupby(by, sort=False).head(1).index
    flag = pd.Series(None, index=adae.index, dtype=object)
    flag.loc[first] = "Y"
    return flag


def build_adlb(adsl: pd.DataFrame, lb: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """ADLB: lab results with baseline, change, toxicity grades and their shift from baseline,
    at the analysis visit of LB's visit (``windows``: :func:`~.adam_visits.visit_windows`)."""
    out = lb[["STUDYID", "USUBJID"]].copy()
    out = pd.concat([out, adsl_columns(adsl, out["USUBJID"], ("TRT01A", "SAFFL"))], axis=1)
    out["PARAMCD"] = lb["LBTESTCD"]
    unit = lb["LBSTRESU"].fillna("")
    out["PARAM"] = (lb["LBTEST"] + " (" + unit + ")").where(unit != "", lb["LBTEST"])
    out["AVAL"] = lb["LBSTRESN"]
    out["ADT"] = sas_date(from_iso(lb["LBDTC"]))
    start = adsl_columns(adsl, out["USUBJID"], ("TRTSDT",))["TRTSDT"]
    out["ADY"] = relative_day(out["ADT"], start).where(start.notna())
    out = pd.concat([out, analysis_visits(lb["VISIT"], lb["VISITNUM"], windows)], axis=1)
    out["ABLFL"] = lb["LBBLFL"]
    out["ANRLO"] = lb["LBSTNRLO"]
    out["ANRHI"] = lb["LBSTNRHI"]
    out["ATOXGR"] = lb["LBTOXGR"]
    out["ATOXGRN"] = pd.to_numeric(lb["LBTOXGR"])
    base = out.loc[out["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])
    keys = pd.MultiIndex.from_frame(out[["USUBJID", "PARAMCD"]])
    out["BASE"] = base["AVAL"].reindex(keys).to_numpy()
    out["BTOXGR"] = base["ATOXGR"].reindex(keys).to_numpy()
    groups = [out["USUBJID"], out["PARAMCD"]]
    baseline_date = out["ADT"].where(out["ABLFL"] == "Y").groupby(groups).transform("max")
    post = (out["ADT"] > baseline_date) & out["BASE"].notna()
    out["CHG"] = (out["AVAL"] - out["BASE"]).where(post)
    shift = out["BTOXGR"].astype(str) + " to " + out["ATOXGR"].astype(str)
    out["SHIFT1"] = shift.where(post & out["BTOXGR"].notna() & out["ATOXGR"].notna())
    out["SRCDOM"] = "LB"
    out["SRCSEQ"] = lb["LBSEQ"]
    return conform(out, dataset_spec("ADLB"))
