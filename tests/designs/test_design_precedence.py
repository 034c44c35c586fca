"""Rules of precedence (cartrial.designs.base): properties that hold for every design and input."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartrial.designs import (
    BOIN,
    CRM,
    MTPI2,
    TITEBOIN,
    TITECRM,
    DecisionTableDesign,
    Design,
    I3Plus3,
    Keyboard,
    ThreePlusThree,
)


@cache
def designs(n_doses: int) -> list[Design]:
    common = {"target": 0.3, "n_doses": n_doses, "cohort_size": 3, "n_cohorts": 8}
    table = MTPI2(**common).decision_grid()  # type: ignore[arg-type]
    return [
        ThreePlusThree(n_doses=n_doses),
        BOIN(**common, n_earlystop=9),  # type: ignore[arg-type]
        BOIN(**common, extrasafe=True),  # type: ignore[arg-type]
        TITEBOIN(**common),  # type: ignore[arg-type]
        Keyboard(**common),  # type: ignore[arg-type]
        MTPI2(**common),  # type: ignore[arg-type]
        I3Plus3(**common),  # type: ignore[arg-type]
        DecisionTableDesign.from_grid(table, **common),
        CRM(**common, ewoc_alpha=0.3),  # type: ignore[arg-type]
        TITECRM(**common, n_earlystop=6),  # type: ignore[arg-type]
    ]


@st.composite
def trial_states(draw: st.DrawFn) -> tuple[int, list[int], list[int], int, list[tuple[int, float]]]:
    n_doses = draw(st.integers(2, 5))
    n = draw(st.lists(st.integers(0, 8), min_size=n_doses, max_size=n_doses))
    dlt = [draw(st.integers(0, m)) for m in n]
    current = draw(st.integers(0, n_doses - 1))
    pending: list[tuple[int, float]] = []
    for dose in range(n_doses):
        waiting = draw(st.integers(0, n[dose] - dlt[dose]))
        pending += [(dose, draw(st.floats(0.0, 0.99))) for _ in range(waiting)]
    return n_doses, n, dlt, current, pending


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trial_states())
def test_never_an_eliminated_dose_and_never_a_skip(
    state: tuple[int, list[int], list[int], int, list[tuple[int, float]]],
) -> None:
    n_doses, n, dlt, current, pending = state
    for design in designs(n_doses):
        if isinstance(design, TITEBOIN | TITECRM):
            decision = design.decide(n, dlt, current, pending_followup=pending)
        else:
            decision = design.decide(n, dlt, current)
        label = type(design).__name__
        assert (decision.action == "stop") == (decision.next_dose is None), label
        assert decision.eliminated == tuple(range(n_doses - len(decision.eliminated), n_doses))
        if decision.next_dose is None:
            continue
        assert 0 <= decision.next_dose < n_doses, label
        assert decision.next_dose not in decision.eliminated, label
        assert decision.next_dose <= current + 1, label
        expected = (
            "escalate"
            if decision.next_dose > current
            else "de-escalate"
            if decision.next_dose < current
            else "stay"
        )
        assert decision.action == expected, label
        if decision.suspended:
            assert decision.next_dose == current, label


@settings(max_examples=100, deadline=None)
@given(trial_states())
def test_selected_mtd_is_never_eliminated(
    state: tuple[int, list[int], list[int], int, list[tuple[int, float]]],
) -> None:
    n_doses, n, dlt, _, _ = state
    for design in designs(n_doses):
        mtd = design.select_mtd(n, dlt)
        if mtd is None:
            continue
        assert 0 <= mtd < n_doses
        if isinstance(design, BOIN | Keyboard | MTPI2 | I3Plus3 | DecisionTableDesign):
            assert mtd not in design.eliminated(n, dlt)
            assert n[mtd] > 0
