"""What every dose-finding design shares: the decision it returns and input checks.

Doses are 0-based indices into the protocol's ordered dose levels. A design's ``decide`` returns a
frozen :class:`Decision`; ``action`` is one of :data:`ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from cartrial.errors import DesignError

__all__ = ["ACTIONS", "Action", "Decision", "check_counts", "check_probability_vector"]

Action = Literal["escalate", "stay", "de-escalate", "stop"]
ACTIONS: tuple[Action, ...] = ("escalate", "stay", "de-escalate", "stop")


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
    """

    action: Action
    next_dose: int | None
    eliminated: tuple[int, ...] = ()
    reason: str = ""
    details: dict[str, float] = field(default_factory=dict)


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
    if current is not None and not 0 <= current < n_doses:
        raise DesignError(f"current dose {current} is out of range 0..{n_doses - 1}")
    return n_int, dlt_int


def check_probability_vector(values: Sequence[float] | npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """Validate a vector of probabilities in [0, 1] (e.g. true toxicity rates)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise DesignError(f"{name} must be a non-empty list of probabilities")
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise DesignError(f"{name} must lie in [0, 1], got {arr.tolist()}")
    return arr
