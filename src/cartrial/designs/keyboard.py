"""The Keyboard design (Yan, Mandrekar & Yuan 2017)."""

from __future__ import annotations

from dataclasses import dataclass

from cartrial.designs.intervals import EqualWidthIntervalDesign

__all__ = ["Keyboard"]


@dataclass(frozen=True, kw_only=True)
class Keyboard(EqualWidthIntervalDesign):
    """Keyboard: escalate, stay or de-escalate by the strongest key.

    Keys of width ``eps1 + eps2`` tile [0, 1] around the target key
    ``[target - eps1, target + eps2]``; the key with the largest posterior probability under
    Beta(1 + y, 1 + n - y) decides: left of the target key escalate, the target key stay, right
    de-escalate. Elimination, stopping and isotonic MTD selection as for BOIN.

    Parameters
    ----------
    eps1, eps2
        Half-widths of the target key below and above the target (default 0.05).
    partial
        ``"include"`` (default, as the Keyboard package ``get.boundary.kb``): the remainders at 0
        and 1 narrower than a key are kept as incomplete keys whose probability is compensated by
        ``key width / own width`` (all complete keys share one width, so keys rank by probability
        per unit width). ``"drop"`` ignores the remainders (the "full keys only" variant; with
        ``eps1 = eps2 = 0.05`` it decides identically for targets 0.2-0.4, but, e.g., at target
        0.2 with ``eps1 = 0.1`` no key is left below the target key, so it never escalates).
    **common
        See :class:`~cartrial.designs.interval.IntervalDesign`.
    """

    @property
    def per_unit_width(self) -> bool:
        """Keys rank by probability per unit width only when incomplete keys are kept."""
        return self.partial == "include"
