"""Virtual referred patients: baseline characteristics, biomarkers, labs and RECIST tumour burden.

The population is what arrives at screening, before eligibility is applied: some patients fail
screening because their sampled ECOG, CLDN18.2 staining, labs or tumour burden break the protocol's
criteria, exactly as real referrals do. Everything is vectorised over patients (struct of arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.virtual.params import PopulationParams
from cartrial.vocab import INDICATIONS

__all__ = ["Baseline", "Lesions", "sample_baseline"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Lesions:
    """Baseline lesions as padded ``(n_patients, max_lesions)`` arrays.

    Attributes
    ----------
    organ
        Organ code (index into ``organs``), ``-1`` for an empty slot.
    organs
        Organ names, indexed by ``organ``.
    baseline_mm
        Diameter at the baseline scan in whole mm (longest diameter; short axis for nodes).
    is_lymph_node, target, non_target
        Lesion flags; ``target`` follows RECIST 1.1 (measurable, largest first, at most 2 per organ,
        5 in total); every other recorded lesion is ``non_target``.
    """

    organ: IntArray
    organs: tuple[str, ...]
    baseline_mm: FloatArray
    is_lymph_node: BoolArray
    target: BoolArray
    non_target: BoolArray

    @property
    def present(self) -> BoolArray:
        """Recorded lesions (target or non-target)."""
        return self.target | self.non_target

    def take(self, index: IntArray) -> Lesions:
        """The lesions of the patients at ``index``."""
        return Lesions(
            organ=self.organ[index],
            organs=self.organs,
            baseline_mm=self.baseline_mm[index],
            is_lymph_node=self.is_lymph_node[index],
            target=self.target[index],
            non_target=self.non_target[index],
        )


@dataclass(frozen=True)
class Baseline:
    """Baseline characteristics of ``n`` referred patients (one array entry per patient).

    Units: age in years, ``cldn18_pct`` = % tumour cells with 2+/3+ membrane CLDN18.2 staining,
    ``pdl1_pct`` = tumour PD-L1 proportion score (%), ANC/platelets/lymphocytes in 10^9/L,
    haemoglobin in g/dL, creatinine clearance in mL/min, ALT and bilirubin as multiples of ULN.
    ``prior_lines`` counts prior systemic therapy lines. ``other_screen_failure`` marks a referral
    lost at screening for a reason outside the measured criteria (consent withdrawn, manufacturing
    failure).
    """

    indication: IntArray
    age: IntArray
    female: BoolArray
    ecog: IntArray
    cldn18_pct: FloatArray
    pdl1_pct: FloatArray
    anc: FloatArray
    platelets: FloatArray
    hemoglobin: FloatArray
    lymphocytes: FloatArray
    creatinine_clearance: FloatArray
    alt_x_uln: FloatArray
    bilirubin_x_uln: FloatArray
    prior_lines: IntArray
    other_screen_failure: BoolArray
    lesions: Lesions

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.age.shape[0])

    @property
    def measurable_disease(self) -> BoolArray:
        """At least one RECIST-measurable (target) lesion."""
        return np.asarray(self.lesions.target.any(axis=1))

    def take(self, index: IntArray) -> Baseline:
        """The patients at ``index`` (in that order)."""
        return Baseline(
            indication=self.indication[index],
            age=self.age[index],
            female=self.female[index],
            ecog=self.ecog[index],
            cldn18_pct=self.cldn18_pct[index],
            pdl1_pct=self.pdl1_pct[index],
            anc=self.anc[index],
            platelets=self.platelets[index],
            hemoglobin=self.hemoglobin[index],
            lymphocytes=self.lymphocytes[index],
            creatinine_clearance=self.creatinine_clearance[index],
            alt_x_uln=self.alt_x_uln[index],
            bilirubin_x_uln=self.bilirubin_x_uln[index],
            prior_lines=self.prior_lines[index],
            other_screen_failure=self.other_screen_failure[index],
            lesions=self.lesions.take(index),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per patient (indication and sex as strings)."""
        return pd.DataFrame(
            {
                "patient": np.arange(self.n),
                "indication": np.asarray(INDICATIONS, dtype=object)[self.indication],
                "age": self.age,
                "sex": np.where(self.female, "F", "M"),
                "ecog": self.ecog,
                "cldn18_pct": self.cldn18_pct,
                "pdl1_pct": self.pdl1_pct,
                "anc_1e9_l": self.anc,
                "platelets_1e9_l": self.platelets,
                "hemoglobin_g_dl": self.hemoglobin,
                "lymphocytes_1e9_l": self.lymphocytes,
                "creatinine_clearance_ml_min": self.creatinine_clearance,
                "alt_x_uln": self.alt_x_uln,
                "bilirubin_x_uln": self.bilirubin_x_uln,
                "prior_lines": self.prior_lines,
                "measurable_disease": self.measurable_disease,
                "other_screen_failure": self.other_screen_failure,
            }
        )

    def lesions_frame(self) -> pd.DataFrame:
        """The recorded baseline lesions, one row per lesion (long format)."""
        les = self.lesions
        patient, slot = np.nonzero(les.present)
        return pd.DataFrame(
            {
                "patient": patient,
                "lesion": slot,
                "organ": np.asarray(les.organs, dtype=object)[les.organ[patient, slot]],
                "is_lymph_node": les.is_lymph_node[patient, slot],
                "category": np.where(les.target[patient, slot], "target", "non-target"),
                "baseline_mm": les.baseline_mm[patient, slot],
            }
        )


def _lognormal(rng: np.random.Generator, median: float, sd_log: float, size: int) -> FloatArray:
    return np.asarray(median * np.exp(sd_log * rng.standard_normal(size)))


def _categorical(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One category per row of ``probs`` (rows sum to 1) by inverse-CDF sampling."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])[..., None]
    return np.minimum((u > cdf).sum(axis=-1), probs.shape[-1] - 1).astype(np.int64)


def _sample_lesions(rng: np.random.Generator, indication: IntArray, p: PopulationParams) -> Lesions:
    """Lesions by organ with RECIST 1.1 target selection (vectorised)."""
    n, slots = indication.shape[0], p.max_lesions
    organs = p.organs
    organ_probs = np.array(
        [[p.organ_probs[ind].get(o, 0.0) for o in organs] for ind in INDICATIONS]
    )
    n_lesions = 1 + np.asarray(rng.binomial(slots - 1, p.extra_lesion_prob, size=n))
    exists = np.arange(slots)[None, :] < n_lesions[:, None]
    organ = _categorical(rng, np.repeat(organ_probs[indication][:, None, :], slots, axis=1))
    median = np.array([p.lesion_median_mm[o] for o in organs])[organ]
    diameter = np.rint(median * np.exp(p.lesion_sd_log * rng.standard_normal((n, slots))))
    node_code = organs.index("lymph_node") if "lymph_node" in organs else -1
    is_node = organ == node_code
    non_measurable = np.isin(
        organ, [organs.index(o) for o in p.non_measurable_organs if o in organs]
    )
    # Normal-sized nodes are not disease: drop them.
    exists &= ~(is_node & (diameter < p.lymph_node_pathological_mm))
    measurable = (
        exists
        & ~non_measurable
        & np.where(
            is_node, diameter >= p.lymph_node_measurable_mm, diameter >= p.non_nodal_measurable_mm
        )
    )
    # Largest measurable lesions first; at most `max_targets_per_organ` per organ and
    # `max_targets_total` in all.
    key = np.where(measurable, -diameter - 1e6, np.where(exists, -diameter, np.inf))
    order = np.argsort(key, axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    sorted_organ = organ[rows, order]
    sorted_measurable = measurable[rows, order]
    rank_in_organ = np.zeros((n, slots), dtype=np.int64)
    for code in range(len(organs)):
        same = sorted_organ == code
        rank_in_organ += np.cumsum(same, axis=1) * same
    eligible = sorted_measurable & (rank_in_organ <= p.max_targets_per_organ)
    sorted_target = eligible & (np.cumsum(eligible, axis=1) <= p.max_targets_total)
    target = np.zeros((n, slots), dtype=bool)
    target[rows, order] = sorted_target
    return Lesions(
        organ=np.where(exists, organ, -1),
        organs=organs,
        baseline_mm=np.where(exists, diameter, 0.0),
        is_lymph_node=is_node & exists,
        target=target,
        non_target=exists & ~target,
    )


def sample_baseline(n: int, rng: np.random.Generator, params: PopulationParams) -> Baseline:
    """Sample ``n`` referred patients.

    Parameters
    ----------
    n
        Number of patients.
    rng
        Generator; draws happen in a fixed order, so the same seed gives the same patients.
    params
        Population parameters (``VirtualParams.population``).
    """
    p = params
    ind_probs = np.array([p.indication_probs[i] for i in INDICATIONS])
    indication = _categorical(rng, np.broadcast_to(ind_probs, (n, len(INDICATIONS))))
    age = np.clip(
        np.rint(p.age_mean_years + p.age_sd_years * rng.standard_normal(n)),
        p.age_min_years,
        p.age_max_years,
    ).astype(np.int64)
    female = rng.random(n) < p.female_prob
    ecog = _categorical(rng, np.broadcast_to(np.array(p.ecog_probs), (n, 3)))
    a = np.array([p.cldn18_beta_a[i] for i in INDICATIONS])[indication]
    b = np.array([p.cldn18_beta_b[i] for i in INDICATIONS])[indication]
    cldn18 = np.rint(100.0 * rng.beta(a, b))
    pdl1 = np.rint(100.0 * rng.beta(p.pdl1_beta_a, p.pdl1_beta_b, size=n))
    anc = np.round(_lognormal(rng, p.anc_median_1e9_l, p.anc_sd_log, n), 2)
    platelets = np.rint(_lognormal(rng, p.platelets_median_1e9_l, p.platelets_sd_log, n))
    hb = p.hemoglobin_mean_g_dl + p.hemoglobin_sd_g_dl * rng.standard_normal(n)
    hemoglobin = np.asarray(np.round(np.clip(hb, 6.0, 17.0), 1), dtype=float)
    lymphocytes = np.round(_lognormal(rng, p.lymphocytes_median_1e9_l, p.lymphocytes_sd_log, n), 2)
    crcl = np.rint(
        np.clip(
            p.creatinine_clearance_mean_ml_min
            + p.creatinine_clearance_sd_ml_min * rng.standard_normal(n),
            15.0,
            160.0,
        )
    )
    alt = np.round(_lognormal(rng, p.alt_median_x_uln, p.alt_sd_log, n), 2)
    bili = np.round(_lognormal(rng, p.bilirubin_median_x_uln, p.bilirubin_sd_log, n), 2)
    other = rng.random(n) < p.other_screen_failure_prob
    prior_lines = 1 + rng.poisson(p.prior_lines_extra_mean, n).astype(np.int64)
    lesions = _sample_lesions(rng, indication, p)
    return Baseline(
        indication=indication,
        age=age,
        female=female,
        ecog=ecog,
        cldn18_pct=cldn18,
        pdl1_pct=pdl1,
        anc=anc,
        platelets=platelets,
        hemoglobin=hemoglobin,
        lymphocytes=lymphocytes,
        creatinine_clearance=crcl,
        alt_x_uln=alt,
        bilirubin_x_uln=bili,
        prior_lines=prior_lines,
        other_screen_failure=other,
        lesions=lesions,
    )
