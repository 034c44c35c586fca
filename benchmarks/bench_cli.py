"""Start-up time of the ``cartrial`` command, timed as whole processes (what a user waits for).

Each command runs ``--runs`` times (default 7) as ``python -m cartrial.cli ARGS`` in a fresh
interpreter; the table prints the median and the fastest wall-clock time and the median CPU time
(user + system of the child, which a busy machine inflates less than wall-clock time).

Usage::

    python benchmarks/bench_cli.py [--runs 7] [--python /path/to/python] [--before]

``--before`` passes ``--current 1`` (a 0-based index, as the CLI took before dose levels were
named) so that an older checkout on ``PYTHONPATH`` can be timed with the same commands.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The commands timed, with the target wall-clock time of each (seconds; issue 10).
COMMANDS: tuple[tuple[tuple[str, ...], float | None], ...] = (
    (("--version",), 0.3),
    (("--help",), 0.3),
    (("design", "next", "--n", "3,3,0,0", "--dlt", "0,1,0,0", "--current", "DL1"), 1.0),
    (("design", "--help"), None),
    (("protocol", "validate", "src/cartrial/protocols/cldn18-pdl1-cart.yaml"), None),
)


def time_command(python: str, args: tuple[str, ...], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one ``cartrial ARGS`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [python, "-m", "cartrial.cli", *args],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ | {"COLUMNS": "80"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--before", action="store_true", help="--current as a 0-based index")
    options = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    print(f"{options.runs} runs each, load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':<58} {'median s':>9} {'best s':>7} {'CPU s':>6} {'target':>7}")
    for named_args, target in COMMANDS:
        args = tuple("1" if a == "DL1" and options.before else a for a in named_args)
        time_command(options.python, args, root)  # warm the file-system cache
        runs = [time_command(options.python, args, root) for _ in range(options.runs)]
        walls = [wall for wall, _ in runs]
        cpus = [cpu for _, cpu in runs]
        shown = "cartrial " + " ".join(args)
        shown = shown if len(shown) <= 58 else shown[:55] + "..."
        goal = f"< {target:g}" if target is not None else ""
        print(
            f"{shown:<58} {statistics.median(walls):>9.3f} {min(walls):>7.3f} "
            f"{statistics.median(cpus):>6.3f} {goal:>7}"
        )


if __name__ == "__main__":
    main()
