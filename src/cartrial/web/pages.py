"""Rendering a page: the template, the CSRF token and who is logged in."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from starlette.responses import Response

from cartrial.web.live_forms import term_grades
from cartrial.web.security import CSRF_FIELD, csrf_token
from cartrial.web.state import WebState

__all__ = ["render"]


def render(
    request: Request,
    template: str,
    context: Mapping[str, object] | None = None,
    *,
    status: int = 200,
    user: str | None = None,
) -> Response:
    """Render ``template`` with the CSRF token (``csrf_field``, ``csrf``) and the study code."""
    state: WebState = request.app.state.web
    values: dict[str, object] = {
        "csrf": csrf_token(request, state.settings.csrf_cookie),
        "csrf_field": CSRF_FIELD,
        "study_id": state.study_id,
        "user": user,
        "term_grades": term_grades,  # the CTCAE grade texts of a term, for AE forms
        **(context or {}),
    }
    return state.templates.TemplateResponse(request, template, values, status_code=status)
