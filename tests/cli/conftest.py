"""Fixtures of the CLI tests: ``cartrial`` run in this process through its entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cartrial.cli import main

from .support import Run

#: ``run_main(*args, cwd=..., env=...)``: the ``cartrial`` console script's ``main`` in-process.
RunMain = Callable[..., Run]


@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunMain:
    """Run ``cartrial.cli.main(args)`` in ``cwd`` with ``env`` added, capturing its output."""

    def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            patch.setenv("COLUMNS", "80")
            patch.delenv("CARTRIAL_DATABASE_URL", raising=False)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            capsys.readouterr()
            code = main(list(args))
            out, err = capsys.readouterr()
        return Run(code, out, err)

    return run
