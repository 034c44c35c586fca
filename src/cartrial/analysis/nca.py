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
import pandas as pd

from cartrial.errors import AnalysisError

__all__ = ["AUC_METHODS", "NCAResult", "auc", "clean_blq", "nca_many", "nca_profile"]

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


def nca_many(samples: pd.DataFrame, keys: list[str], *, end: float = 28.0) -> pd.DataFrame:
    """:func:`nca_profile` for many profiles at once, vectorised (same rules, same numbers).

    Parameters
    ----------
    samples
        One row per sample: the ``keys`` columns (e.g. subject and assay unit), ``day``,
        ``value`` and ``blq`` (True below the LLOQ). Negative days are ignored.
    keys
        Columns identifying a profile.

    Returns
    -------
    DataFrame
        Indexed by ``keys``: ``cmax, tmax, clast, tlast, auc_last, auc_all, auc_0_end,
        auc_last_linear, auc_all_linear, auc_0_end_linear`` (NaN without a quantifiable sample).
    """
    data = samples.loc[samples["day"] >= 0, [*keys, "day", "value", "blq"]].copy()
    data["blq"] = (
        data["blq"].astype(bool) | ~np.isfinite(data["value"]) | ~(data["value"].fillna(0) > 0)
    )
    data = data.sort_values([*keys, "day"], kind="stable").reset_index(drop=True)
    code = data.groupby(keys, sort=True).ngroup().to_numpy()
    index = data.groupby(keys, sort=True).size().index
    n_groups = len(index)
    position = np.arange(len(data))
    quantified = ~data["blq"].to_numpy()
    big = len(data) + 1
    first_q = np.full(n_groups, big)
    last_q = np.full(n_groups, -1)
    np.minimum.at(first_q, code[quantified], position[quantified])
    np.maximum.at(last_q, code[quantified], position[quantified])
    embedded = ~quantified & (position > first_q[code]) & (position < last_q[code])
    keep = ~embedded
    t = data["day"].to_numpy(dtype=float)[keep]
    c = np.where(quantified, data["value"].to_numpy(dtype=float), 0.0)[keep]
    g = code[keep]
    # the level 0 at day 0 for profiles not sampled then
    starts = np.r_[True, g[1:] != g[:-1]] if g.size else np.array([], dtype=bool)
    need_zero = starts & (t > 0)
    t = np.insert(t, np.flatnonzero(need_zero), 0.0)
    c = np.insert(c, np.flatnonzero(need_zero), 0.0)
    g = np.insert(g, np.flatnonzero(need_zero), g[need_zero])
    out = pd.DataFrame(index=index)
    positive = c > 0
    has = np.bincount(g[positive], minlength=n_groups) > 0
    order = np.lexsort((t, -c, g))  # per group: highest level first, earliest time first
    first_rows = order[np.r_[True, g[order][1:] != g[order][:-1]]] if g.size else order
    cmax = np.full(n_groups, np.nan)
    tmax = np.full(n_groups, np.nan)
    cmax[g[first_rows]], tmax[g[first_rows]] = c[first_rows], t[first_rows]
    tlast = np.full(n_groups, np.nan)
    clast = np.full(n_groups, np.nan)
    last_pos = np.full(n_groups, -1)
    np.maximum.at(last_pos, g[positive], np.flatnonzero(positive))
    tlast[has], clast[has] = t[last_pos[has]], c[last_pos[has]]
    out["cmax"], out["tmax"] = np.where(has, cmax, np.nan), np.where(has, tmax, np.nan)
    out["clast"], out["tlast"] = clast, tlast
    last_time = np.full(n_groups, -np.inf)
    np.maximum.at(last_time, g, t)
    same = g[1:] == g[:-1]
    t1, c1, t2, c2, sg = t[:-1][same], c[:-1][same], t[1:][same], c[1:][same], g[:-1][same]
    before_tlast = t2 <= tlast[sg]
    for suffix, method in (("", "lin up/log down"), ("_linear", "linear")):
        areas = _areas(t1, c1, t2, c2, method)
        auc_last = np.bincount(sg[before_tlast], areas[before_tlast], minlength=n_groups)
        auc_all = np.bincount(sg, areas, minlength=n_groups)
        inside = before_tlast & (t1 < end)
        cut = inside & (t2 > end)
        fraction = np.where(cut, (end - t1) / np.where(t2 > t1, t2 - t1, 1.0), 1.0)
        falling = (c2 < c1) & (c2 > 0) & (method != "linear")
        with np.errstate(divide="ignore", invalid="ignore"):
            log_level = c1 * np.exp(fraction * np.log(c2 / c1))
        level = np.where(falling, log_level, c1 + fraction * (c2 - c1))
        t_end = np.where(cut, end, t2)
        c_end = np.where(cut, level, c2)
        partial = _areas(t1, c1, t_end, c_end, method)
        auc_end = np.bincount(sg[inside], partial[inside], minlength=n_groups)
        auc_end = np.where(tlast < end, auc_last, auc_end)
        auc_end = np.where(last_time < end, np.nan, auc_end)
        out[f"auc_last{suffix}"] = np.where(has, auc_last, np.nan)
        out[f"auc_all{suffix}"] = np.where(has, auc_all, np.nan)
        out[f"auc_0_end{suffix}"] = np.where(has, auc_end, np.nan)
    return out
