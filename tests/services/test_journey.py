"""The whole subject journey, on SQLite and (with CARTRIAL_TEST_POSTGRES_URL) on PostgreSQL."""

from __future__ import annotations

from journey import run_journey
from service_support import build_trial


def test_whole_journey(migrated_db_url: str) -> None:
    trial = build_trial(migrated_db_url)
    try:
        run_journey(trial)
    finally:
        trial.engine.dispose()
