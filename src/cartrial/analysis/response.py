"""RECIST 1.1 best overall response from the time-point responses, with confirmation.

Rules (RECIST 1.1, Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.4 and Table 3), applied per
subject to the post-infusion time points dated after day 0, on or before the data cut-off and before
any subsequent anticancer therapy, up to and including the first PD:

1. **CR** if a CR is followed, at least ``confirm_min_days`` later, by another CR;
2. otherwise **PR** if a CR or PR is followed, at least ``confirm_min_days`` later, by a CR or PR
   (an NE in between does not break confirmation; a CR followed by PR is read as PR, Table 3
   note a);
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
import numpy.typing as npt
import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.populations import population
from cartrial.analysis.settings import AnalysisSettings

__all__ = ["BOR_ORDER", "BestResponse", "best_overall_response", "listing_note"]

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


def _best_of_subject(
    codes_in: npt.ArrayLike,
    days_in: npt.ArrayLike,
    settings: AnalysisSettings,
    response_by_day: int | None,
) -> tuple[int, int]:
    """Return (BOR code, index of the first CR/PR time point of a confirmed response or -1)."""
    codes = np.asarray(codes_in, dtype=np.int64)
    days = np.asarray(days_in, dtype=np.int64)
    pd_at = np.flatnonzero(codes == _CODE["PD"])
    if pd_at.size:
        codes, days = codes[: pd_at[0] + 1], days[: pd_at[0] + 1]
    for level in (_CODE["CR"], _CODE["PR"]):
        starts = np.flatnonzero(codes <= level)
        for start in starts:
            if response_by_day is not None and days[start] > response_by_day:
                break
            if not settings.confirm:
                return level, int(start)
            later = (codes <= level) & (days - days[start] >= settings.confirm_min_days)
            later[: start + 1] = False
            if later.any():
                return level, int(start)
    qualifying = codes[(codes <= _CODE["NON-CR/NON-PD"]) & (days >= settings.sd_min_days)]
    if qualifying.size:
        non_target_only = bool((qualifying == _CODE["NON-CR/NON-PD"]).all())
        return (_CODE["NON-CR/NON-PD"] if non_target_only else _CODE["SD"]), -1
    if pd_at.size:
        return _CODE["PD"], -1
    return _CODE["NE"], -1


def best_overall_response(
    trial: TrialData, settings: AnalysisSettings, *, response_by_day: int | None = None
) -> BestResponse:
    """Best overall response per safety subject (RECIST 1.1 with confirmation; module rules).

    Parameters
    ----------
    response_by_day
        If given, a CR/PR only counts when first recorded on or before this day after infusion
        (confirmation may come later) — e.g. ORR at 3 months. ``None`` = whole follow-up.
    """
    safety = population(trial, "safety")
    used, notes = usable_timepoints(trial)
    code = used["overall_response"].map(_CODE).fillna(_CODE["NE"]).to_numpy(dtype=np.int64)
    days = used["day"].to_numpy(dtype=np.int64)
    pct = used["pct_change_from_baseline"].to_numpy(dtype=float)
    subject_codes, first_rows = np.unique(used["subject_id"].to_numpy(), return_index=True)
    bounds = [*first_rows[1:], len(used)] if len(used) else []
    bor: dict[str, int] = {}
    first_response: dict[str, int] = {}
    best_pct: dict[str, float] = {}
    counts: dict[str, int] = {}
    for subject, lo, hi in zip(subject_codes, first_rows, bounds, strict=True):
        result, start = _best_of_subject(code[lo:hi], days[lo:hi], settings, response_by_day)
        bor[subject] = result
        if start >= 0:
            first_response[subject] = int(lo + start)
        stop = np.flatnonzero(code[lo:hi] == _CODE["PD"])
        end = lo + int(stop[0]) + 1 if stop.size else hi
        finite = pct[lo:end][np.isfinite(pct[lo:end])]
        best_pct[subject] = float(finite.min()) if finite.size else np.nan
        counts[subject] = hi - lo
    ids = safety["subject_id"]
    out = pd.DataFrame(
        {
            "subject_id": ids.to_numpy(),
            "dose_level": safety["dose_level"].to_numpy(),
            "indication": safety["indication"].to_numpy(),
            "bor": [BOR_ORDER[bor.get(s, _CODE["NE"])] for s in ids],
            "n_post_baseline": [counts.get(s, 0) for s in ids],
            "best_pct_change": [best_pct.get(s, np.nan) for s in ids],
        }
    )
    rows = np.array([first_response.get(s, -1) for s in ids], dtype=np.int64)
    found = rows >= 0
    dates = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    first_day = pd.Series(np.nan, index=out.index)
    if found.any():
        dates[found] = used["assessment_date"].to_numpy()[rows[found]]
        first_day[found] = days[rows[found]]
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
