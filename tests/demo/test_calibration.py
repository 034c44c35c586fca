"""The virtual population's expected efficacy against the published first-in-human CLDN18.2 CAR-T.

Source of the targets: Qi C, Gong J, Li J, et al. Claudin18.2-specific CAR T cells in
gastrointestinal cancers: phase 1 trial interim results. Nat Med 2022;28:1189-1198 (CT041,
NCT03874897; 37 patients at 2.5, 3.75 or 5.0 x 10^8 cells). Abstract: ORR 48.6 %, DCR 73.0 %; in
gastric cancer (GC/GEJ) ORR 57.1 %, DCR 75.0 % and 6-month OS 81.2 %; median PFS 3.7 months
(all patients, as the project brief quotes the paper). The virtual patients are screened by the
protocol, treated at DL1 (2.5 x 10^8, the dose most CT041 patients received) and their scans
evaluated by the project's RECIST 1.1 engine with the protocol's confirmation rule
(:mod:`cartrial.demo.calibration`).

Tolerance: 5 percentage points on ORR and DCR and 7 on the PFS rate at 3.7 months and the
gastric subgroup. The published 95 % intervals are far wider (ORR 18/37: Clopper-Pearson
31.9-65.6 %), so these bands test the calibration itself; the simulation error of the ~2,200
virtual patients (standard error about 1 point) is well inside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartrial.demo.calibration import PUBLISHED, expected_efficacy, simulate_efficacy
from cartrial.protocol import load_protocol
from cartrial.virtual import load_params, sample_population

REFERRED = 5000
SEED = 2026
PROTOCOL = load_protocol()


@pytest.fixture(scope="module")
def by_dose() -> dict[str, pd.DataFrame]:
    """The same referred patients (same seed) treated at DL-1 and at DL1."""
    return {level: simulate_efficacy(PROTOCOL, level, REFERRED, SEED) for level in ("DL-1", "DL1")}


def test_expected_orr_and_dcr_are_those_of_ct041(by_dose: dict[str, pd.DataFrame]) -> None:
    e = expected_efficacy(by_dose["DL1"])
    assert e.n_evaluable > 1800
    assert e.orr == pytest.approx(PUBLISHED.orr, abs=0.05)  # Qi 2022: 48.6 %
    assert e.dcr == pytest.approx(PUBLISHED.dcr, abs=0.05)  # Qi 2022: 73.0 %


def test_gastric_subgroup_and_survival_are_those_of_ct041(
    by_dose: dict[str, pd.DataFrame],
) -> None:
    e = expected_efficacy(by_dose["DL1"])
    assert e.orr_gastric == pytest.approx(PUBLISHED.orr_gastric, abs=0.07)  # 57.1 %
    assert e.dcr_gastric == pytest.approx(PUBLISHED.dcr_gastric, abs=0.07)  # 75.0 %
    assert e.os_6m_gastric == pytest.approx(PUBLISHED.os_6m_gastric, abs=0.07)  # 81.2 %
    # median PFS 3.7 months: half the patients progression-free then (the Kaplan-Meier median
    # itself sits on a scan day, 84 or 126 days = 2.76 or 4.14 months)
    assert e.pfs_at_published_median == pytest.approx(0.5, abs=0.07)
    assert 2.7 <= e.pfs_median_months <= 4.2


def test_confirmation_is_part_of_the_response(by_dose: dict[str, pd.DataFrame]) -> None:
    # RECIST 1.1 section 4.4.1: the protocol asks for confirmation, so some responses seen once
    # do not count (they are the transient ones); every confirmed response was seen.
    frame = by_dose["DL1"]
    e = expected_efficacy(frame)
    assert e.orr < e.orr_unconfirmed
    assert not (frame["bor"].isin(["CR", "PR"]) & ~frame["any_response"]).any()


def test_the_lower_dose_responds_less(by_dose: dict[str, pd.DataFrame]) -> None:
    # DL-1 (1.0 x 10^8) gives a lower CAR-T exposure (Cmax ~ dose^0.6), hence a slower kill
    # (Emax in AUC0-28): the same patients respond less than at DL1.
    low, reference = (expected_efficacy(by_dose[level]) for level in ("DL-1", "DL1"))
    assert low.n == reference.n
    assert low.orr < reference.orr
    assert low.orr_unconfirmed < reference.orr_unconfirmed - 0.03
    assert low.pfs_at_published_median < reference.pfs_at_published_median


def test_toxicity_does_not_depend_on_the_efficacy_parameters() -> None:
    # The tumour and survival sections calibrated here never enter CRS, ICANS, gastric injury
    # or cytopenias: treating the same patients with other values of them leaves every toxicity
    # outcome as calibrated (same grades, same days).
    params = load_params()
    other = params.model_copy(
        update={
            "tumour": params.tumour.model_copy(
                update={"kill_max_per_day": 0.01, "growth_per_day": 0.01}
            ),
            "survival": params.survival.model_copy(update={"ecog_hazard_ratio": 3.0}),
        }
    )
    a = sample_population(2000, 5, params).treat(2.5e8)
    b = sample_population(2000, 5, other).treat(2.5e8)
    assert not np.array_equal(a.tumour.d, b.tumour.d)
    for ep_a, ep_b in ((a.crs, b.crs), (a.icans, b.icans)):
        np.testing.assert_array_equal(ep_a.max_grade, ep_b.max_grade)
        np.testing.assert_array_equal(ep_a.onset_day, ep_b.onset_day)
        np.testing.assert_array_equal(ep_a.resolution_day, ep_b.resolution_day)
    np.testing.assert_array_equal(a.gastric.grade, b.gastric.grade)
    np.testing.assert_array_equal(a.cytopenias.prolonged, b.cytopenias.prolonged)
