"""A small hand-made trial for the analysis and report tests (every value written out below).

Seven subjects, infusion day 0 on the dates in ``INFUSION``; every other date is given as a day
offset from that subject's infusion. The expected values in the tests are derived by hand from the
rows written here; each test says which rows it uses.

========  ======  ===========  ===============================================================
subject   dose    indication   story
========  ======  ===========  ===============================================================
S01       DL1     gastric      PR d42 (-35 %), PR d84 (-40 %), PD d126; alive, last contact d300
S02       DL1     pancreatic   CRS grade 3 DLT d2; SD d42, PD d84; died d150 (progression)
S03       DL1     gej          no post-baseline scan; died d35 (progression)
S04       DL2     gastric      CR d42, CR d84, CR d168; ICANS grade 2; alive, last contact d400
S05       DL2     gastric      SD d42; new therapy d60; PD d126 (after new therapy)
S06       DL2     pancreatic   not DLT/efficacy evaluable; "PR" dated d-3; kinetics all < LLOQ
S07       DL2     gastric      enrolled, never infused
========  ======  ===========  ===============================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData, empty_table
from cartrial.protocol import load_protocol

__all__ = ["CUTOFF", "INFUSION", "build_trial", "day"]

INFUSION = {
    "S01": "2025-01-06",
    "S02": "2025-01-20",
    "S03": "2025-02-03",
    "S04": "2025-03-03",
    "S05": "2025-03-17",
    "S06": "2025-03-31",
}
CUTOFF = pd.Timestamp("2026-01-05")


def day(subject: str, offset: float | None) -> pd.Timestamp:
    """The calendar date ``offset`` days after ``subject``'s infusion (NaT for None)."""
    if offset is None:
        return pd.NaT
    return pd.Timestamp(INFUSION[subject]) + pd.Timedelta(days=offset)


def _subjects() -> pd.DataFrame:
    rows = [
        # id, dose, idx, indication, dlt_eval, eff_eval, death day, cause, last contact, therapy
        ("S01", "DL1", 1, "gastric", True, True, None, "", 300, None),
        ("S02", "DL1", 1, "pancreatic", True, True, 150, "disease progression", 150, None),
        ("S03", "DL1", 1, "gej", True, True, 35, "disease progression", 35, None),
        ("S04", "DL2", 2, "gastric", True, True, None, "", 280, None),
        ("S05", "DL2", 2, "gastric", True, True, None, "", 200, 60),
        ("S06", "DL2", 2, "pancreatic", False, False, None, "", 100, None),
    ]
    records = []
    for sid, dose, idx, ind, dlt_ev, eff_ev, death, cause, contact, therapy in rows:
        records.append(
            {
                "subject_id": sid,
                "site_id": "SITE-1",
                "phase": "escalation",
                "indication": ind,
                "age": 60,
                "sex": "F",
                "ecog": 1,
                "dose_level": dose,
                "dose_index": idx,
                "cells_infused": 2.5e8 if dose == "DL1" else 3.75e8,
                "enrolled_date": day(sid, -30),
                "lymphodepletion_date": day(sid, -5),
                "infusion_date": day(sid, 0),
                "dlt_evaluable": dlt_ev,
                "efficacy_evaluable": eff_ev,
                "death_date": day(sid, death),
                "death_cause": cause,
                "last_contact_date": day(sid, contact),
                "withdrawn_date": pd.NaT,
                "subsequent_therapy_date": day(sid, therapy),
            }
        )
    records.append(
        {
            **records[-1],
            "subject_id": "S07",
            "indication": "gastric",
            "dose_index": -1,
            "cells_infused": np.nan,
            "enrolled_date": pd.Timestamp("2025-04-07"),
            "lymphodepletion_date": pd.NaT,
            "infusion_date": pd.NaT,
            "dlt_evaluable": False,
            "efficacy_evaluable": False,
            "last_contact_date": pd.Timestamp("2025-04-20"),
        }
    )
    return pd.DataFrame(records)


_BLOOD = "Blood and lymphatic system disorders"
_INV = "Investigations"
_GI = "Gastrointestinal disorders"
_IMM = "Immune system disorders"
_NERV = "Nervous system disorders"


def _adverse_events() -> pd.DataFrame:
    rows = [
        # subject, term, soc, grade, onset day, serious, related, is_dlt
        ("S01", "Anemia", _BLOOD, 2, 5, False, True, False),
        ("S01", "Neutrophil count decreased", _INV, 4, 3, False, True, False),
        ("S01", "Nausea", _GI, 1, -3, False, False, False),
        ("S01", "Nausea", _GI, 2, 10, False, False, False),
        ("S02", "Cytokine release syndrome", _IMM, 3, 2, True, True, True),
        ("S02", "Neutrophil count decreased", _INV, 3, 4, False, True, False),
        ("S03", "Nausea", _GI, 1, 1, False, False, False),
        ("S03", "Anemia", _BLOOD, 3, 7, True, False, False),
        ("S04", "Cytokine release syndrome", _IMM, 1, 1, False, True, False),
        (
            "S04",
            "Immune effector cell-associated neurotoxicity syndrome",
            _NERV,
            2,
            4,
            True,
            True,
            False,
        ),
        ("S06", "Nausea", _GI, 2, -10, False, False, False),
    ]
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "ae_id": f"AE{i:02d}",
                "term": term,
                "soc": soc,
                "grade": grade,
                "onset_date": day(s, onset),
                "resolution_date": day(s, onset + 3),
                "serious": serious,
                "related": related,
                "attribution": "probable" if related else "unrelated",
                "outcome": "recovered",
                "is_dlt": dlt,
            }
            for i, (s, term, soc, grade, onset, serious, related, dlt) in enumerate(rows, 1)
        ]
    )


def _labs() -> pd.DataFrame:
    rows = [
        # subject, day, grade of "Neutrophil count decreased"
        ("S01", -7, 0),
        ("S01", 3, 4),
        ("S01", 10, 2),
        ("S02", -7, 1),
        ("S02", 4, 3),
        ("S04", 7, 0),
    ]
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "date": day(s, d),
                "day": d,
                "lbtestcd": "NEUT",
                "value": {0: 2.0, 1: 1.8, 2: 1.2, 3: 0.8, 4: 0.3}[g],
                "unit": "10^9/L",
                "lln": 2.0,
                "uln": 7.5,
                "term": "Neutrophil count decreased",
                "grade": g,
            }
            for s, d, g in rows
        ]
    )


def _crs_icans() -> pd.DataFrame:
    rows = [
        # subject, day, crs grade, icans grade, tocilizumab, steroids
        ("S01", 1, 0, 0, False, False),
        ("S01", 2, 0, 0, False, False),
        ("S02", 1, 1, 0, False, False),
        ("S02", 2, 2, 0, True, False),
        ("S02", 3, 3, 0, False, True),
        ("S02", 4, 1, 0, False, False),
        ("S02", 5, 0, 0, False, False),
        ("S04", 1, 1, 0, False, False),
        ("S04", 2, 1, 0, False, False),
        ("S04", 4, 0, 2, False, False),
        ("S04", 5, 0, 1, False, False),
    ]
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "date": day(s, d),
                "day": d,
                "crs_grade": crs,
                "icans_grade": icans,
                "tocilizumab": toci,
                "steroids": ster,
            }
            for s, d, crs, icans, toci, ster in rows
        ]
    )


def _tumour_timepoints() -> pd.DataFrame:
    rows = [
        # subject, day, overall response ("" = baseline), sum of diameters, % change
        ("S01", -10, "", 100.0),
        ("S01", 42, "PR", 65.0),
        ("S01", 84, "PR", 60.0),
        ("S01", 126, "PD", 90.0),
        ("S02", -10, "", 50.0),
        ("S02", 42, "SD", 45.0),
        ("S02", 84, "PD", 62.5),
        ("S03", -10, "", 80.0),
        ("S04", -10, "", 40.0),
        ("S04", 42, "CR", 0.0),
        ("S04", 84, "CR", 0.0),
        ("S04", 168, "CR", 0.0),
        ("S05", -10, "", 60.0),
        ("S05", 42, "SD", 57.0),
        ("S05", 126, "PD", 80.0),
        ("S06", -10, "", 70.0),
        ("S06", -3, "PR", 45.0),
    ]
    baseline = {s: sod for s, d, r, sod in rows if r == ""}
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "assessment_date": day(s, d),
                "day": d,
                "target_response": r or np.nan,
                "nontarget_response": "NON-CR/NON-PD" if r else np.nan,
                "new_lesions": False,
                "overall_response": r or np.nan,
                "sum_of_diameters_mm": sod,
                "pct_change_from_baseline": round((sod - baseline[s]) / baseline[s] * 100, 1),
            }
            for s, d, r, sod in rows
        ]
    )


def _kinetics() -> pd.DataFrame:
    lloq = 10.0
    series = {
        # cart-kinetics.md §2 "NCA test case" for S01, then day 91 and a BLQ at day 182
        "S01": [(0, 0), (1, 50), (4, 2000), (7, 15000), (10, 12000), (14, 4000), (21, 900),
                (28, 300), (91, 120), (182, None)],
        # S02: an embedded BLQ at day 14
        "S02": [(0, None), (1, 20), (4, 500), (7, 400), (14, None), (21, 50), (28, 30)],
        # S03: died before day 28 (no AUC0-28)
        "S03": [(0, None), (1, 15), (4, 80), (7, 60), (14, 40)],
        "S04": [(0, None), (1, 100), (4, 3000), (7, 4000), (10, 5000), (14, 2500), (21, 1000),
                (28, 500), (91, 200), (182, 60), (365, 15)],
        "S05": [(0, None), (1, 30), (4, 300), (7, 900), (14, 600), (21, 250), (28, 100),
                (91, None)],
        # S06: every sample below the LLOQ
        "S06": [(0, None), (7, None), (14, None), (28, None)],
    }  # fmt: skip
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "date": day(s, d),
                "day": d,
                "value": np.nan if v is None else float(v),
                "unit": "copies/ug gDNA",
                "lloq": lloq,
                "below_lloq": v is None or v < lloq,
            }
            for s, points in series.items()
            for d, v in points
        ]
    )


def _ada() -> pd.DataFrame:
    rows = [
        # subject, day, screen, confirmed, titer
        ("S01", -28, "negative", False, None),
        ("S01", 28, "positive", True, 40.0),
        ("S02", -28, "positive", True, 20.0),
        ("S02", 28, "positive", True, 160.0),
        ("S04", -28, "positive", True, 40.0),
        ("S04", 28, "positive", True, 80.0),
        ("S05", -28, "negative", False, None),
        ("S05", 28, "positive", False, None),
        ("S03", -28, "negative", False, None),
    ]
    return pd.DataFrame(
        [
            {
                "subject_id": s,
                "date": day(s, d),
                "day": d,
                "screen": screen,
                "confirmed": conf,
                "titer": np.nan if t is None else t,
            }
            for s, d, screen, conf, t in rows
        ]
    )


def _phenotype() -> pd.DataFrame:
    rows = [
        ("S01", 7, "cd4_cd8_ratio", 1.5),
        ("S01", 28, "cd4_cd8_ratio", 0.8),
        ("S01", 7, "pd1", 20.0),
        ("S01", 28, "pd1", 35.0),
        ("S01", 7, "tcm", 30.0),
        ("S04", 7, "cd4_cd8_ratio", 2.5),
        ("S04", 28, "cd4_cd8_ratio", 1.2),
    ]
    return pd.DataFrame(
        [
            {"subject_id": s, "date": day(s, d), "day": d, "marker": m, "value": v}
            for s, d, m, v in rows
        ]
    )


def _dose_decisions() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "cohort": 1,
                "dose_level": "DL1",
                "dose_index": 1,
                "n_treated": 3,
                "n_dlt": 1,
                "action": "stay",
                "next_dose_index": 1,
                "decided_date": day("S03", 28),
                "signed_by": "SRC",
            },
            {
                "cohort": 2,
                "dose_level": "DL2",
                "dose_index": 2,
                "n_treated": 3,
                "n_dlt": 0,
                "action": "escalate",
                "next_dose_index": 3,
                "decided_date": day("S06", 28),
                "signed_by": "SRC",
            },
        ]
    )


def build_trial() -> TrialData:
    """The seven-subject trial of this module, cut off at :data:`CUTOFF`."""
    return TrialData(
        subjects=_subjects(),
        adverse_events=_adverse_events(),
        labs=_labs(),
        crs_icans=_crs_icans(),
        tumour_timepoints=_tumour_timepoints(),
        lesions=empty_table("lesions"),
        kinetics=_kinetics(),
        ada=_ada(),
        phenotype=_phenotype(),
        dose_decisions=_dose_decisions(),
        data_cutoff=CUTOFF,
        protocol=load_protocol(),
    )
