"""The virtual-patient model parameters: one YAML file, validated by frozen pydantic models.

Every section carries a ``sources`` mapping that names, for each parameter, its origin (a published
table or "assumption"); a section that leaves a parameter without a source is rejected, so no number
enters the model unexplained. The packaged defaults live in ``cartrial/virtual/params.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cartrial.errors import InputFileError, ProtocolError
from cartrial.safeyaml import YamlRefused, read_yaml
from cartrial.vocab import INDICATIONS, RELATED_ATTRIBUTIONS, Attribution, Cause, Indication

__all__ = [
    "BackgroundAE",
    "ImmunogenicityParams",
    "KineticsParams",
    "PhenotypeParams",
    "PopulationParams",
    "SurvivalParams",
    "ToxicityParams",
    "TumourParams",
    "VirtualParams",
    "default_params_path",
    "load_params",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


def _check_sums_to_one(probabilities: Iterable[float], name: str) -> None:
    """Raise ``ValueError`` (a pydantic validation error) unless ``probabilities`` sum to 1."""
    if abs(sum(probabilities) - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1")


class _Section(BaseModel):
    """A parameter section: frozen, no unknown keys, a source for every parameter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[str, str]

    @model_validator(mode="after")
    def _every_parameter_has_a_source(self) -> _Section:
        names = set(type(self).model_fields) - {"sources"}
        missing = sorted(names - set(self.sources))
        unknown = sorted(set(self.sources) - names)
        if missing:
            raise ValueError(f"parameters without a source: {', '.join(missing)}")
        if unknown:
            raise ValueError(f"sources for unknown parameters: {', '.join(unknown)}")
        empty = sorted(k for k, v in self.sources.items() if not v.strip())
        if empty:
            raise ValueError(f"empty source for: {', '.join(empty)}")
        return self


class PopulationParams(_Section):
    """Baseline characteristics and tumour burden of the referred (pre-screening) population."""

    indication_probs: dict[Indication, Probability]
    age_mean_years: Positive
    age_sd_years: Positive
    age_min_years: int
    age_max_years: int
    female_prob: Probability
    ecog_probs: tuple[Probability, Probability, Probability]
    cldn18_beta_a: dict[Indication, Positive]
    cldn18_beta_b: dict[Indication, Positive]
    pdl1_beta_a: Positive
    pdl1_beta_b: Positive
    anc_median_1e9_l: Positive
    anc_sd_log: NonNegative
    platelets_median_1e9_l: Positive
    platelets_sd_log: NonNegative
    hemoglobin_mean_g_dl: Positive
    hemoglobin_sd_g_dl: NonNegative
    lymphocytes_median_1e9_l: Positive
    lymphocytes_sd_log: NonNegative
    creatinine_clearance_mean_ml_min: Positive
    creatinine_clearance_sd_ml_min: NonNegative
    alt_median_x_uln: Positive
    alt_sd_log: NonNegative
    bilirubin_median_x_uln: Positive
    bilirubin_sd_log: NonNegative
    other_screen_failure_prob: Probability
    prior_lines_extra_mean: NonNegative
    max_lesions: Annotated[int, Field(ge=1, le=20)]
    extra_lesion_prob: Probability
    organ_probs: dict[Indication, dict[str, Probability]]
    lesion_median_mm: dict[str, Positive]
    lesion_sd_log: NonNegative
    non_measurable_organs: tuple[str, ...]
    lymph_node_measurable_mm: Positive
    lymph_node_pathological_mm: Positive
    non_nodal_measurable_mm: Positive
    max_targets_total: Annotated[int, Field(ge=1)]
    max_targets_per_organ: Annotated[int, Field(ge=1)]
    baseline_scan_day: Annotated[int, Field(le=0)]

    @model_validator(mode="after")
    def _consistent(self) -> PopulationParams:
        if set(self.indication_probs) != set(INDICATIONS):
            raise ValueError(f"indication_probs must name exactly {INDICATIONS}")
        _check_sums_to_one(self.indication_probs.values(), "indication_probs")
        _check_sums_to_one(self.ecog_probs, "ecog_probs")
        for indication in INDICATIONS:
            probs = self.organ_probs.get(indication)
            if probs is None:
                raise ValueError(f"organ_probs has no entry for {indication}")
            _check_sums_to_one(probs.values(), f"organ_probs.{indication}")
            unsized = sorted(set(probs) - set(self.lesion_median_mm))
            if unsized:
                raise ValueError(f"lesion_median_mm has no size for organs {unsized}")
        if self.age_min_years >= self.age_max_years:
            raise ValueError("age_min_years must be below age_max_years")
        return self

    @property
    def organs(self) -> tuple[str, ...]:
        """Every organ any indication can involve, in a fixed order (the organ codes)."""
        return tuple(sorted({o for probs in self.organ_probs.values() for o in probs}))


class KineticsParams(_Section):
    """Stein 2019 multiphasic CAR-T cellular kinetics (typical values and log-normal IIV)."""

    reference_dose_cells: Positive
    cmax_copies_ug: Positive
    tmax_days: Positive
    fold_expansion: Annotated[float, Field(gt=1.0)]
    alpha_per_day: Positive
    fraction_memory: Annotated[float, Field(gt=0.0, lt=1.0)]
    beta_per_day: Positive
    omega2_cmax: NonNegative
    omega2_tmax: NonNegative
    omega2_fold_expansion: NonNegative
    omega2_alpha: NonNegative
    omega2_fraction_memory: NonNegative
    omega2_beta: NonNegative
    dose_exponent: NonNegative
    pdl1_log_effect: float
    residual_sd_log: NonNegative
    lloq_copies_ug: Positive
    flow_cells_ul_per_copy: Positive
    flow_residual_sd_log: NonNegative
    lloq_flow_cells_ul: Positive
    ada_extra_clearance_per_day: NonNegative


class TumourParams(_Section):
    """Stein/Fojo bi-exponential tumour regression-growth model linked to CAR-T exposure."""

    growth_per_day: Positive
    growth_factor_by_indication: dict[Indication, Positive]
    growth_sd_log: NonNegative
    kill_max_per_day: Positive
    kill_sd_log: NonNegative
    auc50_copies_day_ug: Positive
    cldn18_kill_exponent: NonNegative
    pdl1_kill_effect: NonNegative
    lesion_growth_sd_log: NonNegative
    measurement_sd_fraction: NonNegative
    measurement_sd_mm: NonNegative
    disappear_below_mm: NonNegative
    lymph_node_floor_mm: NonNegative
    new_lesion_rate_per_day: NonNegative
    non_target_progression_rate_per_day: NonNegative
    new_lesion_median_mm: Positive

    @model_validator(mode="after")
    def _every_indication_has_a_growth_factor(self) -> TumourParams:
        if set(self.growth_factor_by_indication) != set(INDICATIONS):
            raise ValueError(f"growth_factor_by_indication must name exactly {INDICATIONS}")
        return self

    def growth_factor(self, indication: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Growth-rate multiplier of each patient's indication (codes index ``INDICATIONS``)."""
        factors = np.array([self.growth_factor_by_indication[i] for i in INDICATIONS])
        return np.asarray(factors[indication], dtype=float)


class BackgroundAE(BaseModel):
    """A common adverse event outside CRS/ICANS, cytopenias and gastric injury."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    term: str
    soc: str
    prob: Probability
    grade_probs: tuple[Probability, ...] = Field(min_length=1, max_length=3)
    attribution: Attribution
    cause: Literal["", Cause]
    window: Literal["dlt", "any"]

    @model_validator(mode="after")
    def _safe_grades(self) -> BackgroundAE:
        _check_sums_to_one(self.grade_probs, f"{self.term}: grade_probs")
        related = self.attribution in RELATED_ATTRIBUTIONS
        if related and len(self.grade_probs) > 2:
            raise ValueError(f"{self.term}: a related background AE must stay at grade <= 2")
        return self


class ToxicityParams(_Section):
    """CRS, ICANS, lymphodepletion cytopenias, CLDN18.2 gastric injury and background AEs."""

    crs_logit_intercept: float
    crs_logit_slope_per_log10_cmax: float
    crs_severity_slope_per_log10_cmax: float
    crs_grade_thresholds: tuple[float, float, float]
    crs_onset_median_days: Positive
    crs_onset_sd_log: NonNegative
    crs_onset_max_day: Annotated[int, Field(ge=1)]
    long_plateau_prob: Probability
    icans_logit_intercept: float
    icans_logit_slope_per_log10_cmax: float
    icans_severity_slope_per_log10_cmax: float
    icans_grade_thresholds: tuple[float, float, float]
    icans_delay_days: tuple[int, int]
    ld_start_day: Annotated[int, Field(lt=0)]
    nadir_day_mean: Positive
    anc_nadir_fraction_median: Annotated[float, Field(gt=0.0, le=1.0)]
    platelet_nadir_fraction_median: Annotated[float, Field(gt=0.0, le=1.0)]
    hemoglobin_nadir_fraction_median: Annotated[float, Field(gt=0.0, le=1.0)]
    lymphocyte_nadir_fraction_median: Annotated[float, Field(gt=0.0, le=1.0)]
    nadir_fraction_sd_log: NonNegative
    recovery_rate_median_per_day: Positive
    recovery_rate_sd_log: NonNegative
    recovery_rate_min_per_day: Positive
    prolonged_cytopenia_logit_intercept: float
    prolonged_cytopenia_logit_slope: float
    prolonged_anc_1e9_l: Positive
    prolonged_platelets_1e9_l: Positive
    prolonged_recovery_days: tuple[int, int]
    lab_noise_sd_log: NonNegative
    lab_reference_ranges: dict[str, tuple[NonNegative, Positive]]
    gastric_logit_intercept: float
    gastric_logit_slope_per_log10_dose: float
    gastric_severity_slope_per_log10_cmax: float
    gastric_grade_thresholds: tuple[float, float]
    gastric_onset_days: tuple[int, int]
    gastric_duration_days: tuple[int, int]
    gastric_severe_duration_days: tuple[int, int]
    background_aes: tuple[BackgroundAE, ...]


class ImmunogenicityParams(_Section):
    """Anti-CAR antibodies: pre-existing, treatment-induced and boosted, tiered assay."""

    baseline_positive_prob: Probability
    induced_prob: Probability
    onset_median_days: Positive
    onset_sd_log: NonNegative
    transient_prob: Probability
    transient_duration_days: tuple[int, int]
    log2_titer_mean: Positive
    log2_titer_sd: NonNegative
    boost_log2: Positive
    screen_false_positive_rate: Probability
    confirm_false_positive_rate: Probability
    minimum_titer: Positive


class PhenotypeParams(_Section):
    """Memory/effector subsets, CD4:CD8 and exhaustion markers of circulating CAR+ cells."""

    effector_subsets: dict[str, Probability]
    memory_subsets: dict[str, Probability]
    dirichlet_concentration: Positive
    cd4_cd8_ratio_median: Positive
    cd4_cd8_sd_log: NonNegative
    cd4_cd8_effector_log_shift: float
    exhaustion_effector_pct: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]]
    exhaustion_memory_pct: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]]
    pdl1_exhaustion_reduction: Probability
    marker_noise_sd_logit: NonNegative

    @model_validator(mode="after")
    def _same_markers(self) -> PhenotypeParams:
        if list(self.effector_subsets) != list(self.memory_subsets):
            raise ValueError("effector_subsets and memory_subsets must list the same subsets")
        if list(self.exhaustion_effector_pct) != list(self.exhaustion_memory_pct):
            raise ValueError(
                "exhaustion_effector_pct and exhaustion_memory_pct must list the same markers"
            )
        for name in ("effector_subsets", "memory_subsets"):
            _check_sums_to_one(getattr(self, name).values(), name)
        return self


class SurvivalParams(_Section):
    """Death, drop-out, missed visits and subsequent therapy."""

    death_median_days_before_progression: dict[Indication, Positive]
    death_median_days_after_progression: dict[Indication, Positive]
    ecog_hazard_ratio: Positive
    dropout_rate_per_day: NonNegative
    missed_visit_prob: Probability
    subsequent_therapy_prob: Probability
    subsequent_therapy_delay_days: tuple[int, int]


class VirtualParams(BaseModel):
    """Every parameter of the virtual-patient models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    population: PopulationParams
    kinetics: KineticsParams
    tumour: TumourParams
    toxicity: ToxicityParams
    immunogenicity: ImmunogenicityParams
    phenotype: PhenotypeParams
    survival: SurvivalParams


def default_params_path() -> Path:
    """Path of the packaged ``params.yaml``."""
    return Path(str(resources.files("cartrial.virtual").joinpath("params.yaml")))


def load_params(path: str | Path | None = None) -> VirtualParams:
    """Load and validate a virtual-patient parameter file.

    Parameters
    ----------
    path
        YAML file; ``None`` loads the packaged defaults.

    Raises
    ------
    ProtocolError
        Listing every invalid or unsourced parameter with its path in the file.
    """
    source = Path(path) if path is not None else default_params_path()
    try:
        raw = read_yaml(source)
    except YamlRefused as exc:
        raise ProtocolError(str(source), [("", exc.line, exc.detail)]) from None
    except InputFileError as exc:
        raise ProtocolError(str(source), [("", None, exc.problem)]) from None
    try:
        return VirtualParams.model_validate(raw)
    except ValidationError as exc:
        issues: list[tuple[str, int | None, str]] = [
            (".".join(str(p) for p in err["loc"]), None, err["msg"]) for err in exc.errors()
        ]
        raise ProtocolError(str(source), issues) from exc
