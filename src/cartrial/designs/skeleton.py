"""CRM skeletons from the indifference interval (Lee & Cheung 2009; dfcrm ``getprior``)."""

from __future__ import annotations

import math
from typing import Literal

from cartrial.designs.base import check_positive_int, check_target
from cartrial.errors import DesignError

__all__ = ["CRMModel", "get_skeleton"]

CRMModel = Literal["empiric", "logistic"]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def get_skeleton(
    halfwidth: float,
    target: float,
    prior_mtd: int,
    n_doses: int,
    model: CRMModel = "empiric",
    intercept: float = 3.0,
) -> tuple[float, ...]:
    """A CRM skeleton calibrated by the indifference interval ``target +/- halfwidth``.

    Lee & Cheung (2009), the algorithm of dfcrm ``getprior(halfwidth, target, nu, nlevel, model)``:
    the skeleton value at ``prior_mtd`` equals the target and consecutive doses are spaced so that
    each dose is the model-based MTD exactly on an interval of half-width ``halfwidth``.

    Parameters
    ----------
    halfwidth
        Half-width ``delta`` of the indifference interval (typically 0.04-0.08), ``< target``.
    target
        Target DLT rate.
    prior_mtd
        0-based dose believed a priori to be the MTD (dfcrm ``nu`` minus one).
    n_doses
        Number of dose levels.
    model
        ``"empiric"`` (power model) or ``"logistic"`` (one-parameter, fixed ``intercept``).
    intercept
        Logistic intercept ``a0`` (dfcrm default 3).

    Examples
    --------
    >>> [round(a, 4) for a in get_skeleton(0.05, 0.25, 2, 5)]
    [0.084, 0.1567, 0.25, 0.3545, 0.4603]
    """
    phi = check_target(target)
    n_doses = check_positive_int(n_doses, "n_doses")
    if not 0 <= prior_mtd < n_doses:
        raise DesignError(f"prior_mtd {prior_mtd} is out of range 0..{n_doses - 1}")
    if not 0 < halfwidth < min(phi, 1 - phi):
        raise DesignError(f"halfwidth must lie in (0, min(target, 1 - target)), got {halfwidth}")
    low, high = phi - halfwidth, phi + halfwidth
    if model == "empiric":
        scaled = [math.nan] * n_doses
        scaled[prior_mtd] = phi
        for k in range(prior_mtd, 0, -1):
            b = math.log(math.log(high) / math.log(scaled[k]))
            scaled[k - 1] = math.exp(math.log(low) / math.exp(b))
        for k in range(prior_mtd, n_doses - 1):
            b = math.log(math.log(low) / math.log(scaled[k]))
            scaled[k + 1] = math.exp(math.log(high) / math.exp(b))
        return tuple(scaled)
    if model == "logistic":
        if _logit(high) >= intercept:
            raise DesignError("logistic skeleton needs logit(target + halfwidth) < intercept")
        x = [math.nan] * n_doses
        x[prior_mtd] = _logit(phi) - intercept
        for k in range(prior_mtd, 0, -1):
            b = math.log((_logit(high) - intercept) / x[k])
            x[k - 1] = (_logit(low) - intercept) / math.exp(b)
        for k in range(prior_mtd, n_doses - 1):
            b = math.log((_logit(low) - intercept) / x[k])
            x[k + 1] = (_logit(high) - intercept) / math.exp(b)
        skeleton = [1 / (1 + math.exp(-intercept - xk)) for xk in x]
        skeleton[prior_mtd] = phi
        return tuple(skeleton)
    raise DesignError(f"model must be 'empiric' or 'logistic', got {model!r}")
