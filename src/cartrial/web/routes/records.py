"""The audit trail of one record (who, when, what changed, why), from the subject timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cartrial.services import ShowRecordHistory, record_history
from cartrial.web.deps import PageContext
from cartrial.web.pages import render

__all__ = ["router"]

router = APIRouter()


@router.get("/audit/{table}/{record_id}")
def audit_trail(request: Request, ctx: PageContext, table: str, record_id: int) -> Response:
    """Every audited change of one record (the policy layer checks its subject's site)."""
    history = record_history(ctx, ShowRecordHistory(table=table, record_id=record_id))
    return render(request, "audit.html", {"history": history}, user=ctx.user)
