"""Dependencies of the routes: the current person's :class:`ServiceContext`, the CSRF check.

The context comes from the services only (``context_for`` with the session cookie, or a
personal access token in ``Authorization: Bearer`` for ``/api``); what that person may do is
decided by the use case they call (roles and site scope), never by a route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cartrial.errors import AuthenticationFailed
from cartrial.services import ServiceContext, context_for
from cartrial.web.security import check_csrf
from cartrial.web.state import WebState

__all__ = [
    "ApiContext",
    "LoginRequired",
    "PageContext",
    "State",
    "client_source",
    "csrf_checked",
    "web_state",
]


class LoginRequired(AuthenticationFailed):
    """No valid session: pages redirect to the login page, the API answers 401."""


def web_state(request: Request) -> WebState:
    """The application's :class:`WebState`."""
    state: WebState = request.app.state.web
    return state


State = Annotated[WebState, Depends(web_state)]


def client_source(request: Request) -> str:
    """Where the request comes from, as recorded with failed passwords (``web:ADDRESS``)."""
    host = request.client.host if request.client else "unknown"
    return f"web:{host}"


def page_context(request: Request, state: State) -> ServiceContext:
    """The person behind the session cookie; :class:`LoginRequired` without a valid one."""
    token = request.cookies.get(state.settings.session_cookie)
    if not token:
        raise LoginRequired("log in to continue")
    try:
        return context_for(
            state.session_factory,
            token,
            state.study_id,
            source=client_source(request),
            settings=state.settings.auth,
        )
    except AuthenticationFailed as exc:
        raise LoginRequired(str(exc)) from None


def api_context(request: Request, state: State) -> ServiceContext:
    """The person behind ``Authorization: Bearer TOKEN`` (a personal access token or session)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LoginRequired("send Authorization: Bearer <personal access token>")
    return context_for(
        state.session_factory,
        token.strip(),
        state.study_id,
        source=client_source(request),
        settings=state.settings.auth,
    )


PageContext = Annotated[ServiceContext, Depends(page_context)]
ApiContext = Annotated[ServiceContext, Depends(api_context)]


async def csrf_checked(request: Request, state: State) -> None:
    """Refuse a form post whose CSRF token does not match its cookie (403)."""
    await check_csrf(request, state.settings.csrf_cookie)
