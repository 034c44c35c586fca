"""``cartrial grade``: CTCAE v5.0 lab grades, ASTCT 2019 CRS and ICANS grades from CSV files.

Each command reads a CSV (``#`` lines are comments), grades every row with
:mod:`cartrial.rules.ctcae` or :mod:`cartrial.rules.cart_tox`, and prints a table naming the
rule that fired; ``--json`` prints the rows as JSON, ``--out FILE.csv`` saves them. Rows are
numbered by their line in the file (the header is line 1), as every cartrial message numbers
them; a malformed file is reported with the file, every bad line (up to 100) and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from cartrial.cli.csvfile import ENCODING_OPTION, MAX_LISTED, read_table
from cartrial.cli.layout import print_table
from cartrial.errors import RuleInputError
from cartrial.failing_rows import failing_rows, without_row_prefix
from cartrial.rules import cart_tox, ctcae
from cartrial.services.plausibility import check_lab_values

__all__ = ["crs_command", "icans_command", "labs_command", "register"]

_FILE = typer.Argument(..., exists=True, dir_okay=False, help="Input table (CSV).")
_JSON = typer.Option(False, "--json", help="Print the graded rows as JSON.")
_OUT = typer.Option(None, "--out", dir_okay=False, help="Write the graded rows to FILE.csv.")
_LIMIT = typer.Option(200, "--limit", min=1, help="Rows shown in the terminal table.")

_LAB_RULES = {
    ctcae.NO_CRITERION: "no criterion met",
    ctcae.CLINICAL: f"no numeric CTCAE v{ctcae.CTCAE_VERSION} criteria: grade clinically",
}


def _graded_or_every_error(
    grade: Callable[[pd.DataFrame], pd.DataFrame], rows: pd.DataFrame
) -> pd.DataFrame:
    """Grade ``rows``; if the rules reject it, name every line they reject on its own."""
    try:
        return grade(rows)
    except RuleInputError as whole:
        bad = failing_rows(range(len(rows)), lambda part: grade(rows.iloc[part]), RuleInputError)
        same = len({str(exc) for _, exc in bad}) == 1
        if not bad or (len(rows) > 1 and len(bad) == len(rows) and same):
            raise  # an error of the table (a missing column), or between rows
        listed = [
            f"line {rows.index[position]}: {without_row_prefix(str(exc))}"
            for position, exc in bad[:MAX_LISTED]
        ]
        if len(bad) > MAX_LISTED:
            listed.append(f"... and {len(bad) - MAX_LISTED} more bad line(s)")
        raise RuleInputError(f"{len(bad)} bad line(s)\n  " + "\n  ".join(listed)) from whole


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads(frame.to_json(orient="records"))
    return records


def _show(frame: pd.DataFrame, columns: list[str], title: str, limit: int) -> None:
    console = Console()
    rows = [
        [str(label), *("-" if pd.isna(v) else str(v) for v in row)]
        for label, row in frame[columns].head(limit).iterrows()
    ]
    justify = ["right", *["left"] * len(columns)]
    header = ["Line", *columns]
    print_table(console, title, header, rows, justify=justify, heading=_row_heading)
    if len(frame) > limit:
        console.print(f"... {len(frame) - limit} more rows (use --out or --json)")


def _row_heading(row: Sequence[str]) -> str:
    """``line 3 · S01-001``: the file's line number, then the subject when there is one."""
    return " · ".join([f"line {row[0]}", *row[1:2]])


def _emit(
    graded: pd.DataFrame,
    columns: list[str],
    *,
    title: str,
    method: str,
    as_json: bool,
    out: Path | None,
    limit: int,
    courses: pd.DataFrame | None = None,
) -> None:
    if out is not None:
        graded.to_csv(out, index_label="line")
        if courses is not None:
            courses.to_csv(out.with_name(f"{out.stem}_courses.csv"), index=False)
    if as_json:
        payload: dict[str, object] = {"method": method, "rows": _records(graded.reset_index())}
        if courses is not None:
            payload["courses"] = _records(courses)
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    _show(graded, [c for c in columns if c in graded.columns], title, limit)
    if courses is not None:
        rows = [
            ["-" if pd.isna(v) else str(v) for v in row] for row in courses.itertuples(index=False)
        ]
        print_table(Console(), "Courses (daily maximum grade)", list(courses.columns), rows)


def _courses(graded: pd.DataFrame) -> pd.DataFrame | None:
    if {"subject_id", "day"} <= set(graded.columns):
        return cart_tox.summarise_courses(graded)
    return None


def _grade_file(
    file: Path,
    grade: Callable[[pd.DataFrame], pd.DataFrame],
    columns: list[str],
    *,
    with_courses: bool,
    title: str,
    method: str,
    as_json: bool,
    out: Path | None,
    limit: int,
    encoding: str | None,
) -> None:
    """Grade the rows of ``file``, with ``with_courses`` also each course where it can; emit."""
    try:
        graded = _graded_or_every_error(grade, read_table(file, encoding))
        courses = _courses(graded) if with_courses else None
    except RuleInputError as exc:
        raise RuleInputError(f"{file}: {exc}") from None
    _emit(
        graded,
        columns,
        title=title,
        method=method,
        as_json=as_json,
        out=out,
        limit=limit,
        courses=courses,
    )


def _number(text: object) -> float | None:
    try:
        return float(str(text)) if str(text).strip() else None
    except ValueError:
        return None


def _check_plausible(rows: pd.DataFrame) -> None:
    """Refuse lab values no living adult has (rules of :mod:`cartrial.services.plausibility`).

    Raises on the first implausible row, named ``row <line>`` as the rule engines name rows;
    :func:`_graded_or_every_error` then finds every bad line.
    """
    if not {"lbtestcd", "value", "unit"} <= set(rows.columns):
        return
    for line, row in zip(rows.index, rows.to_dict("records"), strict=True):
        value = _number(row["value"])
        if value is None:
            continue  # the grading names a missing or non-numeric value
        findings = check_lab_values(
            str(row["lbtestcd"]),
            value,
            str(row["unit"]),
            _number(row.get("lln", "")),
            _number(row.get("uln", "")),
        )
        if findings:
            raise RuleInputError(f"row {line}: field {findings[0].field!r}: {findings[0].text()}")


def _grade_labs_with_rules(rows: pd.DataFrame) -> pd.DataFrame:
    """CTCAE lab grades with the text of the criterion that fired (or why none did).

    Values outside the physiological range of their test, or limits that are not reference
    limits in the value's unit, are refused first (they would grade as if real).
    """
    _check_plausible(rows)
    graded = ctcae.grade_labs(rows)
    texts = dict(
        zip(ctcae.lab_criteria()["criterion_id"], ctcae.lab_criteria()["text"], strict=True)
    )
    graded["rule"] = [texts.get(c) or _LAB_RULES[c] for c in graded["criterion"].astype(str)]
    return graded


def labs_command(
    file: Path = _FILE,
    as_json: bool = _JSON,
    out: Path | None = _OUT,
    limit: int = _LIMIT,
    encoding: str | None = ENCODING_OPTION,
) -> None:
    """Grade lab values with CTCAE v5.0.

    Columns: value, unit, and lbtestcd (CDISC code; the worse of the low/high terms is kept) or
    term (a CTCAE lab term); optional lln, uln, baseline in the unit of the value, and
    symptomatic (yes/no) for the symptom-qualified grades.
    """
    shown = ["subject_id", "lbtestcd", "value", "unit", "term", "grade", "criterion", "rule"]
    shown.append("needs_clinical_input")
    _grade_file(
        file,
        _grade_labs_with_rules,
        shown,
        with_courses=False,
        title=f"CTCAE v{ctcae.CTCAE_VERSION} lab grades",
        method=f"CTCAE v{ctcae.CTCAE_VERSION}",
        as_json=as_json,
        out=out,
        limit=limit,
        encoding=encoding,
    )


def crs_command(
    file: Path = _FILE,
    method: str = typer.Option(
        "astct", "--method", help="Grading system: astct (Lee 2019, default) or ctcae (v5.0)."
    ),
    as_json: bool = _JSON,
    out: Path | None = _OUT,
    limit: int = _LIMIT,
    encoding: str | None = ENCODING_OPTION,
) -> None:
    """Grade CRS assessments (one per row); with subject_id and day, also each course.

    Columns: temperature_c; optional hypotension, vasopressors (';'-separated), oxygen,
    oxygen_flow_l_min, fio2_pct, anti_cytokine_given, fever_other_cause, life_threatening,
    death_due_to_crs.
    """
    shown = ["subject_id", "day", "case", "temperature_c", "grade", "driver", "needs_review"]
    _grade_file(
        file,
        lambda rows: cart_tox.grade_crs_table(rows, method=method),
        [*shown, "reason"],
        with_courses=True,
        title=f"CRS grades ({method})",
        method=method,
        as_json=as_json,
        out=out,
        limit=limit,
        encoding=encoding,
    )


def icans_command(
    file: Path = _FILE,
    as_json: bool = _JSON,
    out: Path | None = _OUT,
    limit: int = _LIMIT,
    encoding: str | None = ENCODING_OPTION,
) -> None:
    """Grade ICANS assessments with ASTCT 2019 (one per row); with subject_id and day, courses.

    Columns: ice_score (blank = not performable) or unarousable; optional consciousness,
    seizure, motor_weakness, cerebral_edema.
    """
    _grade_file(
        file,
        cart_tox.grade_icans_table,
        ["subject_id", "day", "case", "ice_score", "grade", "driver", "reason"],
        with_courses=True,
        title="ICANS grades (astct)",
        method="astct",
        as_json=as_json,
        out=out,
        limit=limit,
        encoding=encoding,
    )


def register(app: typer.Typer) -> None:
    """Attach the ``grade`` command group to the root app."""
    group = typer.Typer(
        help="Grade labs (CTCAE v5.0), CRS and ICANS (ASTCT 2019) from CSV files.",
        no_args_is_help=True,
    )
    group.command("labs")(labs_command)
    group.command("crs")(crs_command)
    group.command("icans")(icans_command)
    app.add_typer(group, name="grade")
