"""What a time-to-event decision sees: the follow-up of the recent enrolments of each trial.

:class:`FollowUp` holds, per trial, the patients and DLTs per dose and the *tail* of recent
enrolments (their dose, whether a DLT is seen, pending or still to come, and the followed part of
the window); :func:`follow_up_at` derives it at a decision time; a :class:`TiteKernel` decides
from it for many trials at once (:mod:`cartrial.simulation.tite` runs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cartrial.simulation.rows import count_true, row_min

__all__ = ["FollowUp", "TiteKernel", "follow_up_at", "next_follow_up_change"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FollowUp:
    """What the design can see at the decision time of each trial.

    Patients whose DLT window closed before an earlier decision are complete whatever the time
    now, so only the most recent enrolments (the *tail*, a few slots per trial) can be pending or
    have a DLT still to come; only they are examined at each decision.

    Attributes
    ----------
    n
        ``(n_trials, n_doses)``: every enrolled patient per dose.
    dlt_all
        ``(n_trials, n_doses)``: every DLT of the enrolled patients, including those whose onset
        lies after the decision time (not yet observed).
    dose
        ``(n_trials, width)``: dose of each tail slot.
    observed, pending, fraction
        Tail slots with a DLT seen by now; still inside the window without a DLT; the followed
        part of the window of the pending ones (0 elsewhere).
    unseen
        Tail slots with a DLT still to come (onset after the decision time).
    last
        The tail columns of the last cohort (:attr:`last_cohort_dlts` counts its DLTs).
    dlt_onsets
        Only for kernels that ask for it (``needs_dlt_onsets``): ``(n_trials, slots)``, the
        followed fraction of the window at which each DLT observed by now occurred, over every
        enrolled patient (``inf`` elsewhere).
    """

    n: IntArray
    dlt_all: IntArray
    dose: IntArray
    observed: BoolArray
    pending: BoolArray
    fraction: FloatArray
    unseen: BoolArray
    last: slice
    dlt_onsets: FloatArray | None = None

    def subset(self, rows: BoolArray) -> FollowUp:
        """The follow-up of the trials ``rows`` only."""
        return FollowUp(
            n=self.n[rows],
            dlt_all=self.dlt_all[rows],
            dose=self.dose[rows],
            observed=self.observed[rows],
            pending=self.pending[rows],
            fraction=self.fraction[rows],
            unseen=self.unseen[rows],
            last=self.last,
            dlt_onsets=None if self.dlt_onsets is None else self.dlt_onsets[rows],
        )

    @property
    def last_cohort_dlts(self) -> IntArray:
        """DLTs observed so far among the last cohort's patients, per trial."""
        return count_true(self.observed[:, self.last])

    def per_dose(self, flags: BoolArray) -> IntArray:
        """Count tail ``flags`` per trial and dose: ``(n_trials, n_doses)``."""
        n_trials, n_doses = self.n.shape
        key = (np.arange(n_trials)[:, None] * n_doses + self.dose)[flags]
        counts = np.bincount(key, minlength=n_trials * n_doses)
        return counts.reshape(n_trials, n_doses).astype(np.int64)

    def counts(self) -> tuple[IntArray, IntArray, IntArray]:
        """``(n, DLTs observed, pending)`` per trial and dose, from one pass over the tail.

        Unseen DLTs and pending patients are counted together: each slot adds
        ``unseen + pending * 2**shift`` to its trial and dose (``2**shift`` above the tail width,
        so the two counts never mix).
        """
        n_trials, n_doses = self.n.shape
        shift = max(6, self.dose.shape[1].bit_length())
        key = np.arange(n_trials)[:, None] * n_doses + self.dose
        packed = self.unseen.astype(np.int64) + (self.pending.astype(np.int64) << shift)
        cells = np.bincount(key.ravel(), weights=packed.ravel(), minlength=n_trials * n_doses)
        both = cells.astype(np.int64).reshape(n_trials, n_doses)
        unseen = both & ((1 << shift) - 1)
        return self.n, self.dlt_all - unseen, both >> shift

    @property
    def dlt(self) -> IntArray:
        """DLTs observed by now per trial and dose."""
        return self.counts()[1]


class TiteKernel(Protocol):
    """Vectorised ``decide`` of a TITE design: next dose (``-1`` stop) and suspension flag.

    ``needs_dlt_onsets``: the kernel reads :attr:`FollowUp.dlt_onsets` (the engine fills it).
    """

    needs_dlt_onsets: bool

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Decision per trial from the follow-up at the decision time."""
        ...

    def resume_day(
        self,
        follow: FollowUp,
        suspended: BoolArray,
        current: IntArray,
        resolve_day: FloatArray,
        now: FloatArray,
    ) -> FloatArray:
        """For the trials ``suspended`` at ``now``: the next day on which the decision may change.

        ``follow`` covers every trial just decided, ``suspended`` flags those waiting;
        ``current``, ``resolve_day`` (the day each tail slot's status last changes: its DLT
        onset, else the end of its window) and ``now`` are those of the suspended trials only.
        """
        ...


def next_follow_up_change(resolve_day: FloatArray, now: FloatArray) -> FloatArray:
    """The next day after ``now`` on which any tail slot's status changes (every event)."""
    return row_min(np.where(resolve_day > now[:, None], resolve_day, np.inf))


def follow_up_at(
    time: FloatArray,
    enrol_day: FloatArray,
    resolve_day: FloatArray,
    has_dlt: BoolArray,
    window_days: float,
) -> tuple[BoolArray, BoolArray, FloatArray, BoolArray]:
    """``(observed, pending, fraction, unseen)`` of every tail slot at ``time`` (per trial).

    ``resolve_day``: the DLT onset day of a slot with a DLT, else the day its window closes (a
    DLT falls inside the window), so a slot is pending (no DLT seen, window open) exactly while
    ``resolve_day > time``.
    """
    now = time[:, None]
    pending = resolve_day > now
    observed = has_dlt & ~pending
    fraction = (now - enrol_day) / window_days * pending  # as the per-trial loop divides
    unseen = has_dlt & pending
    return observed, pending, fraction, unseen
