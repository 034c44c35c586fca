"""TITE-BOIN against the worked example of reference phase1-designs.md section 3."""

from __future__ import annotations

import pytest

from cartrial.designs.tite_boin import TITEBOIN
from cartrial.errors import DesignError


def test_reference_example_ess() -> None:
    # Reference §3 [calc]: target 0.30, T = 28, n = 6, y = 1, pending at 14 and 21 days:
    # STFT = 1.25, ESS = 5.25, p_hat = 1/5.25 = 0.1905 <= 0.2365 -> escalate (2/6 pending < 50 %).
    d = TITEBOIN(target=0.3, n_doses=3)
    out = d.decide(n=[0, 6, 0], dlt=[0, 1, 0], current=1, pending_followup=[(1, 0.5), (1, 0.75)])
    assert out.details["stft"] == pytest.approx(1.25)
    assert out.details["ess"] == pytest.approx(5.25)
    assert out.details["p_hat"] == pytest.approx(1 / 5.25)
    assert (out.action, out.next_dose, out.suspended) == ("escalate", 2, False)


def test_reference_example_imputation() -> None:
    # Reference §3 [calc]: pi = 1.15/6.25 = 0.1840, imputed sum 0.1547, p_hat = 0.1924 -> escalate.
    d = TITEBOIN(target=0.3, n_doses=3, method="imputation")
    out = d.decide(n=[0, 6, 0], dlt=[0, 1, 0], current=1, pending_followup=[(1, 0.5), (1, 0.75)])
    assert out.details["pi_hat"] == pytest.approx(0.1840, abs=1e-4)
    assert out.details["p_hat"] == pytest.approx(0.1924, abs=1e-4)
    assert out.action == "escalate"


def test_no_pending_equals_boin() -> None:
    # With complete follow-up ESS = n, so TITE-BOIN is BOIN.
    from cartrial.designs import BOIN

    tite, boin = TITEBOIN(target=0.3, n_doses=4), BOIN(target=0.3, n_doses=4)
    for y in range(4):
        args = {"n": [3, 3, 0, 0], "dlt": [0, y, 0, 0], "current": 1}
        assert tite.decide(**args).next_dose == boin.decide(**args).next_dose  # type: ignore[arg-type]


def test_accrual_suspended_when_more_than_half_pending() -> None:
    # 2 of 3 pending > 50 % (TITEgBOIN maxpen = 0.5): escalation waits.
    d = TITEBOIN(target=0.3, n_doses=3)
    out = d.decide(n=[3, 0, 0], dlt=[0, 0, 0], current=0, pending_followup=[(0, 0.2), (0, 0.4)])
    assert (out.action, out.next_dose, out.suspended) == ("stay", 0, True)


def test_deescalation_is_never_suspended() -> None:
    # 2 DLTs among 3, one pending at u = 0.1: ESS = 2.1, p_hat = 0.952 > lambda_d -> de-escalate.
    d = TITEBOIN(target=0.3, n_doses=3, max_pending_fraction=0.2)
    out = d.decide(n=[3, 3, 0], dlt=[0, 2, 0], current=1, pending_followup=[(1, 0.1)])
    assert (out.action, out.suspended) == ("de-escalate", False)


def test_min_complete_to_escalate() -> None:
    d = TITEBOIN(target=0.3, n_doses=3, min_complete_to_escalate=3, max_pending_fraction=1.0)
    out = d.decide(n=[3, 0, 0], dlt=[0, 0, 0], current=0, pending_followup=[(0, 0.9)])
    assert out.action == "stay"


def test_elimination_uses_completed_patients() -> None:
    # 3 DLTs among 4 treated, 1 pending: completed n = 3, Pr(p > 0.3 | Beta(4, 1)) = 0.9919.
    d = TITEBOIN(target=0.3, n_doses=3)
    out = d.decide(n=[3, 4, 0], dlt=[0, 3, 0], current=1, pending_followup=[(1, 0.5)])
    assert out.eliminated == (1, 2)
    assert out.next_dose == 0


@pytest.mark.parametrize(
    "pending",
    [[(1, 1.0)], [(1, -0.1)], [(3, 0.5)], [(0, 0.5), (0, 0.5), (0, 0.5), (0, 0.5)]],
)
def test_bad_pending_raise(pending: list[tuple[int, float]]) -> None:
    with pytest.raises(DesignError):
        TITEBOIN(target=0.3, n_doses=3).decide(
            n=[3, 3, 0], dlt=[0, 0, 0], current=1, pending_followup=pending
        )
