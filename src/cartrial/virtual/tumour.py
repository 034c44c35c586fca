"""Tumour dynamics: the Stein/Fojo bi-exponential regression-growth model, lesion by lesion.

Each lesion follows ``D(t) = D(0) * f(t)`` with ``f(t) = exp(-d t) + exp(g t) - 1`` for ``t >= 0``
(Stein WD et al., Clin Cancer Res 2011;17:907-917) and pure growth ``f(t) = exp(g t)`` before the
infusion (the baseline scan precedes day 0). ``f`` is the sum of a regressing compartment
``dR/dt = -d R`` and a growing one ``dG/dt = g G`` (both starting at 1) minus 1. The regression rate
``d`` is driven by the CAR-T exposure (Emax in AUC0-28; our adaptation, assumption), CLDN18.2 and
PD-L1 expression. New lesions and unequivocal non-target progression are events whose hazard is
proportional to the relative tumour size ``f(t)``; their times are drawn by inverting the
closed-form cumulative hazard. Observed diameters add measurement error and are rounded to whole
mm, so that the real RECIST engine, not this model, decides each response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.virtual.params import TumourParams

__all__ = [
    "TumourDynamics",
    "cumulative_relative_size",
    "event_day",
    "nadir_day",
    "progression_day",
    "regression_rate",
    "relative_size",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike


def relative_size(t: ArrayLike, d: ArrayLike, g: ArrayLike) -> FloatArray:
    """``f(t) = exp(-d t) + exp(g t) - 1`` for ``t >= 0``; ``exp(g t)`` before day 0.

    At the fastest growth rates the size of a tumour years on overflows to ``inf``, which every
    caller compares correctly (an event by then is certain), so the overflow is not reported.
    """
    t_ = np.asarray(t, dtype=float)
    d_, g_ = np.asarray(d, dtype=float), np.asarray(g, dtype=float)
    with np.errstate(over="ignore"):
        after = np.exp(-d_ * np.maximum(t_, 0.0)) + np.expm1(g_ * np.maximum(t_, 0.0))
    return np.asarray(np.where(t_ < 0, np.exp(g_ * np.minimum(t_, 0.0)), after))


def cumulative_relative_size(t: ArrayLike, d: ArrayLike, g: ArrayLike) -> FloatArray:
    """``F(t) = integral_0^t f = (1 - exp(-d t))/d + (exp(g t) - 1)/g - t`` (``t >= 0``; ``inf``
    when it overflows, see :func:`relative_size`)."""
    t_ = np.maximum(np.asarray(t, dtype=float), 0.0)
    d_, g_ = np.asarray(d, dtype=float), np.asarray(g, dtype=float)
    with np.errstate(over="ignore"):
        return np.asarray(-np.expm1(-d_ * t_) / d_ + np.expm1(g_ * t_) / g_ - t_)


def nadir_day(d: ArrayLike, g: ArrayLike) -> FloatArray:
    """Day of the minimum of ``f``: ``ln(d/g) / (d + g)`` when ``d > g``, else 0."""
    d_, g_ = np.asarray(d, dtype=float), np.asarray(g, dtype=float)
    ratio = np.maximum(d_ / g_, 1.0)
    return np.asarray(np.log(ratio) / (d_ + g_))


def _bisect_increasing(
    target: FloatArray, fn: _Increasing, lo: FloatArray, hi: FloatArray, iterations: int = 40
) -> FloatArray:
    """Vectorised bisection for ``fn(t) = target`` on ``[lo, hi]`` where ``fn`` increases."""
    lo_, hi_ = lo.copy(), hi.copy()
    for _ in range(iterations):
        mid = 0.5 * (lo_ + hi_)
        below = fn(mid) < target
        lo_ = np.where(below, mid, lo_)
        hi_ = np.where(below, hi_, mid)
    return np.asarray(0.5 * (lo_ + hi_))


class _Increasing:
    """``fn(t)`` closure over per-patient arrays (kept as a small class for typing)."""

    def __init__(self, d: FloatArray, g: FloatArray, kind: str) -> None:
        self.d, self.g, self.kind = d, g, kind

    def __call__(self, t: FloatArray) -> FloatArray:
        if self.kind == "cumulative":
            return cumulative_relative_size(t, self.d, self.g)
        return relative_size(t, self.d, self.g)


def event_day(
    exp_draw: FloatArray, rate: float, d: FloatArray, g: FloatArray, horizon_days: float
) -> FloatArray:
    """Day of an event with hazard ``rate * f(t)`` from ``Exp(1)`` draws (``inf``: beyond horizon).

    Solves ``rate * F(t) = E`` by bisection (``F`` is increasing because ``f > 0``).
    """
    if rate <= 0:
        return np.full(exp_draw.shape, np.inf)
    target = exp_draw / rate
    hi = np.full(exp_draw.shape, float(horizon_days))
    beyond = cumulative_relative_size(hi, d, g) < target
    t = _bisect_increasing(target, _Increasing(d, g, "cumulative"), np.zeros_like(hi), hi)
    return np.asarray(np.where(beyond, np.inf, t))


def progression_day(
    sld0_mm: FloatArray, d: FloatArray, g: FloatArray, horizon_days: float
) -> FloatArray:
    """First day the true sum of diameters reaches RECIST target progression.

    Progression: ``SLD >= 1.2 x nadir`` and ``SLD - nadir >= 5 mm`` with ``SLD = sld0 f(t)``;
    ``inf`` when not reached by the horizon or when there is no target disease.
    """
    t_nadir = nadir_day(d, g)
    f_nadir = relative_size(t_nadir, d, g)
    with np.errstate(divide="ignore"):
        needed = np.maximum(1.2 * f_nadir, f_nadir + 5.0 / sld0_mm)
    hi = np.full(d.shape, float(horizon_days))
    reached = relative_size(hi, d, g) >= needed
    t = _bisect_increasing(needed, _Increasing(d, g, "size"), t_nadir.copy(), hi)
    return np.asarray(np.where(reached & (sld0_mm > 0), t, np.inf))


def regression_rate(
    auc: FloatArray,
    cldn18_pct: FloatArray,
    pdl1_pct: FloatArray,
    eta: FloatArray,
    params: TumourParams,
) -> FloatArray:
    """Regression rate ``d`` (/day) from the CAR-T AUC0-28 (copies/ug x day) and target expression.

    ``d = d_max * AUC/(AUC + AUC50) * (CLDN18.2/100)^k * (1 + e_PDL1 PD-L1/100) * exp(sd eta)``,
    floored at 1e-6 /day.
    """
    p = params
    emax = auc / (auc + p.auc50_copies_day_ug)
    target = (cldn18_pct / 100.0) ** p.cldn18_kill_exponent * (
        1.0 + p.pdl1_kill_effect * pdl1_pct / 100.0
    )
    return np.asarray(
        np.maximum(p.kill_max_per_day * emax * target * np.exp(p.kill_sd_log * eta), 1e-6)
    )


@dataclass(frozen=True)
class TumourDynamics:
    """Per-patient tumour trajectories.

    ``d`` (n,) regression rate and ``g`` (n,) patient growth rate, per day; ``lesion_growth`` (n, L)
    per-lesion growth rates; ``baseline_mm`` (n, L) diameters at ``baseline_scan_day``;
    ``new_lesion_day`` and ``non_target_progression_day`` (n,) event days (``inf`` = none);
    ``progression_day`` (n,) the true (continuous-time) RECIST target progression day.
    """

    d: FloatArray
    g: FloatArray
    lesion_growth: FloatArray
    baseline_mm: FloatArray
    is_lymph_node: BoolArray
    present: BoolArray
    target: BoolArray
    baseline_scan_day: int
    new_lesion_day: FloatArray
    non_target_progression_day: FloatArray
    progression_day: FloatArray
    params: TumourParams

    def true_diameters(self, days: ArrayLike) -> FloatArray:
        """True diameters (mm), ``(n, k, L)``; absent lesions are 0, nodes floor at normal size."""
        t = np.asarray(days, dtype=float)
        t3 = (t[None, :] if t.ndim == 1 else t)[:, :, None]
        d3 = self.d[:, None, None]
        g3 = self.lesion_growth[:, None, :]
        scale = relative_size(t3, d3, g3) / relative_size(float(self.baseline_scan_day), d3, g3)
        diam = self.baseline_mm[:, None, :] * scale
        diam = np.where(
            self.is_lymph_node[:, None, :],
            np.maximum(diam, self.params.lymph_node_floor_mm),
            diam,
        )
        return np.asarray(np.where(self.present[:, None, :], diam, 0.0))

    def true_sum_of_diameters(self, days: ArrayLike) -> FloatArray:
        """True sum of target diameters (mm), shape ``(n, k)``."""
        return np.asarray((self.true_diameters(days) * self.target[:, None, :]).sum(axis=2))

    def measured_diameters(self, days: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """Diameters as a radiologist records them (mm, whole numbers), shape ``(n, k, L)``.

        Proportional and additive normal error, rounded; a non-nodal lesion whose true size is
        below ``disappear_below_mm`` is recorded as 0 (disappeared); nodes are never below 1 mm.
        """
        p = self.params
        true = self.true_diameters(days)
        noisy = true * (1.0 + p.measurement_sd_fraction * rng.standard_normal(true.shape))
        noisy += p.measurement_sd_mm * rng.standard_normal(true.shape)
        measured = np.rint(np.maximum(noisy, 1.0))
        gone = ~self.is_lymph_node[:, None, :] & (true < p.disappear_below_mm)
        measured = np.where(gone, 0.0, measured)
        return np.asarray(np.where(self.present[:, None, :], measured, 0.0))
