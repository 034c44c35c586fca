"""What the escalation dashboard shows: the services' escalation state, as the user may read it.

Everything comes from :func:`cartrial.services.escalation_state` (the one implementation the
committee's ``decide-dose`` use case counts with): each treated subject's DLT window clock (window
end = infusion date + the protocol's ``dlt.window_days``, days left), whether the subject is
DLT-evaluable or pending and has a DLT, and the dose transition pathways of the next cohort from
the current dose. This module only keeps the subjects the user may read (those of the sites
:func:`cartrial.services.visible_sites` allows) and lays the rows out for the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from cartrial.services import EscalationState

__all__ = ["DoseLevelView", "EscalationView", "escalation_view"]


@dataclass(frozen=True)
class DoseLevelView:
    """One dose level on the dashboard; ``subjects`` carry their window clock."""

    name: str
    treated: int
    evaluable: int
    pending: int
    dlts: int
    subjects: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class EscalationView:
    """The dashboard: levels, the next cohort's pathways (or why there are none), the date."""

    levels: tuple[DoseLevelView, ...]
    pathways: tuple[dict[str, object], ...]
    pathways_note: str
    as_of: dt.date


def escalation_view(state: EscalationState, site_of: Mapping[str, str]) -> EscalationView:
    """The dashboard of ``state`` with the subjects the user may read.

    ``site_of`` maps the code of each subject the user may read to its site
    (:func:`cartrial.web.reading.readable_data`); other subjects are left out. The per-level
    counts are over the subjects shown: for a user of every site they are the escalation's
    counts, for a site's staff those of their sites.
    """
    levels = []
    for level in state.doses:
        rows = tuple(
            {
                "subject_id": s.subject_id,
                "site_id": site_of[s.subject_id],
                "infused": s.infusion_date,
                "window_end": s.window_end,
                "days_left": s.days_left,
                "evaluable": s.dlt_evaluable,
                "dlt": s.has_dlt,
            }
            for s in level.subjects
            if s.subject_id in site_of
        )
        evaluable = sum(1 for s in rows if s["evaluable"])
        levels.append(
            DoseLevelView(
                name=level.dose_level,
                treated=len(rows),
                evaluable=evaluable,
                pending=len(rows) - evaluable,
                dlts=sum(1 for s in rows if s["dlt"]),
                subjects=rows,
            )
        )
    pathways = tuple(
        {
            "path": p.path,
            "dose": p.dose_level,
            "n_at_dose": p.n_at_dose,
            "dlt_at_dose": p.dlt_at_dose,
            "action": p.action,
            "next_dose": p.next_dose_level or "",
            "reason": p.reason,
        }
        for p in state.pathways
    )
    if state.current_dose_level is None:
        note = state.recommendation_reason
    elif not pathways:
        note = f"{state.design}: no next cohort on the data so far"
    else:
        note = (
            f"{state.design}, next cohort at {state.current_dose_level} "
            "(DLT-evaluable subjects only)"
        )
    return EscalationView(tuple(levels), pathways, note, state.as_of)
