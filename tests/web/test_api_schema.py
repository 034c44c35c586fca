"""Schemathesis over the JSON API's own OpenAPI document (``/api/openapi.json``).

Every operation of the document (one per form for ``POST /api/forms/{name}``) gets requests
generated from its schema, both schema-valid ("positive") and schema-violating ("negative"),
sent with an investigator's personal access token; each response must

* not be a server error (``not_a_server_error``),
* have a status code, content type and body that the document declares for the operation
  (``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``),
* reject schema-violating input with a 4xx (``negative_data_rejection``),
* need the token: the same request without it gets 401 (``ignored_auth``).

A schema-valid request may still be refused with 422 (the schema cannot say "after the
enrolment date"), so ``positive_data_acceptance`` is not among the checks. Generated bodies
naming a subject name one that exists (about half of the schema-valid ones), so that inputs
reach the services' rules instead of stopping at "no such subject".

Deterministic and bounded: hypothesis is derandomized, draws :data:`EXAMPLES` requests per
operation and mode, and does not shrink (the failing request is printed as a curl command).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from service_support import treat
from web_support import Web

from cartrial.services import CreateToken, create_token
from cartrial.web.forms import FORMS

#: Requests per operation and generation mode (34 operations x 2 modes).
EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
#: The subject of the trial under test (infused at DL1 at site S01).
SUBJECT = "S01-001"


def _with_known_subject(case: Case, known: bool) -> Case:
    """Name the existing subject in a schema-valid body that has a ``subject_id``."""
    body = case.body
    if known and isinstance(body, dict) and "subject_id" in body:
        case.body = {**body, "subject_id": SUBJECT}
    return case


def _exercise(operation: Any, mode: GenerationMode, token: str) -> None:
    """Send :data:`EXAMPLES` generated requests to ``operation`` and run :data:`CHECKS`."""
    # a negative case keeps its subject_id: it may be the value that breaks the schema
    known = st.booleans() if mode is GenerationMode.POSITIVE else st.just(False)
    cases = st.tuples(operation.as_strategy(mode), known)

    @given(drawn=cases)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(drawn: tuple[Case, bool]) -> None:
        case = _with_known_subject(*drawn)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()


def test_the_document_lists_each_form_with_its_input_and_result(web: Web) -> None:
    document = web.client.get("/api/openapi.json").json()
    assert not [path for path in document["paths"] if not path.startswith("/api/")]
    assert {f"/api/forms/{name}" for name in FORMS} <= set(document["paths"])
    ae = document["paths"]["/api/forms/ae"]["post"]
    body = ae["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RecordAE"}
    result = ae["responses"]["200"]["content"]["application/json"]["schema"]
    assert result == {"$ref": "#/components/schemas/AERecorded"}
    assert {"400", "401", "403", "404", "409", "422"} <= set(ae["responses"])
    assert ae["security"] == [{"HTTPBearer": []}]


def test_the_api_conforms_to_its_openapi_document(web_on_each_database: Web) -> None:
    web = web_on_each_database
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), "S01-001", "S01", dt.date(2026, 1, 12))
    token = create_token(
        web.trial.as_("inv"), CreateToken(name="schemathesis", expires_on=dt.date(2027, 1, 1))
    ).token
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web.client.app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4 + len(FORMS)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, token)
            except Exception as exc:  # every operation runs; all failures are shown at the end
                failures[f"{operation.label} ({mode.value})"] = str(exc)
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query_id": 2**31, "answer": "x", "expected_version": 1}, "query_id"),
        ({"query_id": 1, "answer": "a\x00b", "expected_version": 1}, "answer"),
    ],
)
def test_what_no_database_column_holds_is_refused_by_field(
    web_on_each_database: Web, body: dict[str, object], field: str
) -> None:
    """Found by the test above: ids beyond 32 bits overflowed PostgreSQL's INTEGER (beyond 64
    bits SQLite's), a NUL broke PostgreSQL's text: each was a 500 before."""
    web = web_on_each_database
    token = create_token(
        web.trial.as_("coord1"), CreateToken(name="t", expires_on=dt.date(2027, 1, 1))
    ).token
    response = web.client.post(
        "/api/forms/answer-query", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}:")
