"""RECIST 1.1 criteria as package data: thresholds, response vocabularies and Tables 1-2.

The thresholds and rule texts live in ``cartrial/data/recist/criteria.yaml`` and the overall
time-point response tables (RECIST 1.1 Tables 1 and 2, Eisenhauer et al., Eur J Cancer
2009;45:228-247) in ``cartrial/data/recist/overall_response.csv``; both files name their sources.
This module loads them once and turns Table 1/2 into a dense lookup array indexed by
``(target code, non-target code, new lesion)`` so the engine can classify every time point with one
array index instead of a chain of ``if`` statements.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from cartrial.safeyaml import load_yaml
from cartrial.vocab import NONTARGET_RESPONSES, OVERALL_RESPONSES, TARGET_RESPONSES

__all__ = [
    "RecistCriteria",
    "ResponseTable",
    "criteria",
    "response_table",
]


#: Names of the target rules in ``criteria.yaml`` ``target_rules``; position = rule code.
TARGET_RULE_KEYS: tuple[str, ...] = (
    "pd_sum",
    "pd_partial",
    "pd_reappearance",
    "ne",
    "cr",
    "pr",
    "sd",
    "not_applicable",
)

_NON_PD = frozenset({"CR", "NON-CR/NON-PD", "NOT-APPLICABLE"})


@dataclass(frozen=True)
class RecistCriteria:
    """RECIST 1.1 thresholds (mm and percent) and rule texts, read from ``criteria.yaml``.

    Attributes
    ----------
    non_nodal_min_mm, nodal_target_min_mm, nodal_pathological_min_mm : float
        Measurability at baseline: longest diameter of a non-nodal lesion, short axis of a target
        node, short axis below which a node is normal (mm).
    max_targets, max_targets_per_organ : int
        Target selection limits; ``lymph_node_organ`` is the organ all nodes count as.
    pr_decrease_pct, pd_increase_pct : int
        PR needs a decrease from baseline of at least this percent; PD an increase from nadir of
        at least this percent and of at least ``pd_absolute_mm``.
    cr_node_below_mm : float
        A target node counts as normal for CR when its short axis is below this (mm).
    too_small_mm : float
        Value recorded for a target lesion present but too small to measure (mm).
    target_rules : tuple[str, ...]
        Rule texts in :data:`TARGET_RULE_KEYS` order.
    new_lesion_confirmed_later : str
        Rule text for a time point made PD by an equivocal new lesion confirmed later.
    """

    non_nodal_min_mm: float
    nodal_target_min_mm: float
    nodal_pathological_min_mm: float
    max_targets: int
    max_targets_per_organ: int
    lymph_node_organ: str
    pr_decrease_pct: int
    pd_increase_pct: int
    pd_absolute_mm: float
    cr_node_below_mm: float
    too_small_mm: float
    target_rules: tuple[str, ...]
    new_lesion_confirmed_later: str


@dataclass(frozen=True)
class ResponseTable:
    """RECIST 1.1 Tables 1-2 as a dense lookup.

    Attributes
    ----------
    overall : numpy.ndarray
        ``int8`` array of shape ``(len(TARGET_RESPONSES), len(NONTARGET_RESPONSES), 2)``: the code
        in :data:`OVERALL_RESPONSES` for ``[target, non-target, new lesion]``; ``-1`` for the one
        impossible combination (no target and no non-target lesions).
    rule : numpy.ndarray
        Same shape: index into ``rules`` of the table row that fired (first matching row).
    rules : tuple[str, ...]
        Rule text of each table row, in file order.
    new_lesion_rows : frozenset[int]
        Rows that fire because of a new lesion only (used to name a retro-dated new lesion).
    """

    overall: npt.NDArray[np.int8]
    rule: npt.NDArray[np.int8]
    rules: tuple[str, ...]
    new_lesion_rows: frozenset[int]


def _read_text(name: str) -> str:
    return (resources.files("cartrial") / "data" / "recist" / name).read_text(encoding="utf-8")


@functools.cache
def criteria() -> RecistCriteria:
    """Load the RECIST 1.1 thresholds from package data (cached).

    Returns
    -------
    RecistCriteria
        Thresholds and rule texts; see ``cartrial/data/recist/criteria.yaml`` for their sources.
    """
    raw = cast("dict[str, Any]", load_yaml(_read_text("criteria.yaml"), source="criteria.yaml"))
    meas, sel, resp = raw["measurability"], raw["target_selection"], raw["target_response"]
    return RecistCriteria(
        non_nodal_min_mm=float(meas["non_nodal_min_longest_diameter_mm"]),
        nodal_target_min_mm=float(meas["nodal_target_min_short_axis_mm"]),
        nodal_pathological_min_mm=float(meas["nodal_pathological_min_short_axis_mm"]),
        max_targets=int(sel["max_targets"]),
        max_targets_per_organ=int(sel["max_targets_per_organ"]),
        lymph_node_organ=str(sel["lymph_node_organ"]),
        pr_decrease_pct=int(resp["pr_min_decrease_from_baseline_pct"]),
        pd_increase_pct=int(resp["pd_min_increase_from_nadir_pct"]),
        pd_absolute_mm=float(resp["pd_min_absolute_increase_mm"]),
        cr_node_below_mm=float(resp["cr_node_below_short_axis_mm"]),
        too_small_mm=float(resp["too_small_to_measure_mm"]),
        target_rules=tuple(str(raw["target_rules"][key]) for key in TARGET_RULE_KEYS),
        new_lesion_confirmed_later=str(raw["new_lesion_confirmed_later"]),
    )


def _matches(pattern: str, value: str) -> bool:
    if pattern == "ANY":
        return True
    if pattern == "NON-PD":
        return value in _NON_PD
    return pattern == value


@functools.cache
def response_table() -> ResponseTable:
    """Load RECIST 1.1 Tables 1-2 and expand them into a dense lookup (cached).

    Table 1 rows apply to subjects with target lesions, Table 2 rows to subjects without; within a
    table the first matching row wins, so the file order is the order of precedence.

    Returns
    -------
    ResponseTable
        The lookup arrays and the rule text of every row.
    """
    lines = [ln for ln in _read_text("overall_response.csv").splitlines() if not ln.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    shape = (len(TARGET_RESPONSES), len(NONTARGET_RESPONSES), 2)
    overall = np.full(shape, -1, dtype=np.int8)
    rule = np.full(shape, -1, dtype=np.int8)
    for t_code, target in enumerate(TARGET_RESPONSES):
        table = "2" if target == "NOT-APPLICABLE" else "1"
        for n_code, nontarget in enumerate(NONTARGET_RESPONSES):
            if target == "NOT-APPLICABLE" and nontarget == "NOT-APPLICABLE":
                continue
            for new in (0, 1):
                for r_code, row in enumerate(rows):
                    if (
                        row["table"] == table
                        and _matches(row["target"], target)
                        and _matches(row["nontarget"], nontarget)
                        and _matches(row["new_lesions"].upper(), "YES" if new else "NO")
                    ):
                        overall[t_code, n_code, new] = OVERALL_RESPONSES.index(row["overall"])
                        rule[t_code, n_code, new] = r_code
                        break
    new_rows = frozenset(i for i, row in enumerate(rows) if row["new_lesions"] == "yes")
    return ResponseTable(
        overall=overall,
        rule=rule,
        rules=tuple(row["rule"] for row in rows),
        new_lesion_rows=new_rows,
    )
