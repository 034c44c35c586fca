"""Render the report as one self-contained HTML page (Jinja2; figures inlined as base64 PNG),
laid out for CSS paged media so that WeasyPrint prints it as a document (page x of y, running
header and footer, landscape pages for wide tables, no stranded headings, rows never split)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from cartrial import __version__
from cartrial.report.context import ReportContext
from cartrial.report.display import DisplayTable, table_html
from cartrial.report.summary_page import SummaryPage

__all__ = ["METHODS", "SECTIONS", "FigureItem", "render_html"]

#: Report sections (ICH E3 numbering) and their titles.
SECTIONS = {
    "14.1": "Disposition, demographics, baseline characteristics and exposure",
    "14.2": "Efficacy",
    "14.3": "Safety",
    "14.4": "Cellular kinetics, immunogenicity and phenotype",
    "16.2": "Subject data listings",
}

#: Methods stated in the report, by name.
METHODS = (
    "Adverse events: CTCAE v5.0 grades; MedDRA SOC; treatment-emergent from the start of"
    " lymphodepletion; incidences count subjects (worst grade per subject and term).",
    "CRS and ICANS: ASTCT consensus grading (Lee et al., Biol Blood Marrow Transplant 2019).",
    "Tumour response: RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009) with confirmation of CR/PR"
    " and a minimum duration for SD as set by the protocol.",
    "Binomial proportions: exact Clopper–Pearson 95% confidence intervals"
    ' (ci_method="clopper-pearson").',
    "Time-to-event: Kaplan–Meier as R survival::survfit — Greenwood variance, pointwise CIs"
    ' conf.type="log" (R default), median and quartiles by quantile.survfit (midpoint over a flat'
    " at 0.5) with Brookmeyer–Crowley CIs; median follow-up by reverse Kaplan–Meier; log-rank"
    " (survdiff) between dose levels, exploratory; PFS censoring per FDA 2007 Guidance.",
    "Cellular kinetics: non-compartmental analysis as PKNCA (Cmax, Tmax, Clast, Tlast, AUClast,"
    ' AUCall, AUC0–28d by "lin up/log down" and linear trapezoids); geometric means and'
    " geometric CV %.",
    "Anti-CAR antibodies: tiered screen/confirm/titer; treatment-induced, treatment-boosted"
    " (≥ 4-fold titer rise) and pre-existing per Shankar et al., AAPS J 2014.",
    "n (%) cells: percentage of the column's N to one decimal; 0 alone when no subject; 100%"
    " without decimals.",
)


@dataclass(frozen=True)
class FigureItem:
    """A numbered figure: base64 PNG (also written as PNG and SVG files) or why there is none."""

    number: str
    key: str
    section: str
    title: str
    png: str | None
    missing: str
    footnote: str = ""

    @property
    def caption(self) -> str:
        """``"Figure 14.2.1 Title"``."""
        return f"Figure {self.number} {self.title}"

    @property
    def anchor(self) -> str:
        """HTML id of the figure."""
        return f"figure-{self.number.replace('.', '-')}"


def render_html(
    ctx: ReportContext,
    summary: SummaryPage,
    tables: Sequence[DisplayTable],
    figures: Sequence[FigureItem],
    generated: str,
) -> str:
    """Render the full report page: summary page, contents, sections 14.1-14.4, listings 16.2,
    methods."""
    environment = Environment(
        loader=PackageLoader("cartrial.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    sections = []
    for number, title in SECTIONS.items():
        items: list[dict[str, object]] = []
        for figure in figures:
            if figure.section == number:
                items.append({"kind": "figure", "item": figure})
        for table in tables:
            if table.section == number:
                items.append({"kind": "table", "item": table,
                              "html": table_html(table, ctx.cutoff)})  # fmt: skip
        first = items[0]["item"] if items else None
        # a heading goes on the page of what follows: landscape when its first table is
        wide = isinstance(first, DisplayTable) and first.landscape
        sections.append({"number": number, "title": title, "items": items, "wide": wide})
    settings = ctx.settings
    return environment.get_template("report.html.j2").render(
        title=settings.title,
        study_id=settings.study_id,
        protocol_version=settings.protocol_version,
        cutoff=ctx.cutoff,
        generated=generated,
        version=__version__,
        summary=summary,
        sections=sections,
        methods=METHODS,
        notes=list(dict.fromkeys(n for t in ctx.analysis.tables() for n in t.notes)),
        populations=sorted(settings.populations.items()),
    )
