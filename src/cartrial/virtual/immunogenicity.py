"""Anti-CAR antibodies: pre-existing, treatment-induced and boosted, seen by a tiered assay.

Truth per patient: a pre-existing antibody (baseline titer) with probability
``baseline_positive_prob``; a treatment-emergent response (induced in baseline-negative, boosted by
``boost_log2`` dilution steps in baseline-positive patients) with probability ``induced_prob``,
log-normal onset, transient (lasting ``transient_duration_days``) or persistent. The tiered assay
(screen, confirm, titer; FDA 2019, Shankar 2014 [mem]) detects every true positive and returns false
screen/confirm positives among negatives at the configured rates; titers are reciprocal 2-fold
dilutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.virtual.params import ImmunogenicityParams

__all__ = ["AntiCarAntibodies", "sample_antibodies"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AntiCarAntibodies:
    """True antibody course per patient.

    ``baseline_log2_titer`` is ``nan`` when baseline-negative; ``onset_day`` is ``inf`` without a
    treatment-emergent response; ``end_day`` is ``inf`` for a persistent response.
    """

    baseline_log2_titer: FloatArray
    onset_day: FloatArray
    end_day: FloatArray
    emergent_log2_titer: FloatArray
    params: ImmunogenicityParams

    @property
    def treatment_emergent(self) -> BoolArray:
        """Induced or boosted response at any time."""
        return np.asarray(np.isfinite(self.onset_day))

    def true_log2_titer(self, days: npt.ArrayLike) -> FloatArray:
        """True log2 titer at ``days`` (``nan`` = negative), shape ``(n, k)``."""
        t = np.asarray(days, dtype=float)
        t2 = t[None, :] if t.ndim == 1 else t
        active = (t2 >= self.onset_day[:, None]) & (t2 < self.end_day[:, None])
        base = np.broadcast_to(
            self.baseline_log2_titer[:, None], np.broadcast_shapes(t2.shape, active.shape)
        )
        return np.asarray(np.where(active, self.emergent_log2_titer[:, None], base))

    def assay(
        self, days: npt.ArrayLike, rng: np.random.Generator
    ) -> tuple[BoolArray, BoolArray, FloatArray]:
        """Tiered assay results ``(screen_positive, confirmed, titer)``, each ``(n, k)``.

        ``titer`` is the reciprocal dilution (``nan`` unless confirmed).
        """
        p = self.params
        true = self.true_log2_titer(days)
        positive = ~np.isnan(true)
        u_screen = rng.random(true.shape)
        u_confirm = rng.random(true.shape)
        false_screen = ~positive & (u_screen < p.screen_false_positive_rate)
        conditional = p.confirm_false_positive_rate / max(p.screen_false_positive_rate, 1e-12)
        false_confirm = false_screen & (u_confirm < conditional)
        screen = positive | false_screen
        confirmed = positive | false_confirm
        titer = np.where(
            positive,
            2.0 ** np.maximum(np.rint(np.nan_to_num(true)), np.log2(p.minimum_titer)),
            np.where(false_confirm, p.minimum_titer, np.nan),
        )
        return screen, confirmed, titer

    def take(self, index: npt.NDArray[np.int64]) -> AntiCarAntibodies:
        """The patients at ``index``."""
        return AntiCarAntibodies(
            baseline_log2_titer=self.baseline_log2_titer[index],
            onset_day=self.onset_day[index],
            end_day=self.end_day[index],
            emergent_log2_titer=self.emergent_log2_titer[index],
            params=self.params,
        )


def sample_antibodies(
    n: int, rng: np.random.Generator, params: ImmunogenicityParams
) -> AntiCarAntibodies:
    """Sample the antibody course of ``n`` patients (draws in a fixed order)."""
    p = params
    pre = rng.random(n) < p.baseline_positive_prob
    base_titer = p.log2_titer_mean + p.log2_titer_sd * rng.standard_normal(n)
    emergent = rng.random(n) < p.induced_prob
    onset = p.onset_median_days * np.exp(p.onset_sd_log * rng.standard_normal(n))
    transient = rng.random(n) < p.transient_prob
    lo, hi = p.transient_duration_days
    duration = rng.uniform(lo, hi, n)
    induced_titer = p.log2_titer_mean + p.log2_titer_sd * rng.standard_normal(n)
    baseline_log2 = np.where(pre, np.maximum(base_titer - 2.0, 1.0), np.nan)
    emergent_log2 = np.where(
        pre, np.maximum(base_titer - 2.0, 1.0) + p.boost_log2, np.maximum(induced_titer, 1.0)
    )
    onset_day = np.where(emergent, onset, np.inf)
    end_day = np.where(emergent & transient, onset + duration, np.inf)
    return AntiCarAntibodies(
        baseline_log2_titer=baseline_log2,
        onset_day=onset_day,
        end_day=end_day,
        emergent_log2_titer=emergent_log2,
        params=p,
    )
