"""The study protocol: one validated, immutable object every layer reads.

Cross-field rules (a DLT window longer than follow-up, a start dose that does not exist, an
endpoint naming an unknown population, ...) are checked by :func:`consistency_issues`, which names
the YAML path of each problem so that ``cartrial protocol validate`` can show its line.

Required content (:data:`OBJECTIVE_ENDPOINTS`): each objective the protocol's sections imply must
have its endpoint defined, e.g. the dose escalation with a DLT definition needs a *primary*
endpoint analysed as ``dlt_rate``; a protocol without it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, ValidationInfo, model_validator

from cartrial.protocol.base import PositiveInt, ProtocolModel
from cartrial.protocol.checks import DataChecks
from cartrial.protocol.dlt import DLTDefinition
from cartrial.protocol.endpoints import Endpoint, Population, RecistSettings, ToxicityGrading
from cartrial.protocol.phases import Escalation, Expansion
from cartrial.protocol.schedule import Schedule
from cartrial.protocol.study import DoseLevel, Eligibility, Study, Treatment

__all__ = ["OBJECTIVE_ENDPOINTS", "SKIP_CONSISTENCY", "Protocol", "consistency_issues"]

#: Validation context key: the loader checks consistency itself to report YAML paths and lines.
SKIP_CONSISTENCY = "skip_consistency"

Path = tuple[str | int, ...]


class Protocol(ProtocolModel):
    """A complete study protocol: every section of the YAML file, validated and immutable."""

    schema_version: PositiveInt = Field(description="version of this file format (1)")
    study: Study
    eligibility: Eligibility
    treatment: Treatment
    escalation: Escalation
    expansion: Expansion
    dlt: DLTDefinition
    toxicity_grading: ToxicityGrading
    recist: RecistSettings
    schedule: Schedule
    populations: tuple[Population, ...] = Field(min_length=1)
    endpoints: tuple[Endpoint, ...] = Field(min_length=1)
    data_checks: DataChecks = Field(
        default_factory=DataChecks,
        description="optional: plausibility findings answered by a data query, not refused",
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Protocol:
        if info.context and info.context.get(SKIP_CONSISTENCY):
            return self
        problems = consistency_issues(self)
        if problems:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, path))}: {msg}" for path, msg in problems)
            )
        return self

    @property
    def study_id(self) -> str:
        """The sponsor's study identifier."""
        return self.study.id

    @property
    def title(self) -> str:
        """The study title."""
        return self.study.title

    @property
    def version(self) -> str:
        """The protocol version."""
        return self.study.version

    @property
    def dose_levels(self) -> tuple[DoseLevel, ...]:
        """Dose levels from lowest to highest; a design's dose index is a position here."""
        return self.treatment.dose_levels

    def dose_index(self, name: str) -> int:
        """0-based index of the dose level called ``name``; ``KeyError`` if there is none."""
        for i, level in enumerate(self.dose_levels):
            if level.name == name:
                return i
        raise KeyError(f"no dose level named {name!r}")

    def population_names(self) -> tuple[str, ...]:
        """Names of the analysis populations."""
        return tuple(p.name for p in self.populations)


def consistency_issues(p: Protocol, *, partial: bool = False) -> list[tuple[Path, str]]:
    """Every cross-field inconsistency of ``p`` as ``(yaml_path, message)``; empty if none.

    With ``partial`` true, ``p`` may lack sections (built with ``model_construct`` from the
    sections that passed their schema): a check needing a missing section is skipped, the others
    still run, so that schema and consistency errors are reported in one pass.
    """
    issues: list[tuple[Path, str]] = []
    for check in _CHECKS:
        try:
            for issue in check(p):
                issues.append(issue)
        except AttributeError:
            if not partial:
                raise
    return issues


def _dose_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    levels = p.treatment.dose_levels
    seen: dict[str, int] = {}
    for i, level in enumerate(levels):
        if level.name in seen:
            yield (
                ("treatment", "dose_levels", i, "name"),
                f"duplicate dose-level name {level.name!r} (also dose_levels[{seen[level.name]}])",
            )
        seen.setdefault(level.name, i)
    units = {level.unit for level in levels}
    if len(units) > 1:
        yield (("treatment", "dose_levels"), f"dose levels mix units {sorted(units)}")
    for i in range(1, len(levels)):
        if levels[i].cells <= levels[i - 1].cells:
            yield (
                ("treatment", "dose_levels", i, "cells"),
                f"dose levels must increase: {levels[i].name} ({levels[i].cells:g}) is not above "
                f"{levels[i - 1].name} ({levels[i - 1].cells:g})",
            )


def _phase_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    esc = p.escalation
    names = [level.name for level in p.treatment.dose_levels]
    if esc.start_dose not in names:
        yield (
            ("escalation", "start_dose"),
            f"unknown dose level {esc.start_dose!r}; known: {names}",
        )
    if esc.max_subjects < esc.planned_subjects:
        yield (
            ("escalation", "max_subjects"),
            f"max_subjects {esc.max_subjects} is below planned_subjects {esc.planned_subjects}",
        )
    if esc.cohort_size > esc.max_subjects:
        yield (("escalation", "cohort_size"), "cohort_size is larger than max_subjects")
    if esc.stagger_days >= p.dlt.window_days:
        yield (("escalation", "stagger_days"), "stagger_days must be shorter than the DLT window")
    yield from _design_issues(p)
    futility = p.expansion.futility
    if futility.p1 <= futility.p0:
        yield (("expansion", "futility", "p1"), f"p1 {futility.p1} must exceed p0 {futility.p0}")
    if p.expansion.tox_monitoring.min_subjects > p.expansion.planned_subjects:
        yield (
            ("expansion", "tox_monitoring", "min_subjects"),
            "min_subjects exceeds the planned expansion size",
        )


def _design_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    """The design must accept its parameters: build it once, as the services will."""
    from cartrial.designs import make_design  # designs never import the protocol: no cycle
    from cartrial.errors import DesignError

    spec = p.escalation.design
    try:
        make_design(spec.name, n_doses=len(p.treatment.dose_levels), **dict(spec.params))
    except DesignError as exc:
        yield (("escalation", "design", "params"), str(exc))


def _schedule_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    follow_up = p.schedule.follow_up_days
    if p.dlt.window_days > follow_up:
        yield (
            ("dlt", "window_days"),
            f"DLT window of {p.dlt.window_days} days is longer than follow-up ({follow_up} days)",
        )
    for i, visit in enumerate(p.schedule.visits):
        if visit.latest_day > follow_up:
            yield (
                ("schedule", "visits", i, "day"),
                f"visit {visit.name!r} (day {visit.day}) lies outside the study "
                f"(follow-up ends on day {follow_up})",
            )
    for i, series in enumerate(p.schedule.recurring):
        if series.to_day + series.window_after > follow_up:
            yield (
                ("schedule", "recurring", i, "to_day"),
                f"series {series.name_prefix!r} runs past the end of follow-up (day {follow_up})",
            )
    names = [v.name for v in p.schedule.expanded()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        yield (("schedule",), f"duplicate visit names: {duplicates}")
    days = [d for agent in p.treatment.lymphodepletion for d in agent.days]
    ld_visits = p.schedule.visits_with("lymphodepletion")
    for d in days:
        if not any(v.contains(d) for v in ld_visits):
            yield (
                ("treatment", "lymphodepletion"),
                f"lymphodepletion day {d} falls in no visit with a lymphodepletion assessment",
            )
    if not any(v.contains(0) for v in p.schedule.visits_with("infusion")):
        yield (("schedule", "visits"), "no visit with the 'infusion' assessment on day 0")


def _endpoint_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    pops = [pop.name for pop in p.populations]
    for i, pop in enumerate(p.populations):
        if pops.count(pop.name) > 1 and pops.index(pop.name) != i:
            yield (("populations", i, "name"), f"population {pop.name!r} is defined twice")
    follow_up = p.schedule.follow_up_days
    names: list[str] = []
    for i, endpoint in enumerate(p.endpoints):
        if endpoint.population not in pops:
            yield (
                ("endpoints", i, "population"),
                f"endpoint {endpoint.name!r} names unknown population {endpoint.population!r}; "
                f"known: {pops}",
            )
        if endpoint.time_frame_days > follow_up:
            yield (
                ("endpoints", i, "time_frame_days"),
                f"time frame of {endpoint.time_frame_days} days is longer than follow-up",
            )
        if endpoint.name in names:
            yield (("endpoints", i, "name"), f"endpoint {endpoint.name!r} is defined twice")
        names.append(endpoint.name)


#: Objectives implied by the protocol's sections and the endpoint each requires:
#: ``(objective, implying section, analysis, required kind or None for any kind)``.
OBJECTIVE_ENDPOINTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("safety of the CAR-T (adverse events)", "toxicity_grading", "ae_incidence", "primary"),
    ("dose-limiting toxicity in escalation", "dlt", "dlt_rate", "primary"),
    ("recommended phase II dose", "escalation", "rp2d", None),
    ("expansion response rate (futility rule)", "expansion", "orr", None),
)


def _objective_issues(p: Protocol) -> Iterator[tuple[Path, str]]:
    """Every objective of :data:`OBJECTIVE_ENDPOINTS` needs its endpoint (of the right kind)."""
    defined = {(e.analysis, e.kind) for e in p.endpoints}
    for objective, section, analysis, kind in OBJECTIVE_ENDPOINTS:
        getattr(p, section)  # partial protocols: skip when the implying section is invalid
        if any(a == analysis and (kind is None or k == kind) for a, k in defined):
            continue
        which = f"a {kind} endpoint" if kind else "an endpoint"
        yield (
            ("endpoints",),
            f"the objective '{objective}' (section {section!r}) needs {which} with "
            f"analysis: {analysis} (rule: required objective endpoints)",
        )


_CHECKS = (_dose_issues, _phase_issues, _schedule_issues, _endpoint_issues, _objective_issues)
