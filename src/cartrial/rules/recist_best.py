"""Best overall response (BOR) per subject from the time-point responses, without loops.

Method (Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.4 and Table 3)

* Only time points up to and including the first PD count.
* Without confirmation: the best of CR > PR > SD > NON-CR/NON-PD, where SD and NON-CR/NON-PD
  count only on or after ``sd_min_days`` from the reference date; if none, PD when there was
  progression, else NE.
* With confirmation: CR when a CR is followed by a CR at least ``confirm_min_days`` later; PR when a
  CR or PR is followed by a CR or PR at least ``confirm_min_days`` later; in both cases only
  responding time points (and NE, when ``allow_ne_between``) may lie between the two. Otherwise a
  CR, PR or SD on or after ``sd_min_days`` gives SD (NON-CR/NON-PD for non-target-only disease);
  otherwise PD when there was progression, else NE. A CR followed by a PR therefore gives PR, the
  reading of Table 3 note (a) for a first time point re-read as PR.
* The date of first response is the first CR/PR of the (confirmed) response; the date of
  progression is the first PD time point; best % change is the smallest % change of the sum of
  diameters from baseline up to the first PD.

Runs of consecutive qualifying time points are numbered with a cumulative sum, and per-run and
per-subject extremes are taken with ``numpy.minimum.at`` / ``maximum.at``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.vocab import OVERALL_RESPONSES

__all__ = ["BEST_RULES", "BestCodes", "best_response"]

O_CR, O_PR, O_SD, O_NONCR, O_PD, O_NE = range(len(OVERALL_RESPONSES))
_NONE = np.iinfo(np.int64).max

#: Rule texts for the BOR; ``{confirm}`` and ``{sd}`` are filled with the parameters used.
BEST_RULES: tuple[str, ...] = (
    "CR confirmed by a CR >= {confirm} days later (RECIST 1.1 §4.4.1, Table 3)",
    "PR: CR/PR confirmed by a CR/PR >= {confirm} days later (RECIST 1.1 §4.4.1, Table 3)",
    "CR: best time-point response, confirmation not required (RECIST 1.1 §4.4.1)",
    "PR: best time-point response, confirmation not required (RECIST 1.1 §4.4.1)",
    "SD: SD or better on or after day {sd} (minimum SD duration) and no confirmed response "
    "(RECIST 1.1 §4.4.1, Table 3)",
    "NON-CR/NON-PD: non-target disease only, non-CR/non-PD or better on or after day {sd} "
    "(RECIST 1.1 Table 2)",
    "PD: progression with no time point qualifying as SD (day >= {sd}) before it "
    "(RECIST 1.1 Table 3)",
    "NE: no progression and no time point qualifying as SD or better (day >= {sd})",
    "NE: no tumour assessment after baseline",
)
(
    B_CR_CONF,
    B_PR_CONF,
    B_CR_UNCONF,
    B_PR_UNCONF,
    B_SD,
    B_NONCR,
    B_PD,
    B_NE,
    B_NO_FOLLOWUP,
) = range(len(BEST_RULES))


@dataclass(frozen=True)
class BestCodes:
    """Per-subject BOR arrays (index = subject code); days since 1970-01-01, -1 when none."""

    best: npt.NDArray[np.int8]
    rule: npt.NDArray[np.int8]
    confirmed: npt.NDArray[np.bool_]
    first_response_day: npt.NDArray[np.int64]
    progression_day: npt.NDArray[np.int64]
    last_adequate_day: npt.NDArray[np.int64]
    best_pct_change: npt.NDArray[np.float64]
    review_flag: npt.NDArray[np.bool_]
    n_assessments: npt.NDArray[np.int64]


def _per_subject_min(
    subject: npt.NDArray[np.int64], values: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.int64]:
    out = np.full(n, _NONE, dtype=np.int64)
    np.minimum.at(out, subject, values)
    return out


def _confirmed_runs(
    subject: npt.NDArray[np.int64],
    day: npt.NDArray[np.int64],
    in_run: npt.NDArray[np.bool_],
    responding: npt.NDArray[np.bool_],
    confirm_min_days: int,
    n_subjects: int,
) -> npt.NDArray[np.int64]:
    """First day of a confirmed response per subject (``_NONE`` if none).

    A run is a stretch of consecutive time points of one subject inside ``in_run``; it holds a
    confirmed response when its last responding day is >= ``confirm_min_days`` after its first.
    """
    starts = np.ones(len(subject), dtype=bool)
    starts[1:] = subject[1:] != subject[:-1]
    run = np.cumsum(starts | ~in_run)
    rows = np.flatnonzero(responding & in_run)
    n_runs = int(run[-1]) + 1 if len(run) else 0
    first = np.full(n_runs, _NONE, dtype=np.int64)
    last = np.full(n_runs, -_NONE, dtype=np.int64)
    np.minimum.at(first, run[rows], day[rows])
    np.maximum.at(last, run[rows], day[rows])
    confirmed_rows = rows[last[run[rows]] - first[run[rows]] >= confirm_min_days]
    return _per_subject_min(subject[confirmed_rows], first[run[confirmed_rows]], n_subjects)


def best_response(
    subject: npt.NDArray[np.int64],
    day: npt.NDArray[np.int64],
    study_day: npt.NDArray[np.int64],
    overall: npt.NDArray[np.int8],
    pct_change: npt.NDArray[np.float64],
    review: npt.NDArray[np.bool_],
    has_targets: npt.NDArray[np.bool_],
    *,
    confirm: bool,
    sd_min_days: int,
    confirm_min_days: int,
    allow_ne_between: bool,
) -> BestCodes:
    """Best overall response of every subject.

    Parameters
    ----------
    subject, day, study_day, overall, pct_change, review : numpy.ndarray
        Post-baseline time points sorted by subject then date: subject code, date (days since
        1970-01-01), days from the reference date, overall response code, % change of the sum of
        diameters from baseline, review flag.
    has_targets : numpy.ndarray
        Per subject: target lesions at baseline.
    confirm : bool
        Require confirmation of CR/PR.
    sd_min_days : int
        Minimum days from the reference date for SD (and NON-CR/NON-PD) to count.
    confirm_min_days : int
        Minimum days between a response and its confirmation.
    allow_ne_between : bool
        Whether NE time points may lie between a response and its confirmation.

    Returns
    -------
    BestCodes
    """
    n = len(has_targets)
    pd_day = _per_subject_min(subject, np.where(overall == O_PD, day, _NONE), n)
    window = day <= pd_day[subject]
    sd_time = study_day >= sd_min_days
    responding = window & (overall <= O_PR)
    qualifies_sd = window & sd_time & (overall <= O_NONCR)

    level = np.where(responding | qualifies_sd, overall, O_NE + 1)
    unconfirmed_best = _per_subject_min(subject, level.astype(np.int64), n)
    neutral = (overall == O_NE) & allow_ne_between
    first_pr = _confirmed_runs(
        subject, day, window & (responding | neutral), responding, confirm_min_days, n
    )
    is_cr = window & (overall == O_CR)
    first_cr = _confirmed_runs(subject, day, window & (is_cr | neutral), is_cr, confirm_min_days, n)
    any_sd = np.bincount(subject[qualifies_sd], minlength=n) > 0
    progressed = pd_day < _NONE
    followed_up = np.bincount(subject, minlength=n)

    if confirm:
        best = np.select(
            [first_cr < _NONE, first_pr < _NONE, any_sd & has_targets, any_sd, progressed],
            [O_CR, O_PR, O_SD, O_NONCR, O_PD],
            O_NE,
        )
        rule = np.select(
            [first_cr < _NONE, first_pr < _NONE, any_sd & has_targets, any_sd, progressed],
            [B_CR_CONF, B_PR_CONF, B_SD, B_NONCR, B_PD],
            B_NE,
        )
        first_response = np.where(best <= O_PR, first_pr, _NONE)
    else:
        best = np.where(
            unconfirmed_best <= O_NONCR, unconfirmed_best, np.where(progressed, O_PD, O_NE)
        )
        confirmed_rule = np.where(best == O_CR, first_cr < _NONE, first_pr < _NONE)
        rule = np.select(
            [best == O_CR, best == O_PR, best == O_SD, best == O_NONCR, best == O_PD],
            [
                np.where(confirmed_rule, B_CR_CONF, B_CR_UNCONF),
                np.where(confirmed_rule, B_PR_CONF, B_PR_UNCONF),
                B_SD,
                B_NONCR,
                B_PD,
            ],
            B_NE,
        )
        first_response = _per_subject_min(subject, np.where(responding, day, _NONE), n)
        first_response = np.where(best <= O_PR, first_response, _NONE)
    rule = np.where(followed_up == 0, B_NO_FOLLOWUP, rule)
    confirmed = ((best == O_CR) & (first_cr < _NONE)) | ((best == O_PR) & (first_pr < _NONE))

    last_adequate = np.full(n, -1, dtype=np.int64)
    adequate = (overall != O_NE) & (day < pd_day[subject])
    np.maximum.at(last_adequate, subject[adequate], day[adequate])
    best_pct = np.full(n, np.inf)
    in_window_pct = window & ~np.isnan(pct_change)
    np.minimum.at(best_pct, subject[in_window_pct], pct_change[in_window_pct])
    return BestCodes(
        best=best.astype(np.int8),
        rule=rule.astype(np.int8),
        confirmed=confirmed,
        first_response_day=np.where(first_response < _NONE, first_response, -1),
        progression_day=np.where(progressed, pd_day, -1),
        last_adequate_day=last_adequate,
        best_pct_change=np.where(np.isinf(best_pct), np.nan, best_pct),
        review_flag=np.bincount(subject[window & review], minlength=n) > 0,
        n_assessments=followed_up,
    )
