"""Bulk import of every record family, so that a study started in another EDC can move in.

A record family is one kind of CRF record (screening, enrolment, dose assignment,
lymphodepletion, infusion, adverse events and their grade changes, CRS/ICANS days, tumour
assessments, labs, kinetics, ADA, phenotype, follow-up, subsequent therapy, withdrawal). Its CSV
columns are the fields of the use case's input (:data:`RECORD_FAMILIES` names the row model of
each, ``docs/import.md`` is generated from them by :func:`columns_reference`).

Every row goes through the ordinary use case (``screen_subject``, ``record_ae``, ...), so roles,
site scope, protocol validation, derivation and the audit trail apply exactly as for a person
typing. All use cases of an import run inside ONE database transaction
(:func:`cartrial.store.one_transaction`): a refused row is rolled back to its savepoint and
reported as ``(line, field, message)``; the other rows still run so that every error shows in one
pass; with any error nothing is committed. Families run in the order of :data:`RECORD_FAMILIES`
(a subject is screened before it is enrolled), rows in file order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, cast, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    create_model,
)
from sqlalchemy import Connection

from cartrial.errors import ImportFailed
from cartrial.services.base import ServiceInput, SubjectId
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.csvrows import RowErrors, iter_row_chunks, source_name
from cartrial.services.efficacy import LesionInput, RecordTumourAssessment, record_tumour_assessment
from cartrial.services.eligibility import ScreenSubject
from cartrial.services.enrolment import (
    AssignDose,
    EnrolSubject,
    assign_dose,
    enrol_subject,
    screen_subject,
)
from cartrial.services.followup import (
    RecordAda,
    RecordFollowUp,
    RecordKinetics,
    RecordPhenotype,
    RecordSubsequentTherapy,
    WithdrawSubject,
    record_ada,
    record_follow_up,
    record_kinetics,
    record_phenotype,
    record_subsequent_therapy,
    withdraw_subject,
)
from cartrial.services.import_rows import (
    Actions,
    CsvRow,
    Lines,
    RecordFamily,
    adverse_event_of,
    date_of,
)
from cartrial.services.imports import ImportReport, guard_row
from cartrial.services.imports_governance import GOVERNANCE_FAMILIES
from cartrial.services.record_checks import DUPLICATE
from cartrial.services.safety import (
    CLINICAL_STAFF,
    RecordAE,
    RecordGradeChange,
    RecordLab,
    record_ae,
    record_grade_change,
    record_lab,
)
from cartrial.services.signing import check_signing_password
from cartrial.services.toxicity import RecordCrsIcansDay, record_crs_icans_day
from cartrial.services.treatment import (
    Infuse,
    RecordLymphodepletion,
    infuse,
    record_lymphodepletion,
)
from cartrial.store import one_transaction
from cartrial.vocab import AEOutcome

__all__ = [
    "RECORD_FAMILIES",
    "CsvRow",
    "GradeChangeRow",
    "PhenotypeRow",
    "RecordFamily",
    "RowBatch",
    "TumourRow",
    "apply_rows",
    "columns_reference",
    "import_records",
    "import_study",
    "validate_cells",
]


def row_model(model: type[ServiceInput], exclude: tuple[str, ...] = ()) -> type[CsvRow]:
    """The CSV row model with the fields of the use-case input ``model`` (one column each).

    The input's own cross-field checks run later, when the row is turned into the input inside
    the import's transaction; the row model checks every cell, so a bad row reports all its bad
    cells at once.
    """
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in exclude
    }
    made = create_model(f"{model.__name__}Row", __base__=CsvRow, __doc__=model.__doc__, **fields)
    return cast("type[CsvRow]", made)


class GradeChangeRow(CsvRow):
    """A grade change of an AE named by its subject, term and onset (as recorded).

    ``grade`` 0 resolves the AE; ``changed_at`` is when the new grade began (date, or ISO 8601
    time with its UTC offset).
    """

    subject_id: SubjectId
    term: str = Field(min_length=1)
    onset_at: AwareDatetime | dt.date
    grade: int = Field(ge=0, le=5)
    changed_at: AwareDatetime | dt.date
    outcome: AEOutcome | None = None


class PhenotypeRow(CsvRow):
    """One marker of a flow-cytometry phenotype panel (``value`` in % of CAR+ cells).

    Rows of one subject, sample date and panel form one :class:`RecordPhenotype`.
    """

    subject_id: SubjectId
    sample_date: dt.date
    panel: str = Field(min_length=1, max_length=64)
    marker: str = Field(min_length=1, max_length=64)
    value: float


_LESION_FIELDS: dict[str, Any] = {
    name: (info.annotation, info) for name, info in LesionInput.model_fields.items()
}
#: One lesion at one RECIST 1.1 assessment; rows of one subject and date form one assessment.
TumourRow = cast(
    "type[CsvRow]",
    create_model(
        "TumourRow",
        __base__=CsvRow,
        __doc__=(
            "One lesion at one RECIST 1.1 assessment (diameter in mm); the rows of one subject "
            "and assessment date form one assessment, ``method`` (e.g. CT) from its first row."
        ),
        subject_id=(str, Field(min_length=1, max_length=40)),
        assessment_date=(dt.date, ...),
        method=(cast("Any", str | None), Field(default=None, max_length=16)),
        **_LESION_FIELDS,
    ),
)


def _one_per_row(
    model: type[ServiceInput], run: Callable[[ServiceContext, Any], object]
) -> Callable[[ServiceContext, Lines, SecretStr | None], Actions]:
    """Each row is one input of ``model`` given to the use case ``run``."""

    def actions(ctx: ServiceContext, lines: Lines, _password: SecretStr | None) -> Actions:
        def one(row: BaseModel) -> object:
            return run(ctx, model(**row.model_dump(exclude_unset=True)))

        return [(line, partial(one, row)) for line, row in lines]

    return actions


def _grouped(
    lines: Lines, key: Callable[[Any], tuple[object, ...]]
) -> Iterator[tuple[int, list[Any]]]:
    """Rows grouped by ``key`` in order of first appearance, with the first row's line."""
    groups: dict[tuple[object, ...], list[tuple[int, Any]]] = defaultdict(list)
    for line, row in lines:
        groups[key(row)].append((line, row))
    for members in groups.values():
        yield members[0][0], [row for _, row in members]


def _tumour_actions(ctx: ServiceContext, lines: Lines, _password: SecretStr | None) -> Actions:
    def one(rows: list[Any]) -> object:
        lesion_names = set(LesionInput.model_fields)
        lesions = tuple(
            LesionInput(**row.model_dump(include=lesion_names, exclude_unset=True)) for row in rows
        )
        data = RecordTumourAssessment(
            subject_id=rows[0].subject_id,
            assessment_date=rows[0].assessment_date,
            lesions=lesions,
            method=rows[0].method,
        )
        return record_tumour_assessment(ctx, data)

    by_visit = _grouped(lines, lambda r: (r.subject_id, r.assessment_date))
    return [(line, partial(one, rows)) for line, rows in by_visit]


def _phenotype_actions(ctx: ServiceContext, lines: Lines, _password: SecretStr | None) -> Actions:
    def one(rows: list[Any]) -> object:
        data = RecordPhenotype(
            subject_id=rows[0].subject_id,
            sample_date=rows[0].sample_date,
            panel=rows[0].panel,
            values={row.marker: row.value for row in rows},
        )
        return record_phenotype(ctx, data)

    by_sample = _grouped(lines, lambda r: (r.subject_id, r.sample_date, r.panel))
    return [(line, partial(one, rows)) for line, rows in by_sample]


def _grade_change_actions(
    ctx: ServiceContext, lines: Lines, _password: SecretStr | None
) -> Actions:
    def one(row: Any) -> object:
        with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, read_only=False) as uc:
            ae = adverse_event_of(uc, row.subject_id, row.term, row.onset_at, *CLINICAL_STAFF)
            ae_id, version = ae.id, ae.version
        data = RecordGradeChange(
            ae_id=ae_id,
            grade=row.grade,
            changed_at=row.changed_at,
            expected_version=version,
            outcome=row.outcome,
        )
        return record_grade_change(ctx, data)

    return [(line, partial(one, row)) for line, row in lines]


def _family(
    name: str, model: type[ServiceInput], run: Callable[..., object], dated_by: str | None
) -> RecordFamily:
    return RecordFamily(name, row_model(model), _one_per_row(model, run), dated_by)


#: Every record family, in the order an import applies them.
RECORD_FAMILIES: Mapping[str, RecordFamily] = {
    family.name: family
    for family in (
        _family("screening", ScreenSubject, screen_subject, "screening_date"),
        _family("enrolment", EnrolSubject, enrol_subject, "enrolled_date"),
        _family("dose_assignment", AssignDose, assign_dose, None),
        _family(
            "lymphodepletion", RecordLymphodepletion, record_lymphodepletion, "administered_date"
        ),
        _family("infusion", Infuse, infuse, "infused_at"),
        _family("adverse_events", RecordAE, record_ae, "onset_at"),
        RecordFamily("grade_changes", GradeChangeRow, _grade_change_actions, "changed_at"),
        _family("crs_icans_days", RecordCrsIcansDay, record_crs_icans_day, "observed_date"),
        RecordFamily("tumour_assessments", TumourRow, _tumour_actions, "assessment_date"),
        _family("labs", RecordLab, record_lab, "collected_at"),
        _family("kinetics", RecordKinetics, record_kinetics, "collected_at"),
        _family("ada", RecordAda, record_ada, "sample_date"),
        RecordFamily("phenotype", PhenotypeRow, _phenotype_actions, "sample_date"),
        _family("follow_up", RecordFollowUp, record_follow_up, "contact_date"),
        _family(
            "subsequent_therapy", RecordSubsequentTherapy, record_subsequent_therapy, "start_date"
        ),
        _family("withdrawal", WithdrawSubject, withdraw_subject, "withdrawn_date"),
        *GOVERNANCE_FAMILIES,
    )
}


@dataclass(frozen=True)
class RowBatch:
    """Validated rows of one family from one source (a CSV file, an ODM file)."""

    family: str
    source: str
    lines: Lines


def apply_rows(
    ctx: ServiceContext,
    batches: Sequence[RowBatch],
    errors: Mapping[str, RowErrors],
    *,
    password: SecretStr | None = None,
) -> tuple[ImportReport, ...]:
    """Run every row of ``batches`` through its use case, all in ONE transaction.

    Rows are replayed in the order of their dates (:func:`_replay_order`), so that a dose
    decision runs on the data recorded by its cut-off; a clinical record refused before a
    decision (the next cohort's enrolment) runs again after each decision and is reported only
    when still refused at the end.
    ``errors`` (by source name) already hold the errors found while reading the sources: the
    rows that could be read still run, so that the report lists every error in one pass.
    ``password`` is the importing user's, checked once: it signs the imported governance records
    as copies (:mod:`cartrial.services.imports_governance`).

    Raises
    ------
    ImportFailed
        Every refused row as ``(line, field, message)`` (the field prefixed with its source when
        the batches come from more than one source; each source's report capped at
        :data:`~cartrial.services.csvrows.MAX_ERRORS`, the rest counted); a signed family
        without the importing user's password; nothing is written.
    AuthenticationFailed
        A wrong password (recorded as a failed signature; nothing is written).
    """
    order = list(RECORD_FAMILIES)
    ordered = sorted(batches, key=lambda b: order.index(b.family))
    signed = [b for b in ordered if RECORD_FAMILIES[b.family].signed and b.lines]
    if signed and password is None:
        raise ImportFailed(
            signed[0].source,
            [(0, "<password>", f"{signed[0].family} are signed records: importing them needs the"
              " importing user's password (their signature attests each imported copy)")],
        )  # fmt: skip
    if signed and password is not None:
        check_signing_password(ctx, password)
    ran = 0
    with one_transaction(ctx.session_factory) as factory:
        shared = replace(ctx, session_factory=factory)
        steps = [
            _Step(batch, line, action, rows[line])
            for batch in ordered
            for rows in [dict(batch.lines)]
            for line, action in RECORD_FAMILIES[batch.family].actions(shared, batch.lines, password)
        ]
        waiting: list[tuple[_Step, RowErrors]] = []
        held: set[object] = set()  # subjects with a record waiting
        connection = factory.kw["bind"]
        for step in _replay_order(steps, order):
            ran += 1
            stage = RECORD_FAMILIES[step.batch.family].stage
            if stage == "record" and _subject(step) in held:
                waiting.append((step, RowErrors(step.batch.source)))  # after its subject's
                continue
            found = _attempt(step, connection if stage != "record" else None)
            if found and stage == "record":
                waiting.append((step, found))  # perhaps gated by a decision still to come
                held.add(_subject(step))
                continue
            _report(errors, step, found)
            if not found and stage == "decision" and waiting:
                waiting = _retry(waiting, rounds_left=True)
                held = {_subject(s) for s, _ in waiting}
        for step, found in _retry(waiting, rounds_left=False):
            _report(errors, step, found)
        if any(errors.values()):
            raise _failure(errors, _already_imported(errors, ran))
    return tuple(
        ImportReport(
            source=b.source,
            kind=b.family,
            rows=len(b.lines),
            subjects=len({getattr(row, "subject_id", None) for _, row in b.lines}),
        )
        for b in ordered
    )


@dataclass(frozen=True)
class _Step:
    """One use case of an import: its batch, line, action and the row it came from."""

    batch: RowBatch
    line: int
    action: Callable[[], object]
    row: BaseModel


def _attempt(step: _Step, connection: Connection | None = None) -> RowErrors:
    """Run one step; its refusal (if any) in a scratch report.

    With ``connection`` (the import's) the step runs inside a savepoint of its own that a
    refusal rolls back: a governance step checks its result after its use case has written it
    (e.g. the MTD the design selects against the file's), and a refused row leaves nothing.
    """
    found = RowErrors(step.batch.source)
    if connection is None:
        guard_row(found, step.line, step.action)
        return found
    savepoint = connection.begin_nested()
    guard_row(found, step.line, step.action)
    if found:
        savepoint.rollback()
    else:
        savepoint.commit()
    return found


def _subject(step: _Step) -> object:
    return getattr(step.row, "subject_id", None)


def _retry(
    waiting: list[tuple[_Step, RowErrors]], *, rounds_left: bool
) -> list[tuple[_Step, RowErrors]]:
    """Run the held-back steps again in order; those still refused, with their latest refusal.

    A subject's held-back records keep their order: while ``rounds_left`` (another decision may
    still open the gate), a subject's first record refused again keeps its later ones waiting
    untried, so a round costs about one step per waiting subject. The last round
    (``rounds_left`` false) tries every record, so each is reported with its own refusal.
    """
    blocked: set[object] = set()
    still: list[tuple[_Step, RowErrors]] = []
    for step, found in waiting:
        if rounds_left and _subject(step) in blocked:
            still.append((step, found))
            continue
        again = _attempt(step)
        if again:
            blocked.add(_subject(step))
            still.append((step, again))
    return still


def _report(errors: Mapping[str, RowErrors], step: _Step, found: RowErrors) -> None:
    for line, field, message in found.kept:
        errors[step.batch.source].add(line, field, message)


def _replay_order(steps: list[_Step], families: list[str]) -> list[_Step]:
    """The steps in the order a study happened: by date, then the family order.

    A record is dated by its family's ``dated_by`` field (a dose assignment by its subject's
    enrolment date in the import), a subject's record dated before its enrolment (a screening
    scan) by the enrolment date. A signed decision (dose decision, governance) runs after the
    records dated up to its ``as_of`` cut-off; decisions of one date in the order they were
    signed in the source. A DLT adjudication runs just before the first decision signed after
    it in the source (the data it rested on are in by then), or at the end when none followed.

    Dates alone do not say which cohort a subject joined (a subject may be enrolled before the
    cut-off of the decision that opened its cohort): :func:`apply_rows` therefore holds back a
    refused clinical record, with every later record of its subject, and runs them again in
    order after each decision; a record still refused at the end is reported.
    """
    enrolled: dict[object, dt.date] = {}
    for step in steps:
        if step.batch.family == "enrolment":
            enrolled[getattr(step.row, "subject_id")] = getattr(step.row, "enrolled_date")  # noqa: B009
    decisions = sorted(
        (date_of(s.row, "as_of"), _signed_at(s.row))
        for s in steps
        if RECORD_FAMILIES[s.batch.family].stage == "decision"
    )

    def key(index: int, step: _Step) -> tuple[object, ...]:
        family = RECORD_FAMILIES[step.batch.family]
        signed_at = _signed_at(step.row)
        if family.stage == "decision":
            return (date_of(step.row, "as_of"), 1, 1, signed_at, index)
        if family.stage == "adjudication":
            after = [day for day, when in decisions if when > signed_at]
            return (after[0] if after else dt.date.max, 1, 0, signed_at, index)
        start = enrolled.get(_subject(step))
        day = date_of(step.row, family.dated_by) if family.dated_by else start or dt.date.min
        if start is not None and family.name not in ("screening", "enrolment"):
            day = max(day, start)  # a screening scan is recorded once the subject is enrolled
        return (day, 0, families.index(family.name), _NO_TIME, index)

    return [step for _, step in sorted(enumerate(steps), key=lambda p: key(*p))]


_NO_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


def _signed_at(row: BaseModel) -> dt.datetime:
    value = getattr(row, "signed_at", None)
    return value if isinstance(value, dt.datetime) else _NO_TIME


def _already_imported(errors: Mapping[str, RowErrors], ran: int) -> str:
    """The title of a re-import: every use case run was refused as an exact duplicate."""
    refused = [message for report in errors.values() for _, _, message in report.kept]
    every = sum(report.count for report in errors.values()) == len(refused) == ran
    if every and all(DUPLICATE in message for message in refused):
        return f"already imported: all {ran} record(s) are already in the database; nothing written"
    return ""


def _failure(errors: Mapping[str, RowErrors], title: str = "") -> ImportFailed:
    """One :class:`ImportFailed` for the errors of one or more sources."""
    failed = [report for report in errors.values() if report]
    if len(failed) == 1:
        return failed[0].failure(title)
    merged = [
        (line, f"{report.source}: {field}", message)
        for report in failed
        for line, field, message in sorted(report.kept)
    ]
    more = sum(report.count - len(report.kept) for report in failed)
    return ImportFailed(" + ".join(r.source for r in failed), merged, more=more, title=title)


def validate_cells(
    model: type[BaseModel], cells: Mapping[str, object], line: int, errors: RowErrors
) -> BaseModel | None:
    """One row of ``model`` from its cells; each bad cell goes to ``errors`` on ``line``."""
    try:
        return model.model_validate(cells)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "<row>"
            errors.add(line, field, err["msg"])
        return None


def _parse(family: str, source: str | Path, errors: RowErrors) -> RowBatch:
    """The valid rows of one CSV file, streamed by
    :func:`~cartrial.services.csvrows.iter_row_chunks` (header and decoding checked there);
    every bad cell goes to ``errors`` and its row is left out, so the good ones still run.
    """
    if family not in RECORD_FAMILIES:
        known = ", ".join(RECORD_FAMILIES)
        raise ImportFailed(str(source), [(0, "<family>", f"unknown {family!r}; one of {known}")])
    model = cast("Any", RECORD_FAMILIES[family].row)
    lines = [pair for chunk in iter_row_chunks(source, model, errors) for pair in chunk]
    return RowBatch(family, errors.source, lines)


def import_study(
    ctx: ServiceContext,
    sources: Sequence[tuple[str, str | Path]],
    *,
    password: SecretStr | None = None,
) -> tuple[ImportReport, ...]:
    """Import CSV files of several record families in ONE transaction, all or nothing.

    Parameters
    ----------
    sources
        ``(family, CSV file or text)`` pairs; family names are the keys of
        :data:`RECORD_FAMILIES`.
    password
        The importing user's, needed for the signed governance families (each record is
        signed by the user as an imported copy; see :func:`apply_rows`).

    Raises
    ------
    ImportFailed
        A missing or unknown column at once; otherwise every bad cell of every file and every
        row a use case refuses, in one report; nothing is written.
    """
    batches: list[RowBatch] = []
    errors: dict[str, RowErrors] = {}
    for family, source in sources:
        name = source_name(source)
        if name == "<csv text>":
            name = f"<{family} csv text>"
        batches.append(_parse(family, source, errors.setdefault(name, RowErrors(name))))
    return apply_rows(ctx, batches, errors, password=password)


def import_records(
    ctx: ServiceContext, family: str, source: str | Path, *, password: SecretStr | None = None
) -> ImportReport:
    """Import one CSV file of the record family ``family``; see :func:`import_study`."""
    return import_study(ctx, [(family, source)], password=password)[0]


def _type_name(annotation: object) -> str:
    names = []
    for arg in get_args(annotation) or (annotation,):
        if arg is type(None):
            continue
        literal = get_args(arg)
        if literal and all(isinstance(v, str) for v in literal):
            names.append("text")
        elif literal and all(isinstance(v, int) for v in literal):
            names.append(" / ".join(str(v) for v in literal))
        else:
            names.append(getattr(arg, "__name__", str(arg)))
    shown = " or ".join(dict.fromkeys(names))
    return shown.replace("AwareDatetime", "datetime with UTC offset").replace("str", "text")


def _allowed(info: Any, schema: Mapping[str, Any]) -> str:
    """A field's values (from its JSON schema), bounds, lengths and description."""
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    parts: list[str] = []
    for option in (schema, *schema.get("anyOf", ())):
        if "enum" in option and not all(isinstance(v, int) for v in option["enum"]):
            parts.append("one of " + ", ".join(f"`{v}`" for v in option["enum"]))
    for rule in info.metadata:
        for attr, symbol in symbols.items():
            if getattr(rule, attr, None) is not None:
                parts.append(f"{symbol} {getattr(rule, attr)}")
        if getattr(rule, "max_length", None) is not None:
            parts.append(f"at most {rule.max_length} characters")
        if getattr(rule, "pattern", None) is not None:
            parts.append("letters, digits, `-` and `_`")
    if info.description:
        parts.append(info.description)
    return "; ".join(parts)


def columns_reference() -> str:
    """The CSV columns of every record family as Markdown (the body of ``docs/import.md``)."""
    out = [
        "# Importing a study: CSV columns of every record family",
        "",
        "Generated from the row models by `cartrial.services.imports_records.columns_reference()`"
        " (a test keeps this file equal to it). Import with `cartrial import records FAMILY FILE`"
        " or, for several families in one transaction, `cartrial import study FAMILY=FILE ...`;"
        " a CDISC ODM 1.3 file with `cartrial import odm FILE`. All or nothing: one"
        " transaction, every refused row reported with its file, line (the header is line 1) and"
        " field, nothing written on any error. Dates are ISO 8601 (`2026-03-02`), times ISO 8601"
        " with their UTC offset (`2026-03-02T09:00:00+00:00`); an empty cell means not given.",
        "",
        "Each row runs through its ordinary use case as the importing user: roles, site scope,"
        " protocol checks, derived grades and responses and the audit trail apply as for a person"
        " typing. Rows are replayed in the order the study happened: by their date (a dose"
        " assignment on its subject's enrolment date), families in the order below on one date"
        " (a subject is screened before it is enrolled), rows in file order. A dose or"
        " governance decision runs after the records dated up to its `as_of` cut-off, decisions"
        " of one date in the order they were signed; a DLT adjudication just before the first"
        " decision signed after it. A clinical row refused before a decision (the next cohort's"
        " enrolment and dose assignment wait for the dose decision that opens the cohort) is"
        " run again after each decision and reported only if still refused at the end.",
        "",
        "## Signed governance records and their signatures",
        "",
        "DLT adjudications, dose decisions and the governance decisions (end of escalation with"
        " the MTD, RP2D, expansion opened, reviewed, stopped) are imported through their use"
        " cases (`adjudicate_dlt`, `decide_next_dose`, `end_escalation`, `decide_rp2d`,"
        " `open_expansion`, `review_expansion`, `stop_expansion`) on the data imported before"
        " them: the design recomputes the recommendation and the MTD, the rules the DLTs, and a"
        " row whose dose level, cohort, recommendation or MTD differs from what the use case"
        " finds on the imported data is refused on its line. A governance decision keeps the"
        " `basis`, `n_evaluable` and `n_dlt` its source recorded (what the committee saw: data"
        " entered late in the source may count on the imported data); when the basis on the"
        " imported data differs, the audit reason of the record states it. The importing user"
        " needs the roles of each use case (e.g. an investigator).",
        "",
        "An electronic signature cannot be moved between systems (21 CFR Part 11 §11.70: it is"
        " linked to its record so that it cannot be copied to falsify another), and cartrial"
        " never writes a signature for a person who did not sign in cartrial. So each imported"
        " record is signed by the importing user, once authenticated for the whole import"
        " (`--sign`: the password is prompted once, or typed in the password field of the web"
        " application's Import page; a wrong one is recorded as a failed"
        ' signature), with the meaning `imported_copy`: "this record is a true copy of the'
        ' record signed in the source system". The source signature (`signed_in` system,'
        " `signed_by` user name, `signed_by_name` printed name, meaning, `signed_at` time) is"
        " kept as data with that signature (`signatures.source_*`, migration 0008), never as a"
        " cartrial signature. It shows everywhere a signature is shown (§11.50): the"
        " manifestation reads `signed in <system> by <name> (<user>), <meaning>, <time> UTC"
        " (...); imported by <name> (<user>), imported_copy, <time> UTC (...), record version"
        " <n>` (record history, signature lists, the report's dose-decision table), the"
        " report's governance statements name the imported copy and the source signature, and"
        " every audit row of the import carries the reason `imported by <user> from <system>:"
        " signed there by <name> (<user>) as <meaning> at <time> UTC`. The export writes the"
        " source signature of an imported record (the decision maker's, not the importer's), so"
        " export -> import -> export gives the same file; the intermediate importer is in the"
        " audit trail of the database it was imported into. A subject adjudicated more than once"
        " is exported as its latest adjudication.",
        "",
        "In CDISC ODM 1.3 (`cartrial export odm` writes it) each family is a form `F.<FAMILY>`"
        " with a repeating item group `IG.<FAMILY>` and one item `IT.<FAMILY>.<COLUMN>` per"
        " column below, in study event `SE.RECORDS`; `SubjectKey` is the `subject_id`. The"
        " study-level families (`dose_decisions`, `governance_decisions`) have no form: their"
        ' item groups `IG.<FAMILY>` (`IsReferenceData="Yes"`) are `ItemGroupData` of the'
        " document's `ReferenceData`. The"
        " export writes an adverse event as its onset record and its later grade changes;"
        " `cartrial.services.odm_check.odm_problems` checks a document against the ODM 1.3.2"
        " schema of what cartrial exchanges (`data/cdisc/odm-1.3.2-cartrial.xsd`), its OID"
        " references and its item data types.",
        "",
    ]
    for family in RECORD_FAMILIES.values():
        doc = (family.row.__doc__ or "").strip().splitlines()
        out += [f"## `{family.name}`", "", doc[0] if doc else "", ""]
        out += ["| column | type | required | allowed |", "|---|---|---|---|"]
        schema = family.row.model_json_schema()["properties"]
        for name, info in family.row.model_fields.items():
            required = "yes" if info.is_required() else f"no (default {info.default!r})"
            kind = _type_name(info.annotation)
            out.append(f"| `{name}` | {kind} | {required} | {_allowed(info, schema[name])} |")
        out.append("")
    return "\n".join(out)
