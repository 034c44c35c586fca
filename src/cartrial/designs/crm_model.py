"""CRM dose-toxicity models and their posterior by numerical integration.

One-parameter models on a skeleton ``alpha_1 < ... < alpha_J``:

* empiric (power): ``p_j(beta) = alpha_j ** exp(beta)``;
* logistic: ``logit p_j(beta) = a0 + exp(beta) x_j`` with ``x_j = logit(alpha_j) - a0`` (a0 = 3).

Prior ``beta ~ N(0, prior_var)`` (dfcrm default 1.34). The posterior is integrated on a fixed grid
of ``beta`` (composite Simpson rule over ``+/- 12`` prior standard deviations, 2001 points);
``p_hat_j = p_j(posterior mean of beta)`` as in dfcrm (O'Quigley, Pepe & Fisher 1990; Cheung &
Chappell 2000 for the TITE weights). The posterior variance of ``beta`` and the credible interval
of each ``p_j`` follow dfcrm's ``crm()``: ``beta_hat -/+ z sd`` with ``z = qnorm(0.5 + level/2)``
mapped through the model (``ptoxL = p_j(beta_hat + z sd)``, ``ptoxU = p_j(beta_hat - z sd)``, since
``p_j`` decreases in ``beta``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from cartrial.designs.skeleton import CRMModel

__all__ = ["CRMPosterior", "ModelOptions", "crm_beta_variance", "crm_posterior", "dose_curve"]

_GRID_POINTS = 2001
_GRID_HALF_WIDTH_SD = 12.0


@dataclass(frozen=True)
class CRMPosterior:
    """Posterior summary of a CRM fit.

    Attributes
    ----------
    beta_mean
        Posterior mean of the model parameter ``beta``.
    p_hat
        Plug-in DLT probability per dose, ``p_j(beta_mean)``.
    prob_overdose
        ``Pr(p_j > target | data)`` per dose.
    beta_var
        Posterior variance of ``beta`` (dfcrm ``post.var``).
    p_lower, p_upper
        Credible interval of each DLT probability at ``conf_level`` (dfcrm ``ptoxL``/``ptoxU``).
    conf_level
        Level of that interval (dfcrm ``conf.level``, default 0.90).
    """

    beta_mean: float
    p_hat: tuple[float, ...]
    prob_overdose: tuple[float, ...]
    beta_var: float = float("nan")
    p_lower: tuple[float, ...] = ()
    p_upper: tuple[float, ...] = ()
    conf_level: float = 0.9


class ModelOptions(TypedDict, total=False):
    """The keyword arguments :func:`crm_posterior` and :func:`crm_beta_variance` share."""

    model: CRMModel
    intercept: float
    prior_var: float
    pending_dose: npt.ArrayLike | None
    pending_weight: npt.ArrayLike | None


def _log_p(
    beta: npt.NDArray[np.float64], skeleton: npt.NDArray[np.float64], model: CRMModel, a0: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``log p_j(beta)`` and ``log(1 - p_j(beta))`` on a grid: arrays of shape (grid, dose)."""
    scale = np.exp(beta)[:, None]
    if model == "empiric":
        log_p = scale * np.log(skeleton)[None, :]
        return log_p, np.log(-np.expm1(log_p))
    eta = a0 + scale * (np.log(skeleton / (1 - skeleton)) - a0)[None, :]
    return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)


def _overdose_thresholds(
    skeleton: npt.NDArray[np.float64], target: float, model: CRMModel, a0: float
) -> npt.NDArray[np.float64]:
    """``b_j`` with ``p_j(beta) > target`` exactly when ``beta < b_j`` (p_j decreases in beta)."""
    if model == "empiric":
        return np.asarray(np.log(np.log(target) / np.log(skeleton)), float)
    x = np.log(skeleton / (1 - skeleton)) - a0
    return np.asarray(np.log((np.log(target / (1 - target)) - a0) / x), float)


def _log_posterior(
    beta: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    nt: npt.NDArray[np.float64],
    doses: npt.NDArray[np.int64] | None,
    weights: npt.NDArray[np.float64] | None,
    model: CRMModel,
    a0: float,
    prior_var: float,
) -> npt.NDArray[np.float64]:
    """Unnormalised log posterior of ``beta`` (points on the last axis, trials on the leading)."""
    log_p, log_q = _log_p(beta, alpha, model, a0)
    counts = np.concatenate([y, nt], axis=-1)  # one product for DLTs and non-DLTs
    value = counts @ np.concatenate([log_p, log_q], axis=1).T - beta**2 / (2 * prior_var)
    if doses is not None and weights is not None and doses.size:
        # Pending patients: log prod_i (1 - w_i p_{d_i}(beta)), one logarithm per point
        # (the factors lie in (0, 1], a product of a few of them cannot underflow).
        curve = np.exp(log_p).T  # (dose, points)
        product = 1.0 - weights[..., 0, None] * curve[doses[..., 0]]
        for j in range(1, doses.shape[-1]):
            product *= 1.0 - weights[..., j, None] * curve[doses[..., j]]
        value = value + np.log(product)
    return np.asarray(value, float)


def dose_curve(
    beta: npt.ArrayLike, skeleton: Sequence[float] | npt.ArrayLike, model: CRMModel, a0: float
) -> npt.NDArray[np.float64]:
    """``p_j(beta)`` for every ``beta`` given (leading axes) and dose (last axis)."""
    flat = np.atleast_1d(np.asarray(beta, dtype=float)).ravel()
    alpha = np.asarray(skeleton, dtype=float)
    curve = np.exp(_log_p(flat, alpha, model, a0)[0])
    return np.asarray(curve.reshape((*np.shape(beta), alpha.size)), float)


def crm_posterior(
    skeleton: Sequence[float] | npt.ArrayLike,
    target: float,
    dlt: npt.ArrayLike,
    no_dlt_weight: npt.ArrayLike,
    *,
    model: CRMModel = "empiric",
    intercept: float = 3.0,
    prior_var: float = 1.34,
    pending_dose: npt.ArrayLike | None = None,
    pending_weight: npt.ArrayLike | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Posterior of the CRM parameter for one trial or a batch of trials (leading axes).

    Parameters
    ----------
    skeleton
        Prior DLT probabilities per dose, increasing, in (0, 1).
    target
        Target DLT rate (for ``Pr(p_j > target)``).
    dlt
        DLTs per dose, shape (..., J).
    no_dlt_weight
        Patients without DLT and complete follow-up per dose, shape (..., J).
    model, intercept, prior_var
        Dose-toxicity model, logistic intercept, prior variance of ``beta``.
    pending_dose, pending_weight
        TITE-CRM: dose and weight ``w`` of each pending patient, shape (..., P); weight 0 pads.

    Returns
    -------
    tuple of numpy.ndarray
        Posterior mean of ``beta`` (...,), ``p_hat`` (..., J) and ``Pr(p_j > target)`` (..., J);
        :func:`crm_beta_variance` gives the posterior variance on the same grid.
    """
    alpha = np.asarray(skeleton, dtype=float)
    y = np.asarray(dlt, dtype=float)
    nt = np.asarray(no_dlt_weight, dtype=float)
    doses = None if pending_dose is None else np.asarray(pending_dose, dtype=np.int64)
    weights = None if pending_weight is None else np.asarray(pending_weight, dtype=float)

    def log_posterior(beta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return _log_posterior(beta, alpha, y, nt, doses, weights, model, intercept, prior_var)

    sd = float(np.sqrt(prior_var))
    grid = np.linspace(-_GRID_HALF_WIDTH_SD * sd, _GRID_HALF_WIDTH_SD * sd, _GRID_POINTS)
    h = grid[1] - grid[0]
    log_grid = log_posterior(grid)
    peak = log_grid.max(axis=-1, keepdims=True)
    density = np.exp(log_grid - peak)
    # Composite Simpson weights: over the whole grid, and from its start to each dose's cut.
    simpson = np.ones(_GRID_POINTS)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    simpson *= h / 3
    total = density @ simpson
    beta_mean = density @ (grid * simpson) / total
    p_hat = dose_curve(beta_mean, alpha, model, intercept)
    # Pr(beta < b_j): Simpson up to the even node below b_j plus Simpson on the remainder.
    cuts = np.clip(_overdose_thresholds(alpha, target, model, intercept), grid[0], grid[-1])
    node = np.minimum(np.floor((cuts - grid[0]) / (2 * h)).astype(np.int64), _GRID_POINTS // 2)
    start = grid[0] + 2 * h * node
    up_to_cut = np.zeros((_GRID_POINTS, alpha.size))
    for j, end_node in enumerate(2 * node):
        if end_node > 0:
            up_to_cut[: end_node + 1, j] = simpson[: end_node + 1]
            up_to_cut[end_node, j] = h / 3
    extra = np.exp(log_posterior(np.concatenate([(start + cuts) / 2, cuts])) - peak)
    middle, end = extra[..., : alpha.size], extra[..., alpha.size :]
    remainder = (cuts - start) / 6 * (density[..., 2 * node] + 4 * middle + end)
    prob_overdose = np.clip((density @ up_to_cut + remainder) / total[..., None], 0.0, 1.0)
    return np.asarray(beta_mean, float), np.asarray(p_hat, float), np.asarray(prob_overdose, float)


def crm_beta_variance(
    skeleton: Sequence[float] | npt.ArrayLike,
    dlt: npt.ArrayLike,
    no_dlt_weight: npt.ArrayLike,
    *,
    model: CRMModel = "empiric",
    intercept: float = 3.0,
    prior_var: float = 1.34,
    pending_dose: npt.ArrayLike | None = None,
    pending_weight: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float64]:
    """Posterior variance of ``beta`` (dfcrm ``post.var = E[beta^2] - E[beta]^2``), same grid.

    Arguments as for :func:`crm_posterior` (one trial or a batch on the leading axes).
    """
    alpha = np.asarray(skeleton, dtype=float)
    y = np.asarray(dlt, dtype=float)
    nt = np.asarray(no_dlt_weight, dtype=float)
    doses = None if pending_dose is None else np.asarray(pending_dose, dtype=np.int64)
    weights = None if pending_weight is None else np.asarray(pending_weight, dtype=float)
    sd = float(np.sqrt(prior_var))
    grid = np.linspace(-_GRID_HALF_WIDTH_SD * sd, _GRID_HALF_WIDTH_SD * sd, _GRID_POINTS)
    value = _log_posterior(grid, alpha, y, nt, doses, weights, model, intercept, prior_var)
    density = np.exp(value - value.max(axis=-1, keepdims=True))
    simpson = np.ones(_GRID_POINTS)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    step = (grid[1] - grid[0]) * simpson / 3
    total = density @ step
    mean = (density * grid) @ step / total
    second = (density * grid**2) @ step / total
    return np.asarray(np.maximum(second - mean**2, 0.0), float)
