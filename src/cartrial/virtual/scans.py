"""What a radiologist records at each tumour scan of treated virtual patients: the lesion table.

One row per lesion per scan, in the long format of the RECIST engine
(:data:`cartrial.rules.recist.LESION_COLUMNS` plus the patient and the scan day): target lesions
with their measured diameter (``absent`` when measured 0 mm), non-target lesions as ``present``,
``absent`` (the true size is below the size a radiologist still sees: a normal node or a vanished
lesion) or ``unequivocal_progression``, and one unequivocal new lesion once the patient's new-lesion
event has happened. Missed visits (:meth:`VirtualCohort.missed_visits`) have no rows. The demo
records exactly these rows through the services, and :mod:`cartrial.virtual.calibration` hands
them to the RECIST engine directly, so both see the same scans.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cartrial.rules.recist import LESION_COLUMNS
from cartrial.virtual.cohort import VirtualCohort
from cartrial.virtual.population import Baseline, Lesions

__all__ = [
    "NEW_LESION_ORGAN",
    "ORGAN_NAMES",
    "SCAN_COLUMNS",
    "baseline_lesions",
    "lesion_ids",
    "organ_names",
    "scan_lesions",
]

#: Organ names as the site records them (the model's ``lymph_node`` is "lymph node").
ORGAN_NAMES = {"lymph_node": "lymph node"}
#: Organ recorded for a new lesion (the model does not place it; the liver is the commonest site).
NEW_LESION_ORGAN = "liver"
#: Columns of :func:`scan_lesions`.
SCAN_COLUMNS = (
    "patient",
    "scan",
    "day",
    *(c for c in LESION_COLUMNS if c not in ("subject_id", "assessment_date")),
)


def lesion_ids(lesions: Lesions) -> np.ndarray:
    """Lesion identifiers ``(n, L)``: ``T<slot>`` for targets, ``NT<slot>`` for the others."""
    slot = np.char.mod("%d", np.arange(1, lesions.organ.shape[1] + 1))
    prefix = np.where(lesions.target, "T", "NT")
    return np.char.add(prefix.astype(str), np.broadcast_to(slot, prefix.shape))


def organ_names(lesions: Lesions) -> np.ndarray:
    """Recorded organ name of every lesion slot ``(n, L)`` (empty slots: ``""``)."""
    names = np.array([ORGAN_NAMES.get(o, o) for o in lesions.organs] + [""], dtype=object)
    return np.asarray(names[lesions.organ])


def scan_lesions(cohort: VirtualCohort, days: Sequence[float]) -> pd.DataFrame:
    """Every lesion recorded at the scans on ``days`` (days from infusion, shared by all patients).

    Returns one row per lesion per scan attended, ordered by patient, scan and lesion slot (the
    new lesion last), with columns ``patient, scan`` (index into ``days``), ``day, lesion_id,
    category, organ, is_lymph_node, diameter_mm`` (targets only, else NaN) and ``status``. Scans
    after death or withdrawal are the caller's to drop (``day`` is in the frame).
    """
    t = np.asarray(days, dtype=float)
    les = cohort.baseline.lesions
    diam, new, nontarget_pd = cohort.observe_tumour(t)
    true = cohort.tumour.true_diameters(t)
    attended = ~cohort.missed_visits(len(t))
    prm = cohort.params
    seen_floor = np.where(
        les.is_lymph_node, prm.population.lymph_node_pathological_mm, prm.tumour.disappear_below_mm
    )
    patient, scan, slot = np.nonzero(les.present[:, None, :] & attended[:, :, None])
    target = les.target[patient, slot]
    size = diam[patient, scan, slot]
    vanished = true[patient, scan, slot] < seen_floor[patient, slot]
    status = np.where(
        target,
        np.where(size > 0, "present", "absent"),
        np.where(
            nontarget_pd[patient, scan],
            "unequivocal_progression",
            np.where(vanished, "absent", "present"),
        ),
    )
    lesion_rows = pd.DataFrame(
        {
            "patient": patient,
            "scan": scan,
            "slot": slot,
            "lesion_id": lesion_ids(les)[patient, slot],
            "category": np.where(target, "target", "non_target"),
            "organ": organ_names(les)[patient, slot],
            "is_lymph_node": les.is_lymph_node[patient, slot],
            "diameter_mm": np.where(target, size, np.nan),
            "status": status,
        }
    )
    p_new, s_new = np.nonzero(new & attended)
    new_rows = pd.DataFrame(
        {
            "patient": p_new,
            "scan": s_new,
            "slot": les.organ.shape[1],
            "lesion_id": "N1",
            "category": "new",
            "organ": NEW_LESION_ORGAN,
            "is_lymph_node": False,
            "diameter_mm": np.nan,
            "status": "unequivocal",
        }
    )
    rows = pd.concat([lesion_rows, new_rows], ignore_index=True) if len(p_new) else lesion_rows
    rows = rows.sort_values(["patient", "scan", "slot"], kind="stable", ignore_index=True)
    rows.insert(2, "day", t[rows["scan"].to_numpy()])
    return rows.drop(columns="slot")[list(SCAN_COLUMNS)]


def baseline_lesions(baseline: Baseline) -> pd.DataFrame:
    """The baseline scan: every recorded lesion, targets with their diameter (mm).

    One row per lesion, ordered by patient and slot, with the columns of :func:`scan_lesions`
    but ``scan`` and ``day`` (the scan is on ``baseline_scan_day``); every status is
    ``present``.
    """
    les = baseline.lesions
    patient, slot = np.nonzero(les.present)
    target = les.target[patient, slot]
    return pd.DataFrame(
        {
            "patient": patient,
            "lesion_id": lesion_ids(les)[patient, slot],
            "category": np.where(target, "target", "non_target"),
            "organ": organ_names(les)[patient, slot],
            "is_lymph_node": les.is_lymph_node[patient, slot],
            "diameter_mm": np.where(target, les.baseline_mm[patient, slot], np.nan),
            "status": "present",
        }
    )
