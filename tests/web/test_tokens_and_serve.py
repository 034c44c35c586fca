"""Personal access tokens in the browser (shown once, revocable) and ``cartrial serve``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import STUDY, Web

from cartrial.cli import app as cli_app
from cartrial.cli.serve import app_from_environment


def test_a_token_is_shown_once_works_for_the_api_and_stops_when_revoked(web: Web) -> None:
    web.login("stat")
    created = web.post("/account/tokens", {"name": "nightly export", "expires_on": "2027-01-31"})
    assert created.status_code == 200
    token = re.search(r'<code class="token">(ctp_[^<]+)</code>', created.text)
    assert token is not None
    value = token.group(1)
    listed = web.client.get("/account/tokens").text
    assert "nightly export" in listed and value not in listed  # never shown again

    bearer = {"Authorization": f"Bearer {value}"}
    study = web.client.get("/api/study", headers=bearer)
    assert study.status_code == 200 and study.json()["study_id"] == STUDY
    assert study.json()["dose_levels"] == ["DL-1", "DL1", "DL2", "DL3"]

    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', listed)
    assert token_id is not None
    assert web.post(f"/account/tokens/{token_id.group(1)}/revoke").status_code == 200
    assert web.client.get("/api/study", headers=bearer).status_code == 401


def test_a_token_with_a_bad_expiry_is_refused_with_the_field(web: Web) -> None:
    web.login("stat")
    refused = web.post("/account/tokens", {"name": "x", "expires_on": "2020-01-01"})
    assert refused.status_code == 422
    assert "expires_on" in refused.text and "ctp_" not in refused.text


def test_the_openapi_document_lists_the_api(web: Web) -> None:
    schema = web.client.get("/api/openapi.json").json()
    assert {"/api/study", "/api/subjects", "/api/forms/ae"} <= set(schema["paths"])


def test_serve_builds_the_app_from_the_database_url(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(web.trial.engine.url)
    monkeypatch.setenv("CARTRIAL_DATABASE_URL", url)
    monkeypatch.setenv("CARTRIAL_STUDY", STUDY)
    with TestClient(app_from_environment()) as client:  # type: ignore[arg-type]
        assert client.get("/login").status_code == 200


def test_serve_help_names_its_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--host", "--port", "--workers", "--study"):
        assert option in result.output
