"""Kaplan–Meier estimation, quantiles and the log-rank test by the conventions of R's ``survival``.

The report's time-to-event numbers must match what a statistician gets from
``survival::survfit`` and ``survival::survdiff``; lifelines differs on two points (the median when
S(t) equals 0.5 over an interval, and the default CI transform), so the estimator is written here.

* **Product-limit estimate** over the distinct times (events and censorings), with the number at
  risk, events and censorings at each.
* **Greenwood standard error** of the cumulative hazard, as ``survfit``'s ``std.err``:
  ``se(t) = sqrt(sum_{t_i <= t} d_i / (n_i (n_i - d_i)))``; the standard error of S(t) is
  ``S(t) * se(t)`` (``summary.survfit``'s ``std.err``).
* **Pointwise CI**, ``conf_type`` as ``survfit(conf.type=)``: ``"log"`` (R's default)
  ``exp(log S ± z se)`` capped at 1; ``"log-log"`` ``exp(-exp(log(-log S) ± z se / log S))``;
  ``"plain"`` ``S ± z S se`` clipped to [0, 1]. Undefined (NaN) where S = 0.
* **Quantiles** (``quantile.survfit``): the p-quantile is the first time 1 − S(t) reaches p; when
  1 − S(t) equals p (within √machine-ε) over an interval, the midpoint of that interval (the time
  S reached 0.5 and the next event time; the last follow-up time when the curve ends flat there).
  The CI of a quantile applies the same rule to the lower and upper pointwise curves
  (Brookmeyer & Crowley 1982 with the chosen transform). Reference: T. Therneau, ``survival``
  package, ``R/quantile.survfit.R`` (``findq``).
* **Reverse Kaplan–Meier median follow-up** (Schemper & Smith, Control Clin Trials 1996): the KM
  median with the censoring indicator reversed (``survfit(Surv(time, 1 - status) ~ 1)``).
* **Log-rank test** (``survdiff(rho = 0)``): observed and expected events per group, the
  hypergeometric variance matrix, ``chisq = (O − E)' V⁻ (O − E)`` on k − 1 degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from cartrial.errors import AnalysisError

__all__ = [
    "CONF_TYPES",
    "KMEstimate",
    "LogRank",
    "QuantileCI",
    "km_estimate",
    "km_quantiles",
    "log_rank",
    "reverse_km_median_follow_up",
]

ConfType = Literal["log", "log-log", "plain"]
#: CI transforms of ``survfit(conf.type=)``; ``"log"`` is R's default.
CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")
_TOLERANCE = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True)
class KMEstimate:
    """A Kaplan–Meier curve at its distinct times (arrays of equal length).

    Attributes
    ----------
    time, n_risk, n_event, n_censor
        Distinct times (any unit) and, at each, subjects at risk, events and censorings.
    surv
        S(t) just after each time.
    std_err
        Greenwood standard error of the cumulative hazard (``survfit``'s ``std.err``); the SE of
        S(t) is ``surv * std_err`` (``std_err_surv``).
    lower, upper
        Pointwise confidence limits by ``conf_type`` at ``conf_level``.
    """

    time: npt.NDArray[np.float64]
    n_risk: npt.NDArray[np.float64]
    n_event: npt.NDArray[np.float64]
    n_censor: npt.NDArray[np.float64]
    surv: npt.NDArray[np.float64]
    std_err: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    conf_type: str
    conf_level: float

    @property
    def n(self) -> int:
        """Number of subjects."""
        return int(self.n_risk[0]) if self.n_risk.size else 0

    @property
    def events(self) -> int:
        """Number of events."""
        return int(self.n_event.sum())

    @property
    def std_err_surv(self) -> npt.NDArray[np.float64]:
        """Greenwood standard error of S(t)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(np.where(self.surv > 0, self.surv * self.std_err, np.nan), float)


def _check(times: npt.NDArray[np.float64], events: npt.NDArray[np.bool_]) -> None:
    if times.shape != events.shape:
        raise AnalysisError(
            f"Kaplan–Meier: {times.size} times but {events.size} event flags (one each)"
        )
    if np.any(~np.isfinite(times)) or np.any(times < 0):
        raise AnalysisError("Kaplan–Meier: times must be finite and ≥ 0")


def _limits(
    surv: npt.NDArray[np.float64], se: npt.NDArray[np.float64], conf_type: str, z: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pointwise limits of survfit's ``conf.type`` (NaN where S = 0 or se is infinite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lower = np.exp(np.log(surv) - z * se)
            upper = np.minimum(np.exp(np.log(surv) + z * se), 1.0)
        elif conf_type == "log-log":
            one = surv == 1.0
            log_s = np.log(np.where(one, 0.1, surv))
            lower = np.where(one, 1.0, np.exp(-np.exp(np.log(-log_s) - z * se / log_s)))
            upper = np.where(one, 1.0, np.exp(-np.exp(np.log(-log_s) + z * se / log_s)))
        elif conf_type == "plain":
            lower = np.clip(surv - z * se * surv, 0.0, 1.0)
            upper = np.clip(surv + z * se * surv, 0.0, 1.0)
        else:
            raise AnalysisError(f"unknown conf_type {conf_type!r}; known: {', '.join(CONF_TYPES)}")
    undefined = (surv == 0) | ~np.isfinite(se)
    return (
        np.where(undefined, np.nan, lower).astype(float),
        np.where(undefined, np.nan, upper).astype(float),
    )


def km_estimate(
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    *,
    conf_type: ConfType = "log",
    conf_level: float = 0.95,
) -> KMEstimate:
    """Product-limit estimate with Greenwood SE and pointwise CIs (module docstring).

    Parameters
    ----------
    durations
        Times from the origin (≥ 0, any unit: the result is in the same unit).
    events
        True (or 1) for an event, False (0) for a censored time.
    conf_type
        ``"log"`` (R's default), ``"log-log"`` or ``"plain"``.
    conf_level
        Two-sided confidence level.

    Examples
    --------
    >>> km = km_estimate([1, 2, 2, 3], [1, 1, 0, 1])
    >>> km.surv.round(3).tolist()
    [0.75, 0.5, 0.0]
    """
    times = np.asarray(durations, dtype=float)
    observed = np.asarray(events, dtype=bool)
    _check(times, observed)
    if not 0 < conf_level < 1:
        raise AnalysisError(f"conf_level must be in (0, 1), got {conf_level}")
    if conf_type not in CONF_TYPES:
        raise AnalysisError(f"unknown conf_type {conf_type!r}; known: {', '.join(CONF_TYPES)}")
    unique, inverse = np.unique(times, return_inverse=True)
    n_event = np.bincount(inverse, weights=observed.astype(float), minlength=unique.size)
    n_all = np.bincount(inverse, minlength=unique.size).astype(float)
    n_risk = n_all[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / n_risk)
        terms = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(terms))
    z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    lower, upper = _limits(surv, std_err, conf_type, z)
    return KMEstimate(
        time=unique.astype(float),
        n_risk=n_risk,
        n_event=n_event.astype(float),
        n_censor=n_all - n_event,
        surv=surv.astype(float),
        std_err=std_err.astype(float),
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        conf_level=conf_level,
    )


def _find_quantile(time: npt.NDArray[np.float64], surv: npt.NDArray[np.float64], p: float) -> float:
    """R's ``findq`` on one curve: where 1 − S(t) reaches ``p``, midpoint over a flat at ``p``."""
    x = np.r_[0.0, time]
    y = np.r_[0.0, 1.0 - surv]
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if y.size == 0 or y.max() < p:
        return math.nan
    x_max = x[-1]
    first = np.r_[True, y[1:] != y[:-1]]  # drop repeated levels (censorings)
    x, y = x[first], y[first]
    if p == 0:
        return float(x[0])
    reach = np.flatnonzero(y > p - _TOLERANCE)
    if reach.size == 0:
        return math.nan
    i = int(reach[0])
    if abs(y[i] - p) >= _TOLERANCE:
        return float(x[i])  # the curve jumps over p at x[i]
    if i + 1 < x.size:
        return float((x[i] + x[i + 1]) / 2)  # flat at p: midpoint to the next event
    return float((x[i] + x_max) / 2)  # flat at p until the end of follow-up


@dataclass(frozen=True)
class QuantileCI:
    """A survival-time quantile with its confidence limits (NaN = not reached / not estimable)."""

    probability: float
    estimate: float
    lower: float
    upper: float


def km_quantiles(
    km: KMEstimate, probabilities: tuple[float, ...] = (0.25, 0.5, 0.75)
) -> tuple[QuantileCI, ...]:
    """Quantiles of the survival time with CIs, as ``quantile(survfit(...), probs)``.

    ``probabilities`` are of 1 − S(t): 0.5 is the median, 0.25 the first quartile (the time by
    which a quarter of the subjects had the event).
    """
    out = []
    for p in probabilities:
        if not 0 <= p <= 1:
            raise AnalysisError(f"quantile probability must be in [0, 1], got {p}")
        out.append(
            QuantileCI(
                probability=p,
                estimate=_find_quantile(km.time, km.surv, p),
                lower=_find_quantile(km.time, km.lower, p),
                upper=_find_quantile(km.time, km.upper, p),
            )
        )
    return tuple(out)


def reverse_km_median_follow_up(
    durations: npt.ArrayLike, events: npt.ArrayLike, *, conf_type: ConfType = "log"
) -> QuantileCI:
    """Median follow-up by the reverse Kaplan–Meier method (censorings become the events).

    R: ``quantile(survfit(Surv(time, 1 - status) ~ 1), probs = 0.5)``.
    """
    observed = np.asarray(events, dtype=bool)
    reverse = km_estimate(durations, ~observed, conf_type=conf_type)
    return km_quantiles(reverse, (0.5,))[0]


@dataclass(frozen=True)
class LogRank:
    """Log-rank test between groups (exploratory).

    Attributes
    ----------
    groups
        Group labels in the order of ``observed`` and ``expected``.
    observed, expected
        Events observed and expected under equal hazards, per group.
    chisq, df, p_value
        ``(O − E)' V⁻ (O − E)`` on ``k − 1`` degrees of freedom, and its upper-tail p-value.
    """

    groups: tuple[str, ...]
    n: tuple[int, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    chisq: float
    df: int
    p_value: float


def log_rank(durations: npt.ArrayLike, events: npt.ArrayLike, groups: npt.ArrayLike) -> LogRank:
    """Log-rank test of equal survival across ``groups``, as ``survdiff(Surv(t, e) ~ g)``.

    At each distinct event time t with d events among n at risk (n_g, d_g per group):
    ``E_g += d n_g / n`` and ``V_gh += d (n - d) / (n - 1) · n_g / n · (δ_gh − n_h / n)``.
    The statistic uses the first k − 1 groups (V restricted is invertible when every group has
    a subject at risk at some event time); its generalised inverse is used as survdiff does.

    Raises
    ------
    AnalysisError
        Fewer than two groups, or mismatched lengths.
    """
    times = np.asarray(durations, dtype=float)
    observed = np.asarray(events, dtype=bool)
    labels = np.asarray(groups).astype(str)
    _check(times, observed)
    if labels.shape != times.shape:
        raise AnalysisError("log-rank: one group label per time is needed")
    names = tuple(dict.fromkeys(labels.tolist()))
    names = tuple(sorted(names))
    if len(names) < 2:
        raise AnalysisError("log-rank: needs at least two groups")
    event_times = np.unique(times[observed])
    at_risk = np.empty((event_times.size, len(names)))  # event time x group
    died = np.empty_like(at_risk)
    sizes = []
    for j, name in enumerate(names):
        in_group = labels == name
        group_times = np.sort(times[in_group])
        sizes.append(int(group_times.size))
        at_risk[:, j] = group_times.size - np.searchsorted(group_times, event_times, side="left")
        slots = np.searchsorted(event_times, times[in_group & observed])
        died[:, j] = np.bincount(slots, minlength=event_times.size)
    n = at_risk.sum(axis=1)
    d = died.sum(axis=1)
    share = at_risk / n[:, None]
    expected = (d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    k = len(names)
    variance = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            variance[i, j] = np.sum(factor * share[:, i] * ((i == j) - share[:, j]))
    diff = died.sum(axis=0) - expected
    chisq = float(diff[:-1] @ np.linalg.pinv(variance[:-1, :-1]) @ diff[:-1])
    df = k - 1
    return LogRank(
        groups=names,
        n=tuple(sizes),
        observed=tuple(float(v) for v in died.sum(axis=0)),
        expected=tuple(float(v) for v in expected),
        chisq=chisq,
        df=df,
        p_value=float(stats.chi2.sf(chisq, df)),
    )
