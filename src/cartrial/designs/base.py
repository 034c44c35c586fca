"""What every dose-finding design shares: the decision it returns, its interface and input checks.

Doses are 0-based indices into the protocol's ordered dose levels. A design's ``decide`` returns a
frozen :class:`Decision`; ``action`` is one of :data:`ACTIONS`.

Rules of precedence
-------------------
Every design applies its rules in this fixed order; the first rule that settles the decision wins.

1. **Input checks.** Counts of the wrong length, negative counts, ``dlt > n``, a current dose out of
   range or inconsistent pending patients raise :class:`~cartrial.errors.DesignError`.
2. **Elimination.** Doses that meet the design's safety-elimination rule are eliminated *together
   with every higher dose* (interval designs: ``n >= 3`` and ``Pr(p > target | data) > 0.95``
   under a Beta(1, 1) prior; 3+3: a dose with two or more DLTs exceeds the MTD; CRM: doses
   excluded by overdose control on the current posterior). ``Decision.eliminated`` always lists
   them, whatever the action.
3. **Safety stop.** If the lowest dose is eliminated (or an optional extra-safe rule for the lowest
   dose fires) the trial stops with no dose: ``action == "stop"``, ``next_dose is None``.
4. **Maximum sample size.** If the planned number of patients has been treated the trial stops;
   ``select_mtd`` then names the MTD.
5. **Dose-finding rule.** The design's own rule at the current dose gives escalate, stay or
   de-escalate (no patients yet at the current dose: stay, i.e. treat the first cohort there).
6. **Dose range and elimination.** Escalation from the highest dose, or into an eliminated dose,
   becomes stay; de-escalation from the lowest dose becomes stay; a current dose that is itself
   eliminated moves down to the highest dose that is not.
7. **No skipping.** Escalation moves up one level at most (de-escalation may move further down only
   under rule 6).
8. **Early stop at the current dose.** When the number treated at the current dose has reached
   ``n_earlystop`` and the decision is to stay there, the trial stops.
9. **Accrual suspension (TITE designs).** When too many patients at the current dose are still
   inside their DLT window, an escalate or stay decision becomes "stay, accrual suspended"
   (``Decision.suspended``); a de-escalation is never delayed.

Hence ``next_dose`` is never an eliminated dose, and never more than one level above the current
dose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeGuard, runtime_checkable

import numpy as np
import numpy.typing as npt

from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS",
    "Action",
    "Decision",
    "Design",
    "LastCohortDesign",
    "PendingPatient",
    "TimeToEventDesign",
    "TimeToEventLastCohortDesign",
    "check_cohort_plan",
    "check_counts",
    "check_half_widths",
    "check_pending",
    "check_positive_int",
    "check_probability_vector",
    "check_start_dose",
    "check_target",
    "decision_from_move",
    "is_time_to_event",
    "takes_last_cohort",
]

Action = Literal["escalate", "stay", "de-escalate", "stop"]
ACTIONS: tuple[Action, ...] = ("escalate", "stay", "de-escalate", "stop")

PendingPatient = tuple[int, float]
"""A patient still inside the DLT window: ``(dose index, fraction of the window followed, 0-1)``."""


@dataclass(frozen=True)
class Decision:
    """The next-dose decision of a design.

    Attributes
    ----------
    action
        ``escalate``, ``stay``, ``de-escalate`` or ``stop``.
    next_dose
        0-based index of the dose for the next cohort; ``None`` when the trial stops.
    eliminated
        0-based indices of doses eliminated for toxicity (never recommended again).
    reason
        Plain-words explanation naming the rule that fired.
    details
        Numbers behind the decision (e.g. ``p_hat``, ``ess``), by name.
    suspended
        TITE designs: accrual is suspended until more follow-up matures (``action == "stay"``).
    """

    action: Action
    next_dose: int | None
    eliminated: tuple[int, ...] = ()
    reason: str = ""
    details: dict[str, float] = field(default_factory=dict)
    suspended: bool = False


@runtime_checkable
class Design(Protocol):
    """The public shape of every dose-finding design in :mod:`cartrial.designs`."""

    @property
    def n_doses(self) -> int:
        """Number of dose levels."""
        ...

    @property
    def start(self) -> int:
        """0-based starting dose."""
        ...

    @property
    def cohort_size(self) -> int:
        """Patients per cohort."""
        ...

    @property
    def max_patients(self) -> int | None:
        """Planned maximum sample size of the escalation, ``None`` when the rules alone end it."""
        ...

    def boundaries(self) -> pd.DataFrame:
        """The decision table in count form, one row per number of patients treated."""
        ...

    def decide(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike, current: int
    ) -> Decision:
        """The decision after the data ``n``/``dlt`` (per dose) with ``current`` the dose in use."""
        ...

    def select_mtd(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike
    ) -> int | None:
        """The MTD at the end of the trial (0-based), or ``None`` when no dose qualifies."""
        ...


class TimeToEventDesign(Design, Protocol):
    """A design whose ``decide`` also weighs patients still inside their DLT window (TITE).

    A design class declares the capability with the class attribute ``time_to_event = True``
    (TITE-BOIN, TITE-CRM); :func:`is_time_to_event` reads that flag.
    """

    time_to_event: ClassVar[bool]

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        pending_followup: Sequence[PendingPatient] | None = None,
    ) -> Decision:
        """The decision with ``pending_followup`` (dose, fraction of the window followed)."""
        ...


class LastCohortDesign(Design, Protocol):
    """A design whose coherence rule can look at the last cohort alone (CRM, TITE-CRM).

    Declared by the class attribute ``last_cohort_rule = True``; read by
    :func:`takes_last_cohort`.
    """

    last_cohort_rule: ClassVar[bool]

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        *,
        last_cohort: tuple[int, int] | None = None,
    ) -> Decision:
        """The decision; ``last_cohort`` = (patients, DLTs) of the most recent cohort."""
        ...


class TimeToEventLastCohortDesign(TimeToEventDesign, LastCohortDesign, Protocol):
    """Both capabilities at once (TITE-CRM)."""

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        pending_followup: Sequence[PendingPatient] | None = None,
        *,
        last_cohort: tuple[int, int] | None = None,
    ) -> Decision:
        """The decision with pending patients and the last cohort."""
        ...


class DLTOnsetDesign(TimeToEventDesign, Protocol):
    """A time-to-event design whose ``decide`` also needs when each observed DLT began.

    Declared by a ``needs_dlt_followup`` attribute that is true (TITE-CRM with
    ``scheme="adaptive"``); read by :func:`needs_dlt_followup`.
    """

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        pending_followup: Sequence[PendingPatient] | None = None,
        *,
        dlt_followup: Sequence[float] | None = None,
    ) -> Decision:
        """The decision; ``dlt_followup`` = followed fraction of the window at each DLT."""
        ...


def is_time_to_event(design: Design) -> TypeGuard[TimeToEventDesign]:
    """Whether ``design`` declares ``time_to_event = True`` (its ``decide`` takes pending
    patients, so decisions need not wait for every DLT window to close)."""
    return getattr(design, "time_to_event", False) is True


def takes_last_cohort(design: Design) -> TypeGuard[LastCohortDesign]:
    """Whether ``design`` declares ``last_cohort_rule = True`` (``decide(last_cohort=...)``)."""
    return getattr(design, "last_cohort_rule", False) is True


def needs_dlt_followup(design: Design) -> TypeGuard[DLTOnsetDesign]:
    """Whether ``design``'s ``decide`` needs ``dlt_followup``, the followed fraction of the window
    at which each observed DLT occurred (TITE-CRM with adaptive weights declares it)."""
    return is_time_to_event(design) and getattr(design, "needs_dlt_followup", False) is True


def decision_from_move(
    current: int,
    next_dose: int,
    eliminated: tuple[int, ...],
    reason: str,
    details: dict[str, float] | None = None,
    suspended: bool = False,
) -> Decision:
    """Build a :class:`Decision` whose action is read off the move from ``current``."""
    if next_dose > current:
        action: Action = "escalate"
    elif next_dose < current:
        action = "de-escalate"
    else:
        action = "stay"
    return Decision(action, next_dose, eliminated, reason, dict(details or {}), suspended)


def check_target(target: float, name: str = "target") -> float:
    """Validate a target DLT rate strictly inside (0, 1)."""
    value = float(target)
    if not np.isfinite(value) or not 0.0 < value < 1.0:
        raise DesignError(f"{name} must lie strictly between 0 and 1, got {target!r}")
    return value


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Validate a whole number at least ``minimum`` (cohort size, number of doses, ...)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DesignError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def check_half_widths(target: float, eps1: float, eps2: float) -> None:
    """Validate the half-widths of a target interval ``[target - eps1, target + eps2]``."""
    if not (0 < eps1 < target and 0 < eps2 < 1 - target):
        raise DesignError(f"need 0 < eps1 < target and 0 < eps2 < 1 - target, got {eps1}, {eps2}")


def check_start_dose(start: int, n_doses: int) -> int:
    """Validate a 0-based starting dose among ``n_doses`` dose levels."""
    check_positive_int(start, "start", minimum=0)
    if start >= n_doses:
        raise DesignError(f"start dose {start} is out of range 0..{n_doses - 1}")
    return int(start)


def check_cohort_plan(
    target: float, n_doses: int, cohort_size: int, n_cohorts: int, start: int
) -> None:
    """Validate the plan shared by the cohort designs: target, doses, cohorts and start dose."""
    check_target(target)
    check_positive_int(n_doses, "n_doses")
    check_positive_int(cohort_size, "cohort_size")
    check_positive_int(n_cohorts, "n_cohorts")
    check_start_dose(start, n_doses)


def check_counts(
    n: Sequence[int] | npt.ArrayLike,
    dlt: Sequence[int] | npt.ArrayLike,
    n_doses: int,
    current: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Validate per-dose patient and DLT counts; return them as integer arrays.

    Raises :class:`DesignError` for a length other than ``n_doses``, negative counts, ``dlt > n``
    or a current dose out of range.
    """
    n_arr = np.asarray(n)
    dlt_arr = np.asarray(dlt)
    if n_arr.shape != (n_doses,) or dlt_arr.shape != (n_doses,):
        raise DesignError(
            f"n and dlt must each have {n_doses} entries (one per dose), got "
            f"{n_arr.shape[0] if n_arr.ndim else 0} and {dlt_arr.shape[0] if dlt_arr.ndim else 0}"
        )
    if not (np.all(np.equal(np.mod(n_arr, 1), 0)) and np.all(np.equal(np.mod(dlt_arr, 1), 0))):
        raise DesignError("n and dlt must be whole numbers")
    n_int = n_arr.astype(np.int64)
    dlt_int = dlt_arr.astype(np.int64)
    if np.any(n_int < 0) or np.any(dlt_int < 0):
        raise DesignError("patient and DLT counts cannot be negative")
    bad = np.flatnonzero(dlt_int > n_int)
    if bad.size:
        d = int(bad[0])
        raise DesignError(f"dose {d}: {dlt_int[d]} DLTs among {n_int[d]} patients (dlt > n)")
    if current is not None and (
        isinstance(current, bool)
        or not isinstance(current, int | np.integer)
        or not 0 <= current < n_doses
    ):
        raise DesignError(f"current dose {current!r} is out of range 0..{n_doses - 1}")
    return n_int, dlt_int


def check_pending(
    pending_followup: Sequence[PendingPatient] | None,
    n: npt.NDArray[np.int64],
    dlt: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Validate pending patients against the counts; return their dose indices and fractions.

    ``n`` counts every treated patient (complete and pending), ``dlt`` the observed DLTs; so the
    pending patients at a dose cannot outnumber ``n - dlt`` there. Each fraction must lie in [0, 1).
    """
    items = list(pending_followup or ())
    doses = np.empty(len(items), dtype=np.int64)
    fractions = np.empty(len(items), dtype=np.float64)
    for i, item in enumerate(items):
        if len(item) != 2:
            raise DesignError(f"pending patient {i}: expected (dose, fraction), got {item!r}")
        dose, fraction = item
        if isinstance(dose, bool) or not isinstance(dose, int | np.integer):
            raise DesignError(f"pending patient {i}: dose must be a whole number, got {dose!r}")
        if not 0 <= dose < n.size:
            raise DesignError(f"pending patient {i}: dose {dose} is out of range 0..{n.size - 1}")
        frac = float(fraction)
        if not np.isfinite(frac) or not 0.0 <= frac < 1.0:
            raise DesignError(
                f"pending patient {i}: followed fraction of the DLT window must lie in [0, 1), "
                f"got {fraction!r}"
            )
        doses[i] = dose
        fractions[i] = frac
    per_dose = np.bincount(doses, minlength=n.size)
    over = np.flatnonzero(per_dose > n - dlt)
    if over.size:
        d = int(over[0])
        raise DesignError(
            f"dose {d}: {per_dose[d]} pending patients but only {n[d] - dlt[d]} treated without DLT"
        )
    return doses, fractions


def check_probability_vector(
    values: Sequence[float] | npt.ArrayLike, name: str
) -> npt.NDArray[np.float64]:
    """Validate a vector of probabilities in [0, 1] (e.g. true toxicity rates)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise DesignError(f"{name} must be a non-empty list of probabilities")
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise DesignError(f"{name} must lie in [0, 1], got {arr.tolist()}")
    return arr
