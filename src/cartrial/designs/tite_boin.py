"""TITE-BOIN: BOIN with pending patients (Yuan et al. 2018; Lin & Yuan 2020)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import (
    Decision,
    PendingPatient,
    check_counts,
    check_pending,
    check_positive_int,
)
from cartrial.designs.boin import BOIN
from cartrial.designs.interval import RuleCode
from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TITEBOIN"]


@dataclass(frozen=True, kw_only=True)
class TITEBOIN(BOIN):
    """Time-to-event BOIN for late-onset DLTs.

    ``n`` counts every patient treated (complete and pending), ``dlt`` the DLTs observed so far;
    ``pending_followup`` lists each patient still inside the DLT window without a DLT as
    ``(dose, u)`` with ``u`` the followed fraction of the window (0-1). At the current dose, with
    ``c`` pending patients and standardised total follow-up ``STFT = sum(u)``:

    * ``method="ess"`` (Lin & Yuan 2020): effective sample size ``ESS = n - c + STFT`` and
      ``p_hat = y / ESS``;
    * ``method="imputation"`` (Yuan et al. 2018): ``pi = (target/2 + y)/(1 + n - c + STFT)``, each
      pending DLT imputed as ``pi (1 - u)/(1 - pi u)`` (uniform time to DLT),
      ``p_hat = (y + sum imputed)/n``.

    ``p_hat`` is compared with BOIN's ``lambda_e``/``lambda_d``. Elimination uses the completed
    patients only (``n - c`` per dose), and so does the optional extra-safe stop. Accrual is
    suspended (``Decision.suspended``; action stay) when more than ``max_pending_fraction`` of the
    patients at the current dose are pending (TITEgBOIN ``maxpen = 0.5``), unless the decision is
    to de-escalate. Escalation also needs at least ``min_complete_to_escalate`` completed patients
    at the current dose.

    Parameters
    ----------
    method
        ``"ess"`` (default) or ``"imputation"``.
    max_pending_fraction
        Suspend accrual when pending/treated at the current dose exceeds this (default 0.5).
    min_complete_to_escalate
        Completed patients needed at the current dose before escalating (default 0).
    **boin
        Every :class:`~cartrial.designs.boin.BOIN` parameter.
    """

    time_to_event: ClassVar[bool] = True
    """Capability flag (:class:`~cartrial.designs.base.TimeToEventDesign`)."""

    method: Literal["ess", "imputation"] = "ess"
    max_pending_fraction: float = 0.5
    min_complete_to_escalate: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in ("ess", "imputation"):
            raise DesignError(f"method must be 'ess' or 'imputation', got {self.method!r}")
        if not 0.0 < self.max_pending_fraction <= 1.0:
            raise DesignError(
                f"max_pending_fraction must lie in (0, 1], got {self.max_pending_fraction!r}"
            )
        if self.min_complete_to_escalate < 0:
            raise DesignError("min_complete_to_escalate cannot be negative")

    def estimate(
        self, n: int, y: int, followed: npt.NDArray[np.float64]
    ) -> tuple[float, dict[str, float]]:
        """``p_hat`` at a dose with ``n`` treated, ``y`` DLTs and pending follow-up ``followed``."""
        c = followed.size
        stft = float(followed.sum())
        complete = n - c
        if self.method == "ess":
            ess = complete + stft
            p_hat = y / ess if ess > 0 else 0.0
            return p_hat, {"pending": float(c), "stft": stft, "ess": ess, "p_hat": p_hat}
        pi = (self.target / 2 + y) / (1 + complete + stft)
        imputed = float(np.sum(pi * (1 - followed) / (1 - pi * followed)))
        p_hat = (y + imputed) / n if n > 0 else 0.0
        return p_hat, {"pending": float(c), "stft": stft, "pi_hat": pi, "p_hat": p_hat}

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        pending_followup: Sequence[PendingPatient] | None = None,
    ) -> Decision:
        """The next-dose decision with pending patients (see the class docstring).

        Parameters
        ----------
        n, dlt
            Patients treated (complete and pending) and DLTs observed, per dose.
        current
            0-based dose of the last cohort.
        pending_followup
            ``(dose, followed fraction of the DLT window)`` per pending patient.
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses, current)
        doses, fractions = check_pending(pending_followup, n_arr, dlt_arr)
        complete_n = n_arr - np.bincount(doses, minlength=self.n_doses)
        eliminated = self._eliminated(complete_n, dlt_arr)
        m, y = int(n_arr[current]), int(dlt_arr[current])
        here = fractions[doses == current]
        if m == 0:
            code: RuleCode = "S"
            why = f"no patient yet at dose {current}: treat the first cohort there"
            details = {"n_current": 0.0, "dlt_current": 0.0}
        else:
            p_hat, details = self.estimate(m, y, here)
            lambda_e, lambda_d = self.lambdas()
            code = "E" if p_hat <= lambda_e else "D" if p_hat > lambda_d else "S"
            why = (
                f"TITE-BOIN ({self.method}): {y} DLT among {m} treated, {here.size} pending, "
                f"p_hat = {p_hat:.3f} vs lambda_e = {lambda_e:.4f}, lambda_d = {lambda_d:.4f}"
                f" -> {code}"
            )
            details |= {"n_current": float(m), "dlt_current": float(y)}
            if code == "E" and complete_n[current] < self.min_complete_to_escalate:
                code = "S"
                why += (
                    f"; stay: {complete_n[current]} completed < {self.min_complete_to_escalate} "
                    "needed to escalate"
                )
        decision = self._settle(
            n_arr,
            dlt_arr,
            current,
            code,
            why,
            eliminated=eliminated,
            details=details,
            complete=complete_n,
        )
        if (
            decision.action in ("escalate", "stay")
            and m > 0
            and here.size / m > self.max_pending_fraction
        ):
            reason = (
                f"{why}; accrual suspended: {here.size} of {m} patients at dose {current} pending "
                f"(> {self.max_pending_fraction:.0%})"
            )
            return Decision("stay", current, eliminated, reason, details, suspended=True)
        return decision

    def pending_table(self, max_n: int | None = None) -> pd.DataFrame:
        """TITE-BOIN's rules with pending patients, as published TITE-BOIN protocols print them.

        One row per number treated at the current dose ``n`` (multiples of the cohort size up to
        ``max_n``, default four cohorts), DLTs observed ``y`` and patients pending ``c``
        (``0 <= c <= n - y``), with thresholds on ``STFT``, the pending patients' followed
        fractions of the window summed (``0 <= STFT < c``).

        ``method="ess"``: with ``ESS = n - c + STFT``, ``p_hat = y / ESS`` escalates when
        ``<= lambda_e`` and de-escalates when ``> lambda_d`` (Lin & Yuan 2020), i.e.

        * escalate if ``STFT >= y / lambda_e - (n - c)``;
        * de-escalate if ``STFT < y / lambda_d - (n - c)``;
        * otherwise stay.

        ``method="imputation"`` (Yuan et al. 2018): ``p_hat`` depends on each pending patient's
        follow-up ``u_i``, not on STFT alone. For a given STFT, the imputed DLTs
        ``sum pi (1 - u_i) / (1 - pi u_i)`` (``pi`` depends on STFT only) are largest when the
        follow-up is equal (``u_i = STFT / c``; the summand is concave in ``u``) and smallest
        when it is as uneven as it can be (``floor(STFT)`` patients at the end of their window,
        one at the remainder, the others just enrolled); both fall as STFT grows. The table gives
        the STFT from which the decision holds *whatever* the split (``escalate_if_stft_ge``,
        ``deescalate_if_stft_lt``) and from which it is *possible* for some split
        (``escalate_possible_stft_ge``, ``deescalate_possible_stft_lt``); in between, the
        decision needs each patient's follow-up (``decide``).

        Columns: ``n_treated``, ``dlt``, ``pending``; the thresholds when they fall inside
        ``(0, c)`` (else ``<NA>``: the decision does not depend on STFT); ``suspend`` (more than
        ``max_pending_fraction`` of the treated are pending: accrual waits unless the decision
        is to de-escalate); ``eliminate`` (the ``n - c`` completed patients with ``y`` DLTs meet
        the elimination rule); ``decision`` in words.
        """
        import pandas as pd

        top = 4 * self.cohort_size if max_n is None else check_positive_int(max_n, "max_n")
        imputation = self.method == "imputation"
        rows = []
        for n in range(self.cohort_size, top + 1, self.cohort_size):
            for y in range(n + 1):
                for c in range(n - y + 1):
                    complete = n - c
                    escalate, deescalate, may_escalate, may_deescalate = self._stft_thresholds(
                        n, y, c
                    )
                    if complete < self.min_complete_to_escalate:
                        escalate = may_escalate = math.inf
                    suspend = c / n > self.max_pending_fraction
                    eliminate = bool(self._eliminates(complete, np.asarray([y]))[0])
                    decision = _pending_decision(
                        escalate, deescalate, c, suspend=suspend, eliminate=eliminate
                    )
                    row: dict[str, object] = {
                        "n_treated": n,
                        "dlt": y,
                        "pending": c,
                        "escalate_if_stft_ge": _inside(escalate, c),
                        "deescalate_if_stft_lt": _inside(deescalate, c),
                    }
                    if imputation:
                        row["escalate_possible_stft_ge"] = _inside(may_escalate, c)
                        row["deescalate_possible_stft_lt"] = _inside(may_deescalate, c)
                        if not eliminate:
                            decision += _split_caveat(
                                escalate, may_escalate, deescalate, may_deescalate, c
                            )
                    rows.append(
                        row | {"suspend": suspend, "eliminate": eliminate, "decision": decision}
                    )
        table = pd.DataFrame(rows)
        for column in table.columns:
            if "stft" in column:
                table[column] = table[column].astype("Float64").round(2)
        return table

    def _stft_thresholds(self, n: int, y: int, c: int) -> tuple[float, float, float, float]:
        """``(escalate, deescalate, may_escalate, may_deescalate)`` thresholds on STFT.

        Escalation holds for ``STFT >= escalate`` whatever the split of follow-up (``<= 0``:
        always) and is possible for ``STFT >= may_escalate``; de-escalation holds for
        ``STFT < deescalate`` (``>= c``: always) and is possible for ``STFT < may_deescalate``.
        For ESS (or at most one pending patient) the two pairs coincide.
        """
        lambda_e, lambda_d = self.lambdas()
        complete = n - c
        if self.method == "ess":
            up, down = y / lambda_e - complete, y / lambda_d - complete
            return up, down, up, down
        if c == 0:
            p_hat = y / n
            up = -math.inf if p_hat <= lambda_e else math.inf
            down = math.inf if p_hat > lambda_d else -math.inf
            return up, down, up, down

        def highest(stft: float) -> float:  # equal follow-up: the most imputed DLTs
            return self.estimate(n, y, np.full(c, stft / c))[0]

        def lowest(stft: float) -> float:  # follow-up as uneven as it can be: the fewest
            whole = min(int(stft), c - 1)
            followed = np.zeros(c)
            followed[:whole] = 1.0
            followed[whole] = stft - whole
            return self.estimate(n, y, followed)[0]

        return (
            _first_stft(lambda s: highest(s) <= lambda_e, c),
            _first_stft(lambda s: not lowest(s) > lambda_d, c),
            _first_stft(lambda s: lowest(s) <= lambda_e, c),
            _first_stft(lambda s: not highest(s) > lambda_d, c),
        )

    def table_notes(self) -> tuple[str, ...]:
        """Footnotes: BOIN's rules plus the pending-patient rules of TITE-BOIN."""
        lambda_e, lambda_d = self.lambdas()
        if self.method == "ess":
            estimate = (
                f"Effective sample size ESS = completed + STFT; p_hat = DLTs / ESS is compared "
                f"with lambda_e = {lambda_e:.4f} and lambda_d = {lambda_d:.4f} (Lin & Yuan 2020)."
            )
        else:
            estimate = (
                "Imputation (Yuan et al. 2018): each pending patient with followed fraction u "
                "counts pi (1 - u) / (1 - pi u) DLTs, pi = (target/2 + DLTs) / (1 + completed + "
                f"STFT); p_hat = (DLTs + imputed) / treated is compared with lambda_e = "
                f"{lambda_e:.4f} and lambda_d = {lambda_d:.4f}. For a given STFT the decision "
                "can depend on how the follow-up is split among the pending patients: the table "
                "gives the STFT from which it holds whatever the split and from which it is "
                "possible."
            )
        pending = [
            f"TITE-BOIN (Yuan et al. 2018; Lin & Yuan 2020, method '{self.method}'): at each "
            "decision, patients still inside the DLT window without a DLT are pending; STFT is "
            "the sum of their followed fractions of the window.",
            estimate,
            f"Accrual suspension: when more than {self.max_pending_fraction:.0%} of the patients "
            "at the current dose are pending, the next patient waits until enough data are "
            "complete, unless the decision is to de-escalate.",
            "Elimination and the safety stop use completed patients only.",
        ]
        if self.min_complete_to_escalate:
            pending.append(
                f"Escalation needs at least {self.min_complete_to_escalate} completed patients "
                "at the current dose."
            )
        return (*super().table_notes(), *pending)


def _first_stft(holds: Callable[[float], bool], pending: int) -> float:
    """Smallest STFT in ``[0, pending)`` from which ``holds`` (monotone in STFT) is true.

    ``0`` when it holds from the start, ``pending`` when it never does (bisection to 1e-9).
    """
    if holds(0.0):
        return 0.0
    top = math.nextafter(float(pending), 0.0)
    if not holds(top):
        return float(pending)
    low, high = 0.0, top
    while high - low > 1e-9:
        middle = (low + high) / 2
        if holds(middle):
            high = middle
        else:
            low = middle
    return high


def _inside(threshold: float, pending: int) -> float | None:
    """A threshold on STFT when it falls inside ``(0, pending)``, else ``None``."""
    return threshold if 0 < threshold < pending else None


def _split_caveat(
    escalate: float, may_escalate: float, deescalate: float, may_deescalate: float, pending: int
) -> str:
    """Where the imputation's decision depends on each patient's follow-up, in words."""
    ranges = []
    for low, high in ((may_escalate, escalate), (deescalate, may_deescalate)):
        low_text, high_text = f"{max(low, 0):.2f}", f"{min(high, pending):.2f}"
        if low < high and low < pending and low_text != high_text:
            ranges.append(f"{low_text} <= STFT < {high_text}")
    if not ranges:
        return ""
    return f" (for {' and '.join(ranges)} it depends on each pending patient's follow-up)"


def _pending_decision(
    escalate: float, deescalate: float, pending: int, *, suspend: bool, eliminate: bool
) -> str:
    """One row of the pending table in words (thresholds on STFT in ``[0, pending)``)."""
    if eliminate:
        return "de-escalate and eliminate the dose"
    always_up = escalate <= 0  # STFT >= escalate for every STFT >= 0
    always_down = deescalate >= pending and deescalate > 0  # STFT < deescalate always
    if always_down:
        return "de-escalate"
    if always_up:
        text = "escalate"
    else:
        parts = []
        if deescalate > 0:
            parts.append(f"de-escalate if STFT < {deescalate:.2f}")
        if escalate < pending:
            parts.append(f"escalate if STFT >= {escalate:.2f}")
        text = "; ".join([*parts, "otherwise stay"]) if parts else "stay"
    if suspend:
        return "suspend accrual" + (f" ({text} once resumed)" if text != "stay" else "")
    return text
