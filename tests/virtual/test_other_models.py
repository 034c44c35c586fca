"""Anti-CAR antibodies, phenotype, survival and the parameter file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cartrial.errors import ProtocolError
from cartrial.virtual import default_params_path, load_params, sample_population, simulate_patients
from cartrial.virtual.survival import death_day


def test_antibody_incidence_and_assay_error_rates() -> None:
    p = load_params().immunogenicity
    cohort = sample_population(40000, 13).treat(2.5e8)
    ada = cohort.antibodies
    assert ada.treatment_emergent.mean() == pytest.approx(p.induced_prob, abs=0.01)
    screen, confirmed, titer = cohort.observe_antibodies(np.array([-28.0, 91.0, 365.0]))
    true = ~np.isnan(ada.true_log2_titer(np.array([-28.0, 91.0, 365.0])))
    assert np.all(screen[true] & confirmed[true])
    assert screen[~true].mean() == pytest.approx(p.screen_false_positive_rate, abs=0.005)
    assert confirmed[~true].mean() == pytest.approx(p.confirm_false_positive_rate, abs=0.003)
    assert np.all(np.isnan(titer[~confirmed])) and np.all(titer[confirmed] >= p.minimum_titer)


def test_phenotype_memory_enrichment_over_time() -> None:
    cohort = sample_population(3000, 14).treat(2.5e8)
    days = np.stack([cohort.kinetics.tmax, np.full(cohort.n, 365.0)], axis=1)
    values = cohort.observe_phenotype(days)
    markers = cohort.phenotype.markers
    memory_like = values[:, :, markers.index("tscm")] + values[:, :, markers.index("tcm")]
    assert np.median(memory_like[:, 1] - memory_like[:, 0]) > 20.0
    subsets = values[:, :, : len(cohort.phenotype.subsets)].sum(axis=2)
    assert np.median(subsets) == pytest.approx(100.0, abs=5.0)
    assert np.all(values[:, :, markers.index("cd4_cd8_ratio")] > 0)


def test_death_day_inverts_the_piecewise_hazard() -> None:
    e, h1, h2 = np.array([0.2, 1.5]), np.array([0.01, 0.01]), np.array([0.05, 0.05])
    tp = np.array([50.0, 50.0])
    # H(t) = 0.01 t (t <= 50), 0.5 + 0.05 (t - 50) after: 0.2 -> 20; 1.5 -> 50 + 1.0/0.05 = 70.
    np.testing.assert_allclose(death_day(e, h1, h2, tp), [20.0, 70.0])
    assert death_day(np.array([1.0]), np.array([0.01]), np.array([0.05]), np.array([np.inf]))[
        0
    ] == pytest.approx(100.0)


def test_same_seed_same_truth_and_observations() -> None:
    a, b = simulate_patients(200, 3.75e8, seed=99), simulate_patients(200, 3.75e8, seed=99)
    assert a.truth(28, 42).equals(b.truth(28, 42))  # the study protocol's window and SD minimum
    days = np.array([1.0, 7.0, 14.0, 28.0])
    np.testing.assert_array_equal(a.observe_labs(days)["NEUT"], b.observe_labs(days)["NEUT"])
    np.testing.assert_array_equal(a.observe_tumour(days)[0], b.observe_tumour(days)[0])
    assert a.adverse_events().equals(b.adverse_events())
    with pytest.raises(ValueError, match="positive"):
        sample_population(3, 1).treat([1e8, -1.0, 1e8])


def test_every_parameter_has_a_source(tmp_path: Path) -> None:
    raw = yaml.safe_load(default_params_path().read_text(encoding="utf-8"))
    assert load_params().kinetics.alpha_per_day == 0.16  # Stein 2019 Table 1
    del raw["kinetics"]["sources"]["alpha_per_day"]
    raw["tumour"]["growth_per_day"] = -1.0
    broken = tmp_path / "params.yaml"
    broken.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_params(broken)
    message = str(info.value)
    assert "alpha_per_day" in message and "tumour.growth_per_day" in message
