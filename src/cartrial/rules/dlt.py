"""Dose-limiting toxicity adjudication against the protocol's DLT definition.

:func:`adjudicate` applies a :class:`cartrial.protocol.DLTDefinition` to one subject's adverse
events. For each event, in this order:

1. **window** -- onset on day 0..``window_days`` after infusion (calendar days, day 0 = infusion);
2. **attribution** -- at least ``min_attribution`` (unrelated < unlikely < possible < probable <
   definite);
3. **exclusions** -- the first exclusion whose selector matches and one of whose exemptions holds
   (alternative cause listed; improved to ``<= resolved_to_grade`` within ``within_hours`` of first
   reaching the exclusion's ``min_grade``; or at ``<= resolved_to_grade`` at the end of day
   ``recovered_by_day``; an exclusion without exemption fields exempts every matching event);
4. **criteria** -- the first criterion whose selector matches and whose every timing condition
   holds (``lasting_more_than_hours`` at ``>= min_grade``; ``not_improved_to_grade`` within
   ``within_hours`` of first reaching ``min_grade``; still ``>= min_grade`` at the end of day
   ``persisting_beyond_day``; alternative cause not in ``exclude_causes``).

A selector matches when the event's term, SOC, haematological category and the highest grade it
reached within the DLT window fit (timing conditions may look past the window, e.g. persisting
beyond day 28).
Each event is ``"dlt"``, ``"not_dlt"`` or ``"pending"`` (the answer depends on follow-up after
``as_of``, e.g. an event still ongoing before the window closes) and names the rule that
decided it. The subject has a DLT when any event is one.

Grade courses: an event is a step function of ``(time, grade)`` changes; a final change to grade
0 is its resolution. An event without resolution is known up to ``as_of``; with ``as_of=None``
the data are taken as complete and an unresolved event as ongoing at its last grade (said so in
the reason). Built from a maximum grade, onset and resolution
(:meth:`AdverseEvent.from_max_grade`), the grade is taken to stay at its maximum until
resolution: a conservative reading for "not improved within 72 h" rules.

Clocks: without ``time_zone`` every time is read on its own wall clock (an aware time's offset is
dropped) and a date is midnight at its start. With ``time_zone`` (the study's IANA zone), aware
times are instants: study days are calendar days of that zone (day 0 = the infusion's local
date, the end of day N its next local midnight) and durations are elapsed time, exact across a
daylight-saving change; a naive time or a date is read on that zone's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from cartrial.errors import RuleInputError
from cartrial.protocol.dlt import (
    AESelector,
    DLTCriterion,
    DLTDefinition,
    DLTExclusion,
)
from cartrial.rules.ctcae_catalogue import TermInfo, check_grade, normalise_term
from cartrial.vocab import ATTRIBUTIONS, CAUSES

__all__ = ["AdverseEvent", "DLTAdjudication", "EventAdjudication", "Status", "adjudicate"]

Status = Literal["dlt", "not_dlt", "pending"]
TimePoint = date | datetime
_NEVER = datetime.max
_HOUR = timedelta(hours=1)


def _as_datetime(t: TimePoint) -> datetime:
    """A date is midnight at its start; datetimes are used as given (naive, local clock)."""
    if isinstance(t, datetime):
        return t.replace(tzinfo=None)
    return datetime(t.year, t.month, t.day)


@dataclass(frozen=True)
class _Clock:
    """How times are read: on their own wall clock (``zone`` None), or as instants in UTC with
    the calendar of ``zone`` (module docstring). Internal times are naive either way: the wall
    clock, or UTC."""

    zone: ZoneInfo | None

    def instant(self, t: TimePoint) -> datetime:
        """``t`` as an internal time (a date: the start of that day)."""
        if self.zone is None:
            return _as_datetime(t)
        if not isinstance(t, datetime):
            return self.midnight(t)
        local = t if t.tzinfo is not None else t.replace(tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    def midnight(self, day: date) -> datetime:
        """The start of calendar ``day`` as an internal time."""
        if self.zone is None:
            return datetime(day.year, day.month, day.day)
        start = datetime.combine(day, time.min, tzinfo=self.zone)
        return start.astimezone(UTC).replace(tzinfo=None)

    def day_of(self, t: datetime) -> date:
        """The calendar day of internal time ``t``."""
        if self.zone is None:
            return t.date()
        return t.replace(tzinfo=UTC).astimezone(self.zone).date()


@dataclass(frozen=True)
class AdverseEvent:
    """One adverse event as the DLT rules see it.

    Attributes
    ----------
    ae_id : str
        Identifier named in every adjudication.
    term : str
        CTCAE v5.0 term (or the ASTCT ICANS term).
    course : tuple of (datetime or date, int)
        Grade changes in time order: the grade holds from each time to the next; the first
        grade is >= 1 (the onset); a final grade 0 is the resolution.
    attribution : str
        Relation to the CAR-T product: unrelated, unlikely, possible, probable or definite.
    alternative_cause : str, optional
        ``"lymphodepletion"``, ``"disease_progression"`` or ``"other"`` when the investigator
        attributes the event to another cause.
    """

    ae_id: str
    term: str
    course: tuple[tuple[TimePoint, int], ...]
    attribution: str
    alternative_cause: str | None = None

    @classmethod
    def from_max_grade(
        cls,
        ae_id: str,
        term: str,
        grade: int,
        onset: TimePoint,
        resolution: TimePoint | None,
        attribution: str,
        alternative_cause: str | None = None,
    ) -> AdverseEvent:
        """An event known only by its maximum grade, onset and resolution (None = ongoing).

        A resolution given as a date (no time) counts at the end of that day, so an event that
        starts and resolves on the same date has a course, and durations are never understated.
        """
        course: tuple[tuple[TimePoint, int], ...] = ((onset, grade),)
        if resolution is not None:
            if not isinstance(resolution, datetime):
                resolution = _as_datetime(resolution) + timedelta(days=1)
            course = (*course, (resolution, 0))
        return cls(ae_id, term, course, attribution, alternative_cause)


@dataclass(frozen=True)
class EventAdjudication:
    """The decision on one event: status, the rule that decided it and why."""

    ae_id: str
    term: str
    max_grade: int
    onset_day: int
    status: Status
    rule_id: str
    reason: str

    @property
    def is_dlt(self) -> bool:
        """True when the event is a DLT."""
        return self.status == "dlt"


@dataclass(frozen=True)
class DLTAdjudication:
    """Subject-level result.

    Attributes
    ----------
    is_dlt : bool
        At least one event is a DLT.
    rule_id : str or None
        Rule of the earliest-onset DLT event (``"criterion:<id>"``), None without DLT.
    reason : str
        Summary in words.
    per_event : tuple of EventAdjudication
        One decision per event, in input order.
    pending : bool
        No DLT yet, but at least one event can still become one with more follow-up.
    """

    is_dlt: bool
    rule_id: str | None
    reason: str
    per_event: tuple[EventAdjudication, ...]
    pending: bool


@dataclass(frozen=True)
class _Course:
    """A validated grade course with the time up to which it is known."""

    changes: tuple[tuple[datetime, int], ...]
    horizon: datetime

    @property
    def onset(self) -> datetime:
        return self.changes[0][0]

    @property
    def max_grade(self) -> int:
        return max(g for _, g in self.changes)

    @property
    def resolved(self) -> bool:
        return self.changes[-1][1] == 0

    def max_grade_before(self, t: datetime) -> int:
        return max((g for at, g in self.changes if at < t), default=0)

    def grade_at(self, t: datetime) -> int:
        grade = 0
        for at, g in self.changes:
            if at > t:
                break
            grade = g
        return grade

    def first_reach(self, grade: int) -> datetime:
        return next(at for at, g in self.changes if g >= grade)

    def first_fall(self, after: datetime, to_grade: int) -> datetime | None:
        return next((at for at, g in self.changes if at > after and g <= to_grade), None)

    def longest_stretch_hours(self, grade: int) -> tuple[float, bool]:
        """Longest stretch at >= grade, hours, and whether the stretch still runs at horizon."""
        longest, start = 0.0, None
        for at, g in self.changes:
            if g >= grade and start is None:
                start = at
            elif g < grade and start is not None:
                longest = max(longest, (at - start) / _HOUR)
                start = None
        if start is None:
            return longest, False
        if self.horizon == _NEVER:
            return float("inf"), True
        return max(longest, (self.horizon - start) / _HOUR), True


def _any(results: Sequence[bool | None]) -> bool | None:
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _all(results: Sequence[bool | None]) -> bool | None:
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True


class _Adjudicator:
    """Applies one definition to the events of one subject (holds the shared context)."""

    def __init__(
        self,
        definition: DLTDefinition,
        infusion: datetime,
        as_of: datetime | None,
        who: str,
        clock: _Clock,
    ) -> None:
        self.definition = definition
        self.infusion = infusion
        self.as_of = as_of
        self.who = who
        self.clock = clock

    def end_of_day(self, day: int) -> datetime:
        """The first instant after study day ``day`` (day 0 = infusion day)."""
        return self.clock.midnight(self.clock.day_of(self.infusion) + timedelta(days=day + 1))

    def course(self, event: AdverseEvent, where: str) -> tuple[_Course, TermInfo]:
        if not event.course:
            raise RuleInputError(f"{where}: the grade course is empty")
        changes = tuple((self.clock.instant(t), g) for t, g in event.course)
        info = check_grade(event.term, changes[0][1], where=where)
        for (before, _), (at, grade) in pairwise(changes):
            if at <= before:
                raise RuleInputError(f"{where}: grade changes must be in increasing time order")
            if grade != 0:
                check_grade(event.term, grade, where=where)
        if event.attribution not in ATTRIBUTIONS:
            raise RuleInputError(
                f"{where}: attribution {event.attribution!r} is not one of "
                f"{', '.join(ATTRIBUTIONS)}"
            )
        if event.alternative_cause is not None and event.alternative_cause not in CAUSES:
            raise RuleInputError(
                f"{where}: alternative cause {event.alternative_cause!r} is not one of "
                f"{', '.join(CAUSES)}"
            )
        resolved = changes[-1][1] == 0
        horizon = _NEVER if resolved or self.as_of is None else self.as_of
        return _Course(changes, horizon), info

    @staticmethod
    def matches(rule: AESelector, info: TermInfo, max_grade: int) -> bool:
        term = normalise_term(info.term)
        if rule.terms and term not in {normalise_term(t) for t in rule.terms}:
            return False
        if rule.socs and normalise_term(info.soc) not in {normalise_term(s) for s in rule.socs}:
            return False
        if term in {normalise_term(t) for t in rule.exclude_terms}:
            return False
        if rule.category == "hematologic" and not info.hematologic:
            return False
        if rule.category == "non_hematologic" and info.hematologic:
            return False
        return rule.min_grade <= max_grade <= rule.max_grade

    def improved_within(
        self, course: _Course, from_grade: int, to_grade: int, hours: float
    ) -> bool | None:
        """Did the grade fall to <= to_grade within ``hours`` of first reaching from_grade?"""
        start = course.first_reach(from_grade)
        deadline = start + timedelta(hours=hours)
        fall = course.first_fall(start, to_grade)
        if fall is not None:
            return fall <= deadline
        return False if course.horizon >= deadline else None

    def grade_at_end_of_day(self, course: _Course, day: int) -> int | None:
        t = self.end_of_day(day)
        return course.grade_at(t) if course.horizon >= t else None

    def exempt(self, rule: DLTExclusion, event: AdverseEvent, course: _Course) -> bool | None:
        checks: list[bool | None] = []
        if rule.causes:
            checks.append(event.alternative_cause in rule.causes)
        if rule.resolved_to_grade is not None and rule.within_hours is not None:
            checks.append(
                self.improved_within(
                    course, rule.min_grade, rule.resolved_to_grade, rule.within_hours
                )
            )
        if rule.resolved_to_grade is not None and rule.recovered_by_day is not None:
            grade = self.grade_at_end_of_day(course, rule.recovered_by_day)
            checks.append(None if grade is None else grade <= rule.resolved_to_grade)
        return _any(checks) if checks else True

    def fires(self, rule: DLTCriterion, event: AdverseEvent, course: _Course) -> bool | None:
        checks: list[bool | None] = []
        if rule.exclude_causes:
            checks.append(event.alternative_cause not in rule.exclude_causes)
        if rule.lasting_more_than_hours is not None:
            hours, running = course.longest_stretch_hours(rule.min_grade)
            exceeded = hours > rule.lasting_more_than_hours
            checks.append(True if exceeded else (None if running else False))
        if rule.not_improved_to_grade is not None and rule.within_hours is not None:
            improved = self.improved_within(
                course, rule.min_grade, rule.not_improved_to_grade, rule.within_hours
            )
            checks.append(None if improved is None else not improved)
        if rule.persisting_beyond_day is not None:
            grade = self.grade_at_end_of_day(course, rule.persisting_beyond_day)
            checks.append(None if grade is None else grade >= rule.min_grade)
        return _all(checks)

    def event(self, event: AdverseEvent) -> EventAdjudication:
        where = f"{self.who}AE {event.ae_id}"
        course, info = self.course(event, where)
        onset_day = (self.clock.day_of(course.onset) - self.clock.day_of(self.infusion)).days
        d = self.definition

        def decide(status: Status, rule_id: str, reason: str) -> EventAdjudication:
            return EventAdjudication(
                event.ae_id, info.term, course.max_grade, onset_day, status, rule_id, reason
            )

        if not 0 <= onset_day <= d.window_days:
            return decide(
                "not_dlt",
                "window",
                f"onset on day {onset_day}, outside the DLT window (days 0-{d.window_days})",
            )
        if ATTRIBUTIONS.index(event.attribution) < ATTRIBUTIONS.index(d.min_attribution):
            return decide(
                "not_dlt",
                "attribution",
                f"attribution '{event.attribution}' is below '{d.min_attribution}'",
            )
        window_end = self.end_of_day(d.window_days)
        status, rule_id, reason = self.apply_rules(
            event, course, info, course.max_grade_before(window_end)
        )
        if status != "dlt" and not course.resolved and course.horizon < window_end:
            status = "pending"
            reason += f"; ongoing at {self.as_of}, the grade may still rise within the DLT window"
        return decide(status, rule_id, reason)

    def apply_rules(
        self, event: AdverseEvent, course: _Course, info: TermInfo, grade_in_window: int
    ) -> tuple[Status, str, str]:
        """Exclusions, then criteria, matched on the highest grade reached in the window."""
        ongoing = "" if course.resolved or self.as_of else " (ongoing, no resolution)"
        pending_exclusion: DLTExclusion | None = None
        for excl in self.definition.exclusions:
            if not self.matches(excl, info, grade_in_window):
                continue
            exempt = self.exempt(excl, event, course)
            if exempt is True:
                return "not_dlt", f"exclusion:{excl.id}", f"excluded: {excl.description}{ongoing}"
            if exempt is None and pending_exclusion is None:
                pending_exclusion = excl
        waiting: DLTCriterion | None = None
        for crit in self.definition.criteria:
            if not self.matches(crit, info, grade_in_window):
                continue
            fired = self.fires(crit, event, course)
            if fired is True:
                if pending_exclusion is not None:
                    return (
                        "pending",
                        f"criterion:{crit.id}",
                        f"meets '{crit.description}' unless exclusion "
                        f"'{pending_exclusion.id}' applies after further follow-up",
                    )
                return "dlt", f"criterion:{crit.id}", f"DLT: {crit.description}{ongoing}"
            if fired is None and waiting is None:
                waiting = crit
        if waiting is not None:
            return (
                "pending",
                f"criterion:{waiting.id}",
                f"may meet '{waiting.description}': needs follow-up after {self.as_of}",
            )
        return "not_dlt", "no_criterion", "grade and course meet no DLT criterion"


def adjudicate(
    definition: DLTDefinition,
    events: Sequence[AdverseEvent],
    infusion_date: TimePoint,
    *,
    as_of: TimePoint | None = None,
    subject_id: str = "",
    time_zone: str | None = None,
) -> DLTAdjudication:
    """Adjudicate one subject's adverse events against the protocol's DLT definition.

    Parameters
    ----------
    definition : DLTDefinition
        ``protocol.dlt`` (window, minimum attribution, criteria, exclusions).
    events : sequence of AdverseEvent
        The subject's adverse events.
    infusion_date : date or datetime
        CAR-T infusion (day 0).
    as_of : date or datetime, optional
        Data cut-off: unresolved events are known up to here (a date means the end of that
        day). None = the data are complete (unresolved events taken as ongoing).
    subject_id : str
        Named in error messages.
    time_zone : str, optional
        The study's IANA time zone: aware times are instants, study days are its calendar days
        and durations elapsed time (module docstring, "Clocks"). None = wall clocks as given.

    Returns
    -------
    DLTAdjudication
        Subject-level DLT yes/no, the rule that fired, and one decision per event.

    Raises
    ------
    RuleInputError
        Unknown term, impossible grade, unordered course, unknown attribution or cause, or a
        duplicate AE id (the message names subject and AE).
    """
    who = f"subject {subject_id}, " if subject_id else ""
    clock = _Clock(ZoneInfo(time_zone) if time_zone is not None else None)
    infusion = clock.instant(infusion_date)
    cutoff = None
    if as_of is not None:
        cutoff = (
            clock.instant(as_of)
            if isinstance(as_of, datetime)
            else clock.midnight(as_of + timedelta(days=1))
        )
    seen: set[str] = set()
    for event in events:
        if event.ae_id in seen:
            raise RuleInputError(f"{who}AE {event.ae_id}: AE id used twice")
        seen.add(event.ae_id)
    judge = _Adjudicator(definition, infusion, cutoff, who, clock)
    decisions = tuple(judge.event(e) for e in events)
    dlts = sorted((d for d in decisions if d.is_dlt), key=lambda d: d.onset_day)
    if dlts:
        first = dlts[0]
        return DLTAdjudication(
            True,
            first.rule_id,
            f"DLT: AE {first.ae_id} ({first.term}, grade {first.max_grade}, day "
            f"{first.onset_day}) meets {first.rule_id}",
            decisions,
            pending=False,
        )
    pending = [d for d in decisions if d.status == "pending"]
    reason = (
        f"no DLT yet; {len(pending)} event(s) pending further follow-up"
        if pending
        else f"no DLT among {len(decisions)} event(s)"
    )
    return DLTAdjudication(False, None, reason, decisions, pending=bool(pending))
