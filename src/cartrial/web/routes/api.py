"""JSON API for scripts, authenticated with a personal access token (``Authorization: Bearer``).

The same use cases as the pages: ``POST /api/forms/{name}`` takes the use case's input as JSON
(its schema at ``GET /api/forms/{name}/schema``) and returns its result. The OpenAPI document
(``/api/openapi.json``, :func:`api_openapi`) describes these routes only, with every error
response they give (:class:`ApiError`, written by :mod:`cartrial.web.errors`).
"""

from __future__ import annotations

import copy
import typing
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, FastAPI, Path
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from cartrial.errors import ValidationFailed
from cartrial.services import load_study
from cartrial.web.deps import ApiContext
from cartrial.web.forms import FORMS, form_spec
from cartrial.web.reading import readable_data

__all__ = ["ApiError", "StudySummary", "api_openapi", "router"]


class ApiError(BaseModel):
    """An error of the API: its kind and what was wrong (the field first when there is one)."""

    error: str = Field(description="the kind of error, e.g. 'Not accepted'")
    detail: str = Field(description="what was wrong, e.g. 'grade: must be 1-5'")


class StudySummary(BaseModel):
    """The study served: code, protocol version, phase, sites and dose levels."""

    study_id: str
    protocol_version: str
    phase: str
    sites: list[str]
    dose_levels: list[str] = Field(description="protocol names, lowest first (DL-1, DL1, ...)")


#: A cell of the subject table: text, number, flag or empty.
Cell = str | int | float | bool | None

#: Every error the API routes give (:mod:`cartrial.web.errors`).
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "no valid personal access token"},
    403: {"model": ApiError, "description": "the role or site does not allow it"},
    404: {"model": ApiError, "description": "no such form or record"},
    409: {"model": ApiError, "description": "the record changed meanwhile"},
    422: {"model": ApiError, "description": "the input was not accepted (field: message)"},
}

# Documents the bearer scheme in the OpenAPI document; the token is checked by ApiContext.
_bearer = HTTPBearer(auto_error=False, description="a personal access token (ctp_...)")

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(_bearer)], responses=_ERRORS)

FormName = Annotated[
    str, Path(description="a form of GET /api/forms", json_schema_extra={"enum": list(FORMS)})
]


def _result_type(action: object) -> type[BaseModel]:
    """What a use case returns (the annotation of its function)."""
    result: type[BaseModel] = typing.get_type_hints(action)["return"]
    return result


@router.get("/study")
def api_study(ctx: ApiContext) -> StudySummary:
    """The study: code, protocol version, phase and sites."""
    study = load_study(ctx)
    return StudySummary(
        study_id=study.study_id,
        protocol_version=study.protocol_version,
        phase=study.phase,
        sites=list(study.sites),
        dose_levels=[level.name for level in study.protocol.dose_levels],
    )


@router.get("/subjects")
def api_subjects(ctx: ApiContext) -> list[dict[str, Cell]]:
    """The enrolled subjects of the sites the user may read (the read model's subject table)."""
    frame = readable_data(ctx).subjects
    columns = [str(column) for column in frame.columns]
    return [  # one conversion of the frame to Python objects, then row by row
        dict(zip(columns, map(_plain, row), strict=True))
        for row in frame.to_numpy(dtype=object).tolist()
    ]


def _plain(value: object) -> Cell:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return str(iso())
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@router.get("/forms")
def api_forms(ctx: ApiContext) -> dict[str, str]:
    """The use cases that can be posted: name -> title."""
    load_study(ctx)
    return {name: spec.title for name, spec in FORMS.items()}


@router.get("/forms/{name}/schema")
def api_form_schema(ctx: ApiContext, name: FormName) -> dict[str, Any]:
    """The JSON schema of a use case's input."""
    load_study(ctx)
    return form_spec(name).model.model_json_schema()


@router.post(
    "/forms/{name}",
    response_model=None,
    responses={400: {"model": ApiError, "description": "the body is not JSON"}},
)
def api_form_submit(
    ctx: ApiContext,
    name: FormName,
    payload: dict[str, Any] = Body(description="the input of the form's use case (its schema)"),
) -> dict[str, Any]:
    """Run a use case with a JSON input; 422 names the rejected field."""
    spec = form_spec(name)
    try:
        data = spec.model(**payload)
    except ValidationFailed:
        raise
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("<input>", str(exc)) from None
    result: dict[str, Any] = spec.action(ctx, data).model_dump(mode="json")
    return result


def api_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the JSON API (the HTML pages are not part of it), built once.

    ``POST /api/forms/{name}`` is listed once per form (``/api/forms/screen``, ...) with that
    use case's input as the request body and its result as the response, so a client (or a
    schema-driven test) knows exactly what each form takes and gives.
    """
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description="JSON API of cartrial for scripts: send a personal access token "
            "(Account > Tokens) as `Authorization: Bearer <token>`.",
            routes=router.routes,
        )
        _list_each_form(document)
        app.openapi_schema = document
    return app.openapi_schema


_REF = "#/components/schemas/{model}"


def _list_each_form(document: dict[str, Any]) -> None:
    """Replace the generic ``POST /api/forms/{name}`` by one operation per form."""
    generic = document["paths"].pop("/api/forms/{name}")["post"]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for spec in FORMS.values():
        models += [(spec.model, "validation"), (_result_type(spec.action), "serialization")]
    refs, definitions = models_json_schema(models, ref_template=_REF)
    document["components"]["schemas"].update(definitions.get("$defs", {}))
    for name, spec in FORMS.items():
        operation = copy.deepcopy(generic)
        operation["operationId"] = f"api_form_{name.replace('-', '_')}"
        operation["summary"] = spec.title
        operation["parameters"] = [
            p for p in operation.get("parameters", []) if p.get("name") != "name"
        ]
        body = refs[(spec.model, "validation")]
        result = refs[(_result_type(spec.action), "serialization")]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
        operation["responses"]["200"] = {
            "description": "the use case's result",
            "content": {"application/json": {"schema": result}},
        }
        document["paths"][f"/api/forms/{name}"] = {"post": operation}
