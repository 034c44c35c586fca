"""``cartrial simulate``: operating characteristics of a design, or of a designs x scenarios grid.

``cartrial simulate --design crm --truth 0.05,0.10,0.20,0.30,0.45 --trials 100000`` (or
``cartrial simulate run ...``) simulates one design; ``cartrial simulate grid FILE.yaml`` runs a
scenario grid, locally or on a Dask cluster (``--scheduler ADDRESS``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from cartrial.simulation import SimulationResult

__all__ = ["register"]

DESIGN_HELP = (
    "Protocol design name: 3+3, boin, tite-boin, crm, tite-crm, mtpi2, keyboard, i3+3, table."
)


def register(app: typer.Typer) -> None:
    """Attach the ``simulate`` command group to the root app."""
    group = typer.Typer(
        help="Simulate operating characteristics of dose-finding designs.",
        invoke_without_command=True,
    )
    group.callback(invoke_without_command=True)(run)
    group.command("run")(run)
    group.command("grid")(grid)
    app.add_typer(group, name="simulate")


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{name} must be comma-separated numbers: {text!r}") from None


def _param(text: str) -> tuple[str, float | int | bool | str | list[float]]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"--param needs KEY=VALUE, got {text!r}")
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    for convert in (int, float):
        try:
            return key.strip(), convert(raw)
        except ValueError:
            continue
    if "," in raw:
        return key.strip(), _floats(raw, key)
    return key.strip(), raw.strip()


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _result_table(result: SimulationResult) -> Table:
    table = Table(title=f"{result.design}: operating characteristics ({result.method})")
    columns = ("dose level", "true DLT rate", "selected % (SE)", "patients (SE)", "DLTs (SE)")
    for column in columns:
        table.add_column(column, justify="right")
    nan = (math.nan,) * len(result.true_tox)
    rows = zip(
        result.doses,
        result.true_tox,
        result.selection_pct,
        result.selection_se or nan,
        result.mean_patients,
        result.mean_patients_se or nan,
        result.mean_dlts,
        result.mean_dlts_se or nan,
        strict=True,
    )
    correct = set(result.correct_doses)
    for k, (dose, tox, pct, pct_se, n, n_se, y, y_se) in enumerate(rows):
        table.add_row(
            f"{dose} (MTD)" if k in correct else dose,
            f"{tox:.3f}",
            f"{pct:.1f} ({_num(pct_se)})",
            f"{n:.2f} ({_num(n_se, 2)})",
            f"{y:.2f} ({_num(y_se, 2)})",
        )
    table.add_row("none", "", f"{result.selection_none_pct:.1f} ({_num(result.selection_none_se)})")
    return table


def _summary_lines(result: SimulationResult) -> list[str]:
    overdose = result.overdose_pct or {}
    lines = [
        f"trials: {result.n_trials}   seed: {result.seed}   cartrial {result.software_version}",
        f"true MTD: {result.mtd.describe()}",
        f"correct selection (PCS): {_num(result.pcs_pct)} % (SE {_num(result.pcs_se)})",
        f"patients at the MTD: {_num(result.pct_patients_at_mtd)} %   above the MTD: "
        f"{_num(result.pct_patients_above_mtd)} %",
        f"risk of overdosing (get.oc: > 60 % / > 80 % of the planned patients above the MTD): "
        f"{_num(overdose.get(0.6))} % / {_num(overdose.get(0.8))} %",
        "risk of poor allocation (< "
        + ("-" if result.poor_allocation_n is None else f"{result.poor_allocation_n:g}")
        + f" patients at the MTD, Zhou et al. 2018): {_num(result.poor_allocation_pct)} %",
        f"early stop (no dose selected): {result.early_stop_pct:.1f} %",
        f"mean sample size: {result.mean_total_patients:.2f} (SE "
        f"{_num(result.mean_total_patients_se, 2)})   mean DLTs: {result.mean_total_dlts:.2f}   "
        f"mean expansion patients: {result.mean_expansion_patients:.2f}",
    ]
    if result.mean_duration_months is not None:
        lines.append(
            f"mean duration: {result.mean_duration_months:.2f} months "
            f"(SE {_num(result.mean_duration_months_se, 2)})"
        )
    lines.append("design: " + ", ".join(f"{k}={v}" for k, v in result.design_parameters.items()))
    lines += [f"{key}: {value}" for key, value in result.settings.items()]
    return lines


def _acceptable(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    values = _floats(text, "--acceptable")
    if len(values) != 2:
        raise typer.BadParameter(f"--acceptable needs LOW,HIGH, got {text!r}")
    return values[0], values[1]


def run(
    ctx: typer.Context,
    design: str = typer.Option("boin", "--design", help=DESIGN_HELP),
    truth: str | None = typer.Option(
        None, "--truth", help="True DLT probability per dose, comma-separated (required)."
    ),
    trials: int = typer.Option(10_000, "--trials", help="Number of simulated trials."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same trials)."),
    target: float | None = typer.Option(None, "--target", help="Target DLT rate (default 0.3)."),
    cohort_size: int | None = typer.Option(None, "--cohort-size", help="Patients per cohort."),
    n_cohorts: int | None = typer.Option(None, "--n-cohorts", help="Maximum number of cohorts."),
    param: list[str] = typer.Option(
        [], "--param", help="Any other design parameter as KEY=VALUE (repeatable)."
    ),
    accrual_rate: float | None = typer.Option(
        None, "--accrual-rate", help="Patients per month (required by TITE designs)."
    ),
    accrual: str = typer.Option("exponential", "--accrual", help="exponential or uniform."),
    window_days: float = typer.Option(28.0, "--window-days", help="DLT window (days)."),
    onset: str = typer.Option(
        "uniform",
        "--onset",
        help="DLT onset: uniform, weibull, or weibull-per-dose (TITEgBOIN: half the DLTs in "
        "the last half of the window).",
    ),
    expansion: int | None = typer.Option(
        None, "--expansion", help="Expansion patients at the selected dose (counted in N)."
    ),
    backfill: int = typer.Option(
        0, "--backfill", help="Backfill patients per cohort at the highest cleared lower dose."
    ),
    coherence: str = typer.Option(
        "all-patients",
        "--coherence",
        help="CRM/TITE-CRM: block escalation on all patients' or the last cohort's DLT rate.",
    ),
    keep_trials: Path | None = typer.Option(
        None, "--trials-out", help="Write every trial's dosing sequence to this CSV."
    ),
    acceptable: str | None = typer.Option(
        None,
        "--acceptable",
        help="LOW,HIGH: doses with a true DLT rate in [LOW, HIGH] are correct MTDs "
        "(default: the dose(s) closest to the target).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Save the selection and allocation plot (PNG/PDF/SVG)."
    ),
) -> None:
    """Simulate one design under one true dose-toxicity scenario."""
    if ctx.invoked_subcommand is not None:
        return
    if truth is None:
        if ctx.info_name == "run":
            raise typer.BadParameter("--truth is required", param_hint="--truth")
        typer.echo(ctx.get_help())
        raise typer.Exit()
    from cartrial.designs import make_design
    from cartrial.simulation import Expansion, simulate
    from cartrial.simulation.engine import Coherence
    from cartrial.simulation.plot import plot_operating_characteristics

    true_tox = _floats(truth, "--truth")
    interval = _acceptable(acceptable)
    kwargs: dict[str, object] = dict(_param(p) for p in param)
    if design.strip().lower() != "3+3":
        kwargs.setdefault("target", 0.3 if target is None else target)
    for key, value in (("cohort_size", cohort_size), ("n_cohorts", n_cohorts)):
        if value is not None:
            kwargs[key] = value
    built = make_design(design, n_doses=len(true_tox), **kwargs)
    result = simulate(
        built,
        true_tox,
        trials,
        seed,
        accrual_rate=accrual_rate,
        accrual=accrual,
        dlt_window_days=window_days,
        dlt_onset=onset,
        keep_trials=keep_trials is not None,
        expansion=None if expansion is None else Expansion(n_patients=expansion),
        backfill=backfill,
        coherence=cast(Coherence, coherence),
        target=target,
        acceptable=interval,
        progress=True,
    )
    if keep_trials is not None and result.trials is not None:
        result.trials.to_csv(keep_trials, index=False)
    if plot is not None:
        plot_operating_characteristics(result.to_frame()).savefig(plot)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    console = Console()
    console.print(_result_table(result))
    for line in _summary_lines(result):
        console.print(line, highlight=False)


def grid(
    file: Path = typer.Argument(..., help="Grid YAML file (see examples/simulation-grid.yaml)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address: run the grid on that cluster."
    ),
    backend: str = typer.Option(
        "local", "--backend", help="local, or dask (an in-process LocalCluster by default)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the long result table (CSV)."),
    plot: Path | None = typer.Option(None, "--plot", help="Save the selection plot."),
    as_json: bool = typer.Option(False, "--json", help="Print the result table as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress."),
) -> None:
    """Simulate every design of a grid file under every scenario."""
    from cartrial.simulation.grid import load_grid, run_grid
    from cartrial.simulation.plot import plot_operating_characteristics

    chosen: Literal["local", "dask"] = "dask" if scheduler or backend == "dask" else "local"
    if backend not in ("local", "dask"):
        raise typer.BadParameter("--backend must be local or dask", param_hint="--backend")
    result = run_grid(load_grid(file), chosen, scheduler, progress=progress)
    frame = result.to_frame()
    if out is not None:
        frame.to_csv(out, index=False)
    if plot is not None:
        plot_operating_characteristics(frame).savefig(plot)
    if as_json:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        payload = {"design_parameters": result.design_parameters(), "results": records}
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    console.print(_grid_table(frame, chosen))
    for label, params in result.design_parameters().items():
        text = ", ".join(f"{k}={v}" for k, v in params.items())
        console.print(f"{label}: {text}", highlight=False)


def _grid_table(frame: pd.DataFrame, backend: str) -> Table:
    doses = [d for d in dict.fromkeys(frame["dose"]) if d != "none"]
    table = Table(title=f"Selection % per dose level (backend: {backend})")
    summary = ("PCS %", "at MTD %", "above MTD %", "overdose60 %", "mean N", "stop %")
    for column in ("scenario", "design", *doses, "none", *summary):
        table.add_column(column, justify="left" if column in ("scenario", "design") else "right")
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["scenario"]))}
    by_scenario = frame.sort_values("scenario", key=lambda s: s.map(order), kind="stable")
    for (scenario, design), part in by_scenario.groupby(["scenario", "design"], sort=False):
        pct = part.set_index("dose")["selection_pct"]
        cells = [
            "" if d not in pct or math.isnan(pct[d]) else f"{pct[d]:.1f}" for d in [*doses, "none"]
        ]
        first = part.iloc[0]
        keys = ("pcs_pct", "pct_patients_at_mtd", "pct_patients_above_mtd", "overdose60_pct")
        table.add_row(
            str(scenario),
            str(design),
            *cells,
            *[_num(first[key]) for key in keys],
            f"{first['mean_total_patients']:.1f}",
            f"{first['early_stop_pct']:.1f}",
        )
    return table
