"""PostgreSQL: ``cartrial db harden`` leaves the application role unable to rewrite the trail.

The triggers reject UPDATE/DELETE/TRUNCATE on ``audit_log``, but a table's owner may disable or
drop them; the application connects as the role ``db harden`` prepared, which can append
(audited writes work) and can neither change audit rows nor disable or drop the triggers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.errors import DatabaseUnavailable, ValidationFailed
from cartrial.services.database import harden_database
from cartrial.store import Site, Study, make_engine, session_factory, unit_of_work
from cartrial.store.integrity import verify_integrity

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

#: What the application role tries, and the refusal PostgreSQL gives (translated by
#: store.failures: the privilege or the ownership is named).
ATTACKS = {
    "ALTER TABLE audit_log DISABLE TRIGGER USER": "must be owner",
    "DROP TRIGGER audit_log_no_update_delete ON audit_log": "must be owner",
    "DROP TRIGGER audit_log_advance_head ON audit_log": "must be owner",
    "DROP TABLE audit_log": "must be owner",
    "UPDATE audit_log SET username = 'mallory'": "permission denied",
    "DELETE FROM audit_log": "permission denied",
    "TRUNCATE audit_log": "permission denied",
    "DELETE FROM sites": "permission denied",
    "TRUNCATE sites CASCADE": "permission denied",
    "UPDATE alembic_version SET version_num = '0001'": "permission denied",
    "CREATE TABLE shadow_log (id integer)": "permission denied",
}


@pytest.fixture
def app_role(engine: Engine) -> Iterator[str]:
    """A fresh role name (created by ``db harden``), dropped after the test."""
    role = f"cartrial_app_{uuid.uuid4().hex[:8]}"
    yield role
    with engine.begin() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))


@POSTGRES_ONLY
def test_the_hardened_application_role_cannot_rewrite_the_trail(
    migrated_db_url: str, engine: Engine, app_role: str
) -> None:
    result = CliRunner().invoke(
        app, ["db", "harden", "--app-role", app_role, "--db", migrated_db_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    granted = json.loads(result.output)
    assert granted["created"] is True
    tables = granted["tables"]
    assert tables["audit_log"] == ["SELECT", "INSERT"]
    assert tables["alembic_version"] == ["SELECT"]
    assert tables["subjects"] == ["SELECT", "INSERT", "UPDATE"]
    assert all("DELETE" not in held and "TRUNCATE" not in held for held in tables.values())
    app_url = make_url(migrated_db_url).set(username=app_role).render_as_string(hide_password=False)
    application = make_engine(app_url)
    try:
        with unit_of_work(session_factory(application), "admin") as session:
            study = Study(
                study_code="S",
                title="t",
                protocol_version="1",
                protocol_yaml="x",
                protocol_sha256="0",
            )
            session.add(study)
            session.flush()
            session.add(Site(study_id=study.id, code="S01", name="one"))
        with unit_of_work(session_factory(application), "admin", "name from the site list") as s:
            [site] = s.query(Site).all()
            site.name = "Site one"
        for attack, refusal in ATTACKS.items():
            with (
                pytest.raises(DatabaseUnavailable, match=refusal),
                application.begin() as connection,
            ):
                connection.execute(text(attack))
        with application.connect() as connection:
            report = verify_integrity(connection)
        assert report.ok and report.audit_rows == 3
    finally:
        application.dispose()


@POSTGRES_ONLY
def test_harden_refuses_the_owner_and_a_member_of_it(
    migrated_db_url: str, engine: Engine, app_role: str
) -> None:
    owner = make_url(migrated_db_url).username
    with pytest.raises(ValidationFailed, match=r"superuser|owns the tables"):
        harden_database(migrated_db_url, str(owner))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE {app_role} LOGIN IN ROLE "{owner}"'))
    with pytest.raises(ValidationFailed, match="member of their owner"):
        harden_database(migrated_db_url, app_role)
    with pytest.raises(ValidationFailed, match="not a plain role name"):
        harden_database(migrated_db_url, 'x"; DROP TABLE audit_log; --')


def test_harden_on_sqlite_says_roles_are_postgresql_only(sqlite_sessions: object) -> None:
    url = sqlite_sessions[0]  # type: ignore[index]
    with pytest.raises(ValidationFailed, match="only PostgreSQL has roles"):
        harden_database(url, "cartrial_app")
