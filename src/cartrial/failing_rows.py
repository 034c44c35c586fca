"""Find every row a whole-table check rejects, when the check stops at the first bad row.

The rule engines check a table at once (vectorised) and raise on the first bad row. To report
every bad row in one pass without checking row by row (slow on large tables), the rows are
bisected: a half that passes is clean, a half that fails is split again, so ``k`` bad rows among
``n`` cost about ``2 k log2(n)`` checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["failing_rows", "without_row_prefix"]

E = TypeVar("E", bound=Exception)


def failing_rows(
    positions: Sequence[int], check: Callable[[list[int]], object], error: type[E]
) -> list[tuple[int, E]]:
    """The positions whose row alone fails ``check``, each with its error, in order.

    Parameters
    ----------
    positions
        Row positions to check (e.g. ``range(len(table))``).
    check
        Checks the rows at the given positions; raises ``error`` on a bad one.
    error
        The exception type that marks a bad row (any other propagates).

    Returns
    -------
    list
        ``(position, error)`` of every row that fails on its own. Empty when every single row
        passes although the whole table does not (an error between rows): the caller then reports
        the table's own error.
    """
    found: list[tuple[int, E]] = []
    pending = [list(positions)]
    while pending:
        part = pending.pop()
        if not part:
            continue
        try:
            check(part)
            continue
        except error as exc:
            if len(part) == 1:
                found.append((part[0], exc))
                continue
        half = len(part) // 2
        pending.extend((part[half:], part[:half]))
    return sorted(found, key=lambda item: item[0])


def without_row_prefix(message: str) -> str:
    """A rule engine's message without its own ``row N:`` prefix (the caller names the line)."""
    if message.startswith("row "):
        _head, sep, rest = message.partition(": ")
        if sep:
            return rest
    return message
