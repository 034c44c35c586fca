"""Virtual patients for in-silico trials of the CLDN18.2/PD-L1 CAR-T study.

Vectorised, seeded models of the referred population (baseline, CLDN18.2/PD-L1, labs, RECIST tumour
burden), CAR-T cellular kinetics (Stein 2019), tumour regression-growth, CRS/ICANS, cytopenias,
CLDN18.2 gastric injury, anti-CAR antibodies, phenotype, survival and drop-out. Every parameter and
its source is in ``params.yaml``. Pure models: nothing here reads or writes a database; the
in-silico study that conducts a whole trial with them through :mod:`cartrial.services` is the
application :mod:`cartrial.demo`.
"""

from __future__ import annotations

from cartrial.virtual.cohort import (
    GastricInjury,
    VirtualCohort,
    VirtualPopulation,
    sample_population,
    simulate_patients,
)
from cartrial.virtual.params import VirtualParams, default_params_path, load_params

__all__ = [
    "GastricInjury",
    "VirtualCohort",
    "VirtualParams",
    "VirtualPopulation",
    "default_params_path",
    "load_params",
    "sample_population",
    "simulate_patients",
]
