"""Reading a CSV table given on the command line: strict decoding, rows indexed by file line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import typer

from cartrial.errors import InputFileError, RuleInputError
from cartrial.textio import CsvRows, iter_lines

__all__ = ["ENCODING_OPTION", "MAX_LISTED", "MAX_TABLE_BYTES", "lines_for_rows", "read_table"]

ENCODING_OPTION = typer.Option(
    None, "--encoding", help="The file's encoding when not UTF-8 (e.g. latin-1)."
)
#: Largest table read (a table is printed and held in memory whole).
MAX_TABLE_BYTES = 100_000_000
#: Bad lines listed at most; the rest are counted.
MAX_LISTED = 100


def read_table(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV as text (the rules parse and check every field), indexed by file line.

    Blank lines and lines starting with ``#`` are skipped; the header is line 1 when it is the
    first line.
    """
    try:
        rows = CsvRows(
            iter_lines(path, max_bytes=MAX_TABLE_BYTES, encoding=encoding), str(path), comments=True
        )
        records: list[dict[str, str]] = []
        lines: list[int] = []
        too_long: list[int] = []
        for line, cells in rows:
            if cells is None:
                too_long.append(line)
                continue
            records.append(cells)
            lines.append(line)
    except InputFileError as exc:
        raise RuleInputError(exc.problem) from None
    if too_long:
        shown = ", ".join(map(str, too_long[:MAX_LISTED]))
        raise RuleInputError(f"line(s) {shown}: more cells than header columns")
    if not records:
        raise RuleInputError("no data rows after the header")
    frame = pd.DataFrame.from_records(records, columns=rows.header).fillna("")
    frame.index = pd.Index(lines, name="line")
    return frame


def lines_for_rows(message: str, lines: Sequence[int]) -> str:
    """``message`` with each ``row N`` (1-based position in the table) written as its file line."""

    def line_of(match: re.Match[str]) -> str:
        position = int(match.group(1))
        return f"line {lines[position - 1]}" if 1 <= position <= len(lines) else match.group(0)

    return re.sub(r"\brow (\d+)", line_of, message)
