"""Referred population: baseline distributions and RECIST 1.1 target selection."""

from __future__ import annotations

import numpy as np
import pytest

from cartrial.virtual import VirtualPopulation, load_params, sample_population
from cartrial.virtual.params import INDICATIONS


@pytest.fixture(scope="module")
def population() -> VirtualPopulation:
    return sample_population(20000, 7)


def test_same_seed_same_patients_other_seed_other_patients() -> None:
    a, b, c = sample_population(50, 1), sample_population(50, 1), sample_population(50, 2)
    np.testing.assert_array_equal(a.baseline.cldn18_pct, b.baseline.cldn18_pct)
    np.testing.assert_array_equal(a.baseline.lesions.baseline_mm, b.baseline.lesions.baseline_mm)
    assert not np.array_equal(a.baseline.cldn18_pct, c.baseline.cldn18_pct)


def test_indication_mix_matches_the_parameters(population: VirtualPopulation) -> None:
    probs = load_params().population.indication_probs
    n = population.n
    for code, name in enumerate(INDICATIONS):
        share = np.mean(population.baseline.indication == code)
        sd = np.sqrt(probs[name] * (1 - probs[name]) / n)
        assert abs(share - probs[name]) < 4 * sd


def test_target_lesions_follow_recist(population: VirtualPopulation) -> None:
    # RECIST 1.1 (Eisenhauer 2009) sections 3.1 and 3.3: measurable = non-nodal LD >= 10 mm or node
    # SA >= 15 mm; at most 5 targets, 2 per organ; peritoneum non-measurable (params.yaml).
    p = load_params().population
    les = population.baseline.lesions
    organs = les.organs
    node = les.is_lymph_node
    size = les.baseline_mm
    measurable = les.present & np.where(node, size >= 15, size >= 10)
    measurable &= les.organ != organs.index("peritoneum")
    assert not np.any(les.target & ~measurable)
    assert np.all(les.target.sum(axis=1) <= p.max_targets_total)
    for code in range(len(organs)):
        assert np.all((les.target & (les.organ == code)).sum(axis=1) <= p.max_targets_per_organ)
    # A measurable lesion left as non-target: its organ already has 2 targets or there are 5,
    # and it is no larger than any target of its organ.
    for i, j in zip(*np.nonzero(measurable & ~les.target), strict=True):
        same = les.target[i] & (les.organ[i] == les.organ[i, j])
        assert same.sum() == 2 or les.target[i].sum() == 5
        if same.sum() == 2:
            assert np.all(size[i, same] >= size[i, j])
    # Nodes below 10 mm are normal, never recorded.
    assert not np.any(les.present & node & (size < 10))


def test_screen_failure_drivers_occur(population: VirtualPopulation) -> None:
    b = population.baseline
    assert 0.4 < np.mean(b.cldn18_pct >= 40) < 0.65
    assert 0.05 < np.mean(b.ecog >= 2) < 0.15
    assert 0.85 < np.mean(b.measurable_disease) < 1.0
    frame = b.to_frame()
    assert len(frame) == b.n and set(frame["sex"]) == {"F", "M"}
    lesions = b.lesions_frame()
    assert set(lesions["category"]) == {"target", "non-target"}
