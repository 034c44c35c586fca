"""SDTM trial design domains (SDTMIG v3.4 section 7) from the protocol: TA, TE, TV, TD, TI.

The protocol file is the only description of the study, so every row here is read from it
(``Protocol.treatment``, ``schedule``, ``eligibility``); the read model adds only which
expansion arms exist (the dose levels the expansion treated, and the signed RP2D).

* Arms: one per dose level in escalation (``ARMCD`` = the level's protocol name, ``DL1``) and one
  per dose level of the expansion (``EXP-DL1``); every arm runs four elements: screening,
  lymphodepletion, the CAR-T infusion at the arm's dose, follow-up.
* Visits (TV): every visit of the schedule, written-out and recurring, numbered by day then name
  (:func:`scheduled_visits`); SV (:mod:`cartrial.exchange.sdtm_subject`) uses the same numbers.
* TD: each recurring tumour-assessment series of the schedule (RECIST scans every 6 weeks, then
  every 10 weeks) as one constant-interval period anchored on ``RFSTDTC`` (the infusion).
* TI: the protocol's eligibility criteria, texts from ``data/cdisc/criteria.csv`` with the
  protocol's thresholds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.analysis.settings import VisitWindow
from cartrial.analysis.visits import nominal_visits
from cartrial.exchange.common import as_dates, conform, reference_dates
from cartrial.exchange.metadata import criteria, dataset_spec
from cartrial.protocol import Protocol
from cartrial.protocol.schedule import Visit

__all__ = [
    "DESIGN_BUILDERS",
    "arm_code",
    "arm_label",
    "criterion_texts",
    "design_dataset",
    "scheduled_visits",
    "sdtm_study_day",
    "visits_of",
]

#: Prefix of an expansion arm's code (``EXP-DL1``: the expansion at DL1).
EXPANSION_PREFIX = "EXP-"


def arm_code(dose_level: pd.Series, phase: pd.Series) -> pd.Series:
    """``ARMCD`` of each subject: the dose level's name, ``EXP-`` + name in the expansion."""
    expansion = phase.astype(str).str.lower() == "expansion"
    code = dose_level.astype(object).where(~expansion, EXPANSION_PREFIX + dose_level.astype(str))
    return code.where(dose_level.notna(), None)


def arm_label(protocol: Protocol) -> dict[str, str]:
    """``ARM`` per arm code: ``"Escalation DL1: 2.5 x 10^8 CAR+ T cells"`` and the expansion's."""
    labels = {}
    for level in protocol.treatment.dose_levels:
        dose = f"{level.name}: {level.label} {level.unit}"
        labels[level.name] = f"Escalation {dose}"
        labels[EXPANSION_PREFIX + level.name] = f"Expansion {dose}"
    return labels


def sdtm_study_day(day: int) -> int:
    """A protocol day (day 0 = infusion) as an SDTM study day (day 1 = infusion; no day 0)."""
    return day + 1 if day >= 0 else day


def scheduled_visits(protocol: Protocol) -> tuple[Visit, ...]:
    """Every visit of the schedule in ``VISITNUM`` order (visit ``i`` has ``VISITNUM`` i + 1)."""
    return protocol.schedule.expanded()


def visits_of(
    trial: TrialData, subject_ids: pd.Series, dates: pd.Series, assessments: pd.Series
) -> pd.DataFrame:
    """``VISITNUM`` and ``VISIT`` of each record: the scheduled visit whose window holds its day.

    A record's day counts from its subject's infusion (day 0); among the visits at which its
    ``assessment`` (``"labs"``, ``"tumour"``, ...) is done, the one whose window holds the day
    wins, nearest nominal day first (:func:`cartrial.analysis.visits.nominal_visits`). A record
    outside every window, of a subject not infused, or with no assessment gets no visit (null).
    """
    visits = scheduled_visits(trial.protocol)
    number = {v.name: float(i) for i, v in enumerate(visits, start=1)}
    visit_number = np.full(len(dates), np.nan)
    visit = np.full(len(dates), None, dtype=object)
    days = (as_dates(dates) - as_dates(reference_dates(trial, subject_ids))).dt.days
    day = days.to_numpy(dtype=float, na_value=np.nan)
    kinds, found = pd.factorize(assessments, use_na_sentinel=True)
    for code, assessment in enumerate(found):
        rows = np.flatnonzero((kinds == code) & ~np.isnan(day))  # positions, not labels
        windows = [
            VisitWindow(v.name, v.day, v.earliest_day, v.latest_day)
            for v in trial.protocol.schedule.visits_with(assessment)
        ]
        if not windows or not len(rows):
            continue
        name = nominal_visits(pd.Series(day[rows]), windows)["visit"]
        scheduled_number = name.map(number).to_numpy(dtype=float, na_value=np.nan)
        scheduled = ~np.isnan(scheduled_number)  # "unscheduled day N" has no number
        visit[rows[scheduled]] = name.to_numpy()[scheduled]
        visit_number[rows[scheduled]] = scheduled_number[scheduled]
    return pd.DataFrame({"VISITNUM": visit_number, "VISIT": visit}, index=dates.index)


def _arms(trial: TrialData) -> list[str]:
    """Escalation arms for every dose level, then the expansion arms that exist."""
    levels = [d.name for d in trial.protocol.treatment.dose_levels]
    s = trial.subjects
    expanded = set(s.loc[s["phase"].astype(str) == "expansion", "dose_level"].dropna().astype(str))
    governance = trial.governance
    if len(governance):
        rp2d = governance.loc[governance["kind"] == "rp2d", "dose_level"].dropna()
        expanded |= set(rp2d.astype(str))
    has_expansion = trial.protocol.expansion is not None
    return levels + [EXPANSION_PREFIX + n for n in levels if has_expansion and n in expanded]


def design_dataset(trial: TrialData, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A trial design dataset: ``frame`` with STUDYID and DOMAIN, in the metadata's variables."""
    frame = frame.assign(STUDYID=trial.protocol.study.id, DOMAIN=domain)
    return conform(frame, dataset_spec(domain))


def _infusion_element(level: str) -> str:
    return f"CAR{level}"


def build_te(trial: TrialData) -> pd.DataFrame:
    """TE: screening, lymphodepletion, the CAR-T infusion at each dose level, follow-up."""
    p = trial.protocol
    agents = p.treatment.lymphodepletion
    ld_days = sorted({d for a in agents for d in a.days})
    regimen = "; ".join(
        f"{a.agent} {a.dose:g} {a.unit} on days {', '.join(map(str, a.days))}" for a in agents
    )
    screening = p.schedule.visits_with("eligibility")
    first_screen = screening[0].earliest_day if screening else ld_days[0]
    rows = [
        (
            "SCRN",
            "Screening",
            f"Informed consent (screening from day {first_screen})",
            f"First lymphodepleting dose (day {ld_days[0]})",
            None,
        ),
        (
            "LD",
            f"Lymphodepletion: {p.treatment.lymphodepletion_regimen}",
            f"First lymphodepleting dose: {regimen}",
            "CAR-T infusion (day 0)",
            f"P{ld_days[-1] - ld_days[0] + 1}D",
        ),
        *[
            (
                _infusion_element(level.name),
                f"CAR-T infusion {level.name}: {level.label} {level.unit}",
                f"CAR-T infusion on day 0 at {level.name}",
                "Day 1 after the infusion",
                "P1D",
            )
            for level in p.treatment.dose_levels
        ],
        (
            "FU",
            "Follow-up",
            "Day 1 after the infusion",
            f"End of follow-up (day {p.schedule.follow_up_days}), death or withdrawal",
            f"P{p.schedule.follow_up_days}D",
        ),
    ]
    frame = pd.DataFrame(rows, columns=["ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"])
    return design_dataset(trial, "TE", frame)


def build_ta(trial: TrialData) -> pd.DataFrame:
    """TA: every arm's four elements in order, with the epoch each belongs to."""
    p = trial.protocol
    labels = arm_label(p)
    elements = build_te(trial).set_index("ETCD")["ELEMENT"]
    rows = []
    for code in _arms(trial):
        level = code.removeprefix(EXPANSION_PREFIX)
        phase = "expansion" if code.startswith(EXPANSION_PREFIX) else "escalation"
        branch = f"Enrolled in the {phase} and assigned {level}"
        for order, (etcd, epoch) in enumerate(
            (
                ("SCRN", "SCREENING"),
                ("LD", "TREATMENT"),
                (_infusion_element(level), "TREATMENT"),
                ("FU", "FOLLOW-UP"),
            ),
            start=1,
        ):
            rows.append(
                {
                    "ARMCD": code,
                    "ARM": labels[code],
                    "TAETORD": order,
                    "ETCD": etcd,
                    "ELEMENT": elements[etcd],
                    "TABRANCH": branch if etcd == "SCRN" else None,
                    "EPOCH": epoch,
                }
            )
    frame = pd.DataFrame(rows)
    return design_dataset(trial, "TA", frame)


def build_tv(trial: TrialData) -> pd.DataFrame:
    """TV: every scheduled visit with its nominal study day and window."""
    p = trial.protocol
    rows = []
    for number, visit in enumerate(scheduled_visits(p), start=1):
        window = f"window -{visit.window_before}/+{visit.window_after} days"
        rows.append(
            {
                "VISITNUM": number,
                "VISIT": visit.name,
                "VISITDY": sdtm_study_day(visit.day),
                "TVSTRL": (
                    f"Day {visit.day} after the infusion ({window}): "
                    + ", ".join(visit.assessments)
                )[:200],
                "TVENRL": f"Day {visit.latest_day} after the infusion",
            }
        )
    frame = pd.DataFrame(rows)
    return design_dataset(trial, "TV", frame)


def build_td(trial: TrialData) -> pd.DataFrame:
    """TD: the recurring tumour-assessment series of the schedule, anchored on the infusion."""
    p = trial.protocol
    series = [r for r in p.schedule.recurring if "tumour" in r.assessments]
    rows = [
        {
            "TDORDER": order,
            "TDANCVAR": "RFSTDTC",
            "TDSTOFF": f"P{max(r.from_day - r.every_days, 0)}D",
            "TDTGTPAI": f"P{r.every_days}D",
            "TDMINPAI": f"P{r.every_days - r.window_before}D",
            "TDMAXPAI": f"P{r.every_days + r.window_after}D",
            "TDNUMRPT": len(r.expand()),
        }
        for order, r in enumerate(series, start=1)
    ]
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["TDORDER"])
    return design_dataset(trial, "TD", frame)


def criterion_texts(protocol: Protocol) -> dict[str, tuple[str, str, str]]:
    """``(IETESTCD, IETEST, IECAT)`` per criterion code, texts filled in from ``protocol``."""
    e = protocol.eligibility
    histologies = ", ".join(h.upper() for h in e.histologies)
    return {
        code: (c.ietestcd, c.text.format(e=e, histologies=histologies), c.iecat)
        for code, c in criteria().items()
    }


def build_ti(trial: TrialData) -> pd.DataFrame:
    """TI: every eligibility criterion of the protocol with its thresholds."""
    p = trial.protocol
    texts = criterion_texts(p)
    frame = pd.DataFrame(list(texts.values()), columns=["IETESTCD", "IETEST", "IECAT"])
    frame["TIVERS"] = p.study.version
    return design_dataset(trial, "TI", frame)


#: The trial design domains in output order (after TS).
DESIGN_BUILDERS = {
    "TA": build_ta,
    "TE": build_te,
    "TV": build_tv,
    "TD": build_td,
    "TI": build_ti,
}
