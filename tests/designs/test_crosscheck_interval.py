"""Interval designs against decisions computed directly from their definitions.

* Keyboard: a transcription of the Keyboard package's ``get.boundary.kb`` (github.com/cran/Keyboard
  ``R/get.boundary.kb.R``): keys of width ``marginL + marginR`` from the target key out to 0 and 1,
  the incomplete end keys compensated by ``width / own width``, the strongest key by
  ``pbeta`` differences, ties to the highest key.
* mTPI-2 (Guo et al. 2017): unit probability mass of equal-width intervals computed with
  ``scipy.stats.beta``.
* i3+3 (Liu, Wang & Ji 2020): the rule on ``y/n`` in exact rational arithmetic (no rounding).
* TITE-BOIN: the optional extra-safe stop looks at completed patients, as the elimination does.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from cartrial.designs import MTPI2, TITEBOIN, I3Plus3, Keyboard
from cartrial.designs.intervals import ProbabilityInterval, strongest_interval

TARGETS = (0.20, 0.25, 0.30, 1 / 3, 0.40)
MARGINS = ((0.05, 0.05), (0.05, 0.10), (0.10, 0.05))


def _keyboard_package(target: float, n: int, y: int, margin_l: float, margin_r: float) -> str:
    a1, a2 = target - margin_l, target + margin_r
    delta = a2 - a1
    left: list[float] = []
    cutoff, i = 0.3, 0
    while cutoff > 0:
        i += 1
        cutoff = a1 - i * delta
        left.insert(0, max(cutoff, 0.0))
    right: list[float] = []
    cutoff, i = 0.3, 0
    while cutoff < 1:
        i += 1
        cutoff = a2 + i * delta
        right.append(min(cutoff, 1.0))
    keys = [*left, a1, a2, *right]
    n_keys = len(keys) - 1
    strength = []
    for k in range(n_keys):
        comp = delta / (keys[k + 1] - keys[k]) if k in (0, n_keys - 1) else 1.0
        mass = stats.beta.cdf(keys[k + 1], y + 1, n - y + 1) - stats.beta.cdf(
            keys[k], y + 1, n - y + 1
        )
        strength.append(mass * comp)
    values = np.asarray(strength)
    if np.sort(values)[-2] > values.max() * (1 - 1e-9):
        # a mathematical tie (mirrored keys, symmetric posterior): the package's answer then
        # depends on rounding in its key edges; the rule itself says the highest key.
        values = np.where(values > values.max() * (1 - 1e-9), values.max(), values)
    high = int(np.flatnonzero(values == values.max())[-1])
    target_key = keys.index(a1)
    return "D" if high > target_key else "S" if high == target_key else "E"


@pytest.mark.parametrize("margins", MARGINS)
@pytest.mark.parametrize("target", TARGETS)
def test_keyboard_matches_package_algorithm(target: float, margins: tuple[float, float]) -> None:
    eps1, eps2 = margins
    want = [_keyboard_package(target, n, y, eps1, eps2) for n in range(1, 19) for y in range(n + 1)]
    design = Keyboard(target=target, n_doses=3, eps1=eps1, eps2=eps2)
    assert [design.rule(n, y) for n in range(1, 19) for y in range(n + 1)] == want
    if margins == (0.05, 0.05):
        # the documented equivalence of the "full keys only" option at the usual margins
        dropped = Keyboard(target=target, n_doses=3, partial="drop")
        assert [dropped.rule(n, y) for n in range(1, 19) for y in range(n + 1)] == want


def test_keyboard_full_keys_only_can_lose_the_escalation_key() -> None:
    # target 0.2, eps1 = 0.1: the target key is [0.1, 0.25]; below it only [0, 0.1] remains,
    # narrower than a key. The package keeps it (compensated): 0/3 -> E; "drop" cannot escalate.
    assert _keyboard_package(0.2, 3, 0, 0.1, 0.05) == "E"
    assert Keyboard(target=0.2, n_doses=3, eps1=0.1).rule(3, 0) == "E"
    assert Keyboard(target=0.2, n_doses=3, eps1=0.1, partial="drop").rule(3, 0) == "S"


def _mtpi2_direct(target: float, n: int, y: int, eps1: float, eps2: float) -> str:
    width = eps1 + eps2
    edges_low = [target - eps1]
    while edges_low[0] > 1e-12:
        edges_low.insert(0, max(edges_low[0] - width, 0.0))
    edges_high = [target + eps2]
    while edges_high[-1] < 1 - 1e-12:
        edges_high.append(min(edges_high[-1] + width, 1.0))
    edges = [*edges_low, *edges_high]
    cdf = dict(zip(edges, stats.beta.cdf(edges, 1 + y, 1 + n - y), strict=True))
    upm = [(cdf[b] - cdf[a]) / (b - a) for a, b in itertools.pairwise(edges)]
    best = int(np.flatnonzero(np.asarray(upm) == max(upm))[-1])
    ei = len(edges_low) - 1
    return "E" if best < ei else "S" if best == ei else "D"


@pytest.mark.parametrize("target", TARGETS)
def test_mtpi2_unit_probability_mass(target: float) -> None:
    design = MTPI2(target=target, n_doses=3)
    for n in range(1, 19):
        for y in range(n + 1):
            assert design.rule(n, y) == _mtpi2_direct(target, n, y, 0.05, 0.05), (n, y)


def _i3plus3_exact(target: str, eps: str, n: int, y: int) -> str:
    low, high = Fraction(target) - Fraction(eps), Fraction(target) + Fraction(eps)
    rate = Fraction(y, n)
    if rate < low:
        return "E"
    if rate <= high:
        return "S"
    return "S" if Fraction(y - 1, n) < low else "D"


@pytest.mark.parametrize("target", ["0.2", "0.25", "0.3", "0.35", "0.4"])
def test_i3plus3_exact_rational_rule(target: str) -> None:
    # Boundary cases such as y/n = 1/4 = 0.3 - 0.05 or 7/20 = 0.3 + 0.05 must stay "S".
    design = I3Plus3(target=float(target), n_doses=3)
    for n in range(1, 31):
        for y in range(n + 1):
            assert design.rule(n, y) == _i3plus3_exact(target, "0.05", n, y), (n, y)


def test_mirrored_keys_tie_goes_to_the_higher_key() -> None:
    # target 0.4, eps1 0.05, eps2 0.1: target key [0.35, 0.5] and key [0.5, 0.65] are mirror
    # images about 0.5; with 2 DLTs in 4 the posterior Beta(3, 3) is symmetric: an exact tie.
    post = stats.beta(3, 3)
    assert post.cdf(0.5) - post.cdf(0.35) == pytest.approx(post.cdf(0.65) - post.cdf(0.5))
    assert Keyboard(target=0.4, n_doses=3, eps1=0.05, eps2=0.1).rule(4, 2) == "D"


def test_ties_go_to_the_higher_interval() -> None:
    # Two keys of equal posterior mass under Beta(2, 2) (symmetric about 0.5): [0.3, 0.5] left of
    # the target key and [0.5, 0.7] right of it -> the right one, as get.boundary.kb does.
    keys = (
        ProbabilityInterval(0.3, 0.5, "E"),
        ProbabilityInterval(0.0, 0.01, "S"),
        ProbabilityInterval(0.5, 0.7, "D"),
    )
    assert strongest_interval(keys, 2, 1, per_unit_width=False) == "D"


def test_tite_boin_extrasafe_uses_completed_patients() -> None:
    # Lowest dose: 3 DLTs in 6 treated, 2 of the 6 still pending. Completed data 3/4:
    # Pr(p > 0.3 | Beta(4, 2)) = 0.9692 > 0.90 -> extra-safe stop. Counting the pending patients
    # as non-DLT (3/6: Pr = 0.8740) would miss it. Elimination (> 0.95) would also fire on 3/4, so
    # the cut-off is raised to 0.98 to isolate the extra-safe rule (0.98 - 0.05 = 0.93).
    assert stats.beta.sf(0.3, 4, 2) == pytest.approx(0.96922, abs=1e-5)
    assert stats.beta.sf(0.3, 4, 4) == pytest.approx(0.87396, abs=1e-5)
    design = TITEBOIN(
        target=0.3, n_doses=3, extrasafe=True, elimination_cutoff=0.98, max_pending_fraction=1.0
    )
    decision = design.decide(
        n=[6, 0, 0], dlt=[3, 0, 0], current=0, pending_followup=[(0, 0.5), (0, 0.5)]
    )
    assert decision.action == "stop"
    assert decision.reason.startswith("extra-safe stop")
