"""The trial report: HTML (self-contained), PDF and every table as CSV.

>>> from cartrial.report import build_report          # doctest: +SKIP
>>> result = build_report(trial_data, "out/")          # doctest: +SKIP
>>> result.html_path, result.pdf_path, len(result.csv_paths)   # doctest: +SKIP
"""

from __future__ import annotations

from cartrial.report.build import ReportResult, build_report, render_figures

__all__ = ["ReportResult", "build_report", "render_figures"]
