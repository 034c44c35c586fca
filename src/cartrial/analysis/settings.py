"""The few protocol facts the analyses use, gathered once into a frozen object.

:func:`analysis_settings` reads them from the :class:`~cartrial.protocol.Protocol` carried by a
:class:`~cartrial.analysis.dataset.TrialData`: dose levels, RECIST confirmation rules, the DLT
window, scheduled visits per assessment, analysis populations and the endpoints' populations and
time frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cartrial.protocol import Protocol

__all__ = ["AnalysisSettings", "VisitWindow", "analysis_settings"]

#: Assessment codes whose visit schedule the analyses use.
_SCHEDULED = ("tumour", "kinetics", "ada", "phenotype", "labs")


@dataclass(frozen=True)
class VisitWindow:
    """One scheduled visit: nominal day after infusion and its window ``[earliest, latest]``."""

    name: str
    day: int
    earliest: int
    latest: int


@dataclass(frozen=True)
class AnalysisSettings:
    """Protocol settings used by the analyses.

    Attributes
    ----------
    study_id, title, protocol_version
        Identification printed in the report.
    dose_levels
        Dose-level names, lowest to highest; ``dose_labels`` maps each to its printed dose.
    confirm, confirm_min_days, sd_min_days
        RECIST 1.1 best-response rules: CR/PR confirmation and its minimum interval (days), minimum
        days from infusion for a best response of SD.
    dlt_window_days
        Length of the DLT observation window after infusion (days).
    visits
        Scheduled visits per assessment code (``"tumour"``, ``"kinetics"``, ``"ada"``, ...).
    populations
        Population name -> its definition in the protocol's words.
    endpoint_populations
        Endpoint analysis code (``"orr"``, ``"pfs"``, ...) -> population name.
    endpoint_time_frames
        Endpoint analysis code -> time frame in days (e.g. ORR at 3 months -> 90).
    """

    study_id: str
    title: str
    protocol_version: str
    dose_levels: tuple[str, ...]
    dose_labels: dict[str, str]
    confirm: bool
    confirm_min_days: int
    sd_min_days: int
    dlt_window_days: int
    visits: dict[str, tuple[VisitWindow, ...]]
    populations: dict[str, str]
    endpoint_populations: dict[str, str]
    endpoint_time_frames: dict[str, int]

    def population_for(self, analysis: str, default: str) -> str:
        """The population the protocol names for endpoint ``analysis`` (``default`` if none)."""
        return self.endpoint_populations.get(analysis, default)


def analysis_settings(protocol: Protocol) -> AnalysisSettings:
    """Gather the analysis settings from a validated protocol.

    For endpoints named more than once (e.g. a primary ORR at 3 months and a secondary overall ORR)
    the primary endpoint's population and time frame win.
    """
    endpoints = sorted(protocol.endpoints, key=lambda e: e.kind != "primary")
    populations: dict[str, str] = {}
    frames: dict[str, int] = {}
    for endpoint in endpoints:
        populations.setdefault(endpoint.analysis, endpoint.population)
        frames.setdefault(endpoint.analysis, int(endpoint.time_frame_days))
    visits = {
        code: tuple(
            VisitWindow(v.name, int(v.day), int(v.earliest_day), int(v.latest_day))
            for v in protocol.schedule.visits_with(code)  # type: ignore[arg-type]
        )
        for code in _SCHEDULED
    }
    return AnalysisSettings(
        study_id=protocol.study_id,
        title=protocol.title,
        protocol_version=protocol.version,
        dose_levels=tuple(d.name for d in protocol.dose_levels),
        dose_labels={d.name: d.label for d in protocol.dose_levels},
        confirm=bool(protocol.recist.confirm),
        confirm_min_days=int(protocol.recist.confirm_min_days),
        sd_min_days=int(protocol.recist.sd_min_days),
        dlt_window_days=int(protocol.dlt.window_days),
        visits=visits,
        populations={p.name: p.definition for p in protocol.populations},
        endpoint_populations=populations,
        endpoint_time_frames=frames,
    )
