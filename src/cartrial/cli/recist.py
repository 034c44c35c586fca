"""``cartrial recist``: RECIST 1.1 time-point and best overall response from a lesion table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from cartrial.cli.csvfile import ENCODING_OPTION, lines_for_rows, read_table
from cartrial.errors import RuleInputError
from cartrial.rules import recist

__all__ = ["recist_command", "register"]

_TIMEPOINT_SHOWN = (
    ("assessment_date", "Date"),
    ("day", "Day"),
    ("sum_of_diameters_mm", "SOD mm"),
    ("pct_change_from_baseline", "% BL"),
    ("pct_change_from_nadir", "% nadir"),
    ("target_response", "Target"),
    ("nontarget_response", "Non-target"),
    ("new_lesions", "New"),
    ("overall_response", "Overall"),
    ("rule", "Rule"),
    ("target_rule", "Target rule"),
)
_BEST_SHOWN = (
    ("subject_id", "Subject"),
    ("best_overall_response", "BOR"),
    ("confirmed", "Confirmed"),
    ("date_first_response", "First response"),
    ("date_progression", "Progression"),
    ("best_pct_change", "Best % change"),
    ("review_flag", "Review"),
    ("rule", "Rule"),
)


def _cell(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: tuple[tuple[str, str], ...], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for _, header in columns:
        table.add_column(header, overflow="fold", no_wrap=header not in ("Rule", "Target rule"))
    for row in frame[[name for name, _ in columns]].itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def _dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column].dtype):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def recist_command(
    lesions: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="Long lesion table (CSV): subject_id, "
        "assessment_date, lesion_id, category, organ, is_lymph_node, diameter_mm, status.",
    ),
    reference_dates: Path = typer.Option(
        ...,
        "--reference-dates",
        exists=True,
        dir_okay=False,
        help="CSV with subject_id and reference_date (or infusion_date): day 0 per subject.",
    ),
    confirm: bool = typer.Option(
        True, "--confirm/--no-confirm", help="Require CR/PR confirmation (RECIST 1.1 §4.4.1)."
    ),
    sd_min_days: int = typer.Option(
        42, "--sd-min-days", min=0, help="Minimum days from day 0 for SD to count."
    ),
    confirm_min_days: int = typer.Option(
        28, "--confirm-min-days", min=0, help="Minimum days from a response to its confirmation."
    ),
    ne_between: bool = typer.Option(
        True,
        "--ne-between/--no-ne-between",
        help="Allow NE assessments between a response and its confirmation.",
    ),
    summary: bool = typer.Option(
        False, "--summary", help="Print only the per-subject best-response table."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print both tables as JSON."),
    out: Path | None = typer.Option(
        None,
        "--out",
        dir_okay=False,
        help="Write the per-subject table to FILE.csv and the time points to FILE_timepoints.csv.",
    ),
    encoding: str | None = ENCODING_OPTION,
) -> None:
    """Evaluate RECIST 1.1 responses; every row names the rule that fired.

    Errors name the file and its line (the header is line 1).
    """
    where, lines = reference_dates, None
    try:
        dates = read_table(reference_dates, encoding)
        where = lesions
        table = read_table(lesions, encoding)
        lines = list(table.index)
        result = recist.evaluate(
            table.reset_index(drop=True),
            dates.reset_index(drop=True),
            confirm=confirm,
            sd_min_days=sd_min_days,
            confirm_min_days=confirm_min_days,
            allow_ne_between=ne_between,
        )
    except RuleInputError as error:
        message = str(error) if lines is None else lines_for_rows(str(error), lines)
        raise RuleInputError(f"{where}: {message}") from None
    if out is not None:
        result.best.to_csv(out, index=False)
        result.timepoints.to_csv(out.with_name(f"{out.stem}_timepoints.csv"), index=False)
    if as_json:
        payload = {
            "method": "RECIST 1.1",
            "parameters": {
                "confirm": confirm,
                "sd_min_days": sd_min_days,
                "confirm_min_days": confirm_min_days,
                "allow_ne_between": ne_between,
            },
            "timepoints": json.loads(_dates_as_text(result.timepoints).to_json(orient="records")),
            "best": json.loads(_dates_as_text(result.best).to_json(orient="records")),
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    console = Console()
    if not summary:
        best = result.best.set_index("subject_id")
        for subject, rows in result.timepoints.groupby("subject_id", sort=True):
            verdict = best.loc[subject]
            confirmed = " (confirmed)" if bool(verdict["confirmed"]) else ""
            console.print(
                _table(
                    rows,
                    _TIMEPOINT_SHOWN,
                    f"Subject {subject}: best overall response "
                    f"{verdict['best_overall_response']}{confirmed} - {verdict['rule']}",
                )
            )
    console.print(
        _table(
            result.best,
            _BEST_SHOWN,
            f"RECIST 1.1 best overall response (confirmation "
            f"{'required' if confirm else 'not required'}, >= {confirm_min_days} days; "
            f"SD from day {sd_min_days})",
        )
    )


def register(app: typer.Typer) -> None:
    """Attach the single ``recist`` command to the root app."""
    app.command("recist")(recist_command)
