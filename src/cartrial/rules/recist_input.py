"""Read, check and encode the long RECIST lesion table for the vectorised engine.

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

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.recist_tables import RecistCriteria

__all__ = [
    "LESION_COLUMNS",
    "STATUSES",
    "EncodedLesions",
    "ReferenceDates",
    "encode_lesions",
    "read_lesions",
    "reference_days",
]

LESION_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "assessment_date",
    "lesion_id",
    "category",
    "organ",
    "is_lymph_node",
    "diameter_mm",
    "status",
)
CATEGORIES: tuple[str, ...] = ("target", "non_target", "new")
TARGET, NON_TARGET, NEW = 0, 1, 2
#: Status codes; ``""`` is a blank status.
STATUSES: tuple[str, ...] = (
    "present",
    "too_small",
    "absent",
    "NE",
    "unequivocal_progression",
    "equivocal",
    "unequivocal",
    "",
)
PRESENT, TOO_SMALL, ABSENT, NE, UNEQ_PROG, EQUIVOCAL, UNEQUIVOCAL, BLANK = range(8)
_ALLOWED: dict[int, frozenset[int]] = {
    TARGET: frozenset({PRESENT, TOO_SMALL, ABSENT, NE, BLANK}),
    NON_TARGET: frozenset({PRESENT, ABSENT, UNEQ_PROG, NE}),
    NEW: frozenset({EQUIVOCAL, UNEQUIVOCAL}),
}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

ReferenceDates = Mapping[str, "date | str | pd.Timestamp"] | pd.DataFrame | pd.Series


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


def read_lesions(source: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    """Return the lesion table from a DataFrame or a CSV path, checking its columns.

    Parameters
    ----------
    source : DataFrame or path
        The long lesion table. A CSV is read as text (no value is turned into a missing value
        except an empty cell), so a status ``NA`` is reported as unknown rather than dropped.

    Returns
    -------
    DataFrame
        The table with at least :data:`LESION_COLUMNS`.
    """
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    missing = [c for c in LESION_COLUMNS if c not in frame.columns]
    if missing:
        raise RuleInputError(
            f"RECIST lesion table lacks column(s) {', '.join(missing)} "
            f"(rule: required columns {', '.join(LESION_COLUMNS)})"
        )
    return frame


def reference_days(reference_dates: ReferenceDates) -> pd.Series:
    """Map subject ID (as text) to its reference date in integer days since 1970-01-01.

    Parameters
    ----------
    reference_dates : mapping, Series or DataFrame
        ``{subject_id: date}``, a Series indexed by subject, or a DataFrame with ``subject_id``
        and ``reference_date`` (or ``infusion_date``) columns. A missing date is kept as
        missing and refused later only for subjects that have lesion rows.

    Returns
    -------
    Series
        Float days (NaN when missing) indexed by subject ID text.
    """
    if isinstance(reference_dates, pd.DataFrame):
        column = next(
            (c for c in ("reference_date", "infusion_date") if c in reference_dates.columns), None
        )
        if "subject_id" not in reference_dates.columns or column is None:
            raise RuleInputError(
                "reference dates need columns subject_id and reference_date (or infusion_date)"
            )
        series = pd.Series(
            reference_dates[column].to_numpy(),
            index=reference_dates["subject_id"].astype(str).to_numpy(),
        )
    elif isinstance(reference_dates, pd.Series):
        series = reference_dates.copy()
        series.index = series.index.astype(str)
    else:
        series = pd.Series({str(k): v for k, v in reference_dates.items()}, dtype=object)
    parsed = pd.to_datetime(series.replace("", None), errors="coerce")
    bad = parsed.isna() & series.notna() & (series.astype(str) != "")
    if bad.any():
        sid = bad[bad].index[0]
        raise RuleInputError(
            f"subject {sid}: reference date {series[sid]!r} is not a date "
            "(rule: one reference (infusion) date per subject)"
        )
    if parsed.index.duplicated().any():
        sid = parsed.index[parsed.index.duplicated()][0]
        raise RuleInputError(
            f"subject {sid}: more than one reference date (rule: one reference date per subject)"
        )
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    values = np.where(pd.isna(parsed.to_numpy()), np.nan, days.astype(np.int64).astype(float))
    return pd.Series(values, index=parsed.index, dtype=float)


def _map_vocabulary(
    column: pd.Series, vocabulary: Mapping[str, int], *, missing: int, unknown: int, upper_ne: bool
) -> npt.NDArray[np.int8]:
    """Encode a text column through ``vocabulary`` after stripping (and lower-casing) each value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    table = []
    for value in uniques:
        text = str(value).strip()
        key = "NE" if upper_ne and text.upper() == "NE" else text.lower()
        table.append(missing if text == "" else vocabulary.get(key, unknown))
    table.append(missing)  # the NA sentinel -1 picks the last entry
    return np.asarray(table, dtype=np.int8)[codes]


def _parse_days(column: pd.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Return integer days since 1970-01-01 and a mask of values that are not dates."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        values = column.to_numpy(dtype="datetime64[ns]")
        bad = np.isnat(values)
        return np.where(bad, 0, values.astype("datetime64[D]").astype(np.int64)), bad
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), errors="coerce", format="mixed")
    unique_values = parsed.to_numpy(dtype="datetime64[ns]")
    unique_bad = np.append(np.isnat(unique_values), True)
    unique_days = np.append(
        np.where(
            np.isnat(unique_values), 0, unique_values.astype("datetime64[D]").astype(np.int64)
        ),
        0,
    )
    return unique_days[codes], unique_bad[codes]


def _parse_diameters(column: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Diameters in mm (NaN when empty) and a mask of values that are not numbers."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float), np.zeros(len(column), dtype=bool)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(float)
    unique_bad = np.isnan(values) & (text != "").to_numpy()
    return np.append(values, np.nan)[codes], np.append(unique_bad, False)[codes]


def _dense_codes(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Number the distinct non-negative integer keys 0..k-1 in key order; return codes and k."""
    if len(key) == 0:
        return key, 0
    top = int(key.max()) + 1
    if top <= 8 * len(key) + 1_000_000:
        present = np.bincount(key, minlength=top) > 0
        rank = np.cumsum(present) - 1
        return rank[key], int(present.sum())
    codes, uniques = pd.factorize(key, sort=True)
    return codes.astype(np.int64), len(uniques)


class _Reporter:
    """Formats the first offending row of a mask as a :class:`RuleInputError`."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def check(self, bad: npt.NDArray[np.bool_], problem: str, rule: str) -> None:
        if not bad.any():
            return
        positions = np.flatnonzero(bad)
        row = self.frame.iloc[int(positions[0])]
        more = f" ({len(positions) - 1} more row(s) like it)" if len(positions) > 1 else ""
        raise RuleInputError(
            f"row {int(positions[0]) + 1}: subject {row['subject_id']}, "
            f"date {row['assessment_date']}, lesion {row['lesion_id']}: {problem}{more} "
            f"(rule: {rule})"
        )


def _lymph_node_flags(column: pd.Series) -> npt.NDArray[np.int8]:
    """1 = node, 0 = not a node, -1 = missing, -2 = not a boolean."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.int8)
    vocabulary = {word: 1 for word in _TRUE} | {word: 0 for word in _FALSE}
    return _map_vocabulary(column, vocabulary, missing=-1, unknown=-2, upper_ne=False)


def encode_lesions(
    frame: pd.DataFrame, reference: pd.Series, crit: RecistCriteria
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
    report = _Reporter(frame)
    subj_codes, subj_uniques = pd.factorize(frame["subject_id"], sort=True)
    report.check(subj_codes < 0, "subject_id is missing", "every row names its subject")
    subject_ids = np.asarray([str(s) for s in subj_uniques], dtype=object)
    category = _map_vocabulary(
        frame["category"],
        dict(zip(CATEGORIES, range(3), strict=True)),
        missing=-1,
        unknown=-1,
        upper_ne=False,
    )
    report.check(category < 0, "unknown category", "category is target, non_target or new")
    status = _map_vocabulary(
        frame["status"],
        {s: i for i, s in enumerate(STATUSES)},
        missing=BLANK,
        unknown=-1,
        upper_ne=True,
    )
    for cat, allowed in _ALLOWED.items():
        report.check(
            (category == cat) & ~np.isin(status, list(allowed)),
            f"status not allowed for a {CATEGORIES[cat]} lesion",
            "target: present|too_small|absent|NE; non_target: present|absent|"
            "unequivocal_progression|NE; new: equivocal|unequivocal",
        )
    diameter, bad_diameter = _parse_diameters(frame["diameter_mm"])
    has_diameter = ~np.isnan(diameter)
    report.check(bad_diameter, "diameter_mm is not a number", "diameters are numbers in mm")
    report.check(has_diameter & (diameter < 0), "negative diameter", "diameters are >= 0 mm")
    node_flag = _lymph_node_flags(frame["is_lymph_node"])
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
    row_day, bad_day = _parse_days(frame["assessment_date"])
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
    row_lesion, n_lesions = _dense_codes(subj_codes.astype(np.int64) * n_ids + lid_codes)
    _, n_pairs = _dense_codes(row_tp * n_ids + lid_codes)
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
