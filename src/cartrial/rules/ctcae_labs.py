"""CTCAE v5.0 grading of laboratory values, criteria as data.

The criteria live in ``data/ctcae/lab_criteria.csv`` (one row per numeric criterion, with its
CTCAE text), the CDISC test codes in ``lab_tests.csv`` and the unit factors in
``lab_units.csv``. A value is converted to the SI unit of its test, every criterion of the term
is evaluated, and the grade is the highest grade whose criterion fires ("highest grade first",
CTCAE v5.0); grade 0 means no criterion fired (within limits, as ADaM ``ATOXGR``). Each result
names the criterion that fired.

:func:`grade_lab` grades one value; :func:`grade_labs` grades a whole table with numpy (one pass
per test code and criterion, no per-row Python loop).

>>> from cartrial.rules import ctcae
>>> r = ctcae.grade_lab("Neutrophil count decreased", 0.4, unit="10^9/L", lln=1.8)
>>> (r.grade, r.criterion)
(4, 'NEUT.low.g4.abs')
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.ctcae_catalogue import normalise_term, term_info
from cartrial.rules.ctcae_data import CTCAE_VERSION, read_table
from cartrial.rules.ctcae_units import unit_factor

__all__ = [
    "CLINICAL",
    "NO_CRITERION",
    "LabCriterion",
    "LabGrade",
    "LabTerm",
    "LabTest",
    "grade_lab",
    "grade_labs",
    "lab_criteria",
    "lab_term",
    "lab_tests",
    "term_for_testcd",
]

NO_CRITERION = "none"
"""Criterion id reported when no criterion fired (grade 0)."""
CLINICAL = "clinical"
"""Criterion id reported when the value is abnormal but CTCAE v5.0 has no numeric criteria."""

_T = TypeVar("_T", bound=np.generic)
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_OPS: dict[str, Callable[[FloatArray, FloatArray | float], BoolArray]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class LabCriterion:
    """One numeric criterion: fires when ``value <op> factor * reference``.

    ``basis`` names the reference (``abs`` = 1, i.e. ``factor`` is an SI threshold; ``lln``,
    ``uln``, ``baseline``); ``applies_when`` restricts it to a baseline state.
    """

    criterion_id: str
    term: str
    grade: int
    basis: str
    op: str
    factor: float
    applies_when: str
    text: str


@dataclass(frozen=True)
class LabTest:
    """A CDISC LBTESTCD with its unit group and its low/high CTCAE terms (None = no term)."""

    lbtestcd: str
    test: str
    unit_group: str
    low_term: str | None
    high_term: str | None


@dataclass(frozen=True)
class LabTerm:
    """A gradable lab term: its test code, direction (``low``/``high``) and criteria."""

    term: str
    lbtestcd: str
    direction: str
    unit_group: str
    criteria: tuple[LabCriterion, ...]

    @property
    def classifies_baseline(self) -> bool:
        """The term has separate rules for a normal and an abnormal baseline."""
        return any(
            c.applies_when.startswith("baseline_") and c.applies_when != "baseline_known"
            for c in self.criteria
        )

    @property
    def has_symptom_rules(self) -> bool:
        """Some criteria apply only to a symptomatic patient."""
        return any(c.applies_when == "symptomatic" for c in self.criteria)

    @property
    def needs_lln(self) -> bool:
        """LLN is required: a criterion uses it, or it classifies the baseline (low terms)."""
        return any(c.basis == "lln" for c in self.criteria) or (
            self.direction == "low" and self.classifies_baseline
        )

    @property
    def needs_uln(self) -> bool:
        """ULN is required: a criterion uses it, or it classifies the baseline (high terms)."""
        return any(c.basis == "uln" for c in self.criteria) or (
            self.direction == "high" and self.classifies_baseline
        )


@dataclass(frozen=True)
class LabGrade:
    """The CTCAE grade of one lab value and the criterion that fired.

    Attributes
    ----------
    term : str
        CTCAE term graded.
    grade : int
        0-4 (0 = no criterion met).
    criterion : str
        Id of the criterion that fired (``lab_criteria.csv``), ``"none"`` for grade 0.
    rule : str
        CTCAE wording of that criterion.
    value_si, si_unit
        The value converted to the SI unit the thresholds are stated in.
    needs_clinical_input : bool
        Symptoms were not stated and would raise the grade (e.g. lipase > 2 x ULN with
        symptoms is grade 3): the grade is the lab-only grade, to be completed clinically.
    ctcae_version : str
        ``"5.0"``.
    """

    term: str
    grade: int
    criterion: str
    rule: str
    value_si: float
    si_unit: str
    needs_clinical_input: bool = False
    ctcae_version: str = CTCAE_VERSION


@dataclass(frozen=True)
class _Registry:
    tests: dict[str, LabTest]
    terms: dict[str, LabTerm]
    criterion_ids: tuple[str, ...]
    criterion_code: dict[str, int]
    term_names: tuple[str, ...]
    term_code: dict[str, int]
    si_units: tuple[str, ...]


def _blank_to_none(text: str) -> str | None:
    return text.strip() or None


@cache
def _registry() -> _Registry:
    tests = {
        row["lbtestcd"]: LabTest(
            lbtestcd=row["lbtestcd"],
            test=row["test"],
            unit_group=row["unit_group"],
            low_term=_blank_to_none(row["low_term"]),
            high_term=_blank_to_none(row["high_term"]),
        )
        for row in read_table("lab_tests.csv")
    }
    owner: dict[str, tuple[LabTest, str]] = {}
    for test in tests.values():
        for direction, term in (("low", test.low_term), ("high", test.high_term)):
            if term is not None:
                owner[term] = (test, direction)
    criteria: dict[str, list[LabCriterion]] = {}
    for row in read_table("lab_criteria.csv"):
        crit = LabCriterion(
            criterion_id=row["criterion_id"],
            term=row["term"],
            grade=int(row["grade"]),
            basis=row["basis"],
            op=row["op"],
            factor=float(row["factor"]),
            applies_when=row["applies_when"],
            text=row["text"],
        )
        criteria.setdefault(crit.term, []).append(crit)
    terms: dict[str, LabTerm] = {}
    for name, crits in criteria.items():
        test, direction = owner[name]
        terms[normalise_term(name)] = LabTerm(
            term=name,
            lbtestcd=test.lbtestcd,
            direction=direction,
            unit_group=test.unit_group,
            criteria=tuple(sorted(crits, key=lambda c: c.grade)),
        )
    ids = (NO_CRITERION, CLINICAL, *(c.criterion_id for cs in criteria.values() for c in cs))
    names = tuple(owner)
    units = tuple(sorted({row["si_unit"] for row in read_table("lab_units.csv")}))
    return _Registry(
        tests=tests,
        terms=terms,
        criterion_ids=ids,
        criterion_code={c: i for i, c in enumerate(ids)},
        term_names=names,
        term_code={t: i for i, t in enumerate(names)},
        si_units=units,
    )


def lab_tests() -> tuple[LabTest, ...]:
    """Every supported LBTESTCD with its CTCAE terms."""
    return tuple(_registry().tests.values())


def lab_criteria() -> pd.DataFrame:
    """The criteria table (one row per criterion) as a DataFrame, for display and audit."""
    return pd.DataFrame([c.__dict__ for t in _registry().terms.values() for c in t.criteria])


def term_for_testcd(lbtestcd: str, direction: str) -> str | None:
    """CTCAE term for a CDISC test code in a direction (``"low"`` or ``"high"``).

    Returns None when CTCAE v5.0 has no term for that direction (e.g. NEUT high).

    Raises
    ------
    RuleInputError
        Unknown test code or direction.
    """
    test = _registry().tests.get(lbtestcd.strip().upper())
    if test is None:
        known = ", ".join(_registry().tests)
        raise RuleInputError(f"unknown LBTESTCD {lbtestcd!r} (supported: {known})")
    if direction == "low":
        return test.low_term
    if direction == "high":
        return test.high_term
    raise RuleInputError(f"direction must be 'low' or 'high', got {direction!r}")


def lab_term(term: str) -> LabTerm:
    """The gradable lab term named ``term``.

    Raises
    ------
    RuleInputError
        Unknown term, or a term without numeric criteria in CTCAE v5.0 (e.g. Hyperglycemia).
    """
    lab = _registry().terms.get(normalise_term(term))
    if lab is None:
        info = term_info(term)
        raise RuleInputError(
            f"{info.term!r} has no numeric lab criteria in CTCAE v{CTCAE_VERSION}; "
            "grade it clinically"
        )
    return lab


@dataclass(frozen=True)
class _Rows:
    """Labels of a subset of rows, looked up only when an error names one."""

    labels: pd.Index
    positions: npt.NDArray[np.intp]

    def __getitem__(self, i: int) -> object:
        return self.labels[int(self.positions[i])]


_Labels = pd.Index | _Rows | None


def _where(label: object | None) -> str:
    return "" if label is None else f"row {label}: "


def _first_bad(bad: BoolArray, labels: _Labels) -> object | None:
    return None if labels is None else labels[int(np.argmax(bad))]


def _check_numbers(
    value: FloatArray,
    limits: dict[str, FloatArray],
    labels: _Labels,
) -> None:
    """Reject missing or negative values and impossible limits, naming row and field."""
    bad = ~np.isfinite(value)
    if bad.any():
        where = _where(_first_bad(bad, labels))
        raise RuleInputError(f"{where}field 'value': missing or non-numeric lab value")
    bad = value < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise RuleInputError(
            f"{_where(_first_bad(bad, labels))}field 'value': negative value {value[i]:g} "
            "is impossible for a laboratory measurement"
        )
    for field, arr in limits.items():
        bad = np.isinf(arr) | (arr < 0) | ((arr == 0) & (field != "lln"))
        if bad.any():
            i = int(np.argmax(bad))
            raise RuleInputError(
                f"{_where(_first_bad(bad, labels))}field {field!r}: impossible value {arr[i]:g}"
            )
    lln, uln = limits["lln"], limits["uln"]
    bad = lln > uln
    if bad.any():
        raise RuleInputError(f"{_where(_first_bad(bad, labels))}field 'lln': LLN is above ULN")


def _require(arr: FloatArray, field: str, lab: LabTerm, labels: _Labels) -> None:
    missing = np.isnan(arr)
    if missing.any():
        raise RuleInputError(
            f"{_where(_first_bad(missing, labels))}field {field!r} is required to grade "
            f"{lab.term!r} (CTCAE criteria relative to {field.upper()})"
        )


def _grade_term(
    lab: LabTerm,
    value: FloatArray,
    lln: FloatArray,
    uln: FloatArray,
    baseline: FloatArray,
    symptomatic: FloatArray,
    labels: _Labels,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int16], BoolArray]:
    """Grades, criterion codes and needs-clinical-input flags for one term (vectorised).

    ``symptomatic`` is 1.0 (yes), 0.0 (no) or NaN (not stated).
    """
    if lab.needs_lln:
        _require(lln, "lln", lab, labels)
    if lab.needs_uln:
        _require(uln, "uln", lab, labels)
    known = ~np.isnan(baseline)
    abnormal = known & ((baseline > uln) if lab.direction == "high" else (baseline < lln))
    applies: dict[str, BoolArray | None] = {
        "always": None,
        "baseline_normal": ~abnormal,
        "baseline_abnormal": abnormal,
        "baseline_known": known,
        "symptomatic": symptomatic == 1.0,
    }
    reference = {"lln": lln, "uln": uln, "baseline": baseline}
    codes = _registry().criterion_code
    grade = np.zeros(value.shape, dtype=np.int8)
    code = np.zeros(value.shape, dtype=np.int16)
    for crit in lab.criteria:
        threshold = crit.factor if crit.basis == "abs" else reference[crit.basis] * crit.factor
        fired = _OPS[crit.op](value, threshold) & (grade < crit.grade)
        mask = applies[crit.applies_when]
        if mask is not None:
            fired &= mask
        grade[fired] = crit.grade
        code[fired] = codes[crit.criterion_id]
    if not lab.has_symptom_rules:
        return grade, code, np.zeros(value.shape, dtype=bool)
    ceiling = _symptom_ceiling(lab, value, reference, np.isnan(symptomatic))
    return grade, code, ceiling > grade


def _symptom_ceiling(
    lab: LabTerm, value: FloatArray, reference: dict[str, FloatArray], unknown: BoolArray
) -> npt.NDArray[np.int8]:
    """Highest grade the symptomatic criteria would give rows whose symptoms are unstated."""
    ceiling = np.zeros(value.shape, dtype=np.int8)
    for crit in lab.criteria:
        if crit.applies_when != "symptomatic":
            continue
        threshold = crit.factor if crit.basis == "abs" else reference[crit.basis] * crit.factor
        fired = _OPS[crit.op](value, threshold) & unknown
        ceiling[fired] = np.maximum(ceiling[fired], crit.grade)
    return ceiling


def _optional(x: float | None) -> float:
    return np.nan if x is None else float(x)


def grade_lab(
    term: str,
    value: float,
    *,
    unit: str,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
    symptomatic: bool | None = None,
) -> LabGrade:
    """Grade one lab value with CTCAE v5.0.

    Parameters
    ----------
    term : str
        CTCAE lab term, e.g. ``"Alanine aminotransferase increased"`` (see
        :func:`term_for_testcd` to go from an LBTESTCD).
    value : float
        The result, in ``unit``.
    unit : str
        Unit of ``value``, ``lln``, ``uln`` and ``baseline``; must be listed for the test in
        ``lab_units.csv`` (SI or conventional, converted with the documented factor).
    lln, uln : float, optional
        The laboratory's reference limits; required by terms whose criteria use them.
    baseline : float, optional
        The subject's baseline value; selects the baseline-abnormal rules of the liver tests and
        fibrinogen and adds the ``x baseline`` rules of creatinine.
    symptomatic : bool, optional
        Signs or symptoms of the abnormality (hypokalemia, hyponatremia, lipase/amylase,
        hyperuricemia qualifiers). None = not stated: the lab-only grade is returned and
        ``needs_clinical_input`` says whether symptoms would raise it.

    Returns
    -------
    LabGrade
        Grade 0-4 and the criterion that fired.

    Raises
    ------
    RuleInputError
        Unknown term or unit, a term without numeric criteria, a missing or negative value, a
        missing LLN/ULN that the criteria need.
    """
    lab = lab_term(term)
    factor, si_unit = unit_factor(lab.unit_group, unit, what=lab.lbtestcd)
    raw = np.array([float(value)])
    limits = {"lln": np.array([_optional(lln)]), "uln": np.array([_optional(uln)])}
    _check_numbers(raw, {**limits, "baseline": np.array([_optional(baseline)])}, None)
    v = raw * factor
    grade, code, needs = _grade_term(
        lab,
        v,
        limits["lln"] * factor,
        limits["uln"] * factor,
        np.array([_optional(baseline)]) * factor,
        np.array([np.nan if symptomatic is None else float(symptomatic)]),
        None,
    )
    reg = _registry()
    criterion = reg.criterion_ids[int(code[0])]
    rule = next((c.text for c in lab.criteria if c.criterion_id == criterion), "no criterion met")
    return LabGrade(
        term=lab.term,
        grade=int(grade[0]),
        criterion=criterion,
        rule=rule,
        value_si=float(v[0]),
        si_unit=si_unit,
        needs_clinical_input=bool(needs[0]),
    )


def _numeric_column(df: pd.DataFrame, name: str) -> FloatArray:
    """Column as float64 (NaN where absent/blank); a non-numeric entry is an error."""
    if name not in df.columns:
        return np.full(len(df), np.nan)
    col = df[name]
    if col.dtype.kind in "fiu":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna().to_numpy() & col.notna().to_numpy()
    if col.dtype == object:
        bad &= col.astype(str).str.strip().ne("").to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise RuleInputError(f"row {df.index[i]}: field {name!r}: {col.iloc[i]!r} is not a number")
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class _Out:
    grade: npt.NDArray[np.int8]
    missing: BoolArray
    criterion: npt.NDArray[np.int16]
    term: npt.NDArray[np.int16]
    value_si: FloatArray
    si_unit: npt.NDArray[np.int16]
    needs_input: BoolArray


def _flag_column(df: pd.DataFrame, name: str) -> FloatArray:
    """Yes/no column as 1.0/0.0, NaN where absent or blank; anything else is an error."""
    if name not in df.columns:
        return np.full(len(df), np.nan)
    col = df[name]
    if col.dtype == bool:
        return col.to_numpy(dtype=np.float64)
    words = {"true": 1.0, "yes": 1.0, "y": 1.0, "1": 1.0, "1.0": 1.0}
    words.update({"false": 0.0, "no": 0.0, "n": 0.0, "0": 0.0, "0.0": 0.0, "": np.nan})
    codes, uniques = pd.factorize(col.astype("string").str.strip().str.lower().fillna(""))
    lut = np.empty(len(uniques))
    for i, word in enumerate(uniques):
        if word not in words:
            where = df.index[int(np.argmax(codes == i))]
            raise RuleInputError(f"row {where}: field {name!r}: {word!r} is not yes/no")
        lut[i] = words[word]
    return lut[codes]


def _factors(
    unit_group: str,
    what: str,
    unit_codes: npt.NDArray[np.intp],
    units: pd.Index,
    labels: _Rows,
) -> tuple[FloatArray, str]:
    """Per-row conversion factors for rows of one test (unit codes from ``pd.factorize``)."""
    lut = np.full(len(units), np.nan)
    si_unit = ""
    present = np.flatnonzero(np.bincount(unit_codes + 1, minlength=len(units) + 1)) - 1
    for u in present:
        first = labels[int(np.argmax(unit_codes == u))]
        if u < 0:
            raise RuleInputError(f"row {first}: field 'unit' is missing")
        try:
            lut[u], si_unit = unit_factor(unit_group, str(units[int(u)]), what=what)
        except RuleInputError as exc:
            raise RuleInputError(f"row {first}: field 'unit': {exc}") from None
    return lut[unit_codes], si_unit


def grade_labs(df: pd.DataFrame) -> pd.DataFrame:
    """Grade a whole lab table with CTCAE v5.0 (vectorised).

    Parameters
    ----------
    df : DataFrame
        Columns ``value`` and ``unit``, and either ``term`` (a CTCAE lab term per row) or
        ``lbtestcd`` (a CDISC test code; both directions are graded and the worse one is kept).
        Optional ``lln``, ``uln``, ``baseline`` (same unit as ``value``; blank = not given) and
        ``symptomatic`` (yes/no; blank = not stated), as in :func:`grade_lab`.
        Errors name the row by the DataFrame index.

    Returns
    -------
    DataFrame
        A copy of ``df`` with ``term``, ``grade`` (nullable Int8; missing when CTCAE v5.0 has
        no numeric criteria for an abnormal value), ``criterion`` (id that fired, ``"none"``,
        or ``"clinical"``), ``needs_clinical_input`` (no numeric criteria, or unstated symptoms
        would raise the grade), ``value_si`` and ``si_unit``.

    Raises
    ------
    RuleInputError
        A missing column, unknown term/test code/unit, a missing, non-numeric or negative
        value, an impossible limit, or a missing LLN/ULN that a row's criteria need.
    """
    for col in ("value", "unit"):
        if col not in df.columns:
            raise RuleInputError(f"lab table has no {col!r} column")
    if "term" in df.columns:
        key = "term"
    elif "lbtestcd" in df.columns:
        key = "lbtestcd"
    else:
        raise RuleInputError("lab table needs a 'term' or an 'lbtestcd' column")
    n = len(df)
    labels = df.index
    value = _numeric_column(df, "value")
    limits = {name: _numeric_column(df, name) for name in ("lln", "uln", "baseline")}
    _check_numbers(value, limits, labels)
    symptomatic = _flag_column(df, "symptomatic")
    unit_codes, units = pd.factorize(df["unit"])
    key_codes, keys = pd.factorize(df[key])
    if (key_codes < 0).any():
        raise RuleInputError(
            f"row {labels[int(np.argmax(key_codes < 0))]}: field {key!r} is missing"
        )
    reg = _registry()
    # Group rows by key with one stable sort: each key's rows become a contiguous slice.
    order = np.argsort(key_codes.astype(np.int32), kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(key_codes, minlength=len(keys)))))
    values = {"value": value[order], **{name: arr[order] for name, arr in limits.items()}}
    values["symptomatic"] = symptomatic[order]
    sorted_units = unit_codes[order]
    out = _Out(
        grade=np.zeros(n, dtype=np.int8),
        missing=np.zeros(n, dtype=bool),
        criterion=np.zeros(n, dtype=np.int16),
        term=np.zeros(n, dtype=np.int16),
        value_si=np.empty(n),
        si_unit=np.zeros(n, dtype=np.int16),
        needs_input=np.zeros(n, dtype=bool),
    )
    pair: tuple[LabTerm | None, LabTerm | None]
    for k, name in enumerate(keys):
        part = slice(int(bounds[k]), int(bounds[k + 1]))
        rows = _Rows(labels, order[part])
        try:
            if key == "term":
                lab = lab_term(str(name))
                low = lab.direction == "low"
                test = replace(
                    reg.tests[lab.lbtestcd],
                    low_term=lab.term if low else None,
                    high_term=None if low else lab.term,
                )
                pair = (lab, None) if low else (None, lab)
            else:
                term_for_testcd(str(name), "low")
                test = reg.tests[str(name).strip().upper()]
                pair = (_gradable(test.low_term), _gradable(test.high_term))
        except RuleInputError as exc:
            raise RuleInputError(f"row {rows[0]}: field {key!r}: {exc}") from None
        factor, si_unit = _factors(test.unit_group, test.lbtestcd, sorted_units[part], units, rows)
        _grade_rows(test, pair, part, factor, values, rows, out)
        out.si_unit[part] = reg.si_units.index(si_unit)
    result = df.copy()
    term_codes = _unsort(out.term, order)
    result["term"] = pd.Categorical.from_codes(term_codes, categories=pd.Index(reg.term_names))
    result["grade"] = pd.arrays.IntegerArray(_unsort(out.grade, order), _unsort(out.missing, order))
    result["criterion"] = pd.Categorical.from_codes(
        _unsort(out.criterion, order), categories=pd.Index(reg.criterion_ids)
    )
    result["needs_clinical_input"] = _unsort(out.needs_input | out.missing, order)
    result["value_si"] = _unsort(out.value_si, order)
    result["si_unit"] = pd.Categorical.from_codes(
        _unsort(out.si_unit, order), categories=pd.Index(reg.si_units)
    )
    return result


def _unsort(sorted_values: npt.NDArray[_T], order: npt.NDArray[np.intp]) -> npt.NDArray[_T]:
    """Put values computed in sorted order back into input order."""
    restored = np.empty_like(sorted_values)
    restored[order] = sorted_values
    return restored


def _gradable(term: str | None) -> LabTerm | None:
    return None if term is None else _registry().terms.get(normalise_term(term))


def _grade_rows(
    test: LabTest,
    pair: tuple[LabTerm | None, LabTerm | None],
    part: slice,
    factor: FloatArray,
    values: dict[str, FloatArray],
    rows: _Rows,
    out: _Out,
) -> None:
    """Grade one test's rows (a slice of the sorted arrays) in both directions; keep the worse."""
    reg = _registry()
    v = values["value"][part] * factor
    lln = values["lln"][part] * factor
    uln = values["uln"][part] * factor
    base = values["baseline"][part] * factor
    sym = values["symptomatic"][part]
    size = v.size
    zeros = (
        np.zeros(size, dtype=np.int8),
        np.zeros(size, dtype=np.int16),
        np.zeros(size, dtype=bool),
    )
    low, high = pair
    g_low, c_low, n_low = zeros if low is None else _grade_term(low, v, lln, uln, base, sym, rows)
    g_high, c_high, n_high = (
        zeros if high is None else _grade_term(high, v, lln, uln, base, sym, rows)
    )
    use_high = g_high > g_low if low is not None else np.full(size, high is not None)
    low_name = low.term if low is not None else (test.low_term or test.high_term or "")
    high_name = high.term if high is not None else (test.high_term or low_name)
    grade = np.where(use_high, g_high, g_low)
    code = np.where(use_high, c_high, c_low)
    term = np.where(use_high, reg.term_code[high_name], reg.term_code[low_name])
    missing = np.zeros(size, dtype=bool)
    # An abnormal value in a direction CTCAE v5.0 grades only clinically (e.g. Hyperglycemia).
    # A missing limit means the value cannot be judged in that direction: also flagged.
    for name, graded, beyond in (
        (test.low_term, low, (v < lln) | np.isnan(lln)),
        (test.high_term, high, (v > uln) | np.isnan(uln)),
    ):
        if name is not None and graded is None:
            clinical = beyond & (grade == 0)
            missing |= clinical
            code = np.where(clinical, reg.criterion_code[CLINICAL], code)
            term = np.where(clinical, reg.term_code[name], term)
    out.grade[part] = grade
    out.missing[part] = missing
    out.needs_input[part] = np.where(use_high, n_high, n_low)
    out.criterion[part] = code
    out.term[part] = term
    out.value_si[part] = v
