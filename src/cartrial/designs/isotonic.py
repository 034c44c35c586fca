"""Isotonic regression (pool-adjacent-violators) and the BOIN-style MTD selection built on it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import check_target
from cartrial.errors import DesignError

__all__ = ["isotonic_mtd", "pava"]


def pava(
    values: Sequence[float] | npt.ArrayLike, weights: Sequence[float] | npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Weighted non-decreasing least-squares fit by the pool-adjacent-violators algorithm.

    Parameters
    ----------
    values
        Observations in dose order.
    weights
        Positive weights (BOIN: inverse variances).

    Returns
    -------
    numpy.ndarray
        The isotonic fit: adjacent blocks that violate monotonicity are pooled into their
        weighted mean until the sequence is non-decreasing (Barlow et al. 1972).
    """
    y = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if y.shape != w.shape or y.ndim != 1:
        raise DesignError("values and weights must be 1-D arrays of the same length")
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise DesignError("isotonic regression weights must be positive and finite")
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y.tolist(), w.tolist(), strict=True):
        means.append(value)
        totals.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w_new = totals[-2] + totals[-1]
            m_new = (means[-2] * totals[-2] + means[-1] * totals[-1]) / w_new
            size = sizes[-2] + sizes[-1]
            del means[-1], totals[-1], sizes[-1]
            means[-1], totals[-1], sizes[-1] = m_new, w_new, size
    return np.repeat(np.asarray(means), sizes)


def isotonic_mtd(
    n: npt.NDArray[np.int64],
    dlt: npt.NDArray[np.int64],
    target: float,
    eliminated: tuple[int, ...],
    below: float | None = None,
) -> tuple[int | None, npt.NDArray[np.float64]]:
    """Select the MTD as in the BOIN package ``select.mtd`` (Liu & Yuan 2015; Yuan et al. 2016).

    Among doses with patients that are not eliminated, estimates ``(y + 0.05)/(n + 0.1)`` with
    variances ``(y + 0.05)(n - y + 0.05)/((n + 0.1)^2 (n + 1.1))`` are made monotone by PAVA with
    weights ``1/variance``; the dose whose isotonic estimate is closest to the target is selected.
    Ties are broken as the package does, by adding ``j * 1e-10`` to the j-th (1-based) estimate:
    the higher dose when the tied estimate is below target, the lower when above. With ``below``
    (BOIN ``boundMTD``: ``lambda_d``), only doses whose isotonic estimate is below it qualify.

    Returns
    -------
    tuple
        The selected 0-based dose (``None`` if no dose qualifies) and the isotonic estimates per
        dose (``nan`` for doses not considered).
    """
    check_target(target)
    first_eliminated = min(eliminated) if eliminated else n.size
    considered = np.flatnonzero((n > 0) & (np.arange(n.size) < first_eliminated))
    estimates = np.full(n.size, np.nan)
    if considered.size == 0:
        return None, estimates
    y = dlt[considered].astype(float)
    m = n[considered].astype(float)
    raw = (y + 0.05) / (m + 0.1)
    variance = (y + 0.05) * (m - y + 0.05) / ((m + 0.1) ** 2 * (m + 1.1))
    fitted = pava(raw, 1.0 / variance)
    estimates[considered] = fitted
    perturbed = fitted + np.arange(1, fitted.size + 1) * 1e-10
    distance = np.abs(perturbed - target)
    if below is not None:
        distance[fitted >= below] = np.inf
        if np.all(np.isinf(distance)):
            return None, estimates
    chosen = int(np.argmin(distance))
    return int(considered[chosen]), estimates
