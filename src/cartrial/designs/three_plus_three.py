"""The traditional 3+3 design (Storer 1989), with optional de-escalation and MTD expansion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import (
    Decision,
    check_counts,
    check_positive_int,
    check_start_dose,
    decision_from_move,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ThreePlusThree"]


@dataclass(frozen=True, kw_only=True)
class ThreePlusThree:
    """The 3+3 design on cohorts of three.

    Rules at the current dose (Storer 1989; reference §1): 0/3 DLT escalate; 1/3 treat three more;
    1/6 escalate; two or more DLTs (2/3 or >= 2/6) and the dose *exceeds the MTD* — it and all
    higher doses are eliminated. The MTD is the highest dose below the lowest dose that exceeds
    it, and needs at most one DLT.

    Parameters
    ----------
    n_doses
        Number of dose levels.
    start
        0-based starting dose (e.g. 1 when a DL-1 exists for de-escalation).
    deescalation
        When a dose exceeds the MTD and the dose below has fewer than six patients, treat three
        more there (de-escalate); if that dose also exceeds, keep going down. Without
        de-escalation the trial stops as soon as a dose exceeds and the dose below, as treated,
        is the MTD.
    expand_mtd
        A dose about to be declared the MTD because the next dose exceeds, or because it is the
        highest dose, is first expanded to six patients.
    declare_top_dose
        When the highest dose clears (0/3 or <= 1/6), declare it the MTD; if False the trial
        reports "MTD not reached" (``select_mtd`` returns ``None``).
    max_subjects
        Optional cap on the number of patients; the trial stops once reached.
    """

    n_doses: int
    start: int = 0
    deescalation: bool = True
    expand_mtd: bool = True
    declare_top_dose: bool = True
    max_subjects: int | None = None

    def __post_init__(self) -> None:
        check_positive_int(self.n_doses, "n_doses")
        check_start_dose(self.start, self.n_doses)
        if self.max_subjects is not None:
            check_positive_int(self.max_subjects, "max_subjects")

    @property
    def cohort_size(self) -> int:
        """Three patients per cohort."""
        return 3

    @property
    def max_patients(self) -> int | None:
        """The optional patient cap; ``None`` when the 3+3 rules alone end the trial."""
        return self.max_subjects

    def boundaries(self) -> pd.DataFrame:
        """The 3+3 rules as a count table (rows for 3 and 6 patients treated at a dose).

        Columns as for the other designs: escalate if DLTs <= ``escalate_if_dlt_le``; the dose
        exceeds the MTD (de-escalate or stop, and it is eliminated) if DLTs >=
        ``deescalate_if_dlt_ge`` = ``eliminate_if_dlt_ge``; otherwise (1/3) treat three more.
        """
        import pandas as pd

        table = pd.DataFrame(
            {
                "n_treated": [3, 6],
                "escalate_if_dlt_le": [0, 1],
                "deescalate_if_dlt_ge": [2, 2],
                "eliminate_if_dlt_ge": [2, 2],
                "otherwise": ["treat 3 more at the same dose", "-"],
            }
        )
        for column in ("escalate_if_dlt_le", "deescalate_if_dlt_ge", "eliminate_if_dlt_ge"):
            table[column] = table[column].astype("Int64")
        return table

    def table_notes(self) -> tuple[str, ...]:
        """Footnotes of the 3+3 table: the rules around it in words (Storer 1989)."""
        notes = [
            "3+3: cohorts of three; 0/3 DLT escalate; 1/3 treat three more at the same dose; "
            "1/6 escalate; 2 or more DLTs (2/3 or >= 2/6): the dose exceeds the MTD and it and "
            "every higher dose are eliminated.",
            "MTD: the highest dose below the lowest dose that exceeds it, with at most 1 DLT in "
            "6 patients"
            + (" (expanded to six before it is declared)." if self.expand_mtd else "."),
        ]
        if self.deescalation:
            notes.append(
                "De-escalation: when a dose exceeds the MTD and the dose below has fewer than "
                "six patients, three more are treated there."
            )
        if self.max_subjects is not None:
            notes.append(f"The trial stops at {self.max_subjects} patients at most.")
        return tuple(notes)

    @staticmethod
    def _lowest_exceeding(dlt: npt.NDArray[np.int64]) -> int | None:
        hits = np.flatnonzero(dlt >= 2)
        return int(hits[0]) if hits.size else None

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
    ) -> Decision:
        """The next 3+3 step after the data ``n``/``dlt`` (per dose) with ``current`` in use."""
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses, current)
        exceeding = self._lowest_exceeding(dlt_arr)
        eliminated = tuple(range(exceeding, self.n_doses)) if exceeding is not None else ()
        details = {"n_current": float(n_arr[current]), "dlt_current": float(dlt_arr[current])}
        if exceeding == 0:
            return Decision("stop", None, eliminated, "the lowest dose exceeds the MTD", details)
        if self.max_subjects is not None and int(n_arr.sum()) >= self.max_subjects:
            reason = f"maximum of {self.max_subjects} patients reached"
            return Decision("stop", None, eliminated, reason, details)
        if exceeding is not None and current >= exceeding:
            return self._after_exceeding(n_arr, exceeding, current, eliminated, details)
        m, y = int(n_arr[current]), int(dlt_arr[current])
        if m < 3 or (m < 6 and not (m == 3 and y == 0)):
            target_n = 3 if m < 3 else 6
            reason = f"{y}/{m} DLT at dose {current}: complete {target_n} patients there"
            return decision_from_move(current, current, eliminated, reason, details)
        cleared = f"{y}/{m} DLT at dose {current}"
        next_exceeds = exceeding is not None and current + 1 == exceeding
        at_top = current == self.n_doses - 1
        if not next_exceeds and not at_top:
            return decision_from_move(
                current, current + 1, eliminated, f"{cleared}: escalate", details
            )
        if at_top and not next_exceeds and not self.declare_top_dose:
            reason = f"{cleared} at the highest dose: MTD not reached"
            return Decision("stop", None, eliminated, reason, details)
        if self.expand_mtd and m < 6:
            why = "the next dose exceeds the MTD" if next_exceeds else "highest dose"
            reason = f"{cleared} ({why}): expand to 6 before declaring the MTD"
            return decision_from_move(current, current, eliminated, reason, details)
        reason = f"{cleared}: dose {current} is the MTD"
        return Decision("stop", None, eliminated, reason, details)

    def _after_exceeding(
        self,
        n: npt.NDArray[np.int64],
        exceeding: int,
        current: int,
        eliminated: tuple[int, ...],
        details: dict[str, float],
    ) -> Decision:
        below = exceeding - 1
        if self.deescalation and n[below] < 6:
            reason = (
                f"dose {exceeding} exceeds the MTD (>= 2 DLTs): treat more patients at dose {below}"
            )
            return decision_from_move(current, below, eliminated, reason, details)
        reason = f"dose {exceeding} exceeds the MTD (>= 2 DLTs): dose {below} is the MTD"
        return Decision("stop", None, eliminated, reason, details)

    def select_mtd(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike
    ) -> int | None:
        """The highest dose below the lowest dose that exceeds the MTD, if it was treated.

        ``None`` when the lowest dose exceeds, when that dose was never treated or had more than
        one DLT, or when the highest dose cleared and ``declare_top_dose`` is False.
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        exceeding = self._lowest_exceeding(dlt_arr)
        if exceeding is None:
            if not self.declare_top_dose:
                return None
            candidate = self.n_doses - 1
        else:
            candidate = exceeding - 1
        if candidate < 0 or n_arr[candidate] < 3 or dlt_arr[candidate] > 1:
            return None
        return candidate
