"""Reproducible random numbers for simulated trials, independent of chunking and backend.

Trials are grouped in fixed blocks of :data:`RNG_BLOCK_TRIALS`; block ``b`` of a run seeded with
``seed`` draws from its own :class:`numpy.random.Generator` built on
``SeedSequence(seed, spawn_key=(b, stream))`` (the same child that ``SeedSequence(seed).spawn``
yields), with one independent stream per source of randomness (DLT outcomes, DLT onset times,
inter-arrival times, expansion patients). Every trial therefore receives the same numbers whatever
the chunk size, the number of trials requested after it, or the machine that simulates it.

Draws are uniform on [0, 1) and per *patient slot*: slot ``k`` of a trial is the ``k``-th patient
enrolled. A patient in slot ``k`` treated at dose ``d`` has a DLT when ``tox[k] < true_tox[d]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RNG_BLOCK_TRIALS", "STREAMS", "PatientDraws", "draw_patients"]

RNG_BLOCK_TRIALS = 2048
"""Trials per random-number block; chunks are whole numbers of blocks."""

STREAMS = ("tox", "onset", "arrival", "expansion_tox", "expansion_arrival", "backfill_tox")
"""Names of the independent random streams, in their fixed spawn order."""


@dataclass(frozen=True)
class PatientDraws:
    """Uniform draws for a contiguous range of trials, one row per trial, one column per slot.

    Attributes
    ----------
    tox, onset, arrival
        Shape ``(n_trials, n_slots)``: DLT outcome, DLT onset time within the window and
        inter-arrival time of each escalation patient (``onset`` and ``arrival`` are empty with
        zero columns when not requested).
    expansion_tox, expansion_arrival
        Shape ``(n_trials, n_expansion_slots)``, the same for expansion patients.
    backfill_tox
        Shape ``(n_trials, n_backfill_slots)``: DLT outcomes of backfill patients.
    """

    tox: npt.NDArray[np.float64]
    onset: npt.NDArray[np.float64]
    arrival: npt.NDArray[np.float64]
    expansion_tox: npt.NDArray[np.float64]
    expansion_arrival: npt.NDArray[np.float64]
    backfill_tox: npt.NDArray[np.float64]


def _block_stream(
    seed: int, block: int, stream: str, rows: int, cols: int
) -> npt.NDArray[np.float64]:
    if cols == 0:
        return np.empty((rows, 0))
    seq = np.random.SeedSequence(seed, spawn_key=(block, STREAMS.index(stream)))
    return np.random.Generator(np.random.PCG64(seq)).random((rows, cols))


def draw_patients(
    seed: int,
    start: int,
    stop: int,
    *,
    n_slots: int,
    n_expansion_slots: int = 0,
    n_backfill_slots: int = 0,
    onset: bool = False,
    arrival: bool = False,
) -> PatientDraws:
    """Draw the uniforms of trials ``start`` to ``stop - 1`` of a run seeded with ``seed``.

    ``start`` must be a multiple of :data:`RNG_BLOCK_TRIALS`. The numbers of a trial do not
    depend on ``start``/``stop`` (only on ``seed``, the trial's index and the slot counts).
    """
    if start % RNG_BLOCK_TRIALS:
        raise ValueError(f"start must be a multiple of {RNG_BLOCK_TRIALS}, got {start}")
    columns = {
        "tox": n_slots,
        "onset": n_slots if onset else 0,
        "arrival": n_slots if arrival else 0,
        "expansion_tox": n_expansion_slots,
        "expansion_arrival": n_expansion_slots if arrival else 0,
        "backfill_tox": n_backfill_slots,
    }
    parts: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in STREAMS}
    for first in range(start, stop, RNG_BLOCK_TRIALS):
        rows = min(RNG_BLOCK_TRIALS, stop - first)
        block = first // RNG_BLOCK_TRIALS
        for name in STREAMS:
            parts[name].append(_block_stream(seed, block, name, rows, columns[name]))
    stacked = {
        name: np.concatenate(chunks) if chunks else np.empty((0, columns[name]))
        for name, chunks in parts.items()
    }
    return PatientDraws(**stacked)
