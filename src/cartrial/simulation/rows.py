"""Reductions along the short last axis of ``(n_trials, k)`` arrays, without numpy's slow path.

numpy reduces along a short contiguous last axis (``x.sum(axis=1)`` with ``k`` of 3-10 patient
slots or dose levels) one row at a time, which costs several times more than the arithmetic
across rows. These helpers give the same integers by working column by column (``k`` vectorised
passes over all trials) or by a matrix-vector product of 8-bit flags. Only exact (integer or
boolean) results are computed here, except :func:`sum_in_slot_order`, which fixes the order of
a float sum (left to right).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["count_true", "first_true", "row_min", "row_sum", "sum_in_slot_order"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def count_true(flags: BoolArray) -> IntArray:
    """Number of ``True`` per row (``flags.sum(axis=1)``), as ``int64``.

    Rows are at most 255 wide (the 8-bit product is exact below that).
    """
    width = flags.shape[1]
    if width > 255:
        return np.asarray(flags.sum(axis=1), dtype=np.int64)
    ones = np.ones(width, dtype=np.uint8)
    return (np.ascontiguousarray(flags).view(np.uint8) @ ones).astype(np.int64)


def first_true(flags: BoolArray) -> IntArray:
    """Column of the first ``True`` per row, ``flags.shape[1]`` where a row has none."""
    width = flags.shape[1]
    first = np.full(flags.shape[0], width, dtype=np.int64)
    for column in range(width - 1, -1, -1):
        np.putmask(first, flags[:, column], column)
    return first


def row_sum(values: IntArray) -> IntArray:
    """Integer sum per row (``values.sum(axis=1)``), exact."""
    total = values[:, 0].astype(np.int64)
    for column in range(1, values.shape[1]):
        total += values[:, column]
    return total


def row_min(values: FloatArray) -> FloatArray:
    """Minimum per row (``values.min(axis=1)``; exact, ``inf`` for an empty row)."""
    least = np.full(values.shape[0], np.inf)
    for column in range(values.shape[1]):
        np.minimum(least, values[:, column], out=least)
    return least


def sum_in_slot_order(values: FloatArray) -> FloatArray:
    """Float sum per row, added left to right (slot order).

    For rows of up to 7 values this is also the order of ``numpy.sum`` on one row (its pairwise
    summation adds short runs one by one), so a design summing its own patients agrees to the
    last bit.
    """
    total = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        total += values[:, column]
    return total
