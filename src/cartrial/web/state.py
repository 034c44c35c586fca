"""What every request handler reaches through ``request.app.state.web``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.templating import Jinja2Templates

from cartrial.services.context import SessionFactory
from cartrial.web.settings import WebSettings

__all__ = ["WebState"]


@dataclass(frozen=True)
class WebState:
    """The database, the study served, the settings and the page templates of one app."""

    session_factory: SessionFactory
    study_id: str
    settings: WebSettings
    templates: Jinja2Templates
