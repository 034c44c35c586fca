"""Admin listing pages beside the admin forms: users (roles, lock state, tokens), sites, roles.

What is listed and who may see it is decided by :func:`cartrial.services.admin_lists`
(administrators only); unlocking goes through the ``unlock-user`` form (a reason is required).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cartrial.services import admin_lists
from cartrial.web.deps import PageContext
from cartrial.web.pages import render

__all__ = ["router"]

router = APIRouter()


@router.get("/admin")
def admin_page(request: Request, ctx: PageContext) -> Response:
    """Users, sites and roles of the study (403 for anyone but an administrator)."""
    return render(request, "admin.html", {"lists": admin_lists(ctx)}, user=ctx.user)
