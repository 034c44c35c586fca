"""Bulk CSV imports of labs, lesions and kinetics: all or nothing, with a row-level error report.

Each import parses the whole file (:func:`cartrial.services.csvrows.parse_rows`), then applies
every row in ONE audited transaction through the same checks as the single-record use cases.
Every problem is collected as ``(row, field, message)`` (the header is row 1); if there is any,
the transaction is rolled back and :class:`~cartrial.errors.ImportFailed` lists them all. A crash
part-way leaves nothing behind either: the transaction never commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from cartrial.errors import ImportFailed, NotFound, PermissionDenied, ValidationFailed
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.csvrows import KineticsRow, LabRow, LesionRow, parse_rows
from cartrial.services.derive import lab_grade_frame
from cartrial.services.efficacy import (
    ASSESSORS,
    LesionInput,
    derive_subject_recist,
    store_assessment,
)
from cartrial.services.followup import RecordKinetics, store_kinetics
from cartrial.services.safety import LAB_STAFF, RecordLab, as_utc, check_lab_date, store_labs
from cartrial.store import Subject, live

__all__ = ["ImportReport", "import_kinetics", "import_labs", "import_lesions"]

RowError = tuple[int, str, str]


class ImportReport(ServiceResult):
    """What an import wrote: the file, the kind, rows and subjects."""

    source: str
    kind: str
    rows: int
    subjects: int


def _subjects(uc: UseCase, codes: set[str]) -> dict[str, Subject]:
    found = uc.session.scalars(
        select(Subject).where(
            Subject.study_id == uc.study.id,
            Subject.subject_code.in_(sorted(codes)),
            live(Subject),
        )
    )
    return {s.subject_code: s for s in found}


def _resolve(
    uc: UseCase, rows: list[tuple[int, str]], roles: tuple[str, ...], errors: list[RowError]
) -> dict[str, Subject]:
    """Subjects of the rows, checking the user's role at each subject's site."""
    subjects = _subjects(uc, {code for _, code in rows})
    allowed: dict[str, Subject] = {}
    for line, code in rows:
        subject = subjects.get(code)
        if subject is None:
            errors.append((line, "subject_id", f"no subject {code!r} in this study"))
        elif not uc.has_role(*roles, site_id=subject.site_id):
            errors.append((line, "subject_id", f"no permission at {code}'s site"))
        else:
            allowed[code] = subject
    return allowed


def _source_name(source: str | Path) -> str:
    return "<csv text>" if isinstance(source, str) and "\n" in source else str(source)


def _guard(errors: list[RowError], line: int, action: Callable[[], object]) -> None:
    """Run one row's checks; a refusal becomes that row's error."""
    try:
        action()
    except (ValidationFailed, NotFound, PermissionDenied) as exc:
        field = getattr(exc, "field", "subject_id")
        message = str(exc).removeprefix(f"{field}: ")
        errors.append((line, field, message))


def import_labs(ctx: ServiceContext, source: str | Path) -> ImportReport:
    """Import lab results (``subject_id, date, lbtestcd, value, unit[, lln, uln]``), graded.

    Raises
    ------
    ImportFailed
        Every unparsable cell, unknown subject, row the user may not write, row before
        screening or in locked data, and row the CTCAE grading rejects; nothing is written.
    """
    rows = parse_rows(source, LabRow)
    name = _source_name(source)
    errors: list[RowError] = []
    with use_case(ctx, *LAB_STAFF, site_scoped=True) as uc, uc.session.no_autoflush:
        lines = list(enumerate(rows, start=2))
        subjects = _resolve(uc, [(i, r.subject_id) for i, r in lines], LAB_STAFF, errors)
        inputs: list[tuple[int, Subject, RecordLab]] = []
        for line, row in lines:
            if row.subject_id in subjects:
                record = RecordLab(
                    subject_id=row.subject_id,
                    collected_at=row.date,
                    lbtestcd=row.lbtestcd,
                    value=row.value,
                    unit=row.unit,
                    lln=row.lln,
                    uln=row.uln,
                )
                subject = subjects[row.subject_id]
                inputs.append((line, subject, record))
                when = as_utc(row.date)
                _guard(errors, line, partial(check_lab_date, uc, subject, when))
        _locate_grading_errors(inputs, errors)
        if not errors:
            store_labs(uc, [(s, r) for _, s, r in inputs])
        if errors:
            raise ImportFailed(name, sorted(errors))
        uc.session.flush()
        return ImportReport(source=name, kind="labs", rows=len(rows), subjects=len(subjects))


def _locate_grading_errors(
    inputs: list[tuple[int, Subject, RecordLab]], errors: list[RowError]
) -> None:
    """Grade all rows at once; only if that fails, grade row by row to name every bad row."""
    frame = pd.DataFrame(
        {
            "lbtestcd": [r.lbtestcd for _, _, r in inputs],
            "value": [r.value for _, _, r in inputs],
            "unit": [r.unit for _, _, r in inputs],
            "lln": [r.lln for _, _, r in inputs],
            "uln": [r.uln for _, _, r in inputs],
            "baseline": [r.baseline for _, _, r in inputs],
        }
    )
    if frame.empty:
        return
    try:
        lab_grade_frame(frame)
        return
    except ValidationFailed:
        pass
    for position, (line, _, _) in enumerate(inputs):
        _guard(errors, line, partial(lab_grade_frame, frame.iloc[[position]]))


def import_lesions(ctx: ServiceContext, source: str | Path) -> ImportReport:
    """Import RECIST lesion measurements (long format), then derive each subject's responses.

    Rows of one subject and date form one assessment, checked as
    :func:`~cartrial.services.efficacy.record_tumour_assessment` does; an error inside an
    assessment is reported on the assessment's first row.
    """
    rows = parse_rows(source, LesionRow)
    name = _source_name(source)
    errors: list[RowError] = []
    with use_case(ctx, *ASSESSORS, site_scoped=True) as uc:
        lines = list(enumerate(rows, start=2))
        subjects = _resolve(uc, [(i, r.subject_id) for i, r in lines], ASSESSORS, errors)
        groups: dict[tuple[str, dt.date], list[tuple[int, LesionRow]]] = defaultdict(list)
        for line, row in lines:
            if row.subject_id in subjects:
                groups[(row.subject_id, row.assessment_date)].append((line, row))
        first_line: dict[str, int] = {}
        for (code, day), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            first_line.setdefault(code, members[0][0])
            lesions = tuple(
                LesionInput(
                    lesion_id=r.lesion_id,
                    category=r.category,
                    organ=r.organ,
                    is_lymph_node=r.is_lymph_node,
                    diameter_mm=r.diameter_mm,
                    status=r.status,
                )
                for _, r in members
            )
            subject = subjects[code]
            action = partial(store_assessment, uc, subject, day, lesions, None)
            _guard(errors, members[0][0], action)
        if not errors:
            for code, line in first_line.items():
                _guard(errors, line, partial(derive_subject_recist, uc, subjects[code]))
        if errors:
            raise ImportFailed(name, sorted(errors))
        return ImportReport(source=name, kind="lesions", rows=len(rows), subjects=len(first_line))


def import_kinetics(ctx: ServiceContext, source: str | Path) -> ImportReport:
    """Import CAR-T kinetics (``subject_id, date, value, unit, lloq``); empty value = below LLOQ."""
    rows = parse_rows(source, KineticsRow)
    name = _source_name(source)
    errors: list[RowError] = []
    with use_case(ctx, *LAB_STAFF, site_scoped=True) as uc, uc.session.no_autoflush:
        lines = list(enumerate(rows, start=2))
        subjects = _resolve(uc, [(i, r.subject_id) for i, r in lines], LAB_STAFF, errors)
        for line, row in lines:
            subject = subjects.get(row.subject_id)
            if subject is None:
                continue
            record = RecordKinetics(
                subject_id=row.subject_id,
                collected_at=row.date,
                unit=row.unit,
                value=row.value,
                lloq=row.lloq,
            )
            _guard(errors, line, partial(store_kinetics, uc, subject, record))
        if errors:
            raise ImportFailed(name, sorted(errors))
        uc.session.flush()
        return ImportReport(source=name, kind="kinetics", rows=len(rows), subjects=len(subjects))
