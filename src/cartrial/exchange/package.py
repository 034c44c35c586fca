"""Build and write a CDISC package: every SDTM or ADaM dataset in one format, with its checks.

:func:`build_adam` derives the analysis datasets from the SDTM datasets of the same read model;
:func:`write_package` checks every dataset first (SAS transport limits for XPT, the Dataset-JSON
schema for JSON, the offline conformance rules of :mod:`cartrial.exchange.conformance`) and only
then writes the files, so a refused export leaves no partial package behind. The conformance
findings are written beside the datasets (``conformance.json``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from cartrial.analysis import TrialData, normalise_trial_data
from cartrial.errors import ExchangeError
from cartrial.exchange.adam import build_adae, build_adlb, build_adsl
from cartrial.exchange.adam_bds import build_adis, build_adpc, build_adpp, build_adrs, build_adtte
from cartrial.exchange.conformance import Finding, check_datasets
from cartrial.exchange.datasetjson import dataset_json, validate_dataset_json
from cartrial.exchange.define import write_define
from cartrial.exchange.metadata import dataset_spec
from cartrial.exchange.sdtm import build_sdtm
from cartrial.exchange.transport import transport_problems, write_csv, write_xpt

__all__ = ["FORMATS", "STANDARDS", "ExportReport", "build_adam", "build_package", "write_package"]

Format = Literal["xpt", "json", "csv"]
Standard = Literal["sdtm", "adam"]
FORMATS: tuple[Format, ...] = ("xpt", "json", "csv")
STANDARDS: tuple[Standard, ...] = ("sdtm", "adam")


@dataclass(frozen=True)
class ExportReport:
    """What :func:`write_package` wrote: the files, record counts and conformance findings."""

    standard: Standard
    format: Format
    out: Path
    files: tuple[Path, ...]
    records: dict[str, int]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of severity ``error``."""
        return tuple(f for f in self.findings if f.severity == "error")


def build_adam(trial: TrialData, sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every ADaM dataset, derived from ``sdtm`` (built from the same ``trial``)."""
    data = normalise_trial_data(trial)
    adsl = build_adsl(data, sdtm["DM"])
    return {
        "ADSL": adsl,
        "ADAE": build_adae(data, adsl, sdtm["AE"], sdtm["SUPPAE"]),
        "ADLB": build_adlb(adsl, sdtm["LB"]),
        "ADRS": build_adrs(data, adsl, sdtm["RS"]),
        "ADTTE": build_adtte(data, adsl),
        "ADPC": build_adpc(adsl, sdtm["PC"]),
        "ADPP": build_adpp(data, adsl),
        "ADIS": build_adis(adsl, sdtm["IS"]),
    }


def build_package(trial: TrialData, standard: Standard) -> dict[str, pd.DataFrame]:
    """The datasets of ``standard`` (``"sdtm"`` or ``"adam"``) for the read model ``trial``."""
    if standard not in STANDARDS:
        raise ExchangeError(f"unknown standard {standard!r}; choose one of {', '.join(STANDARDS)}")
    sdtm = build_sdtm(trial)
    return sdtm if standard == "sdtm" else build_adam(trial, sdtm)


def write_package(
    trial: TrialData,
    standard: Standard,
    out: Path,
    fmt: Format = "xpt",
    *,
    created: dt.datetime | None = None,
    datasets: dict[str, pd.DataFrame] | None = None,
) -> ExportReport:
    """Build, check and write every dataset of ``standard`` into the folder ``out``.

    Files are named ``<dataset>.xpt|.json|.csv`` in lower case (the FDA's file naming); the
    package's Define-XML 2.1 (``define.xml``, rendered as ``define.html``) describes them and
    ``conformance.json`` lists the findings. ``created`` stamps Dataset-JSON files (default now,
    UTC). ``datasets`` are the package's datasets when already built (:func:`build_package`).

    Raises
    ------
    ExchangeError
        When a dataset cannot be written in ``fmt`` (every problem listed); nothing is written.
    """
    if fmt not in FORMATS:
        raise ExchangeError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if datasets is None:
        datasets = build_package(trial, standard)
    stamp = created or dt.datetime.now(dt.UTC).replace(microsecond=0)
    cutoff = pd.Timestamp(trial.data_cutoff).date()
    documents: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, frame in datasets.items():
        spec = dataset_spec(name)
        if fmt == "xpt":
            problems += [f"{name}: {p}" for p in transport_problems(frame, spec)]
        elif fmt == "json":
            documents[name] = dataset_json(
                frame, spec, study_id=trial.protocol.study.id, created=stamp, data_cutoff=cutoff
            )
            problems += [f"{name}: {p}" for p in validate_dataset_json(documents[name])]
    if problems:
        raise ExchangeError("export refused, nothing written:\n  " + "\n  ".join(problems[:50]))
    findings = tuple(check_datasets(datasets))
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, frame in datasets.items():
        spec = dataset_spec(name)
        path = out / f"{name.lower()}.{fmt}"
        if fmt == "xpt":
            files.append(write_xpt(frame, spec, path))
        elif fmt == "json":
            path.write_text(json.dumps(documents[name], ensure_ascii=False), encoding="utf-8")
            files.append(path)
        else:
            files.append(write_csv(frame, spec, path))
    files += write_define(
        datasets,
        out,
        study_id=trial.protocol.study.id,
        study_title=trial.protocol.study.title,
        fmt=fmt,
        created=stamp,
    )
    report = out / "conformance.json"
    report.write_text(
        json.dumps([f.__dict__ for f in findings], indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return ExportReport(
        standard=standard,
        format=fmt,
        out=out,
        files=(*files, report),
        records={name: len(frame) for name, frame in datasets.items()},
        findings=findings,
    )
