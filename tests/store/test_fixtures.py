"""The shared ``db_url`` fixture: PostgreSQL tests skip locally but FAIL in CI without a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/store/test_migrations.py::test_upgrade_gives_the_models_schema[postgresql]"


def _run_without_postgres(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CARTRIAL_TEST_POSTGRES_URL", "CI")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", TARGET, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("ci", "exit_code", "expected"),
    [
        (None, 0, "1 skipped"),
        ("true", 1, "CI must run the PostgreSQL tests"),
    ],
    ids=["local-skips", "ci-fails"],
)
def test_postgres_tests_without_a_server(ci: str | None, exit_code: int, expected: str) -> None:
    done = _run_without_postgres(ci)
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert expected in done.stdout
