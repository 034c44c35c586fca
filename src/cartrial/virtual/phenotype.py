"""Immunophenotype of circulating CAR+ T cells, tied to the kinetics' effector and memory pools.

At time ``t`` a share ``m(t)`` of circulating CAR+ cells belongs to the Stein model's memory pool
(0 during expansion, rising towards 1 in the persistence phase). Each patient has an effector-pool
and a memory-pool subset composition (Dirichlet around the ``params.yaml`` means: Tem/Temra-rich vs
Tscm/Tcm-rich, Gattinoni 2011 [mem]); the observed subset % is the mixture, with logit-scale assay
noise. Exhaustion markers (PD-1, LAG-3, TIM-3) mix the same way and are reduced by tumour PD-L1
(the PD-L1 binder, assumption); CD4:CD8 falls during expansion (CD8 dominance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

from cartrial.virtual.params import PhenotypeParams

__all__ = ["Phenotype", "sample_phenotype"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Phenotype:
    """Per-patient subset compositions ``(n, n_subsets)`` and product CD4:CD8 ratio ``(n,)``."""

    subsets: tuple[str, ...]
    effector_composition: FloatArray
    memory_composition: FloatArray
    cd4_cd8_ratio: FloatArray
    pdl1_pct: FloatArray
    params: PhenotypeParams

    @property
    def markers(self) -> tuple[str, ...]:
        """Every marker reported: subsets, exhaustion markers, then ``cd4_cd8_ratio``."""
        return (*self.subsets, *self.params.exhaustion_effector_pct, "cd4_cd8_ratio")

    def values(self, memory_share: FloatArray, rng: np.random.Generator) -> FloatArray:
        """Measured markers ``(n, k, n_markers)``: percent of CAR+ cells, or the CD4:CD8 ratio.

        ``memory_share`` (n, k) is the kinetics' memory share at the sampling days.
        """
        p = self.params
        m = memory_share[:, :, None]
        subsets = (1.0 - m) * self.effector_composition[:, None, :] + m * self.memory_composition[
            :, None, :
        ]
        eff = np.array(list(p.exhaustion_effector_pct.values())) / 100.0
        mem = np.array(list(p.exhaustion_memory_pct.values())) / 100.0
        reduction = 1.0 - p.pdl1_exhaustion_reduction * self.pdl1_pct[:, None, None] / 100.0
        exhaustion = ((1.0 - m) * eff + m * mem) * reduction
        fractions = np.concatenate([subsets, exhaustion], axis=2)
        noisy = expit(
            logit(np.clip(fractions, 1e-4, 1 - 1e-4))
            + p.marker_noise_sd_logit * rng.standard_normal(fractions.shape)
        )
        ratio = self.cd4_cd8_ratio[:, None] * np.exp(
            p.cd4_cd8_effector_log_shift * (1.0 - memory_share)
            + p.marker_noise_sd_logit * rng.standard_normal(memory_share.shape)
        )
        return np.concatenate([np.round(100.0 * noisy, 1), np.round(ratio, 2)[:, :, None]], axis=2)

    def take(self, index: npt.NDArray[np.int64]) -> Phenotype:
        """The patients at ``index``."""
        return Phenotype(
            subsets=self.subsets,
            effector_composition=self.effector_composition[index],
            memory_composition=self.memory_composition[index],
            cd4_cd8_ratio=self.cd4_cd8_ratio[index],
            pdl1_pct=self.pdl1_pct[index],
            params=self.params,
        )


def sample_phenotype(
    pdl1_pct: FloatArray, rng: np.random.Generator, params: PhenotypeParams
) -> Phenotype:
    """Sample per-patient pool compositions and the product CD4:CD8 ratio."""
    p = params
    n = pdl1_pct.shape[0]
    c = p.dirichlet_concentration
    eff = rng.dirichlet(c * np.array(list(p.effector_subsets.values())) + 1e-3, size=n)
    mem = rng.dirichlet(c * np.array(list(p.memory_subsets.values())) + 1e-3, size=n)
    ratio = p.cd4_cd8_ratio_median * np.exp(p.cd4_cd8_sd_log * rng.standard_normal(n))
    return Phenotype(
        subsets=tuple(p.effector_subsets),
        effector_composition=eff,
        memory_composition=mem,
        cd4_cd8_ratio=ratio,
        pdl1_pct=pdl1_pct,
        params=p,
    )
