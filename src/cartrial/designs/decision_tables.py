"""The decision rules of a design as a protocol appendix prints them: table, notes, pathways.

* Count designs (BOIN, mTPI-2, Keyboard, i3+3, user tables, 3+3): the count table with its
  footnotes (``lambda_e``/``lambda_d``, the elimination and stopping rules);
* TITE-BOIN: the same plus its rules with pending patients (:meth:`TITEBOIN.pending_table`);
* CRM and TITE-CRM: no count table can exist (the next dose depends on every dose's data), so the
  dose transition pathways of the first cohorts from the starting dose are given instead
  (Yap et al. 2017, "Dose transition pathways: the missing link between complex dose-finding
  designs and simple decision-making", Clin Cancer Res 23:7440).

Dose levels are named (``DL1 ... DLk`` unless the protocol's names are given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartrial.designs.base import Design
from cartrial.designs.crm import CRM
from cartrial.designs.describe import default_dose_labels
from cartrial.designs.interval import IntervalDesign
from cartrial.designs.pathways import dose_transition_pathways
from cartrial.designs.tite_boin import TITEBOIN

__all__ = ["DecisionTables", "decision_tables", "named_pathways"]


@dataclass(frozen=True)
class DecisionTables:
    """What a protocol appendix shows for one design.

    Attributes
    ----------
    title
        ``"decision table"`` or ``"dose transition pathways"``.
    table
        The count table (or the ``--grid`` form), or the pathways with named dose levels.
    notes
        Footnotes in the order printed.
    pending
        TITE-BOIN's decisions with pending patients; ``None`` otherwise.
    """

    title: str
    table: pd.DataFrame
    notes: tuple[str, ...]
    pending: pd.DataFrame | None = None


def named_pathways(
    frame: pd.DataFrame, n_doses: int, dose_labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """A pathway table with ``dose`` and ``next_dose`` as dose-level names (``"stop"``)."""
    labels = default_dose_labels(n_doses) if dose_labels is None else tuple(dose_labels)
    named = frame.copy()
    named["dose"] = [labels[int(d)] for d in frame["dose"]]
    named["next_dose"] = ["stop" if pd.isna(d) else labels[int(d)] for d in frame["next_dose"]]
    return named


def decision_tables(
    design: Design,
    *,
    max_n: int | None = None,
    grid: bool = False,
    cohorts: int = 2,
    dose_labels: Sequence[str] | None = None,
) -> DecisionTables:
    """The decision table (or pathways), its footnotes and TITE-BOIN's pending table.

    Parameters
    ----------
    design
        Any design of :mod:`cartrial.designs`.
    max_n
        Largest number treated shown in a count table (default the maximum sample size).
    grid
        Count designs: every ``(n, y)`` cell (E, S, D, DU) instead of the boundaries.
    cohorts
        CRM/TITE-CRM: number of cohorts of pathways (1-3) from the starting dose.
    dose_labels
        Dose-level names (default ``DL1 ... DLk``).
    """
    notes: tuple[str, ...] = tuple(getattr(design, "table_notes", lambda: ())())
    if isinstance(design, CRM):
        zeros = np.zeros(design.n_doses, dtype=np.int64)
        frame = dose_transition_pathways(
            design, n=zeros, dlt=zeros, current=design.start, cohorts=cohorts
        )
        labels = default_dose_labels(design.n_doses) if dose_labels is None else dose_labels
        start = (
            f"Pathways start at {labels[design.start]} with no data; each column is one cohort "
            "and its number of DLTs; follow-up is taken as complete at each decision."
        )
        return DecisionTables(
            "dose transition pathways",
            named_pathways(frame, design.n_doses, dose_labels),
            (*notes, start),
        )
    if isinstance(design, IntervalDesign):
        table = design.decision_grid(max_n) if grid else design.boundaries(max_n)
    else:
        table = design.boundaries()
    pending = None
    if isinstance(design, TITEBOIN):
        pending = design.pending_table()
    return DecisionTables("decision table", table, notes, pending)
