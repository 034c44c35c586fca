"""Dose-finding designs as pure decision functions.

Every design has the same public shape: a frozen object that stores its validated parameters,
``boundaries()`` (the decision table), ``decide(n, dlt, current)`` (a :class:`Decision`) and
``select_mtd(n, dlt)``. The order in which stopping, elimination and no-skip rules apply is written
down in :mod:`cartrial.designs.base`.
"""

from __future__ import annotations

from cartrial.designs.base import (
    ACTIONS,
    Action,
    Decision,
    Design,
    DLTOnsetDesign,
    LastCohortDesign,
    PendingPatient,
    TimeToEventDesign,
    TimeToEventLastCohortDesign,
    is_time_to_event,
    needs_dlt_followup,
    takes_last_cohort,
)
from cartrial.designs.boin import BOIN, boin_lambdas
from cartrial.designs.crm import CRM, TITECRM, CRMPosterior
from cartrial.designs.i3plus3 import I3Plus3
from cartrial.designs.interval import IntervalDesign
from cartrial.designs.keyboard import Keyboard
from cartrial.designs.mtpi2 import MTPI2
from cartrial.designs.registry import (
    DESIGN_CLASSES,
    design_class,
    design_name,
    is_time_to_event_name,
    make_design,
)
from cartrial.designs.skeleton import get_skeleton
from cartrial.designs.table import DecisionTableDesign
from cartrial.designs.three_plus_three import ThreePlusThree
from cartrial.designs.tite_boin import TITEBOIN
from cartrial.vocab import DESIGN_NAMES

__all__ = [
    "ACTIONS",
    "BOIN",
    "CRM",
    "DESIGN_CLASSES",
    "DESIGN_NAMES",
    "MTPI2",
    "TITEBOIN",
    "TITECRM",
    "Action",
    "CRMPosterior",
    "DLTOnsetDesign",
    "Decision",
    "DecisionTableDesign",
    "Design",
    "I3Plus3",
    "IntervalDesign",
    "Keyboard",
    "LastCohortDesign",
    "PendingPatient",
    "ThreePlusThree",
    "TimeToEventDesign",
    "TimeToEventLastCohortDesign",
    "boin_lambdas",
    "design_class",
    "design_name",
    "get_skeleton",
    "is_time_to_event",
    "is_time_to_event_name",
    "make_design",
    "needs_dlt_followup",
    "takes_last_cohort",
]
