"""Every write use case of :mod:`cartrial.services` as a form, described once.

A form is built from the use case's own input model (its fields, types, choices and defaults),
so the page and the service can never disagree about what a field accepts: the service
validates, and a rejected form is shown again with what the user typed and the error beside the
field the service names (``ValidationFailed.field``). A field holding a list of records (a tumour
assessment's lesions, DLT overrides) is a table with one row per record and one column per field
of the record's model; other lists and mappings (phenotype values) are typed as JSON. What a form
computes or offers while typed is in :mod:`cartrial.web.live_forms`.
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, SecretStr

from cartrial import services as s
from cartrial.errors import NotFound, ValidationFailed
from cartrial.services import ServiceContext

__all__ = [
    "FORMS",
    "FieldView",
    "FormSpec",
    "field_views",
    "form_spec",
    "parse_form",
    "row_model",
    "table_rows",
]


@dataclass(frozen=True)
class FormSpec:
    """One use case as a form: its title, group, input model and function."""

    title: str
    group: str
    model: type[BaseModel]
    action: Callable[[ServiceContext, BaseModel], BaseModel]


def _spec(
    title: str,
    group: str,
    model: type[BaseModel],
    action: Callable[[ServiceContext, BaseModel], BaseModel],
) -> FormSpec:
    return FormSpec(title, group, model, action)


_ACTIONS: tuple[tuple[str, str, str, type[BaseModel], Callable[..., BaseModel]], ...] = (
    ("screen", "Screening (eligibility criteria)", "subjects", s.ScreenSubject, s.screen_subject),
    ("enrol", "Enrolment", "subjects", s.EnrolSubject, s.enrol_subject),
    ("assign-dose", "Dose assignment", "subjects", s.AssignDose, s.assign_dose),
    (
        "lymphodepletion",
        "Lymphodepletion",
        "treatment",
        s.RecordLymphodepletion,
        s.record_lymphodepletion,
    ),
    ("infusion", "CAR-T infusion", "treatment", s.Infuse, s.infuse),
    ("ae", "Adverse event (CTCAE)", "safety", s.RecordAE, s.record_ae),
    ("grade-change", "AE grade change", "safety", s.RecordGradeChange, s.record_grade_change),
    ("lab", "Laboratory value (graded on entry)", "safety", s.RecordLab, s.record_lab),
    (
        "crs-icans",
        "Daily CRS / ICANS (ASTCT)",
        "safety",
        s.RecordCrsIcansDay,
        s.record_crs_icans_day,
    ),
    (
        "tumour",
        "Tumour assessment (RECIST 1.1)",
        "efficacy",
        s.RecordTumourAssessment,
        s.record_tumour_assessment,
    ),
    ("kinetics", "CAR-T kinetics sample", "samples", s.RecordKinetics, s.record_kinetics),
    ("ada", "Anti-drug antibodies", "samples", s.RecordAda, s.record_ada),
    ("phenotype", "Immunophenotype", "samples", s.RecordPhenotype, s.record_phenotype),
    ("follow-up", "Survival follow-up", "follow-up", s.RecordFollowUp, s.record_follow_up),
    (
        "subsequent-therapy",
        "Subsequent therapy",
        "follow-up",
        s.RecordSubsequentTherapy,
        s.record_subsequent_therapy,
    ),
    ("withdrawal", "Withdrawal", "follow-up", s.WithdrawSubject, s.withdraw_subject),
    ("adjudicate-dlt", "DLT adjudication", "governance", s.AdjudicateDLT, s.adjudicate_dlt),
    (
        "decide-dose",
        "Dose decision (committee)",
        "governance",
        s.DecideNextDose,
        s.decide_next_dose,
    ),
    ("sign", "E-signature", "governance", s.SignRecord, s.sign_record),
    ("open-expansion", "Open the expansion", "governance", s.OpenExpansion, s.open_expansion),
    ("review-expansion", "Expansion review", "governance", s.ReviewExpansion, s.review_expansion),
    ("stop-expansion", "Stop the expansion", "governance", s.StopExpansion, s.stop_expansion),
    ("raise-query", "Raise a data query", "queries", s.RaiseQuery, s.raise_query),
    ("answer-query", "Answer a data query", "queries", s.AnswerQuery, s.answer_query),
    ("close-query", "Close a data query", "queries", s.CloseQuery, s.close_query),
    ("lock", "Data lock", "data", s.LockData, s.lock_data),
    ("rederive", "Re-derive the study", "data", s.RederiveStudy, s.rederive_study),
    ("add-site", "Add a site", "admin", s.AddSite, s.add_site),
    ("add-user", "Add a user", "admin", s.AddUser, s.add_user),
    ("unlock-user", "Unlock an account", "admin", s.UnlockUser, s.unlock_user),
    ("revoke-role", "Revoke a role", "admin", s.RevokeRole, s.revoke_role),
    ("deactivate-user", "Deactivate an account", "admin", s.DeactivateUser, s.deactivate_user),
    ("reactivate-user", "Reactivate an account", "admin", s.ReactivateUser, s.reactivate_user),
)

#: Form name (URL segment) -> its use case.
FORMS: dict[str, FormSpec] = {
    name: _spec(title, group, model, action) for name, title, group, model, action in _ACTIONS
}


def form_spec(name: str) -> FormSpec:
    """The form called ``name``; :class:`NotFound` if there is none."""
    spec = FORMS.get(name)
    if spec is None:
        raise NotFound(f"form: no form named {name!r}")
    return spec


Widget = Literal[
    "text", "number", "date", "datetime", "checkbox", "select", "password", "json", "rows"
]


@dataclass(frozen=True)
class FieldView:
    """How a field is shown: name, label, widget, choices, required, help text.

    ``pick`` marks a list of the study's own values (dose levels, sites, subjects) that starts
    empty, so that nothing is chosen for the user. A ``rows`` field (a list of records, e.g. a
    tumour assessment's lesions) is a table whose ``columns`` are the record's fields.
    """

    name: str
    label: str
    widget: Widget
    choices: tuple[str, ...]
    required: bool
    description: str
    pick: bool = False
    columns: tuple[FieldView, ...] = ()


def _unwrap(annotation: object) -> tuple[object, bool]:
    """The annotation without ``None`` and whether ``None`` was allowed."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return tuple(args), optional
    return annotation, False


def row_model(annotation: object) -> type[BaseModel] | None:
    """The record model of a ``tuple[Model, ...]`` / ``list[Model]`` field (``None`` otherwise)."""
    kind, _ = _unwrap(annotation)
    if get_origin(kind) in (tuple, list):
        item = get_args(kind)[0] if get_args(kind) else None
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _enum_of(metadata: list[object]) -> tuple[str, ...]:
    """The choices a field declares in its JSON schema (``WithJsonSchema({"enum": ...})``)."""
    for item in metadata:
        schema = getattr(item, "json_schema", None)
        if isinstance(schema, dict) and isinstance(schema.get("enum"), list):
            return tuple(str(v) for v in schema["enum"])
    return ()


def _widget(annotation: object) -> tuple[Widget, tuple[str, ...]]:
    kind, _ = _unwrap(annotation)
    if row_model(annotation) is not None:
        return "rows", ()
    if isinstance(kind, tuple):
        dated = any(k in (dt.date, dt.datetime, AwareDatetime) for k in kind)
        return ("datetime" if dated else "text"), ()
    if get_origin(kind) is Literal:
        return "select", tuple(str(v) for v in get_args(kind))
    if kind is bool:
        return "checkbox", ()
    if kind in (int, float):
        return "number", ()
    if kind is dt.date:
        return "date", ()
    if kind in (dt.datetime, AwareDatetime):
        return "datetime", ()
    if kind is SecretStr:
        return "password", ()
    if get_origin(kind) in (tuple, list, dict):
        return "json", ()
    return "text", ()


def field_views(model: type[BaseModel]) -> tuple[FieldView, ...]:
    """The fields of ``model`` in declaration order, as the form shows them."""
    views = []
    for name, info in model.model_fields.items():
        widget, choices = _widget(info.annotation)
        declared = _enum_of(info.metadata)
        if declared and widget == "text":
            widget, choices = "select", declared
        rows = row_model(info.annotation)
        views.append(
            FieldView(
                name=name,
                label=name.replace("_", " "),
                widget=widget,
                choices=choices,
                required=info.is_required() and widget != "checkbox",
                description=info.description or "",
                columns=field_views(rows) if rows is not None else (),
            )
        )
    return tuple(views)


def parse_form(
    model: type[BaseModel], form: Mapping[str, str], time_zone: str = "UTC"
) -> BaseModel:
    """Build ``model`` from submitted form text; bad input raises :class:`ValidationFailed`.

    Empty fields take the model's default; an unticked checkbox is ``False``; a ``datetime``
    typed without an offset is a local time in ``time_zone`` (the study's, from its protocol:
    site staff type the clock they read), refused when that time does not exist or exists twice
    there (a daylight-saving change, rule ``local-time``); JSON fields are decoded.
    A ``rows`` field is read from its table (``NAME-INDEX-COLUMN``, empty rows left out) or,
    when sent as one value, as JSON.
    """
    data: dict[str, object] = {}
    for view in field_views(model):
        raw = form.get(view.name, "").strip()
        if view.widget == "rows" and not raw:
            rows = table_rows(form, view)
            if rows:
                record = row_model(model.model_fields[view.name].annotation)
                assert record is not None
                data[view.name] = [
                    _row_values(record, view, row, f"{view.name}.{i}") for i, row in enumerate(rows)
                ]
        elif view.widget == "rows":
            data[view.name] = _json(view.name, raw)
        elif view.widget == "checkbox":
            data[view.name] = raw in ("on", "true", "1", "yes")
        elif raw == "":
            continue
        elif view.widget == "select":
            # a Literal of numbers (e.g. IHC intensity 0-3) takes the number, not its text
            data[view.name] = _literal_value(model, view.name, raw)
        elif view.widget == "json":
            data[view.name] = _json(view.name, raw)
        elif view.widget == "datetime" and "T" in raw and not _has_zone(raw):
            data[view.name] = _local_time(view.name, raw, time_zone)
        else:
            data[view.name] = raw
    try:
        return model(**data)
    except ValidationFailed:
        raise
    except ValueError as exc:  # a model that is not a ServiceInput
        raise ValidationFailed("<input>", str(exc)) from None


def _json(name: str, raw: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(name, f"not valid JSON ({exc.msg})") from None


def table_rows(
    form: Mapping[str, str], view: FieldView, *, keep_empty: bool = False
) -> list[dict[str, str]]:
    """The rows of table field ``view`` as typed (``NAME-INDEX-COLUMN``), empty rows left out
    unless ``keep_empty``.

    Rows keep their order and are numbered again from 0, so that an error the service names
    ``NAME.INDEX.COLUMN`` points at the row shown at that index.
    """
    prefix = f"{view.name}-"
    indexes = sorted(
        {
            int(key.split("-")[1])
            for key in form
            if key.startswith(prefix) and key.count("-") == 2 and key.split("-")[1].isdigit()
        }
    )
    rows = []
    for index in indexes:
        row = {c.name: form.get(f"{prefix}{index}-{c.name}", "").strip() for c in view.columns}
        typed = [
            value
            for c, value in zip(view.columns, row.values(), strict=True)
            if value and c.widget != "checkbox"
        ]
        if typed or keep_empty:
            rows.append(row)
    return rows


def _row_values(
    record: type[BaseModel], view: FieldView, row: Mapping[str, str], where: str
) -> object:
    """One table row as the record's field values (the same reading as a form's fields).

    The row is checked by its own model first, so that a refused cell is named
    ``NAME.INDEX.COLUMN`` (``where`` is ``NAME.INDEX``) and shown in its cell.
    """
    values: dict[str, object] = {}
    for column in view.columns:
        raw = row.get(column.name, "")
        if column.widget == "checkbox":
            values[column.name] = raw in ("on", "true", "1", "yes")
        elif raw and column.widget == "select":
            values[column.name] = _literal_value(record, column.name, raw)
        elif raw:
            values[column.name] = raw
    try:
        record(**values)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{where}.{exc.field}", str(exc)[len(exc.field) + 2 :]) from None
    return values


def _literal_value(model: type[BaseModel], name: str, raw: str) -> object:
    """The choice of Literal field ``name`` whose text is ``raw`` (``raw`` itself if none)."""
    kind, _ = _unwrap(model.model_fields[name].annotation)
    for value in get_args(kind):
        if str(value) == raw:
            return value
    return raw


def _local_time(name: str, raw: str, time_zone: str) -> str:
    """``raw`` (``YYYY-MM-DDTHH:MM[:SS]``, no offset) read in ``time_zone``, as ISO 8601 UTC."""
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(name, f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return s.local_datetime(local.date(), local.time(), time_zone, name).isoformat()


def _has_zone(text: str) -> bool:
    tail = text.split("T", 1)[1]
    return tail.endswith("Z") or "+" in tail or "-" in tail
