"""JSON API for scripts, authenticated with a personal access token (``Authorization: Bearer``).

The same use cases as the pages: ``POST /api/forms/{name}`` takes the use case's input as JSON
(its schema at ``GET /api/forms/{name}/schema``) and returns its result.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from cartrial.errors import ValidationFailed
from cartrial.services import load_study
from cartrial.web.deps import ApiContext
from cartrial.web.forms import FORMS, form_spec
from cartrial.web.reading import readable_data

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/study")
def api_study(ctx: ApiContext) -> dict[str, Any]:
    """The study: code, protocol version, phase and sites."""
    study = load_study(ctx)
    return {
        "study_id": study.study_id,
        "protocol_version": study.protocol_version,
        "phase": study.phase,
        "sites": list(study.sites),
        "dose_levels": [level.name for level in study.protocol.dose_levels],
    }


@router.get("/subjects")
def api_subjects(ctx: ApiContext) -> list[dict[str, Any]]:
    """The enrolled subjects of the sites the user may read (the read model's subject table)."""
    frame = readable_data(ctx).subjects
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(key): _plain(value) for key, value in row.items()} for row in records]


def _plain(value: object) -> object:
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return iso()
    if hasattr(value, "item"):
        return value.item()  # numpy scalar
    return value


@router.get("/forms")
def api_forms(ctx: ApiContext) -> dict[str, str]:
    """The use cases that can be posted: name -> title."""
    load_study(ctx)
    return {name: spec.title for name, spec in FORMS.items()}


@router.get("/forms/{name}/schema")
def api_form_schema(ctx: ApiContext, name: str) -> dict[str, Any]:
    """The JSON schema of a use case's input."""
    load_study(ctx)
    return form_spec(name).model.model_json_schema()


@router.post("/forms/{name}")
def api_form_submit(
    ctx: ApiContext, name: str, payload: dict[str, Any] = Body(...)
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
