"""``cartrial simulate``: operating characteristics of a design, or of a designs x scenarios grid.

``cartrial simulate --design crm --truth 0.05,0.10,0.20,0.30,0.45 --trials 100000`` (or
``cartrial simulate run ...``) simulates one design; ``cartrial simulate grid FILE.yaml`` runs a
scenario grid, locally or on a Dask cluster (``--scheduler ADDRESS``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import typer
from rich.console import Console
from rich.table import Table

from cartrial.designs import DESIGN_NAMES, make_design

if TYPE_CHECKING:
    import pandas as pd

    from cartrial.simulation import SimulationResult

__all__ = ["register"]


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


def _result_table(result: SimulationResult) -> Table:
    table = Table(title=f"{result.design}: operating characteristics ({result.method})")
    for column in ("dose", "true DLT rate", "selected %", "mean patients", "mean DLTs"):
        table.add_column(column, justify="right")
    for dose, row in enumerate(
        zip(
            result.true_tox,
            result.selection_pct,
            result.mean_patients,
            result.mean_dlts,
            strict=True,
        )
    ):
        tox, pct, patients, dlts = row
        table.add_row(str(dose), f"{tox:.3f}", f"{pct:.1f}", f"{patients:.2f}", f"{dlts:.2f}")
    table.add_row("none", "", f"{result.selection_none_pct:.1f}", "", "")
    return table


def _summary_lines(result: SimulationResult) -> list[str]:
    lines = [
        f"trials: {result.n_trials}   seed: {result.seed}",
        f"early stop (no dose selected): {result.early_stop_pct:.1f} %",
        f"mean patients: {result.mean_total_patients:.2f}   mean DLTs: {result.mean_total_dlts:.2f}"
        f"   mean expansion patients: {result.mean_expansion_patients:.2f}",
        f"mean duration: {result.mean_duration_months:.2f} months",
    ]
    lines += [f"{key}: {value}" for key, value in result.settings.items()]
    return lines


def _json_ready(result: SimulationResult) -> dict[str, object]:
    data = {k: v for k, v in asdict(result).items() if k != "trials"}
    data |= {
        "mean_total_patients": result.mean_total_patients,
        "mean_total_dlts": result.mean_total_dlts,
    }
    return data


def run(
    ctx: typer.Context,
    design: str = typer.Option("boin", "--design", help=f"One of: {', '.join(DESIGN_NAMES)}."),
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
    onset: str = typer.Option("uniform", "--onset", help="DLT onset: uniform or weibull."),
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
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Save a selection plot (PNG/PDF/SVG)."),
) -> None:
    """Simulate one design under one true dose-toxicity scenario."""
    if ctx.invoked_subcommand is not None:
        return
    if truth is None:
        if ctx.info_name == "run":
            raise typer.BadParameter("--truth is required", param_hint="--truth")
        typer.echo(ctx.get_help())
        raise typer.Exit()
    true_tox = _floats(truth, "--truth")
    kwargs: dict[str, object] = dict(_param(p) for p in param)
    if design.strip().lower() != "3+3":
        kwargs.setdefault("target", 0.3 if target is None else target)
    for key, value in (("cohort_size", cohort_size), ("n_cohorts", n_cohorts)):
        if value is not None:
            kwargs[key] = value
    from cartrial.simulation import Expansion, simulate
    from cartrial.simulation.engine import Coherence

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
        progress=not as_json and trials >= 200_000,
    )
    if keep_trials is not None and result.trials is not None:
        result.trials.to_csv(keep_trials, index=False)
    if plot is not None:
        from cartrial.simulation.plot import plot_selection

        plot_selection(result.to_frame()).savefig(plot)
    if as_json:
        typer.echo(json.dumps(_json_ready(result), indent=2))
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
    chosen: Literal["local", "dask"] = "dask" if scheduler or backend == "dask" else "local"
    if backend not in ("local", "dask"):
        raise typer.BadParameter("--backend must be local or dask", param_hint="--backend")
    from cartrial.simulation.grid import load_grid, run_grid

    result = run_grid(load_grid(file), chosen, scheduler, progress=progress and not as_json)
    frame = result.to_frame()
    if out is not None:
        frame.to_csv(out, index=False)
    if plot is not None:
        from cartrial.simulation.plot import plot_selection

        plot_selection(frame).savefig(plot)
    if as_json:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        typer.echo(json.dumps(records, indent=2))
        return
    Console().print(_grid_table(frame, chosen))


def _grid_table(frame: pd.DataFrame, backend: str) -> Table:
    doses = [d for d in dict.fromkeys(frame["dose"]) if d != "none"]
    table = Table(title=f"Selection % per dose (backend: {backend})")
    for column in ("scenario", "design", *[f"dose {d}" for d in doses], "none", "mean N", "stop %"):
        table.add_column(column, justify="left" if column in ("scenario", "design") else "right")
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["scenario"]))}
    by_scenario = frame.sort_values("scenario", key=lambda s: s.map(order), kind="stable")
    for (scenario, design), part in by_scenario.groupby(["scenario", "design"], sort=False):
        pct = part.set_index("dose")["selection_pct"]
        cells = [
            "" if d not in pct or math.isnan(pct[d]) else f"{pct[d]:.1f}" for d in [*doses, "none"]
        ]
        first = part.iloc[0]
        table.add_row(
            str(scenario),
            str(design),
            *cells,
            f"{first['mean_total_patients']:.1f}",
            f"{first['early_stop_pct']:.1f}",
        )
    return table
