"""Every numbered table and listing as one Word document (python-docx), the format medical
writers paste from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cartrial.report.context import ReportContext
from cartrial.report.display import DisplayTable, add_docx_table

__all__ = ["write_docx"]


def write_docx(tables: Sequence[DisplayTable], ctx: ReportContext, path: Path) -> Path:
    """Write ``tables`` (in order; landscape sections for wide ones) to ``path``."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(8)
    document.add_heading(f"{ctx.settings.study_id}: tables and listings", level=1)
    document.add_paragraph(
        f"{ctx.settings.title}. Protocol version {ctx.settings.protocol_version}."
        f" Data cut-off {ctx.cutoff}."
    )
    for table in tables:
        add_docx_table(document, table, ctx.cutoff)
    document.save(str(path))
    return path
