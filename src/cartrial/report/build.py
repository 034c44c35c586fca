"""Build the report files from a :class:`~cartrial.analysis.TrialData`.

Outputs in ``out_dir``: ``report.html`` (self-contained), ``report.pdf`` (WeasyPrint, paged),
``tables/*.csv`` (the analysis tables, raw numbers), ``tables/report_tables.docx`` (every numbered
table and listing, for medical writers) and ``figures/<number>_<key>.png`` / ``.svg``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cartrial.analysis import TrialData, analyse_trial
from cartrial.analysis.dataset import normalise_trial_data, validate_trial_data
from cartrial.report import figures as fig
from cartrial.report.context import ReportContext
from cartrial.report.decisions import governance_records
from cartrial.report.display import DisplayTable
from cartrial.report.docx_tables import write_docx
from cartrial.report.figures_study import ada_plot, disposition_flow, phenotype_plot
from cartrial.report.html import FigureItem, render_html
from cartrial.report.listings import LISTINGS
from cartrial.report.pdf import write_pdf
from cartrial.report.summary_page import summary_page
from cartrial.report.t14_1 import (
    baseline_table,
    demographics_table,
    disposition_table,
    exposure_table,
)
from cartrial.report.t14_2 import response_table, time_to_event_table
from cartrial.report.t14_3 import (
    AE_TABLES,
    ae_overview_table,
    ae_soc_table,
    crs_icans_table,
    dlt_table,
    escalation_table,
    lab_shift_table,
)
from cartrial.report.t14_4 import ada_table, kinetics_table, phenotype_table
from cartrial.report.t14_expansion import expansion_table

__all__ = ["ReportResult", "build_report", "numbered_tables", "render_figures"]


@dataclass(frozen=True)
class ReportResult:
    """Where the report was written, and what it holds.

    Attributes
    ----------
    html_path, pdf_path
        The report page and its PDF print (``pdf_path`` None when ``pdf=False``).
    csv_paths
        One CSV per analysis table, in report order.
    docx_path
        Every numbered table and listing as one Word document.
    figure_paths
        PNG and SVG file of every drawn figure.
    figures
        Captions of the figures drawn; ``missing_figures`` those with nothing to draw.
    tables
        Captions of the numbered tables and listings.
    notes
        Every data problem stated in the report.
    """

    html_path: Path
    pdf_path: Path | None
    csv_paths: tuple[Path, ...]
    figures: tuple[str, ...]
    missing_figures: tuple[str, ...]
    notes: tuple[str, ...]
    docx_path: Path | None = None
    figure_paths: tuple[Path, ...] = ()
    tables: tuple[str, ...] = ()


def numbered_tables(ctx: ReportContext) -> tuple[DisplayTable, ...]:
    """Every numbered table (14.1-14.4) and listing (16.2), in report order."""
    builders: list[Callable[[ReportContext], DisplayTable]] = [
        disposition_table, demographics_table, baseline_table, exposure_table,
        response_table, time_to_event_table,
        escalation_table, dlt_table, ae_overview_table,
    ]  # fmt: skip
    tables = [build(ctx) for build in builders]
    tables += [ae_soc_table(ctx, subset) for subset in AE_TABLES]
    tables += [crs_icans_table(ctx), lab_shift_table(ctx), expansion_table(ctx)]
    tables += [kinetics_table(ctx), ada_table(ctx), phenotype_table(ctx)]
    tables += [listing(ctx) for listing in LISTINGS]
    return tuple(tables)


def render_figures(ctx: ReportContext, figure_dir: Path) -> tuple[FigureItem, ...]:
    """Draw every figure, write it as PNG and SVG in ``figure_dir``; return them numbered."""
    trial, analysis = ctx.trial, ctx.analysis
    arm_trial, arm_settings = ctx.relabelled("safety")
    curves = analysis.curves
    specs: list[tuple[str, str, str, str, object, str, str]] = [
        ("14.1.1", "disposition", "14.1", "Subject disposition (flow diagram)",
         disposition_flow(ctx.disposition), "", "Counts as in Table 14.1.1."),
        ("14.2.1", "swimmer", "14.2", "Swimmer plot: follow-up, responses, deaths",
         fig.swimmer_plot(trial, analysis), "No infused subject: no swimmer plot.",
         "Bar = time from infusion to death or last contact; colour = dose level, hatched ="
         " expansion; markers = RECIST time-point responses; † = death; ▸ = alive in follow-up."),
        ("14.2.2", "waterfall", "14.2", "Waterfall plot: best change in tumour size",
         fig.waterfall_plot(analysis), "No post-baseline sum of diameters: no waterfall plot.",
         "Colour = best overall response (confirmed); cross-hatched = unconfirmed CR/PR."),
        ("14.2.3", "spider", "14.2", "Spider plot: change in tumour size over time",
         fig.spider_plot(analysis), "No post-baseline sum of diameters: no spider plot.",
         "Dashed lines: +20% (progression) and −30% (partial response)."),
        *(
            (number, f"km_{key}", "14.2", f"Kaplan–Meier: {name}",
             fig.kaplan_meier_plot(curves[key], name) if key in curves else None,
             f"{name}: no subject to analyse (n = 0), no curve.",
             "Shaded: pointwise 95% CI (log transform, Greenwood); ticks: censored.")
            for number, key, name in (("14.2.4", "pfs", "Progression-free survival"),
                                      ("14.2.5", "os", "Overall survival"),
                                      ("14.2.6", "dor", "Duration of response"))
        ),
        ("14.3.1", "escalation", "14.3", "Dose-escalation path",
         fig.escalation_path(trial, analysis),
         "No dose-escalation decision recorded: no path to draw.",
         "Label = subjects with DLT / DLT-evaluable at the dose (cumulative)."),
        ("14.3.2", "ae_heatmap", "14.3", "Adverse events by dose level and phase",
         fig.ae_heatmap(arm_trial, arm_settings.dose_levels),
         "No treatment-emergent adverse event: no heat map.",
         "Number of subjects with the term (any grade); colour = % of the column's N."),
        ("14.4.1", "kinetics", "14.4", "CAR-T cellular kinetics by dose level",
         fig.kinetics_curves(trial, analysis),
         "No quantifiable kinetics sample (all below the LLOQ or none): no curve.",
         "Thin lines: subjects; thick lines: geometric mean per dose at the nominal visits;"
         " samples below the LLOQ not drawn."),
        ("14.4.2", "ada", "14.4", "Anti-CAR antibodies over time",
         ada_plot(analysis.table("ada_over_time").frame), "No ADA sample: no figure.",
         "Bars: confirmed positive samples / samples tested; line: median titer of positives."),
        ("14.4.3", "phenotype", "14.4", "CAR-T cell phenotype over time",
         phenotype_plot(analysis.table("phenotype_over_time").frame),
         "No phenotype sample: no figure.", "Median and interquartile band per marker."),
    ]  # fmt: skip
    items = []
    for number, key, section, title, figure, missing, footnote in specs:
        png = None
        if isinstance(figure, fig.Figure):
            png = fig.save_figure(figure, figure_dir / f"figure_{number.replace('.', '_')}_{key}")
        items.append(FigureItem(number, key, section, title, png, missing, footnote))
    return tuple(items)


def build_report(
    trial_data: TrialData,
    out_dir: str | Path,
    *,
    pdf: bool = True,
    screening: pd.DataFrame | None = None,
) -> ReportResult:
    """Analyse ``trial_data`` and write the report files (module docstring).

    Parameters
    ----------
    trial_data
        The trial as of its data cut-off.
    out_dir
        Directory to write into (created if missing).
    pdf
        Also print the PDF (WeasyPrint).
    screening
        Optional screening log (``subject_id``, ``outcome``, ``reasons``): adds the screened and
        not-eligible counts to the disposition.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    validate_trial_data(trial_data)
    governance = governance_records(trial_data)
    trial_data = normalise_trial_data(trial_data)
    analysis = analyse_trial(trial_data)
    csv_paths = []
    for table in analysis.tables():
        path = out / "tables" / f"{table.key}.csv"
        table.frame.to_csv(path, index=False)
        csv_paths.append(path)
    ctx = ReportContext(trial_data, analysis, governance, screening)
    tables = numbered_tables(ctx)
    figures = render_figures(ctx, out / "figures")
    summary = summary_page(ctx)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = render_html(ctx, summary, tables, figures, generated)
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    docx_path = write_docx(tables, ctx, out / "tables" / "report_tables.docx")
    pdf_path = write_pdf(page, out / "report.pdf") if pdf else None
    notes = tuple(dict.fromkeys(note for t in analysis.tables() for note in t.notes))
    drawn = [f for f in figures if f.png]
    stems = [out / "figures" / f"figure_{f.number.replace('.', '_')}_{f.key}" for f in drawn]
    return ReportResult(
        html_path=html_path,
        pdf_path=pdf_path,
        csv_paths=tuple(csv_paths),
        figures=tuple(f.caption for f in drawn),
        missing_figures=tuple(f.caption for f in figures if not f.png),
        notes=notes,
        docx_path=docx_path,
        figure_paths=tuple(
            p for s in stems for p in (s.with_suffix(".png"), s.with_suffix(".svg"))
        ),
        tables=tuple(t.caption for t in tables),
    )
