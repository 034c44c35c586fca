"""TITE-BOIN: BOIN with pending patients (Yuan et al. 2018; Lin & Yuan 2020)."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
        (``0 <= c <= n - y``). With the effective sample size ``ESS = n - c + STFT`` (``STFT``
        the pending patients' followed fractions of the window summed, ``0 <= STFT < c``),
        ``p_hat = y / ESS`` escalates when ``<= lambda_e`` and de-escalates when
        ``> lambda_d`` (Lin & Yuan 2020), i.e.

        * escalate if ``STFT >= y / lambda_e - (n - c)``;
        * de-escalate if ``STFT < y / lambda_d - (n - c)``;
        * otherwise stay.

        Columns: ``n_treated``, ``dlt``, ``pending``; ``escalate_if_stft_ge`` and
        ``deescalate_if_stft_lt``, the STFT thresholds when they fall inside ``(0, c)`` (else
        ``<NA>``: the decision does not depend on STFT); ``suspend`` (more than
        ``max_pending_fraction`` of the treated are pending: accrual waits unless the decision
        is to de-escalate); ``eliminate`` (the ``n - c`` completed patients with ``y`` DLTs meet
        the elimination rule); ``decision`` in words.

        Raises
        ------
        DesignError
            For ``method="imputation"``: its estimate depends on each pending patient's
            follow-up, not on ``STFT`` alone, so no such table exists.
        """
        import pandas as pd

        if self.method != "ess":
            raise DesignError(
                "the pending-patient table exists for method='ess' only: with imputation the "
                "decision depends on each pending patient's follow-up, not on STFT alone"
            )
        top = 4 * self.cohort_size if max_n is None else check_positive_int(max_n, "max_n")
        lambda_e, lambda_d = self.lambdas()
        rows = []
        for n in range(self.cohort_size, top + 1, self.cohort_size):
            for y in range(n + 1):
                for c in range(n - y + 1):
                    complete = n - c
                    escalate = y / lambda_e - complete
                    if complete < self.min_complete_to_escalate:
                        escalate = math.inf
                    deescalate = y / lambda_d - complete
                    suspend = c / n > self.max_pending_fraction
                    eliminate = bool(self._eliminates(complete, np.asarray([y]))[0])
                    rows.append(
                        {
                            "n_treated": n,
                            "dlt": y,
                            "pending": c,
                            "escalate_if_stft_ge": escalate if 0 < escalate < c else None,
                            "deescalate_if_stft_lt": deescalate if 0 < deescalate < c else None,
                            "suspend": suspend,
                            "eliminate": eliminate,
                            "decision": _pending_decision(
                                escalate, deescalate, c, suspend=suspend, eliminate=eliminate
                            ),
                        }
                    )
        table = pd.DataFrame(rows)
        for column in ("escalate_if_stft_ge", "deescalate_if_stft_lt"):
            table[column] = table[column].astype("Float64").round(2)
        return table

    def table_notes(self) -> tuple[str, ...]:
        """Footnotes: BOIN's rules plus the pending-patient rules of TITE-BOIN."""
        lambda_e, lambda_d = self.lambdas()
        pending = [
            f"TITE-BOIN (Yuan et al. 2018; Lin & Yuan 2020, method '{self.method}'): at each "
            "decision, patients still inside the DLT window without a DLT are pending; STFT is "
            "the sum of their followed fractions of the window.",
            f"Effective sample size ESS = completed + STFT; p_hat = DLTs / ESS is compared with "
            f"lambda_e = {lambda_e:.4f} and lambda_d = {lambda_d:.4f}.",
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
