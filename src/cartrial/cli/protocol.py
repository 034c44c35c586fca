"""``cartrial protocol``: show and validate a study protocol file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from cartrial.cli.layout import MARK, print_table
from cartrial.protocol import Protocol, load_protocol
from cartrial.protocol.schedule import ASSESSMENTS

__all__ = ["register", "render_protocol"]

FILE_ARG = typer.Argument(None, help="Protocol YAML file (default: the packaged study).")
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")


def register(app: typer.Typer) -> None:
    """Attach the ``protocol`` command group to the root app."""
    group = typer.Typer(help="Show and validate study protocol files.", no_args_is_help=True)
    group.command("show")(show)
    group.command("validate")(validate)
    app.add_typer(group, name="protocol")


def show(file: Path | None = FILE_ARG, as_json: bool = JSON_OPT) -> None:
    """Render the study: phases, doses, DLT rules, schedule of assessments, endpoints."""
    protocol = load_protocol(file)
    if as_json:
        typer.echo(json.dumps(protocol.model_dump(mode="json"), indent=2))
        return
    render_protocol(protocol, Console())


def validate(
    file: Path = typer.Argument(..., help="Protocol YAML file."), as_json: bool = JSON_OPT
) -> None:
    """Check a protocol file; list every error with its YAML path and line; exit 2 if any."""
    protocol = load_protocol(file)
    if as_json:
        typer.echo(json.dumps({"file": str(file), "valid": True, "errors": []}))
    else:
        Console().print(
            f"[green]{file}: valid[/green] ({protocol.study_id} version {protocol.version})"
        )


def render_protocol(p: Protocol, console: Console) -> None:
    """Print the study at a glance: one panel or table per part of the protocol."""
    s = p.study
    console.print(
        Panel(
            f"[bold]{s.title}[/bold]\n{s.id} · phase {s.phase} · protocol version {s.version}\n"
            f"Product: {s.product} ({p.treatment.route}, {p.treatment.infusions} infusion)\n"
            f"Indications: {', '.join(s.indications)}",
            title="Study",
        )
    )
    console.print(_eligibility_table(p))
    _doses_table(p, console)
    esc, exp = p.escalation, p.expansion
    mon = exp.tox_monitoring
    console.print(
        Panel(
            f"Escalation: {esc.planned_subjects} planned (max {esc.max_subjects}), cohorts of "
            f"{esc.cohort_size}, start {esc.start_dose}, design [bold]{esc.design.name}[/bold] "
            f"{dict(esc.design.params) or ''} target DLT rate {esc.target_dlt_rate:g}\n"
            f"Expansion: {exp.planned_subjects} planned at the RP2D, opened by the {exp.opened_by}"
            f"{' once the DLT window has closed' if exp.requires_dlt_window_closed else ''}; "
            f"stop if P(DLT rate > {mon.limit:g}) > {mon.threshold:g} "
            f"(Beta({mon.prior_a:g}, {mon.prior_b:g}) prior); "
            f"futility {exp.futility.method} p0={exp.futility.p0:g} p1={exp.futility.p1:g}",
            title="Phases",
        )
    )
    _dlt_table(p, console)
    _print_schedule(p, console)
    _endpoints_table(p, console)


def _eligibility_table(p: Protocol) -> Table:
    e = p.eligibility
    table = Table(title="Eligibility (inclusion)", show_header=False)
    rows = [
        ("Age", f"{e.age_min}-{e.age_max} years"),
        ("Histology", ", ".join(e.histologies)),
        (
            "CLDN18.2 IHC",
            f">= {e.cldn18_ihc.min_pct_tumour_cells:g} % tumour cells at >= "
            f"{e.cldn18_ihc.min_intensity}+",
        ),
        (
            "Prior therapy",
            f">= {e.min_prior_lines} line(s), refractory: {e.refractory_to_standard_therapy}",
        ),
        ("ECOG", f"<= {e.ecog_max}"),
        ("Measurable disease", "RECIST 1.1"),
        (
            "Organ function",
            f"ANC >= {e.anc_min_1e9_l:g}x10^9/L, platelets >= {e.platelets_min_1e9_l:g}x10^9/L, "
            f"Hb >= {e.hemoglobin_min_g_dl:g} g/dL, CrCl >= {e.creatinine_clearance_min_ml_min:g} "
            f"mL/min, ALT <= {e.alt_max_x_uln:g}xULN, bilirubin <= {e.bilirubin_max_x_uln:g}xULN",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _doses_table(p: Protocol, console: Console) -> None:
    start = p.escalation.start_dose
    print_table(
        console,
        f"Treatment: {p.treatment.lymphodepletion_regimen}, then CAR-T on day 0",
        ("dose level", "cells", "unit", "tolerance", "set by", "source"),
        (
            (
                level.name + (" (start)" if level.name == start else ""),
                level.label,
                level.unit,
                f"±{level.tolerance_pct:g} %",
                level.set_by,
                level.source,
            )
            for level in p.dose_levels
        ),
    )


def _dlt_table(p: Protocol, console: Console) -> None:
    d = p.dlt
    print_table(
        console,
        f"DLT: onset within {d.window_days} days, attribution >= {d.min_attribution}",
        ("kind", "id", "rule"),
        [
            *(("DLT if", rule.id, rule.description) for rule in d.criteria),
            *(("not a DLT", exclusion.id, exclusion.description) for exclusion in d.exclusions),
        ],
        keys=2,
    )


def _print_schedule(p: Protocol, console: Console) -> None:
    """The schedule of assessments: a visit x assessment grid, or one line per visit if narrow."""
    visits = p.schedule.expanded()
    used = [a for a in ASSESSMENTS if any(a in v.assessments for v in visits)]
    columns = ["visit", "day", "window", *(a.replace("_", " ") for a in used)]
    rows = [
        [
            v.name,
            str(v.day),
            f"-{v.window_before}/+{v.window_after}",
            *(MARK if a in v.assessments else "" for a in used),
        ]
        for v in visits
    ]
    title = f"Schedule of assessments (follow-up {p.schedule.follow_up_days} days)"
    justify = ["left", "right", "left", *(["center"] * len(used))]
    print_table(console, title, columns, rows, justify=justify)


def _endpoints_table(p: Protocol, console: Console) -> None:
    print_table(
        console,
        "Endpoints",
        ("kind", "endpoint", "population", "time frame", "definition"),
        ((e.kind, e.name, e.population, e.time_frame, e.definition) for e in p.endpoints),
        keys=2,
    )
