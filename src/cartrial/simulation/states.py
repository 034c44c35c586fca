"""Distinct simulation states: many trials share the same patients and DLTs per dose."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["unique_rows"]

IntArray = npt.NDArray[np.int64]


def unique_rows(rows: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct rows of a small non-negative integer matrix and the inverse index.

    Rows are packed into one ``int64`` key each (mixed radix) when that fits, which makes
    ``numpy.unique`` fast; otherwise they are compared as raw bytes.

    Returns
    -------
    tuple
        ``(first, inverse)``: the index of one row per distinct value and, per row, the position
        of its value among the distinct ones (so ``rows[first][inverse]`` equals ``rows``).
    """
    width = rows.shape[1]
    radix = int(rows.max(initial=0)) + 1
    if width * math.log2(radix) < 62:
        keys = np.zeros(rows.shape[0], dtype=np.int64)
        for column in range(width):
            keys = keys * radix + rows[:, column]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    else:
        packed = np.ascontiguousarray(rows.astype(np.int32))
        raw = packed.view(np.dtype((np.void, 4 * width))).ravel()
        _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)
