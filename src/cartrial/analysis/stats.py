"""Small statistical building blocks shared by the endpoint analyses.

* :func:`clopper_pearson` — exact binomial confidence interval (Clopper & Pearson, Biometrika
  1934;26:404-413), from beta quantiles: lower = B(α/2; x, n − x + 1),
  upper = B(1 − α/2; x + 1, n − x).
* :func:`geometric_summary` — geometric mean and geometric CV % (CV = √(exp(s²) − 1) · 100, s the SD
  of the natural logs), the usual summary of log-normal exposure (Cmax, AUC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from cartrial.errors import AnalysisError

__all__ = [
    "CI_METHOD",
    "GeometricSummary",
    "Proportion",
    "clopper_pearson",
    "geometric_summary",
    "proportion",
]

#: The method name printed in every table with a binomial confidence interval.
CI_METHOD = "clopper-pearson"


def clopper_pearson(
    successes: npt.ArrayLike, trials: npt.ArrayLike, confidence: float = 0.95
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Exact (Clopper–Pearson) confidence limits of a binomial proportion, vectorised.

    Parameters
    ----------
    successes, trials
        Counts (broadcastable integer arrays), ``0 <= successes <= trials``.
    confidence
        Two-sided confidence level (default 0.95).

    Returns
    -------
    (lower, upper)
        Proportions in [0, 1]; NaN where ``trials == 0`` (no interval without data).

    Examples
    --------
    >>> lo, hi = clopper_pearson(3, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0667, 0.6525)
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise AnalysisError("clopper_pearson: successes must lie between 0 and trials")
    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"clopper_pearson: confidence must be in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
        upper = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, n - x), 1.0)
    empty = n == 0
    lower = np.where(empty, np.nan, lower).astype(float)
    upper = np.where(empty, np.nan, upper).astype(float)
    return lower, upper


@dataclass(frozen=True)
class Proportion:
    """A binomial proportion with its exact confidence interval (``estimate`` NaN when n = 0)."""

    successes: int
    trials: int
    estimate: float
    lower: float
    upper: float
    confidence: float
    ci_method: str = CI_METHOD

    def format(self) -> str:
        """Render as ``"x/n (p %; 95% CI lo–hi)"``, or ``"0/0 (NE: no subjects)"`` when n = 0."""
        if self.trials == 0:
            return "0/0 (NE: no subjects)"
        level = f"{self.confidence * 100:g}%"
        return (
            f"{self.successes}/{self.trials} ({self.estimate * 100:.1f}%; {level} CI "
            f"{self.lower * 100:.1f}–{self.upper * 100:.1f})"
        )


def proportion(successes: int, trials: int, confidence: float = 0.95) -> Proportion:
    """Return ``successes / trials`` with its Clopper–Pearson interval (:func:`clopper_pearson`)."""
    lower, upper = clopper_pearson(successes, trials, confidence)
    estimate = successes / trials if trials else math.nan
    return Proportion(
        successes=int(successes),
        trials=int(trials),
        estimate=float(estimate),
        lower=float(lower),
        upper=float(upper),
        confidence=confidence,
    )


@dataclass(frozen=True)
class GeometricSummary:
    """Geometric mean and geometric CV % of the positive values of a sample."""

    n: int
    geometric_mean: float
    geometric_cv_pct: float


def geometric_summary(values: npt.ArrayLike) -> GeometricSummary:
    """Geometric mean and CV % of the finite, strictly positive ``values`` (others are ignored).

    The geometric CV % is √(exp(s²) − 1) · 100 with s the sample SD (ddof = 1) of ln(values); it is
    NaN with fewer than two values, and the mean is NaN with none.
    """
    array = np.asarray(values, dtype=float)
    logs = np.log(array[np.isfinite(array) & (array > 0)])
    n = int(logs.size)
    mean = float(np.exp(logs.mean())) if n else math.nan
    cv = float(np.sqrt(np.expm1(logs.var(ddof=1))) * 100) if n > 1 else math.nan
    return GeometricSummary(n=n, geometric_mean=mean, geometric_cv_pct=cv)
