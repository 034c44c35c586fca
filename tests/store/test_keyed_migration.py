"""Migration 0004 re-chains an existing SHA-256 trail under a key (the old chain verified first).

The old trail is written as revision 0003 wrote it: each row chained with plain SHA-256
(:func:`cartrial.store.chain.row_sha256`), the head advanced by the 0002 trigger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, insert, select, text

from cartrial.errors import AuditIntegrityError
from cartrial.store import AuditLog, make_engine
from cartrial.store.chain import GENESIS_SHA256, row_sha256, verify_chain
from cartrial.store.keys import key_id, load_audit_key
from cartrial.store.migrate import head_revision, upgrade


def _old_trail(connection: Connection, rows: int) -> None:
    prev = GENESIS_SHA256
    for n in range(1, rows + 1):
        row: dict[str, object] = {
            "id": n,
            "occurred_at": datetime(2025, 6, 1, 9, n, tzinfo=UTC),
            "username": "crc1",
            "action": "update",
            "table_name": "subjects",
            "record_id": 1,
            "field": "age_years",
            "old_value": str(50 + n - 1),
            "new_value": str(50 + n),
            "reason": "from source",
            "prev_sha256": prev,
        }
        prev = row["row_sha256"] = row_sha256(row)
        connection.execute(insert(AuditLog).values(**row))


def test_an_old_chain_is_verified_then_rechained_under_a_fresh_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "fresh" / "audit.key"
    monkeypatch.setenv("CARTRIAL_AUDIT_KEY_FILE", str(key_file))
    upgrade(db_url, "0003")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        _old_trail(connection, 5)
    engine.dispose()
    assert not key_file.exists()
    assert upgrade(db_url) == head_revision()
    assert key_file.stat().st_mode & 0o777 == 0o600  # created by the migration, owner only
    key = load_audit_key(db_url)
    assert key is not None
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            report = verify_chain(connection)
            assert report.ok and report.authenticated and report.rows == 5
            head = connection.execute(text("SELECT key_id FROM audit_chain_head")).scalar()
            assert head == key_id(key)
            # the old plain-SHA-256 chain no longer verifies: the MACs replaced it
            old = dict(
                connection.execute(select(*AuditLog.__table__.c).where(AuditLog.id == 1))
                .one()
                ._mapping
            )
            assert row_sha256(old) != old["row_sha256"]
    finally:
        engine.dispose()


def test_a_broken_old_chain_is_not_converted(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CARTRIAL_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    upgrade(db_url, "0003")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        _old_trail(connection, 3)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET username = 'mallory' WHERE id = 2"))
    engine.dispose()
    with pytest.raises(AuditIntegrityError, match="audit row 2 does not verify"):
        upgrade(db_url)
    assert not (tmp_path / "audit.key").exists()
