"""The delayed progress bar: silent for short runs, shown with the remaining time after ~2 s."""

from __future__ import annotations

from cartrial.simulation.progress import PROGRESS_DELAY_S, DelayedProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_appears_only_after_the_delay_and_counts_every_unit() -> None:
    clock = FakeClock()
    with DelayedProgress("simulating boin", 1000, clock=clock) as bar:
        bar.advance(100)
        assert not bar.shown
        clock.now += PROGRESS_DELAY_S  # the run has now lasted 2 s
        bar.advance(100)
        assert bar.shown
        assert bar._bar is not None and bar._task is not None
        task = bar._bar.tasks[0]
        assert task.completed == 200 and task.total == 1000
        columns = [type(c).__name__ for c in bar._bar.columns]
        assert "TimeRemainingColumn" in columns and "TimeElapsedColumn" in columns
    assert bar.done == 200


def test_disabled_bar_never_shows() -> None:
    clock = FakeClock()
    bar = DelayedProgress("grid", 10, clock=clock, enabled=False)
    clock.now += 60
    bar.advance(5)
    assert not bar.shown and bar.done == 0
