"""Property: any sequence of audited edits leaves a verifiable chain that replays the record."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cartrial.store import (
    AuditLog,
    Subject,
    make_engine,
    session_factory,
    unit_of_work,
    verify_chain,
)
from cartrial.store.audit import INSERT_FIELD

from .conftest import add_study

_VALUES = {
    "age_years": st.one_of(st.none(), st.integers(18, 90)),
    "ecog": st.one_of(st.none(), st.integers(0, 2)),
    "sex": st.one_of(st.none(), st.sampled_from(["F", "M"])),
    "withdrawal_reason": st.one_of(st.none(), st.text(min_size=1, max_size=30)),
}
_EDITS = st.lists(
    st.sampled_from(sorted(_VALUES)).flatmap(lambda f: st.tuples(st.just(f), _VALUES[f])),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=_EDITS)
def test_audit_trail_replays_every_edit(
    edits: list[tuple[str, object]], _sqlite_template: Path
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trial.db"
        shutil.copyfile(_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        factory = session_factory(engine)
        with unit_of_work(factory, "crc1") as session:
            study, site = add_study(session)
            subject = Subject(study_id=study.id, site_id=site.id, subject_code="001")
            session.add(subject)
            session.flush()
            subject_id = subject.id
        expected: dict[str, object] = {}
        for i, (field, value) in enumerate(edits):
            with unit_of_work(factory, f"user{i}", f"edit {i}") as session:
                loaded = session.get(Subject, subject_id)
                assert loaded is not None
                setattr(loaded, field, value)
            expected[field] = value
        with engine.connect() as connection:
            assert verify_chain(connection).ok
            rows = connection.execute(
                select(AuditLog.field, AuditLog.new_value)
                .where(AuditLog.table_name == "subjects", AuditLog.record_id == subject_id)
                .order_by(AuditLog.id)
            ).all()
        # Replay: start from the insert's JSON and apply every logged change in chain order.
        replay: dict[str, str | None] = {}
        for field, new_value in rows:
            if field == INSERT_FIELD:
                replay.update(json.loads(new_value))
            else:
                replay[field] = new_value
        with factory() as session:
            final = session.get(Subject, subject_id)
            assert final is not None
            for field in _VALUES:
                stored = getattr(final, field)
                assert stored == expected.get(field)
                assert replay.get(field) == (None if stored is None else str(stored))
            assert final.version == 1 + sum(
                1 for i, (f, v) in enumerate(edits) if v != _previous(edits, i, f)
            )
        engine.dispose()


def _previous(edits: list[tuple[str, object]], index: int, field: str) -> object:
    """The value ``field`` had before edit ``index`` (None before any edit)."""
    for f, v in reversed(edits[:index]):
        if f == field:
            return v
    return None
