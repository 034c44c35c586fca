"""A live TITE-CRM decision with adaptive weights (Cheung & Chappell 2000) and linear ones.

Protocol variant: the packaged protocol (DLT window 28 days, start DL1) with ``escalation.design``
TITE-CRM, target 0.3, skeleton (0.05, 0.12, 0.25, 0.40), empiric model, prior variance 1.34
(dfcrm ``titecrm(prior, target, tox, level, followup, obswin, scheme=)``), ``scheme`` linear or
adaptive.

Study: three subjects infused at DL1 on D0; S01-001 has a DLT (grade 3 gastritis, serious,
probable: a protocol DLT criterion) with onset on day 7; the decision is on day 21, so S01-002 and
S01-003 are pending, each followed 21 of 28 days (u = 0.75), and the DLT occurred at s = 7/28.

The expected next dose is computed here independently of the designs package: the pending weight
by the published definition (dfcrm ``titecrm``: ``w = (m + (u - s_m) / (s_(m+1) - s_m)) /
(z + 1)`` with ``z`` DLTs at ``s_1..s_z``, ``s_0 = 0``, ``s_(z+1) = 1`` and ``m`` of them at or
before ``u``; linear: ``w = u``), the posterior mean of ``beta`` by ``scipy.integrate.quad``
(empiric model ``p_j = skeleton_j ** exp(beta)``, prior N(0, 1.34)), the dfcrm plug-in estimate
``p_hat_j = skeleton_j ** exp(beta_hat)``, and the dose closest to the target among DL-1 and DL1
(1 DLT of 3 at DL1 is at or above the target: the coherence rule forbids escalating).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import argon2.profiles
import pytest
from scipy.integrate import quad
from service_support import Trial, build_trial, treat

from cartrial.protocol import default_protocol_path
from cartrial.services import (
    DecideNextDose,
    RecordAE,
    decide_next_dose,
    escalation_state,
    record_ae,
)
from cartrial.store import auth
from cartrial.store.migrate import upgrade

D0 = dt.date(2026, 1, 12)
WINDOW = 28
SKELETON = (0.05, 0.12, 0.25, 0.40)
TARGET = 0.3
PRIOR_VAR = 1.34
DLT_DAY = 7
AS_OF_DAY = 21
NAMES = ("DL-1", "DL1", "DL2", "DL3")


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str) -> Trial:
    monkeypatch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
    text = default_protocol_path().read_text(encoding="utf-8")
    design = 'design:\n    name: "3+3"\n    params: {}'
    assert design in text
    skeleton = ", ".join(str(p) for p in SKELETON)
    url = f"sqlite:///{tmp_path / f'tite-crm-{scheme}.db'}"
    upgrade(url)
    params = f"{{target: {TARGET}, skeleton: [{skeleton}], start: 1, scheme: {scheme}}}"
    variant = f"design:\n    name: tite-crm\n    params: {params}"
    return build_trial(url, text.replace(design, variant))


def run_study(trial: Trial) -> None:
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    for subject in ("S01-001", "S01-002", "S01-003"):
        treat(coord, inv, subject, "S01", D0)
    onset = dt.datetime.combine(D0 + dt.timedelta(DLT_DAY), dt.time(9), tzinfo=dt.UTC)
    ae = record_ae(
        coord,
        RecordAE(
            subject_id="S01-001",
            term="Gastritis",
            grade=3,
            onset_at=onset,
            resolved_at=onset + dt.timedelta(days=10),
            serious=True,
            attribution="probable",
            outcome="recovered",
        ),
    )
    assert ae.is_dlt is True


def expected_next_dose(weight: float) -> str:
    """Next dose name: 1 DLT and 2 pending subjects with ``weight`` at DL1 (see module doc)."""
    sd = math.sqrt(PRIOR_VAR)

    def p(beta: float) -> float:
        return SKELETON[1] ** math.exp(beta)

    def density(beta: float) -> float:
        prior = math.exp(-0.5 * (beta / sd) ** 2)
        return p(beta) * (1.0 - weight * p(beta)) ** 2 * prior

    mass = quad(density, -12.0, 12.0)[0]
    beta_hat = quad(lambda b: b * density(b), -12.0, 12.0)[0] / mass
    p_hat = [s ** math.exp(beta_hat) for s in SKELETON]
    allowed = (0, 1)  # coherence: no escalation after 1/3 >= target at DL1
    return NAMES[min(allowed, key=lambda j: abs(p_hat[j] - TARGET))]


def adaptive_weight(u: float, onsets: list[float]) -> float:
    """Cheung & Chappell (2000) adaptive weight, as dfcrm ``titecrm`` ``scheme="adaptive"``."""
    support = [0.0, *sorted(onsets), 1.0]
    m = sum(s <= u for s in onsets)
    return min((m + (u - support[m]) / (support[m + 1] - support[m])) / (len(onsets) + 1), 1.0)


U = AS_OF_DAY / WINDOW
AS_OF = D0 + dt.timedelta(AS_OF_DAY)


def test_adaptive_weights_enter_the_live_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = build(tmp_path, monkeypatch, "adaptive")
    run_study(trial)
    weight = adaptive_weight(U, [DLT_DAY / WINDOW])
    assert weight == pytest.approx(5 / 6)  # (1 + (0.75 - 0.25) / (1 - 0.25)) / 2
    expected = expected_next_dose(weight)
    assert expected == "DL1"  # the linear weight 0.75 gives DL-1 (next test): the scheme matters
    state = escalation_state(trial.as_("stat"), as_of=AS_OF)
    assert state.recommended_next_dose_level == expected
    assert state.can_decide
    assert state.pathways  # the pathways (complete follow-up) also work with adaptive weights
    decided = decide_next_dose(trial.as_("dsmc"), DecideNextDose(as_of=AS_OF))
    assert (decided.n_per_dose, decided.dlt_per_dose, decided.pending) == (
        (0, 3, 0, 0),
        (0, 1, 0, 0),
        2,
    )
    assert decided.recommended_next_dose_level == expected
    assert decided.recommendation_reason == state.recommendation_reason


def test_linear_weights_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trial = build(tmp_path, monkeypatch, "linear")
    run_study(trial)
    expected = expected_next_dose(U)
    assert expected == "DL-1"
    decided = decide_next_dose(trial.as_("dsmc"), DecideNextDose(as_of=AS_OF))
    assert decided.recommended_next_dose_level == expected
