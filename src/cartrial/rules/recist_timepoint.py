"""Per-time-point RECIST 1.1 responses, computed for every assessment of every subject at once.

Method (Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.3; all sizes in integer tenths of a mm)

* Sum of diameters (SOD): longest diameter of non-nodal targets plus short axis of target nodes;
  ``too_small`` counts 5 mm, ``absent`` 0 mm. A time point where a baseline target is ``NE`` or has
  no row has an incomplete sum.
* Nadir: the smallest complete SOD before the time point, baseline included.
* Target response, in order of precedence: PD when the (possibly incomplete) sum is >= 120 % of the
  nadir and >= 5 mm above it (an incomplete sum can only grow, so PD stands); NE when incomplete;
  CR when every non-nodal target is 0 mm and every target node < 10 mm; PR when the sum is <= 70 %
  of baseline; SD otherwise. A non-nodal target > 0 mm after a target CR (last evaluated time
  point) is PD whatever its size, named as the rule that fired and flagged for review (RECIST 1.1
  update 2016; EORTC Q&A: the reviewer may re-read the CR as PR).
* Non-target response: PD on any unequivocal progression; NE when a baseline non-target is NE or
  missing; CR when all are absent (a node counts as absent once its short axis is < 10 mm);
  otherwise NON-CR/NON-PD; NOT-APPLICABLE without baseline non-targets. Tumour markers are not
  part of the lesion table, so non-target CR is judged on the lesions alone. Unequivocal
  progression is the investigator's judgement recorded as a status, never derived from sizes.
* New lesions: an unequivocal new lesion; an equivocal one counts at every assessment before the
  first on which the same lesion is unequivocal (PD dated to its first appearance, §4.3.3).
* Overall response from RECIST 1.1 Tables 1-2 (:mod:`cartrial.rules.recist_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.rules.recist_input import (
    ABSENT,
    EQUIVOCAL,
    NE,
    NEW,
    NON_TARGET,
    PRESENT,
    TARGET,
    UNEQ_PROG,
    UNEQUIVOCAL,
    EncodedLesions,
)
from cartrial.rules.recist_tables import RecistCriteria, ResponseTable
from cartrial.vocab import NONTARGET_RESPONSES, TARGET_RESPONSES

__all__ = ["TimepointCodes", "classify_timepoints"]

T_CR, T_PR, T_SD, T_PD, T_NE, T_NA = (TARGET_RESPONSES.index(r) for r in TARGET_RESPONSES)
N_CR, N_NONCR, N_PD, N_NE, N_NA = (NONTARGET_RESPONSES.index(r) for r in NONTARGET_RESPONSES)
R_PD_SUM, R_PD_PARTIAL, R_PD_REAPPEAR, R_NE, R_CR, R_PR, R_SD, R_NA = range(8)
_NO_VALUE = np.int64(2**40)  # larger than any sum in tenths of a mm
_GROUP_SHIFT = np.int64(2**41)


@dataclass(frozen=True)
class TimepointCodes:
    """Per-time-point results as arrays aligned with ``EncodedLesions.tp_*`` (baseline included).

    Response arrays hold codes into :data:`TARGET_RESPONSES`, :data:`NONTARGET_RESPONSES` and
    :data:`OVERALL_RESPONSES`; ``overall_rule`` indexes ``ResponseTable.rules`` extended by one
    entry (the retro-dated new lesion rule). Sizes in mm, changes in percent.
    """

    target: npt.NDArray[np.int8]
    target_rule: npt.NDArray[np.int8]
    nontarget: npt.NDArray[np.int8]
    new_lesions: npt.NDArray[np.bool_]
    equivocal_new_lesion: npt.NDArray[np.bool_]
    overall: npt.NDArray[np.int8]
    overall_rule: npt.NDArray[np.int8]
    review_flag: npt.NDArray[np.bool_]
    sum_of_diameters_mm: npt.NDArray[np.float64]
    measured_sum_mm: npt.NDArray[np.float64]
    baseline_sum_mm: npt.NDArray[np.float64]
    nadir_mm: npt.NDArray[np.float64]
    pct_change_from_baseline: npt.NDArray[np.float64]
    pct_change_from_nadir: npt.NDArray[np.float64]


def _count(tp: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], n: int) -> npt.NDArray[np.int64]:
    return np.bincount(tp[mask], minlength=n)


def _previous_in_subject(
    values: npt.NDArray[np.int64], tp_first_of: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``values`` of the preceding time point of the same subject (``-1`` at a subject's first)."""
    previous = np.concatenate(([np.int64(-1)], values[:-1]))
    return np.where(np.arange(len(values)) > tp_first_of, previous, -1)


def classify_timepoints(
    enc: EncodedLesions, crit: RecistCriteria, table: ResponseTable
) -> TimepointCodes:
    """Compute target, non-target, new-lesion and overall response at every time point.

    Parameters
    ----------
    enc : EncodedLesions
        The checked lesion table.
    crit : RecistCriteria
        RECIST 1.1 thresholds.
    table : ResponseTable
        RECIST 1.1 Tables 1-2.

    Returns
    -------
    TimepointCodes
    """
    n_tp = len(enc.tp_subject)
    tp, cat, status, size = enc.row_tp, enc.row_category, enc.row_status, enc.row_size_tenths
    node = enc.row_is_node
    first_tp = np.flatnonzero(enc.tp_is_baseline)
    tp_first_of = first_tp[enc.tp_subject]
    has_targets = enc.n_targets[enc.tp_subject] > 0

    # target lesions
    evaluated = (cat == TARGET) & (status != NE)
    measured = np.bincount(tp[evaluated], weights=size[evaluated], minlength=n_tp).astype(np.int64)
    complete = _count(tp, evaluated, n_tp) == enc.n_targets[enc.tp_subject]
    non_nodal_left = _count(tp, evaluated & ~node & (size > 0), n_tp) > 0
    node_limit = np.int64(round(crit.cr_node_below_mm * 10))
    node_left = _count(tp, evaluated & node & (size >= node_limit), n_tp) > 0
    baseline = measured[first_tp][enc.tp_subject]
    shifted = np.where(complete, measured, _NO_VALUE) - enc.tp_subject * _GROUP_SHIFT
    running_min = np.minimum.accumulate(shifted) + enc.tp_subject * _GROUP_SHIFT
    nadir = _previous_in_subject(running_min, tp_first_of)
    pd_abs = np.int64(round(crit.pd_absolute_mm * 10))
    progression = (
        (nadir >= 0)
        & (measured * 100 >= nadir * (100 + crit.pd_increase_pct))
        & (measured - nadir >= pd_abs)
    )
    cr = complete & ~non_nodal_left & ~node_left
    pr = complete & (measured * 100 <= baseline * (100 - crit.pr_decrease_pct))
    target_base = np.select(
        [progression, ~complete, cr, pr], [T_PD, T_NE, T_CR, T_PR], T_SD
    ).astype(np.int8)
    target_base[enc.tp_is_baseline] = T_SD  # baseline has no response; it is never "in CR"
    index = np.arange(n_tp, dtype=np.int64)
    last_evaluated = np.maximum.accumulate(np.where(target_base != T_NE, index, -1))
    previous_evaluated = _previous_in_subject(last_evaluated, tp_first_of)
    was_cr = (previous_evaluated >= tp_first_of) & (
        target_base[np.maximum(previous_evaluated, 0)] == T_CR
    )
    reappeared = has_targets & was_cr & non_nodal_left
    target = np.where(reappeared, T_PD, target_base).astype(np.int8)
    target[~has_targets] = T_NA
    target_rule = np.select(
        [
            ~has_targets,
            reappeared,
            progression & complete,
            progression,
            target == T_NE,
            target == T_CR,
            target == T_PR,
        ],
        [R_NA, R_PD_REAPPEAR, R_PD_SUM, R_PD_PARTIAL, R_NE, R_CR, R_PR],
        R_SD,
    ).astype(np.int8)

    # non-target lesions
    nontarget_rows = cat == NON_TARGET
    path_limit = np.int64(round(crit.nodal_pathological_min_mm * 10))
    normal_node = node & (status == PRESENT) & (size >= 0) & (size < path_limit)
    gone = nontarget_rows & ((status == ABSENT) | normal_node)
    still_present = nontarget_rows & (status == PRESENT) & ~gone
    n_nontargets = enc.n_nontargets[enc.tp_subject]
    not_evaluated = _count(tp, nontarget_rows & (status == NE), n_tp) + (
        n_nontargets - _count(tp, nontarget_rows, n_tp)
    )
    nontarget = np.select(
        [
            n_nontargets == 0,
            _count(tp, nontarget_rows & (status == UNEQ_PROG), n_tp) > 0,
            not_evaluated > 0,
            _count(tp, still_present, n_tp) == 0,
        ],
        [N_NA, N_PD, N_NE, N_CR],
        N_NONCR,
    ).astype(np.int8)

    # new lesions
    unequivocal = (cat == NEW) & (status == UNEQUIVOCAL)
    equivocal = (cat == NEW) & (status == EQUIVOCAL)
    row_day = enc.tp_day[tp]
    first_unequivocal = pd.Series(row_day[unequivocal]).groupby(enc.row_lesion[unequivocal]).min()
    confirmed_day = first_unequivocal.reindex(enc.row_lesion[equivocal]).to_numpy(dtype=float)
    retro_rows = np.flatnonzero(equivocal)[row_day[equivocal] < confirmed_day]
    has_unequivocal = _count(tp, unequivocal, n_tp) > 0
    retro = np.bincount(tp[retro_rows], minlength=n_tp) > 0
    new_lesions = has_unequivocal | retro

    overall = table.overall[target, nontarget, new_lesions.astype(np.intp)]
    overall_rule = table.rule[target, nontarget, new_lesions.astype(np.intp)]
    retro_rule = np.isin(overall_rule, list(table.new_lesion_rows)) & ~has_unequivocal & retro
    overall_rule = np.where(retro_rule, len(table.rules), overall_rule).astype(np.int8)

    with np.errstate(divide="ignore", invalid="ignore"):
        sod = np.where(complete & has_targets, measured / 10.0, np.nan)
        nadir_mm = np.where(has_targets & (nadir >= 0), nadir / 10.0, np.nan)
        base_mm = np.where(has_targets, baseline / 10.0, np.nan)
        pct_baseline = (sod - base_mm) / base_mm * 100.0
        pct_nadir = np.where(nadir_mm > 0, (sod - nadir_mm) / nadir_mm * 100.0, np.nan)
    return TimepointCodes(
        target=target,
        target_rule=target_rule,
        nontarget=nontarget,
        new_lesions=new_lesions,
        equivocal_new_lesion=_count(tp, equivocal, n_tp) > 0,
        overall=overall,
        overall_rule=overall_rule,
        review_flag=reappeared,
        sum_of_diameters_mm=sod,
        measured_sum_mm=np.where(has_targets, measured / 10.0, np.nan),
        baseline_sum_mm=base_mm,
        nadir_mm=nadir_mm,
        pct_change_from_baseline=pct_baseline,
        pct_change_from_nadir=pct_nadir,
    )
