"""RECIST 1.1 best overall response from the time-point responses, with confirmation.

Rules (RECIST 1.1, Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.4 and Table 3), applied per
subject to the post-infusion time points dated after day 0, on or before the data cut-off and before
any subsequent anticancer therapy, up to and including the first PD:

1. **CR** if a CR is followed, at least ``confirm_min_days`` later, by another CR with no
   assessment other than CR or NE in between;
2. otherwise **PR** if a CR or PR is followed, at least ``confirm_min_days`` later, by a CR or PR
   with no assessment other than CR, PR or NE in between (an NE in between does not break
   confirmation, reference example E19; a CR followed by PR is read as PR, Table 3 note a);
3. otherwise **SD** if a CR, PR or SD time point lies at least ``sd_min_days`` after infusion;
   **NON-CR/NON-PD** if only non-target-disease time points qualify;
4. otherwise **PD** if a PD was recorded; otherwise **NE** (including no post-baseline assessment).

With ``confirm=False`` the best time point counts without confirmation (SD still needs
``sd_min_days``). A time point carrying a response but dated on or before the infusion is not a
response: it is excluded and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.populations import population
from cartrial.analysis.settings import AnalysisSettings

__all__ = [
    "BOR_ORDER",
    "BestResponse",
    "best_overall_response",
    "listing_note",
    "usable_timepoints",
]

#: Best-response categories, best first.
BOR_ORDER = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")

_CODE = {"CR": 0, "PR": 1, "SD": 2, "NON-CR/NON-PD": 3, "PD": 4, "NE": 5}


@dataclass(frozen=True)
class BestResponse:
    """Per-subject best overall response and the data problems met on the way.

    Attributes
    ----------
    subjects
        One row per safety subject: ``subject_id, dose_level, indication, bor, responder,
        first_response_date, first_response_day, best_pct_change, n_post_baseline``.
    timepoints
        The time points used (post-infusion, before cut-off and new therapy, up to the first PD).
    notes
        Plain-word data problems (responses dated before infusion, no post-baseline assessment).
    """

    subjects: pd.DataFrame
    timepoints: pd.DataFrame
    notes: tuple[str, ...]


def listing_note(ids: list[str], message: str, limit: int = 10) -> str:
    """``"<n> subject(s) <message>: id1, id2, ..."``, listing at most ``limit`` identifiers."""
    shown = ", ".join(map(str, ids[:limit]))
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{len(ids)} subject(s) {message}: {shown}{more}."


def usable_timepoints(trial: TrialData) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Post-infusion time points of the safety population usable for response and progression.

    Returns the time points (with ``day`` recomputed from the infusion date) and the notes about
    time points dropped because a response was dated on or before the infusion.
    """
    safety = population(trial, "safety")
    keyed = safety.set_index("subject_id")
    tps = trial.tumour_timepoints
    tps = tps.loc[
        tps["subject_id"].isin(keyed.index) & (tps["assessment_date"] <= trial.data_cutoff)
    ]
    tps = tps.assign(
        overall_response=tps["overall_response"].fillna("").astype(str).str.upper().str.strip(),
        day=(tps["assessment_date"] - tps["subject_id"].map(keyed["infusion_date"])).dt.days,
    )
    has_response = tps["overall_response"] != ""
    early = tps.loc[has_response & (tps["day"] <= 0)]
    notes: tuple[str, ...] = ()
    if len(early):
        notes = (
            listing_note(
                sorted(set(early["subject_id"])),
                "had a tumour response dated on or before the infusion; it was not counted",
            ),
        )
    therapy = tps["subject_id"].map(keyed["subsequent_therapy_date"])
    keep = has_response & (tps["day"] >= 1) & (therapy.isna() | (tps["assessment_date"] < therapy))
    used = tps.loc[keep].sort_values(["subject_id", "assessment_date"]).reset_index(drop=True)
    return used, notes


def _confirmed_starts(
    frame: pd.DataFrame, level: int, settings: AnalysisSettings, response_by_day: int | None
) -> pd.Series:
    """Rows that start a response at ``level`` (CR = 0, PR = 1) which is confirmed.

    ``frame`` holds ``group`` (subject number), ``code`` and ``day``, sorted by subject and date.
    Rows of one subject are cut into runs at every assessment worse than ``level`` (NE does not
    cut); a row starts a confirmed response when the last row at ``level`` or better of its run is
    at least ``confirm_min_days`` later.
    """
    at_level = frame["code"] <= level
    cut = ~at_level & (frame["code"] != _CODE["NE"])
    new_subject = frame["group"].ne(frame["group"].shift())
    run = (new_subject | cut).cumsum()
    last_day = frame["day"].where(at_level).groupby(run).transform("max")
    starts = at_level.copy()
    if settings.confirm:
        starts &= (last_day - frame["day"]) >= settings.confirm_min_days
    if response_by_day is not None:
        starts &= frame["day"] <= response_by_day
    return starts


def best_overall_response(
    trial: TrialData,
    settings: AnalysisSettings,
    *,
    response_by_day: int | None = None,
    usable: tuple[pd.DataFrame, tuple[str, ...]] | None = None,
) -> BestResponse:
    """Best overall response per safety subject (RECIST 1.1 with confirmation; module rules).

    Parameters
    ----------
    response_by_day
        If given, a CR/PR only counts when first recorded on or before this day after infusion
        (confirmation may come later) — e.g. ORR at 3 months. ``None`` = whole follow-up.
    usable
        The result of :func:`usable_timepoints` for ``trial`` when already computed.
    """
    safety = population(trial, "safety")
    used, notes = usable if usable is not None else usable_timepoints(trial)
    groups, subjects = pd.factorize(used["subject_id"])
    frame = pd.DataFrame(
        {
            "group": groups,
            "code": used["overall_response"].map(_CODE).fillna(_CODE["NE"]).astype(int),
            "day": used["day"].astype(float),
            "pct": used["pct_change_from_baseline"].astype(float),
        }
    )
    counts = used.groupby("subject_id").size()
    # keep each subject's time points up to and including the first PD
    is_pd = (frame["code"] == _CODE["PD"]).astype(int)
    frame = frame.loc[~(is_pd.groupby(frame["group"]).cumsum() - is_pd > 0)]
    # assign from the worst category to the best, so the best one found wins
    bor_code = pd.Series(_CODE["NE"], index=pd.RangeIndex(len(subjects)))
    bor_code[frame.loc[frame["code"] == _CODE["PD"], "group"].unique()] = _CODE["PD"]
    qualifying = frame.loc[
        (frame["code"] <= _CODE["NON-CR/NON-PD"]) & (frame["day"] >= settings.sd_min_days)
    ]
    best_qualifying = qualifying.groupby("group")["code"].min()
    bor_code[best_qualifying.index] = np.where(
        best_qualifying == _CODE["NON-CR/NON-PD"], _CODE["NON-CR/NON-PD"], _CODE["SD"]
    )
    first_row = pd.Series(-1, index=bor_code.index)
    for level in (_CODE["PR"], _CODE["CR"]):
        starts = frame.loc[_confirmed_starts(frame, level, settings, response_by_day)]
        first = starts.groupby("group").head(1)
        bor_code[first["group"]] = level
        first_row[first["group"]] = first.index
    bor = dict(zip(subjects, bor_code, strict=True))
    first_of = dict(zip(subjects, first_row, strict=True))
    best_pct = frame.groupby("group")["pct"].min()
    best_pct.index = subjects[best_pct.index]
    ids = safety["subject_id"]
    out = pd.DataFrame(
        {
            "subject_id": ids.to_numpy(),
            "dose_level": safety["dose_level"].to_numpy(),
            "indication": safety["indication"].to_numpy(),
            "bor": [BOR_ORDER[int(bor.get(s, _CODE["NE"]))] for s in ids],
            "n_post_baseline": ids.map(counts).fillna(0).astype(int).to_numpy(),
            "best_pct_change": ids.map(best_pct).to_numpy(dtype=float),
        }
    )
    rows = np.array([first_of.get(s, -1) for s in ids], dtype=np.int64)
    found = rows >= 0
    dates = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    first_day = pd.Series(np.nan, index=out.index)
    if found.any():
        dates[found] = used["assessment_date"].to_numpy()[rows[found]]
        first_day[found] = used["day"].to_numpy(dtype=float)[rows[found]]
    out["responder"] = out["bor"].isin(["CR", "PR"])
    out["first_response_date"] = dates
    out["first_response_day"] = first_day
    missing = sorted(out.loc[out["n_post_baseline"] == 0, "subject_id"])
    if missing:
        notes = (
            *notes,
            listing_note(missing, "had no post-baseline tumour assessment (best response NE)"),
        )
    return BestResponse(subjects=out, timepoints=used, notes=notes)
