"""Shared fixtures: trial databases on SQLite and PostgreSQL.

* ``db_url``: an EMPTY database, parametrised over SQLite (a file in ``tmp_path``) and PostgreSQL
  (a fresh schema, dropped afterwards) when ``CARTRIAL_TEST_POSTGRES_URL`` is set.
* ``migrated_db_url``: the same, migrated to the newest schema (SQLite: a copy of a template
  migrated once per worker).
* ``engine`` and ``sessions``: an engine and a session factory on ``migrated_db_url``.

Password hashing uses argon2's cheapest profile in tests (autouse fixture).

Hypothesis runs under a settings profile registered here: ``ci`` (the default, and always when
``CI`` is set) is derandomized, so a plain ``pytest`` draws the same examples on every run and
machine, and has no deadline (a loaded machine must not fail a test); ``long``
(``HYPOTHESIS_PROFILE=long``) draws random examples, ten times as many as each test's own
``max_examples``, for a longer local search.

Tests marked ``postgres`` (the PostgreSQL parameter is marked automatically) are skipped when
``CARTRIAL_TEST_POSTGRES_URL`` is unset, except in CI (``CI=true``) where they FAIL: CI always
provides a server through ``scripts/with-postgres.sh``.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import argon2.profiles
import hypothesis
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from cartrial.store import AuditedSession, auth, make_engine, session_factory
from cartrial.store.migrate import alembic_config, upgrade

POSTGRES_URL_ENV = "CARTRIAL_TEST_POSTGRES_URL"

#: How many times each test's ``max_examples`` the ``long`` profile draws.
LONG_PROFILE_FACTOR = 10

hypothesis.settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "long",
    derandomize=False,
    deadline=None,
    max_examples=LONG_PROFILE_FACTOR * hypothesis.settings.default.max_examples,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)


def _hypothesis_profile() -> str:
    """``ci`` when ``CI`` is set or nothing is asked for; else ``HYPOTHESIS_PROFILE``."""
    if os.environ.get("CI"):
        return "ci"
    return os.environ.get("HYPOTHESIS_PROFILE", "").strip() or "ci"


hypothesis.settings.load_profile(_hypothesis_profile())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under the ``long`` profile, multiply each hypothesis test's own ``max_examples``.

    A test's ``@settings(max_examples=...)`` outranks the profile, so the profile alone would
    lengthen only the tests without one; hypothesis reads the settings kept on the test function
    when the test runs, so the longer search replaces them here.
    """
    if hypothesis.settings.get_current_profile_name() != "long":
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or own.max_examples >= hypothesis.settings.default.max_examples:
            continue
        test._hypothesis_internal_use_settings = hypothesis.settings(  # type: ignore[union-attr]
            own, max_examples=LONG_PROFILE_FACTOR * own.max_examples
        )


@pytest.fixture(scope="session", autouse=True)
def _audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One audit key for the test session (a deployment key, outside every test database);
    session-wide so that session-scoped template databases are written with it too."""
    path = tmp_path_factory.mktemp("audit-key") / "audit.key"
    path.write_text("5a" * 32 + "\n", encoding="ascii")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CARTRIAL_AUDIT_KEY_FILE", str(path))
        yield path


@pytest.fixture(autouse=True)
def _checkpoint_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Automatic checkpoints (data locks, backups) of each test go to its ``tmp_path``."""
    monkeypatch.setenv("CARTRIAL_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with argon2-cffi's test profile (the production profile takes ~1 s)."""
    monkeypatch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)


def _postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV, "").strip() or None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (locally) or fail (in CI) a ``postgres`` test when no server is configured."""
    if item.get_closest_marker("postgres") is None or _postgres_base_url() is not None:
        return
    message = f"{POSTGRES_URL_ENV} is not set"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI must run the PostgreSQL tests (scripts/with-postgres.sh)")
    pytest.skip(message)


def _schema_url(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty trial database (SQLite file, or a throw-away PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trial.db'}"
        return
    base = _postgres_base_url()
    assert base is not None  # guaranteed by pytest_runtest_setup
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _schema_url(base, schema)
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "trial.db"
    upgrade(f"sqlite:///{path}")  # closes its connections: the WAL is checkpointed into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def _postgres_migration_sql() -> str:
    """The migrations to head as one PostgreSQL script (Alembic offline mode), built once."""
    base = _postgres_base_url()
    assert base is not None
    config = alembic_config(base)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    return config.output_buffer.getvalue()


@pytest.fixture
def migrated_db_url(db_url: str, request: pytest.FixtureRequest) -> str:
    """URL of a trial database migrated to the newest schema (chain head and triggers in place).

    SQLite: a copy of a template file migrated once. PostgreSQL: the Alembic offline script of the
    same migrations run in the test's schema (``test_migrations`` runs them online on both).
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), url.database)
        return db_url
    script = request.getfixturevalue("_postgres_migration_sql")
    engine = create_engine(db_url)
    try:
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                cursor.execute(script)
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
    return db_url


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[Engine]:
    """An engine on the migrated database (disposed after the test)."""
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[AuditedSession]:
    """The audited session factory of the migrated database."""
    return session_factory(engine)
