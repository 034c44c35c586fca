"""Dose-finding designs as pure decision functions.

Every design has the same public shape: a frozen object that stores its validated parameters,
``boundaries()`` (the decision table), ``decide(n, dlt, current)`` (a :class:`Decision`) and
``select_mtd(n, dlt)``. The order in which stopping, elimination and no-skip rules apply is written
down in :mod:`cartrial.designs.base`.
"""

from __future__ import annotations

from cartrial.designs.base import ACTIONS, Action, Decision, Design, PendingPatient
from cartrial.designs.boin import BOIN, boin_lambdas
from cartrial.designs.crm import CRM, TITECRM, CRMPosterior
from cartrial.designs.factory import DESIGN_NAMES, make_design
from cartrial.designs.i3plus3 import I3Plus3
from cartrial.designs.interval import IntervalDesign
from cartrial.designs.keyboard import Keyboard
from cartrial.designs.mtpi2 import MTPI2
from cartrial.designs.skeleton import get_skeleton
from cartrial.designs.table import DecisionTableDesign
from cartrial.designs.three_plus_three import ThreePlusThree
from cartrial.designs.tite_boin import TITEBOIN

__all__ = [
    "ACTIONS",
    "BOIN",
    "CRM",
    "DESIGN_NAMES",
    "MTPI2",
    "TITEBOIN",
    "TITECRM",
    "Action",
    "CRMPosterior",
    "Decision",
    "DecisionTableDesign",
    "Design",
    "I3Plus3",
    "IntervalDesign",
    "Keyboard",
    "PendingPatient",
    "ThreePlusThree",
    "boin_lambdas",
    "get_skeleton",
    "make_design",
]
