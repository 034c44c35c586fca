"""Bulk CSV imports of labs, lesions and kinetics: all or nothing, with a line-level error report.

An import streams its file in chunks (:func:`~cartrial.services.csvrows.iter_row_chunks`) inside
ONE audited transaction: each chunk is checked (subject and role, the plausibility rules of
:mod:`cartrial.services.plausibility`, duplicates, the CTCAE grading) and, while no error has been
found, written and flushed, so memory holds one chunk, not the file. Every problem is collected
as ``(line, field, message)`` (the header is line 1; at most 100 listed, the rest counted); if
there is any, the transaction is rolled back and :class:`~cartrial.errors.ImportFailed` lists them.
A crash part-way leaves nothing behind either: the transaction never commits.

Re-importing a file already imported changes nothing: every line is an exact duplicate (rule
``duplicate-record``) and the import is refused as "already imported".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import func, select

from cartrial.errors import NotFound, PermissionDenied, ValidationFailed
from cartrial.failing_rows import failing_rows, without_row_prefix
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.csvrows import (
    MAX_ERRORS,
    KineticsRow,
    LabRow,
    LesionRow,
    RowErrors,
    iter_row_chunks,
    parse_rows,
    source_name,
)
from cartrial.services.derive import lab_grade_frame
from cartrial.services.efficacy import (
    ASSESSORS,
    LesionInput,
    derive_subject_recist,
    store_assessment,
)
from cartrial.services.followup import RecordKinetics, store_kinetics
from cartrial.services.plausibility import Finding, check_lab_values, check_lesion_diameter
from cartrial.services.record_checks import DataChecks, open_query
from cartrial.services.safety import LAB_STAFF, RecordLab, store_labs
from cartrial.store import (
    KineticsSample,
    LabResult,
    Subject,
    SurvivalFollowUp,
    live,
)

__all__ = ["ImportReport", "guard_row", "import_kinetics", "import_labs", "import_lesions"]

_REFUSALS = (ValidationFailed, NotFound, PermissionDenied)


class ImportReport(ServiceResult):
    """What an import wrote: the file, the kind, rows, subjects and data queries opened."""

    source: str
    kind: str
    rows: int
    subjects: int
    queries: int = 0


class _Subjects:
    """The subjects an import meets, read chunk by chunk, with their death dates."""

    def __init__(self, uc: UseCase, roles: tuple[str, ...]) -> None:
        self.uc = uc
        self.roles = roles
        self.by_code: dict[str, Subject | None] = {}
        self.died: dict[int, dt.date] = {}
        self.used: set[str] = set()

    def load(self, codes: Iterable[str]) -> None:
        new = {c for c in codes if c not in self.by_code}
        if not new:
            return
        found = self.uc.session.scalars(
            select(Subject).where(
                Subject.study_id == self.uc.study.id,
                Subject.subject_code.in_(sorted(new)),
                live(Subject),
            )
        )
        subjects = {s.subject_code: s for s in found}
        for code in new:
            self.by_code[code] = subjects.get(code)
        ids = [s.id for s in subjects.values()]
        deaths = self.uc.session.execute(
            select(SurvivalFollowUp.subject_id, func.min(SurvivalFollowUp.death_date))
            .where(
                SurvivalFollowUp.subject_id.in_(ids),
                SurvivalFollowUp.death_date.is_not(None),
                live(SurvivalFollowUp),
            )
            .group_by(SurvivalFollowUp.subject_id)
        )
        self.died.update({subject_id: day for subject_id, day in deaths if day is not None})

    def get(self, line: int, code: str, errors: RowErrors) -> Subject | None:
        """The subject ``code`` if it exists and the user may write its data, else an error."""
        subject = self.by_code.get(code)
        if subject is None:
            errors.add(line, "subject_id", f"no subject {code!r} in this study")
        elif not self.uc.has_role(*self.roles, site_id=subject.site_id):
            errors.add(line, "subject_id", f"no permission at {code}'s site")
        else:
            self.used.add(code)
            return subject
        return None


def _dates(
    checks: DataChecks, subjects: _Subjects, subject: Subject, day: dt.date, field: str
) -> list[Finding]:
    return checks.dates(subject, day, field, died=subjects.died.get(subject.id))


def _split(
    checks: DataChecks, line: int, findings: list[Finding], errors: RowErrors
) -> list[Finding] | None:
    """Refuse the line on any non-queryable finding (``None``), else the findings to query."""
    refused, queried = checks.split(findings)
    for finding in refused:
        errors.add(line, finding.field, finding.text())
    return None if refused else queried


def guard_row(errors: RowErrors, line: int, action: Callable[[], object]) -> bool:
    """Run one line's checks; a refusal becomes that line's error. Whether it passed."""
    try:
        action()
    except _REFUSALS as exc:
        field = getattr(exc, "field", "subject_id")
        errors.add(line, field, str(exc).removeprefix(f"{field}: "))
        return False
    return True


_Candidate = tuple[int, Subject, RecordLab, list[Finding]]


def import_labs(
    ctx: ServiceContext, source: str | Path, *, encoding: str | None = None, chunk_size: int = 2000
) -> ImportReport:
    """Import lab results (``subject_id, date[, time], lbtestcd, value, unit[, lln, uln]``).

    Each result is graded with CTCAE v5.0 as it is written. ``time`` is the local time in the
    study's time zone. Exact duplicates of stored results are refused; a result with the same
    subject, test and time as a stored one but another value is stored with a data query
    (rule ``near-duplicate``).

    Raises
    ------
    ImportFailed
        Every unreadable line or cell, unknown subject, line the user may not write, line in
        locked data, implausible line (naming its rule) and line the CTCAE grading rejects;
        "already imported" when every line is already stored. Nothing is written.
    """
    errors = RowErrors(source_name(source))
    rows = duplicates = queries = 0
    with use_case(ctx, *LAB_STAFF, site_scoped=True) as uc, uc.session.no_autoflush:
        subjects = _Subjects(uc, LAB_STAFF)
        checks = DataChecks(uc)
        seen = _LabKeys(uc)
        chunks = iter_row_chunks(source, LabRow, errors, encoding=encoding, chunk_size=chunk_size)
        for chunk in chunks:
            rows += len(chunk)
            subjects.load(row.subject_id for _, row in chunk)
            candidates = [
                c for line, row in chunk if (c := _lab(uc, subjects, checks, line, row, errors))
            ]
            duplicates += _drop_duplicates(uc, seen, candidates, errors)
            _locate_grading_errors(candidates, errors)
            if errors or not candidates:
                continue
            stored = store_labs(uc, [(s, r) for _, s, r, _ in candidates])
            uc.session.flush()
            opened = [
                open_query(uc, subject, record, finding)
                for (_, subject, _, findings), record in zip(candidates, stored, strict=True)
                for finding in findings
            ]
            uc.session.add_all(opened)
            uc.session.flush()
            queries += len(opened)
            for done in (*stored, *opened):
                uc.session.expunge(done)
        if errors.count and errors.count == duplicates == rows:
            raise errors.failure(
                f"already imported: all {rows} line(s) are already in the database; nothing written"
            )
        if errors:
            raise errors.failure()
        return ImportReport(
            source=errors.source,
            kind="labs",
            rows=rows,
            subjects=len(subjects.used),
            queries=queries,
        )


def _lab(
    uc: UseCase,
    subjects: _Subjects,
    checks: DataChecks,
    line: int,
    row: LabRow,
    errors: RowErrors,
) -> _Candidate | None:
    """One line's record and its queryable findings, or ``None`` after recording its errors."""
    subject = subjects.get(line, row.subject_id, errors)
    if subject is None:
        return None
    try:
        when = checks.collected_at(row.date, row.time)
        record = RecordLab(
            subject_id=row.subject_id,
            collected_at=when,
            lbtestcd=row.lbtestcd,
            value=row.value,
            unit=row.unit,
            lln=row.lln,
            uln=row.uln,
        )
    except ValidationFailed as exc:
        errors.add(line, exc.field, str(exc).removeprefix(f"{exc.field}: "))
        return None
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            errors.add(line, ".".join(map(str, err["loc"])) or "<row>", err["msg"])
        return None
    if not guard_row(errors, line, partial(uc.check_unlocked, row.date, "date")):
        return None
    findings = _dates(checks, subjects, subject, row.date, "date")
    findings += check_lab_values(row.lbtestcd, row.value, row.unit, row.lln, row.uln)
    queried = _split(checks, line, findings, errors)
    if queried is None:
        return None
    return line, subject, record, queried


class _LabKeys:
    """Hashes of every lab result of the study and of this import's accepted lines.

    ``timed`` holds ``(subject, test, time)`` and ``exact`` adds ``(value, unit)``: a line whose
    time key is new needs no database look-up, so duplicate checks cost one set look-up per line
    instead of a query scanning the growing table (memory: about 120 MB per million results).
    """

    def __init__(self, uc: UseCase) -> None:
        self.timed: set[int] = set()
        self.exact: set[int] = set()
        stored = uc.session.execute(
            select(
                LabResult.subject_id,
                LabResult.lbtestcd,
                LabResult.collected_at,
                LabResult.value,
                LabResult.unit,
            )
            .join(Subject, Subject.id == LabResult.subject_id)
            .where(Subject.study_id == uc.study.id, live(LabResult))
            .execution_options(yield_per=10_000)
        )
        for subject_id, test, when, value, unit in stored:
            self.add((subject_id, test, when), value, unit)

    def add(self, key: tuple[int, str, dt.datetime], value: float, unit: str) -> None:
        self.timed.add(hash(key))
        self.exact.add(hash((*key, value, unit)))


def _drop_duplicates(
    uc: UseCase, seen: _LabKeys, candidates: list[_Candidate], errors: RowErrors
) -> int:
    """Refuse exact duplicates (stored, or earlier in the file); query near-duplicates.

    Removes refused candidates in place and returns how many lines were exact duplicates. Only
    lines whose time key is already known are looked up in the database (to name the stored
    result), and only while the error report has room.
    """
    keys = [(s.id, r.lbtestcd, uc.study_time(r.collected_at)) for _, s, r, _ in candidates]
    lookup = [(c, k) for c, k in zip(candidates, keys, strict=True) if hash(k) in seen.timed]
    known: dict[tuple[int, str, dt.datetime], list[tuple[str, float, str]]] = defaultdict(list)
    if lookup and len(errors.kept) < MAX_ERRORS:
        stored = uc.session.execute(
            select(
                LabResult.id,
                LabResult.subject_id,
                LabResult.lbtestcd,
                LabResult.collected_at,
                LabResult.value,
                LabResult.unit,
            ).where(
                LabResult.subject_id.in_({k[0] for _, k in lookup}),
                LabResult.lbtestcd.in_({k[1] for _, k in lookup}),
                LabResult.collected_at.in_({k[2] for _, k in lookup}),
                live(LabResult),
            )
        )
        for lab_id, subject_id, test, when, value, unit in stored:
            known[(subject_id, test, when)].append((f"lab result {lab_id}", value, unit))
    kept: list[_Candidate] = []
    exact = 0
    earlier = "an earlier line of this file"
    for (line, subject, record, findings), key in zip(candidates, keys, strict=True):
        others = known[key]
        copy = next((what for what, v, u in others if (v, u) == (record.value, record.unit)), None)
        if copy is None and hash((*key, record.value, record.unit)) in seen.exact:
            copy = earlier  # not flushed (the import already failed) or not looked up
        if copy is not None:
            exact += 1
            errors.add(line, "<row>", f"exact duplicate of {copy} (rule: duplicate-record)")
            continue
        if others or hash(key) in seen.timed:
            what, value, unit = others[0] if others else (earlier, None, "")
            shown = f" ({value:g} {unit})" if value is not None else ""
            findings = [
                *findings,
                Finding(
                    "value",
                    "near-duplicate",
                    f"{record.lbtestcd} at the same time as {what}{shown} "
                    f"but {record.value:g} {record.unit}",
                ),
            ]
        others.append((f"line {line}", record.value, record.unit))
        seen.add(key, record.value, record.unit)
        kept.append((line, subject, record, findings))
    candidates[:] = kept
    return exact


def _locate_grading_errors(candidates: list[_Candidate], errors: RowErrors) -> None:
    """Grade the chunk at once; only if that fails, bisect to name every line grading rejects.

    Removes the rejected candidates in place.
    """
    frame = pd.DataFrame(
        {
            "lbtestcd": [r.lbtestcd for _, _, r, _ in candidates],
            "value": [r.value for _, _, r, _ in candidates],
            "unit": [r.unit for _, _, r, _ in candidates],
            "lln": [r.lln for _, _, r, _ in candidates],
            "uln": [r.uln for _, _, r, _ in candidates],
            "baseline": [r.baseline for _, _, r, _ in candidates],
        }
    )
    bad = failing_rows(
        range(len(candidates)), lambda rows: lab_grade_frame(frame.iloc[rows]), ValidationFailed
    )
    for position, exc in bad:
        message = str(exc).removeprefix(f"{exc.field}: ")
        errors.add(candidates[position][0], exc.field, without_row_prefix(message))
    if bad:
        rejected = {position for position, _ in bad}
        candidates[:] = [c for i, c in enumerate(candidates) if i not in rejected]


def import_lesions(
    ctx: ServiceContext, source: str | Path, *, encoding: str | None = None
) -> ImportReport:
    """Import RECIST lesion measurements (long format), then derive each subject's responses.

    Rows of one subject and date form one assessment, checked as
    :func:`~cartrial.services.efficacy.record_tumour_assessment` does, plus the rules
    ``lesion-size`` and the subject's dates; an error inside an assessment is reported on the
    assessment's first line. Lesion files are small (one row per lesion per scan): the file is
    read whole, because an assessment's lines may be anywhere in it.
    """
    rows = parse_rows(source, LesionRow, encoding=encoding)
    errors = RowErrors(source_name(source))
    with use_case(ctx, *ASSESSORS, site_scoped=True) as uc:
        subjects = _Subjects(uc, ASSESSORS)
        checks = DataChecks(uc)
        lines = list(enumerate(rows, start=2))
        subjects.load(r.subject_id for r in rows)
        groups: dict[tuple[str, dt.date], list[tuple[int, LesionRow]]] = defaultdict(list)
        for line, row in lines:
            subject = subjects.get(line, row.subject_id, errors)
            if subject is None:
                continue
            findings = _dates(checks, subjects, subject, row.assessment_date, "assessment_date")
            findings += check_lesion_diameter(row.diameter_mm)
            if _split(checks, line, findings, errors) is not None:
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
            subject = subjects.by_code[code]
            assert subject is not None  # grouped only when found
            action = partial(store_assessment, uc, subject, day, lesions, None)
            guard_row(errors, members[0][0], action)
        if not errors:
            for code, line in first_line.items():
                subject = subjects.by_code[code]
                assert subject is not None
                guard_row(errors, line, partial(derive_subject_recist, uc, subject))
        if errors:
            raise errors.failure()
        return ImportReport(
            source=errors.source, kind="lesions", rows=len(rows), subjects=len(first_line)
        )


def _store_sample(
    uc: UseCase, subject: Subject, record: RecordKinetics, stored: list[KineticsSample]
) -> None:
    stored.append(store_kinetics(uc, subject, record))


def import_kinetics(
    ctx: ServiceContext, source: str | Path, *, encoding: str | None = None
) -> ImportReport:
    """Import CAR-T kinetics (``subject_id, date, value, unit, lloq``); empty value = below LLOQ.

    Streams the file in chunks like :func:`import_labs`, with the subject's date rules.
    """
    errors = RowErrors(source_name(source))
    rows = 0
    with use_case(ctx, *LAB_STAFF, site_scoped=True) as uc, uc.session.no_autoflush:
        subjects = _Subjects(uc, LAB_STAFF)
        checks = DataChecks(uc)
        for chunk in iter_row_chunks(source, KineticsRow, errors, encoding=encoding):
            rows += len(chunk)
            subjects.load(row.subject_id for _, row in chunk)
            stored: list[KineticsSample] = []
            for line, row in chunk:
                subject = subjects.get(line, row.subject_id, errors)
                if subject is None:
                    continue
                findings = _dates(checks, subjects, subject, row.date, "date")
                if _split(checks, line, findings, errors) is None:
                    continue
                record = RecordKinetics(
                    subject_id=row.subject_id,
                    collected_at=row.date,
                    unit=row.unit,
                    value=row.value,
                    lloq=row.lloq,
                )
                guard_row(errors, line, partial(_store_sample, uc, subject, record, stored))
            if not errors:
                uc.session.flush()
                for sample in stored:
                    uc.session.expunge(sample)
        if errors:
            raise errors.failure()
        return ImportReport(
            source=errors.source, kind="kinetics", rows=rows, subjects=len(subjects.used)
        )
