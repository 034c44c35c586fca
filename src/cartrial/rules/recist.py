"""RECIST 1.1 response evaluation: per-time-point responses and best overall response.

Implements Eisenhauer EA et al., *New response evaluation criteria in solid tumours: Revised
RECIST guideline (version 1.1)*, Eur J Cancer 2009;45:228-247, with the EORTC RECIST working
group's clarifications (5 mm for a lesion too small to measure; lymph nodes as one organ) and the
2016 update (reappearance after CR). Criteria live in package data ``cartrial/data/recist/``.

The engine is vectorised over the whole lesion table (numpy/pandas; no per-subject Python loop):
:mod:`~cartrial.rules.recist_input` checks and encodes the table,
:mod:`~cartrial.rules.recist_timepoint` derives each time point and
:mod:`~cartrial.rules.recist_best` the best overall response.

Examples
--------
>>> import pandas as pd
>>> from cartrial.rules import recist
>>> lesions = pd.DataFrame({
...     "subject_id": ["S1"] * 3,
...     "assessment_date": ["2026-01-01", "2026-02-15", "2026-03-29"],
...     "lesion_id": ["T1"] * 3, "category": ["target"] * 3, "organ": ["liver"] * 3,
...     "is_lymph_node": [False] * 3, "diameter_mm": [100.0, 65.0, 60.0],
...     "status": ["present"] * 3})
>>> result = recist.evaluate(
...     lesions, {"S1": "2026-01-05"}, confirm=True, sd_min_days=42, confirm_min_days=28)
>>> result.timepoints["overall_response"].tolist()
['PR', 'PR']
>>> result.best.loc[0, "best_overall_response"], bool(result.best.loc[0, "confirmed"])
('PR', True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.recist_best import BEST_RULES, BestCodes, best_response
from cartrial.rules.recist_input import EncodedLesions, encode_lesions
from cartrial.rules.recist_read import (
    LESION_COLUMNS,
    ReferenceDates,
    read_lesions,
    reference_days,
)
from cartrial.rules.recist_tables import (
    criteria,
    response_table,
)
from cartrial.rules.recist_timepoint import TimepointCodes, classify_timepoints
from cartrial.vocab import NONTARGET_RESPONSES, OVERALL_RESPONSES, TARGET_RESPONSES

__all__ = [
    "BEST_COLUMNS",
    "LESION_COLUMNS",
    "NONTARGET_RESPONSES",
    "OVERALL_RESPONSES",
    "TARGET_RESPONSES",
    "TIMEPOINT_COLUMNS",
    "RecistResult",
    "evaluate",
]

#: Columns of :attr:`RecistResult.timepoints` (one row per post-baseline assessment).
TIMEPOINT_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "assessment_date",
    "day",
    "sum_of_diameters_mm",
    "measured_sum_mm",
    "baseline_sum_mm",
    "nadir_mm",
    "pct_change_from_baseline",
    "pct_change_from_nadir",
    "target_response",
    "nontarget_response",
    "new_lesions",
    "equivocal_new_lesion",
    "overall_response",
    "review_flag",
    "rule",
    "target_rule",
)
#: Columns of :attr:`RecistResult.best` (one row per subject).
BEST_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "reference_date",
    "baseline_date",
    "baseline_sum_mm",
    "measurable_disease",
    "n_assessments",
    "best_overall_response",
    "confirmed",
    "date_first_response",
    "date_progression",
    "date_last_adequate_assessment",
    "best_pct_change",
    "review_flag",
    "rule",
)
_NO_BASELINE_RULE = "NE: no baseline tumour assessment"
_NO_REFERENCE_RULE = "NE: no reference (infusion) date; lesions not evaluated"


@dataclass(frozen=True)
class RecistResult:
    """RECIST 1.1 evaluation of a lesion table.

    Attributes
    ----------
    timepoints : DataFrame
        One row per post-baseline assessment, sorted by subject and date, columns
        :data:`TIMEPOINT_COLUMNS`: ``day`` = days from the reference date; sums in mm
        (``sum_of_diameters_mm`` is NaN when a target was not evaluated, ``measured_sum_mm`` sums
        the evaluated ones); ``nadir_mm`` = smallest complete sum before this assessment; changes
        in percent; responses as in :data:`TARGET_RESPONSES`, :data:`NONTARGET_RESPONSES`,
        :data:`OVERALL_RESPONSES`; ``new_lesions`` is True for an unequivocal new lesion or an
        equivocal one confirmed later; ``rule`` names the RECIST 1.1 Table 1/2 row that fired and
        ``target_rule`` the target-lesion rule; ``review_flag`` marks a reappearance after CR.
    best : DataFrame
        One row per subject (lesion table and reference dates), columns :data:`BEST_COLUMNS`:
        best overall response, whether it is a confirmed CR/PR, dates of first response, first
        progression and last adequate (non-NE) assessment before progression, best % change of the
        sum from baseline up to the first PD, and the rule that fired.
    confirm, sd_min_days, confirm_min_days, allow_ne_between
        The parameters used.
    """

    timepoints: pd.DataFrame
    best: pd.DataFrame
    confirm: bool
    sd_min_days: int
    confirm_min_days: int
    allow_ne_between: bool


def _dates(days: np.ndarray) -> np.ndarray:
    """Integer days since 1970-01-01 (-1 = none) as datetime64[ns] (NaT for none)."""
    values = days.astype("datetime64[D]").astype("datetime64[ns]")
    return np.where(days >= 0, values, np.datetime64("NaT", "ns"))


def _labels(codes: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    return np.asarray(vocabulary, dtype=object)[codes]


def _timepoint_frame(enc: EncodedLesions, codes: TimepointCodes) -> pd.DataFrame:
    keep = ~enc.tp_is_baseline
    table = response_table()
    rules = (*table.rules, criteria().new_lesion_confirmed_later)
    subject = enc.tp_subject[keep]
    frame = pd.DataFrame(
        {
            "subject_id": enc.subject_ids[subject],
            "assessment_date": _dates(enc.tp_day[keep]),
            "day": enc.tp_day[keep] - enc.reference_day[subject],
            "sum_of_diameters_mm": codes.sum_of_diameters_mm[keep],
            "measured_sum_mm": codes.measured_sum_mm[keep],
            "baseline_sum_mm": codes.baseline_sum_mm[keep],
            "nadir_mm": codes.nadir_mm[keep],
            "pct_change_from_baseline": codes.pct_change_from_baseline[keep],
            "pct_change_from_nadir": codes.pct_change_from_nadir[keep],
            "target_response": _labels(codes.target[keep], TARGET_RESPONSES),
            "nontarget_response": _labels(codes.nontarget[keep], NONTARGET_RESPONSES),
            "new_lesions": codes.new_lesions[keep],
            "equivocal_new_lesion": codes.equivocal_new_lesion[keep],
            "overall_response": _labels(codes.overall[keep], OVERALL_RESPONSES),
            "review_flag": codes.review_flag[keep],
            "rule": _labels(codes.overall_rule[keep], rules),
            "target_rule": _labels(codes.target_rule[keep], criteria().target_rules),
        }
    )
    return frame


def _best_frame(
    enc: EncodedLesions,
    codes: TimepointCodes,
    best: BestCodes,
    reference: pd.Series,
    rule_texts: tuple[str, ...],
) -> pd.DataFrame:
    first_tp = np.flatnonzero(enc.tp_is_baseline)
    frame = pd.DataFrame(
        {
            "subject_id": enc.subject_ids,
            "reference_date": _dates(enc.reference_day),
            "baseline_date": _dates(enc.tp_day[first_tp]),
            "baseline_sum_mm": codes.baseline_sum_mm[first_tp],
            "measurable_disease": enc.n_targets > 0,
            "n_assessments": best.n_assessments,
            "best_overall_response": _labels(best.best, OVERALL_RESPONSES),
            "confirmed": best.confirmed,
            "date_first_response": _dates(best.first_response_day),
            "date_progression": _dates(best.progression_day),
            "date_last_adequate_assessment": _dates(best.last_adequate_day),
            "best_pct_change": best.best_pct_change,
            "review_flag": best.review_flag,
            "rule": _labels(best.rule, rule_texts),
        }
    )
    without_lesions = reference.index.difference(pd.Index(enc.subject_ids))
    if len(without_lesions):
        ref_days = reference.reindex(without_lesions).to_numpy(dtype=float)
        extra = pd.DataFrame(
            {
                "subject_id": without_lesions.to_numpy(dtype=object),
                "reference_date": _dates(np.nan_to_num(ref_days, nan=-1).astype(np.int64)),
                "baseline_date": pd.NaT,
                "baseline_sum_mm": np.nan,
                "measurable_disease": False,
                "n_assessments": 0,
                "best_overall_response": "NE",
                "confirmed": False,
                "date_first_response": pd.NaT,
                "date_progression": pd.NaT,
                "date_last_adequate_assessment": pd.NaT,
                "best_pct_change": np.nan,
                "review_flag": False,
                "rule": np.where(np.isnan(ref_days), _NO_REFERENCE_RULE, _NO_BASELINE_RULE),
            }
        )
        frame = pd.concat([frame, extra], ignore_index=True)
        frame = frame.sort_values("subject_id", kind="stable", ignore_index=True)
    return frame


def evaluate(
    lesions: pd.DataFrame | str | os.PathLike[str],
    reference_dates: ReferenceDates,
    *,
    confirm: bool,
    sd_min_days: int,
    confirm_min_days: int,
    allow_ne_between: bool = True,
) -> RecistResult:
    """Evaluate RECIST 1.1 response for every subject of a lesion table.

    Parameters
    ----------
    lesions : DataFrame or path to a CSV
        Long lesion table with columns :data:`LESION_COLUMNS`, one row per lesion per assessment;
        diameters in mm (longest diameter, short axis for lymph nodes). See
        :mod:`cartrial.rules.recist_input` for the vocabularies and input rules.
    reference_dates : mapping, Series or DataFrame
        Reference (CAR-T infusion, day 0) date per subject: ``{subject_id: date}`` or a DataFrame
        with ``subject_id`` and ``reference_date`` (or ``infusion_date``). Subjects listed here
        without lesion rows get BOR NE ("no baseline tumour assessment"); subjects listed with a
        missing date (not infused) are not evaluated and get BOR NE ("no reference date"). A
        subject of the lesion table that is not listed at all is an error.
    confirm : bool
        Require confirmation of CR/PR (RECIST 1.1 §4.4.1, non-randomised trials); the protocol's
        ``recist.confirm``.
    sd_min_days : int
        Minimum time from the reference date, in days, for SD to count as best response; the
        protocol's ``recist.sd_min_days`` (e.g. 42).
    confirm_min_days : int
        Minimum days between a CR/PR and the assessment confirming it; the protocol's
        ``recist.confirm_min_days`` (e.g. 28).
    allow_ne_between : bool, default True
        Whether NE assessments may lie between a response and its confirmation (PR-NE-PR is a
        confirmed PR); False requires uninterrupted responses.

    Returns
    -------
    RecistResult
        ``timepoints`` and ``best`` frames (see :class:`RecistResult`).

    Raises
    ------
    RuleInputError
        For bad input, naming row, subject, date, lesion and the rule broken.
    """
    if sd_min_days < 0 or confirm_min_days < 0:
        raise RuleInputError(
            f"sd_min_days ({sd_min_days}) and confirm_min_days ({confirm_min_days}) must be >= 0 "
            "(rule: RECIST 1.1 §4.4.1 minimum durations are days after a date)"
        )
    frame = read_lesions(lesions)
    reference = reference_days(reference_dates)
    crit, table = criteria(), response_table()
    if len(frame) == 0:
        raise RuleInputError("the lesion table has no rows (rule: at least a baseline assessment)")
    not_infused = reference.index[reference.isna()]
    row_numbers = None
    if len(not_infused):
        keep = ~frame["subject_id"].astype(str).isin(not_infused).to_numpy()
        frame, row_numbers = frame[keep], np.flatnonzero(keep) + 1
        if len(frame) == 0:
            raise RuleInputError(
                "no subject of the lesion table has a reference date "
                "(rule: RECIST responses are dated from the reference (infusion) date)"
            )
    enc = encode_lesions(frame, reference, crit, row_numbers)
    codes = classify_timepoints(enc, crit, table)
    keep = ~enc.tp_is_baseline
    subject = enc.tp_subject[keep]
    best = best_response(
        subject,
        enc.tp_day[keep],
        enc.tp_day[keep] - enc.reference_day[subject],
        codes.overall[keep],
        codes.pct_change_from_baseline[keep],
        codes.review_flag[keep],
        enc.n_targets > 0,
        confirm=confirm,
        sd_min_days=sd_min_days,
        confirm_min_days=confirm_min_days,
        allow_ne_between=allow_ne_between,
    )
    rule_texts = tuple(r.format(confirm=confirm_min_days, sd=sd_min_days) for r in BEST_RULES)
    return RecistResult(
        timepoints=_timepoint_frame(enc, codes),
        best=_best_frame(enc, codes, best, reference, rule_texts),
        confirm=confirm,
        sd_min_days=sd_min_days,
        confirm_min_days=confirm_min_days,
        allow_ne_between=allow_ne_between,
    )
