"""The admin pages: users with their roles, lock state and tokens; sites; who holds each role.

Expected values come from the test trial (``service_support.STAFF``: coord1 at S01, coord2 at
S02, the other roles study-wide) and from what each test does (a subject treated at S01, an
account locked after 3 wrong passwords by the fixture's ``max_failures=3``).
"""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from service_support import treat
from test_authorisation_matrix import RULES, USERS, clients, outcome  # noqa: F401 (fixture)
from web_support import PASSWORD, Web

from cartrial.services import CreateToken, create_token


def _row(page: str, first_cell: str) -> str:
    start = page.index(f"<tr><td>{first_cell}</td>")
    return page[start : page.index("</tr>", start)].replace("\n", "")


def test_users_sites_and_roles_are_listed(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), "S01-001", "S01", dt.date(2026, 1, 12))
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    create_token(web.trial.as_("stat"), CreateToken(name="export", expires_on=soon))
    web.login("admin")
    page = web.client.get("/admin").text
    assert "<td>site_coordinator@S01</td><td>active</td><td>0</td>" in _row(page, "coord1")
    assert "<td>statistician</td><td>active</td><td>1</td>" in _row(page, "stat")
    assert _row(page, "S01").endswith("<td>1</td><td>1</td>")  # 1 subject, 1 site coordinator
    assert _row(page, "S02").endswith("<td>0</td><td>1</td>")
    assert "<tr><td>site_coordinator</td><td>coord1@S01, coord2@S02</td></tr>" in page
    assert "<tr><td>investigator</td><td>inv</td></tr>" in page


def test_a_locked_account_is_shown_and_unlocked_from_the_list(web: Web) -> None:
    for _ in range(3):
        assert web.login("mon", "wrong password").status_code != 303
    assert web.login("mon").status_code != 303  # locked now, even with the right password
    web.login("admin")
    page = web.client.get("/admin").text
    assert "<td>locked</td>" in _row(page, "mon")
    assert '<button type="submit">Unlock mon</button>' in page
    unlocked = web.post(
        "/forms/unlock-user", {"username": "mon", "reason": "identity confirmed by phone"}
    )
    assert unlocked.status_code == 200 and "Saved." in unlocked.text
    assert "<td>active</td>" in _row(web.client.get("/admin").text, "mon")
    web.post("/logout")
    assert web.login("mon", PASSWORD).status_code == 303


def test_only_administrators_see_the_admin_page(
    web: Web,
    clients: dict[str, TestClient],  # noqa: F811 (the matrix's fixture)
) -> None:
    assert [path for (_, path), rule in RULES.items() if rule == "admin page"] == ["/admin"]
    anonymous = web.client.get("/admin", follow_redirects=False)
    got = {"anonymous": outcome(anonymous.status_code, anonymous.headers.get("location", ""))}
    for user, client in clients.items():
        got[user] = outcome(client.get("/admin", follow_redirects=False).status_code)
    expected = {"anonymous": "anonymous"} | {
        user: "allowed" if role == "admin" else "denied" for user, (role, _) in USERS.items()
    }
    assert got == expected


def test_a_role_is_revoked_and_an_account_deactivated_from_the_browser(web: Web) -> None:
    web.login("mon")
    assert web.client.get("/subjects").status_code == 200  # the monitor's session works
    monitor_cookies = dict(web.client.cookies)
    web.post("/logout")
    web.login("admin")
    revoked = web.post(
        "/forms/revoke-role",
        {"username": "coord2", "role": "site_coordinator", "site": "S02", "reason": "moved"},
    )
    assert revoked.status_code == 200 and "Saved." in revoked.text
    page = web.client.get("/admin").text
    assert "<tr><td>site_coordinator</td><td>coord1@S01</td></tr>" in page
    assert "<td>none</td><td>active</td>" in _row(page, "coord2")
    off = web.post("/forms/deactivate-user", {"username": "mon", "reason": "left the study"})
    assert off.status_code == 200 and "Saved." in off.text
    assert "<td>inactive</td>" in _row(web.client.get("/admin").text, "mon")
    again = web.post("/forms/deactivate-user", {"username": "mon", "reason": "twice"})
    assert again.status_code == 422 and "is not active" in again.text
    self_off = web.post("/forms/deactivate-user", {"username": "admin", "reason": "x"})
    assert self_off.status_code == 422 and "your own account" in self_off.text
    # the monitor's open session ended with the deactivation
    ended = TestClient(web.client.app, cookies=monitor_cookies)
    assert ended.get("/subjects", follow_redirects=False).status_code == 303
    web.post("/logout")
    assert web.login("mon").status_code != 303  # an inactive account cannot log in
    web.login("admin")
    on = web.post("/forms/reactivate-user", {"username": "mon", "reason": "back on the study"})
    assert on.status_code == 200
    web.post("/logout")
    assert web.login("mon").status_code == 303
