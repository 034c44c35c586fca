"""Numbered report tables (ICH E3 section 14 and listings 16.2) and their rendering.

A :class:`DisplayTable` is what a medical writer sees: a number and title, the population and its
N, readable column headers grouped under spanning headers (Escalation / Expansion), rows with
group headers (e.g. the MedDRA SOC), and footnotes. It is rendered to HTML (:func:`table_html`)
and to Word (:func:`add_docx_table`); the raw numbers stay in the analysis tables' CSV files.

Cell conventions (one rule for the whole report, stated in every table's footnotes):
``n (%)`` with the percentage to one decimal of the column's N; ``0`` alone when n = 0;
``(100%)`` without decimals.
"""

from __future__ import annotations

import html as html_lib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from docx.document import Document

__all__ = [
    "PERCENT_RULE",
    "Column",
    "DisplayTable",
    "Row",
    "add_docx_table",
    "fmt_number",
    "n_pct",
    "table_html",
]

#: The decimals rule, printed under every table with percentages.
PERCENT_RULE = (
    "n (%): number of subjects and percentage of the column's N, one decimal; 0 alone when no"
    " subject; 100% without decimals."
)


#: Tables with at most this many rows are kept on one page (never split 1/3 across pages).
SHORT_ROWS = 32


def n_pct(n: int, total: int) -> str:
    """``"n (x.x%)"`` by :data:`PERCENT_RULE`; ``"0"`` for n = 0; ``"–"`` when N = 0."""
    if total == 0:
        return "–"
    if n == 0:
        return "0"
    pct = 100.0 * n / total
    return f"{n} (100%)" if n == total else f"{n} ({pct:.1f}%)"


def fmt_number(value: object, digits: int = 1) -> str:
    """A number with ``digits`` decimals; ``NE`` for a missing or non-finite one."""
    if value is None:
        return "NE"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "NE"
    return f"{number:,.{digits}f}"


@dataclass(frozen=True)
class Column:
    """A column: its header, the spanning header above it (``""`` none), its alignment."""

    label: str
    group: str = ""
    align: Literal["left", "center"] = "center"


@dataclass(frozen=True)
class Row:
    """A table row. ``kind="group"`` is a group header (bold; e.g. a SOC with its counts);
    ``kind="item"`` is indented under the last group header."""

    cells: tuple[str, ...]
    kind: Literal["data", "group", "item"] = "data"


@dataclass(frozen=True)
class DisplayTable:
    """One numbered table or listing of the report.

    Attributes
    ----------
    number
        ICH E3 number, e.g. ``"14.3.2"`` (tables, figures) or ``"16.2.1"`` (listings).
    key
        File name stem of its DOCX / CSV copies.
    population, n
        The analysis population in words and its number of subjects.
    landscape
        Printed on a landscape page (wide tables, listings).
    """

    number: str
    key: str
    title: str
    population: str
    n: int
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    footnotes: tuple[str, ...] = ()
    landscape: bool = False
    kind: Literal["Table", "Listing"] = "Table"
    empty_text: str = "No subject or record in this category as of the data cut-off."
    section: str = field(default="")

    @property
    def caption(self) -> str:
        """``"Table 14.3.2 Title"``."""
        return f"{self.kind} {self.number} {self.title}"

    @property
    def anchor(self) -> str:
        """HTML id of the table."""
        return f"{self.kind.lower()}-{self.number.replace('.', '-')}"


def _esc(text: str) -> str:
    return html_lib.escape(text).replace("\n", "<br>")


def _header_html(columns: tuple[Column, ...]) -> str:
    grouped = any(c.group for c in columns)
    if not grouped:
        cells = "".join(f'<th class="{c.align}">{_esc(c.label)}</th>' for c in columns)
        return f"<thead><tr>{cells}</tr></thead>"
    top: list[str] = []
    bottom: list[str] = []
    i = 0
    while i < len(columns):
        column = columns[i]
        if not column.group:
            top.append(f'<th rowspan="2" class="{column.align}">{_esc(column.label)}</th>')
            i += 1
            continue
        span = 1
        while i + span < len(columns) and columns[i + span].group == column.group:
            span += 1
        top.append(f'<th colspan="{span}" class="span">{_esc(column.group)}</th>')
        bottom.extend(f'<th class="{c.align}">{_esc(c.label)}</th>' for c in columns[i : i + span])
        i += span
    return f"<thead><tr>{''.join(top)}</tr><tr>{''.join(bottom)}</tr></thead>"


def table_html(table: DisplayTable, cutoff: str) -> str:
    """The table as an HTML ``<section>``: caption, population, table, footnotes."""
    body = []
    for row in table.rows:
        cells = []
        for column, cell in zip(table.columns, row.cells, strict=True):
            cells.append(f'<td class="{column.align}">{_esc(cell)}</td>')
        body.append(f'<tr class="{row.kind}">{"".join(cells)}</tr>')
    if table.rows:
        grid = f"<table>{_header_html(table.columns)}<tbody>{''.join(body)}</tbody></table>"
    else:
        grid = f'<p class="empty">{_esc(table.empty_text)}</p>'
    notes = [*table.footnotes, f"Data cut-off: {cutoff}."]
    footer = "".join(f"<li>{_esc(note)}</li>" for note in notes)
    classes = "tlf" + (" landscape" if table.landscape else "")
    classes += " short" if len(table.rows) <= SHORT_ROWS else ""
    return (
        f'<section class="{classes}" id="{table.anchor}">'
        f'<div class="head"><h3>{_esc(table.caption)}</h3>'
        f'<p class="population">{_esc(table.population)} (N = {table.n})</p></div>'
        f'{grid}<ol class="footnotes">{footer}</ol></section>'
    )


def add_docx_table(document: Document, table: DisplayTable, cutoff: str) -> None:
    """Append ``table`` to a python-docx ``document``: caption, population, grid, footnotes.

    Spanning headers become merged cells; group rows are bold and merged across the row when
    they carry no numbers; the header rows repeat on every page.
    """
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    section = document.sections[-1]
    wanted = WD_ORIENT.LANDSCAPE if table.landscape else WD_ORIENT.PORTRAIT
    if section.orientation != wanted:
        from docx.enum.section import WD_SECTION

        new = document.add_section(WD_SECTION.NEW_PAGE)
        new.orientation = wanted
        new.page_width, new.page_height = section.page_height, section.page_width
    heading = document.add_paragraph(table.caption, style="Heading 3")
    heading.paragraph_format.keep_with_next = True
    population = document.add_paragraph(f"{table.population} (N = {table.n})")
    population.paragraph_format.keep_with_next = True
    if table.rows:
        grouped = any(c.group for c in table.columns)
        header_rows = 2 if grouped else 1
        grid = document.add_table(rows=header_rows, cols=len(table.columns))
        grid.style = "Table Grid"
        for j, column in enumerate(table.columns):
            if grouped and column.group:
                grid.cell(0, j).text = column.group
                grid.cell(1, j).text = column.label
            else:
                grid.cell(0, j).text = column.label
        if grouped:
            j = 0
            while j < len(table.columns):
                column = table.columns[j]
                if not column.group:
                    grid.cell(0, j).merge(grid.cell(1, j)).text = column.label
                    j += 1
                    continue
                span = 1
                while j + span < len(table.columns) and table.columns[j + span].group == (
                    column.group
                ):
                    span += 1
                if span > 1:
                    grid.cell(0, j).merge(grid.cell(0, j + span - 1)).text = column.group
                j += span
        for r in range(header_rows):
            properties = grid.rows[r]._tr.get_or_add_trPr()
            repeat = OxmlElement("w:tblHeader")
            repeat.set(qn("w:val"), "true")
            properties.append(repeat)
            for cell in grid.rows[r].cells:
                for run in (run for p in cell.paragraphs for run in p.runs):
                    run.bold = True
        for row in table.rows:
            cells = grid.add_row().cells
            for j, value in enumerate(row.cells):
                text = ("    " + value) if (row.kind == "item" and j == 0) else value
                cells[j].text = text
                if row.kind == "group":
                    for run in (run for p in cells[j].paragraphs for run in p.runs):
                        run.bold = True
        for row in grid.rows:
            row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    else:
        document.add_paragraph(table.empty_text)
    for note in [*table.footnotes, f"Data cut-off: {cutoff}."]:
        paragraph = document.add_paragraph(note)
        for run in paragraph.runs:
            run.font.size = Pt(7)
