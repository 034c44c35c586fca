"""Toxicity of lymphodepletion and CAR-T: CRS, ICANS, cytopenias, CLDN18.2 gastric injury.

CRS and ICANS occur with a probability that rises with the peak CAR-T expansion (logistic in
log10 Cmax); their maximum grade comes from an ordinal-probit latent severity; the daily course
climbs one grade a day from onset to the maximum, stays there for a plateau, then falls one grade a
day. Grade >= 3 plateaus are either short (1 day: improves within 24 h) or long (>= 4 days), so a
protocol's "not improved within 72 h" rule always has a clear answer. The daily vital signs and
neurological findings are generated *from* the grade, so the real ASTCT engine reproduces it.

Lymphodepletion cytopenias: ``log v(t) = log v0 + log(nadir fraction) * phi(t)``, with ``phi``
rising linearly from the first lymphodepletion day to the nadir and decaying as
``exp(-k (t - nadir))`` afterwards. A minority, more likely with high expansion, has prolonged
(ICAHT-like) neutropenia and thrombocytopenia that stays at CTCAE grade 4 beyond day 28.
CLDN18.2 on-target/off-tumour gastric mucosal injury depends on dose and expansion.

All parameters: ``params.yaml`` (section ``toxicity``), each with its source or "assumption".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit

from cartrial.virtual.params import ToxicityParams

__all__ = [
    "CONSCIOUSNESS",
    "CRS_HYPOTENSION",
    "CRS_OXYGEN",
    "GASTRIC_TERMS",
    "LAB_TESTS",
    "Cytopenias",
    "Episodes",
    "background_events",
    "crs_vitals",
    "episode_grade",
    "icans_findings",
    "sample_cytopenias",
    "sample_episodes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Hypotension management by CRS grade (ASTCT, Lee 2019): index = grade.
CRS_HYPOTENSION: tuple[str, ...] = (
    "none",
    "none",
    "fluids",
    "one_vasopressor",
    "multiple_vasopressors",
)
#: Oxygen support by CRS grade (ASTCT, Lee 2019): index = grade.
CRS_OXYGEN: tuple[str, ...] = ("none", "none", "low_flow", "high_flow", "positive_pressure")
#: Level of consciousness codes of the ICANS findings (ASTCT, Lee 2019).
CONSCIOUSNESS: tuple[str, ...] = ("alert", "voice", "tactile", "unarousable")
#: CTCAE term of the CLDN18.2 gastric injury by its maximum grade (index = grade).
GASTRIC_TERMS: tuple[str, ...] = ("", "Gastritis", "Gastritis", "Gastric hemorrhage")
#: Lab tests produced (CDISC LBTESTCD) with their unit.
LAB_TESTS: dict[str, str] = {
    "NEUT": "10^9/L",
    "PLAT": "10^9/L",
    "HGB": "g/dL",
    "LYM": "10^9/L",
    "ALT": "U/L",
    "BILI": "umol/L",
}


def episode_grade(
    days: npt.ArrayLike,
    onset: FloatArray,
    max_grade: IntArray,
    plateau_days: IntArray,
) -> IntArray:
    """Daily grade of an episode, shape ``(n, k)``.

    Grade 1 on the onset day, +1 a day up to ``max_grade``, ``plateau_days`` at the maximum, then
    -1 a day down to 0. ``max_grade = 0`` (no episode) gives 0 everywhere.
    """
    t = np.asarray(days, dtype=float)
    t2 = t[None, :] if t.ndim == 1 else t
    g = max_grade[:, None].astype(float)
    u = t2 - onset[:, None]
    rising = u + 1.0
    peak_end = g - 1.0 + plateau_days[:, None]
    falling = g - (u - peak_end + 1.0)
    grade = np.where(u < g - 1.0, rising, np.where(u < peak_end, g, falling))
    grade = np.where((u < 0) | (g == 0), 0.0, np.clip(grade, 0.0, g))
    return grade.astype(np.int64)


@dataclass(frozen=True)
class Episodes:
    """One toxicity episode per patient (``max_grade = 0``: none)."""

    onset_day: FloatArray
    max_grade: IntArray
    plateau_days: IntArray

    def grade(self, days: npt.ArrayLike) -> IntArray:
        """Daily grade, shape ``(n, k)``."""
        return episode_grade(days, self.onset_day, self.max_grade, self.plateau_days)

    @property
    def resolution_day(self) -> FloatArray:
        """First day back at grade 0 (``nan`` without an episode)."""
        end = self.onset_day + 2.0 * self.max_grade - 2.0 + self.plateau_days
        return np.asarray(np.where(self.max_grade > 0, end, np.nan))

    def take(self, index: IntArray) -> Episodes:
        """The patients at ``index``."""
        return Episodes(self.onset_day[index], self.max_grade[index], self.plateau_days[index])


def _ordinal(latent: FloatArray, thresholds: tuple[float, ...]) -> IntArray:
    """1 + number of thresholds below the latent severity."""
    return np.asarray(1 + (latent[:, None] > np.asarray(thresholds)[None, :]).sum(axis=1))


def sample_episodes(
    u_occur: FloatArray,
    z_severity: FloatArray,
    u_plateau: FloatArray,
    onset_day: FloatArray,
    log10_driver: FloatArray,
    intercept: float,
    slope: float,
    severity_slope: float,
    thresholds: tuple[float, ...],
    long_plateau_prob: float,
) -> Episodes:
    """Episodes from fixed random draws (common random numbers across doses).

    ``P(episode) = expit(intercept + slope * log10_driver)``; max grade = ordinal probit of
    ``severity_slope * log10_driver + z``; plateau 1 day, or 4-6 days with ``long_plateau_prob``
    for grade >= 3.
    """
    occurs = u_occur < expit(intercept + slope * log10_driver)
    grade = np.where(occurs, _ordinal(severity_slope * log10_driver + z_severity, thresholds), 0)
    long_ = u_plateau < long_plateau_prob
    plateau = np.where(
        (grade >= 3) & long_,
        4 + np.floor(3 * u_plateau / max(long_plateau_prob, 1e-12)).astype(np.int64),
        np.where(grade >= 3, 1, 1 + (u_plateau > 0.5).astype(np.int64)),
    )
    return Episodes(onset_day=onset_day, max_grade=grade.astype(np.int64), plateau_days=plateau)


def crs_vitals(
    grade: IntArray, days: npt.ArrayLike, tocilizumab_day: FloatArray, rng: np.random.Generator
) -> dict[str, npt.NDArray[np.generic]]:
    """Daily vital signs and supportive care that define each ASTCT CRS grade (Lee 2019).

    Fever >= 38 C on every CRS day except grade >= 2 days after tocilizumab (fever is then not
    required, ASTCT rule 2); hypotension/oxygen from the grade; low-flow up to 6 L/min, high-flow
    > 6 L/min. A grade-3 day is driven by one vasopressor or high-flow oxygen, chosen at random.
    Tocilizumab is given on ``tocilizumab_day``, corticosteroids on every grade >= 3 day.
    Returns arrays of shape ``(n, k)``: ``temperature_c``, ``hypotension`` (code into
    :data:`CRS_HYPOTENSION`), ``oxygen`` (code into :data:`CRS_OXYGEN`), ``oxygen_l_min``,
    ``vasopressin`` (bool), ``tocilizumab`` (given that day), ``steroids``.
    """
    t = np.asarray(days, dtype=float)
    t2 = np.broadcast_to(t[None, :] if t.ndim == 1 else t, grade.shape)
    after_toci = t2 > tocilizumab_day[:, None]
    fever = rng.uniform(38.1, 39.6, grade.shape)
    normal = rng.uniform(36.4, 37.4, grade.shape)
    temperature = np.where((grade >= 1) & ~((grade >= 2) & after_toci), fever, normal)
    by_pressure = rng.random(grade.shape) < 0.5
    code = grade.astype(np.int8)
    hypotension = np.where((grade >= 2) & ~by_pressure, 0, code).astype(np.int8)
    oxygen = np.where((grade >= 2) & by_pressure, 0, code).astype(np.int8)
    low_flow = rng.integers(2, 7, grade.shape)
    high_flow = rng.integers(10, 41, grade.shape)
    flow = np.where(oxygen == 2, low_flow, np.where(oxygen == 3, high_flow, 0)).astype(float)
    return {
        "temperature_c": np.round(temperature, 1),
        "hypotension": hypotension,
        "oxygen": oxygen,
        "oxygen_l_min": flow,
        "vasopressin": (hypotension == 3) & (rng.random(grade.shape) < 0.3),
        "tocilizumab": t2 == tocilizumab_day[:, None],
        "steroids": grade >= 3,
    }


def icans_findings(grade: IntArray, rng: np.random.Generator) -> dict[str, npt.NDArray[np.generic]]:
    """ICE score and level of consciousness that define each ASTCT ICANS grade (Lee 2019).

    ICE 10 (grade 0), 7-9 (1), 3-6 (2), 0-2 awake (3), not performable/unarousable (4, ICE = -1).
    Consciousness (code into :data:`CONSCIOUSNESS`): ``alert`` (grades 0-1), ``voice`` (2),
    ``tactile`` (3), ``unarousable`` (4).
    """
    lo = np.array([10, 7, 3, 0, -1])[grade]
    hi = np.array([10, 9, 6, 2, -1])[grade]
    ice = lo + np.floor(rng.random(grade.shape) * (hi - lo + 1)).astype(np.int64)
    level = np.array([0, 0, 1, 2, 3], dtype=np.int8)[grade]
    return {"ice_score": ice, "consciousness": level}


@dataclass(frozen=True)
class Cytopenias:
    """Lymphodepletion cytopenia and recovery, with prolonged (ICAHT-like) cytopenia.

    Columns of the ``(n, 4)`` arrays: NEUT, PLAT, HGB, LYM.
    """

    baseline: FloatArray
    nadir_fraction: FloatArray
    nadir_day: FloatArray
    recovery_rate: FloatArray
    prolonged: BoolArray
    prolonged_recovery_day: FloatArray
    params: ToxicityParams

    def values(self, days: npt.ArrayLike) -> FloatArray:
        """True counts at ``days``: shape ``(n, k, 4)`` (10^9/L, 10^9/L, g/dL, 10^9/L)."""
        p = self.params
        t = np.asarray(days, dtype=float)
        t2 = np.broadcast_to(
            t[None, :] if t.ndim == 1 else t, (self.baseline.shape[0], t.shape[-1])
        )
        start = float(p.ld_start_day)
        nadir = self.nadir_day[:, None]
        since_nadir = t2 - nadir
        phi = np.where(
            t2 < nadir,
            np.clip((t2 - start) / (nadir - start), 0.0, None),
            np.exp(-self.recovery_rate[:, None] * np.maximum(since_nadir, 0.0)),
        )
        value = self.baseline[:, None, :] * np.exp(
            np.log(self.nadir_fraction)[:, None, :] * phi[:, :, None]
        )
        rows = np.flatnonzero(self.prolonged)
        if rows.size:
            # Prolonged: from the nadir, log-linear climb from the floor to the grade-4 limit
            # (ANC 0.5, platelets 25 x 10^9/L) reached on the recovery day.
            floor = np.array([p.prolonged_anc_1e9_l, p.prolonged_platelets_1e9_l])
            grade4_limit = np.array([0.5, 25.0])
            span = np.maximum(self.prolonged_recovery_day[rows] - self.nadir_day[rows], 1.0)
            frac = np.clip(since_nadir[rows] / span[:, None], 0.0, None)[:, :, None]
            slow = floor * np.exp(np.log(grade4_limit / floor) * frac)
            after = (since_nadir[rows] >= 0)[:, :, None]
            part = value[rows, :, :2]
            value[rows, :, :2] = np.where(after, np.minimum(part, slow), part)
        return np.asarray(value)

    def take(self, index: IntArray) -> Cytopenias:
        """The patients at ``index``."""
        return Cytopenias(
            baseline=self.baseline[index],
            nadir_fraction=self.nadir_fraction[index],
            nadir_day=self.nadir_day[index],
            recovery_rate=self.recovery_rate[index],
            prolonged=self.prolonged[index],
            prolonged_recovery_day=self.prolonged_recovery_day[index],
            params=self.params,
        )


def sample_cytopenias(
    baseline: FloatArray,
    log10_cmax_ratio: FloatArray,
    rng: np.random.Generator,
    params: ToxicityParams,
) -> Cytopenias:
    """Per-patient cytopenia parameters; ``baseline`` is ``(n, 4)`` (NEUT, PLAT, HGB, LYM)."""
    p = params
    n = baseline.shape[0]
    medians = np.array(
        [
            p.anc_nadir_fraction_median,
            p.platelet_nadir_fraction_median,
            p.hemoglobin_nadir_fraction_median,
            p.lymphocyte_nadir_fraction_median,
        ]
    )
    nadir_fraction = np.minimum(
        medians * np.exp(p.nadir_fraction_sd_log * rng.standard_normal((n, 4))), 0.98
    )
    nadir_day = np.asarray(p.nadir_day_mean + rng.uniform(-2.0, 2.0, n), dtype=float)
    recovery = np.maximum(
        p.recovery_rate_median_per_day * np.exp(p.recovery_rate_sd_log * rng.standard_normal(n)),
        p.recovery_rate_min_per_day,
    )
    u = rng.random(n)
    prolonged = u < expit(
        p.prolonged_cytopenia_logit_intercept + p.prolonged_cytopenia_logit_slope * log10_cmax_ratio
    )
    lo, hi = p.prolonged_recovery_days
    return Cytopenias(
        baseline=baseline,
        nadir_fraction=nadir_fraction,
        nadir_day=nadir_day,
        recovery_rate=recovery,
        prolonged=prolonged,
        prolonged_recovery_day=np.asarray(rng.uniform(lo, hi, n), dtype=float),
        params=p,
    )


def background_events(rng: np.random.Generator, n: int, params: ToxicityParams) -> pd.DataFrame:
    """Common AEs outside CRS/ICANS, cytopenias and gastric injury (one row per event).

    Columns: ``patient, term, soc, grade, onset_day, resolution_day, attribution, cause``. Onset is
    uniform over days 1-28 (``window: dlt``) or 1-365 (``window: any``); duration 2-14 days.
    """
    frames = []
    for ae in params.background_aes:
        u = rng.random(n)
        grade = 1 + (rng.random(n)[:, None] > np.cumsum(ae.grade_probs)[None, :-1]).sum(axis=1)
        last = 28 if ae.window == "dlt" else 365
        onset = rng.integers(1, last + 1, n)
        duration = rng.integers(2, 15, n)
        hit = np.flatnonzero(u < ae.prob)
        frames.append(
            pd.DataFrame(
                {
                    "patient": hit,
                    "term": ae.term,
                    "soc": ae.soc,
                    "grade": grade[hit],
                    "onset_day": onset[hit].astype(float),
                    "resolution_day": (onset[hit] + duration[hit]).astype(float),
                    "attribution": ae.attribution,
                    "cause": ae.cause,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["patient", "onset_day"], kind="stable")
