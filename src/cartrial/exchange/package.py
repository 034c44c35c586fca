"""Build and write a CDISC package: every SDTM or ADaM dataset in one format, with its checks.

:func:`build_adam` derives the analysis datasets from the SDTM datasets of the same read model.
:func:`write_packages` writes the SDTM and/or ADaM packages of a trial chunk by chunk of subjects
(:mod:`cartrial.exchange.chunks`), so that memory holds one chunk of datasets, not the whole
study:

1. each chunk's datasets are built by the ordinary builders (:func:`build_sdtm`,
   :func:`build_adam`), checked (SAS transport limits for XPT; the offline conformance rules,
   added up by :class:`~cartrial.exchange.conformance.ConformanceTally`), reduced to their
   witness rows, and spooled to a temporary file;
2. when every chunk has passed, the files are written from the spool into a staging folder
   (XPT record by record chunk, Dataset-JSON rows streamed, CSV appended, Define-XML from the
   witness rows) and only then moved into ``out``, so a refused export leaves no partial
   package behind. The conformance findings are written beside the datasets
   (``conformance.json``).

The files are the same, byte for byte, whatever the chunk size (a test compares).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import pandas as pd

from cartrial.analysis import TrialData, normalise_trial_data
from cartrial.errors import ExchangeError
from cartrial.exchange.adam import build_adae, build_adlb, build_adsl
from cartrial.exchange.adam_bds import build_adis, build_adpc, build_adpp, build_adrs, build_adtte
from cartrial.exchange.adam_visits import visit_windows
from cartrial.exchange.chunks import (
    DEFAULT_CHUNK_SUBJECTS,
    subject_chunks,
    trial_level,
    witness_rows,
)
from cartrial.exchange.common import conform
from cartrial.exchange.conformance import ConformanceTally, Finding
from cartrial.exchange.datasetjson import DatasetJsonWriter, dataset_columns, dataset_header
from cartrial.exchange.define import write_define
from cartrial.exchange.metadata import DatasetSpec, dataset_spec
from cartrial.exchange.sdtm import build_sdtm
from cartrial.exchange.text import text_codes
from cartrial.exchange.transport import csv_chunk, transport_problems, xport_writer

__all__ = [
    "FORMATS",
    "STANDARDS",
    "ExportReport",
    "build_adam",
    "build_package",
    "write_package",
    "write_packages",
]

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
    windows = visit_windows(data.protocol)
    return {
        "ADSL": adsl,
        "ADAE": build_adae(data, adsl, sdtm["AE"], sdtm["SUPPAE"]),
        "ADLB": build_adlb(adsl, sdtm["LB"], windows),
        "ADRS": build_adrs(data, adsl, sdtm["RS"], windows),
        "ADTTE": build_adtte(data, adsl),
        "ADPC": build_adpc(adsl, sdtm["PC"], windows),
        "ADPP": build_adpp(adsl, sdtm["PP"]),
        "ADIS": build_adis(adsl, sdtm["IS"], windows),
    }


def build_package(trial: TrialData, standard: Standard) -> dict[str, pd.DataFrame]:
    """The datasets of ``standard`` (``"sdtm"`` or ``"adam"``) for the read model ``trial``."""
    if standard not in STANDARDS:
        raise ExchangeError(f"unknown standard {standard!r}; choose one of {', '.join(STANDARDS)}")
    sdtm = build_sdtm(trial)
    return sdtm if standard == "sdtm" else build_adam(trial, sdtm)


@dataclass
class _Spool:
    """One dataset between the two passes: its chunks on disk, record count and witnesses."""

    spec: DatasetSpec
    file: IO[bytes]
    records: int = 0
    chunks: int = 0
    witnesses: list[pd.DataFrame] = field(default_factory=list)
    first: pd.DataFrame | None = None
    #: the rows without USUBJID of a subject dataset (RELREC's dataset-level relationships)
    shared: pd.DataFrame | None = None
    #: the values of the keys before USUBJID seen so far (one value: chunks come in key order)
    leading: set[tuple[object, ...]] = field(default_factory=set)
    #: the witness rows of every chunk together (:meth:`witness`, made once)
    whole_witness: pd.DataFrame | None = None

    def common_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its rows without USUBJID kept from the first chunk that has them only
        (every chunk builds them alike, else :class:`ExchangeError`)."""
        if "USUBJID" not in frame.columns or not frame["USUBJID"].isna().any():
            return frame
        shared = frame.loc[frame["USUBJID"].isna()].reset_index(drop=True)
        if self.shared is None:
            self.shared = shared
            return frame
        if not self.shared.equals(shared):
            raise ExchangeError(
                f"{self.spec.name}: its records without USUBJID differ between chunks of subjects"
            )
        return frame.loc[frame["USUBJID"].notna()]

    @property
    def in_key_order(self) -> bool:
        """Whether the chunks, one after the other, are in the dataset's key order: the keys
        before USUBJID (e.g. RDOMAIN) took one value, and no record lacks USUBJID."""
        return len(self.leading) <= 1 and self.shared is None

    def add(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Spool ``frame`` (numbered on from the records before it); return it so numbered."""
        frame = text_codes(frame, self.spec)  # a new frame: numbered in place, not copied again
        frame.index = pd.RangeIndex(self.records, self.records + len(frame))
        pickle.dump(frame, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.records += len(frame)
        self.chunks += 1
        self.witnesses.append(witness_rows(frame, self.spec))
        keys = list(self.spec.keys)
        if "USUBJID" in keys and len(frame):
            lead = keys[: keys.index("USUBJID")]
            self.leading |= set(frame[lead].drop_duplicates().itertuples(index=False, name=None))
        return frame

    def frames(self) -> Iterator[pd.DataFrame]:
        """The spooled chunks, in order; one frame sorted by the keys when the chunks are not
        in key order (:attr:`in_key_order`: RELREC, sorted by RDOMAIN first, is held whole)."""
        self.file.flush()
        self.file.seek(0)
        chunks = (pickle.load(self.file) for _ in range(self.chunks))
        if self.in_key_order:
            yield from chunks
            return
        whole = pd.concat([frame.astype(object) for frame in chunks], ignore_index=True)
        yield conform(whole, self.spec)  # sorted by the keys, as the builders sort

    def witness(self) -> pd.DataFrame:
        """The witness rows of the whole dataset (made once, when every chunk is spooled).

        The chunks' text columns are ``Categorical`` over each chunk's own values: they are
        made plain ``object`` before the rows are put together, as pandas would do for
        categories that differ, without comparing the chunks' thousands of categories.
        """
        if self.whole_witness is None:
            found = [_plain_text(frame) for frame in self.witnesses if len(frame)]
            if not found:
                self.whole_witness = self.witnesses[0]
            else:
                with warnings.catch_warnings():
                    # a column missing from a whole chunk: its dtype does not matter, its values do
                    warnings.simplefilter("ignore", FutureWarning)
                    self.whole_witness = pd.concat(found)
        return self.whole_witness


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``Categorical`` columns as plain ``object`` values."""
    kinds = {
        name: object
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype)
    }
    return frame.astype(kinds) if kinds else frame


def _chunk_datasets(
    trial: TrialData, standards: tuple[Standard, ...], chunk_subjects: int
) -> Iterator[dict[Standard, dict[str, pd.DataFrame]]]:
    for chunk in subject_chunks(trial, chunk_subjects):
        sdtm = build_sdtm(chunk)
        built = {"sdtm": sdtm, "adam": build_adam(chunk, sdtm) if "adam" in standards else {}}
        yield {standard: built[standard] for standard in standards}


def _spool(
    chunks: Iterator[dict[Standard, dict[str, pd.DataFrame]]],
    fmt: Format,
    folder: Path,
) -> tuple[dict[Standard, dict[str, _Spool]], dict[Standard, ConformanceTally], list[str]]:
    """First pass: check and spool every chunk (module docstring)."""
    spools: dict[Standard, dict[str, _Spool]] = {}
    tallies: dict[Standard, ConformanceTally] = {}
    problems: dict[str, None] = {}
    for chunk in chunks:
        for standard, datasets in chunk.items():
            kept = {}
            for name, frame in datasets.items():
                spool = spools.setdefault(standard, {}).get(name)
                if spool is None:
                    handle = (folder / f"{name}.pickle").open("w+b")
                    spool = spools[standard][name] = _Spool(dataset_spec(name), handle)
                if trial_level(name) and spool.first is not None:
                    if not spool.first.equals(frame):
                        raise ExchangeError(
                            f"{name} has no USUBJID but differs between chunks of subjects"
                        )
                    continue
                kept[name] = spool.add(spool.common_rows(frame))
                if trial_level(name):
                    spool.first = frame
                if fmt == "xpt":
                    for problem in transport_problems(kept[name], spool.spec):
                        problems[f"{name}: {problem}"] = None
            tallies.setdefault(standard, ConformanceTally()).add(kept)
    return spools, tallies, list(problems)


def _write_dataset(
    spool: _Spool, path: Path, fmt: Format, trial: TrialData, stamp: dt.datetime
) -> None:
    """Second pass: one dataset's file from its spooled chunks."""
    spec = spool.spec
    if fmt == "xpt":
        with xport_writer(spec, spool.witness(), path, stamp) as writer:
            for frame in spool.frames():
                writer.write(frame)
    elif fmt == "json":
        header = dataset_header(
            spec,
            dataset_columns(spool.witness(), spec),
            spool.records,
            study_id=trial.protocol.study.id,
            created=stamp,
            data_cutoff=pd.Timestamp(trial.data_cutoff).date(),
        )
        with DatasetJsonWriter(path, header) as json_writer:
            for frame in spool.frames():
                json_writer.write(frame)
    else:
        with path.open("w", encoding="utf-8", newline="") as handle:
            for number, frame in enumerate(spool.frames()):
                csv_chunk(frame, spec, handle, header=number == 0)


def _write_standard(
    spools: dict[str, _Spool],
    findings: list[Finding],
    staging: Path,
    fmt: Format,
    trial: TrialData,
    stamp: dt.datetime,
) -> list[str]:
    """Every file of one package into ``staging``; the names of the files written."""
    staging.mkdir(parents=True)
    for name, spool in spools.items():
        _write_dataset(spool, staging / f"{name.lower()}.{fmt}", fmt, trial, stamp)
    written = [f"{name.lower()}.{fmt}" for name in spools]
    witnesses = {name: spool.witness() for name, spool in spools.items()}
    defined = write_define(
        witnesses,
        staging,
        study_id=trial.protocol.study.id,
        study_title=trial.protocol.study.title,
        fmt=fmt,
        created=stamp,
    )
    written += [path.name for path in defined]
    report = staging / "conformance.json"
    report.write_text(
        json.dumps([f.__dict__ for f in findings], indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return [*written, report.name]


def write_packages(
    trial: TrialData,
    outs: Mapping[Standard, Path],
    fmt: Format = "xpt",
    *,
    created: dt.datetime | None = None,
    chunk_subjects: int = DEFAULT_CHUNK_SUBJECTS,
    datasets: Mapping[Standard, dict[str, pd.DataFrame]] | None = None,
) -> tuple[ExportReport, ...]:
    """Build, check and write the packages of the standards of ``outs``, each into its folder.

    Files are named ``<dataset>.xpt|.json|.csv`` in lower case (the FDA's file naming); each
    package's Define-XML 2.1 (``define.xml``, rendered as ``define.html``) describes them and
    ``conformance.json`` lists the findings. The trial is built and written chunk by chunk of
    ``chunk_subjects`` subjects (module docstring). ``created`` stamps the XPT headers and
    Dataset-JSON files (default now, UTC). ``datasets`` are the packages' datasets when already
    built (:func:`build_package`; written as one chunk).

    Raises
    ------
    ExchangeError
        When a dataset cannot be written in ``fmt`` (every problem listed); nothing is written.
    """
    if fmt not in FORMATS:
        raise ExchangeError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    standards = tuple(outs)
    unknown = [s for s in standards if s not in STANDARDS]
    if unknown:
        raise ExchangeError(
            f"unknown standard {unknown[0]!r}; choose one of {', '.join(STANDARDS)}"
        )
    stamp = created or dt.datetime.now(dt.UTC).replace(microsecond=0)
    chunks = (
        iter([{standard: datasets[standard] for standard in standards}])
        if datasets is not None
        else _chunk_datasets(trial, standards, chunk_subjects)
    )
    with tempfile.TemporaryDirectory(prefix="cartrial-export-") as folder:
        spools, tallies, problems = _spool(chunks, fmt, Path(folder))
        if problems:
            raise ExchangeError("export refused, nothing written:\n  " + "\n  ".join(problems[:50]))
        reports = []
        staged: list[tuple[Path, Path, list[str]]] = []
        for standard, out in outs.items():
            out.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent)) / "files"
            findings = tallies[standard].findings()
            try:
                names = _write_standard(spools[standard], findings, staging, fmt, trial, stamp)
            except BaseException:
                for _, stage, _ in [*staged, (out, staging, [])]:
                    shutil.rmtree(stage.parent, ignore_errors=True)
                raise
            staged.append((out, staging, names))
            reports.append(
                ExportReport(
                    standard=standard,
                    format=fmt,
                    out=out,
                    files=tuple(out / name for name in names),
                    records={name: spool.records for name, spool in spools[standard].items()},
                    findings=tuple(findings),
                )
            )
        for spool in (s for by_name in spools.values() for s in by_name.values()):
            spool.file.close()
    for out, staging, names in staged:
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            (staging / name).replace(out / name)
        shutil.rmtree(staging.parent, ignore_errors=True)
    return tuple(reports)


def write_package(
    trial: TrialData,
    standard: Standard,
    out: Path,
    fmt: Format = "xpt",
    *,
    created: dt.datetime | None = None,
    datasets: dict[str, pd.DataFrame] | None = None,
    chunk_subjects: int = DEFAULT_CHUNK_SUBJECTS,
) -> ExportReport:
    """Build, check and write every dataset of ``standard`` into the folder ``out``
    (:func:`write_packages` for one standard).

    Raises
    ------
    ExchangeError
        When a dataset cannot be written in ``fmt`` (every problem listed); nothing is written.
    """
    [report] = write_packages(
        trial,
        {standard: out},
        fmt,
        created=created,
        chunk_subjects=chunk_subjects,
        datasets=None if datasets is None else {standard: datasets},
    )
    return report
