"""How the web application behaves: cookie names, TLS, the services' authentication settings."""

from __future__ import annotations

from dataclasses import dataclass

from cartrial.services import AuthSettings

__all__ = ["WebSettings"]


@dataclass(frozen=True)
class WebSettings:
    """Settings of one web application instance.

    Parameters
    ----------
    secure_cookies
        Mark cookies ``Secure`` (served over TLS). ``None`` decides per request from its scheme
        (``https`` behind a TLS terminator that sets it, e.g. uvicorn ``--proxy-headers``).
    auth
        The services' authentication settings (lockout, idle and absolute session timeouts, the
        clock); ``None`` reads them from the environment at each call (``auth_settings()``).
    session_cookie, csrf_cookie
        Cookie names of the session token and of the CSRF double-submit token.
    """

    secure_cookies: bool | None = None
    auth: AuthSettings | None = None
    session_cookie: str = "cartrial_session"
    csrf_cookie: str = "cartrial_csrf"
