"""Progress of long simulations: a bar with the remaining time, shown only for runs over ~2 s.

Short runs stay silent (a bar that flashes for 0.1 s is noise in a terminal log); once a run has
lasted ``delay_s`` seconds, a rich progress bar appears on standard error with the trials done, the
elapsed time and rich's estimate of the time remaining (from the recent speed). The same object
serves the single-design engine (advanced by trials) and the grid (advanced by trials of finished
tasks, locally or as Dask futures complete).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["PROGRESS_DELAY_S", "DelayedProgress"]

PROGRESS_DELAY_S = 2.0
"""Seconds a run must last before its progress bar appears."""


class DelayedProgress:
    """A progress bar over ``total`` units that appears once ``delay_s`` seconds have passed.

    Parameters
    ----------
    description
        Text left of the bar (e.g. ``"simulating boin"``).
    total
        Units of work (trials).
    delay_s
        Seconds before the bar is shown; ``0`` shows it at the first advance.
    clock
        Monotonic clock in seconds (injectable for tests).
    enabled
        ``False`` makes every call a no-op.
    """

    def __init__(
        self,
        description: str,
        total: int,
        *,
        delay_s: float = PROGRESS_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.description = description
        self.total = total
        self.delay_s = delay_s
        self.clock = clock
        self.enabled = enabled
        self.done = 0
        self._start = clock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    @property
    def shown(self) -> bool:
        """Whether the bar has appeared."""
        return self._bar is not None

    def advance(self, units: int) -> None:
        """Record ``units`` more done; show the bar once the run has lasted ``delay_s``."""
        if not self.enabled:
            return
        self.done += units
        if self._bar is None and self.clock() - self._start >= self.delay_s:
            self._show()
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("remaining"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.done)

    def __enter__(self) -> DelayedProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
