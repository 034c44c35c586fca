"""Security checks over the whole route table, and what ``test_security.py`` leaves out.

* every page of the route table: the security headers, and no inline script, inline style or
  event-handler attribute (the CSP forbids them, so they would silently not work);
* every form post of the route table refused without the CSRF token (403, nothing written);
  the API takes no session cookie (a cross-site request carries cookies, never a bearer token);
* every failed login through the web recorded (who, when, from where), the lockout shown, and
  an administrator's unlock (through the unlock form) letting the person in again;
* the session's absolute timeout however busy the session is; the CSRF cookie's flags.

The routes come from the application's route table, as in the authorisation matrix, so a new
page or form is checked here without editing this file.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from test_authorisation_matrix import form_values, route_table
from test_browser import NOT_PAGES, page_paths
from web_support import Web

from cartrial.services import CreateToken, create_token
from cartrial.store import AuthFailure
from cartrial.web.forms import FORMS
from cartrial.web.security import CSRF_FIELD, SECURITY_HEADERS

#: Inline script or style in a page: a <script> without src, a <style> element, a style="..."
#: attribute, an on...="..." event handler, a javascript: URL.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style[\s>]|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def test_every_page_has_the_headers_and_no_inline_script_or_style(web: Web) -> None:
    web.login("admin")
    pages = [*page_paths(web), *NOT_PAGES]  # the zip and the htmx fragment carry them too
    assert len(pages) > len(FORMS)
    wrong = {}
    for path in pages:
        response = web.client.get(path, follow_redirects=False)
        assert response.status_code < 500, path
        missing = {k for k, v in SECURITY_HEADERS.items() if response.headers.get(k) != v}
        inline = INLINE.findall(response.text)
        if missing or inline:
            wrong[path] = (missing, inline)
    assert wrong == {}


def test_every_form_post_without_the_csrf_token_is_refused(web: Web) -> None:
    web.login("admin")
    posts = sorted(path for method, path in route_table(web) if method == "POST")
    assert "/forms/{name}" in posts and "/login" in posts
    refused = {}
    for template in posts:
        if template.startswith("/api/"):
            continue
        paths = [f"/forms/{name}" for name in FORMS] if template == "/forms/{name}" else [template]
        for path in paths:
            path = re.sub(r"{\w+}", "1", path)
            name = path.removeprefix("/forms/")
            data = form_values(name) if name in FORMS else {}
            response = web.client.post(path, data=data, follow_redirects=False)
            refused[path] = response.status_code
            assert "csrf_token" in response.text, path
    assert set(refused.values()) == {403}
    # nothing was written: the session still works and no subject was screened
    assert web.client.get("/subjects").status_code == 200
    assert "S01-001" not in web.client.get("/subjects").text


def test_the_api_ignores_the_session_cookie(web: Web) -> None:
    web.login("inv")
    assert web.client.cookies.get("cartrial_session")
    assert web.client.get("/api/study").status_code == 401
    refused = web.client.post("/api/forms/enrol", json={"subject_id": "S01-001"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "Not logged in"


def test_every_failed_web_login_is_recorded_and_the_unlock_lets_the_person_in(web: Web) -> None:
    # max_failures is 3 in the fixture's AuthSettings
    assert web.login("nobody", "guess").status_code == 401
    for _ in range(3):
        assert web.login("coord2", "wrong").status_code == 401
    locked = web.login("coord2")
    assert locked.status_code == 401 and "locked" in locked.text
    with web.trial.factory() as session:
        failures = session.scalars(select(AuthFailure).order_by(AuthFailure.id)).all()
        recorded = [(f.username, f.kind, f.source) for f in failures]
        times = {f.occurred_at.replace(tzinfo=dt.UTC) for f in failures}
    # the unknown name is recorded too; the source is the client's address
    assert (
        recorded[:4]
        == [("nobody", "login", "web:testclient")] + [("coord2", "login", "web:testclient")] * 3
    )
    assert times == {web.clock.now}

    web.login("admin")
    unlock = {CSRF_FIELD: web.csrf(), "username": "coord2", "reason": "identity confirmed"}
    unlock.update({k: v for k, v in form_values("unlock-user").items() if k not in unlock})
    assert web.client.post("/forms/unlock-user", data=unlock).status_code == 200
    web.post("/logout")
    assert web.login("coord2").status_code == 303


def test_a_busy_session_still_ends_at_the_absolute_timeout(web: Web) -> None:
    web.login("inv")
    start = web.clock.now
    # used every 25 minutes (never idle for 30), the session lasts 12 hours from the login
    for _ in range(28):  # 28 x 25 minutes = 11 h 40 min
        web.clock.now += dt.timedelta(minutes=25)
        assert web.client.get("/", follow_redirects=False).status_code == 200, web.clock.now
    web.clock.now = start + dt.timedelta(hours=12, minutes=1)
    expired = web.client.get("/", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")


def test_the_csrf_cookie_is_httponly_strict_and_secure_over_tls(web: Web) -> None:
    plain = web.client.get("/login").headers["set-cookie"]
    assert plain.startswith("cartrial_csrf=") and "HttpOnly" in plain
    assert "SameSite=strict" in plain and "Secure" not in plain
    with TestClient(web.client.app, base_url="https://testserver") as tls:
        secure = tls.get("/login").headers["set-cookie"]
    assert "Secure" in secure and "HttpOnly" in secure


def test_a_revoked_or_unknown_token_gets_a_json_401(web: Web) -> None:
    token = create_token(
        web.trial.as_("stat"), CreateToken(name="t", expires_on=dt.date(2027, 1, 1))
    ).token
    for value in (token + "x", "ctp_unknown"):
        response = web.client.get("/api/study", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"error", "detail"}
