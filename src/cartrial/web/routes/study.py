"""Read pages: study overview, subject list and timeline, escalation dashboard, the report.

Each page asks the policy layer what the user may read (:func:`cartrial.services.visible_sites`:
a role in this study, and at which sites) and reads the study's data through
:func:`cartrial.services.trial_data`, keeping only the subjects of those sites.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Request
from starlette.responses import Response

from cartrial.errors import NotFound
from cartrial.exchange import FORMATS as CDISC_FORMATS
from cartrial.exchange import write_packages
from cartrial.report import build_report
from cartrial.services import (
    escalation_state,
    expansion_state,
    load_study,
    subject_records,
)
from cartrial.vocab import PHASES
from cartrial.web.deps import PageContext
from cartrial.web.escalation import escalation_view
from cartrial.web.pages import render
from cartrial.web.paging import page_of
from cartrial.web.reading import readable, readable_data, table_rows

__all__ = ["router"]

router = APIRouter()

#: The subject's records on its timeline, in the order of the trial.
_TIMELINE = (
    ("adverse_events", "Adverse events"),
    ("labs", "Laboratory values"),
    ("crs_icans", "CRS / ICANS days"),
    ("tumour_timepoints", "Tumour assessments"),
    ("kinetics", "Kinetics"),
    ("ada", "Anti-drug antibodies"),
    ("phenotype", "Immunophenotype"),
)


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    return table_rows(frame)


@router.get("/")
def overview(request: Request, ctx: PageContext) -> Response:
    """Study overview: phase, enrolment by site and dose level, dose decisions."""
    study = load_study(ctx)
    data = readable_data(ctx)
    subjects = data.subjects
    by_site = subjects.groupby("site_id").size().to_dict() if len(subjects) else {}
    by_dose = subjects.groupby("dose_level").size().to_dict() if len(subjects) else {}
    context = {
        "study": study,
        "by_site": by_site,
        "by_dose": by_dose,
        "decisions": _rows(data.dose_decisions),
        "cutoff": data.data_cutoff,
    }
    return render(request, "overview.html", context, user=ctx.user)


@router.get("/subjects")
def subjects(
    request: Request, ctx: PageContext, site: str = "", dose: str = "", phase: str = ""
) -> Response:
    """Subjects, filtered by site, dose level and phase."""
    visibility, data = readable(ctx)
    frame = data.subjects
    for column, value in (("site_id", site), ("dose_level", dose), ("phase", phase)):
        if value:
            frame = frame[frame[column].astype(str) == value]
    context = {
        "subjects": _rows(frame),
        "site": site,
        "dose": dose,
        "phase": phase,
        "sites": visibility.sites,
        "dose_levels": [level.name for level in data.protocol.dose_levels],
        "phases": PHASES,
    }
    return render(request, "subjects.html", context, user=ctx.user)


#: Rows of a timeline section per page, and records per page of the audit-trail listing.
SECTION_ROWS = 25
RECORD_ROWS = 50
#: The section of a subject's audit-trail listing (the other sections are :data:`_TIMELINE`'s).
_RECORDS = "records"


@router.get("/subjects/{subject_id}")
def subject_timeline(
    request: Request, ctx: PageContext, subject_id: str, section: str = "", page: int | None = None
) -> Response:
    """One subject's timeline: key dates, then its records by kind, a page of each.

    A section opens on its most recent rows (the audit-trail listing on its first page);
    ``section`` and ``page`` ask for another page of one section: the whole page, or with
    htmx (``HX-Request``) that section alone.
    """
    if section and section != _RECORDS and section not in dict(_TIMELINE):
        raise NotFound(f"section: the timeline has no section {section!r}")
    wanted = {section: page} if section else {}
    records_page = max(wanted.get(_RECORDS) or 1, 1)
    records = subject_records(  # NotFound / PermissionDenied: the policy layer
        ctx, subject_id, offset=(records_page - 1) * RECORD_ROWS, limit=RECORD_ROWS
    )
    listing = page_of(records.total, RECORD_ROWS, wanted.get(_RECORDS))
    if listing.start != records.offset:  # asked past the last page: show the last one
        records = subject_records(ctx, subject_id, offset=listing.start, limit=RECORD_ROWS)
    data = readable_data(ctx)
    match = data.subjects[data.subjects["subject_id"] == subject_id]
    if match.empty:
        raise NotFound(f"subject_id: no enrolled subject {subject_id!r}")
    sections = []
    for table, title in _TIMELINE:
        if section and section != table and "hx-request" in request.headers:
            continue
        frame = getattr(data, table)
        frame = frame[frame["subject_id"] == subject_id]
        shown = page_of(len(frame), SECTION_ROWS, wanted.get(table), latest=True)
        rows = _rows(frame.iloc[shown.start : shown.stop])
        sections.append({"key": table, "title": title, "rows": rows, "page": shown})
    context = {
        "subject": _rows(match)[0],
        "sections": sections,
        "records": records.records,
        "records_page": listing,
    }
    if section and "hx-request" in request.headers:  # htmx: the one section asked for
        context["only"] = section
        return render(request, "_timeline_section.html", context, user=ctx.user)
    return render(request, "subject.html", context, user=ctx.user)


@router.get("/escalation")
def escalation(request: Request, ctx: PageContext) -> Response:
    """Escalation dashboard: DLT window clocks, counts per dose level, pathways, decisions."""
    state = escalation_state(ctx)
    data = readable_data(ctx)
    site_of = dict(zip(data.subjects["subject_id"], data.subjects["site_id"], strict=True))
    context = {
        "state": state,
        "view": escalation_view(state, site_of),
        "decisions": _rows(data.dose_decisions),
    }
    return render(request, "escalation.html", context, user=ctx.user)


@router.get("/expansion")
def expansion(request: Request, ctx: PageContext) -> Response:
    """Expansion dashboard: toxicity boundary and futility rule against the data, decisions."""
    state = expansion_state(ctx)
    context = {"state": state, "review": state.rules}
    return render(request, "expansion.html", context, user=ctx.user)


@router.get("/report")
def report_page(request: Request, ctx: PageContext) -> Response:
    """Where the report is generated and downloaded."""
    load_study(ctx)
    return render(request, "report.html", {}, user=ctx.user)


#: Report formats offered for download: media type and what is sent.
REPORT_FORMATS: dict[str, str] = {
    "zip": "application/zip",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "application/zip",
}


@router.get("/report/download")
def report_download(ctx: PageContext, format: str = "zip") -> Response:
    """Build the report from the current data now and send it in ``format``.

    ``html``: the self-contained HTML report; ``pdf``: the same printed by WeasyPrint; ``csv``:
    a zip file of the report's tables as CSV; ``zip``: everything (HTML, CSV, DOCX, figures).
    """
    media = REPORT_FORMATS.get(format)
    if media is None:
        raise NotFound(f"format: no report format {format!r} (one of {', '.join(REPORT_FORMATS)})")
    data = readable_data(ctx)
    with tempfile.TemporaryDirectory(prefix="cartrial-report-") as tmp:
        result = build_report(data, tmp, pdf=format == "pdf")
        if format == "html":
            body, name = result.html_path.read_bytes(), "report.html"
        elif format == "pdf" and result.pdf_path is not None:
            body, name = result.pdf_path.read_bytes(), "report.pdf"
        else:
            files = result.csv_paths if format == "csv" else sorted(Path(tmp).rglob("*"))
            body, name = _zipped(Path(tmp), files), f"report-{format}.zip"
    name = f"{ctx.study_id}-{name}" if format != "zip" else f"{ctx.study_id}-report.zip"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/report/cdisc")
def cdisc_download(ctx: PageContext, format: str = "xpt") -> Response:
    """The study's SDTM and ADaM packages, built from the current data now, as one zip file.

    The same files as ``cartrial export define --format FORMAT``: ``sdtm/`` and ``adam/``, each
    with its datasets (``xpt``: SAS transport v5, ``json``: Dataset-JSON 1.1, ``csv``), its
    Define-XML 2.1 (``define.xml`` and ``define.html``) and ``conformance.json``; the subjects are
    those the user may read.
    """
    if format not in CDISC_FORMATS:
        raise NotFound(f"format: no CDISC format {format!r} (one of {', '.join(CDISC_FORMATS)})")
    data = readable_data(ctx)
    with tempfile.TemporaryDirectory(prefix="cartrial-cdisc-") as tmp:
        root = Path(tmp)
        write_packages(data, {"sdtm": root / "sdtm", "adam": root / "adam"}, format)
        body = _zipped(root, sorted(root.rglob("*")))
    name = f"{ctx.study_id}-cdisc-{format}.zip"
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _zipped(root: Path, files: Iterable[Path]) -> bytes:
    """The ``files`` under ``root`` as one zip file (paths relative to ``root``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
