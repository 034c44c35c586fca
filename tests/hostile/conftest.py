"""Fixtures of the hostile-input corpus: a trial database with subjects in every state.

* ``S01-001``: screened 2026-02-10, infused 2026-03-02 (the labs of ``baseline_labs.csv``);
* ``S01-002``: infused 2026-03-02, died 2026-06-01;
* ``S01-003``: screened 2026-02-10, withdrawn 2026-04-01.

Users: those of ``tests/services/service_support.py`` (``dm`` data manager, ``inv`` investigator,
``admin`` who restores backups), each with a CLI access token.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import argon2.profiles
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "services"))

from hostile_support import D0, HERE, HostileDb
from service_support import Trial, build_trial, screening, treat

from cartrial.services import (
    CreateToken,
    RecordFollowUp,
    WithdrawSubject,
    create_token,
    import_labs,
    record_follow_up,
    screen_subject,
    withdraw_subject,
)
from cartrial.store import auth
from cartrial.store.migrate import upgrade


@pytest.fixture(scope="session")
def hostile_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "trial.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
        trial: Trial = build_trial(url)
    coordinator, investigator = trial.as_("coord1"), trial.as_("inv")
    treat(coordinator, investigator, "S01-001", "S01", D0)
    treat(coordinator, investigator, "S01-002", "S01", D0)
    record_follow_up(
        coordinator,
        RecordFollowUp(
            subject_id="S01-002",
            contact_date=dt.date(2026, 6, 2),
            status="dead",
            death_date=dt.date(2026, 6, 1),
            death_cause="disease progression",
        ),
    )
    screen_subject(coordinator, screening("S01-003", "S01", dt.date(2026, 2, 10)))
    withdraw_subject(
        investigator,
        WithdrawSubject(
            subject_id="S01-003", withdrawn_date=dt.date(2026, 4, 1), reason="consent withdrawn"
        ),
    )
    import_labs(trial.as_("dm"), HERE / "baseline_labs.csv")
    expires = dt.date.today() + dt.timedelta(days=30)
    for user in ("dm", "inv", "admin"):
        created = create_token(trial.as_(user), CreateToken(name="corpus", expires_on=expires))
        (path.parent / f"{user}.token").write_text(created.token, encoding="utf-8")
    trial.engine.dispose()
    return path


@pytest.fixture
def hostile_db(hostile_template: Path, tmp_path: Path) -> Iterator[HostileDb]:
    path = tmp_path / "trial.db"
    shutil.copy(hostile_template, path)
    tokens = {
        u: (hostile_template.parent / f"{u}.token").read_text() for u in ("dm", "inv", "admin")
    }
    yield HostileDb(path, tokens)
