"""At 80 columns every table and help text is readable: no line wider, no word folded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cartrial.cli import COMMAND_MODULES, app
from cartrial.cli.layout import natural_width, print_table
from cartrial.protocol import load_protocol
from cartrial.protocol.schedule import ASSESSMENTS

WIDTH = 80


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.delenv("LINES", raising=False)


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    too_wide = [line for line in result.output.splitlines() if len(line) > WIDTH]
    assert too_wide == []
    return result.output


def _command_paths() -> Iterator[tuple[str, ...]]:
    root = typer.main.get_command(app)
    for commands in COMMAND_MODULES.values():
        for name in commands:
            command = root.get_command(typer.Context(root), name)  # type: ignore[attr-defined]
            yield (name,)
            for sub in getattr(command, "commands", {}):
                yield (name, sub)


def test_the_schedule_grid_is_one_block_per_visit_at_80_columns() -> None:
    output = _invoke("protocol", "show")
    visits = load_protocol().schedule.expanded()
    screening = output[output.index("Schedule of assessments") :].splitlines()
    assert screening[1] == visits[0].name  # a heading per visit, not a folded grid
    assert "day: -28; window: -0/+21; eligibility; ihc; labs" in screening[2]
    for assessment in ASSESSMENTS:
        if any(assessment in v.assessments for v in visits):
            assert assessment.replace("_", " ") in output  # every name whole, never folded


def test_grade_labs_at_80_columns_names_each_line_and_keeps_words_whole(tmp_path: Path) -> None:
    labs = tmp_path / "labs.csv"
    labs.write_text(
        "subject_id,lbtestcd,value,unit,lln,uln\nS01-001,NEUT,0.4,10^9/L,2,7.5\n", encoding="utf-8"
    )
    output = _invoke("grade", "labs", str(labs))
    assert "line 2 · S01-001" in output  # the file's line (the header is line 1)
    # CTCAE v5.0 Neutrophil count decreased: grade 4 is < 0.5 x 10^9/L.
    assert "grade: 4" in output and "Neutrophil count decreased" in output.replace("\n  ", " ")


def test_every_help_fits_80_columns() -> None:
    paths = list(_command_paths())
    assert ("design", "next") in paths and ("grade", "labs") in paths
    _invoke("--help")
    for path in paths:
        output = _invoke(*path, "--help")
        assert "Usage:" in output


def test_a_narrow_table_stays_a_grid() -> None:
    from rich.console import Console

    console = Console(width=WIDTH, record=True)
    print_table(console, "t", ["a", "b"], [["1", "x"]])
    text = console.export_text()
    assert "┃ a ┃ b ┃" in text
    assert natural_width(["a", "b"], [["1", "x"]]) == 9
