"""Property tests (hypothesis) of the RECIST 1.1 engine on random valid lesion tables.

Properties and their source:
* an unequivocal new lesion at a time point makes that time point PD (RECIST 1.1 Tables 1-2,
  "Any / Any / Yes -> PD"; issue 3 property);
* row order and time-point order of the input do not change any result (issue 3 property);
* each subject is evaluated independently of the others (RECIST is a per-patient criterion);
* derivation rules of recist-1.1.md §7-8: the progression date is the first PD time point; a
  response date precedes progression; requiring confirmation never improves the BOR; a confirmed
  flag only for CR/PR; SD only from a time point on or after the SD minimum; best % change is the
  smallest % change up to the first PD;
* the vectorised engine agrees with an independent plain-loop implementation of the same rules
  (``loop_reference`` in benchmarks/bench_recist.py).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recist_support import evaluate

from cartrial.rules import recist

DAY0 = pd.Timestamp("2026-01-01")
RANK = {r: i for i, r in enumerate(recist.OVERALL_RESPONSES)}  # CR best ... NE last
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def subject_rows(draw: st.DrawFn, subject: str) -> list[dict[str, object]]:
    n_targets = draw(st.integers(0, 3))
    n_nontargets = draw(st.integers(0 if n_targets else 1, 2))
    n_follow = draw(st.integers(1, 5))
    gaps = draw(st.lists(st.integers(14, 60), min_size=n_follow, max_size=n_follow))
    days = [-draw(st.integers(0, 20)), *np.cumsum(gaps).tolist()]
    organs = ["liver", "lung", "adrenal"]
    nodes = [i > 0 and draw(st.booleans()) for i in range(n_targets)]  # <= 2 nodes (one organ)
    rows: list[dict[str, object]] = []

    def add(day: int, lesion: str, category: str, node: bool, diameter: float | None, status: str):
        rows.append(
            {
                "subject_id": subject,
                "assessment_date": (DAY0 + pd.Timedelta(days=int(day))).date().isoformat(),
                "lesion_id": lesion,
                "category": category,
                "organ": "node" if node else organs[int(lesion[1:]) % 3],
                "is_lymph_node": node,
                "diameter_mm": diameter,
                "status": status,
            }
        )

    for t, day in enumerate(days):
        for i in range(n_targets):
            if t == 0:
                low = 15 if nodes[i] else 10
                add(day, f"T{i}", "target", nodes[i], draw(st.integers(low, 80)) * 1.0, "present")
                continue
            # T0 is never missing, so every follow-up time point has a row (the PD test picks one)
            statuses = ["present", "present", "present", "too_small", "absent", "NE"]
            status = draw(st.sampled_from(statuses if i == 0 else [*statuses, "missing"]))
            if status == "missing":
                continue
            diameter = draw(st.integers(0, 90)) * 1.0 if status == "present" else None
            add(day, f"T{i}", "target", nodes[i], diameter, status)
        for j in range(n_nontargets):
            status = (
                "present"
                if t == 0
                else draw(
                    st.sampled_from(
                        ["present", "present", "absent", "NE", "unequivocal_progression"]
                    )
                )
            )
            add(day, f"N{j}", "non_target", False, None, status)
        if t > 0 and draw(st.integers(0, 5)) == 0:
            add(day, "L0", "new", False, 6.0, draw(st.sampled_from(["equivocal", "unequivocal"])))
    return rows


@st.composite
def lesion_tables(draw: st.DrawFn) -> pd.DataFrame:
    n_subjects = draw(st.integers(1, 3))
    rows = [r for s in range(n_subjects) for r in draw(subject_rows(f"P{s}"))]
    return pd.DataFrame(rows)


def _refs(frame: pd.DataFrame) -> dict[str, str]:
    return {str(s): "2026-01-01" for s in frame["subject_id"].unique()}


@SETTINGS
@given(table=lesion_tables(), data=st.data())
def test_new_unequivocal_lesion_gives_pd(table: pd.DataFrame, data: st.DataObject) -> None:
    follow_ups = table[table["assessment_date"] > "2026-01-01"][["subject_id", "assessment_date"]]
    pick = follow_ups.drop_duplicates().iloc[
        data.draw(st.integers(0, len(follow_ups.drop_duplicates()) - 1))
    ]
    extra = {
        "subject_id": pick.subject_id,
        "assessment_date": pick.assessment_date,
        "lesion_id": "EXTRA",
        "category": "new",
        "organ": "bone",
        "is_lymph_node": False,
        "diameter_mm": 11.0,
        "status": "unequivocal",
    }
    result = evaluate(pd.DataFrame([*table.to_dict("records"), extra]), _refs(table))
    tps = result.timepoints
    row = tps[
        (tps.subject_id == pick.subject_id)
        & (tps.assessment_date == pd.Timestamp(pick.assessment_date))
    ].iloc[0]
    assert row.overall_response == "PD"
    assert bool(row.new_lesions)
    best = result.best.set_index("subject_id").loc[pick.subject_id]
    assert pd.notna(best.date_progression)
    assert best.date_progression <= pd.Timestamp(pick.assessment_date)


@SETTINGS
@given(table=lesion_tables(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_change_results(table: pd.DataFrame, seed: int) -> None:
    shuffled = table.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    a = evaluate(table, _refs(table))
    b = evaluate(shuffled, _refs(table))
    pd.testing.assert_frame_equal(a.timepoints, b.timepoints)
    pd.testing.assert_frame_equal(a.best, b.best)


@SETTINGS
@given(table=lesion_tables())
def test_subjects_are_evaluated_independently(table: pd.DataFrame) -> None:
    together = evaluate(table, _refs(table))
    for subject, rows in table.groupby("subject_id"):
        alone = evaluate(rows, {str(subject): "2026-01-01"})
        mine = together.timepoints[together.timepoints.subject_id == subject]
        pd.testing.assert_frame_equal(alone.timepoints, mine.reset_index(drop=True))


@SETTINGS
@given(table=lesion_tables(), sd_min=st.sampled_from([28, 42, 56]))
def test_derivation_rules(table: pd.DataFrame, sd_min: int) -> None:
    confirmed = evaluate(table, _refs(table), sd_min_days=sd_min)
    unconfirmed = evaluate(table, _refs(table), confirm=False, sd_min_days=sd_min)
    tps = confirmed.timepoints
    for subject, best in confirmed.best.set_index("subject_id").iterrows():
        mine = tps[tps.subject_id == subject]
        pd_dates = mine.loc[mine.overall_response == "PD", "assessment_date"]
        first_pd = pd_dates.min() if len(pd_dates) else pd.NaT
        assert best.date_progression is first_pd or best.date_progression == first_pd
        window = mine if pd.isna(first_pd) else mine[mine.assessment_date <= first_pd]
        bor = best.best_overall_response
        loose = unconfirmed.best.set_index("subject_id").loc[subject, "best_overall_response"]
        assert RANK[bor] >= RANK[loose] or (bor == "PD" and loose == "NE")
        if bool(best.confirmed):
            assert bor in ("CR", "PR")
        if bor in ("CR", "PR"):
            assert pd.notna(best.date_first_response)
            assert pd.isna(first_pd) or best.date_first_response < first_pd
        if bor in ("SD", "NON-CR/NON-PD"):
            assert (window.day >= sd_min).any()
        if bor == "PD":
            assert pd.notna(first_pd)
        pct = window.pct_change_from_baseline.dropna()
        if len(pct):
            assert best.best_pct_change == pct.min()
        else:
            assert np.isnan(best.best_pct_change)


@SETTINGS
@given(table=lesion_tables())
def test_overall_pd_exactly_when_a_component_is_pd(table: pd.DataFrame) -> None:
    """RECIST 1.1 Tables 1-2: overall PD iff target PD, non-target PD or a new lesion."""
    tps = evaluate(table, _refs(table)).timepoints
    component_pd = (
        (tps.target_response == "PD") | (tps.nontarget_response == "PD") | tps.new_lesions
    )
    assert ((tps.overall_response == "PD") == component_pd).all()


def _loop_reference() -> Callable[
    ..., tuple[list[dict[str, object]], dict[str, dict[str, object]]]
]:
    """The independent per-subject loop implementation kept with the benchmark."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_recist.py"
    spec = importlib.util.spec_from_file_location("bench_recist", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loop_reference  # type: ignore[no-any-return]


LOOP_REFERENCE = _loop_reference()


@SETTINGS
@given(
    table=lesion_tables(),
    confirm=st.booleans(),
    sd_min=st.sampled_from([28, 42]),
    ne_between=st.booleans(),
)
def test_vectorised_engine_equals_loop_reference(
    table: pd.DataFrame, confirm: bool, sd_min: int, ne_between: bool
) -> None:
    """Differential test against a plain-loop implementation of the same RECIST 1.1 rules."""
    options = {"confirm": confirm, "sd_min_days": sd_min, "allow_ne_between": ne_between}
    result = evaluate(table, _refs(table), **options)  # type: ignore[arg-type]
    loop_tps, loop_best = LOOP_REFERENCE(table, _refs(table), **options)
    columns = ["target_response", "nontarget_response", "new_lesions", "overall_response"]
    expected = pd.DataFrame(loop_tps, columns=["subject_id", *columns])
    pd.testing.assert_frame_equal(
        result.timepoints[["subject_id", *columns]], expected, check_dtype=False
    )
    epoch = pd.Timestamp("1970-01-01")
    for _, best in result.best.iterrows():
        ref = loop_best[best.subject_id]
        assert best.best_overall_response == ref["best_overall_response"]
        assert bool(best.confirmed) == ref["confirmed"]
        for column, key in (
            ("date_first_response", "first_response_day"),
            ("date_progression", "progression_day"),
        ):
            day = None if pd.isna(best[column]) else (best[column] - epoch).days
            assert day == ref[key], column
