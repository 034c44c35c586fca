"""The one registry of dose-escalation designs: protocol name <-> design class.

The names are the vocabulary :data:`cartrial.vocab.DESIGN_NAMES` (what a protocol's
``escalation.design.name`` may say); this module maps each to its class. What a design can do is a
flag on its class (:func:`~cartrial.designs.base.is_time_to_event`,
:func:`~cartrial.designs.base.takes_last_cohort`), never read from its name or its signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

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
from cartrial.vocab import DESIGN_NAMES, DesignName

__all__ = [
    "DESIGN_CLASSES",
    "design_class",
    "design_name",
    "is_time_to_event_name",
    "make_design",
]

DESIGN_CLASSES: Mapping[DesignName, Callable[..., Design]] = MappingProxyType(
    {
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
)
"""Design class of each protocol name, in :data:`cartrial.vocab.DESIGN_NAMES` order."""

_NAMES: Mapping[object, DesignName] = {cls: name for name, cls in DESIGN_CLASSES.items()}


def design_class(name: str) -> Callable[..., Design]:
    """The class of the design called ``name`` (case and surrounding blanks ignored).

    Raises
    ------
    DesignError
        For a name not in :data:`cartrial.vocab.DESIGN_NAMES`.
    """
    key = name.strip().lower()
    for known, cls in DESIGN_CLASSES.items():
        if known == key:
            return cls
    raise DesignError(f"unknown design {name!r}; choose one of {', '.join(DESIGN_NAMES)}")


def design_name(design: Design) -> str:
    """The protocol name of ``design`` (``"boin"``, ``"3+3"``, ...; else its class name)."""
    return _NAMES.get(type(design), type(design).__name__.lower())


def is_time_to_event_name(name: str) -> bool:
    """Whether the design called ``name`` is a time-to-event design (its class flag).

    Decisions of such a design count patients still inside their DLT window, so a cohort need not
    wait for every window to close.
    """
    return getattr(design_class(name), "time_to_event", False) is True


def make_design(name: str, *, n_doses: int, **params: object) -> Design:
    """The design called ``name`` (a protocol ``escalation.design.name``) with ``params``.

    Lists in ``params`` (e.g. a CRM skeleton read from YAML) are passed on as tuples.

    Raises
    ------
    DesignError
        For an unknown design name, an unknown parameter or an invalid value.
    """
    cls = design_class(name)
    cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        return cls(n_doses=n_doses, **cleaned)
    except TypeError as exc:
        raise DesignError(f"design {name!r}: {exc}") from exc
