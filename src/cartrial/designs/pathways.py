"""Dose transition pathways: every outcome of the next cohorts and the dose each leads to.

Starting from the current data, the next cohort is treated at the dose the design recommends now;
each possible number of DLTs in that cohort (0..cohort size) gives new data and a new decision,
and so on for ``cohorts`` cohorts. Branches end early when the design stops. Follow-up is taken as
complete (TITE designs are asked without pending patients).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.designs.base import Design, check_counts, check_positive_int
from cartrial.errors import DesignError

__all__ = ["PATHWAY_COLUMNS", "dose_transition_pathways"]

PATHWAY_COLUMNS: tuple[str, ...] = (
    "path",
    "parent",
    "cohort",
    "dose",
    "n_dlt",
    "n_at_dose",
    "dlt_at_dose",
    "action",
    "next_dose",
    "reason",
)
"""Columns of the pathway table, one row per node (cohort outcome) of the tree."""


@dataclass(frozen=True)
class _State:
    path: str
    n: tuple[int, ...]
    dlt: tuple[int, ...]
    dose: int


def dose_transition_pathways(
    design: Design,
    *,
    n: Sequence[int] | npt.ArrayLike,
    dlt: Sequence[int] | npt.ArrayLike,
    current: int,
    cohorts: int = 2,
    cohort_size: int | None = None,
) -> pd.DataFrame:
    """All pathways of the next ``cohorts`` cohorts (1-3) as a table.

    Parameters
    ----------
    design
        Any design of :mod:`cartrial.designs`.
    n, dlt, current
        Data so far per dose and the dose of the last cohort (all zeros and the starting dose
        before the trial begins).
    cohorts
        Number of future cohorts to enumerate (1 to 3).
    cohort_size
        Patients per future cohort; default the design's cohort size.

    Returns
    -------
    pandas.DataFrame
        One row per node: ``path`` (DLT counts of the cohorts so far, e.g. ``"0/3 1/3"``),
        ``parent`` (path of the previous node, ``""`` for the first cohort), ``cohort``
        (1-based), ``dose`` treated, ``n_dlt`` in that cohort, ``n_at_dose``/``dlt_at_dose``
        afterwards, the design's ``action`` and ``next_dose`` (``<NA>`` on stop) and ``reason``.
        Empty when the design already stops on the current data.
    """
    cohorts = check_positive_int(cohorts, "cohorts")
    if cohorts > 3:
        raise DesignError(f"cohorts must be 1, 2 or 3, got {cohorts}")
    size = (
        design.cohort_size
        if cohort_size is None
        else check_positive_int(cohort_size, "cohort_size")
    )
    n_arr, dlt_arr = check_counts(n, dlt, design.n_doses, current)
    first = design.decide(n_arr, dlt_arr, current)
    rows: list[dict[str, object]] = []
    if first.next_dose is None:
        return pd.DataFrame(rows, columns=list(PATHWAY_COLUMNS))
    frontier = [_State("", tuple(n_arr.tolist()), tuple(dlt_arr.tolist()), first.next_dose)]
    for cohort in range(1, cohorts + 1):
        following: list[_State] = []
        for state in frontier:
            for k in range(size + 1):
                n_new = np.array(state.n)
                dlt_new = np.array(state.dlt)
                n_new[state.dose] += size
                dlt_new[state.dose] += k
                decision = design.decide(n_new, dlt_new, state.dose)
                path = f"{state.path} {k}/{size}".strip()
                rows.append(
                    {
                        "path": path,
                        "parent": state.path,
                        "cohort": cohort,
                        "dose": state.dose,
                        "n_dlt": k,
                        "n_at_dose": int(n_new[state.dose]),
                        "dlt_at_dose": int(dlt_new[state.dose]),
                        "action": decision.action,
                        "next_dose": decision.next_dose,
                        "reason": decision.reason,
                    }
                )
                if decision.next_dose is not None:
                    following.append(
                        _State(
                            path, tuple(n_new.tolist()), tuple(dlt_new.tolist()), decision.next_dose
                        )
                    )
        frontier = following
    table = pd.DataFrame(rows, columns=list(PATHWAY_COLUMNS))
    table["next_dose"] = table["next_dose"].astype("Int64")
    return table
