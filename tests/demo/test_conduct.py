"""Site-staff conventions of the conduct module: ICE domains and lab-defined AE courses."""

from __future__ import annotations

import pytest

from cartrial.demo.conduct import _episodes, _ice_domains


@pytest.mark.parametrize("score", range(11))
def test_ice_domains_add_up_within_their_ranges(score: int) -> None:
    # ASTCT 2019 ICE score (cart-toxicity.md section 2.1): orientation 4, naming 3, commands 1,
    # writing 1, attention 1 points.
    parts = _ice_domains(score)
    assert sum(parts.values()) == score
    tops = {"ice_orientation": 4, "ice_naming": 3, "ice_commands": 1, "ice_writing": 1}
    for name, top in tops.items():
        assert 0 <= parts[name] <= top
    assert parts["ice_attention"] in (0, 1)


def test_lab_ae_course_starts_at_grade_3_and_ends_at_baseline() -> None:
    days = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    grades = [1, 3, 4, 4, 3, 2, 1, 1, 4]
    # Baseline grade 1: the stretch ends on day 6 (back to grade 1); a new one starts on day 8.
    assert _episodes(grades, days, baseline_grade=1) == [
        [(1, 3), (2, 4), (4, 3), (5, 2), (6, 0)],
        [(8, 4)],
    ]
    assert _episodes([2, 2, 1], [0, 1, 2], baseline_grade=0) == []
