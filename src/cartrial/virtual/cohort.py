"""Virtual patients: a population sampled once, then treated at any dose with common random numbers.

``sample_population(n, seed)`` draws the referred patients' baseline;
``population.treat(dose_cells)`` draws every dose-independent random number in a fixed order and
lets the dose act only through deterministic model equations, so the same patient treated at two
doses differs only by the dose's effect (common random numbers, the usual variance reduction for
comparing designs). ``simulate_patients(n, dose_cells, seed)`` does both. The resulting
:class:`VirtualCohort` holds the TRUE trajectories and truth (true DLT, progression, death); its
``observe_*`` methods return what the site would measure on given days, with seeded measurement
noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.virtual.immunogenicity import AntiCarAntibodies, sample_antibodies
from cartrial.virtual.kinetics import KineticsParameters, individual_kinetics, observe_log_normal
from cartrial.virtual.params import VirtualParams, load_params
from cartrial.virtual.phenotype import Phenotype, sample_phenotype
from cartrial.virtual.population import Baseline, sample_baseline
from cartrial.virtual.survival import Survival, sample_survival
from cartrial.virtual.toxicity import (
    GASTRIC_TERMS,
    LAB_TESTS,
    Cytopenias,
    Episodes,
    background_events,
    crs_vitals,
    icans_findings,
    sample_cytopenias,
    sample_episodes,
)
from cartrial.virtual.tumour import (
    TumourDynamics,
    event_day,
    nadir_day,
    progression_day,
    regression_rate,
    relative_size,
)

__all__ = [
    "GastricInjury",
    "VirtualCohort",
    "VirtualPopulation",
    "sample_population",
    "simulate_patients",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Seed = int | np.random.SeedSequence

#: Horizon (days after infusion) of every simulated event time.
HORIZON_DAYS = 3650.0
_NOISE = {
    "kinetics": 1,
    "labs": 2,
    "crs": 3,
    "icans": 4,
    "tumour": 5,
    "ada": 6,
    "phenotype": 7,
    "visits": 8,
}


def _seed_sequence(seed: Seed) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def _child(seed: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """A generator for a fixed purpose: same seed and key, same stream."""
    ss = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *key))
    return np.random.Generator(np.random.PCG64(ss))


@dataclass(frozen=True)
class GastricInjury:
    """CLDN18.2 on-target/off-tumour gastric mucosal injury: one episode per patient or none.

    The grade stays constant from ``onset_day`` to the day before ``resolution_day``; ``grade = 0``
    means none. ``term`` is the CTCAE term by grade (``GASTRIC_TERMS``).
    """

    onset_day: FloatArray
    grade: IntArray
    resolution_day: FloatArray

    def daily_grade(self, days: npt.ArrayLike) -> IntArray:
        """Daily grade, shape ``(n, k)``."""
        t = np.asarray(days, dtype=float)
        t2 = t[None, :] if t.ndim == 1 else t
        on = (t2 >= self.onset_day[:, None]) & (t2 < self.resolution_day[:, None])
        return np.asarray(np.where(on, self.grade[:, None], 0), dtype=np.int64)


@dataclass(frozen=True)
class VirtualPopulation:
    """Referred patients before treatment: baseline only, plus the seed of their future."""

    baseline: Baseline
    seed: np.random.SeedSequence
    params: VirtualParams

    @property
    def n(self) -> int:
        """Number of patients."""
        return self.baseline.n

    def patient(self, index: int) -> VirtualPopulation:
        """Patient ``index`` alone, with a seed of its own.

        The patient's treatment outcome then depends only on the patient and the dose, never on
        who else is treated (what a trial that treats patients one by one needs).
        """
        if not 0 <= index < self.n:
            raise IndexError(f"patient {index} is outside 0..{self.n - 1}")
        key = (*self.seed.spawn_key, 3, index)
        seed = np.random.SeedSequence(self.seed.entropy, spawn_key=key)
        return VirtualPopulation(self.baseline.take(np.array([index])), seed, self.params)

    def treat(self, dose_cells: float | Sequence[float] | FloatArray) -> VirtualCohort:
        """Treat every patient with ``dose_cells`` total CAR+ T cells (scalar or one per patient).

        Raises
        ------
        ValueError
            If a dose is not positive or the number of doses differs from the number of patients.
        """
        n = self.n
        dose = np.broadcast_to(np.asarray(dose_cells, dtype=float), (n,)).copy()
        if np.any(~np.isfinite(dose)) or np.any(dose <= 0):
            raise ValueError("dose_cells must be positive and finite")
        prm = self.params
        b = self.baseline
        rng = _child(self.seed, 1)
        ada = sample_antibodies(n, rng, prm.immunogenicity)
        kin = individual_kinetics(
            dose, b.pdl1_pct, rng.standard_normal((n, 6)), ada.onset_day, prm.kinetics
        )
        log10_cmax = np.log10(kin.cmax / prm.kinetics.cmax_copies_ug)
        log10_dose = np.log10(dose / prm.kinetics.reference_dose_cells)
        # Tumour.
        tp = prm.tumour
        les = b.lesions
        eta_g, eta_d = rng.standard_normal(n), rng.standard_normal(n)
        eta_lesion = rng.standard_normal(les.organ.shape)
        e_new, e_nontarget = rng.standard_exponential(n), rng.standard_exponential(n)
        d = regression_rate(kin.auc(28.0), b.cldn18_pct, b.pdl1_pct, eta_d, tp)
        g = tp.growth_per_day * tp.growth_factor(b.indication) * np.exp(tp.growth_sd_log * eta_g)
        sld0 = (les.baseline_mm * les.target).sum(axis=1) * np.exp(
            -g * prm.population.baseline_scan_day
        )
        new_day = event_day(e_new, tp.new_lesion_rate_per_day, d, g, HORIZON_DAYS)
        nt_rate = tp.non_target_progression_rate_per_day
        nt_day = event_day(e_nontarget, nt_rate, d, g, HORIZON_DAYS)
        nt_day = np.where(les.non_target.any(axis=1), nt_day, np.inf)
        target_pd = progression_day(sld0, d, g, HORIZON_DAYS)
        tumour = TumourDynamics(
            d=d,
            g=g,
            lesion_growth=g[:, None] * np.exp(tp.lesion_growth_sd_log * eta_lesion),
            baseline_mm=les.baseline_mm,
            is_lymph_node=les.is_lymph_node,
            present=les.present,
            target=les.target,
            baseline_scan_day=prm.population.baseline_scan_day,
            new_lesion_day=new_day,
            non_target_progression_day=nt_day,
            progression_day=np.minimum(np.minimum(target_pd, new_day), nt_day),
            params=tp,
        )
        # Toxicity.
        tx = prm.toxicity
        crs_onset = np.clip(
            np.rint(
                tx.crs_onset_median_days * np.exp(tx.crs_onset_sd_log * rng.standard_normal(n))
            ),
            1,
            tx.crs_onset_max_day,
        )
        u_crs, z_crs, p_crs = rng.random(n), rng.standard_normal(n), rng.random(n)
        crs = sample_episodes(
            u_crs,
            z_crs,
            p_crs,
            crs_onset,
            log10_cmax,
            tx.crs_logit_intercept,
            tx.crs_logit_slope_per_log10_cmax,
            tx.crs_severity_slope_per_log10_cmax,
            tx.crs_grade_thresholds,
            tx.long_plateau_prob,
        )
        lo, hi = tx.icans_delay_days
        icans_onset = crs_onset + rng.integers(lo, hi + 1, n)
        u_icans, z_icans, p_icans = rng.random(n), rng.standard_normal(n), rng.random(n)
        icans = sample_episodes(
            np.where(crs.max_grade > 0, u_icans, 2.0),
            z_icans,
            p_icans,
            icans_onset.astype(float),
            log10_cmax,
            tx.icans_logit_intercept,
            tx.icans_logit_slope_per_log10_cmax,
            tx.icans_severity_slope_per_log10_cmax,
            tx.icans_grade_thresholds,
            tx.long_plateau_prob,
        )
        u_g, z_g = rng.random(n), rng.standard_normal(n)
        g_on = rng.integers(tx.gastric_onset_days[0], tx.gastric_onset_days[1] + 1, n)
        g_dur = rng.integers(tx.gastric_duration_days[0], tx.gastric_duration_days[1] + 1, n)
        g_sev = rng.integers(
            tx.gastric_severe_duration_days[0], tx.gastric_severe_duration_days[1] + 1, n
        )
        g_occurs = u_g < 1.0 / (
            1.0
            + np.exp(
                -(tx.gastric_logit_intercept + tx.gastric_logit_slope_per_log10_dose * log10_dose)
            )
        )
        g_grade = np.where(
            g_occurs,
            1
            + (
                (tx.gastric_severity_slope_per_log10_cmax * log10_cmax + z_g)[:, None]
                > np.asarray(tx.gastric_grade_thresholds)[None, :]
            ).sum(axis=1),
            0,
        )
        gastric = GastricInjury(
            onset_day=g_on.astype(float),
            grade=g_grade.astype(np.int64),
            resolution_day=(g_on + np.where(g_grade >= 3, g_sev, g_dur)).astype(float),
        )
        counts = np.stack([b.anc, b.platelets, b.hemoglobin, b.lymphocytes], axis=1)
        cyto = sample_cytopenias(counts, log10_cmax, rng, tx)
        background = background_events(rng, n, tx)
        phenotype = sample_phenotype(b.pdl1_pct, rng, prm.phenotype)
        survival = sample_survival(b.indication, b.ecog, tumour.progression_day, rng, prm.survival)
        return VirtualCohort(
            baseline=b,
            dose_cells=dose,
            kinetics=kin,
            tumour=tumour,
            crs=crs,
            icans=icans,
            gastric=gastric,
            cytopenias=cyto,
            background_events=background,
            antibodies=ada,
            phenotype=phenotype,
            survival=survival,
            seed=self.seed,
            params=prm,
        )


@dataclass(frozen=True)
class VirtualCohort:
    """Treated virtual patients: true trajectories, truth, and what a site would measure.

    All ``observe_*`` methods take ``days`` (days from infusion) as a ``(k,)`` array shared by all
    patients or an ``(n, k)`` array per patient; their noise is seeded, so the same call returns the
    same values.
    """

    baseline: Baseline
    dose_cells: FloatArray
    kinetics: KineticsParameters
    tumour: TumourDynamics
    crs: Episodes
    icans: Episodes
    gastric: GastricInjury
    cytopenias: Cytopenias
    background_events: pd.DataFrame
    antibodies: AntiCarAntibodies
    phenotype: Phenotype
    survival: Survival
    seed: np.random.SeedSequence
    params: VirtualParams

    @property
    def n(self) -> int:
        """Number of patients."""
        return self.baseline.n

    def _noise(self, what: str) -> np.random.Generator:
        return _child(self.seed, 2, _NOISE[what])

    # ---- truth -----------------------------------------------------------------------------
    def tocilizumab_day(self) -> FloatArray:
        """Day tocilizumab is given: the first CRS day at grade >= 2 (``inf`` = never)."""
        return np.asarray(np.where(self.crs.max_grade >= 2, self.crs.onset_day + 1.0, np.inf))

    def true_dlt_day(self, window_days: int) -> FloatArray:
        """Day of the first true dose-limiting toxicity (``inf`` = none) within the window.

        By construction of the models: CRS or ICANS grade 4, or grade 3 lasting >= 4 days at grade 3
        (onset + 2 = the day grade 3 is reached); gastric injury grade >= 3; prolonged grade 4
        neutropenia/thrombocytopenia (still grade 4 after day ``window_days``, counted on the day
        after the window). An event counts only while the patient is alive and on study.
        """
        candidates = []
        for ep in (self.crs, self.icans):
            severe = (ep.max_grade == 4) | ((ep.max_grade == 3) & (ep.plateau_days >= 4))
            candidates.append(np.where(severe, ep.onset_day + ep.max_grade - 1.0, np.inf))
        candidates.append(np.where(self.gastric.grade >= 3, self.gastric.onset_day, np.inf))
        alive_after_window = (
            np.minimum(self.survival.death_day, self.survival.dropout_day) > window_days + 7
        )
        candidates.append(
            np.where(self.cytopenias.prolonged & alive_after_window, window_days + 1.0, np.inf)
        )
        day = np.min(np.stack(candidates), axis=0)
        on_study = day < np.minimum(self.survival.death_day, self.survival.dropout_day)
        return np.asarray(np.where(on_study & (day <= window_days + 1), day, np.inf))

    def true_best_response(self, sd_min_days: int) -> tuple[FloatArray, npt.NDArray[np.str_]]:
        """True best % change of the sum of diameters and the RECIST category it implies.

        From the continuous patient-level model (lesion heterogeneity and measurement error left
        out): the nadir ``f(t*)`` relative to the baseline scan. ``PR`` when the nadir is at least
        30 % below baseline and comes before the true progression; ``PD`` when progression comes
        before ``sd_min_days``; ``SD`` otherwise; ``NE`` without target disease. The model's sum
        never reaches 0, so ``CR`` is not a true category here.
        """
        tum = self.tumour
        t_star = nadir_day(tum.d, tum.g)
        scan = float(tum.baseline_scan_day)
        ratio = relative_size(t_star, tum.d, tum.g) / relative_size(scan, tum.d, tum.g)
        best_pct = 100.0 * (ratio - 1.0)
        partial = (best_pct <= -30.0) & (t_star < tum.progression_day)
        category = np.where(partial, "PR", np.where(tum.progression_day < sd_min_days, "PD", "SD"))
        has_target = tum.target.any(axis=1)
        return (
            np.where(has_target, best_pct, np.nan),
            np.where(has_target, category, "NE").astype(np.str_),
        )

    def truth(self, window_days: int, sd_min_days: int) -> pd.DataFrame:
        """One row per patient with the true exposure, toxicity, tumour and survival outcomes.

        ``window_days`` (the DLT window) and ``sd_min_days`` (RECIST's minimum time to stable
        disease) are the protocol's (``dlt.window_days``, ``recist.sd_min_days``).
        """
        kin = self.kinetics
        dlt_day = self.true_dlt_day(window_days)
        best_pct, best_response = self.true_best_response(sd_min_days)
        return pd.DataFrame(
            {
                "patient": np.arange(self.n),
                "dose_cells": self.dose_cells,
                "cmax_copies_ug": kin.cmax,
                "tmax_days": kin.tmax,
                "auc0_28": kin.auc(28.0),
                "crs_max_grade": self.crs.max_grade,
                "icans_max_grade": self.icans.max_grade,
                "gastric_max_grade": self.gastric.grade,
                "prolonged_cytopenia": self.cytopenias.prolonged,
                "true_dlt": np.isfinite(dlt_day),
                "true_dlt_day": dlt_day,
                "regression_per_day": self.tumour.d,
                "growth_per_day": self.tumour.g,
                "new_lesion_day": self.tumour.new_lesion_day,
                "progression_day": self.tumour.progression_day,
                "true_best_pct_change": best_pct,
                "true_best_response": best_response,
                "death_day": self.survival.death_day,
                "dropout_day": self.survival.dropout_day,
                "subsequent_therapy_day": self.survival.subsequent_therapy_day,
                "ada_treatment_emergent": self.antibodies.treatment_emergent,
            }
        )

    # ---- observations ----------------------------------------------------------------------
    def observe_kinetics(
        self, days: npt.ArrayLike
    ) -> tuple[FloatArray, BoolArray, FloatArray, BoolArray]:
        """qPCR (copies/ug gDNA) and flow (CAR+ cells/uL) results with their below-LLOQ flags.

        Returns ``(copies, copies_blq, cells, cells_blq)``, each ``(n, k)``.
        """
        kp = self.params.kinetics
        rng = self._noise("kinetics")
        level = self.kinetics.level(days)
        copies, copies_blq = observe_log_normal(level, rng, kp.residual_sd_log, kp.lloq_copies_ug)
        cells, cells_blq = observe_log_normal(
            level * kp.flow_cells_ul_per_copy, rng, kp.flow_residual_sd_log, kp.lloq_flow_cells_ul
        )
        return copies, copies_blq, cells, cells_blq

    def observe_labs(self, days: npt.ArrayLike) -> dict[str, FloatArray]:
        """Lab results by CDISC test code (``LAB_TESTS`` gives units), each ``(n, k)``.

        Blood counts follow the cytopenia model (lymphocytes include circulating CAR+ cells); ALT
        and bilirubin stay at their baseline multiple of the ULN (``lab_reference_ranges``).
        """
        tx = self.params.toxicity
        rng = self._noise("labs")
        counts = self.cytopenias.values(days)
        car_cells = self.kinetics.level(days) * self.params.kinetics.flow_cells_ul_per_copy / 1000.0
        counts[..., 3] = counts[..., 3] + car_cells
        noise = np.exp(
            tx.lab_noise_sd_log * rng.standard_normal((*counts.shape[:2], len(LAB_TESTS)))
        )
        uln = {test: hi for test, (_, hi) in tx.lab_reference_ranges.items()}
        b = self.baseline
        values = {
            "NEUT": np.round(counts[..., 0] * noise[..., 0], 2),
            "PLAT": np.rint(counts[..., 1] * noise[..., 1]),
            "HGB": np.round(counts[..., 2] * noise[..., 2], 1),
            "LYM": np.round(counts[..., 3] * noise[..., 3], 2),
            "ALT": np.round(b.alt_x_uln[:, None] * uln["ALT"] * noise[..., 4]),
            "BILI": np.round(b.bilirubin_x_uln[:, None] * uln["BILI"] * noise[..., 5], 1),
        }
        return {k: np.asarray(v, dtype=float) for k, v in values.items()}

    def observe_crs(self, days: npt.ArrayLike) -> dict[str, npt.NDArray[np.generic]]:
        """Daily CRS observations (true grade plus the vitals that define it), each ``(n, k)``."""
        grade = self.crs.grade(days)
        out = crs_vitals(grade, days, self.tocilizumab_day(), self._noise("crs"))
        out["grade"] = grade
        return out

    def observe_icans(self, days: npt.ArrayLike) -> dict[str, npt.NDArray[np.generic]]:
        """Daily ICANS observations (true grade, ICE score, consciousness), each ``(n, k)``."""
        grade = self.icans.grade(days)
        out = icans_findings(grade, self._noise("icans"))
        out["grade"] = grade
        return out

    def observe_tumour(self, days: npt.ArrayLike) -> tuple[FloatArray, BoolArray, BoolArray]:
        """A scan: ``(diameters_mm (n,k,L), new_lesion (n,k), non_target_progression (n,k))``."""
        t = np.asarray(days, dtype=float)
        t2 = t[None, :] if t.ndim == 1 else t
        diam = self.tumour.measured_diameters(days, self._noise("tumour"))
        new = t2 >= self.tumour.new_lesion_day[:, None]
        nt = t2 >= self.tumour.non_target_progression_day[:, None]
        shape = diam.shape[:2]
        return diam, np.broadcast_to(new, shape), np.broadcast_to(nt, shape)

    def observe_antibodies(self, days: npt.ArrayLike) -> tuple[BoolArray, BoolArray, FloatArray]:
        """Anti-CAR antibody assay ``(screen_positive, confirmed, titer)``, each ``(n, k)``."""
        return self.antibodies.assay(days, self._noise("ada"))

    def observe_phenotype(self, days: npt.ArrayLike) -> FloatArray:
        """Marker values ``(n, k, n_markers)`` in the order of ``phenotype.markers``."""
        share = self.kinetics.memory_share(days)
        return self.phenotype.values(share, self._noise("phenotype"))

    def missed_visits(self, n_visits: int) -> BoolArray:
        """Which of ``n_visits`` scheduled visits each patient misses, ``(n, n_visits)``."""
        prob = self.params.survival.missed_visit_prob
        return np.asarray(self._noise("visits").random((self.n, n_visits)) < prob)

    def adverse_events(self) -> pd.DataFrame:
        """Clinical AE episodes (CRS, ICANS, gastric injury, background), one row each.

        Columns: ``patient, term, soc, grade (maximum), onset_day, resolution_day, attribution,
        cause``. Lab-defined AEs (cytopenias) are left to the site, which grades the lab values.
        """
        rows = []
        for term, soc, ep in (
            ("Cytokine release syndrome", "Immune system disorders", self.crs),
            (
                "Immune effector cell-associated neurotoxicity syndrome",
                "Nervous system disorders",
                self.icans,
            ),
        ):
            hit = np.flatnonzero(ep.max_grade > 0)
            rows.append(
                pd.DataFrame(
                    {
                        "patient": hit,
                        "term": term,
                        "soc": soc,
                        "grade": ep.max_grade[hit],
                        "onset_day": ep.onset_day[hit],
                        "resolution_day": ep.resolution_day[hit],
                        "attribution": "probable",
                        "cause": "",
                    }
                )
            )
        gi = self.gastric
        hit = np.flatnonzero(gi.grade > 0)
        rows.append(
            pd.DataFrame(
                {
                    "patient": hit,
                    "term": np.asarray(GASTRIC_TERMS, dtype=object)[gi.grade[hit]],
                    "soc": "Gastrointestinal disorders",
                    "grade": gi.grade[hit],
                    "onset_day": gi.onset_day[hit],
                    "resolution_day": gi.resolution_day[hit],
                    "attribution": "probable",
                    "cause": "",
                }
            )
        )
        rows.append(self.background_events)
        out = pd.concat(rows, ignore_index=True)
        return out.sort_values(["patient", "onset_day"], kind="stable").reset_index(drop=True)


def sample_population(n: int, seed: Seed, params: VirtualParams | None = None) -> VirtualPopulation:
    """Sample ``n`` referred patients (before screening).

    Parameters
    ----------
    n
        Number of patients (>= 1).
    seed
        An integer or a ``numpy.random.SeedSequence``; equal seeds give equal patients.
    params
        Model parameters; ``None`` loads the packaged ``params.yaml``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    prm = params if params is not None else load_params()
    ss = _seed_sequence(seed)
    baseline = sample_baseline(n, _child(ss, 0), prm.population)
    return VirtualPopulation(baseline=baseline, seed=ss, params=prm)


def simulate_patients(
    n: int,
    dose_cells: float | Sequence[float] | FloatArray,
    seed: Seed,
    params: VirtualParams | None = None,
) -> VirtualCohort:
    """Sample ``n`` patients and treat them at ``dose_cells`` (see :class:`VirtualCohort`).

    Examples
    --------
    >>> cohort = simulate_patients(100, 2.5e8, seed=1)
    >>> cohort.truth(window_days=28, sd_min_days=42).shape[0]
    100
    """
    return sample_population(n, seed, params).treat(dose_cells)
