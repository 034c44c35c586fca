"""Security headers on every response and the CSRF check of every form post.

CSRF uses the double-submit pattern: a random token in a cookie (``SameSite=Strict``) must be
echoed by the form's hidden ``csrf_token`` field (or an htmx ``X-CSRF-Token`` header); another
site can neither read the cookie nor set it, so it cannot forge a matching pair. The session
cookie is ``SameSite=Strict`` too, which already keeps cross-site posts unauthenticated.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from cartrial.errors import PermissionDenied

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "SECURITY_HEADERS", "check_csrf", "csrf_token"]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

#: Sent with every response. The CSP allows no inline script or style and no other origin.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class CsrfRejected(PermissionDenied):
    """A form post without the matching CSRF token (403)."""


def csrf_token(request: Request, cookie: str) -> str:
    """The request's CSRF token: its cookie's value, or a new one (set by the middleware)."""
    token = request.cookies.get(cookie) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


async def check_csrf(request: Request, cookie: str) -> None:
    """Refuse an unsafe request whose form field (or header) does not match the CSRF cookie."""
    expected = request.cookies.get(cookie, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected("csrf_token: the form expired or came from another site; reload it")


def security_middleware(
    cookie: str, secure: bool | None
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """An HTTP middleware adding :data:`SECURITY_HEADERS` and setting a new CSRF cookie."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        new = getattr(request.state, "new_csrf", None)
        if new and not request.cookies.get(cookie):
            response.set_cookie(
                cookie,
                new,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https" if secure is None else secure,
                path="/",
            )
        return response

    return middleware
