"""Counts per dose level for a dose-escalation design, from the DLT follow-up table (pure).

:func:`dose_counts` turns :func:`cartrial.services.followup_window.dlt_followup` (one row per
infused subject) into what a design needs: per dose, the subjects treated, DLT-evaluable, still
pending (inside the DLT window without a DLT) and with a DLT, plus the counts ``n``/``dlt`` that
the design is asked with. It reads no database, so the dashboards, the decision use case and
the end of escalation count in the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartrial.designs import PendingPatient

__all__ = ["DoseCounts", "PendingWindow", "SubjectWindow", "dose_counts"]


@dataclass(frozen=True)
class PendingWindow:
    """A subject still inside the DLT window: where, until when, how much of it is followed."""

    subject_id: str
    dose_index: int
    window_end: dt.date
    followed_fraction: float


@dataclass(frozen=True)
class SubjectWindow:
    """A treated subject's DLT window: infusion day, window end, and how it stands."""

    subject_id: str
    dose_index: int
    infusion_date: dt.date
    window_end: dt.date
    dlt_evaluable: bool
    pending: bool
    has_dlt: bool


@dataclass(frozen=True)
class DoseCounts:
    """Escalation data per dose level (0-based index = protocol dose-level order).

    Attributes
    ----------
    treated, evaluable, pending, dlt
        Subjects infused, DLT-evaluable (a DLT or the whole window followed), inside the window
        without a DLT, and with a DLT, per dose.
    n
        Subjects the design counts per dose: the evaluable ones, or for a time-to-event design
        every treated subject (the pending ones weighted by :attr:`pending_followup`).
    pending_subjects
        The pending subjects, in infusion order.
    subjects
        Every treated subject's window, in the order of ``followup``.
    time_to_event
        Whether ``n`` counts pending subjects (TITE designs).
    dlt_followup
        For each DLT counted in ``dlt`` (in infusion order), the fraction of the DLT window at
        which it began: what TITE-CRM's adaptive weights are built from.
    """

    treated: tuple[int, ...]
    evaluable: tuple[int, ...]
    pending: tuple[int, ...]
    dlt: tuple[int, ...]
    n: tuple[int, ...]
    pending_subjects: tuple[PendingWindow, ...]
    time_to_event: bool
    dlt_followup: tuple[float, ...]
    subjects: tuple[SubjectWindow, ...] = ()

    @property
    def pending_followup(self) -> list[PendingPatient]:
        """``(dose index, followed fraction)`` of each pending subject, for TITE designs."""
        return [(p.dose_index, p.followed_fraction) for p in self.pending_subjects]

    @property
    def n_evaluable(self) -> int:
        """DLT-evaluable subjects over all doses."""
        return sum(self.evaluable)

    @property
    def n_dlt(self) -> int:
        """Subjects with a DLT over all doses."""
        return sum(self.dlt)


def _per_dose(
    frame: pd.DataFrame, n_doses: int, weights: pd.Series | None = None
) -> tuple[int, ...]:
    if frame.empty:
        return (0,) * n_doses
    counts = np.bincount(
        frame["dose_index"].astype(int),
        weights=None if weights is None else weights.astype(int),
        minlength=n_doses,
    )
    return tuple(int(x) for x in counts)


def dose_counts(followup: pd.DataFrame, n_doses: int, *, time_to_event: bool) -> DoseCounts:
    """Count the escalation subjects of ``followup`` per dose level.

    Parameters
    ----------
    followup
        The DLT follow-up table (:data:`~cartrial.services.followup_window.DLT_TABLE_COLUMNS`),
        already restricted to the subjects that count (e.g. the escalation phase).
    n_doses
        Number of protocol dose levels.
    time_to_event
        The design weighs pending subjects by their follow-up (TITE-CRM, TITE-BOIN): ``n`` then
        counts every treated subject; otherwise only the DLT-evaluable ones.

    Examples
    --------
    >>> table = pd.DataFrame({"subject_id": ["A", "B"], "dose_index": [1, 1],
    ...     "infusion_date": [dt.date(2026, 1, 4)] * 2, "has_dlt": [True, False],
    ...     "dlt_evaluable": [True, False], "pending": [False, True],
    ...     "window_end": [dt.date(2026, 2, 1)] * 2, "followed_fraction": [0.5, 0.25],
    ...     "dlt_onset_fraction": [0.5, float("nan")]})
    >>> c = dose_counts(table, 3, time_to_event=False)
    >>> (c.treated, c.evaluable, c.pending, c.dlt, c.n, c.dlt_followup)
    ((0, 2, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0.5,))
    """
    evaluable = followup[followup["dlt_evaluable"].astype(bool)]
    pending = followup[followup["pending"].astype(bool)]
    counted = followup if time_to_event else evaluable
    return DoseCounts(
        treated=_per_dose(followup, n_doses),
        evaluable=_per_dose(evaluable, n_doses),
        pending=_per_dose(pending, n_doses),
        dlt=_per_dose(counted, n_doses, counted["has_dlt"].astype(bool)),
        n=_per_dose(counted, n_doses),
        pending_subjects=tuple(
            PendingWindow(
                subject_id=str(r["subject_id"]),
                dose_index=int(r["dose_index"]),
                window_end=r["window_end"],
                followed_fraction=float(r["followed_fraction"]),
            )
            for r in pending.to_dict("records")
        ),
        time_to_event=time_to_event,
        dlt_followup=tuple(
            float(x) for x in counted.loc[counted["has_dlt"].astype(bool), "dlt_onset_fraction"]
        ),
        subjects=tuple(
            SubjectWindow(
                subject_id=str(r["subject_id"]),
                dose_index=int(r["dose_index"]),
                infusion_date=r["infusion_date"],
                window_end=r["window_end"],
                dlt_evaluable=bool(r["dlt_evaluable"]),
                pending=bool(r["pending"]),
                has_dlt=bool(r["has_dlt"]),
            )
            for r in followup.to_dict("records")
        ),
    )
