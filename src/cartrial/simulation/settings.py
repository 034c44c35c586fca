"""How simulated patients arrive, when DLTs occur, and the expansion that follows escalation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from cartrial.designs.expansion import toxicity_monitoring_boundary
from cartrial.errors import DesignError
from cartrial.simulation.result import DAYS_PER_MONTH

__all__ = ["ONSET_DISTRIBUTIONS", "Accrual", "DLTOnset", "Expansion", "OnsetDistribution"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Accrual:
    """Patient arrivals: ``rate_per_month`` patients per month on average.

    Parameters
    ----------
    rate_per_month
        Mean number of patients enrolled per month (months of 365.25/12 days), > 0.
    distribution
        Inter-arrival times: ``"exponential"`` (Poisson arrivals, default) or ``"uniform"`` on
        ``[0, 2/rate]`` (same mean, less spread).
    """

    rate_per_month: float
    distribution: Literal["exponential", "uniform"] = "exponential"

    def __post_init__(self) -> None:
        if not math.isfinite(self.rate_per_month) or self.rate_per_month <= 0:
            raise DesignError(f"accrual rate must be > 0 patients/month, got {self.rate_per_month}")
        if self.distribution not in ("exponential", "uniform"):
            raise DesignError(
                "accrual distribution must be 'exponential' or 'uniform', "
                f"got {self.distribution!r}"
            )

    def gaps_days(self, uniforms: FloatArray) -> FloatArray:
        """Inter-arrival times in days from uniforms on [0, 1) (inverse-CDF method)."""
        mean_days = DAYS_PER_MONTH / self.rate_per_month
        if self.distribution == "exponential":
            return np.asarray(-mean_days * np.log1p(-uniforms), dtype=float)
        return np.asarray(2.0 * mean_days * uniforms, dtype=float)


OnsetDistribution = Literal["uniform", "weibull", "weibull-per-dose"]
ONSET_DISTRIBUTIONS: tuple[OnsetDistribution, ...] = ("uniform", "weibull", "weibull-per-dose")


@dataclass(frozen=True)
class DLTOnset:
    """Distribution of the time to a DLT within the DLT window (for patients who have one).

    Parameters
    ----------
    distribution
        ``"uniform"`` over the window (default, as dfcrm ``titesim`` ``surv="uniform"``);
        ``"weibull"``: one Weibull(``shape``, ``scale_fraction`` x window) truncated to the
        window for every dose; ``"weibull-per-dose"``: TITEgBOIN's ``gen.tite`` (Yuan et al.
        2018): at a dose with DLT probability ``p`` the time to DLT is Weibull with
        ``P(T <= W) = p`` and a share ``late_share`` of the DLTs in the last ``late_window``
        fraction of the window ``W``, i.e. shape
        ``k = log(log(1 - p) / log(1 - (1 - late_share) p)) / log(1 / (1 - late_window))``
        (one shape per dose).
    shape
        Weibull shape ``k`` of ``"weibull"`` (``< 1``: early DLTs; ``> 1``: late DLTs).
    scale_fraction
        Weibull scale of ``"weibull"`` as a fraction of the window length.
    late_share, late_window
        ``"weibull-per-dose"``: TITEgBOIN's ``alpha1`` and ``alpha2`` (default 0.5 and 0.5).
    """

    distribution: OnsetDistribution = "uniform"
    shape: float = 1.0
    scale_fraction: float = 0.5
    late_share: float = 0.5
    late_window: float = 0.5

    def __post_init__(self) -> None:
        if self.distribution not in ONSET_DISTRIBUTIONS:
            raise DesignError(
                f"DLT onset distribution must be one of {ONSET_DISTRIBUTIONS}, "
                f"got {self.distribution!r}"
            )
        if not (self.shape > 0 and self.scale_fraction > 0):
            raise DesignError("Weibull shape and scale_fraction must be > 0")
        if not (0 < self.late_share < 1 and 0 < self.late_window < 1):
            raise DesignError("late_share and late_window must lie in (0, 1)")

    def shapes(self, dlt_prob: npt.ArrayLike) -> FloatArray:
        """Weibull shape per DLT probability (``"weibull-per-dose"``; TITEgBOIN's ``alpha``)."""
        p = np.clip(np.asarray(dlt_prob, dtype=float), 1e-12, 1 - 1e-12)
        ratio = np.log1p(-p) / np.log1p(-(1 - self.late_share) * p)
        return np.asarray(np.log(ratio) / -np.log1p(-self.late_window), dtype=float)

    def times_days(
        self, uniforms: FloatArray, window_days: float, dlt_prob: npt.ArrayLike | None = None
    ) -> FloatArray:
        """Onset days in ``[0, window_days)`` from uniforms (inverse CDF given a DLT).

        ``dlt_prob`` (broadcast against ``uniforms``): the true DLT probability at each
        patient's dose, needed by ``"weibull-per-dose"``, whose onset is the inverse of
        ``F(t) / p`` with ``F(t) = 1 - (1 - p)^((t / W)^k)``:
        ``t = W (log(1 - u p) / log(1 - p))^(1 / k)``.
        """
        if self.distribution == "uniform":
            return np.asarray(uniforms * window_days, dtype=float)
        if self.distribution == "weibull-per-dose":
            if dlt_prob is None:
                raise DesignError("weibull-per-dose onset needs the DLT probability per patient")
            p = np.clip(np.asarray(dlt_prob, dtype=float), 1e-12, 1 - 1e-12)
            ratio = np.log1p(-uniforms * p) / np.log1p(-p)
            times = window_days * ratio ** (1.0 / self.shapes(p))
        else:
            scale = self.scale_fraction * window_days
            mass = -math.expm1(-((window_days / scale) ** self.shape))
            times = scale * (-np.log1p(-uniforms * mass)) ** (1.0 / self.shape)
        return np.asarray(np.minimum(times, np.nextafter(window_days, 0.0)), dtype=float)

    def describe(self) -> str:
        """The distribution in words, for result settings."""
        if self.distribution == "uniform":
            return "uniform over the DLT window"
        if self.distribution == "weibull-per-dose":
            return (
                f"Weibull per dose (TITEgBOIN): {self.late_share:.0%} of DLTs in the last "
                f"{self.late_window:.0%} of the window, shape from each dose's DLT probability"
            )
        return (
            f"Weibull(shape={self.shape:g}, scale={self.scale_fraction:g} x window) "
            "truncated to the window"
        )


@lru_cache(maxsize=64)
def _stop_counts(
    limit: float, threshold: float, prior_a: float, prior_b: float, n_max: int
) -> npt.NDArray[np.int64]:
    """Smallest DLT count that stops monitoring, indexed by patients 0..n_max (n + 1: never)."""
    table = toxicity_monitoring_boundary(
        limit, threshold, prior_a=prior_a, prior_b=prior_b, n_max=n_max
    )
    never = table["n"].to_numpy() + 1
    counts = table["stop_if_dlt_ge"].fillna(-1).to_numpy(dtype=np.int64)
    return np.concatenate([[1], np.where(counts < 0, never, counts)])


@dataclass(frozen=True)
class Expansion:
    """An expansion cohort at the dose selected by escalation.

    The selected dose is expanded with ``n_patients`` more patients, enrolled in cohorts of
    ``cohort_size`` (all at once by default); each cohort completes its DLT window before the
    next. With ``tox_limit`` set, Bayesian beta-binomial monitoring stops the expansion after a
    cohort when ``Pr(p > tox_limit | y, n) > tox_threshold`` under a Beta(``prior_a``,
    ``prior_b``) prior, counting the expansion patients (Thall, Simon & Estey 1995). The final
    dose is then chosen by the design's ``select_mtd`` on escalation and expansion data together.
    """

    n_patients: int
    cohort_size: int | None = None
    tox_limit: float | None = None
    tox_threshold: float = 0.9
    prior_a: float = 1.0
    prior_b: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.n_patients, bool) or self.n_patients < 1:
            raise DesignError(f"expansion n_patients must be >= 1, got {self.n_patients!r}")
        if self.cohort_size is not None and not 1 <= self.cohort_size <= self.n_patients:
            raise DesignError(
                f"expansion cohort_size must lie in 1..{self.n_patients}, got {self.cohort_size}"
            )
        if self.tox_limit is not None and not 0 < self.tox_limit < 1:
            raise DesignError(f"expansion tox_limit must lie in (0, 1), got {self.tox_limit}")
        if not 0 < self.tox_threshold < 1:
            raise DesignError(
                f"expansion tox_threshold must lie in (0, 1), got {self.tox_threshold}"
            )
        if not (self.prior_a > 0 and self.prior_b > 0):
            raise DesignError("expansion prior_a and prior_b must be > 0")

    @property
    def step(self) -> int:
        """Patients per expansion cohort."""
        return self.n_patients if self.cohort_size is None else self.cohort_size

    def stops(self, n: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether monitoring stops the expansion with ``y`` DLTs among ``n`` expansion patients.

        Uses the stopping boundary of
        :func:`cartrial.designs.expansion.toxicity_monitoring_boundary`.
        """
        n_arr = np.asarray(n, dtype=np.int64)
        if self.tox_limit is None:
            return np.zeros(n_arr.shape, dtype=bool)
        first_stop = _stop_counts(
            self.tox_limit, self.tox_threshold, self.prior_a, self.prior_b, self.n_patients
        )
        return np.asarray(np.asarray(y) >= first_stop[n_arr], dtype=bool)

    def describe(self) -> str:
        """The expansion in words, for result settings."""
        text = f"{self.n_patients} patients at the selected dose in cohorts of {self.step}"
        if self.tox_limit is not None:
            text += (
                f"; stop if Pr(p > {self.tox_limit:g}) > {self.tox_threshold:g} "
                f"(Beta({self.prior_a:g}, {self.prior_b:g}) prior)"
            )
        return text
