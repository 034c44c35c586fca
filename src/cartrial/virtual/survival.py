"""Death, drop-out, subsequent therapy and missed visits.

Death follows a piecewise-constant hazard that steps up at the (true, continuous-time) progression
day: ``h = ln 2 / median_before`` before progression and ``ln 2 / median_after`` after it, both
times ``ecog_hazard_ratio ** ECOG`` (assumption; medians by indication in ``params.yaml``). The
death day is drawn by inverting the cumulative hazard of one ``Exp(1)`` draw, so it is exact, not
simulated on a grid. Drop-out (withdrawal or loss to follow-up) is exponential; subsequent
anticancer therapy may start after progression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.virtual.params import SurvivalParams
from cartrial.vocab import INDICATIONS

__all__ = ["Survival", "death_day", "sample_survival"]

FloatArray = npt.NDArray[np.float64]


def death_day(
    exp_draw: FloatArray,
    hazard_before: FloatArray,
    hazard_after: FloatArray,
    progression_day: FloatArray,
) -> FloatArray:
    """Invert ``H(t) = h1 min(t, tp) + h2 max(t - tp, 0)`` at ``exp_draw`` (days from infusion)."""
    before = exp_draw / hazard_before
    tp = np.where(np.isfinite(progression_day), progression_day, np.inf)
    after = tp + (exp_draw - hazard_before * np.where(np.isfinite(tp), tp, 0.0)) / hazard_after
    return np.asarray(np.where(before <= tp, before, after))


@dataclass(frozen=True)
class Survival:
    """Days from infusion of death, drop-out and subsequent therapy (``inf`` = never)."""

    death_day: FloatArray
    dropout_day: FloatArray
    subsequent_therapy_day: FloatArray

    def take(self, index: npt.NDArray[np.int64]) -> Survival:
        """The patients at ``index``."""
        return Survival(
            self.death_day[index], self.dropout_day[index], self.subsequent_therapy_day[index]
        )


def sample_survival(
    indication: npt.NDArray[np.int64],
    ecog: npt.NDArray[np.int64],
    progression_day: FloatArray,
    rng: np.random.Generator,
    params: SurvivalParams,
) -> Survival:
    """Sample death, drop-out and subsequent-therapy days given the true progression day."""
    p = params
    n = indication.shape[0]
    hr = np.power(p.ecog_hazard_ratio, ecog.astype(float))
    before = np.log(2.0) / np.array(
        [p.death_median_days_before_progression[i] for i in INDICATIONS]
    )
    after = np.log(2.0) / np.array([p.death_median_days_after_progression[i] for i in INDICATIONS])
    e_death = np.asarray(rng.standard_exponential(n), dtype=float)
    e_drop = np.asarray(rng.standard_exponential(n), dtype=float)
    u_therapy = rng.random(n)
    lo, hi = p.subsequent_therapy_delay_days
    delay = rng.uniform(lo, hi, n)
    death = death_day(e_death, before[indication] * hr, after[indication] * hr, progression_day)
    rate = p.dropout_rate_per_day
    dropout = e_drop / rate if rate > 0 else np.full(n, np.inf)
    therapy = np.where(
        (u_therapy < p.subsequent_therapy_prob) & np.isfinite(progression_day),
        progression_day + delay,
        np.inf,
    )
    return Survival(
        death_day=death,
        dropout_day=np.asarray(dropout, dtype=float),
        subsequent_therapy_day=np.where(therapy < death, therapy, np.inf),
    )
