"""3+3 against an independent, history-based statement of the rules, by full enumeration.

The rules (phase1-designs.md sec. 1; Storer 1989): cohorts of 3; 0/3 escalate; 1/3 treat 3 more;
<= 1/6 escalate; >= 2 DLTs at a dose: it exceeds the MTD, treat 3 more at the dose below unless 6
are there already (then it is the MTD); a dose about to be declared the MTD is expanded to 6;
the highest dose that clears is the MTD; the lowest dose exceeding stops with no MTD.

Here they are applied to the sequence of cohorts (dose, DLTs) rather than to per-dose counts, and
every possible trial is enumerated (each cohort 0-3 DLTs). The enumeration also gives the
probability of ever escalating past the first dose, checked against the closed form
``(1 - p)^3 + 3 p (1 - p)^2 (1 - p)^3`` (0/3, or 1/3 then 0/3).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from cartrial.designs import ThreePlusThree

History = tuple[tuple[int, int], ...]


def _rules(history: History, n_doses: int, start: int) -> tuple[str, int | None]:
    """("treat", dose) or ("stop", MTD or None) after the cohorts in ``history``."""
    if not history:
        return "treat", start
    n = [0] * n_doses
    y = [0] * n_doses
    for dose, k in history:
        n[dose] += 3
        y[dose] += k
    d = history[-1][0]
    if y[d] >= 2:
        if d == 0:
            return "stop", None
        below = d - 1
        return ("stop", below) if n[below] >= 6 else ("treat", below)
    if n[d] == 3 and y[d] == 1:
        return "treat", d
    exceeded_above = d + 1 < n_doses and y[d + 1] >= 2
    if exceeded_above or d == n_doses - 1:
        return ("treat", d) if n[d] < 6 else ("stop", d)
    return "treat", d + 1


def _trials(n_doses: int, start: int) -> Iterator[History]:
    """Every complete trial as its sequence of cohorts."""
    stack: list[History] = [((start, k),) for k in range(4)]
    while stack:
        history = stack.pop()
        action, dose = _rules(history, n_doses, start)
        if action == "stop":
            yield history
            continue
        assert dose is not None
        stack.extend((*history, (dose, k)) for k in range(4))


@pytest.mark.parametrize(("n_doses", "start"), [(3, 0), (4, 0), (4, 1)])
def test_every_trial_follows_the_rules(n_doses: int, start: int) -> None:
    design = ThreePlusThree(n_doses=n_doses, start=start)
    count = 0
    for history in _trials(n_doses, start):
        count += 1
        for cut in range(1, len(history) + 1):
            part = history[:cut]
            n = np.zeros(n_doses, dtype=int)
            y = np.zeros(n_doses, dtype=int)
            for dose, k in part:
                n[dose] += 3
                y[dose] += k
            action, value = _rules(part, n_doses, start)
            decision = design.decide(n=n, dlt=y, current=part[-1][0])
            if action == "stop":
                assert decision.action == "stop", (part, decision.reason)
                assert design.select_mtd(n=n, dlt=y) == value, part
            else:
                assert decision.next_dose == value, (part, decision.reason)
    assert count > 50


@pytest.mark.parametrize("p", [0.05, 0.2, 0.35, 0.6])
def test_probability_of_escalating_past_the_first_dose(p: float) -> None:
    total = 0.0
    passed = 0.0
    for history in _trials(3, 0):
        weight = math.prod(math.comb(3, k) * p**k * (1 - p) ** (3 - k) for _, k in history)
        total += weight
        if any(dose >= 1 for dose, _ in history):
            passed += weight
    assert total == pytest.approx(1.0, abs=1e-12)
    closed_form = (1 - p) ** 3 + 3 * p * (1 - p) ** 2 * (1 - p) ** 3
    assert passed == pytest.approx(closed_form, abs=1e-12)
