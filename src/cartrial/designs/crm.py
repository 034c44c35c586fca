"""CRM (O'Quigley, Pepe & Fisher 1990) and TITE-CRM (Cheung & Chappell 2000).

The models, prior and posterior integration are in :mod:`cartrial.designs.crm_model`; this module
holds the decision rules: an optional fixed start (two-stage CRM), closest estimate to the
target, no skipping, coherence, overdose control (EWOC style), safety stop and early stop.
TITE-CRM weights a pending patient's no-DLT likelihood ``1 - w p`` with the linear weight
``w = followed fraction`` of the DLT window (dfcrm ``titecrm`` ``scheme="linear"``) or the
adaptive weight of Cheung & Chappell (2000) (``scheme="adaptive"``,
:mod:`cartrial.designs.tite_weights`).

Conventions compared with dfcrm (Cheung 2011; R package dfcrm):

* ``crmsim``/``onetrial`` with ``restrict=TRUE`` escalate by at most one level and block
  escalation after a last cohort whose DLT fraction is at or above the target; cartrial does the
  same when ``decide`` is given ``last_cohort`` (``coherence="last-cohort"`` in simulations);
* dfcrm's ``titesim`` applies *no* coherence rule at all (only the no-skipping restriction), so
  no cartrial coherence option reproduces it exactly; ``coherent=False`` comes closest;
* the final MTD of ``crmsim`` is ``crm()``'s recommendation, the dose with ``p_hat`` closest to
  the target among *all* doses, possibly one nobody received: ``mtd_rule="dfcrm"``; cartrial's
  default ``"treated"`` selects among doses up to the highest treated;
* a two-stage design (``crmsim``'s ``x0`` vector) follows a fixed dose sequence until the first
  DLT: ``initial_doses``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import (
    Decision,
    PendingPatient,
    check_cohort_plan,
    check_counts,
    check_pending,
    check_positive_int,
    decision_from_move,
)
from cartrial.designs.crm_model import (
    CRMPosterior,
    ModelOptions,
    crm_beta_variance,
    crm_posterior,
    dose_curve,
)
from cartrial.designs.skeleton import CRMModel, get_skeleton
from cartrial.designs.tite_weights import WEIGHT_SCHEMES, WeightScheme, pending_weights
from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CRM", "MTD_RULES", "TITECRM", "CRMPosterior", "MTDRule", "crm_posterior"]

MTDRule = Literal["treated", "dfcrm"]
MTD_RULES: tuple[MTDRule, ...] = ("treated", "dfcrm")
"""How the final MTD is chosen (see :class:`CRM`, ``mtd_rule``)."""


@dataclass(frozen=True, kw_only=True)
class CRM:
    """The Bayesian continual reassessment method.

    Parameters
    ----------
    target
        Target DLT rate.
    n_doses
        Number of dose levels.
    skeleton
        Prior DLT probability per dose (strictly increasing in (0, 1)); ``None`` calibrates one
        from the indifference interval (:func:`~cartrial.designs.skeleton.get_skeleton` with
        ``halfwidth`` and ``prior_mtd``).
    halfwidth
        Half-width of the indifference interval when calibrating (default 0.05).
    prior_mtd
        0-based prior MTD position when calibrating; default the middle dose.
    model
        ``"empiric"`` (default) or ``"logistic"``.
    intercept
        Logistic intercept ``a0`` (default 3, dfcrm).
    prior_var
        Prior variance of ``beta`` (default 1.34, dfcrm).
    cohort_size, n_cohorts, start
        Cohort size, maximum number of cohorts (the trial stops at ``cohort_size * n_cohorts``
        patients) and 0-based starting dose.
    no_skip
        Escalate at most one level above the current dose (dfcrm ``restrict``).
    coherent
        No escalation after a toxic outcome (dfcrm ``restrict``): when ``decide`` is given the
        last cohort (``last_cohort=(patients, DLTs)``), never escalate if its DLT fraction is at
        or above the target, exactly as dfcrm's ``crmsim`` (dfcrm's ``titesim`` applies no
        coherence rule); without it the count-based form applies: never escalate if the DLT
        rate of all patients at the current dose is at or above the target.
    ewoc_alpha
        Overdose control (EWOC style): never recommend a dose with
        ``Pr(p_j > target | data) > ewoc_alpha``; those doses are reported as eliminated at this
        decision (the lowest dose is never removed this way). ``None`` disables it.
    stop_threshold, stop_min_n
        Safety stop: stop with no MTD when at least ``stop_min_n`` patients were treated at the
        lowest dose and ``Pr(p_1 > target | data) > stop_threshold`` (default 0.9, 3 patients).
        ``None`` disables it.
    n_earlystop
        Stop when this many patients have been treated at the current dose and the decision is
        to stay there; ``None`` disables it.
    mtd_rule
        Final MTD: ``"treated"`` (default) the dose with ``p_hat`` closest to the target among
        doses up to the highest treated and allowed by overdose control; ``"dfcrm"`` the dose
        closest to the target among all doses, as dfcrm's ``crm()``/``crmsim`` recommend.
    initial_doses
        Two-stage CRM (dfcrm ``crmsim`` with a vector ``x0``): 0-based dose of each cohort, in
        order, while no DLT has been observed; from the first DLT on the model decides. When the
        sequence ends without a DLT the model takes over. Its first dose must be ``start``.
    conf_level
        Level of the credible intervals of the DLT probabilities (dfcrm ``conf.level``, 0.90).
    """

    last_cohort_rule: ClassVar[bool] = True
    """Capability flag (:class:`~cartrial.designs.base.LastCohortDesign`)."""

    target: float
    n_doses: int
    skeleton: tuple[float, ...] | None = None
    halfwidth: float = 0.05
    prior_mtd: int | None = None
    model: CRMModel = "empiric"
    intercept: float = 3.0
    prior_var: float = 1.34
    cohort_size: int = 3
    n_cohorts: int = 10
    start: int = 0
    no_skip: bool = True
    coherent: bool = True
    ewoc_alpha: float | None = None
    stop_threshold: float | None = 0.9
    stop_min_n: int = 3
    n_earlystop: int | None = None
    mtd_rule: MTDRule = "treated"
    initial_doses: tuple[int, ...] | None = None
    conf_level: float = 0.9

    def __post_init__(self) -> None:
        check_cohort_plan(self.target, self.n_doses, self.cohort_size, self.n_cohorts, self.start)
        if self.mtd_rule not in MTD_RULES:
            raise DesignError(f"mtd_rule must be one of {MTD_RULES}, got {self.mtd_rule!r}")
        if not 0.0 < self.conf_level < 1.0:
            raise DesignError(f"conf_level must lie in (0, 1), got {self.conf_level!r}")
        if self.initial_doses is not None:
            seq = tuple(self.initial_doses)
            if not seq or any(not 0 <= int(d) < self.n_doses for d in seq):
                raise DesignError(
                    f"initial_doses must be dose positions 0..{self.n_doses - 1}, got {seq}"
                )
            if int(seq[0]) != self.start:
                raise DesignError(
                    f"initial_doses must begin at the starting dose {self.start}, got {seq[0]}"
                )
            if any(b < a for a, b in itertools.pairwise(seq)):
                raise DesignError(f"initial_doses must never decrease, got {seq}")
        check_positive_int(self.stop_min_n, "stop_min_n")
        if self.model not in ("empiric", "logistic"):
            raise DesignError(f"model must be 'empiric' or 'logistic', got {self.model!r}")
        if not self.prior_var > 0:
            raise DesignError(f"prior_var must be positive, got {self.prior_var!r}")
        if self.n_earlystop is not None:
            check_positive_int(self.n_earlystop, "n_earlystop")
        for name in ("ewoc_alpha", "stop_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise DesignError(f"{name} must lie in (0, 1), got {value!r}")
        if self.skeleton is not None:
            sk = np.asarray(self.skeleton, dtype=float)
            if sk.shape != (self.n_doses,):
                raise DesignError(f"skeleton needs {self.n_doses} values, got {sk.size}")
            if np.any(~np.isfinite(sk)) or np.any(sk <= 0) or np.any(sk >= 1):
                raise DesignError(f"skeleton values must lie in (0, 1), got {sk.tolist()}")
            if np.any(np.diff(sk) <= 0):
                raise DesignError(f"skeleton must be strictly increasing, got {sk.tolist()}")
        if self.model == "logistic" and np.any(
            np.log(self.prior_skeleton()) - np.log1p(-np.asarray(self.prior_skeleton()))
            >= self.intercept
        ):
            raise DesignError("logistic model needs logit(skeleton) < intercept at every dose")

    @property
    def max_patients(self) -> int:
        """Planned maximum sample size ``cohort_size * n_cohorts``."""
        return self.cohort_size * self.n_cohorts

    def prior_skeleton(self) -> tuple[float, ...]:
        """The skeleton in use: the given one, or the indifference-interval calibration."""
        if self.skeleton is not None:
            return tuple(float(a) for a in self.skeleton)
        nu = (self.n_doses - 1) // 2 if self.prior_mtd is None else self.prior_mtd
        return get_skeleton(
            self.halfwidth, self.target, nu, self.n_doses, self.model, self.intercept
        )

    def boundaries(self) -> pd.DataFrame:
        """The prior dose-toxicity curve per dose (a model-based design has no count table).

        Columns ``dose``, ``skeleton`` and ``prior_prob_overdose`` (``Pr(p_j > target)`` before
        any data); pair with :mod:`cartrial.designs.pathways` for the decision paths.
        """
        import pandas as pd

        no_data = np.zeros(self.n_doses, dtype=np.int64)
        prior = self.posterior(no_data, no_data)
        return pd.DataFrame(
            {
                "dose": range(self.n_doses),
                "skeleton": self.prior_skeleton(),
                "prior_prob_overdose": prior.prob_overdose,
            }
        )

    def _fit(
        self,
        n: npt.NDArray[np.int64],
        dlt: npt.NDArray[np.int64],
        pending_doses: npt.NDArray[np.int64],
        pending_weights: npt.NDArray[np.float64],
    ) -> CRMPosterior:
        no_dlt = n - dlt - np.bincount(pending_doses, minlength=self.n_doses)
        options: ModelOptions = {
            "model": self.model,
            "intercept": self.intercept,
            "prior_var": self.prior_var,
            "pending_dose": pending_doses,
            "pending_weight": pending_weights,
        }
        skeleton = self.prior_skeleton()
        beta, p_hat, over = crm_posterior(skeleton, self.target, dlt, no_dlt, **options)
        variance = float(crm_beta_variance(skeleton, dlt, no_dlt, **options))
        z = NormalDist().inv_cdf(0.5 + self.conf_level / 2)
        spread = z * np.sqrt(variance)
        lower = dose_curve(float(beta) + spread, self.prior_skeleton(), self.model, self.intercept)
        upper = dose_curve(float(beta) - spread, self.prior_skeleton(), self.model, self.intercept)
        return CRMPosterior(
            float(beta),
            tuple(p_hat.tolist()),
            tuple(over.tolist()),
            beta_var=variance,
            p_lower=tuple(lower.tolist()),
            p_upper=tuple(upper.tolist()),
            conf_level=self.conf_level,
        )

    def posterior(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        pending_followup: Sequence[PendingPatient] | None = None,
    ) -> CRMPosterior:
        """The posterior after ``n``/``dlt`` per dose (and TITE pending patients, weight ``u``)."""
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        doses, fractions = check_pending(pending_followup, n_arr, dlt_arr)
        return self._fit(n_arr, dlt_arr, doses, fractions)

    def _admissible_top(self, fit: CRMPosterior) -> int:
        """Highest dose allowed by overdose control (the lowest dose is always allowed)."""
        if self.ewoc_alpha is None:
            return self.n_doses - 1
        allowed = np.flatnonzero(np.asarray(fit.prob_overdose) <= self.ewoc_alpha)
        return max(int(allowed.max()) if allowed.size else 0, 0)

    def _safety_stop(self, n: npt.NDArray[np.int64], fit: CRMPosterior) -> bool:
        return (
            self.stop_threshold is not None
            and n[0] >= self.stop_min_n
            and fit.prob_overdose[0] > self.stop_threshold
        )

    def _closest(self, fit: CRMPosterior, top: int) -> int:
        distance = np.abs(np.asarray(fit.p_hat[: top + 1]) - self.target)
        return int(np.argmin(distance))

    @staticmethod
    def _check_last_cohort(
        last_cohort: tuple[int, int] | None,
        n: npt.NDArray[np.int64],
        dlt: npt.NDArray[np.int64],
        current: int,
    ) -> tuple[int, int] | None:
        if last_cohort is None:
            return None
        if len(last_cohort) != 2:
            raise DesignError(f"last_cohort must be (patients, DLTs), got {last_cohort!r}")
        size, toxic = (int(v) for v in last_cohort)
        if not 1 <= size <= n[current] or not 0 <= toxic <= min(size, dlt[current]):
            raise DesignError(
                f"last cohort {toxic}/{size} does not fit the {dlt[current]}/{n[current]} DLTs "
                f"at dose {current}"
            )
        return size, toxic

    def _decide(
        self,
        n: npt.NDArray[np.int64],
        dlt: npt.NDArray[np.int64],
        current: int,
        fit: CRMPosterior,
        last_cohort: tuple[int, int] | None = None,
    ) -> Decision:
        details = {"beta_mean": fit.beta_mean} | {f"p_hat_{j}": p for j, p in enumerate(fit.p_hat)}
        details |= {f"prob_overdose_{j}": p for j, p in enumerate(fit.prob_overdose)}
        top = self._admissible_top(fit)
        eliminated = tuple(range(top + 1, self.n_doses))
        if self._safety_stop(n, fit):
            reason = (
                f"safety stop: Pr(p > {self.target:g}) = {fit.prob_overdose[0]:.3f} at the lowest "
                f"dose exceeds {self.stop_threshold:g}"
            )
            return Decision("stop", None, tuple(range(self.n_doses)), reason, details)
        if int(n.sum()) >= self.max_patients:
            reason = f"maximum sample size reached ({self.max_patients} patients)"
            return Decision("stop", None, eliminated, reason, details)
        if n[current] == 0 and current <= top:
            why = f"no patient yet at dose {current}: treat the first cohort there"
            return decision_from_move(current, current, eliminated, why, details)
        planned = self.initial_dose(n, dlt)
        if planned is not None:
            why = f"two-stage start: no DLT yet, next dose of the initial sequence is {planned}"
            return decision_from_move(current, planned, (), why, details)
        best = self._closest(fit, top)
        why = f"CRM: dose {best} has p_hat = {fit.p_hat[best]:.3f}, closest to {self.target:g}"
        if top < self.n_doses - 1:
            why += f" among doses allowed by overdose control (<= {top})"
        next_dose = best
        if self.no_skip and next_dose > current + 1:
            next_dose = current + 1
            why += f"; no skipping: dose {next_dose}"
        size, toxic = last_cohort if last_cohort is not None else (n[current], dlt[current])
        if self.coherent and next_dose > current and size > 0 and toxic / size >= self.target:
            next_dose = current
            which = "in the last cohort" if last_cohort is not None else "at the current dose"
            why += f"; coherence: {toxic}/{size} DLT {which}, no escalation"
        if self.n_earlystop is not None and next_dose == current and n[current] >= self.n_earlystop:
            reason = f"{why}; stop: {n[current]} patients at dose {current} (n_earlystop)"
            return Decision("stop", None, eliminated, reason, details)
        return decision_from_move(current, next_dose, eliminated, why, details)

    def initial_dose(self, n: npt.NDArray[np.int64], dlt: npt.NDArray[np.int64]) -> int | None:
        """The next dose of the two-stage start, or ``None`` once a DLT was seen or it ended."""
        if self.initial_doses is None or int(dlt.sum()) > 0:
            return None
        cohorts_done = int(n.sum()) // self.cohort_size
        if cohorts_done >= len(self.initial_doses):
            return None
        return int(self.initial_doses[cohorts_done])

    def table_notes(self) -> tuple[str, ...]:
        """Footnotes of the dose transition pathways: model, prior and rules in words."""
        skeleton = ", ".join(f"{a:.3f}" for a in self.prior_skeleton())
        model = (
            "power model p_j = a_j^exp(beta)"
            if self.model == "empiric"
            else f"logistic model logit p_j = {self.intercept:g} + exp(beta) x_j"
        )
        notes = [
            f"CRM ({model}; O'Quigley, Pepe & Fisher 1990) with skeleton {skeleton} and prior "
            f"beta ~ N(0, {self.prior_var:g}); after each cohort the next dose is the one whose "
            f"posterior-mean DLT probability is closest to the target {self.target:g}.",
            "A CRM has no fixed decision table: the next dose depends on all doses' data, so the "
            "dose transition pathways of the next cohorts are shown instead.",
        ]
        if self.initial_doses is not None:
            notes.append(
                "Two-stage start: cohorts follow the initial dose sequence until the first DLT."
            )
        if self.no_skip:
            notes.append("No skipping: escalation by one dose level at most.")
        if self.coherent:
            notes.append(
                "Coherence: no escalation right after a cohort whose DLT fraction is at or above "
                "the target."
            )
        if self.ewoc_alpha is not None:
            notes.append(
                f"Overdose control: never a dose with Pr(p > {self.target:g} | data) > "
                f"{self.ewoc_alpha:g}."
            )
        if self.stop_threshold is not None:
            notes.append(
                f"Safety stop: with at least {self.stop_min_n} patients at the lowest dose and "
                f"Pr(p_1 > {self.target:g} | data) > {self.stop_threshold:g}, stop with no MTD."
            )
        notes.append(f"Maximum sample size {self.max_patients} patients.")
        if self.n_earlystop is not None:
            notes.append(
                f"Early stop when {self.n_earlystop} patients were treated at a dose about to be "
                "repeated."
            )
        notes.append(
            "MTD: the dose with p_hat closest to the target "
            + (
                "among all doses (dfcrm crm())."
                if self.mtd_rule == "dfcrm"
                else "among doses up to the highest treated."
            )
        )
        return tuple(notes)

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        *,
        last_cohort: tuple[int, int] | None = None,
    ) -> Decision:
        """The next-dose decision (rules in the order of :mod:`cartrial.designs.base`).

        ``last_cohort`` (optional): ``(patients, DLTs)`` of the most recent cohort, treated at
        ``current``; the coherence rule then looks at it as dfcrm does.
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses, current)
        last = self._check_last_cohort(last_cohort, n_arr, dlt_arr, current)
        none = np.empty(0, dtype=np.int64)
        fit = self._fit(n_arr, dlt_arr, none, np.empty(0))
        return self._decide(n_arr, dlt_arr, current, fit, last)

    def select_mtd(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike
    ) -> int | None:
        """The dose whose final ``p_hat`` is closest to the target (see ``mtd_rule``).

        ``"treated"``: limited to doses up to the highest dose treated and allowed by overdose
        control; ``"dfcrm"``: any dose. ``None`` when no patient was treated or the safety stop
        fires.
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        treated = np.flatnonzero(n_arr > 0)
        if treated.size == 0:
            return None
        fit = self._fit(n_arr, dlt_arr, np.empty(0, dtype=np.int64), np.empty(0))
        if self._safety_stop(n_arr, fit):
            return None
        if self.mtd_rule == "dfcrm":
            return self._closest(fit, self.n_doses - 1)
        return self._closest(fit, min(self._admissible_top(fit), int(treated.max())))


@dataclass(frozen=True, kw_only=True)
class TITECRM(CRM):
    """TITE-CRM (Cheung & Chappell 2000; dfcrm ``titecrm``).

    ``n`` counts every treated patient, ``dlt`` the DLTs observed; each pending patient
    ``(dose, u)`` contributes ``1 - w p_dose(beta)`` to the likelihood (``u`` = followed fraction
    of the DLT window; a DLT or a completed window counts with weight 1).

    Parameters
    ----------
    scheme
        Weight ``w`` of a pending patient (:mod:`cartrial.designs.tite_weights`):
        ``"linear"`` (default, ``w = u``) or ``"adaptive"`` (the empirical distribution of the
        observed DLT times, dfcrm ``scheme="adaptive"``); the adaptive scheme needs, at each
        decision, the followed fraction at which each observed DLT occurred
        (``dlt_followup``).
    **crm
        Every :class:`CRM` parameter.
    """

    time_to_event: ClassVar[bool] = True
    """Capability flag (:class:`~cartrial.designs.base.TimeToEventDesign`)."""

    scheme: WeightScheme = "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scheme not in WEIGHT_SCHEMES:
            raise DesignError(f"scheme must be one of {WEIGHT_SCHEMES}, got {self.scheme!r}")

    def table_notes(self) -> tuple[str, ...]:
        """CRM's footnotes plus how pending patients are weighted."""
        weight = (
            "linear weight w = u"
            if self.scheme == "linear"
            else "adaptive weight (Cheung & Chappell 2000): the empirical distribution of the "
            "observed DLT times, linearly interpolated, at u"
        )
        return (
            *super().table_notes(),
            "TITE-CRM: a patient still inside the DLT window without a DLT, followed for the "
            f"fraction u of the window, enters the likelihood as 1 - w p with the {weight}.",
        )

    @property
    def needs_dlt_followup(self) -> bool:
        """Whether ``decide`` needs the DLT onset fractions (``scheme="adaptive"``)."""
        return self.scheme == "adaptive"

    def _tite_fit(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        pending_followup: Sequence[PendingPatient] | None,
        dlt_followup: Sequence[float] | None,
        current: int | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], CRMPosterior]:
        if current is None:
            n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        else:
            n_arr, dlt_arr = check_counts(n, dlt, self.n_doses, current)
        doses, fractions = check_pending(pending_followup, n_arr, dlt_arr)
        onsets = None
        if dlt_followup is not None:
            onsets = np.asarray(list(dlt_followup), dtype=np.float64)
            if onsets.size != int(dlt_arr.sum()):
                raise DesignError(
                    f"dlt_followup has {onsets.size} values but {int(dlt_arr.sum())} DLTs were "
                    "observed"
                )
        weights = pending_weights(self.scheme, fractions, onsets)
        return n_arr, dlt_arr, self._fit(n_arr, dlt_arr, doses, weights)

    def posterior(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        pending_followup: Sequence[PendingPatient] | None = None,
        *,
        dlt_followup: Sequence[float] | None = None,
    ) -> CRMPosterior:
        """The posterior with pending patients weighted by ``scheme``.

        ``dlt_followup``: the followed fraction of the window at which each observed DLT
        occurred (one value per DLT in ``dlt``; needed by the adaptive scheme).
        """
        return self._tite_fit(n, dlt, pending_followup, dlt_followup)[2]

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
        pending_followup: Sequence[PendingPatient] | None = None,
        *,
        last_cohort: tuple[int, int] | None = None,
        dlt_followup: Sequence[float] | None = None,
    ) -> Decision:
        """The next-dose decision with pending patients weighted by their follow-up.

        ``last_cohort`` as for :meth:`CRM.decide` (DLTs observed so far in the last cohort);
        ``dlt_followup`` as for :meth:`posterior`.
        """
        n_arr, dlt_arr, fit = self._tite_fit(n, dlt, pending_followup, dlt_followup, current)
        last = self._check_last_cohort(last_cohort, n_arr, dlt_arr, current)
        return self._decide(n_arr, dlt_arr, current, fit, last)
