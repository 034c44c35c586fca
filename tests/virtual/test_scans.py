"""The lesion table of virtual scans: what the site records, lesion by lesion, scan by scan."""

from __future__ import annotations

import numpy as np

from cartrial.virtual import sample_population
from cartrial.virtual.scans import SCAN_COLUMNS, baseline_lesions, scan_lesions

DAYS = [42.0, 84.0, 126.0, 168.0, 238.0]


def test_every_recorded_lesion_at_every_attended_scan() -> None:
    cohort = sample_population(400, 41).treat(2.5e8)
    rows = scan_lesions(cohort, DAYS)
    assert tuple(rows.columns) == SCAN_COLUMNS
    les = cohort.baseline.lesions
    attended = ~cohort.missed_visits(len(DAYS))
    old = rows[rows["category"] != "new"]
    counts = old.groupby(["patient", "scan"]).size()
    for (patient, scan), count in counts.items():
        assert attended[patient, scan]
        assert count == int(les.present[patient].sum())
    # every attended scan of every patient is there; a missed scan has no row
    assert len(counts) == int(attended[les.present.any(axis=1)].sum())


def test_targets_carry_the_measured_diameters_and_the_others_a_status() -> None:
    cohort = sample_population(300, 42).treat(1.0e8)
    rows = scan_lesions(cohort, DAYS)
    diam, new, nontarget_pd = cohort.observe_tumour(np.asarray(DAYS))
    targets = rows[rows["category"] == "target"]
    slot = targets["lesion_id"].str[1:].astype(int).to_numpy() - 1
    measured = diam[targets["patient"], targets["scan"], slot]
    np.testing.assert_array_equal(targets["diameter_mm"].to_numpy(), measured)
    assert set(targets.loc[measured == 0, "status"]) <= {"absent"}
    assert set(targets.loc[measured > 0, "status"]) <= {"present"}
    others = rows[rows["category"] != "target"]
    assert others["diameter_mm"].isna().all()
    non_target = rows[rows["category"] == "non_target"]
    progressed = nontarget_pd[non_target["patient"], non_target["scan"]]
    assert (non_target.loc[progressed, "status"] == "unequivocal_progression").all()
    # a new lesion is recorded at every attended scan from the new-lesion day on, never before
    new_rows = rows[rows["category"] == "new"]
    assert new[new_rows["patient"], new_rows["scan"]].all()
    assert (new_rows["status"] == "unequivocal").all()
    assert new_rows.groupby(["patient", "scan"]).size().max() == 1


def test_rows_are_ordered_by_patient_scan_and_slot_with_the_new_lesion_last() -> None:
    cohort = sample_population(200, 43).treat(5.0e8)
    rows = scan_lesions(cohort, DAYS)
    key = rows[["patient", "scan"]].to_numpy()
    assert (np.diff(key[:, 0]) >= 0).all()
    same_patient = np.diff(key[:, 0]) == 0
    assert (np.diff(key[:, 1])[same_patient] >= 0).all()
    last = rows.groupby(["patient", "scan"])["category"].last()
    has_new = rows[rows["category"] == "new"].groupby(["patient", "scan"]).size().index
    assert (last.loc[has_new] == "new").all()


def test_baseline_scan_holds_every_lesion_with_target_diameters() -> None:
    cohort = sample_population(200, 44).treat(2.5e8)
    les = cohort.baseline.lesions
    rows = baseline_lesions(cohort.baseline)
    assert len(rows) == int(les.present.sum())
    targets = rows[rows["category"] == "target"]
    assert len(targets) == int(les.target.sum())
    slot = targets["lesion_id"].str[1:].astype(int).to_numpy() - 1
    np.testing.assert_array_equal(
        targets["diameter_mm"].to_numpy(), les.baseline_mm[targets["patient"], slot]
    )
    assert rows.loc[rows["category"] == "non_target", "diameter_mm"].isna().all()
    assert set(rows["organ"]) <= {"stomach", "pancreas", "liver", "lymph node", "peritoneum",
                                  "lung", "ovary"}  # fmt: skip
