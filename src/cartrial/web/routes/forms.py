"""Every write use case as a form: ``GET /forms/{name}`` shows it, ``POST`` submits it.

htmx fragments of a form: ``POST /forms/{name}/rows/{field}`` adds or removes a row of a table
field (e.g. lesions) and ``POST /forms/{name}/preview`` shows what the services derive from the
values typed so far (e.g. the RECIST time-point response), without storing anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartrial.errors import AuthenticationFailed, NotFound, ValidationFailed
from cartrial.services import ServiceContext, load_study
from cartrial.web.deps import PageContext, csrf_checked
from cartrial.web.forms import FORMS, FieldView, field_views, form_spec, table_rows
from cartrial.web.live_forms import (
    CALCULATORS,
    PREVIEWS,
    StudyChoices,
    form_input,
    study_choices,
    study_time_zone,
    with_study_choices,
)
from cartrial.web.pages import render

__all__ = ["router"]

router = APIRouter()


def _fields(
    ctx: ServiceContext, name: str, choices: StudyChoices | None = None
) -> tuple[FieldView, ...]:
    """The form's fields, dose levels, sites and subjects offered as the user may pick them."""
    picks = study_choices(ctx) if choices is None else choices
    return with_study_choices(name, field_views(form_spec(name).model), picks)


def _form_context(
    ctx: ServiceContext, name: str, values: Mapping[str, str], *, keep_empty_rows: bool = False
) -> dict[str, object]:
    """What ``form.html`` needs: fields, typed values, the rows of table fields, the preview, and
    the study's time zone (typed times are local times there)."""
    choices = study_choices(ctx)
    fields = _fields(ctx, name, choices)
    rows = {
        f.name: table_rows(values, f, keep_empty=keep_empty_rows) or [{}]
        for f in fields
        if f.widget == "rows"
    }
    preview = PREVIEWS.get(name)
    return {
        "name": name,
        "spec": form_spec(name),
        "fields": fields,
        "values": {k: v for k, v in values.items() if "password" not in k},
        "table_rows": rows,
        "preview": preview.template if preview else None,
        "calculator": CALCULATORS.get(name),
        "time_zone": choices.time_zone,
    }


def _submitted(form: Mapping[str, object]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.get("/forms")
def form_index(request: Request, ctx: PageContext) -> Response:
    """Every form, grouped."""
    load_study(ctx)
    return render(request, "form_index.html", {"forms": FORMS}, user=ctx.user)


@router.get("/forms/{name}")
def form_page(request: Request, ctx: PageContext, name: str) -> Response:
    """An empty form (query parameters prefill fields, e.g. ``?subject_id=S01-001``)."""
    context = _form_context(ctx, name, dict(request.query_params))
    return render(request, "form.html", context, user=ctx.user)


@router.post("/forms/{name}", dependencies=[Depends(csrf_checked)])
async def form_submit(request: Request, ctx: PageContext, name: str) -> Response:
    """Run the use case; a rejected form comes back with the typed values and the error."""
    spec = form_spec(name)
    values = _submitted(await request.form())
    context = _form_context(ctx, name, values)
    try:
        result = spec.action(ctx, form_input(name, values, str(context["time_zone"])))
    except ValidationFailed as exc:
        context.update(errors={exc.field: str(exc)}, error=str(exc))
        return render(request, "form.html", context, status=422, user=ctx.user)
    except AuthenticationFailed as exc:  # a wrong e-signature password
        context.update(errors={"password": str(exc)}, error=str(exc))
        return render(request, "form.html", context, status=422, user=ctx.user)
    context["result"] = result.model_dump(mode="json")
    return render(request, "form.html", context, user=ctx.user)


@router.post("/forms/{name}/rows/{field}", dependencies=[Depends(csrf_checked)])
async def form_rows(request: Request, ctx: PageContext, name: str, field: str) -> Response:
    """The table of ``field`` again, with a row added (``row_action=add``) or removed
    (``row_action=remove-INDEX``); the other rows keep what was typed."""
    view = next((f for f in _fields(ctx, name) if f.name == field and f.widget == "rows"), None)
    if view is None:
        raise NotFound(f"field: form {name!r} has no table {field!r}")
    values = _submitted(await request.form())
    rows = table_rows(values, view, keep_empty=True)
    action = values.get("row_action", "")
    if action == "add":
        rows.append({})
    elif action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < len(rows):
        del rows[int(action[7:])]
    context = {"name": name, "f": view, "rows": rows or [{}]}
    return render(request, "_rows.html", context, user=ctx.user)


@router.post("/forms/{name}/preview", dependencies=[Depends(csrf_checked)])
async def form_preview(request: Request, ctx: PageContext, name: str) -> Response:
    """What the services derive from the values typed so far (nothing is stored).

    An incomplete or refused input is shown in the fragment (200, so that htmx shows it); a
    user who may not run the use case gets 403 from the policy layer.
    """
    preview = PREVIEWS.get(name)
    if preview is None:
        raise NotFound(f"form: {name!r} has no live preview")
    values = _submitted(await request.form())
    context: dict[str, object] = {"name": name}
    try:
        zone = study_time_zone(ctx)
        context["derived"] = preview.action(ctx, form_input(name, values, zone))
    except (ValidationFailed, NotFound) as exc:
        context["problem"] = str(exc)
    return render(request, preview.template, context, user=ctx.user)
