"""Login, session cookie, idle timeout, lockout, CSRF, security headers and error pages."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from web_support import PASSWORD, Web

from cartrial.web.security import SECURITY_HEADERS


def test_login_sets_an_httponly_strict_session_cookie_and_logout_ends_it(web: Web) -> None:
    response = web.login("inv")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("cartrial_session=cts_")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # served over plain http here
    old = web.client.cookies.get("cartrial_session")
    assert web.client.get("/").status_code == 200

    assert web.post("/logout", follow_redirects=False).status_code == 303
    web.client.cookies.set("cartrial_session", old)
    again = web.client.get("/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_session_cookie_is_secure_over_tls(web: Web) -> None:
    app = web.client.app
    with TestClient(app, base_url="https://testserver") as tls:
        tls.get("/login")
        token = tls.cookies.get("cartrial_csrf")
        response = tls.post(
            "/login",
            data={"csrf_token": token, "username": "inv", "password": PASSWORD},
            follow_redirects=False,
        )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_a_page_without_a_session_redirects_to_login_and_back(web: Web) -> None:
    response = web.client.get("/escalation", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/escalation"
    login = web.post(
        "/login",
        {"username": "inv", "password": PASSWORD, "next": "/escalation"},
        follow_redirects=False,
    )
    assert login.headers["location"] == "/escalation"


def test_login_never_redirects_off_site(web: Web) -> None:
    login = web.post(
        "/login",
        {"username": "inv", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert login.headers["location"] == "/"


def test_a_wrong_password_is_refused_and_the_account_locks_after_max_failures(web: Web) -> None:
    # max_failures is 3 in the fixture's AuthSettings
    for _ in range(2):
        refused = web.login("coord1", "not the password")
        assert refused.status_code == 401
        assert "cartrial_session" not in refused.headers.get("set-cookie", "")
    third = web.login("coord1", "not the password")
    assert third.status_code == 401
    assert "locked" in third.text and "administrator" in third.text
    # the right password no longer opens a session
    locked = web.login("coord1")
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert web.client.cookies.get("cartrial_session") is None


def test_the_session_expires_after_the_idle_timeout(web: Web) -> None:
    web.login("inv")
    web.clock.now += dt.timedelta(minutes=29)
    assert web.client.get("/").status_code == 200
    web.clock.now += dt.timedelta(minutes=31)
    expired = web.client.get("/", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_form_post_without_the_matching_csrf_token_is_refused(
    web: Web, token: str | None
) -> None:
    web.login("coord1")
    data = {"subject_id": "S01-001", "site_id": "S01"}
    if token is not None:
        data["csrf_token"] = token
    refused = web.client.post("/forms/screen", data=data)
    assert refused.status_code == 403
    assert "csrf_token" in refused.text
    refused_login = web.client.post("/login", data={"username": "inv", "password": PASSWORD})
    assert refused_login.status_code == 403


def test_htmx_requests_may_send_the_csrf_token_as_a_header(web: Web) -> None:
    web.login("inv")
    response = web.client.post(
        "/logout", headers={"X-CSRF-Token": web.csrf()}, follow_redirects=False
    )
    assert response.status_code == 303


@pytest.mark.parametrize("url", ["/login", "/", "/static/htmx.min.js", "/no-such-page"])
def test_every_response_carries_the_security_headers(web: Web, url: str) -> None:
    response = web.client.get(url, follow_redirects=False)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp


def test_pages_hold_no_inline_script(web: Web) -> None:
    web.login("inv")
    for url in ("/login", "/", "/escalation", "/subjects", "/forms/ae", "/account/tokens"):
        page = web.client.get(url).text
        assert "<script>" not in page and " on" + "click=" not in page
        assert '<script src="/static/htmx.min.js" defer></script>' in page


def test_an_unexpected_error_shows_a_reference_never_a_traceback(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cartrial.web.routes.study as study

    def broken(ctx: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(study, "load_study", broken)
    web.login("inv")
    with TestClient(web.client.app, raise_server_exceptions=False) as client:
        client.cookies.update(web.client.cookies)
        response = client.get("/")
    assert response.status_code == 500
    assert "reference" in response.text
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_password_change_checks_the_current_password_and_ends_the_sessions(web: Web) -> None:
    web.login("stat")
    wrong = web.post("/account/password", {"current": "nope", "new": "a brand new passphrase"})
    assert wrong.status_code == 422
    changed = web.post(
        "/account/password",
        {"current": PASSWORD, "new": "a brand new passphrase"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert web.client.get("/", follow_redirects=False).status_code == 303
    assert web.login("stat", PASSWORD).status_code == 401
    assert web.login("stat", "a brand new passphrase").status_code == 303


def test_the_ctcae_term_search_lists_matching_terms_with_their_grades(web: Web) -> None:
    web.login("coord1")
    # CTCAE v5.0: "Gastritis" (Gastrointestinal disorders) is graded 1-5
    fragment = web.client.get("/terms/ctcae", params={"term": "gastrit"}).text
    assert (
        "<strong>Gastritis</strong> — Gastrointestinal disorders; grades 1, 2, 3, 4, 5" in fragment
    )
    assert "No CTCAE" in web.client.get("/terms/ctcae", params={"term": "zzzz"}).text
    assert 'hx-get="/terms/ctcae"' in web.client.get("/forms/ae").text
