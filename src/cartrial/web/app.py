"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from cartrial.services.context import SessionFactory
from cartrial.web.errors import install_error_handlers
from cartrial.web.routes import account, admin, api, forms, imports, records, study, terms
from cartrial.web.security import security_middleware
from cartrial.web.settings import WebSettings
from cartrial.web.state import WebState

__all__ = ["create_app"]

_HERE = Path(__file__).parent


def create_app(
    session_factory: SessionFactory, study_id: str, settings: WebSettings | None = None
) -> FastAPI:
    """The web application of study ``study_id`` on the database ``session_factory``.

    Parameters
    ----------
    session_factory
        The trial database (``cartrial.services.open_database`` or the store's factory).
    study_id
        The study served (``Protocol.study_id``).
    settings
        Cookies, TLS and the services' authentication settings; defaults otherwise.
    """
    settings = settings or WebSettings()
    app = FastAPI(
        title="cartrial",
        summary=f"Trial data capture and governance for {study_id}",
        docs_url=None,  # Swagger UI needs a CDN and inline script: not allowed by the CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
        debug=False,
    )
    templates = Jinja2Templates(directory=_HERE / "templates")
    app.state.web = WebState(session_factory, study_id, settings, templates)
    app.middleware("http")(security_middleware(settings.csrf_cookie, settings.secure_cookies))
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    for module in (account, admin, study, records, forms, imports, terms, api):
        app.include_router(module.router)
    app.openapi = lambda: api.api_openapi(app)  # type: ignore[method-assign]  # the API only
    return app
