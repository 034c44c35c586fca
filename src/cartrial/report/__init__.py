"""The trial report as a clinical study report: ICH E3 section 14 tables and figures, listings
16.2, a summary page; HTML (self-contained), paged PDF, DOCX tables, CSV and PNG/SVG figures.

>>> from cartrial.report import build_report          # doctest: +SKIP
>>> result = build_report(trial_data, "out/")          # doctest: +SKIP
>>> result.html_path, result.pdf_path, result.docx_path   # doctest: +SKIP
"""

from __future__ import annotations

from cartrial.report.build import ReportResult, build_report, numbered_tables, render_figures

__all__ = ["ReportResult", "build_report", "numbered_tables", "render_figures"]
