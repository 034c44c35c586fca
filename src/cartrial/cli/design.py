"""``cartrial design``: decision tables, next-dose decisions, pathways and expansion calculators."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from cartrial.designs import CRM, DESIGN_NAMES, TITEBOIN, TITECRM, Decision, Design, make_design
from cartrial.designs.base import PendingPatient
from cartrial.designs.labels import default_dose_names, dose_index, name_dose_keys, name_doses
from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

    from cartrial.protocol import Protocol
    from cartrial.simulation.appendix import AppendixStudy

__all__ = ["register"]

JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")
DESIGN_OPT = typer.Option("boin", "--design", help=f"One of: {', '.join(DESIGN_NAMES)}.")
TARGET_OPT = typer.Option(None, "--target", help="Target DLT rate (default 0.3; not used by 3+3).")
DEFAULT_TARGET = 0.3
N_DOSES_OPT = typer.Option(None, "--n-doses", help="Number of dose levels.")
COHORT_OPT = typer.Option(None, "--cohort-size", help="Patients per cohort.")
N_COHORTS_OPT = typer.Option(None, "--n-cohorts", help="Maximum number of cohorts.")
SKELETON_OPT = typer.Option(None, "--skeleton", help="CRM skeleton, comma-separated.")
TABLE_OPT = typer.Option(None, "--table", help="Decision-table CSV (rows y, columns n).")
PARAM_OPT = typer.Option(
    [], "--param", help="Any other design parameter as KEY=VALUE (repeatable)."
)
N_OPT = typer.Option(..., "--n", help="Patients treated per dose, comma-separated.")
DLT_OPT = typer.Option(..., "--dlt", help="DLTs per dose, comma-separated.")
CURRENT_OPT = typer.Option(
    ..., "--current", help="Dose level of the last cohort, by its name (e.g. DL1)."
)
DOSES_OPT = typer.Option(
    None,
    "--doses",
    help="Names of the dose levels, comma-separated, lowest first. Default: the names of "
    "--protocol (else the packaged study protocol) when it has as many levels, else DL1, DL2, ...",
)
PROTOCOL_OPT = typer.Option(
    None, "--protocol", help="Protocol YAML whose dose level names to use (default: packaged)."
)

_BOUNDARY_ROWS = {
    "escalate_if_dlt_le": "Escalate if # of DLT <=",
    "deescalate_if_dlt_ge": "De-escalate if # of DLT >=",
    "eliminate_if_dlt_ge": "Eliminate if # of DLT >=",
}


def register(app: typer.Typer) -> None:
    """Attach the ``design`` command group to the root app."""
    group = typer.Typer(help="Dose-finding designs and expansion rules.", no_args_is_help=True)
    group.command("table")(table)
    group.command("next")(next_dose)
    group.command("pathways")(pathways)
    group.command("simon")(simon)
    group.command("monitor")(monitor)
    group.command("appendix")(appendix)
    app.add_typer(group, name="design")


def _dose_names(n_doses: int, doses: str | None, protocol: Path | None) -> tuple[str, ...]:
    """The names of ``n_doses`` levels: ``--doses``, else the protocol's, else DL1...DLk."""
    if doses:
        names = tuple(part.strip() for part in doses.split(",") if part.strip())
        if len(names) != n_doses or len({n.upper() for n in names}) != n_doses:
            raise typer.BadParameter(
                f"needs {n_doses} distinct names (one per dose), got {doses!r}",
                param_hint="--doses",
            )
        return names
    from cartrial.protocol import load_protocol

    levels = tuple(level.name for level in load_protocol(protocol).dose_levels)
    if protocol is not None and len(levels) != n_doses:
        raise typer.BadParameter(
            f"{protocol} defines {len(levels)} dose levels ({', '.join(levels)}), the data "
            f"have {n_doses}",
            param_hint="--protocol",
        )
    return levels if len(levels) == n_doses else default_dose_names(n_doses)


def _ints(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{name} must be comma-separated whole numbers: {text!r}"
        ) from None


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{name} must be comma-separated numbers: {text!r}") from None


def _value(text: str) -> float | int | bool | str | list[float]:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    if "," in text:
        return [float(part) for part in text.split(",")]
    return text


def _pending(text: str | None, names: Sequence[str]) -> list[PendingPatient]:
    """``DOSE:FRACTION`` pairs, comma-separated, doses by name (e.g. ``DL1:0.5,DL1:0.75``)."""
    if not text:
        return []
    pairs = []
    for item in text.split(","):
        dose, _, fraction = item.rpartition(":")
        try:
            pairs.append((dose_index(dose, names), float(fraction)))
        except (ValueError, DesignError) as exc:
            raise typer.BadParameter(
                f"needs DOSE:FRACTION pairs with a dose name, got {item!r} ({exc})",
                param_hint="--pending",
            ) from None
    return pairs


def _last_cohort(text: str | None) -> tuple[int, int] | None:
    """``DLTS/PATIENTS`` (e.g. ``1/3``) as ``(patients, DLTs)``."""
    if not text:
        return None
    toxic, _, size = text.partition("/")
    try:
        return int(size), int(toxic)
    except ValueError:
        raise typer.BadParameter(f"--last-cohort needs DLTS/PATIENTS, got {text!r}") from None


def _build(
    design: str,
    n_doses: int,
    target: float | None,
    cohort_size: int | None,
    n_cohorts: int | None,
    skeleton: str | None,
    table_file: Path | None,
    params: list[str],
) -> Design:
    kwargs: dict[str, object] = {}
    if design.strip().lower() != "3+3":
        kwargs["target"] = DEFAULT_TARGET if target is None else target
    if cohort_size is not None:
        kwargs["cohort_size"] = cohort_size
    if n_cohorts is not None:
        kwargs["n_cohorts"] = n_cohorts
    if skeleton:
        kwargs["skeleton"] = [float(part) for part in skeleton.split(",")]
    if table_file is not None:
        import pandas as pd

        grid = pd.read_csv(table_file, index_col=0, comment="#", dtype=str).fillna("")
        kwargs["table"] = {int(col): tuple(grid[col].iloc[: int(col) + 1]) for col in grid.columns}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param needs KEY=VALUE, got {item!r}")
        kwargs[key.strip().replace("-", "_")] = _value(value)
    return make_design(design, n_doses=n_doses, **kwargs)


def _frame_json(frame: pd.DataFrame) -> str:
    return json.dumps(json.loads(frame.to_json(orient="records")), indent=2)


def _print_frame(frame: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    for column in frame.columns:
        view.add_column(str(column))
    for row in frame.itertuples(index=False):
        view.add_row(*[_cell(v) for v in row])
    Console().print(view)


def _emit_frame(frame: pd.DataFrame, shown: pd.DataFrame, title: str, as_json: bool) -> None:
    """``frame`` as JSON records with ``--json``, else ``shown`` (its display form) as a table."""
    if as_json:
        typer.echo(_frame_json(frame))
    else:
        _print_frame(shown, title)


def _cell(value: object) -> str:
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(
    design: str = DESIGN_OPT,
    target: float | None = TARGET_OPT,
    n_doses: int = typer.Option(5, "--n-doses", help="Number of dose levels."),
    cohort_size: int | None = COHORT_OPT,
    n_cohorts: int | None = N_COHORTS_OPT,
    skeleton: str | None = SKELETON_OPT,
    table_file: Path | None = TABLE_OPT,
    params: list[str] = PARAM_OPT,
    max_n: int | None = typer.Option(None, "--max-n", help="Largest number treated shown."),
    grid: bool = typer.Option(False, "--grid", help="Show every (n, y) cell: E, S, D, DU."),
    cohorts: int = typer.Option(
        2, "--cohorts", help="CRM/TITE-CRM: cohorts of dose transition pathways shown (1-3)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Print the design's decision table as a protocol appendix shows it, with its footnotes.

    Count designs print the boundaries (with lambda_e/lambda_d and the elimination rule in the
    notes); TITE-BOIN adds its rules with pending patients; CRM and TITE-CRM, which have no fixed
    table, print the dose transition pathways of the first cohorts.
    """
    from cartrial.designs.decision_tables import decision_tables

    built = _build(design, n_doses, target, cohort_size, n_cohorts, skeleton, table_file, params)
    tables = decision_tables(built, max_n=max_n, grid=grid, cohorts=cohorts)
    if as_json:
        payload: dict[str, object] = {
            "design": design,
            "notes": list(tables.notes),
            "table": json.loads(tables.table.reset_index().to_json(orient="records"))
            if grid
            else json.loads(tables.table.to_json(orient="records")),
        }
        if tables.pending is not None:
            payload["pending_table"] = json.loads(tables.pending.to_json(orient="records"))
        typer.echo(json.dumps(payload, indent=2))
        return
    title = f"{design} {tables.title}"
    frame = tables.table
    if grid:
        _print_frame(frame.reset_index().rename(columns={"dlt": "DLTs \\ n"}), title)
    elif set(_BOUNDARY_ROWS) <= set(frame.columns):
        _print_boundaries(frame, title)
    elif "path" in frame.columns:
        _print_frame(frame.drop(columns=["reason", "parent"]), title)
    else:
        _print_frame(frame, title)
    if tables.pending is not None:
        pending = tables.pending[["n_treated", "dlt", "pending", "decision"]]
        _print_frame(pending, f"{design}: decisions with pending patients (STFT: notes)")
    console = Console()
    for k, note in enumerate(tables.notes, start=1):
        console.print(f"({k}) {note}", highlight=False)


def _print_boundaries(frame: pd.DataFrame, title: str) -> None:
    """The count table as protocol appendices print it, in blocks that fit the terminal."""
    import pandas as pd

    console = Console()
    label_width = 28
    per_block = max(1, (console.width - label_width - 4) // 5)
    for start in range(0, len(frame), per_block):
        block = frame.iloc[start : start + per_block]
        view = Table(title=title if start == 0 else None)
        view.add_column("Number of patients treated", no_wrap=True)
        for n in block["n_treated"]:
            view.add_column(str(n), justify="right", no_wrap=True)
        for column, label in _BOUNDARY_ROWS.items():
            view.add_row(label, *["NA" if pd.isna(v) else str(v) for v in block[column]])
        if "otherwise" in block.columns:
            view.add_row("Otherwise", *[str(v) for v in block["otherwise"]])
        console.print(view)


def _decision_json(decision: Decision, names: Sequence[str]) -> str:
    payload = {
        "action": decision.action,
        "next_dose": None if decision.next_dose is None else names[decision.next_dose],
        "eliminated": [names[d] for d in decision.eliminated],
        "reason": name_doses(decision.reason, names),
        "suspended": decision.suspended,
        "details": name_dose_keys(decision.details, names),
        "doses": list(names),
    }
    return json.dumps(payload, indent=2)


def next_dose(
    design: str = DESIGN_OPT,
    n: str = N_OPT,
    dlt: str = DLT_OPT,
    current: str = CURRENT_OPT,
    doses: str | None = DOSES_OPT,
    protocol: Path | None = PROTOCOL_OPT,
    pending: str | None = typer.Option(
        None,
        "--pending",
        help="TITE designs: DOSE:FRACTION per pending patient, comma-separated (DL1:0.5).",
    ),
    last_cohort: str | None = typer.Option(
        None,
        "--last-cohort",
        help="CRM designs: DLTS/PATIENTS of the last cohort (e.g. 1/3), for dfcrm's coherence.",
    ),
    dlt_followup: str | None = typer.Option(
        None,
        "--dlt-followup",
        help="TITE-CRM with scheme=adaptive: followed fraction of the window at each observed "
        "DLT, comma-separated (0.3,0.7).",
    ),
    target: float | None = TARGET_OPT,
    cohort_size: int | None = COHORT_OPT,
    n_cohorts: int | None = N_COHORTS_OPT,
    skeleton: str | None = SKELETON_OPT,
    table_file: Path | None = TABLE_OPT,
    params: list[str] = PARAM_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """The next-dose decision for the data so far (the number of doses is read off --n)."""
    counts, dlts = _ints(n, "--n"), _ints(dlt, "--dlt")
    names = _dose_names(len(counts), doses, protocol)
    at = _current(current, names)
    built = _build(
        design, len(counts), target, cohort_size, n_cohorts, skeleton, table_file, params
    )
    waiting = _pending(pending, names)
    last = _last_cohort(last_cohort)
    if waiting and not isinstance(built, TITEBOIN | TITECRM):
        raise typer.BadParameter(f"--pending needs a TITE design, not {design!r}")
    if last is not None and not isinstance(built, CRM):
        raise typer.BadParameter(f"--last-cohort needs a CRM design, not {design!r}")
    onsets = None if dlt_followup is None else _floats(dlt_followup, "--dlt-followup")
    if onsets is not None and not isinstance(built, TITECRM):
        raise typer.BadParameter(f"--dlt-followup needs TITE-CRM, not {design!r}")
    if isinstance(built, TITECRM):
        decision = built.decide(counts, dlts, at, waiting, last_cohort=last, dlt_followup=onsets)
    elif isinstance(built, CRM):
        decision = built.decide(counts, dlts, at, last_cohort=last)
    elif isinstance(built, TITEBOIN):
        decision = built.decide(counts, dlts, at, pending_followup=waiting)
    else:
        decision = built.decide(counts, dlts, at)
    if as_json:
        typer.echo(_decision_json(decision, names))
        return
    colour = "red" if decision.action == "stop" else "green"
    where = "-" if decision.next_dose is None else names[decision.next_dose]
    console = Console()
    console.print(
        f"[bold {colour}]{decision.action}[/bold {colour}] -> next dose {where}"
        + (" [yellow](accrual suspended)[/yellow]" if decision.suspended else ""),
        highlight=False,
    )
    console.print(f"reason: {name_doses(decision.reason, names)}", highlight=False)
    if decision.eliminated:
        console.print(f"eliminated doses: {', '.join(names[d] for d in decision.eliminated)}")


def _current(text: str, names: Sequence[str]) -> int:
    try:
        return dose_index(text, names)
    except DesignError as exc:
        raise typer.BadParameter(str(exc), param_hint="--current") from None


def pathways(
    design: str = DESIGN_OPT,
    n: str = N_OPT,
    dlt: str = DLT_OPT,
    current: str = CURRENT_OPT,
    doses: str | None = DOSES_OPT,
    protocol: Path | None = PROTOCOL_OPT,
    cohorts: int = typer.Option(2, "--cohorts", help="Future cohorts to enumerate (1-3)."),
    target: float | None = TARGET_OPT,
    cohort_size: int | None = COHORT_OPT,
    n_cohorts: int | None = N_COHORTS_OPT,
    skeleton: str | None = SKELETON_OPT,
    table_file: Path | None = TABLE_OPT,
    params: list[str] = PARAM_OPT,
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the tree to this file."),
    as_json: bool = JSON_OPT,
) -> None:
    """Every outcome of the next cohorts and the dose level each leads to."""
    import pandas as pd

    from cartrial.designs.pathways import dose_transition_pathways

    counts, dlts = _ints(n, "--n"), _ints(dlt, "--dlt")
    names = _dose_names(len(counts), doses, protocol)
    at = _current(current, names)
    built = _build(
        design, len(counts), target, cohort_size, n_cohorts, skeleton, table_file, params
    )
    frame = dose_transition_pathways(built, n=counts, dlt=dlts, current=at, cohorts=cohorts)
    if plot is not None:
        from cartrial.designs.pathways_plot import plot_pathways

        title = f"{design}: dose transition pathways"
        plot_pathways(frame, title=title, dose_labels=names).savefig(plot, dpi=150)
    named = frame.assign(
        dose=[names[d] for d in frame["dose"]],
        next_dose=pd.Series(
            [None if pd.isna(d) else names[int(d)] for d in frame["next_dose"]],
            index=frame.index,
            dtype=object,
        ),
        reason=[name_doses(r, names) for r in frame["reason"]],
    )
    shown = named.drop(columns=["reason", "parent"]).rename(
        columns={
            "path": "DLTs per cohort",
            "n_dlt": "DLTs",
            "n_at_dose": "n at dose",
            "dlt_at_dose": "DLTs at dose",
            "next_dose": "next",
        }
    )
    _emit_frame(named, shown, f"{design}: dose transition pathways", as_json)
    if plot is not None and not as_json:
        Console().print(f"tree written to {plot}")


def simon(
    p0: float = typer.Option(..., "--p0", help="Uninteresting response rate."),
    p1: float = typer.Option(..., "--p1", help="Target response rate."),
    alpha: float = typer.Option(0.05, "--alpha", help="Type I error."),
    beta: float = typer.Option(0.2, "--beta", help="Type II error (1 - power)."),
    n_max: int = typer.Option(100, "--n-max", help="Largest total sample size searched."),
    as_json: bool = JSON_OPT,
) -> None:
    """Simon two-stage optimal and minimax designs."""
    from cartrial.designs.expansion import simon_two_stage

    frame = simon_two_stage(p0, p1, alpha, beta, n_max=n_max).to_frame()
    _emit_frame(
        frame,
        frame.round(4).rename(columns={"expected_n0": "EN(p0)", "pet0": "PET(p0)"}),
        f"Simon two-stage: p0 = {p0}, p1 = {p1}, alpha = {alpha}, beta = {beta}",
        as_json,
    )


def monitor(
    limit: float = typer.Option(..., "--limit", help="Unacceptable DLT rate."),
    threshold: float = typer.Option(0.9, "--threshold", help="Posterior probability to stop."),
    prior_a: float = typer.Option(1.0, "--prior-a", help="Beta prior a."),
    prior_b: float = typer.Option(1.0, "--prior-b", help="Beta prior b."),
    n_max: int = typer.Option(20, "--n-max", help="Expansion size."),
    n_min: int = typer.Option(3, "--n-min", help="First number of patients shown."),
    as_json: bool = JSON_OPT,
) -> None:
    """Expansion toxicity stopping boundary (stop if Pr(DLT rate > limit | data) > threshold)."""
    from cartrial.designs.expansion import toxicity_monitoring_boundary

    frame = toxicity_monitoring_boundary(
        limit, threshold, prior_a=prior_a, prior_b=prior_b, n_max=n_max, n_min=n_min
    )
    _emit_frame(
        frame,
        frame.round(4),
        f"Stop if Pr(p > {limit}) > {threshold}, Beta({prior_a}, {prior_b})",
        as_json,
    )


def appendix(
    protocol: Path = typer.Option(..., "--protocol", help="Study protocol YAML file."),
    scenarios: Path = typer.Option(
        ..., "--scenarios", help="Scenarios YAML (see examples/appendix-scenarios.yaml)."
    ),
    out: Path = typer.Option(..., "--out", help="Directory for appendix.html and appendix.pdf."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address: simulate on that cluster."
    ),
) -> None:
    """Write the protocol's statistical appendix (design, decision rules, OC) as HTML and PDF."""
    from cartrial.protocol import load_protocol
    from cartrial.report.pdf import write_pdf
    from cartrial.simulation.appendix import build_appendix, load_scenarios, write_appendix

    study = appendix_study(load_protocol(protocol))
    built = build_appendix(study, load_scenarios(scenarios), scheduler=scheduler, progress=True)
    paths = write_appendix(built, out, write_pdf)
    console = Console()
    for kind, path in paths.items():
        console.print(f"{kind}: {path}", highlight=False)


def appendix_study(protocol: Protocol) -> AppendixStudy:
    """What the statistical appendix needs from the protocol, as plain values."""
    from cartrial.simulation.appendix import AppendixStudy, DoseLevelText

    esc = protocol.escalation
    return AppendixStudy(
        study_id=protocol.study.id,
        title=protocol.study.title,
        version=protocol.study.version,
        sponsor=protocol.study.sponsor,
        product=protocol.study.product,
        dlt_window_days=float(protocol.dlt.window_days),
        target_dlt_rate=float(esc.target_dlt_rate),
        dose_levels=tuple(
            DoseLevelText(level.name, level.label, str(level.unit))
            for level in protocol.dose_levels
        ),
        design_name=esc.design.name,
        design_params=dict(esc.design.params),
        start_dose=esc.start_dose,
        cohort_size=esc.cohort_size,
        max_subjects=esc.max_subjects,
    )
