"""Render the trial report as one self-contained HTML page (Jinja2; figures inlined as base64)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from cartrial import __version__
from cartrial.analysis import SECTIONS, AnalysisTable, TrialAnalysis, TrialData

__all__ = ["METHODS", "FigureItem", "format_cell", "render_html", "table_html"]

#: Methods stated in the report, by name.
METHODS = (
    "Adverse events: CTCAE v5.0 grades; MedDRA SOC; treatment-emergent from the start of"
    " lymphodepletion; incidences count subjects (worst grade per subject and term).",
    "CRS and ICANS: ASTCT consensus grading (Lee et al., Biol Blood Marrow Transplant 2019).",
    "Tumour response: RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009) with confirmation of CR/PR"
    " and a minimum duration for SD as set by the protocol.",
    "Binomial proportions: exact Clopper–Pearson 95% confidence intervals"
    ' (ci_method="clopper-pearson").',
    "Time-to-event: Kaplan–Meier (lifelines), exponential Greenwood pointwise CIs, median CI by"
    ' Brookmeyer–Crowley inversion (median_ci="brookmeyer-crowley (log-log)"); PFS censoring per'
    " FDA 2007 Guidance Appendix 3 Table A.",
    'Cellular kinetics: non-compartmental analysis, AUC0–28d by auc_method="linear-up/log-down";'
    " geometric means and geometric CV %.",
    "Anti-CAR antibodies: tiered screen/confirm/titer; treatment-induced, treatment-boosted"
    " (≥ 4-fold titer rise) and pre-existing per Shankar et al., AAPS J 2014.",
)


@dataclass(frozen=True)
class FigureItem:
    """A rendered figure (base64 PNG) or the sentence that explains why there is none."""

    key: str
    section: str
    title: str
    png: str | None
    missing: str


def format_cell(value: object) -> str:
    """One table cell as printed: NE for a missing number, yes/no, 4 significant digits."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "NE"
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return "NE"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def table_html(table: AnalysisTable) -> str:
    """The table's frame as an HTML ``<table>``; missing numbers print as ``NE``."""
    frame = table.frame
    head = "".join(f"<th>{html_lib.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td>{html_lib.escape(format_cell(v))}</td>" for v in record)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(
    trial: TrialData,
    analysis: TrialAnalysis,
    figures: Mapping[str, tuple[FigureItem, ...]],
    generated: str,
) -> str:
    """Render the full report page.

    Parameters
    ----------
    figures
        Section key -> figures shown at the top of that section.
    generated
        Timestamp text printed in the header.
    """
    environment = Environment(
        loader=PackageLoader("cartrial.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    sections = []
    for key, title in SECTIONS.items():
        items: list[dict[str, object]] = []
        for figure in figures.get(key, ()):
            items.append(
                {"kind": "figure", "anchor": f"figure-{figure.key}", "title": figure.title,
                 "png": figure.png, "missing": figure.missing}
            )  # fmt: skip
        for table in analysis.sections.get(key, ()):
            items.append(
                {
                    "kind": "table",
                    "anchor": f"table-{table.key}",
                    "title": table.title,
                    "population": table.population,
                    "n": table.n,
                    "method": table.method,
                    "notes": table.notes,
                    "csv": f"tables/{table.key}.csv",
                    "empty": table.frame.empty,
                    "html": table_html(table),
                }
            )
        sections.append({"key": key, "title": title, "items": items})
    settings = analysis.settings
    return environment.get_template("report.html.j2").render(
        title=settings.title,
        study_id=settings.study_id,
        protocol_version=settings.protocol_version,
        cutoff=pd.Timestamp(trial.data_cutoff).strftime("%Y-%m-%d"),
        generated=generated,
        version=__version__,
        sections=sections,
        methods=METHODS,
        notes=list(dict.fromkeys(note for t in analysis.tables() for note in t.notes)),
        populations=sorted(settings.populations.items()),
    )
