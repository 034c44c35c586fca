"""TITE-CRM weights of pending patients: linear or adaptive (Cheung & Chappell 2000).

A pending patient (no DLT yet, DLT window still open) who has been followed for the fraction
``u`` of the window enters the TITE-CRM likelihood as ``1 - w p_dose(beta)``. Two weight
functions, as R dfcrm's ``titecrm(..., scheme=)`` defines them:

* ``"linear"``: ``w = u``;
* ``"adaptive"``: with the ``z`` DLTs observed so far at followed fractions
  ``s_1 <= ... <= s_z`` (every dose; ``s_0 = 0``, ``s_(z+1) = 1``, the end of the window) and
  ``m`` of them at or before ``u``, ``w = (m + (u - s_m) / (s_(m+1) - s_m)) / (z + 1)``, capped
  at 1: the empirical distribution of the DLT times, linearly interpolated, so that a patient
  followed past the usual DLT times counts almost as a complete one. Without any DLT the weight
  is linear. (dfcrm 0.2-2.1, ``titecrm``: ``support <- sort(followup[tox==1])``; its three cases
  ``m = 0``, ``m = z`` and otherwise are this one formula in units of the window.)

DLT and completed patients weigh 1 (their term is ``p`` or ``1 - p``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from cartrial.errors import DesignError

__all__ = ["WEIGHT_SCHEMES", "WeightScheme", "adaptive_weights", "pending_weights"]

FloatArray = npt.NDArray[np.float64]

WeightScheme = Literal["linear", "adaptive"]
WEIGHT_SCHEMES: tuple[WeightScheme, ...] = ("linear", "adaptive")
"""The TITE-CRM weight schemes (dfcrm ``scheme``)."""


def adaptive_weights(followed: FloatArray, dlt_onsets: FloatArray) -> FloatArray:
    """Adaptive weights of pending patients, one row per trial.

    Parameters
    ----------
    followed
        ``(n_trials, k)``: followed fraction of the window of each pending patient (any value
        in an unused slot; its weight is ignored by the caller).
    dlt_onsets
        ``(n_trials, s)``: followed fraction at which each observed DLT occurred, ``inf`` in
        unused slots (any order).

    Returns
    -------
    numpy.ndarray
        ``(n_trials, k)`` weights in [0, 1].
    """
    followed = np.asarray(followed, dtype=np.float64)
    support = np.sort(np.asarray(dlt_onsets, dtype=np.float64), axis=1)
    rows = np.arange(followed.shape[0])
    z = np.isfinite(support).sum(axis=1)
    # padded[:, 0] = 0, padded[:, 1..z] = the DLT times, padded[:, z + 1] = 1 (window end)
    padded = np.concatenate(
        [np.zeros((rows.size, 1)), support, np.full((rows.size, 1), np.inf)], axis=1
    )
    padded[rows, z + 1] = 1.0
    m = (support[:, None, :] <= followed[:, :, None]).sum(axis=2)
    lower = np.take_along_axis(padded, m, axis=1)
    upper = np.take_along_axis(padded, m + 1, axis=1)
    weights = (m + (followed - lower) / (upper - lower)) / (z + 1)[:, None]
    return np.asarray(np.minimum(weights, 1.0), dtype=np.float64)


def pending_weights(
    scheme: WeightScheme, followed: FloatArray, dlt_onsets: FloatArray | None
) -> FloatArray:
    """Weights of one trial's pending patients under ``scheme`` (1-D ``followed``)."""
    followed = np.asarray(followed, dtype=np.float64)
    if scheme == "linear" or (followed.size == 0 and dlt_onsets is None):
        return followed  # without pending patients there is nothing to weigh
    if dlt_onsets is None:
        raise DesignError(
            "adaptive TITE-CRM weights need the followed fraction at which each observed DLT "
            "occurred (dlt_followup)"
        )
    onsets = np.asarray(dlt_onsets, dtype=np.float64).reshape(1, -1)
    if np.any(~np.isfinite(onsets)) or np.any((onsets <= 0) | (onsets > 1)):
        raise DesignError("dlt_followup values must lie in (0, 1] (fractions of the DLT window)")
    return adaptive_weights(followed.reshape(1, -1), onsets)[0]
