"""What the escalation dashboard shows, from the study's data and the protocol's design.

* each treated subject's DLT window clock: window end = infusion date + ``dlt.window_days``
  (protocol), days left as of the data cut-off;
* per dose level: treated, DLT-evaluable, pending, DLTs;
* the dose transition pathways of the next cohort: the protocol's design
  (:func:`cartrial.designs.make_design`) run by :func:`cartrial.designs.pathways` on the
  DLT-evaluable counts so far, from the dose of the last treated subject. The recorded decision
  and its signatures come from the committee's ``decide-dose`` and ``sign`` use cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from cartrial.analysis import TrialData
from cartrial.designs import make_design
from cartrial.designs.decision_tables import named_pathways
from cartrial.designs.pathways import dose_transition_pathways
from cartrial.errors import DesignError
from cartrial.protocol import Protocol

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
    """The dashboard: levels, the next cohort's pathways (or why there are none), the cut-off."""

    levels: tuple[DoseLevelView, ...]
    pathways: tuple[dict[str, object], ...]
    pathways_note: str
    as_of: dt.date


def _as_date(value: object) -> dt.date | None:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return None
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def escalation_view(data: TrialData, protocol: Protocol) -> EscalationView:
    """The dashboard of the escalation phase from ``data`` (as the user may read it)."""
    as_of = _as_date(data.data_cutoff) or dt.datetime.now(dt.UTC).date()
    window = dt.timedelta(days=protocol.dlt.window_days)
    subjects = data.subjects
    treated = subjects[(subjects["dose_index"] >= 0) & (subjects["phase"] == "escalation")]
    dlt_subjects = set(
        data.adverse_events.loc[data.adverse_events["is_dlt"].astype(bool), "subject_id"]
    )
    names = [level.name for level in protocol.dose_levels]
    levels = []
    n, dlt = [0] * len(names), [0] * len(names)
    for index, name in enumerate(names):
        at = treated[treated["dose_index"] == index]
        rows = []
        for row in at.to_dict("records"):
            infused = _as_date(row["infusion_date"])
            end = infused + window if infused else None
            rows.append(
                {
                    "subject_id": row["subject_id"],
                    "site_id": row["site_id"],
                    "infused": infused,
                    "window_end": end,
                    "days_left": max((end - as_of).days, 0) if end else None,
                    "evaluable": bool(row["dlt_evaluable"]),
                    "dlt": row["subject_id"] in dlt_subjects,
                }
            )
        evaluable = [r for r in rows if r["evaluable"]]
        n[index] = len(evaluable)
        dlt[index] = sum(1 for r in evaluable if r["dlt"])
        levels.append(
            DoseLevelView(
                name=name,
                treated=len(rows),
                evaluable=len(evaluable),
                pending=len(rows) - len(evaluable),
                dlts=sum(1 for r in rows if r["dlt"]),
                subjects=tuple(rows),
            )
        )
    pathways, note = _pathways(treated, protocol, names, n, dlt)
    return EscalationView(tuple(levels), pathways, note, as_of)


def _pathways(
    treated: pd.DataFrame, protocol: Protocol, names: list[str], n: list[int], dlt: list[int]
) -> tuple[tuple[dict[str, object], ...], str]:
    spec = protocol.escalation.design
    if treated.empty:
        current = names.index(protocol.escalation.start_dose)
    else:
        last = treated.sort_values("infusion_date").iloc[-1]
        current = int(last["dose_index"])
    try:
        design = make_design(spec.name, n_doses=len(names), **dict(spec.params))
        frame = dose_transition_pathways(design, n=n, dlt=dlt, current=current, cohorts=1)
    except DesignError as exc:
        return (), f"{spec.name}: {exc}"
    if frame.empty:
        return (), f"{spec.name} stops on the data so far: no next cohort"
    named = named_pathways(frame, len(names), names)
    shown = named[["path", "dose", "n_at_dose", "dlt_at_dose", "action", "next_dose", "reason"]]
    rows = tuple({str(k): v for k, v in r.items()} for r in shown.to_dict("records"))
    return rows, f"{spec.name}, next cohort at {names[current]} (DLT-evaluable subjects only)"
