"""RECIST 1.1 best overall response from the recorded time-point responses.

The rules are those of the RECIST engine, :func:`cartrial.rules.recist_best.best_response`
(Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.4 and Table 3): time points up to and
including the first PD; with confirmation, CR needs a later CR and PR a later CR/PR at least
``confirm_min_days`` apart with only responses (and NE) in between; otherwise SD (NON-CR/NON-PD for
non-target-only disease) when a time point at or better than SD lies at least ``sd_min_days``
after infusion; otherwise PD when there was progression, else NE.

This module chooses the time points the engine sees: those of the safety population dated after
the infusion day, on or before the data cut-off and before any subsequent anticancer therapy. A
time point carrying a response but dated on or before the infusion is not a response: it is left
out and reported in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.days import days_to_timedelta
from cartrial.analysis.populations import population
from cartrial.analysis.settings import AnalysisSettings
from cartrial.rules.recist import OVERALL_RESPONSES
from cartrial.rules.recist_best import BEST_RULES, best_response
from cartrial.vocab import OBJECTIVE_RESPONSES

__all__ = [
    "BOR_ORDER",
    "BestResponse",
    "best_overall_response",
    "listing_note",
    "unconfirmed_responders",
    "usable_timepoints",
]

#: Best-response categories, best first (the RECIST engine's order).
BOR_ORDER: tuple[str, ...] = tuple(OVERALL_RESPONSES)

_CODE = {response: code for code, response in enumerate(OVERALL_RESPONSES)}


@dataclass(frozen=True)
class BestResponse:
    """Per-subject best overall response and the data problems met on the way.

    Attributes
    ----------
    subjects
        One row per safety subject: ``subject_id, dose_level, indication, bor, bor_rule,
        responder, first_response_date, first_response_day, best_pct_change, n_post_baseline``
        (``bor_rule`` is the engine's rule text that decided).
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


def _has_targets(trial: TrialData, subjects: pd.Index) -> npt.NDArray[np.bool_]:
    """Per subject: measurable (target) disease, i.e. a positive sum of diameters or a PR/SD."""
    tps = trial.tumour_timepoints
    with_targets = (tps["sum_of_diameters_mm"].astype(float) > 0) | tps["overall_response"].isin(
        ["PR", "SD"]
    )
    return np.asarray(subjects.isin(tps.loc[with_targets, "subject_id"]), dtype=bool)


def best_overall_response(
    trial: TrialData,
    settings: AnalysisSettings,
    *,
    usable: tuple[pd.DataFrame, tuple[str, ...]] | None = None,
) -> BestResponse:
    """Best overall response per safety subject (RECIST 1.1 engine; module docstring).

    Parameters
    ----------
    usable
        The result of :func:`usable_timepoints` for ``trial`` when already computed.
    """
    safety = population(trial, "safety")
    used, notes = usable if usable is not None else usable_timepoints(trial)
    groups, subjects = pd.factorize(used["subject_id"])
    code: npt.NDArray[np.int8] = np.asarray(
        used["overall_response"].map(_CODE).fillna(_CODE["NE"]), dtype=np.int8
    )
    day = used["day"].to_numpy(dtype=np.int64)
    result = best_response(
        groups.astype(np.int64),
        day,
        day,
        code,
        used["pct_change_from_baseline"].to_numpy(dtype=float),
        np.zeros(len(used), dtype=bool),
        _has_targets(trial, subjects),
        confirm=settings.confirm,
        sd_min_days=settings.sd_min_days,
        confirm_min_days=settings.confirm_min_days,
        allow_ne_between=True,
    )
    rules = [
        r.format(confirm=settings.confirm_min_days, sd=settings.sd_min_days) for r in BEST_RULES
    ]
    per_subject = pd.DataFrame(
        {
            "bor": np.array(OVERALL_RESPONSES, dtype=object)[result.best],
            "bor_rule": np.array(rules, dtype=object)[result.rule],
            "first_response_day": np.where(
                result.first_response_day >= 0, result.first_response_day, np.nan
            ),
            "best_pct_change": result.best_pct_change,
            "n_post_baseline": result.n_assessments,
        },
        index=subjects,
    ).reindex(safety["subject_id"])
    per_subject["bor"] = per_subject["bor"].fillna("NE")
    per_subject["bor_rule"] = per_subject["bor_rule"].fillna(rules[-1])
    per_subject["n_post_baseline"] = per_subject["n_post_baseline"].fillna(0).astype(int)
    infusion = safety.set_index("subject_id")["infusion_date"]
    out = pd.DataFrame(
        {
            "subject_id": safety["subject_id"].to_numpy(),
            "dose_level": safety["dose_level"].to_numpy(),
            "indication": safety["indication"].to_numpy(),
            "bor": per_subject["bor"].to_numpy(),
            "bor_rule": per_subject["bor_rule"].to_numpy(),
            "n_post_baseline": per_subject["n_post_baseline"].to_numpy(),
            "best_pct_change": per_subject["best_pct_change"].to_numpy(dtype=float),
            "first_response_day": per_subject["first_response_day"].to_numpy(dtype=float),
        }
    )
    out["responder"] = out["bor"].isin(OBJECTIVE_RESPONSES)
    out["first_response_date"] = out["subject_id"].map(infusion) + days_to_timedelta(
        out["first_response_day"]
    )
    missing = sorted(out.loc[out["n_post_baseline"] == 0, "subject_id"])
    if missing:
        notes = (
            *notes,
            listing_note(missing, "had no post-baseline tumour assessment (best response NE)"),
        )
    return BestResponse(subjects=out, timepoints=used, notes=notes)


def unconfirmed_responders(best: BestResponse) -> set[str]:
    """Subjects with a CR or PR time point whose best overall response is not CR or PR (the
    response was never confirmed as RECIST 1.1 requires when the protocol asks for it)."""
    tps = best.timepoints
    hit = set(tps.loc[tps["overall_response"].isin(OBJECTIVE_RESPONSES), "subject_id"])
    subjects = best.subjects
    return hit - set(subjects.loc[subjects["bor"].isin(OBJECTIVE_RESPONSES), "subject_id"])
