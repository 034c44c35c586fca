"""CDISC exchange: SDTM and ADaM datasets from the trial's read model, in XPT v5, Dataset-JSON
v1.1 and CSV, with their metadata and offline conformance checks.

The package reads the trial only through the services' read model (a
:class:`~cartrial.analysis.TrialData`); it never touches the database. The dataset and variable
metadata live in ``cartrial/data/cdisc/`` (:mod:`~cartrial.exchange.metadata`); SDTM builders in
:mod:`~cartrial.exchange.sdtm` and :mod:`~cartrial.exchange.sdtm_findings`, ADaM builders in
:mod:`~cartrial.exchange.adam` and :mod:`~cartrial.exchange.adam_bds`; the writers in
:mod:`~cartrial.exchange.transport` (XPT, CSV) and :mod:`~cartrial.exchange.datasetjson`;
:func:`write_packages` ties them together, chunk by chunk of subjects.
"""

from __future__ import annotations

from cartrial.exchange.conformance import Finding, check_datasets
from cartrial.exchange.metadata import DatasetSpec, VariableSpec, dataset_spec, dataset_specs
from cartrial.exchange.package import (
    FORMATS,
    STANDARDS,
    ExportReport,
    build_adam,
    build_package,
    write_package,
    write_packages,
)
from cartrial.exchange.sdtm import build_sdtm

__all__ = [
    "FORMATS",
    "STANDARDS",
    "DatasetSpec",
    "ExportReport",
    "Finding",
    "VariableSpec",
    "build_adam",
    "build_package",
    "build_sdtm",
    "check_datasets",
    "dataset_spec",
    "dataset_specs",
    "write_package",
    "write_packages",
]
