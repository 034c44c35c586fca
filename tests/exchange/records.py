"""The records the SDTM domains IE, SV, VS, EX (lymphodepletion) and CM (subsequent therapy) read,
added to the hand-made trial of ``tests/analysis/trial_builder.py`` (every value written out).

========  ====================================================================================
subject   added here
========  ====================================================================================
S01       screened day -28 (every criterion met); fludarabine 25 mg/m2 and cyclophosphamide
          250 mg/m2 on days -5, -4, -3; temperatures 37.2 and 36.9 C on days 1 and 2
S02       screened day -28; fludarabine 25 mg/m2 on day -5 only; temperatures on days 1-5
S05       subsequent therapy FOLFIRI from day 60
S08       screen failure on 2025-02-10: age 80 (protocol 18-75) and ANC 0.8 x 10^9/L (>= 1.0)
========  ====================================================================================
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd

from analysis.trial_builder import day
from cartrial.analysis import TrialData

__all__ = ["CRITERIA", "SCREEN_FAILURE_DATE", "TEMPERATURE", "with_records"]

#: The protocol's criterion codes in order (cartrial.services.eligibility.evaluate_eligibility).
CRITERIA = (
    "age", "histology", "cldn18_ihc", "prior_lines", "refractory_to_standard_therapy", "ecog",
    "measurable_disease", "life_expectancy", "anc", "platelets", "hemoglobin",
    "creatinine_clearance", "alt", "bilirubin",
)  # fmt: skip
SCREEN_FAILURE_DATE = pd.Timestamp("2025-02-10")
#: Body temperature (degrees C) per (subject, day) of the CRS/ICANS rows of trial_builder.
TEMPERATURE = {
    ("S01", 1): 37.2, ("S01", 2): 36.9,
    ("S02", 1): 38.4, ("S02", 2): 39.1, ("S02", 3): 39.5, ("S02", 4): 38.2, ("S02", 5): 37.0,
}  # fmt: skip


def _screening() -> pd.DataFrame:
    rows = [
        ("S01", day("S01", -28), True, 60, "F", "gastric"),
        ("S02", day("S02", -28), True, 60, "F", "pancreatic"),
        ("S08", SCREEN_FAILURE_DATE, False, 80, "M", "gastric"),
    ]
    frame = pd.DataFrame(
        rows, columns=["subject_id", "screened_date", "eligible", "age", "sex", "indication"]
    )
    return frame.assign(site_id="SITE-1", country="CN", withdrawn_date=pd.NaT)


def _eligibility() -> pd.DataFrame:
    rows = [("S01", day("S01", -28), c, True) for c in CRITERIA]
    rows += [("S08", SCREEN_FAILURE_DATE, c, c not in {"age", "anc"}) for c in CRITERIA]
    frame = pd.DataFrame(rows, columns=["subject_id", "date", "criterion", "met"])
    return frame.assign(kind="inclusion", value=json.dumps({}))


def _lymphodepletion() -> pd.DataFrame:
    rows = [
        (s, day(s, d), d, agent, dose)
        for s, d, agent, dose in [
            *[("S01", d, "fludarabine", 25.0) for d in (-5, -4, -3)],
            *[("S01", d, "cyclophosphamide", 250.0) for d in (-5, -4, -3)],
            ("S02", -5, "fludarabine", 25.0),
        ]
    ]
    frame = pd.DataFrame(rows, columns=["subject_id", "date", "day", "agent", "dose"])
    return frame.assign(unit="mg/m2")


def with_records(trial: TrialData) -> TrialData:
    """``trial`` with the screening, eligibility, lymphodepletion, therapy and vitals above."""
    crs = trial.crs_icans
    temperature = [
        TEMPERATURE.get((s, int(d))) for s, d in zip(crs["subject_id"], crs["day"], strict=True)
    ]
    return dataclasses.replace(
        trial,
        screening=_screening(),
        eligibility=_eligibility(),
        lymphodepletion=_lymphodepletion(),
        subsequent_therapies=pd.DataFrame(
            {"subject_id": ["S05"], "start_date": [day("S05", 60)], "therapy": ["FOLFIRI"]}
        ),
        crs_icans=crs.assign(temperature_c=pd.Series(temperature, dtype=float)),
    )
