"""The authorisation matrix: every route of the app x every role x own site / other site.

The routes come from the application's route table; each (method, path) must have a rule in
:data:`RULES`, so a new route without one fails :func:`test_every_route_has_a_rule`. Who may post
each form is written out in :data:`FORM_ROLES` from the services' documented roles (the
docstrings of each use case), not read from the services' constants, so a change of policy in
either place shows here.

Outcomes: ``allowed`` = the policy layer let the request through (any status but 401/403 and
not a redirect to the login page; a 404 or 422 then comes from the record or its values);
``denied`` = 403; an anonymous page request is redirected to the login page, an anonymous API
call gets 401. The "own site" / "other site" columns are the site coordinators of S01 and S02
acting on subject ``S01-001`` of site S01.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from service_support import STAFF, treat
from starlette.routing import Mount
from web_support import PASSWORD, Web

from cartrial.services import CreateToken, create_token
from cartrial.web.forms import FORMS, field_views, parse_form
from cartrial.web.security import CSRF_FIELD

#: Every user of the test trial: username -> (role, site).
USERS: dict[str, tuple[str, str | None]] = {"admin": ("admin", None), **STAFF}
SUBJECT = "S01-001"  # at site S01: coord1's own site, coord2's other site

INV, COORD, DM, MON, DSMC, STAT, ADMIN = (
    "investigator",
    "site_coordinator",
    "data_manager",
    "monitor",
    "safety_committee",
    "statistician",
    "admin",
)
#: Roles allowed to post each form (site-scoped roles reach only their site's subjects).
FORM_ROLES: dict[str, frozenset[str]] = {
    name: frozenset(roles)
    for name, roles in {
        "screen": (INV, COORD),
        "enrol": (INV, COORD),
        "assign-dose": (INV,),
        "lymphodepletion": (INV, COORD),
        "infusion": (INV, COORD),
        "ae": (INV, COORD),
        "grade-change": (INV, COORD),
        "lab": (INV, COORD, DM),
        "crs-icans": (INV, COORD),
        "tumour": (INV, COORD, DM),
        "kinetics": (INV, COORD, DM),
        "ada": (INV, COORD, DM),
        "phenotype": (INV, COORD, DM),
        "follow-up": (INV, COORD),
        "subsequent-therapy": (INV, COORD),
        "withdrawal": (INV,),
        "adjudicate-dlt": (INV,),
        "decide-dose": (INV, DSMC),
        "sign": (INV, DSMC),  # a dose decision: the deciders sign it
        "open-expansion": (INV,),  # protocol expansion.opened_by: investigator
        "review-expansion": (INV, DSMC, STAT),
        "stop-expansion": (INV, DSMC),
        "raise-query": (MON, DM),
        "answer-query": (INV, COORD),
        "close-query": (MON, DM),
        "lock": (DM,),
        "rederive": (DM, ADMIN),
        "add-site": (ADMIN,),
        "add-user": (ADMIN,),
        "unlock-user": (ADMIN,),
        "revoke-role": (ADMIN,),
        "deactivate-user": (ADMIN,),
        "reactivate-user": (ADMIN,),
    }.items()
}
#: Forms whose record is named by an id that does not exist when they are posted here: the role
#: is checked, the site cannot be (the record is not found first).
BY_RECORD_ID = {"grade-change", "sign"}
#: Values that the generic filler below cannot guess.
OVERRIDES: dict[str, dict[str, str]] = {
    "screen": {"site_id": "S01", "subject_id": "S01-001"},
    "sign": {"record": "dose_decision", "meaning": "approval"},
    "add-user": {"role": "monitor", "username": "newmon", "password": "a long passphrase 1"},
    "add-site": {"code": "S09", "country": "CN"},
    "unlock-user": {"username": "inv"},
    # an account that does not exist: the policy decides, and no matrix user loses access
    "revoke-role": {"username": "gone", "role": "monitor"},
    "deactivate-user": {"username": "gone"},
    "reactivate-user": {"username": "gone"},
    "lymphodepletion": {"day": "-5"},
    "crs-icans": {"temperature_c": "37.0"},
    "tumour": {
        "lesions": '[{"lesion_id": "T1", "category": "target", "organ": "liver", '
        '"diameter_mm": 20}]'
    },
    "phenotype": {"values": '{"cd4_pct": 40}'},
}

#: (method, path) -> the rule of the route: "public", "page", "subject page", "form", "api",
#: "api form", "account".
RULES: dict[tuple[str, str], str] = {
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/static"): "public",
    ("GET", "/account/password"): "page",
    ("POST", "/account/password"): "account",
    ("GET", "/account/tokens"): "page",
    ("POST", "/account/tokens"): "account",
    ("POST", "/account/tokens/{token_id}/revoke"): "account",
    ("GET", "/"): "page",
    ("GET", "/subjects"): "page",
    ("GET", "/subjects/{subject_id}"): "subject page",
    ("GET", "/escalation"): "page",
    ("GET", "/expansion"): "page",  # in escalation; once opened, review_expansion's roles
    ("GET", "/report"): "page",
    ("GET", "/report/download"): "page",
    ("GET", "/report/cdisc"): "page",
    ("GET", "/forms"): "page",
    ("GET", "/terms/ctcae"): "page",
    ("GET", "/forms/{name}"): "page",
    ("POST", "/forms/{name}"): "form",
    ("GET", "/api/study"): "api",
    ("GET", "/api/subjects"): "api",
    ("GET", "/api/forms"): "api",
    ("GET", "/api/forms/{name}/schema"): "api",
    ("POST", "/api/forms/{name}"): "api form",
    ("GET", "/api/openapi.json"): "public",
    # tests/web/test_pages_*.py test these rules for every role and site
    ("GET", "/audit/{table}/{record_id}"): "record page",
    ("POST", "/forms/{name}/rows/{field}"): "form fragment",  # any logged-in user
    ("POST", "/forms/{name}/preview"): "form preview",  # the roles of the form's use case
    ("GET", "/import"): "page",
    ("POST", "/import"): "upload",  # each row's use case decides (test_pages_import)
    ("GET", "/admin"): "admin page",  # administrators only (test_pages_admin)
}


def route_table(web: Web) -> set[tuple[str, str]]:
    """(method, path) of every route of the application."""
    found: set[tuple[str, str]] = set()
    for route in web.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            found.update((method, route.path) for method in route.methods)
        elif hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.16x)
            for context in route.effective_route_contexts():
                found.update((method, context.path) for method in context.methods)
        elif isinstance(route, Mount):
            found.add(("GET", route.path))
        else:  # the OpenAPI document
            found.update((method, route.path) for method in getattr(route, "methods", ()))
    return {(m, p) for m, p in found if m != "HEAD"}


def test_every_route_has_a_rule(web: Web) -> None:
    routes = route_table(web)
    assert routes - RULES.keys() == set(), "routes without an authorisation rule"
    assert RULES.keys() - routes == set(), "rules for routes that no longer exist"
    assert set(FORMS) == set(FORM_ROLES), "forms without a role rule"


def form_values(name: str) -> dict[str, str]:
    """Values that pass the form's input model (so that the policy layer decides)."""
    values: dict[str, str] = {}
    for view in field_views(FORMS[name].model):
        if not view.required:
            continue
        if view.name == "subject_id":
            values[view.name] = SUBJECT
        elif view.widget == "select":
            values[view.name] = view.choices[0]
        elif view.widget == "number":
            values[view.name] = "1"
        elif view.widget == "date":
            values[view.name] = "2026-02-01"
        elif view.widget == "datetime":
            values[view.name] = "2026-02-01T09:00"
        elif view.widget == "password":
            values[view.name] = PASSWORD
        elif view.widget == "json":
            values[view.name] = "[]"
        else:
            values[view.name] = "x"
    values.update(OVERRIDES.get(name, {}))
    parse_form(FORMS[name].model, values)  # the values are acceptable as input
    return values


def expected_for_form(name: str, user: str) -> str:
    role, site = USERS[user]
    if role not in FORM_ROLES[name]:
        return "denied"
    if site is not None and site != "S01" and name not in BY_RECORD_ID:
        return "denied"  # a site role reaches only its own site's subjects
    return "allowed"


@pytest.fixture
def clients(web: Web) -> Iterator[dict[str, TestClient]]:
    """One logged-in client per user, on a trial where ``S01-001`` is infused at DL1."""
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", dt.date(2026, 1, 12))
    logged_in: dict[str, TestClient] = {}
    for user in USERS:
        client = TestClient(web.client.app)
        client.get("/login")
        response = client.post(
            "/login",
            data={
                CSRF_FIELD: client.cookies["cartrial_csrf"],
                "username": user,
                "password": PASSWORD,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, user
        logged_in[user] = client
    yield logged_in
    for client in logged_in.values():
        client.close()


def outcome(response_status: int, location: str = "") -> str:
    if response_status == 403:
        return "denied"
    if response_status == 401 or (response_status == 303 and location.startswith("/login")):
        return "anonymous"
    return "allowed"


def test_pages_for_every_role_and_site(web: Web, clients: dict[str, TestClient]) -> None:
    pages = [path for (method, path), rule in RULES.items() if method == "GET" and rule == "page"]
    results = {}
    for user, client in [("anonymous", web.client), *clients.items()]:
        for template in pages:
            paths = (
                [f"/forms/{name}" for name in FORMS] if template == "/forms/{name}" else [template]
            )
            for path in paths:
                r = client.get(path, follow_redirects=False)
                results[(user, path)] = outcome(r.status_code, r.headers.get("location", ""))
        r = client.get(f"/subjects/{SUBJECT}", follow_redirects=False)
        results[(user, "subject")] = outcome(r.status_code, r.headers.get("location", ""))
    expected = {}
    for user, path in results:
        if user == "anonymous":
            expected[(user, path)] = "anonymous"
        elif path == "subject":
            expected[(user, path)] = "denied" if USERS[user][1] == "S02" else "allowed"
        else:
            expected[(user, path)] = "allowed"
    assert results == expected


def test_forms_for_every_role_and_site(web: Web, clients: dict[str, TestClient]) -> None:
    results = {}
    expected = {}
    for name in FORMS:
        values = form_values(name)
        anonymous = web.client.post(
            f"/forms/{name}", data={CSRF_FIELD: web.csrf(), **values}, follow_redirects=False
        )
        results[("anonymous", name)] = outcome(
            anonymous.status_code, anonymous.headers.get("location", "")
        )
        expected[("anonymous", name)] = "anonymous"
        for user, client in clients.items():
            data = {CSRF_FIELD: client.cookies["cartrial_csrf"], **values}
            r = client.post(f"/forms/{name}", data=data, follow_redirects=False)
            assert r.status_code < 500, (user, name)
            results[(user, name)] = outcome(r.status_code, r.headers.get("location", ""))
            expected[(user, name)] = expected_for_form(name, user)
    wrong = {key: (results[key], expected[key]) for key in results if results[key] != expected[key]}
    assert wrong == {}


def test_the_api_for_every_role_and_site(web: Web, clients: dict[str, TestClient]) -> None:
    tokens = {
        user: create_token(
            web.trial.as_(user), CreateToken(name="matrix", expires_on=dt.date(2027, 1, 1))
        ).token
        for user in USERS
    }
    reads = ["/api/study", "/api/subjects", "/api/forms", "/api/forms/ae/schema"]
    for path in reads:
        assert web.client.get(path).status_code == 401
        for user, token in tokens.items():
            response = web.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, (user, path)
    subjects = web.client.get(
        "/api/subjects", headers={"Authorization": f"Bearer {tokens['coord2']}"}
    )
    assert subjects.json() == []  # coord2 reads only site S02, which has no subject
    wrong = {}
    for name in FORMS:
        model = parse_form(FORMS[name].model, form_values(name))
        payload = model.model_dump(mode="json")
        payload.update({k: PASSWORD for k in payload if "password" in k})
        assert web.client.post(f"/api/forms/{name}", json=payload).status_code == 401
        for user, token in tokens.items():
            r = web.client.post(
                f"/api/forms/{name}", json=payload, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code < 500, (user, name, r.text)
            got = outcome(r.status_code)
            if got != expected_for_form(name, user):
                wrong[(user, name)] = (got, r.text[:200])
    assert wrong == {}
