"""Start-up: ``--help`` and ``--version`` import no command module; each command only its own.

Import sets, not timings, are asserted (timings are measured by ``benchmarks/bench_cli.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cartrial.cli import COMMAND_MODULES
from cartrial.cli.lazy import LazyGroup

from .support import SRC, cartrial_process

#: Packages that take a large part of a second to import each.
HEAVY = ("pandas", "scipy", "matplotlib", "sqlalchemy", "lifelines", "alembic")


def _imported_after(code: str) -> set[str]:
    """Top-level packages imported by ``code`` in a fresh interpreter."""
    script = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": SRC, "COLUMNS": "80"},
        timeout=120,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_no_heavy_package(option: str) -> None:
    code = (
        "from cartrial.cli import main\n"
        "import contextlib, io\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main([{option!r}])"
    )
    imported = _imported_after(code)
    assert not imported & set(HEAVY)
    assert not {m for m in imported if m.startswith("cartrial.")} - {"cartrial"}


def test_the_package_root_and_the_error_tree_are_light() -> None:
    assert not _imported_after("import cartrial, cartrial.errors") & {*HEAVY, "pydantic", "numpy"}


def test_design_next_imports_neither_the_database_nor_plotting() -> None:
    code = (
        "from cartrial.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['design', 'next', '--n', '3,3,0,0', '--dlt', '0,1,0,0', '--current', 'DL1'])"
    )
    assert not _imported_after(code) & {"pandas", "matplotlib", "sqlalchemy", "lifelines"}


def test_the_registry_help_is_each_command_s_own() -> None:
    class Everything(LazyGroup):
        package = "cartrial.cli"
        command_modules = COMMAND_MODULES

    group = Everything(name="cartrial")
    for module, commands in COMMAND_MODULES.items():
        group.load(module)
        for name, short_help in commands.items():
            command = group.commands[name]
            own = (command.help or "").strip().splitlines()[0]
            assert own == short_help, f"{module}: {name}"
    listed = Everything(name="cartrial").list_commands(typer.Context(group))
    assert listed == [name for commands in COMMAND_MODULES.values() for name in commands]


def test_the_console_script_lists_every_command(tmp_path: Path) -> None:
    run = cartrial_process("--help", cwd=tmp_path)
    assert run.code == 0, run.output
    for commands in COMMAND_MODULES.values():
        for name in commands:
            assert f" {name} " in run.stdout
    assert cartrial_process("--version", cwd=tmp_path).stdout.startswith("cartrial ")
