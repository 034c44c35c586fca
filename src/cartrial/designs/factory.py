"""Build a design from its protocol name and keyword parameters."""

from __future__ import annotations

from collections.abc import Callable

from cartrial.designs.base import Design
from cartrial.designs.boin import BOIN
from cartrial.designs.crm import CRM, TITECRM
from cartrial.designs.i3plus3 import I3Plus3
from cartrial.designs.keyboard import Keyboard
from cartrial.designs.mtpi2 import MTPI2
from cartrial.designs.table import DecisionTableDesign
from cartrial.designs.three_plus_three import ThreePlusThree
from cartrial.designs.tite_boin import TITEBOIN
from cartrial.errors import DesignError

__all__ = ["DESIGN_NAMES", "make_design"]

_DESIGNS: dict[str, Callable[..., Design]] = {
    "3+3": ThreePlusThree,
    "boin": BOIN,
    "tite-boin": TITEBOIN,
    "crm": CRM,
    "tite-crm": TITECRM,
    "mtpi2": MTPI2,
    "keyboard": Keyboard,
    "i3+3": I3Plus3,
    "table": DecisionTableDesign,
}

DESIGN_NAMES: tuple[str, ...] = tuple(_DESIGNS)
"""The protocol names of the designs ``make_design`` knows."""


def make_design(name: str, *, n_doses: int, **params: object) -> Design:
    """The design called ``name`` (a protocol ``escalation.design.name``) with ``params``.

    Lists in ``params`` (e.g. a CRM skeleton read from YAML) are passed on as tuples.

    Raises
    ------
    DesignError
        For an unknown design name, an unknown parameter or an invalid value.
    """
    key = name.strip().lower()
    if key not in _DESIGNS:
        raise DesignError(f"unknown design {name!r}; choose one of {', '.join(DESIGN_NAMES)}")
    cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        return _DESIGNS[key](n_doses=n_doses, **cleaned)
    except TypeError as exc:
        raise DesignError(f"design {name!r}: {exc}") from exc
