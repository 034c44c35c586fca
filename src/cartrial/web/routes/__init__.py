"""The routers of the web application, one module per resource."""

from __future__ import annotations

from cartrial.web.routes import account, admin, api, forms, imports, records, study, terms

__all__ = ["account", "admin", "api", "forms", "imports", "records", "study", "terms"]
