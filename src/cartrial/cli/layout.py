"""Tables that stay readable in any terminal: a grid when it fits, one block per row when not.

:func:`print_table` measures the table's natural width (every cell on one line). When it fits
the console (80 columns is the width to design for) it prints a grid; when it does not, squeezing
it would fold headers letter by letter, so it prints each row as a block instead: the row's key
cells as a heading, then ``column: value`` for every non-empty cell (a cell holding only ``x``,
a mark, shows the column name alone), wrapped to the console's width.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

import typer
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["MARK", "natural_width", "print_record", "print_table"]

#: A cell meaning "yes" in a grid of marks (e.g. an assessment done at a visit).
MARK = "x"


def natural_width(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Characters a rich grid needs to show every header and cell on one line."""
    widths = [len(header) for header in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], max((len(line) for line in cell.splitlines()), default=0))
    return sum(widths) + 3 * len(columns) + 1  # "│ " + cell + " " per column, closing "│"


def print_table(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    keys: int = 1,
    justify: Sequence[str] | None = None,
    heading: Callable[[Sequence[str]], str] | None = None,
) -> None:
    """Print ``rows`` under ``columns``: a grid if it fits ``console``, else one block per row.

    Parameters
    ----------
    keys
        How many leading columns identify a row (its heading in the block layout).
    justify
        Per column ``"left"``, ``"right"`` or ``"center"`` for the grid layout.
    heading
        The heading of a row's block (default: its key cells joined by " · ").
    """
    rows = [list(row) for row in rows]
    if natural_width(columns, rows) <= console.width:
        table = Table(title=title, title_justify="left")
        for i, header in enumerate(columns):
            align = justify[i] if justify is not None else "left"
            table.add_column(header, justify=align, no_wrap=True)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    console.print(Text(title, style="bold"))
    for row in rows:
        title_of_row = (
            heading(row) if heading is not None else " · ".join(c for c in row[:keys] if c)
        )
        parts = [
            header if cell == MARK else f"{header}: {cell}"
            for header, cell in zip(columns[keys:], row[keys:], strict=True)
            if cell
        ]
        console.print(Text(title_of_row, style="bold"))
        console.print(Padding(Text("; ".join(parts)), (0, 0, 0, 2)))


def print_record(record: dict[str, object], title: str, as_json: bool) -> None:
    """One record's fields: a two-column table, or JSON with ``as_json`` (values as text)."""
    if as_json:
        typer.echo(json.dumps(record, default=str, indent=2))
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, str(value))
    Console().print(table)
