"""The one place where errors become responses: an error page (HTML) or JSON for ``/api``.

========================  ======  ==========================================
error                     status  shown
========================  ======  ==========================================
``LoginRequired``         303     redirect to the login page (API: 401)
``AuthenticationFailed``  401     the service's message
``PermissionDenied``      403     the service's message (role or site)
``NotFound``              404     the service's message
``Conflict``              409     stale edit: reload and try again
``ValidationFailed``      422     the field and the message
anything else             500     a reference, never a traceback
========================  ======  ==========================================
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from cartrial.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from cartrial.web.deps import LoginRequired
from cartrial.web.pages import render

__all__ = ["install_error_handlers", "status_of"]

_LOG = logging.getLogger("cartrial.web")

_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (AuthenticationFailed, 401, "Not logged in"),
    (PermissionDenied, 403, "Not allowed"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Changed meanwhile"),
    (ValidationFailed, 422, "Not accepted"),
)


def status_of(exc: Exception) -> tuple[int, str]:
    """HTTP status and page title of a service error (500 for anything unexpected)."""
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            return status, title
    return 500, "Something went wrong"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _respond(request: Request, status: int, title: str, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": title, "detail": message}, status_code=status)
    return render(request, "error.html", {"title": title, "message": message}, status=status)


async def _service_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired) and not _is_api(request):
        target = quote(request.url.path)
        return RedirectResponse(f"/login?next={target}", status_code=303)
    status, title = status_of(exc)
    return _respond(request, status, title, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _respond(request, exc.status_code, "Error", str(exc.detail))


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": ("request",), "msg": "invalid"}
    field = ".".join(str(part) for part in first["loc"][1:]) or "request"
    return _respond(request, 422, "Not accepted", f"{field}: {first['msg']}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    reference = secrets.token_hex(4)
    _LOG.error("unexpected error %s on %s", reference, request.url.path, exc_info=exc)
    return _respond(
        request, 500, "Something went wrong", f"The error is logged under reference {reference}."
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    for kind in (LoginRequired, AuthenticationFailed, PermissionDenied, NotFound, Conflict):
        app.add_exception_handler(kind, _service_error)
    app.add_exception_handler(ValidationFailed, _service_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(Exception, _unexpected)
