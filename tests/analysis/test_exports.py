"""Every public name of the analysis and report packages exists (guards ``__all__`` drift)."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "cartrial.analysis",
    "cartrial.analysis.crs_icans",
    "cartrial.analysis.dataset",
    "cartrial.analysis.efficacy",
    "cartrial.analysis.immunogenicity",
    "cartrial.analysis.kinetics",
    "cartrial.analysis.phenotype",
    "cartrial.analysis.populations",
    "cartrial.analysis.response",
    "cartrial.analysis.safety",
    "cartrial.analysis.settings",
    "cartrial.analysis.stats",
    "cartrial.analysis.summary",
    "cartrial.analysis.survival",
    "cartrial.analysis.tables",
    "cartrial.analysis.visits",
    "cartrial.report",
    "cartrial.report.build",
    "cartrial.report.figures",
    "cartrial.report.html",
    "cartrial.report.pdf",
    "cartrial.cli.report",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_once(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{name}: duplicated names in __all__"
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute}"
