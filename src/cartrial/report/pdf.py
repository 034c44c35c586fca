"""Print the HTML report to PDF with WeasyPrint (needs the Pango libraries of
``scripts/system-deps.sh``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_pdf"]


def write_pdf(html: str, path: Path) -> Path:
    """Write ``html`` (self-contained: inline CSS and images) as a PDF at ``path``."""
    from weasyprint import HTML

    HTML(string=html).write_pdf(str(path))
    return path
