"""SDTM subject-level domains built beside the others: IE, SV, VS and RELREC (SDTMIG v3.4).

* IE: the eligibility criteria a screened subject did not meet (SDTMIG 3.4 6.3.4: IE holds only
  the criteria not met), with the TI short name and text of the protocol's criterion.
* SV: the visits each subject actually had. cartrial keeps no visit form; every dated record of
  an assessment (screening, lymphodepletion, infusion, labs, CRS/ICANS days, scans, samples) is
  placed in the scheduled visit whose window holds its day for that assessment, nearest nominal
  day first (:func:`cartrial.exchange.sdtm_design.visits_of`, which also gives the findings
  domains their VISITNUM), and the visit spans the first to the last of its records. Screening
  belongs to the first visit with the eligibility check whatever its day (a screen failure has
  no infusion to count days from). Records outside every window are not visits of the schedule
  and are left out.
* VS: body temperature of the daily CRS/ICANS form, the one vital sign the study records as a
  number (hypotension is a yes/no input of the ASTCT grading and oxygen a device and flow, so
  neither is a VS measurement; they are not exported).
* RELREC: an AE and its DLT adjudication (FA, ``RELID`` ``DLT-<AESEQ>``); a CRS or ICANS AE and
  the tocilizumab or corticosteroid records of CM given during it (``CRS-<AESEQ>``); the PC
  samples of a subject's kinetic profile and the PP parameters computed from them, by their group
  IDs (``PK-<PCTESTCD>``: SDTMIG 3.4's PP section: PCGRPID to PPGRPID, many to many); and
  the dataset-level link of TU and TR lesions by their link ID (``TUTR``, SDTMIG 3.4 section 8.3).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.errors import ExchangeError
from cartrial.exchange.common import (
    as_dates,
    conform,
    grade_text,
    identifiers,
    iso_date,
    number_text,
    reference_dates,
    sequence,
    study_day,
)
from cartrial.exchange.metadata import dataset_spec
from cartrial.exchange.sdtm_design import (
    criterion_texts,
    scheduled_visits,
    sdtm_study_day,
    visits_of,
)

__all__ = ["build_ie", "build_relrec", "build_sv", "build_vs", "visit_records"]

#: AE terms (CTCAE v5.0 / ASTCT) whose medications CM records on the daily CRS/ICANS form.
_SYNDROMES = {
    "cytokine release syndrome": "CYTOKINE RELEASE SYNDROME",
    "immune effector cell-associated neurotoxicity syndrome": "ICANS",
}


def build_ie(trial: TrialData) -> pd.DataFrame:
    """IE: each criterion a screened subject did not meet (inclusion not met, exclusion met)."""
    checks = trial.eligibility
    failed = checks.loc[~checks["met"].astype("boolean").fillna(True).astype(bool)]
    failed = failed.reset_index(drop=True)
    texts = criterion_texts(trial.protocol)
    unknown = sorted(set(failed["criterion"]) - set(texts))
    if unknown:
        raise ExchangeError(
            f"IE: eligibility criteria without a TI short name in data/cdisc/criteria.csv: "
            f"{unknown}"
        )
    out = identifiers(trial, "IE", failed)
    code = failed["criterion"]
    out["IETESTCD"] = code.map({c: t[0] for c, t in texts.items()})
    out["IETEST"] = code.map({c: t[1] for c, t in texts.items()})
    out["IECAT"] = code.map({c: t[2] for c, t in texts.items()})
    out["IEORRES"] = out["IECAT"].map({"INCLUSION": "N", "EXCLUSION": "Y"})
    out["IESTRESC"] = out["IEORRES"]
    out["IEDTC"] = iso_date(failed["date"])
    out["IEDY"] = study_day(failed["date"], reference_dates(trial, failed["subject_id"]))
    order = {c: i for i, c in enumerate(texts)}
    out["IESEQ"] = sequence(out.assign(_o=code.map(order)), ["_o"])
    return conform(out, dataset_spec("IE"))


def visit_records(trial: TrialData) -> pd.DataFrame:
    """Every dated record as ``subject_id``, ``date`` and the ``assessment`` it belongs to."""
    s = trial.subjects
    sources: list[tuple[pd.DataFrame, str, str]] = [
        (trial.lymphodepletion, "date", "lymphodepletion"),
        (s.loc[s["infusion_date"].notna()], "infusion_date", "infusion"),
        (trial.labs, "date", "labs"),
        (trial.crs_icans, "date", "crs_icans"),
        (trial.tumour_timepoints, "assessment_date", "tumour"),
        (trial.lesions, "assessment_date", "tumour"),
        (trial.kinetics, "date", "kinetics"),
        (trial.ada, "date", "ada"),
        (trial.phenotype, "date", "phenotype"),
    ]
    parts = [
        pd.DataFrame({"subject_id": frame["subject_id"], "date": as_dates(frame[column])}).assign(
            assessment=assessment
        )
        for frame, column, assessment in sources
        if len(frame)
    ]
    return (
        pd.concat(parts, ignore_index=True).drop_duplicates().reset_index(drop=True)
        if parts
        else pd.DataFrame({"subject_id": [], "date": pd.Series(dtype="datetime64[ns]"),
                           "assessment": []})
    )  # fmt: skip


def build_sv(trial: TrialData) -> pd.DataFrame:
    """SV: the scheduled visits each subject had, from the first to the last record of each."""
    visits = scheduled_visits(trial.protocol)
    nominal = {v.name: v.day for v in visits}
    records = visit_records(trial)
    placed = pd.concat(
        [records, visits_of(trial, records["subject_id"], records["date"], records["assessment"])],
        axis=1,
    )
    frames = [placed.loc[placed["VISIT"].notna(), ["subject_id", "date", "VISIT", "VISITNUM"]]]
    screening = trial.protocol.schedule.visits_with("eligibility")
    if screening and len(trial.screening):
        screened = trial.screening.loc[trial.screening["screened_date"].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "subject_id": screened["subject_id"],
                    "date": as_dates(screened["screened_date"]),
                    "VISIT": screening[0].name,
                    "VISITNUM": float(visits.index(screening[0]) + 1),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    spans = (
        frame.groupby(["subject_id", "VISITNUM", "VISIT"], sort=False)["date"]
        .agg(["min", "max"])
        .reset_index()
    )
    out = identifiers(trial, "SV", spans)
    out["VISITNUM"] = spans["VISITNUM"]
    out["VISIT"] = spans["VISIT"]
    out["VISITDY"] = spans["VISIT"].map(lambda v: sdtm_study_day(nominal[v]))
    out["SVSTDTC"] = iso_date(spans["min"])
    out["SVENDTC"] = iso_date(spans["max"])
    reference = reference_dates(trial, spans["subject_id"])
    out["SVSTDY"] = study_day(spans["min"], reference)
    out["SVENDY"] = study_day(spans["max"], reference)
    return conform(out, dataset_spec("SV"))


def build_vs(trial: TrialData) -> pd.DataFrame:
    """VS: the body temperature of each daily CRS/ICANS assessment (degrees Celsius)."""
    days = trial.crs_icans
    if "temperature_c" not in days.columns:
        days = days.assign(temperature_c=np.nan)
    temp = days.loc[pd.to_numeric(days["temperature_c"]).notna()].reset_index(drop=True)
    out = identifiers(trial, "VS", temp)
    visits = visits_of(trial, temp["subject_id"], temp["date"], pd.Series("crs_icans", temp.index))
    out["VISITNUM"] = visits["VISITNUM"]
    out["VISIT"] = visits["VISIT"]
    value = pd.to_numeric(temp["temperature_c"]).astype(float)
    out["VSTESTCD"] = "TEMP"
    out["VSTEST"] = "Temperature"
    out["VSCAT"] = "CRS/ICANS MONITORING"
    out["VSORRES"] = out["VSSTRESC"] = number_text(value)
    out["VSORRESU"] = out["VSSTRESU"] = "C"
    out["VSSTRESN"] = value
    out["VSDTC"] = iso_date(temp["date"])
    infusion = reference_dates(trial, temp["subject_id"])
    out["VSDY"] = study_day(temp["date"], infusion)
    dates = as_dates(temp["date"])
    before = temp.loc[dates <= as_dates(infusion)]
    last = before.assign(_d=dates).sort_values("_d", kind="stable").groupby("subject_id").tail(1)
    out["VSBLFL"] = pd.Series(None, index=temp.index, dtype=object)
    out.loc[last.index, "VSBLFL"] = "Y"
    out["VSSEQ"] = sequence(out, ["VSDTC", "VSTESTCD"])
    return conform(out, dataset_spec("VS"))


def _pairs(study: str, left: pd.DataFrame, right: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """RELREC rows of record-level pairs: ``left`` and ``right`` have RDOMAIN, USUBJID, IDVAR,
    IDVARVAL and ``key`` (the AESEQ that names the relationship)."""
    both = pd.concat([left, right], ignore_index=True)
    both["STUDYID"] = study
    both["RELID"] = prefix + both.pop("key")
    return both


def _seq_text(values: pd.Series) -> pd.Series:
    return grade_text(values)


def _pk_profiles(study: str, datasets: Mapping[str, pd.DataFrame]) -> list[pd.DataFrame]:
    """RELREC rows of each subject's PK profile: its PC samples (``PCGRPID``) and the PP
    parameters computed from them (``PPGRPID``), when both have records."""
    pc, pp = datasets.get("PC"), datasets.get("PP")
    if pc is None or pp is None or not len(pc) or not len(pp):
        return []
    samples = pc.loc[pc["PCGRPID"].notna(), ["USUBJID", "PCGRPID"]].drop_duplicates()
    profiles = pp[["USUBJID", "PPGRPID"]].drop_duplicates()
    both = profiles.merge(samples, left_on=["USUBJID", "PPGRPID"], right_on=["USUBJID", "PCGRPID"])
    if not len(both):
        return []
    group = both["PPGRPID"].astype(str)
    return [
        _pairs(
            study,
            pd.DataFrame({"RDOMAIN": "PC", "USUBJID": both["USUBJID"], "IDVAR": "PCGRPID",
                          "IDVARVAL": group, "key": group}),
            pd.DataFrame({"RDOMAIN": "PP", "USUBJID": both["USUBJID"], "IDVAR": "PPGRPID",
                          "IDVARVAL": group, "key": group}),
            "PK-",
        )
    ]  # fmt: skip


def build_relrec(trial: TrialData, datasets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """RELREC: AE and DLT adjudication, CRS/ICANS AE and its medications, PC samples and PP
    parameters of a PK profile, TU and TR lesions."""
    study = trial.protocol.study.id
    ae, fa, cm = datasets["AE"], datasets["FA"], datasets["CM"]
    parts = []
    dlt = fa.loc[fa["FACAT"] == "DLT ADJUDICATION", ["USUBJID", "FASEQ", "FALNKID"]]
    linked = dlt.merge(
        ae[["USUBJID", "AESPID", "AESEQ"]],
        left_on=["USUBJID", "FALNKID"],
        right_on=["USUBJID", "AESPID"],
    )
    if len(linked):
        key = _seq_text(linked["AESEQ"])
        parts.append(
            _pairs(
                study,
                pd.DataFrame({"RDOMAIN": "AE", "USUBJID": linked["USUBJID"], "IDVAR": "AESEQ",
                              "IDVARVAL": key, "key": key}),
                pd.DataFrame({"RDOMAIN": "FA", "USUBJID": linked["USUBJID"], "IDVAR": "FASEQ",
                              "IDVARVAL": _seq_text(linked["FASEQ"]), "key": key}),
                "DLT-",
            )
        )  # fmt: skip
    syndrome = ae["AEDECOD"].astype(str).str.lower().map(_SYNDROMES)
    events = ae.loc[syndrome.notna(), ["USUBJID", "AESEQ", "AESTDTC", "AEENDTC"]].assign(
        syndrome=syndrome
    )
    given = cm.loc[
        cm["CMSCAT"] == "CRS/ICANS MANAGEMENT", ["USUBJID", "CMSEQ", "CMSTDTC", "CMINDC"]
    ]
    during = events.merge(given, on="USUBJID")
    end = during["AEENDTC"].fillna(iso_date(pd.Series([trial.data_cutoff] * len(during))))
    treated = (
        (during["CMSTDTC"] >= during["AESTDTC"])
        & (during["CMSTDTC"] <= end.to_numpy())
        & pd.Series(
            [s in str(i) for s, i in zip(during["syndrome"], during["CMINDC"], strict=True)],
            index=during.index,
            dtype=bool,
        )
    )
    during = during.loc[treated].reset_index(drop=True)
    if len(during):
        key = _seq_text(during["AESEQ"])
        events_side = pd.DataFrame(
            {"RDOMAIN": "AE", "USUBJID": during["USUBJID"], "IDVAR": "AESEQ",
             "IDVARVAL": key, "key": key}
        ).drop_duplicates()  # fmt: skip
        parts.append(
            _pairs(
                study,
                events_side,
                pd.DataFrame({"RDOMAIN": "CM", "USUBJID": during["USUBJID"], "IDVAR": "CMSEQ",
                              "IDVARVAL": _seq_text(during["CMSEQ"]), "key": key}),
                "CRS-",
            )
        )  # fmt: skip
    parts += _pk_profiles(study, datasets)
    if len(datasets.get("TU", ())) and len(datasets.get("TR", ())):
        parts.append(
            pd.DataFrame(
                {
                    "STUDYID": study,
                    "RDOMAIN": ["TU", "TR"],
                    "USUBJID": None,
                    "IDVAR": ["TULNKID", "TRLNKID"],
                    "IDVARVAL": None,
                    "RELTYPE": ["ONE", "MANY"],
                    "RELID": "TUTR",
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"STUDYID": []})
    return conform(frame, dataset_spec("RELREC"))
