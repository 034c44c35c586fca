"""The web application for the trial team: a client of :mod:`cartrial.services` only.

FastAPI with server-rendered Jinja2 pages and htmx (shipped in ``static/``); sessions and
personal access tokens come from :mod:`cartrial.services.auth`, and what a person may do is
decided by the use cases they call. :func:`create_app` builds the application;
``cartrial serve`` runs it with uvicorn.
"""

from __future__ import annotations

from cartrial.web.app import create_app
from cartrial.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
