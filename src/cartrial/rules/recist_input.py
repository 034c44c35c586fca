"""Check the long RECIST lesion table against the input rules and encode it for the engine.

Input columns: ``subject_id, assessment_date, lesion_id, category, organ, is_lymph_node,
diameter_mm, status``; one row per lesion per assessment. Every check runs on whole columns; the
first offending row is reported in a :class:`~cartrial.errors.RuleInputError` that names the row
(data rows counted from 1 in input order), subject, date, lesion and the rule broken. Nothing is
guessed: a value the rules cannot interpret is an error.

Vocabularies
------------
category : ``target``, ``non_target``, ``new`` (case-insensitive).
status : target ``present`` (measured; a blank status with a diameter means the same),
``too_small`` (present but too small to measure: 5 mm, EORTC RECIST Q&A), ``absent`` (disappeared:
0 mm), ``NE``; non-target ``present``, ``absent``, ``unequivocal_progression``, ``NE``; new lesion
``equivocal``, ``unequivocal``.

The earliest assessment of a subject is its baseline and must be on or before the subject's
reference (infusion) date; every later assessment must be after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.recist_read import (
    dense_codes,
    lymph_node_flags,
    map_vocabulary,
    parse_days,
    parse_diameters,
)
from cartrial.rules.recist_tables import RecistCriteria
from cartrial.vocab import LESION_CATEGORIES, LESION_STATUSES

__all__ = [
    "STATUSES",
    "EncodedLesions",
    "encode_lesions",
]

TARGET, NON_TARGET, NEW = 0, 1, 2
#: Status codes; ``""`` is a blank status.
STATUSES: tuple[str, ...] = (*LESION_STATUSES, "")
PRESENT, TOO_SMALL, ABSENT, NE, UNEQ_PROG, EQUIVOCAL, UNEQUIVOCAL, BLANK = range(8)
_ALLOWED: dict[int, frozenset[int]] = {
    TARGET: frozenset({PRESENT, TOO_SMALL, ABSENT, NE, BLANK}),
    NON_TARGET: frozenset({PRESENT, ABSENT, UNEQ_PROG, NE}),
    NEW: frozenset({EQUIVOCAL, UNEQUIVOCAL}),
}


@dataclass(frozen=True)
class EncodedLesions:
    """The lesion table as integer arrays, checked against the RECIST 1.1 input rules.

    Row arrays have one entry per input row, time-point arrays one per (subject, assessment date)
    sorted by subject then date, subject arrays one per subject sorted by ``subject_ids``.
    Days are integer days since 1970-01-01; sizes are integer tenths of a millimetre.
    """

    subject_ids: npt.NDArray[np.object_]
    reference_day: npt.NDArray[np.int64]
    n_targets: npt.NDArray[np.int64]
    n_nontargets: npt.NDArray[np.int64]
    tp_subject: npt.NDArray[np.int64]
    tp_day: npt.NDArray[np.int64]
    tp_is_baseline: npt.NDArray[np.bool_]
    row_tp: npt.NDArray[np.int64]
    row_category: npt.NDArray[np.int8]
    row_status: npt.NDArray[np.int8]
    row_is_node: npt.NDArray[np.bool_]
    row_size_tenths: npt.NDArray[np.int64]
    row_lesion: npt.NDArray[np.int64]


class _Reporter:
    """Formats the first offending row of a mask as a :class:`RuleInputError`.

    ``row_numbers`` maps a position of ``frame`` to its 1-based row in the caller's table (the
    frame may be a subset of it); None means the frame is the whole table.
    """

    def __init__(self, frame: pd.DataFrame, row_numbers: npt.NDArray[np.int64] | None) -> None:
        self.frame = frame
        self.row_numbers = row_numbers

    def check(self, bad: npt.NDArray[np.bool_], problem: str, rule: str) -> None:
        if not bad.any():
            return
        positions = np.flatnonzero(bad)
        first = int(positions[0])
        row = self.frame.iloc[first]
        number = first + 1 if self.row_numbers is None else int(self.row_numbers[first])
        more = f" ({len(positions) - 1} more row(s) like it)" if len(positions) > 1 else ""
        raise RuleInputError(
            f"row {number}: subject {row['subject_id']}, "
            f"date {row['assessment_date']}, lesion {row['lesion_id']}: {problem}{more} "
            f"(rule: {rule})"
        )


def encode_lesions(
    frame: pd.DataFrame,
    reference: pd.Series,
    crit: RecistCriteria,
    row_numbers: npt.NDArray[np.int64] | None = None,
) -> EncodedLesions:
    """Check the lesion table against the RECIST 1.1 input rules and encode it.

    Parameters
    ----------
    frame : DataFrame
        The lesion table (see :func:`read_lesions`).
    reference : Series
        Reference days by subject ID text (see :func:`reference_days`).
    crit : RecistCriteria
        Thresholds for the baseline checks.
    row_numbers : numpy.ndarray, optional
        1-based row numbers, in the caller's table, of the rows of ``frame`` (for messages).

    Returns
    -------
    EncodedLesions

    Raises
    ------
    RuleInputError
        For the first row that breaks a rule (unknown category or status, negative or missing
        diameter, unparseable date, duplicate lesion row, lesion ID reused with another category,
        target or non-target lesion first recorded after baseline, new lesion at baseline, follow-up
        assessment on or before the reference date, baseline after the reference date, a baseline
        target that is not measurable, more than 5 targets or more than 2 per organ).
    """
    report = _Reporter(frame, row_numbers)
    subj_codes, subj_uniques = pd.factorize(frame["subject_id"], sort=True)
    report.check(subj_codes < 0, "subject_id is missing", "every row names its subject")
    subject_ids = np.asarray([str(s) for s in subj_uniques], dtype=object)
    category = map_vocabulary(
        frame["category"],
        dict(zip(LESION_CATEGORIES, range(3), strict=True)),
        missing=-1,
        unknown=-1,
        upper_ne=False,
    )
    report.check(category < 0, "unknown category", "category is target, non_target or new")
    status = map_vocabulary(
        frame["status"],
        {s: i for i, s in enumerate(STATUSES)},
        missing=BLANK,
        unknown=-1,
        upper_ne=True,
    )
    for cat, allowed in _ALLOWED.items():
        report.check(
            (category == cat) & ~np.isin(status, list(allowed)),
            f"status not allowed for a {LESION_CATEGORIES[cat]} lesion",
            "target: present|too_small|absent|NE; non_target: present|absent|"
            "unequivocal_progression|NE; new: equivocal|unequivocal",
        )
    diameter, bad_diameter = parse_diameters(frame["diameter_mm"])
    has_diameter = ~np.isnan(diameter)
    report.check(bad_diameter, "diameter_mm is not a number", "diameters are numbers in mm")
    report.check(has_diameter & (diameter < 0), "negative diameter", "diameters are >= 0 mm")
    node_flag = lymph_node_flags(frame["is_lymph_node"])
    report.check(node_flag == -2, "is_lymph_node is not true/false", "is_lymph_node is boolean")
    report.check(
        (node_flag == -1) & (category != NEW),
        "is_lymph_node is missing",
        "target and non-target lesions state whether they are lymph nodes",
    )
    is_target = category == TARGET
    report.check(
        is_target & np.isin(status, [PRESENT, BLANK]) & ~has_diameter,
        "target lesion without a measurement",
        "a target lesion is measured, too_small, absent (0 mm) or NE",
    )
    report.check(
        is_target & (status == TOO_SMALL) & has_diameter & (diameter != crit.too_small_mm),
        f"too_small target with a measured diameter other than {crit.too_small_mm:g} mm",
        "too small to measure = default 5 mm; record a real measurement as present",
    )
    report.check(
        is_target & (status == ABSENT) & has_diameter & (diameter > 0),
        "absent target with a diameter > 0",
        "a disappeared target lesion is recorded as 0 mm",
    )
    report.check(
        is_target & (status == NE) & has_diameter,
        "target marked NE but measured",
        "NE means not evaluated: no measurement",
    )
    row_day, bad_day = parse_days(frame["assessment_date"])
    report.check(bad_day, "assessment_date is not a date", "dates are ISO dates")

    ref = reference.reindex(subject_ids).to_numpy(dtype=float)
    row_ref = ref[subj_codes]
    report.check(
        np.isnan(row_ref),
        "subject has no reference (infusion) date",
        "every evaluated subject has a reference date",
    )
    day_min = int(row_day.min())
    span = int(row_day.max()) - day_min + 1
    tp_keys, tp_uniques = pd.factorize(
        subj_codes.astype(np.int64) * span + (row_day - day_min), sort=True
    )
    row_tp = tp_keys.astype(np.int64)
    tp_uniques = np.asarray(tp_uniques, dtype=np.int64)
    tp_subject = tp_uniques // span
    tp_day = tp_uniques % span + day_min
    tp_is_baseline = np.ones(len(tp_subject), dtype=bool)
    tp_is_baseline[1:] = tp_subject[1:] != tp_subject[:-1]
    row_baseline = tp_is_baseline[row_tp]
    report.check(
        row_baseline & (row_day > row_ref),
        "first assessment is after the reference date: no baseline assessment",
        "the baseline assessment is on or before the reference (infusion) date",
    )
    report.check(
        ~row_baseline & (row_day <= row_ref),
        "assessment after baseline but on or before the reference date",
        "only the baseline assessment may precede the reference (infusion) date",
    )

    lid_codes, lid_uniques = pd.factorize(frame["lesion_id"])
    report.check(lid_codes < 0, "lesion_id is missing", "every row names its lesion")
    n_ids = max(len(lid_uniques), 1)
    row_lesion, n_lesions = dense_codes(subj_codes.astype(np.int64) * n_ids + lid_codes)
    _, n_pairs = dense_codes(row_tp * n_ids + lid_codes)
    duplicate = np.zeros(len(frame), dtype=bool)
    if n_pairs < len(frame):
        duplicate = pd.Series(row_tp * n_ids + lid_codes).duplicated().to_numpy()
    report.check(
        duplicate, "lesion recorded twice at one assessment", "one row per lesion per date"
    )
    first_category = np.full(n_lesions, -1, dtype=np.int8)
    first_category[row_lesion] = category
    report.check(
        category != first_category[row_lesion],
        "lesion ID reused with another category",
        "a lesion keeps its category (target, non_target, new) at every assessment",
    )
    first_node = np.full(n_lesions, -1, dtype=np.int8)
    first_node[row_lesion] = node_flag
    report.check(
        (category != NEW) & (node_flag != first_node[row_lesion]),
        "lesion changes is_lymph_node between assessments",
        "a lesion is a lymph node at every assessment or at none",
    )
    at_baseline = np.zeros(n_lesions, dtype=bool)
    at_baseline[row_lesion[row_baseline]] = True
    report.check(
        is_target & ~at_baseline[row_lesion],
        "target lesion first recorded after baseline",
        "target lesions are chosen at baseline only (RECIST 1.1 §3.2); later lesions are new",
    )
    report.check(
        (category == NON_TARGET) & ~at_baseline[row_lesion],
        "non-target lesion first recorded after baseline",
        "non-target lesions are recorded at baseline (RECIST 1.1 §3.2); later lesions are new",
    )
    report.check(
        (category == NEW) & row_baseline,
        "new lesion at the baseline assessment",
        "new lesions appear only after baseline (RECIST 1.1 §4.3.3)",
    )

    is_node = node_flag == 1
    _check_baseline(report, frame, crit, row_baseline, category, status, diameter, is_node)
    _check_target_counts(report, frame, crit, subj_codes, row_baseline & is_target, is_node)

    size = np.where(
        status == TOO_SMALL,
        crit.too_small_mm,
        np.where(status == ABSENT, 0.0, np.where(has_diameter, diameter, np.nan)),
    )
    size_tenths = np.where(np.isnan(size), -1, np.rint(size * 10.0)).astype(np.int64)
    n_subjects = len(subject_ids)
    return EncodedLesions(
        subject_ids=subject_ids,
        reference_day=ref.astype(np.int64),
        n_targets=np.bincount(subj_codes[row_baseline & is_target], minlength=n_subjects),
        n_nontargets=np.bincount(
            subj_codes[row_baseline & (category == NON_TARGET)], minlength=n_subjects
        ),
        tp_subject=tp_subject,
        tp_day=tp_day,
        tp_is_baseline=tp_is_baseline,
        row_tp=row_tp,
        row_category=category,
        row_status=status,
        row_is_node=is_node,
        row_size_tenths=size_tenths,
        row_lesion=row_lesion,
    )


def _check_baseline(
    report: _Reporter,
    frame: pd.DataFrame,
    crit: RecistCriteria,
    row_baseline: npt.NDArray[np.bool_],
    category: npt.NDArray[np.int8],
    status: npt.NDArray[np.int8],
    diameter: npt.NDArray[np.float64],
    is_node: npt.NDArray[np.bool_],
) -> None:
    """Measurability of baseline targets and presence of baseline non-targets (RECIST 1.1 §3)."""
    base_target = row_baseline & (category == TARGET)
    report.check(
        base_target & ~np.isin(status, [PRESENT, BLANK]),
        "baseline target lesion not measured",
        "a target lesion is measured at baseline (RECIST 1.1 §3.2)",
    )
    report.check(
        base_target & ~is_node & (diameter < crit.non_nodal_min_mm),
        f"non-nodal target lesion < {crit.non_nodal_min_mm:g} mm longest diameter at baseline",
        f"measurable lesion: longest diameter >= {crit.non_nodal_min_mm:g} mm (RECIST 1.1 §3.1)",
    )
    report.check(
        base_target & is_node & (diameter < crit.nodal_target_min_mm),
        f"target lymph node < {crit.nodal_target_min_mm:g} mm short axis at baseline",
        f"target node: short axis >= {crit.nodal_target_min_mm:g} mm (RECIST 1.1 §3.1)",
    )
    base_nontarget = row_baseline & (category == NON_TARGET)
    report.check(
        base_nontarget & (status != PRESENT),
        "baseline non-target lesion not recorded as present",
        "non-target lesions are present at baseline (RECIST 1.1 §3.2)",
    )
    report.check(
        base_nontarget & is_node & (diameter < crit.nodal_pathological_min_mm),
        f"non-target lymph node < {crit.nodal_pathological_min_mm:g} mm short axis at baseline",
        "nodes < 10 mm short axis are normal, not disease (RECIST 1.1 §3.1)",
    )


def _check_target_counts(
    report: _Reporter,
    frame: pd.DataFrame,
    crit: RecistCriteria,
    subj_codes: npt.NDArray[np.intp],
    base_target: npt.NDArray[np.bool_],
    is_node: npt.NDArray[np.bool_],
) -> None:
    """At most 5 targets per subject and 2 per organ, all nodes one organ (RECIST 1.1 §3.2)."""
    positions = np.flatnonzero(base_target)
    raw_organ = frame["organ"].iloc[positions]
    organ_text = raw_organ.astype(str).str.strip().str.lower()
    missing = np.zeros(len(frame), dtype=bool)
    missing[positions] = (raw_organ.isna() | (organ_text == "")).to_numpy() & ~is_node[positions]
    report.check(
        missing,
        "non-nodal target lesion without organ",
        "at most two targets per organ (RECIST 1.1 §3.2): the organ must be known",
    )
    organ = np.where(is_node[positions], crit.lymph_node_organ, organ_text.to_numpy(object))
    rank_in_subject = pd.Series(positions).groupby(subj_codes[positions]).cumcount()
    too_many = np.zeros(len(frame), dtype=bool)
    too_many[positions] = rank_in_subject.to_numpy() >= crit.max_targets
    report.check(
        too_many,
        f"target lesion beyond the {crit.max_targets} allowed",
        f"at most {crit.max_targets} target lesions in total (RECIST 1.1 §3.2)",
    )
    organ_codes, _ = pd.factorize(organ)
    rank_in_organ = pd.Series(positions).groupby([subj_codes[positions], organ_codes]).cumcount()
    too_many[positions] = rank_in_organ.to_numpy() >= crit.max_targets_per_organ
    report.check(
        too_many,
        f"target lesion beyond the {crit.max_targets_per_organ} allowed in this organ "
        f"(all lymph nodes count as one organ)",
        f"at most {crit.max_targets_per_organ} target lesions per organ (RECIST 1.1 §3.2)",
    )
