"""Build the report files from a :class:`~cartrial.analysis.TrialData`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cartrial.analysis import TrialAnalysis, TrialData, analyse_trial
from cartrial.analysis.dataset import normalise_trial_data, validate_trial_data
from cartrial.report import figures as fig
from cartrial.report.html import FigureItem, render_html
from cartrial.report.pdf import write_pdf

__all__ = ["ReportResult", "build_report", "render_figures"]


@dataclass(frozen=True)
class ReportResult:
    """Where the report was written, and what it holds.

    Attributes
    ----------
    html_path, pdf_path
        The report page and its PDF print (``pdf_path`` None when ``pdf=False``).
    csv_paths
        One CSV per table, in report order.
    figures
        Titles of the figures drawn; ``missing_figures`` those with nothing to draw.
    notes
        Every data problem stated in the report.
    """

    html_path: Path
    pdf_path: Path | None
    csv_paths: tuple[Path, ...]
    figures: tuple[str, ...]
    missing_figures: tuple[str, ...]
    notes: tuple[str, ...]


def render_figures(trial: TrialData, analysis: TrialAnalysis) -> dict[str, tuple[FigureItem, ...]]:
    """Draw every figure; section key -> rendered figures (base64 PNG or a reason for none)."""

    def item(key: str, section: str, title: str, figure: object, missing: str) -> FigureItem:
        png = fig.figure_png_base64(figure) if isinstance(figure, fig.Figure) else None
        return FigureItem(key, section, title, png, missing)

    curves = analysis.curves
    items = [
        item("escalation", "escalation", "Dose-escalation path",
             fig.escalation_path(trial, analysis),
             "No dose-escalation decision recorded: no path to draw."),
        item("ae_heatmap", "safety", "Adverse events by dose level",
             fig.ae_heatmap(trial, analysis), "No treatment-emergent adverse event: no heat map."),
        item("swimmer", "efficacy", "Swimmer plot", fig.swimmer_plot(trial, analysis),
             "No infused subject: no swimmer plot."),
        item("waterfall", "efficacy", "Waterfall plot", fig.waterfall_plot(analysis),
             "No post-baseline sum of diameters: no waterfall plot."),
        item("spider", "efficacy", "Spider plot", fig.spider_plot(analysis),
             "No post-baseline sum of diameters: no spider plot."),
        *(
            item(f"km_{key}", "efficacy", f"Kaplan–Meier: {name}",
                 fig.kaplan_meier_plot(curves[key], name) if key in curves else None,
                 f"{name}: no subject to analyse (n = 0), no curve.")
            for key, name in (("pfs", "Progression-free survival"), ("os", "Overall survival"),
                              ("dor", "Duration of response"))
        ),
        item("kinetics", "kinetics", "CAR-T levels over time (log scale)",
             fig.kinetics_curves(trial, analysis),
             "No quantifiable kinetics sample (all below the LLOQ or none): no curve."),
    ]  # fmt: skip
    out: dict[str, tuple[FigureItem, ...]] = {}
    for figure_item in items:
        out[figure_item.section] = (*out.get(figure_item.section, ()), figure_item)
    return out


def build_report(trial_data: TrialData, out_dir: str | Path, *, pdf: bool = True) -> ReportResult:
    """Analyse ``trial_data`` and write ``report.html``, ``report.pdf`` and ``tables/*.csv``.

    Parameters
    ----------
    trial_data
        The trial as of its data cut-off.
    out_dir
        Directory to write into (created if missing).
    pdf
        Also print the PDF (WeasyPrint).
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    validate_trial_data(trial_data)
    trial_data = normalise_trial_data(trial_data)
    analysis = analyse_trial(trial_data)
    csv_paths = []
    for table in analysis.tables():
        path = out / "tables" / f"{table.key}.csv"
        table.frame.to_csv(path, index=False)
        csv_paths.append(path)
    figures = render_figures(trial_data, analysis)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = render_html(trial_data, analysis, figures, generated)
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    pdf_path = write_pdf(page, out / "report.pdf") if pdf else None
    drawn = [f for items in figures.values() for f in items]
    notes = tuple(dict.fromkeys(note for t in analysis.tables() for note in t.notes))
    return ReportResult(
        html_path=html_path,
        pdf_path=pdf_path,
        csv_paths=tuple(csv_paths),
        figures=tuple(f.title for f in drawn if f.png),
        missing_figures=tuple(f.title for f in drawn if not f.png),
        notes=notes,
    )
