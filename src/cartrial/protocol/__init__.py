"""The study definition as data: pydantic models and the protocol YAML files.

>>> from cartrial.protocol import load_protocol
>>> p = load_protocol()            # the packaged CLDN18.2/PD-L1 CAR-T study
>>> [d.name for d in p.dose_levels]
['DL-1', 'DL1', 'DL2', 'DL3']
"""

from __future__ import annotations

from cartrial.protocol.checks import DataChecks
from cartrial.protocol.dlt import DLTCriterion, DLTDefinition, DLTExclusion
from cartrial.protocol.endpoints import Endpoint, Population, RecistSettings, ToxicityGrading
from cartrial.protocol.loader import default_protocol_path, load_protocol, parse_protocol
from cartrial.protocol.models import Protocol, consistency_issues
from cartrial.protocol.phases import DesignSpec, Escalation, Expansion
from cartrial.protocol.schedule import Schedule, Visit
from cartrial.protocol.study import DoseLevel, Eligibility, Study, Treatment

__all__ = [
    "DLTCriterion",
    "DLTDefinition",
    "DLTExclusion",
    "DataChecks",
    "DesignSpec",
    "DoseLevel",
    "Eligibility",
    "Endpoint",
    "Escalation",
    "Expansion",
    "Population",
    "Protocol",
    "RecistSettings",
    "Schedule",
    "Study",
    "ToxicityGrading",
    "Treatment",
    "Visit",
    "consistency_issues",
    "default_protocol_path",
    "load_protocol",
    "parse_protocol",
]
