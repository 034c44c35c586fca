"""Every write use case as a form: ``GET /forms/{name}`` shows it, ``POST`` submits it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartrial.errors import AuthenticationFailed, ValidationFailed
from cartrial.services import ServiceContext, load_study
from cartrial.web.deps import PageContext, csrf_checked
from cartrial.web.forms import (
    FORMS,
    FieldView,
    field_views,
    form_spec,
    parse_form,
    study_choices,
    with_study_choices,
)
from cartrial.web.pages import render

__all__ = ["router"]

router = APIRouter()


def _fields(ctx: ServiceContext, name: str) -> tuple[FieldView, ...]:
    """The form's fields, dose levels, sites and subjects offered as the user may pick them."""
    return with_study_choices(name, field_views(form_spec(name).model), study_choices(ctx))


@router.get("/forms")
def form_index(request: Request, ctx: PageContext) -> Response:
    """Every form, grouped."""
    load_study(ctx)
    return render(request, "form_index.html", {"forms": FORMS}, user=ctx.user)


@router.get("/forms/{name}")
def form_page(request: Request, ctx: PageContext, name: str) -> Response:
    """An empty form (query parameters prefill fields, e.g. ``?subject_id=S01-001``)."""
    spec = form_spec(name)
    values = dict(request.query_params)
    context = {"name": name, "spec": spec, "fields": _fields(ctx, name), "values": values}
    return render(request, "form.html", context, user=ctx.user)


@router.post("/forms/{name}", dependencies=[Depends(csrf_checked)])
async def form_submit(request: Request, ctx: PageContext, name: str) -> Response:
    """Run the use case; a rejected form comes back with the typed values and the error."""
    spec = form_spec(name)
    submitted = await request.form()
    values = {k: v for k, v in submitted.items() if isinstance(v, str)}
    context: dict[str, object] = {
        "name": name,
        "spec": spec,
        "fields": _fields(ctx, name),
        "values": {k: v for k, v in values.items() if "password" not in k},
    }
    try:
        result = spec.action(ctx, parse_form(spec.model, values))
    except ValidationFailed as exc:
        context.update(errors={exc.field: str(exc)}, error=str(exc))
        return render(request, "form.html", context, status=422, user=ctx.user)
    except AuthenticationFailed as exc:  # a wrong e-signature password
        context.update(errors={"password": str(exc)}, error=str(exc))
        return render(request, "form.html", context, status=422, user=ctx.user)
    context["result"] = result.model_dump(mode="json")
    return render(request, "form.html", context, user=ctx.user)
