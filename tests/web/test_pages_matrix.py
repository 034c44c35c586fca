"""The authorisation matrix of the form fragments (table rows, live previews): every form with a
preview x every role x own site / other site, with values the form accepts, so that the policy
layer of the preview's use case decides (``test_authorisation_matrix`` states the rules).
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_authorisation_matrix import (  # noqa: F401 (clients: the matrix's fixture)
    RULES,
    SUBJECT,
    USERS,
    clients,
    expected_for_form,
    outcome,
)
from web_support import Web

from cartrial.web.live_forms import PREVIEWS
from cartrial.web.security import CSRF_FIELD

#: Values each previewed form accepts for subject S01-001 (infused 2026-01-12 by the fixture).
PREVIEW_VALUES: dict[str, dict[str, str]] = {
    "tumour": {
        "subject_id": SUBJECT,
        "assessment_date": "2026-01-05",
        "lesions-0-lesion_id": "T1",
        "lesions-0-category": "target",
        "lesions-0-organ": "liver",
        "lesions-0-diameter_mm": "20",
        "lesions-0-status": "present",
    },
    "crs-icans": {"subject_id": SUBJECT, "observed_date": "2026-01-14", "temperature_c": "38.2"},
    "ae": {
        "subject_id": SUBJECT,
        "term": "Nausea",
        "grade": "1",
        "onset_at": "2026-01-14T09:00",
        "attribution": "possible",
    },
}


def test_the_form_fragments_for_every_role_and_site(
    web: Web,
    clients: dict[str, TestClient],  # noqa: F811 (the matrix's fixture)
) -> None:
    fragments = {path for (method, path), rule in RULES.items() if rule.startswith("form ")}
    assert fragments == {"/forms/{name}/rows/{field}", "/forms/{name}/preview"}
    assert set(PREVIEWS) == set(PREVIEW_VALUES)
    got, expected = {}, {}
    for name, values in PREVIEW_VALUES.items():
        for user, client in [("anonymous", web.client), *clients.items()]:
            token = client.cookies.get("cartrial_csrf") or web.csrf()
            data = {CSRF_FIELD: token, **values, "row_action": "add"}
            for kind in ("rows/lesions", "preview"):
                r = client.post(f"/forms/{name}/{kind}", data=data, follow_redirects=False)
                assert r.status_code < 500, (user, name, kind)
                got[(user, name, kind)] = outcome(r.status_code, r.headers.get("location", ""))
                if user == "anonymous":
                    expected[(user, name, kind)] = "anonymous"
                elif kind == "preview":
                    expected[(user, name, kind)] = expected_for_form(name, user)
                else:
                    expected[(user, name, kind)] = "allowed"
            if user != "anonymous" and expected_for_form(name, user) == "allowed":
                shown = client.post(f"/forms/{name}/preview", data=data).text
                assert "Not " not in shown, (user, name, shown)  # derived, not refused
    assert got == expected
    assert set(USERS) <= {user for user, _, _ in got}
