"""SDTM tabulations (SDTMIG v3.4) from the trial's read model: trial design, subjects, events.

Every builder is a pure function of a :class:`~cartrial.analysis.TrialData` (the services' read
model as of a data cut-off) and returns a DataFrame with the variables of ``data/cdisc`` in their
order (:func:`~cartrial.exchange.common.conform`). The findings domains are in
:mod:`cartrial.exchange.sdtm_findings`; :func:`build_sdtm` assembles all of them.

Mapping choices (each also in the variable's derivation, hence in Define-XML):

* the reference start date ``RFSTDTC`` is the CAR-T infusion (study day 1);
* the arm is the dose level by its protocol name (``ARMCD`` = ``"DL1"``; ``"EXP-DL1"`` in the
  expansion, :mod:`cartrial.exchange.sdtm_design`), planned and actual alike because cartrial
  assigns the dose the subject then receives; a subject enrolled but not infused has no arm and
  ``ARMNRS`` = ``"ASSIGNED, NOT TREATED"``; a screen failure is in DM (and DS, IE) with
  ``ARMNRS`` = ``"SCREEN FAILURE"`` (SDTMIG 3.4 section 5.2, DM assumption 7);
* EX holds the CAR-T infusion and each lymphodepleting administration (agent, dose, unit);
* CM holds the CRS/ICANS medications ticked on the daily form (tocilizumab, corticosteroids;
  ``CMCAT`` CONCOMITANT MEDICATION, ``CMSCAT`` CRS/ICANS MANAGEMENT) and the anticancer therapies
  started after the infusion (``CMCAT`` SUBSEQUENT ANTICANCER THERAPY);
* the adjudicated DLT flag is the supplemental qualifier ``SUPPAE.QNAM = "AEDLT"``;
* EX carries the visit of each administration (the infusion visit, the lymphodepletion visit) and
  CM the visit of the daily CRS/ICANS form that recorded a medication (SDTMIG v3.4 EX and CM
  assumptions: timing variables may be added); AE carries none: an adverse event is recorded
  with its onset date on its own form, not at a visit, and SDTMIG v3.4 (section 4.4, AE
  assumption 5b) makes its start date its timing, other timing variables only when appropriate
  (``docs/cdisc.md``).
"""

from __future__ import annotations

import pandas as pd
import pycountry

from cartrial.analysis import TrialData, normalise_trial_data
from cartrial.exchange.common import (
    conform,
    grade_text,
    identifiers,
    iso_date,
    reference_dates,
    sequence,
    study_day,
)
from cartrial.exchange.metadata import dataset_spec
from cartrial.exchange.sdtm_design import (
    DESIGN_BUILDERS,
    arm_code,
    arm_label,
    design_dataset,
    visits_of,
)
from cartrial.exchange.sdtm_findings import FINDINGS
from cartrial.exchange.sdtm_pp import build_pp
from cartrial.exchange.sdtm_subject import build_ie, build_relrec, build_sv, build_vs

__all__ = ["SDTM_BUILDERS", "build_sdtm", "country_alpha3"]

_RELATION = {
    "unrelated": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED",
    "probable": "PROBABLY RELATED",
    "definite": "RELATED",
}
_OUTCOME = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}


def country_alpha3(alpha2: str | None) -> str | None:
    """ISO 3166-1 alpha-3 code (SDTM ``COUNTRY``) of an alpha-2 site country, via pycountry."""
    if not alpha2:
        return None
    country = pycountry.countries.get(alpha_2=str(alpha2).upper())
    return None if country is None else str(country.alpha_3)


def _not_enrolled(trial: TrialData) -> pd.DataFrame:
    """Screened subjects never enrolled (by the cut-off), in the subjects table's columns DM and
    DS read, with ``ARMNRS``: SCREEN FAILURE when a criterion was not met, NOT ASSIGNED when
    the subject withdrew before enrolment. An eligible subject still awaiting enrolment is not
    in DM yet."""
    screening = trial.screening
    eligible = screening["eligible"].astype("boolean").fillna(False).astype(bool)
    withdrawn = screening["withdrawn_date"].notna()
    out = screening.loc[
        (~eligible | withdrawn) & ~screening["subject_id"].isin(trial.subjects["subject_id"])
    ]
    no_date = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    screened = pd.to_datetime(out["screened_date"])
    failed = ~eligible[out.index]
    return pd.DataFrame(
        {
            "subject_id": out["subject_id"],
            "site_id": out["site_id"],
            "country": out["country"] if "country" in out.columns else None,
            "age": out["age"],
            "sex": out["sex"],
            "screen_failure_date": screened.where(failed),
            "withdrawn_date": pd.to_datetime(out["withdrawn_date"]),
            "infusion_date": no_date,
            "death_date": no_date,
            "last_contact_date": pd.concat(
                [screened, pd.to_datetime(out["withdrawn_date"])], axis=1
            ).max(axis=1),
            "ARMNRS": failed.map({True: "SCREEN FAILURE", False: "NOT ASSIGNED"}),
        }
    )


def build_ts(trial: TrialData) -> pd.DataFrame:
    """TS: the trial summary parameters the protocol file defines."""
    p = trial.protocol
    study = p.study
    doses = p.treatment.dose_levels
    planned = p.escalation.planned_subjects + (p.expansion.planned_subjects if p.expansion else 0)
    params: list[tuple[str, str, str]] = [
        ("TITLE", "Trial Title", study.title),
        ("PROTVERS", "Protocol Version", study.version),
        ("TPHASE", "Trial Phase Classification", f"PHASE {study.phase.upper()} TRIAL"),
        ("STYPE", "Study Type", "INTERVENTIONAL"),
        ("SPONSOR", "Clinical Study Sponsor", study.sponsor),
        ("TRT", "Investigational Therapy or Treatment", study.product),
        ("ROUTE", "Route of Administration", p.treatment.route.upper()),
        ("RANDOM", "Trial is Randomized", "N"),
        ("TBLIND", "Trial Blinding Schema", "OPEN LABEL"),
        ("TCNTRL", "Control Type", "NONE"),
        ("PLANSUB", "Planned Number of Subjects", str(planned)),
        ("AGEMIN", "Planned Minimum Age of Subjects", f"P{p.eligibility.age_min}Y"),
        ("AGEMAX", "Planned Maximum Age of Subjects", f"P{p.eligibility.age_max}Y"),
        *[("INDIC", "Trial Disease/Condition Indication", i.upper()) for i in study.indications],
        *[("DOSE", "Dose per Administration", f"{d.cells:g}") for d in doses],
        ("DOSU", "Dose Units", "CELLS"),
    ]
    primary = [e for e in p.endpoints if e.kind == "primary"]
    params += [("OBJPRIM", "Trial Primary Objective", e.name) for e in primary]
    frame = pd.DataFrame(params, columns=["TSPARMCD", "TSPARM", "TSVAL"])
    frame["TSSEQ"] = frame.groupby("TSPARMCD").cumcount() + 1
    frame["TSVAL"] = frame["TSVAL"].str.slice(0, 200)
    return design_dataset(trial, "TS", frame)


def _with_not_enrolled(trial: TrialData) -> pd.DataFrame:
    """The subjects table, then the subjects screened and never enrolled (:func:`_not_enrolled`)."""
    others = _not_enrolled(trial)
    if not len(others):
        return trial.subjects.reset_index(drop=True)
    return pd.concat([trial.subjects, others], ignore_index=True)


def build_dm(trial: TrialData) -> pd.DataFrame:
    """DM: one record per enrolled subject, then one per subject screened and not enrolled."""
    s = _with_not_enrolled(trial)
    out = identifiers(trial, "DM", s)
    arm = arm_label(trial.protocol)
    infused = s["infusion_date"].notna()
    out["SUBJID"] = s["subject_id"].astype(str)
    start = iso_date(s["infusion_date"])
    for name in ("RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC"):
        out[name] = start
    end = pd.concat([s["death_date"], s["withdrawn_date"], s["last_contact_date"]], axis=1)
    out["RFPENDTC"] = iso_date(end.max(axis=1))
    out["DTHDTC"] = iso_date(s["death_date"])
    out["DTHFL"] = s["death_date"].notna().map({True: "Y", False: None})
    out["SITEID"] = s["site_id"].astype(str)
    out["AGE"] = s["age"]
    out["AGEU"] = s["age"].notna().map({True: "YEARS", False: None})
    out["SEX"] = s["sex"].fillna("U")
    level = arm_code(s["dose_level"].where(infused), s["phase"])
    out["ARMCD"] = out["ACTARMCD"] = level
    out["ARM"] = out["ACTARM"] = level.map(arm)
    reason = s["ARMNRS"] if "ARMNRS" in s.columns else pd.Series(None, index=s.index)
    out["ARMNRS"] = reason.where(
        reason.notna(), infused.map({True: None, False: "ASSIGNED, NOT TREATED"})
    )
    country = s["country"] if "country" in s.columns else pd.Series(None, index=s.index)
    out["COUNTRY"] = country.map(country_alpha3)
    return conform(out, dataset_spec("DM"))


def build_ds(trial: TrialData) -> pd.DataFrame:
    """DS: deaths, withdrawals and screen failures (disposition events) by the cut-off."""
    s = _with_not_enrolled(trial)
    events = []
    for column, term in (
        ("death_date", "DEATH"),
        ("withdrawn_date", "WITHDRAWAL BY SUBJECT"),
        ("screen_failure_date", "SCREEN FAILURE"),
    ):
        if column not in s.columns:
            continue
        rows = s.loc[s[column].notna(), ["subject_id", column, "infusion_date"]]
        events.append(
            pd.DataFrame(
                {
                    "subject_id": rows["subject_id"],
                    "date": rows[column],
                    "reference": rows["infusion_date"],
                    "DSTERM": term,
                    "DSDECOD": term,
                    "DSCAT": "DISPOSITION EVENT",
                }
            )
        )
    frame = pd.concat(events, ignore_index=True)
    out = identifiers(trial, "DS", frame)
    for name in ("DSTERM", "DSDECOD", "DSCAT"):
        out[name] = frame[name]
    out["DSSTDTC"] = iso_date(frame["date"])
    out["DSSTDY"] = study_day(frame["date"], frame["reference"])
    out["DSSEQ"] = sequence(out.assign(_d=frame["date"]), ["_d", "DSDECOD"])
    return conform(out, dataset_spec("DS"))


def build_ex(trial: TrialData) -> pd.DataFrame:
    """EX: the CAR-T infusion (CAR+ T cells actually infused) and each lymphodepleting dose."""
    s = trial.subjects.loc[trial.subjects["infusion_date"].notna()]
    ld = trial.lymphodepletion
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "subject_id": s["subject_id"],
                    "date": s["infusion_date"],
                    "EXTRT": trial.protocol.study.product.upper(),
                    "EXCAT": "CAR-T CELL INFUSION",
                    "EXDOSE": s["cells_infused"],
                    "EXDOSU": "CELLS",
                    "EXDOSFRM": "SUSPENSION",
                    "assessment": "infusion",
                }
            ),
            pd.DataFrame(
                {
                    "subject_id": ld["subject_id"],
                    "date": pd.to_datetime(ld["date"]),
                    "EXTRT": ld["agent"].astype(str).str.upper(),
                    "EXCAT": "LYMPHODEPLETING CHEMOTHERAPY",
                    "EXDOSE": pd.to_numeric(ld["dose"]),
                    "EXDOSU": ld["unit"],
                    "EXDOSFRM": "INJECTION",
                    "assessment": "lymphodepletion",
                }
            ),
        ],
        ignore_index=True,
    )
    out = identifiers(trial, "EX", frame)
    for name in ("EXTRT", "EXCAT", "EXDOSE", "EXDOSU", "EXDOSFRM"):
        out[name] = frame[name]
    out["EXDOSFRQ"] = "ONCE"
    out["EXROUTE"] = trial.protocol.treatment.route.upper()
    # the visit of the administration (SV places the same records in the same visits)
    visits = visits_of(trial, frame["subject_id"], frame["date"], frame["assessment"])
    out["VISITNUM"] = visits["VISITNUM"]
    out["VISIT"] = visits["VISIT"]
    out["EXSTDTC"] = out["EXENDTC"] = iso_date(frame["date"])
    out["EXSTDY"] = study_day(frame["date"], reference_dates(trial, frame["subject_id"]))
    out["EXSEQ"] = sequence(out.assign(_d=frame["date"]), ["_d", "EXCAT", "EXTRT"])
    return conform(out, dataset_spec("EX"))


def build_cm(trial: TrialData) -> pd.DataFrame:
    """CM: tocilizumab and corticosteroids for CRS/ICANS, and subsequent anticancer therapy."""
    days = trial.crs_icans
    parts = []
    for column, drug in (("tocilizumab", "TOCILIZUMAB"), ("steroids", "CORTICOSTEROIDS")):
        given = days.loc[days[column].astype("boolean").fillna(False).astype(bool)]
        crs = given["crs_grade"].fillna(0) > 0
        icans = given["icans_grade"].fillna(0) > 0
        indication = pd.Series("CYTOKINE RELEASE SYNDROME", index=given.index)
        indication = indication.where(~icans | crs, "ICANS")
        indication = indication.where(~(icans & crs), "CYTOKINE RELEASE SYNDROME AND ICANS")
        parts.append(
            given.assign(
                CMTRT=drug,
                CMINDC=indication,
                CMCAT="CONCOMITANT MEDICATION",
                CMSCAT="CRS/ICANS MANAGEMENT",
                end=given["date"],
                assessment="crs_icans",
            )
        )
    therapy = trial.subsequent_therapies
    parts.append(
        pd.DataFrame(
            {
                "subject_id": therapy["subject_id"],
                "date": pd.to_datetime(therapy["start_date"]),
                "CMTRT": therapy["therapy"].astype(str),
                "CMINDC": None,
                "CMCAT": "SUBSEQUENT ANTICANCER THERAPY",
                "CMSCAT": None,
                "end": pd.NaT,
                "assessment": None,
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True)
    out = identifiers(trial, "CM", frame)
    for name in ("CMTRT", "CMCAT", "CMSCAT", "CMINDC"):
        out[name] = frame[name]
    # the daily form's visit for the CRS/ICANS medications; subsequent therapy is no visit's
    visits = visits_of(trial, frame["subject_id"], frame["date"], frame["assessment"])
    out["VISITNUM"] = visits["VISITNUM"]
    out["VISIT"] = visits["VISIT"]
    out["CMSTDTC"] = iso_date(frame["date"])
    out["CMENDTC"] = iso_date(pd.to_datetime(frame["end"]))
    out["CMSTDY"] = study_day(frame["date"], reference_dates(trial, frame["subject_id"]))
    out["CMSEQ"] = sequence(out.assign(_d=frame["date"]), ["_d", "CMTRT"])
    return conform(out, dataset_spec("CM"))


def build_ae(trial: TrialData) -> pd.DataFrame:
    """AE: every adverse event with its worst grade by the cut-off (CTCAE v5.0 / ASTCT)."""
    ae = trial.adverse_events.copy()
    out = identifiers(trial, "AE", ae)
    out["AESPID"] = ae["ae_id"].astype(str)
    out["AETERM"] = ae["term"]
    out["AEDECOD"] = ae["term"]
    out["AEBODSYS"] = out["AESOC"] = ae["soc"]
    out["AESER"] = ae["serious"].astype("boolean").map({True: "Y", False: "N"})
    out["AEREL"] = ae["attribution"].map(_RELATION)
    out["AEOUT"] = ae["outcome"].map(_OUTCOME)
    out["AETOXGR"] = grade_text(ae["grade"])
    reference = reference_dates(trial, ae["subject_id"])
    out["AESTDTC"] = iso_date(ae["onset_date"])
    out["AEENDTC"] = iso_date(ae["resolution_date"])
    out["AESTDY"] = study_day(ae["onset_date"], reference)
    out["AEENDY"] = study_day(ae["resolution_date"], reference)
    out["AESEQ"] = sequence(out.assign(_d=ae["onset_date"], _id=ae["ae_id"]), ["_d", "_id"])
    return conform(out, dataset_spec("AE"))


def build_suppae(trial: TrialData, ae: pd.DataFrame) -> pd.DataFrame:
    """SUPPAE: the adjudicated DLT flag (``QNAM = AEDLT``) of every adjudicated AE."""
    events = trial.adverse_events.assign(AESPID=trial.adverse_events["ae_id"].astype(str))
    flags = events.loc[events["is_dlt"].notna(), ["AESPID", "is_dlt"]]
    linked = ae[["USUBJID", "AESPID", "AESEQ"]].merge(flags, on="AESPID", how="inner")
    out = pd.DataFrame(
        {
            "STUDYID": trial.protocol.study.id,
            "RDOMAIN": "AE",
            "USUBJID": linked["USUBJID"],
            "IDVAR": "AESEQ",
            "IDVARVAL": grade_text(linked["AESEQ"]),
            "QNAM": "AEDLT",
            "QLABEL": "Dose-Limiting Toxicity",
            "QVAL": linked["is_dlt"].astype(bool).map({True: "Y", False: "N"}),
            "QORIG": "Assigned",
            "QEVAL": "SAFETY REVIEW COMMITTEE",
        }
    )
    return conform(out, dataset_spec("SUPPAE"))


#: Domains built from the trial alone, in output order (SUPPAE follows AE in :func:`build_sdtm`).
SDTM_BUILDERS = {
    "TS": build_ts,
    **DESIGN_BUILDERS,
    "DM": build_dm,
    "DS": build_ds,
    "SV": build_sv,
    "EX": build_ex,
    "CM": build_cm,
    "AE": build_ae,
}


def build_sdtm(trial: TrialData) -> dict[str, pd.DataFrame]:
    """Every SDTM dataset cartrial writes, by name, from the read model ``trial``.

    The order is ``datasets.csv``'s: trial design, special purpose, interventions and events,
    findings, then RELREC (built from the others).
    """
    data = normalise_trial_data(trial)
    datasets = {name: build(data) for name, build in SDTM_BUILDERS.items()}
    datasets["SUPPAE"] = build_suppae(data, datasets["AE"])
    datasets["IE"] = build_ie(data)
    for name, build_findings in FINDINGS.items():
        datasets[name] = build_findings(data)
        if name == "FA":
            datasets["VS"] = build_vs(data)
        if name == "PC":
            datasets["PP"] = build_pp(data)
    datasets["RELREC"] = build_relrec(data, datasets)
    return datasets
