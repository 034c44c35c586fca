"""CAR-T cellular kinetics: the Stein 2019 multiphasic expansion-contraction-persistence model.

Closed form (Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285-295, Figure 2 and
supplement): with ``R0 = Cmax / foldx`` and ``rho = ln(foldx) / Tmax``,

* ``0 <= t < Tmax``:  C(t) = R0 * exp(rho * t)                         (expansion)
* ``t >= Tmax``:      C(t) = Cmax * [(1 - FB) exp(-alpha s) + FB exp(-beta s)],  s = t - Tmax

The effector pool is ``E = Cmax exp(-alpha s)`` and the memory pool ``M = C - E``. Levels are
transgene copies/ug genomic DNA; time is days from infusion. Individual parameters are log-normal
around typical values (``theta_i = theta * exp(eta_i)``); the typical peak depends on the dose and
on tumour PD-L1 (our assumption, see ``params.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.virtual.params import KineticsParams

__all__ = [
    "KineticsParameters",
    "individual_kinetics",
    "observe_log_normal",
    "stein_auc",
    "stein_level",
    "stein_memory_share",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def _floats(*values: ArrayLike) -> tuple[FloatArray, ...]:
    """Each argument as a float array (the Stein-model functions broadcast over all of them)."""
    return tuple(np.asarray(x, dtype=float) for x in values)


def stein_level(
    t: ArrayLike,
    cmax: ArrayLike,
    tmax: ArrayLike,
    fold_expansion: ArrayLike,
    alpha: ArrayLike,
    fraction_memory: ArrayLike,
    beta: ArrayLike,
) -> FloatArray:
    """Level C(t) of the Stein 2019 model (broadcasting over all arguments).

    Returns 0 before infusion (``t < 0``).
    """
    t_, cmax_, tmax_, fx, a, fb, b = _floats(
        t, cmax, tmax, fold_expansion, alpha, fraction_memory, beta
    )
    rho = np.log(fx) / tmax_
    expansion = (cmax_ / fx) * np.exp(rho * np.minimum(t_, tmax_))
    s = np.maximum(t_ - tmax_, 0.0)
    decline = cmax_ * ((1.0 - fb) * np.exp(-a * s) + fb * np.exp(-b * s))
    level = np.where(t_ < tmax_, expansion, decline)
    return np.asarray(np.where(t_ < 0, 0.0, level))


def stein_memory_share(
    t: ArrayLike, tmax: ArrayLike, alpha: ArrayLike, fraction_memory: ArrayLike, beta: ArrayLike
) -> FloatArray:
    """Share of the memory (persistence) pool M / (E + M); 0 up to Tmax."""
    s = np.maximum(np.asarray(t, dtype=float) - np.asarray(tmax, dtype=float), 0.0)
    a, fb, b = _floats(alpha, fraction_memory, beta)
    effector = np.exp(-a * s)
    memory = fb * (np.exp(-b * s) - effector)
    return np.asarray(memory / (effector + memory))


def stein_auc(
    t_end: ArrayLike,
    cmax: ArrayLike,
    tmax: ArrayLike,
    fold_expansion: ArrayLike,
    alpha: ArrayLike,
    fraction_memory: ArrayLike,
    beta: ArrayLike,
) -> FloatArray:
    """Analytic AUC of C(t) from 0 to ``t_end`` (copies/ug x day).

    Expansion part ``(C(min(t_end, Tmax)) - R0) / rho``; decline part
    ``Cmax [(1-FB)(1-exp(-alpha s))/alpha + FB (1-exp(-beta s))/beta]`` with ``s = t_end - Tmax``.
    """
    t_, cmax_, tmax_, fx, a, fb, b = _floats(
        t_end, cmax, tmax, fold_expansion, alpha, fraction_memory, beta
    )
    rho = np.log(fx) / tmax_
    r0 = cmax_ / fx
    up = (r0 * np.exp(rho * np.minimum(t_, tmax_)) - r0) / rho
    s = np.maximum(t_ - tmax_, 0.0)
    down = cmax_ * ((1.0 - fb) * -np.expm1(-a * s) / a + fb * -np.expm1(-b * s) / b)
    return np.asarray(up + down)


def observe_log_normal(
    level: FloatArray, rng: np.random.Generator, sd_log: float, lloq: float
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """A measured level: log-normal residual error, then below-LLOQ flagging.

    Returns ``(value, below_lloq)``; a value below the LLOQ is reported as 0 with the flag set.
    """
    measured = level * np.exp(sd_log * rng.standard_normal(level.shape))
    below = measured < lloq
    return np.where(below, 0.0, np.round(measured, 2)), below


@dataclass(frozen=True)
class KineticsParameters:
    """Individual Stein-model parameters (one entry per patient) and anti-CAR antibody clearance.

    ``ada_onset_day`` is ``inf`` for a patient without treatment-emergent antibodies; after it the
    whole CAR+ population is cleared at an extra rate ``ada_clearance_per_day``.
    """

    cmax: FloatArray
    tmax: FloatArray
    fold_expansion: FloatArray
    alpha: FloatArray
    fraction_memory: FloatArray
    beta: FloatArray
    ada_onset_day: FloatArray
    ada_clearance_per_day: float

    def _col(self, x: FloatArray) -> FloatArray:
        return x[:, None]

    def level(self, days: ArrayLike) -> FloatArray:
        """True level (copies/ug gDNA) at ``days`` (``(k,)`` or ``(n, k)``), shape ``(n, k)``."""
        d = np.asarray(days, dtype=float)
        base = stein_level(
            d,
            self._col(self.cmax),
            self._col(self.tmax),
            self._col(self.fold_expansion),
            self._col(self.alpha),
            self._col(self.fraction_memory),
            self._col(self.beta),
        )
        extra = np.maximum(d - self._col(self.ada_onset_day), 0.0)
        return np.asarray(base * np.exp(-self.ada_clearance_per_day * extra))

    def memory_share(self, days: ArrayLike) -> FloatArray:
        """Share of memory-pool cells among circulating CAR+ cells, shape ``(n, k)``."""
        return stein_memory_share(
            np.asarray(days, dtype=float),
            self._col(self.tmax),
            self._col(self.alpha),
            self._col(self.fraction_memory),
            self._col(self.beta),
        )

    def auc(self, t_end: float) -> FloatArray:
        """Analytic AUC from 0 to ``t_end`` days without antibody clearance, shape ``(n,)``."""
        return stein_auc(
            t_end,
            self.cmax,
            self.tmax,
            self.fold_expansion,
            self.alpha,
            self.fraction_memory,
            self.beta,
        )

    def take(self, index: npt.NDArray[np.int64]) -> KineticsParameters:
        """The patients at ``index``."""
        return KineticsParameters(
            cmax=self.cmax[index],
            tmax=self.tmax[index],
            fold_expansion=self.fold_expansion[index],
            alpha=self.alpha[index],
            fraction_memory=self.fraction_memory[index],
            beta=self.beta[index],
            ada_onset_day=self.ada_onset_day[index],
            ada_clearance_per_day=self.ada_clearance_per_day,
        )


def individual_kinetics(
    dose_cells: FloatArray,
    pdl1_pct: FloatArray,
    eta: FloatArray,
    ada_onset_day: FloatArray,
    params: KineticsParams,
) -> KineticsParameters:
    """Individual parameters from standard-normal ``eta`` of shape ``(n, 6)``.

    ``Cmax = Cmax_typ (dose/ref)^exponent exp(pdl1_effect * PD-L1/100) exp(omega eta)``; the other
    five parameters are ``theta exp(omega eta)``. Guards keep the model defined: ``foldx >= 2``,
    ``FB <= 0.5``, ``beta <= alpha / 2`` and ``2 <= Tmax <= 40`` days.
    """
    p = params
    omega = np.sqrt(
        [
            p.omega2_cmax,
            p.omega2_tmax,
            p.omega2_fold_expansion,
            p.omega2_alpha,
            p.omega2_fraction_memory,
            p.omega2_beta,
        ]
    )
    re = np.exp(eta * omega)
    dose_factor = (np.asarray(dose_cells, dtype=float) / p.reference_dose_cells) ** p.dose_exponent
    cmax = p.cmax_copies_ug * dose_factor * np.exp(p.pdl1_log_effect * pdl1_pct / 100.0) * re[:, 0]
    alpha = p.alpha_per_day * re[:, 3]
    return KineticsParameters(
        cmax=cmax,
        tmax=np.clip(p.tmax_days * re[:, 1], 2.0, 40.0),
        fold_expansion=np.maximum(p.fold_expansion * re[:, 2], 2.0),
        alpha=alpha,
        fraction_memory=np.minimum(p.fraction_memory * re[:, 4], 0.5),
        beta=np.minimum(p.beta_per_day * re[:, 5], alpha / 2.0),
        ada_onset_day=np.asarray(ada_onset_day, dtype=float),
        ada_clearance_per_day=p.ada_extra_clearance_per_day,
    )
