"""Eligibility against the packaged protocol: thresholds inclusive, and monotone (hypothesis).

Protocol values (src/cartrial/protocols/cldn18-pdl1-cart.yaml, eligibility): CLDN18.2 >= 40 % of
tumour cells at >= 2+, ANC >= 1.0 x 10^9/L, platelets >= 75 x 10^9/L, ECOG <= 1, age 18-75.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from service_support import ELIGIBLE

from cartrial.protocol import load_protocol
from cartrial.services import ScreenSubject
from cartrial.services.eligibility import evaluate_eligibility

PROTOCOL = load_protocol()


def screened(**changes: object) -> ScreenSubject:
    values = {**ELIGIBLE, **changes}
    return ScreenSubject(
        subject_id="S01-001", site_id="S01", screening_date=dt.date(2026, 1, 5), **values
    )


def failed(s: ScreenSubject) -> list[str]:
    return [c.criterion for c in evaluate_eligibility(PROTOCOL, s) if not c.met]


def test_thresholds_are_inclusive() -> None:
    edge = screened(cldn18_ihc_pct=40.0, anc_1e9_l=1.0, platelets_1e9_l=75.0, ecog=1, age=75)
    assert failed(edge) == []
    below = screened(cldn18_ihc_pct=39.9, anc_1e9_l=0.99, platelets_1e9_l=74.9, ecog=2, age=76)
    assert failed(below) == ["age", "cldn18_ihc", "ecog", "anc", "platelets"]
    assert failed(screened(cldn18_ihc_intensity=1, cldn18_ihc_pct=90.0)) == ["cldn18_ihc"]


@given(
    pct=st.floats(0, 100),
    more=st.floats(0, 100),
    anc=st.floats(0, 10),
    extra_anc=st.floats(0, 10),
)
def test_better_values_never_lose_eligibility(
    pct: float, more: float, anc: float, extra_anc: float
) -> None:
    worse = screened(cldn18_ihc_pct=pct, anc_1e9_l=anc)
    better = screened(cldn18_ihc_pct=min(100.0, pct + more), anc_1e9_l=anc + extra_anc)
    assert set(failed(better)) <= set(failed(worse))
