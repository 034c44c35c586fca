"""TITE-BOIN: BOIN with pending patients (Yuan et al. 2018; Lin & Yuan 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import Decision, PendingPatient, check_counts, check_pending
from cartrial.designs.boin import BOIN
from cartrial.designs.interval import RuleCode
from cartrial.errors import DesignError

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
