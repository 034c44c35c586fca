"""BOIN: the Bayesian optimal interval design (Liu & Yuan 2015; Yuan et al. 2016)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cartrial.designs.base import check_target
from cartrial.designs.interval import IntervalDesign, RuleCode
from cartrial.errors import DesignError

__all__ = ["BOIN", "boin_lambdas"]


def boin_lambdas(target: float, p_saf: float, p_tox: float) -> tuple[float, float]:
    """BOIN escalation and de-escalation boundaries ``(lambda_e, lambda_d)``.

    ``lambda_e = ln[(1 - p_saf)/(1 - target)] / ln[target (1 - p_saf) / (p_saf (1 - target))]`` and
    ``lambda_d = ln[(1 - target)/(1 - p_tox)] / ln[p_tox (1 - target) / (target (1 - p_tox))]``
    (Liu & Yuan 2015, eq. 2.2; BOIN package ``get.boundary``). At target 0.3 with the default
    ``p_saf = 0.6 target`` and ``p_tox = 1.4 target``: 0.2365 and 0.3585.
    """
    phi = check_target(target)
    phi1 = check_target(p_saf, "p_saf")
    phi2 = check_target(p_tox, "p_tox")
    if not phi1 < phi < phi2:
        raise DesignError(f"need p_saf < target < p_tox, got {phi1}, {phi}, {phi2}")
    lambda_e = math.log((1 - phi1) / (1 - phi)) / math.log(phi * (1 - phi1) / (phi1 * (1 - phi)))
    lambda_d = math.log((1 - phi) / (1 - phi2)) / math.log(phi2 * (1 - phi) / (phi * (1 - phi2)))
    return lambda_e, lambda_d


@dataclass(frozen=True, kw_only=True)
class BOIN(IntervalDesign):
    """The BOIN design.

    Escalate when the observed DLT rate at the current dose is ``<= lambda_e``, de-escalate when it
    is ``> lambda_d`` (count form: ``y <= floor(n lambda_e)`` and ``y >= floor(n lambda_d) + 1`` as
    in the BOIN package), otherwise stay. Elimination, stopping rules and the isotonic MTD
    selection are those of :class:`~cartrial.designs.interval.IntervalDesign`.

    Parameters
    ----------
    p_saf
        Highest DLT rate deemed sub-therapeutic; default ``0.6 * target``.
    p_tox
        Lowest DLT rate deemed overly toxic; default ``1.4 * target``.
    bound_mtd
        MTD selection: only doses whose isotonic DLT estimate is below ``lambda_d`` qualify
        (BOIN package ``boundMTD``); default False.
    **common
        ``target``, ``n_doses``, ``cohort_size``, ``n_cohorts``, ``start``, ``n_earlystop``,
        ``elimination_cutoff``, ``extrasafe``, ``offset`` (see ``IntervalDesign``).

    Examples
    --------
    >>> d = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    >>> d.decide(n=[3, 3, 0, 0, 0], dlt=[0, 1, 0, 0, 0], current=1).action
    'stay'
    """

    p_saf: float | None = None
    p_tox: float | None = None
    bound_mtd: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        boin_lambdas(self.target, *self.interval())

    def interval(self) -> tuple[float, float]:
        """``(p_saf, p_tox)`` in use: the given values or ``0.6``/``1.4`` times the target."""
        p_saf = 0.6 * self.target if self.p_saf is None else self.p_saf
        p_tox = 1.4 * self.target if self.p_tox is None else self.p_tox
        return p_saf, p_tox

    def lambdas(self) -> tuple[float, float]:
        """The boundaries ``(lambda_e, lambda_d)`` on the DLT-rate scale."""
        return boin_lambdas(self.target, *self.interval())

    def rule(self, n: int, y: int) -> RuleCode:
        """BOIN rule: ``E`` if ``y <= floor(n lambda_e)``, ``D`` if ``y > floor(n lambda_d)``."""
        lambda_e, lambda_d = self.lambdas()
        if y <= math.floor(n * lambda_e):
            return "E"
        if y >= math.floor(n * lambda_d) + 1:
            return "D"
        return "S"

    def _rule_reason(self, n: int, y: int, code: RuleCode) -> str:
        lambda_e, lambda_d = self.lambdas()
        rate = y / n
        if code == "E":
            return f"BOIN: observed DLT rate {y}/{n} = {rate:.3f} <= lambda_e = {lambda_e:.4f}"
        if code == "D":
            return f"BOIN: observed DLT rate {y}/{n} = {rate:.3f} > lambda_d = {lambda_d:.4f}"
        return (
            f"BOIN: observed DLT rate {y}/{n} = {rate:.3f} between lambda_e = {lambda_e:.4f} "
            f"and lambda_d = {lambda_d:.4f}"
        )

    def _rule_note(self) -> str:
        lambda_e, lambda_d = self.lambdas()
        p_saf, p_tox = self.interval()
        return (
            f"escalate if the observed DLT rate at the current dose is <= lambda_e = "
            f"{lambda_e:.4f}, de-escalate if it is > lambda_d = {lambda_d:.4f}, otherwise stay "
            f"(Liu & Yuan 2015 boundaries for target {self.target:g}, p_saf = {p_saf:g}, "
            f"p_tox = {p_tox:g}); in counts: escalate if DLTs <= floor(n lambda_e), "
            "de-escalate if DLTs >= floor(n lambda_d) + 1."
        )

    def mtd_bound(self) -> float | None:
        """``lambda_d`` when ``bound_mtd`` is set (BOIN ``boundMTD``), else ``None``."""
        return self.lambdas()[1] if self.bound_mtd else None
