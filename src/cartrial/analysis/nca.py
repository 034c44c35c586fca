"""Non-compartmental analysis of one concentration–time profile, by the conventions of PKNCA.

Used for CAR-T cellular kinetics (levels in copies/µg gDNA or cells/µL, times in days after
infusion), but nothing here is specific to cells.

* **Below the LLOQ** (PKNCA ``clean.conc.blq`` defaults ``first = "keep"``, ``middle = "drop"``,
  ``last = "keep"``): BLQ samples count as 0 before the first and after the last quantifiable
  sample; BLQ samples between quantifiable ones are dropped. A profile not sampled at time 0 starts
  at level 0 (no CAR-T cells before the infusion).
* **Cmax / Tmax**: highest level and the first time it is observed (``pk.calc.cmax``,
  ``pk.calc.tmax(first.tmax = TRUE)``); **Clast / Tlast**: last level above 0 and its time.
* **AUC** (``pk.calc.auxc``): the sum of trapezoids; with ``method="linear"`` every segment is
  linear, ``(t₂ − t₁)(C₁ + C₂)/2``; with ``method="lin up/log down"`` a falling segment between two
  positive levels is logarithmic, ``(t₂ − t₁)(C₁ − C₂)/ln(C₁/C₂)``.
  ``AUClast`` integrates from 0 to Tlast; ``AUCall`` to the last sample, the segment from Tlast to
  the following 0 being linear (``auc.type = "AUCall"``). ``AUC0–end`` (e.g. 0–28 days) is
  AUClast-type over ``[0, end]``: a level at ``end`` inside a segment is interpolated with the
  segment's rule (``interp.extrap.conc``); it is NE (NaN) when the profile was not sampled through
  ``end``.

Reference: Denney W, Duvvuri S, Buckeridge C. Simple, automatic noncompartmental analysis: the
PKNCA R package. J Pharmacokinet Pharmacodyn 2015;42(1):11-107.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cartrial.errors import AnalysisError

__all__ = ["AUC_METHODS", "NCAResult", "auc", "clean_blq", "nca_profile"]

AucMethod = Literal["linear", "lin up/log down"]
#: Integration methods, as PKNCA names them.
AUC_METHODS: tuple[str, ...] = ("linear", "lin up/log down")


def clean_blq(
    times: npt.ArrayLike, levels: npt.ArrayLike, blq: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Apply PKNCA's default BLQ rules and add the level 0 at time 0 when not sampled.

    Parameters
    ----------
    times
        Sample times (days after infusion), any order; negative times are ignored.
    levels
        Measured levels (NaN allowed where ``blq``).
    blq
        True where the sample is below the lower limit of quantification.

    Returns
    -------
    (times, levels)
        Sorted, BLQ set to 0 (leading / trailing) or dropped (embedded).
    """
    t = np.asarray(times, dtype=float)
    c = np.asarray(levels, dtype=float)
    below = np.asarray(blq, dtype=bool) | ~np.isfinite(c) | (np.nan_to_num(c) <= 0)
    if not (t.shape == c.shape == below.shape):
        raise AnalysisError("NCA: times, levels and BLQ flags must have one value per sample")
    keep = t >= 0
    order = np.argsort(t[keep], kind="stable")
    t, c, below = t[keep][order], c[keep][order], below[keep][order]
    c = np.where(below, 0.0, c)
    quantified = np.flatnonzero(~below)
    if quantified.size:
        first, last = quantified[0], quantified[-1]
        inside = (np.arange(t.size) > first) & (np.arange(t.size) < last)
        kept = ~(inside & below)
        t, c = t[kept], c[kept]
    if t.size == 0 or t[0] > 0:
        t, c = np.r_[0.0, t], np.r_[0.0, c]
    return t, c


def _areas(
    t1: npt.NDArray[np.float64],
    c1: npt.NDArray[np.float64],
    t2: npt.NDArray[np.float64],
    c2: npt.NDArray[np.float64],
    method: str,
) -> npt.NDArray[np.float64]:
    linear = (t2 - t1) * (c1 + c2) / 2
    if method == "linear":
        return np.asarray(linear, float)
    falling = (c2 < c1) & (c2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_area = (t2 - t1) * (c1 - c2) / np.log(c1 / c2)
    return np.asarray(np.where(falling, log_area, linear), float)


def _interpolate(t1: float, c1: float, t2: float, c2: float, t: float, method: str) -> float:
    fraction = (t - t1) / (t2 - t1)
    if method != "linear" and c2 < c1 and c2 > 0:
        return float(c1 * math.exp(fraction * math.log(c2 / c1)))
    return float(c1 + fraction * (c2 - c1))


def auc(
    times: npt.ArrayLike,
    levels: npt.ArrayLike,
    *,
    method: AucMethod = "lin up/log down",
    end: float | None = None,
) -> float:
    """Area under the profile from its first time to ``end`` (the last time if None).

    ``times`` sorted ascending; levels already cleaned (:func:`clean_blq`). A level at ``end``
    between two samples is interpolated with the segment's rule; NaN when ``end`` is beyond the
    last sample.

    Examples
    --------
    >>> auc([0, 1, 2], [0, 4, 2], method="linear")
    5.0
    """
    if method not in AUC_METHODS:
        raise AnalysisError(f"unknown AUC method {method!r}; known: {', '.join(AUC_METHODS)}")
    t = np.asarray(times, dtype=float)
    c = np.asarray(levels, dtype=float)
    if t.size == 0:
        return math.nan
    if end is not None:
        if end > t[-1]:
            return math.nan
        inside = t <= end
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            level = _interpolate(t[i - 1], c[i - 1], t[i], c[i], end, method)
            t, c = np.r_[t[inside], end], np.r_[c[inside], level]
    if t.size < 2:
        return 0.0
    return float(_areas(t[:-1], c[:-1], t[1:], c[1:], method).sum())


@dataclass(frozen=True)
class NCAResult:
    """NCA parameters of one profile (levels in the assay unit, times in days, AUC unit × day).

    ``auc_*`` use ``method="lin up/log down"``; ``auc_*_linear`` the linear trapezoidal rule.
    Every parameter is NaN when no sample is quantifiable.
    """

    cmax: float
    tmax: float
    clast: float
    tlast: float
    auc_last: float
    auc_all: float
    auc_0_end: float
    auc_last_linear: float
    auc_all_linear: float
    auc_0_end_linear: float
    end: float


def nca_profile(
    times: npt.ArrayLike, levels: npt.ArrayLike, blq: npt.ArrayLike, *, end: float = 28.0
) -> NCAResult:
    """Cmax, Tmax, Clast, Tlast, AUClast, AUCall and AUC0–``end`` by both methods.

    PKNCA equivalent (one subject)::

        pk.nca(PKNCAdata(PKNCAconc(d, conc ~ time), intervals = data.frame(start = 0,
               end = c(Inf, 28), cmax = TRUE, tmax = TRUE, clast.obs = TRUE, tlast = TRUE,
               auclast = TRUE, aucall = TRUE),
               options = list(auc.method = "lin up/log down")))
    """
    t, c = clean_blq(times, levels, blq)
    nan = math.nan
    positive = np.flatnonzero(c > 0)
    if positive.size == 0:
        return NCAResult(nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, end)
    i_max = int(np.argmax(c))
    i_last = int(positive[-1])
    results: dict[str, float] = {}
    for suffix, method in (("", "lin up/log down"), ("_linear", "linear")):
        m: AucMethod = method  # type: ignore[assignment]
        results[f"auc_last{suffix}"] = auc(t[: i_last + 1], c[: i_last + 1], method=m)
        results[f"auc_all{suffix}"] = auc(t, c, method=m)
        # AUClast-type over [0, end]: the profile stops at Tlast (trailing zeros excluded) but
        # must have been sampled through ``end``.
        if t[-1] < end:
            results[f"auc_0_end{suffix}"] = nan
        elif t[i_last] < end:
            results[f"auc_0_end{suffix}"] = results[f"auc_last{suffix}"]
        else:
            results[f"auc_0_end{suffix}"] = auc(t[: i_last + 1], c[: i_last + 1], method=m, end=end)
    return NCAResult(
        cmax=float(c[i_max]),
        tmax=float(t[i_max]),
        clast=float(c[i_last]),
        tlast=float(t[i_last]),
        end=end,
        **results,
    )
