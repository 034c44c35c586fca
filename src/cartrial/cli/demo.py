"""``cartrial demo``: run the whole study in silico, write the report, print the headlines."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from cartrial.demo import DemoResult

__all__ = ["demo_command", "register"]


def register(app: typer.Typer) -> None:
    """Attach the ``demo`` command to the root app."""
    app.command("demo")(demo_command)


def _months(value: float, ci: tuple[float, float]) -> str:
    def show(x: float) -> str:
        return "NR" if math.isnan(x) else f"{x:.1f}"

    return f"{show(value)} months (95% CI {show(ci[0])} to {show(ci[1])})"


def demo_command(
    out: Path = typer.Option(
        Path("demo-output"), "--out", help="Directory for the database and report."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the virtual patients (same seed, same study)."
    ),
    design: str | None = typer.Option(
        None,
        "--design",
        help="Escalation design (3+3, boin, tite-boin, crm, tite-crm, mtpi2, keyboard, i3+3); "
        "default: the protocol's.",
    ),
    protocol: Path | None = typer.Option(
        None, "--protocol", help="Protocol file to conduct (default: the packaged study protocol)."
    ),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also print the report to PDF."),
    as_json: bool = typer.Option(False, "--json", help="Print the headline results as JSON."),
    serve_after: bool = typer.Option(
        False,
        "--serve",
        help="Then serve the web application on the demo's database (cartrial serve; "
        "Ctrl-C stops it).",
    ),
    port: int = typer.Option(8000, "--port", help="TCP port of --serve (on 127.0.0.1)."),
) -> None:
    """Conduct the CLDN18.2/PD-L1 CAR-T study with virtual patients, then write the report.

    With ``--serve``, the web application then runs on the demo's database: the headlines and
    the demo users are printed first, with the address to open.
    """
    from cartrial.demo import DEFAULT_SEED, run_demo

    console = Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as bar:
        task = bar.add_task("setting up", total=1.0)
        result = run_demo(
            out,
            seed=DEFAULT_SEED if seed is None else seed,
            design=design,
            protocol_path=protocol,
            pdf=pdf,
            progress=lambda done, message: bar.update(task, completed=done, description=message),
        )
    s = result.summary
    report_path = result.report.html_path if result.report is not None else None
    if as_json:
        payload = {
            "database": str(result.database),
            "report": str(report_path) if report_path else None,
            "design": s.design,
            "mtd": s.mtd,
            "rp2d": s.rp2d,
            "stop_reason": s.stop_reason,
            "dlt_by_dose": s.dlt_by_dose[
                ["dose_level", "dlt_evaluable_n", "subjects_with_dlt"]
            ].to_dict("records"),
            "orr": s.orr,
            "orr_ci95": list(s.orr_ci95),
            "pfs_median_months": s.pfs_median_months,
            "os_median_months": s.os_median_months,
            "screened": s.n_screened,
            "enrolled": s.n_enrolled,
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        _print_headlines(console, result, out, port)
    if serve_after:
        from cartrial.cli.serve import serve

        serve(
            db=str(result.database),
            study=result.trial.protocol.study_id,
            host="127.0.0.1",
            port=port,
            workers=1,
        )


def _print_headlines(console: Console, result: DemoResult, out: Path, port: int) -> None:
    """The demo's headline results and where to look further (the web line on ``port``)."""
    from cartrial.demo import TRUTH_CSV
    from cartrial.demo.study import PASSWORD as DEMO_PASSWORD

    s = result.summary
    report_path = result.report.html_path if result.report is not None else None
    console.print(
        f"\n[bold]Study conducted in silico[/bold] (design {s.design}): {s.n_screened} screened, "
        f"{s.n_screen_failures} not enrolled, {s.n_enrolled} enrolled, {s.n_infused} infused, "
        f"{s.n_deaths} deaths"
    )
    console.print(f"MTD: [bold]{s.mtd or 'none'}[/bold]   RP2D: [bold]{s.rp2d or 'none'}[/bold]")
    if s.stop_reason:
        console.print(f"Stopped early: {s.stop_reason}")
    table = Table(title="DLTs per dose level (DLT-evaluable subjects)")
    for column in ("dose level", "dose", "evaluable", "with DLT", "rate (95% CI)"):
        table.add_column(column)
    for row in s.dlt_by_dose.to_dict("records"):
        table.add_row(
            str(row["dose_level"]),
            str(row["dose"]),
            str(row["dlt_evaluable_n"]),
            str(row["subjects_with_dlt"]),
            f"{row['dlt_rate_pct']}% ({row['ci95_lower_pct']}-{row['ci95_upper_pct']}%)",
        )
    console.print(table)
    console.print(
        f"ORR: {s.orr_responders}/{s.orr_n} = {s.orr:.1%} "
        f"(95% CI {s.orr_ci95[0]:.1%} to {s.orr_ci95[1]:.1%}, Clopper-Pearson)"
    )
    console.print(f"Median PFS: {_months(s.pfs_median_months, s.pfs_ci95_months)}")
    console.print(f"Median OS:  {_months(s.os_median_months, s.os_ci95_months)}")
    console.print("\n[bold]Look further[/bold]")
    console.print(f"  report:    {report_path}")
    console.print(f"  database:  {result.database}")
    console.print(f"  CDISC:     {out / 'sdtm'} and {out / 'adam'} (XPT v5, define.xml/.html)")
    console.print(f"  truth:     {out / TRUTH_CSV} (the virtual patients' true outcomes)")
    console.print(f"  re-report: cartrial report --db {result.database} --out {out / 'report'}")
    console.print(f"  audit:     cartrial audit verify --db {result.database}")
    console.print(
        f"  web:       cartrial serve --db {result.database} --port {port}   then "
        f"http://127.0.0.1:{port}/ "
        f"as pi, dsmb, dm, inv.s01 or crc.s01 (password {DEMO_PASSWORD})"
    )
