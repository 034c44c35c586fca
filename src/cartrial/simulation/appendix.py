"""The statistical appendix of a study protocol: design, decision rules, operating characteristics.

:func:`build_appendix` takes what the study protocol says (:class:`AppendixStudy`: dose levels,
escalation design, target, cohort plan, DLT window; the command line reads it from the protocol
file, this package never imports the protocol layer) and a scenarios file (true DLT probability
per dose level in each scenario, the number of simulated trials, the seed and the simulation
settings; optional comparator designs),
simulates the protocol's design (and the comparators, with common random numbers) under every
scenario, and :func:`write_appendix` writes it as HTML and PDF with its tables and figures, the
seed and the software versions: the appendix of a published BOIN or CRM protocol.

The protocol's design is built from its name and parameters; what the protocol states elsewhere
fills what the parameters leave open: ``target`` from the target DLT rate, ``start`` from the
starting dose level, ``cohort_size`` and ``n_cohorts`` from the cohort size and the maximum number
of subjects (3+3: ``max_subjects``). The PDF is printed by the writer the caller passes (the
command line passes :func:`cartrial.report.pdf.write_pdf`).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cartrial.designs import make_design
from cartrial.designs.base import Design
from cartrial.designs.decision_tables import DecisionTables, decision_tables
from cartrial.designs.describe import DESIGN_REFERENCES, design_parameters
from cartrial.errors import DesignError
from cartrial.simulation.grid import (
    DesignSpec,
    GridResult,
    GridSettings,
    MTDSpec,
    ScenarioGrid,
    ScenarioSpec,
    check_unique,
    load_yaml_model,
    run_grid,
)
from cartrial.simulation.plot import plot_operating_characteristics
from cartrial.simulation.result import SimulationResult

__all__ = [
    "Appendix",
    "AppendixScenarios",
    "AppendixStudy",
    "DoseLevelText",
    "build_appendix",
    "load_scenarios",
    "protocol_design",
    "render_html",
    "write_appendix",
]


class AppendixScenarios(BaseModel):
    """The scenarios file of an appendix (``examples/appendix-scenarios.yaml``).

    ``settings.dlt_window_days`` defaults to the protocol's DLT window; ``mtd.target`` to the
    protocol's target DLT rate. ``comparators`` are other designs simulated under the same
    scenarios and seed (common random numbers) for the comparison table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0)
    n_trials: int = Field(ge=100)
    settings: GridSettings = GridSettings()
    mtd: MTDSpec = MTDSpec()
    scenarios: list[ScenarioSpec] = Field(min_length=1)
    comparators: list[DesignSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class DoseLevelText:
    """One protocol dose level as the appendix prints it."""

    name: str
    label: str
    unit: str


@dataclass(frozen=True)
class AppendixStudy:
    """What the protocol says that the appendix needs (read from the protocol by the caller)."""

    study_id: str
    title: str
    version: str
    sponsor: str
    product: str
    dlt_window_days: float
    target_dlt_rate: float
    dose_levels: tuple[DoseLevelText, ...]
    design_name: str
    design_params: dict[str, object]
    start_dose: str
    cohort_size: int
    max_subjects: int

    @property
    def dose_labels(self) -> tuple[str, ...]:
        """The dose-level names, lowest first."""
        return tuple(level.name for level in self.dose_levels)


def protocol_design(study: AppendixStudy) -> tuple[str, dict[str, object], Design]:
    """The protocol's escalation design: its name, its full parameters and the design object."""
    name = study.design_name
    params: dict[str, object] = dict(study.design_params)
    n_doses = len(study.dose_levels)
    bare = make_design(name, n_doses=n_doses, **params)
    accepted: set[str] = (
        {f.name for f in dataclasses.fields(bare)} if dataclasses.is_dataclass(bare) else set()
    )
    fill: dict[str, object] = {
        "target": study.target_dlt_rate,
        "start": study.dose_labels.index(study.start_dose),
        "cohort_size": study.cohort_size,
        "n_cohorts": study.max_subjects // study.cohort_size,
        "max_subjects": study.max_subjects,
    }
    for key, value in fill.items():
        if key in accepted and key not in params:
            params[key] = value
    return name, params, make_design(name, n_doses=n_doses, **params)


@dataclass(frozen=True)
class Appendix:
    """Everything the statistical appendix shows (built by :func:`build_appendix`)."""

    study: AppendixStudy
    design_name: str
    design: Design
    parameters: dict[str, str]
    rules: DecisionTables
    scenarios: AppendixScenarios
    oc: GridResult
    software: dict[str, str]

    @property
    def dose_labels(self) -> tuple[str, ...]:
        """The protocol's dose-level names, lowest first."""
        return self.study.dose_labels

    @property
    def label(self) -> str:
        """The protocol design's label in the OC tables (e.g. ``"3+3 (protocol)"``)."""
        return protocol_label(self.design_name)

    def results(self, label: str) -> list[tuple[str, SimulationResult]]:
        """``(scenario, result)`` of the design labelled ``label``, in scenario order."""
        return [(s, r) for lab, s, r in self.oc.results if lab == label]


def protocol_label(design_name: str) -> str:
    """How the OC tables label the protocol's own design."""
    return f"{design_name} (protocol)"


def build_appendix(
    study: AppendixStudy,
    scenarios: AppendixScenarios,
    *,
    backend: str = "local",
    scheduler: str | None = None,
    progress: bool = False,
) -> Appendix:
    """Simulate the protocol's design (and comparators) under every scenario.

    Raises
    ------
    DesignError
        When a scenario's number of DLT probabilities is not the protocol's number of dose
        levels, or a design or setting is invalid.
    """
    name, params, design = protocol_design(study)
    labels = list(study.dose_labels)
    for i, scenario in enumerate(scenarios.scenarios):
        if len(scenario.true_tox) != len(labels):
            raise DesignError(
                f"scenarios.{i} ({scenario.name}): {len(scenario.true_tox)} DLT probabilities "
                f"for the protocol's {len(labels)} dose levels ({', '.join(labels)})"
            )
    settings = scenarios.settings
    if "dlt_window_days" not in settings.model_fields_set:
        settings = settings.model_copy(update={"dlt_window_days": float(study.dlt_window_days)})
    mtd = scenarios.mtd
    if mtd.target is None:
        mtd = mtd.model_copy(update={"target": study.target_dlt_rate})
    own = DesignSpec(label=protocol_label(name), name=name, params=params)
    grid = ScenarioGrid(
        seed=scenarios.seed,
        n_trials=scenarios.n_trials,
        settings=settings,
        mtd=mtd,
        dose_labels=labels,
        designs=[own, *scenarios.comparators],
        scenarios=scenarios.scenarios,
    )
    chosen = "dask" if backend == "dask" or scheduler else "local"
    oc = run_grid(grid, chosen, scheduler, progress=progress)  # type: ignore[arg-type]
    import matplotlib
    import numpy
    import scipy

    from cartrial import __version__

    software = {
        "cartrial": __version__,
        "Python": platform.python_version(),
        "NumPy": numpy.__version__,
        "SciPy": scipy.__version__,
        "pandas": pd.__version__,
        "Matplotlib": matplotlib.__version__,
    }
    return Appendix(
        study=study,
        design_name=name,
        design=design,
        parameters=design_parameters(design, labels),
        rules=decision_tables(design, dose_labels=labels),
        scenarios=scenarios.model_copy(update={"settings": settings, "mtd": mtd}),
        oc=oc,
        software=software,
    )


def load_scenarios(path: str | Path) -> AppendixScenarios:
    """Read and validate an appendix scenarios file (errors name the file and field)."""
    scenarios = load_yaml_model(path, AppendixScenarios, "scenarios file")
    check_unique(path, "scenarios.name", [s.name for s in scenarios.scenarios])
    check_unique(path, "comparators.label", [d.label for d in scenarios.comparators])
    return scenarios


def _figure_png(frame: pd.DataFrame) -> str:
    figure = plot_operating_characteristics(frame)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: float | None, digits: int = 1) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def _oc_rows(result: SimulationResult) -> list[list[str]]:
    """Per-dose rows of one scenario's OC table (true rate, selection, patients, DLTs)."""
    nan = (math.nan,) * len(result.true_tox)
    rows = [
        ["True DLT probability", *[f"{p:.2f}" for p in result.true_tox], ""],
        [
            "Selection % (SE)",
            *[
                f"{p:.1f} ({_fmt(se)})"
                for p, se in zip(result.selection_pct, result.selection_se or nan, strict=True)
            ],
            f"{result.selection_none_pct:.1f}",
        ],
        [
            "Patients treated, mean (SE)",
            *[
                f"{n:.1f} ({_fmt(se, 2)})"
                for n, se in zip(result.mean_patients, result.mean_patients_se or nan, strict=True)
            ],
            f"{result.mean_total_patients:.1f}",
        ],
        [
            "DLTs observed, mean",
            *[f"{y:.2f}" for y in result.mean_dlts],
            f"{result.mean_total_dlts:.2f}",
        ],
    ]
    return rows


def _summary_row(scenario: str, label: str, result: SimulationResult) -> list[str]:
    overdose = result.overdose_pct or {}
    return [
        scenario,
        label,
        _fmt(result.pcs_pct),
        _fmt(result.pct_patients_at_mtd),
        _fmt(result.pct_patients_above_mtd),
        _fmt(overdose.get(0.6)),
        _fmt(overdose.get(0.8)),
        _fmt(result.poor_allocation_pct),
        _fmt(result.early_stop_pct),
        f"{result.mean_total_patients:.1f}",
        _fmt(result.mean_duration_months),
    ]


def render_html(appendix: Appendix) -> str:
    """The appendix as one self-contained HTML page (inline CSS and figures)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("cartrial.simulation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    frame = appendix.oc.to_frame()
    labels = appendix.dose_labels
    own = appendix.results(appendix.label)
    designs = list(dict.fromkeys(label for label, _, _ in appendix.oc.results))
    rules = appendix.rules
    rule_table = rules.table
    if rules.title == "dose transition pathways":
        rule_table = rule_table.drop(columns=["reason", "parent"]).rename(
            columns={
                "path": "DLTs per cohort",
                "cohort": "Cohort",
                "dose": "Dose level",
                "n_dlt": "DLTs in cohort",
                "n_at_dose": "Patients at dose",
                "dlt_at_dose": "DLTs at dose",
                "action": "Decision",
                "next_dose": "Next dose level",
            }
        )
    pending = rules.pending
    context = {
        "study": appendix.study,
        "design_words": DESIGN_REFERENCES.get(appendix.design_name, appendix.design_name),
        "design_name": appendix.design_name,
        "parameters": appendix.parameters,
        "dose_levels": appendix.study.dose_levels,
        "labels": labels,
        "rules": rules,
        "rule_columns": [str(c) for c in rule_table.columns],
        "rule_rows": [[_cell(v) for v in row] for row in rule_table.itertuples(index=False)],
        "pending_rows": []
        if pending is None
        else [
            [str(r.n_treated), str(r.dlt), str(r.pending), str(r.decision)]
            for r in pending.itertuples(index=False)
        ],
        "scenarios": appendix.scenarios,
        "settings": own[0][1].settings if own else {},
        "scenario_tables": [
            (scenario, result, _oc_rows(result), [labels[i] for i in result.correct_doses])
            for scenario, result in own
        ],
        "summary_rows": [
            _summary_row(scenario, label, result)
            for scenario in [s.name for s in appendix.scenarios.scenarios]
            for label in designs
            for lab, sc, result in appendix.oc.results
            if lab == label and sc == scenario
        ],
        "comparators": appendix.scenarios.comparators,
        "figure": _figure_png(frame),
        "software": appendix.software,
        "timed": bool(own and own[0][1].mean_duration_months is not None),
        "poor_allocation_n": next(
            (f"{r.poor_allocation_n:g}" for _, r in own if r.poor_allocation_n is not None), ""
        ),
    }
    return environment.get_template("appendix.html.j2").render(**context)


def _cell(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return str(value)


def write_appendix(
    appendix: Appendix,
    out_dir: str | Path,
    write_pdf: Callable[[str, Path], Path] | None = None,
) -> dict[str, Path]:
    """Write ``appendix.html``, the OC table (CSV), the figure (PNG) and, given a PDF writer
    (``write_pdf(html, path)``, e.g. :func:`cartrial.report.pdf.write_pdf`), ``appendix.pdf``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = render_html(appendix)
    paths = {
        "html": out / "appendix.html",
        "pdf": out / "appendix.pdf",
        "csv": out / "operating-characteristics.csv",
        "figure": out / "operating-characteristics.png",
    }
    paths["html"].write_text(html, encoding="utf-8")
    if write_pdf is None:
        del paths["pdf"]
    else:
        write_pdf(html, paths["pdf"])
    frame = appendix.oc.to_frame()
    frame.to_csv(paths["csv"], index=False)
    plot_operating_characteristics(frame).savefig(paths["figure"], dpi=150)
    return paths
