"""Read pages: study overview, subject list and timeline, escalation dashboard, the report.

Each page asks the policy layer what the user may read (:func:`cartrial.services.visible_sites`:
a role in this study, and at which sites) and reads the study's data through
:func:`cartrial.services.trial_data`, keeping only the subjects of those sites.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Request
from starlette.responses import Response

from cartrial.errors import NotFound
from cartrial.report import build_report
from cartrial.services import (
    escalation_state,
    expansion_state,
    load_study,
    subject_site,
)
from cartrial.web.deps import PageContext
from cartrial.web.escalation import escalation_view
from cartrial.web.pages import render
from cartrial.web.reading import readable_data, table_rows

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
    frame = readable_data(ctx).subjects
    for column, value in (("site_id", site), ("dose_level", dose), ("phase", phase)):
        if value:
            frame = frame[frame[column].astype(str) == value]
    context = {"subjects": _rows(frame), "site": site, "dose": dose, "phase": phase}
    return render(request, "subjects.html", context, user=ctx.user)


@router.get("/subjects/{subject_id}")
def subject_timeline(request: Request, ctx: PageContext, subject_id: str) -> Response:
    """One subject's timeline: key dates, then every record by kind."""
    subject_site(ctx, subject_id)  # NotFound / PermissionDenied from the policy layer
    data = readable_data(ctx)
    match = data.subjects[data.subjects["subject_id"] == subject_id]
    if match.empty:
        raise NotFound(f"subject_id: no enrolled subject {subject_id!r}")
    sections = []
    for table, title in _TIMELINE:
        frame = getattr(data, table)
        sections.append((title, _rows(frame[frame["subject_id"] == subject_id])))
    context = {"subject": _rows(match)[0], "sections": sections}
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
    context = {
        "state": state,
        "review": state.rules,
        "decisions": [decision.model_dump(mode="json") for decision in state.decisions],
    }
    return render(request, "expansion.html", context, user=ctx.user)


@router.get("/report")
def report_page(request: Request, ctx: PageContext) -> Response:
    """Where the report is generated and downloaded."""
    load_study(ctx)
    return render(request, "report.html", {}, user=ctx.user)


@router.get("/report/download")
def report_download(ctx: PageContext) -> Response:
    """Build the report (HTML and CSV tables) now and send it as one zip file."""
    data = readable_data(ctx)
    with tempfile.TemporaryDirectory(prefix="cartrial-report-") as tmp:
        result = build_report(data, tmp, pdf=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tmp).as_posix())
    del result
    name = f"{ctx.study_id}-report.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
