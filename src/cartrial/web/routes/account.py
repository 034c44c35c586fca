"""Log in, log out, change the password, personal access tokens (shown once)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from pydantic import SecretStr
from starlette.responses import RedirectResponse, Response

from cartrial.errors import AuthenticationFailed, ValidationFailed
from cartrial.services import (
    ChangePassword,
    CreateToken,
    LogIn,
    RevokeToken,
    change_password,
    create_token,
    list_tokens,
    login,
    logout,
    revoke_token,
)
from cartrial.web.deps import PageContext, State, client_source, csrf_checked
from cartrial.web.pages import render

__all__ = ["router"]

router = APIRouter()
Csrf = Depends(csrf_checked)


def _safe_next(target: str) -> str:
    """Only a local path may follow a login (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """The login form."""
    return render(request, "login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login", dependencies=[Csrf])
def login_submit(
    request: Request,
    state: State,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password with the services; set the session cookie or show why not."""
    try:
        session = login(
            state.session_factory,
            LogIn(username=username, password=SecretStr(password), source=client_source(request)),
            settings=state.settings.auth,
        )
    except (AuthenticationFailed, ValidationFailed) as exc:
        context = {"next": _safe_next(next), "username": username, "error": str(exc)}
        return render(request, "login.html", context, status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    secure = state.settings.secure_cookies
    response.set_cookie(
        state.settings.session_cookie,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" if secure is None else secure,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[Csrf])
def logout_submit(request: Request, state: State) -> Response:
    """End the session in the services and drop the cookie."""
    token = request.cookies.get(state.settings.session_cookie)
    if token:
        # an expired or ended session: the cookie is dropped all the same
        with contextlib.suppress(AuthenticationFailed):
            logout(
                state.session_factory,
                token,
                source=client_source(request),
                settings=state.settings.auth,
            )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(state.settings.session_cookie, path="/")
    return response


@router.get("/account/password")
def password_page(request: Request, ctx: PageContext) -> Response:
    """The password change form."""
    return render(request, "password.html", {}, user=ctx.user)


@router.post("/account/password", dependencies=[Csrf])
def password_submit(
    request: Request,
    ctx: PageContext,
    state: State,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    """Change the password (ends every session of the account: log in again)."""
    try:
        change_password(
            ctx,
            ChangePassword(current=SecretStr(current), new=SecretStr(new)),
            settings=state.settings.auth,
        )
    except (AuthenticationFailed, ValidationFailed) as exc:
        field = getattr(exc, "field", "current")
        context = {"errors": {field: str(exc)}, "error": str(exc)}
        return render(request, "password.html", context, status=422, user=ctx.user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(state.settings.session_cookie, path="/")
    return response


@router.get("/account/tokens")
def tokens_page(request: Request, ctx: PageContext, state: State) -> Response:
    """The person's personal access tokens (never their values)."""
    tokens = list_tokens(ctx, settings=state.settings.auth)
    return render(request, "tokens.html", {"tokens": tokens}, user=ctx.user)


@router.post("/account/tokens", dependencies=[Csrf])
def token_create(
    request: Request,
    ctx: PageContext,
    state: State,
    name: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
) -> Response:
    """Create a token and show its value this once."""
    created = None
    error = None
    try:
        day = dt.date.fromisoformat(expires_on) if expires_on else None
        created = create_token(
            ctx, CreateToken.parse({"name": name, "expires_on": day}), settings=state.settings.auth
        )
    except ValueError as exc:  # ValidationFailed, or a malformed date
        error = str(exc)
    tokens = list_tokens(ctx, settings=state.settings.auth)
    context = {"tokens": tokens, "created": created, "error": error, "name": name}
    return render(request, "tokens.html", context, status=422 if error else 200, user=ctx.user)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[Csrf])
def token_revoke(ctx: PageContext, state: State, token_id: int) -> Response:
    """Revoke one of the person's tokens."""
    revoke_token(ctx, RevokeToken(token_id=token_id), settings=state.settings.auth)
    return RedirectResponse("/account/tokens", status_code=303)
