"""Cytokine release syndrome grading: ASTCT 2019 consensus (default) or CTCAE v5.0.

ASTCT: Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for Cytokine Release
Syndrome and Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood Marrow
Transplant 2019;25(4):625-638. CRS needs fever >= 38.0 °C not attributable to another cause
(not needed once antipyretics/anti-cytokine therapy were given); the grade is the more severe of
the hypotension and hypoxia grades; fever alone is grade 1; vasopressin does not count towards
"multiple vasopressors"; organ toxicities are graded separately with CTCAE.

CTCAE v5.0 "Cytokine release syndrome": grade 1 fever; 2 hypotension responding to fluids or
hypoxia responding to < 40 % O2; 3 one pressor or >= 40 % O2; 4 life-threatening, urgent
intervention (cartrial reads it as >= 2 pressors other than vasopressin, positive-pressure
ventilation, or an explicit ``life_threatening`` flag); 5 death.

>>> from cartrial.rules.cart_tox import CRSAssessment, grade_crs
>>> g = grade_crs(CRSAssessment(temperature_c=38.9, vasopressors=("norepinephrine",),
...                             oxygen="nasal_cannula", oxygen_flow_l_min=3))
>>> (g.grade, g.driver)
(3, 'hypotension')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cartrial.errors import RuleInputError
from cartrial.rules.cart_tox.criteria import ASTCTCriteria, astct_criteria
from cartrial.rules.cart_tox.result import ToxGrade

__all__ = ["FEVER_C", "OXYGEN_DEVICES", "CRSAssessment", "grade_crs"]

_CRITERIA: ASTCTCriteria = astct_criteria()

FEVER_C: float = _CRITERIA.fever_c
"""Fever threshold, °C (ASTCT 2019 and CTCAE v5.0; ``data/astct/crs_thresholds.csv``)."""

OXYGEN_DEVICES: Mapping[str, str] = _CRITERIA.oxygen_devices
"""Oxygen support -> ASTCT 2019 hypoxia class (``by_flow``: decided by the flow rate;
``data/astct/oxygen_devices.csv``)."""


@dataclass(frozen=True)
class CRSAssessment:
    """One CRS assessment (usually the worst of a day).

    Attributes
    ----------
    temperature_c : float
        Highest temperature, °C.
    hypotension : bool
        Hypotension present (implied when a vasopressor is given).
    vasopressors : tuple of str
        Vasopressors running (e.g. ``("norepinephrine", "vasopressin")``).
    oxygen : str
        Oxygen support, one of :data:`OXYGEN_DEVICES`.
    oxygen_flow_l_min : float, optional
        Flow rate, L/min; required for ``"nasal_cannula"``.
    fio2_pct : float, optional
        Inspired O2 fraction, %; required by the CTCAE method when oxygen is given.
    anti_cytokine_given : bool
        Tocilizumab, corticosteroids or antipyretics already given (fever no longer required).
    fever_other_cause : bool
        The fever is attributed to another cause (e.g. documented infection).
    life_threatening : bool
        Investigator judged the event life-threatening (CTCAE grade 4).
    death_due_to_crs : bool
        Death due to CRS with no other principal cause (grade 5).
    """

    temperature_c: float
    hypotension: bool = False
    vasopressors: tuple[str, ...] = ()
    oxygen: str = "room_air"
    oxygen_flow_l_min: float | None = None
    fio2_pct: float | None = None
    anti_cytokine_given: bool = False
    fever_other_cause: bool = False
    life_threatening: bool = False
    death_due_to_crs: bool = False


def _check(a: CRSAssessment) -> str:
    """Validate an assessment and return its hypoxia class."""
    if not 25.0 <= a.temperature_c <= 45.0:
        raise RuleInputError(f"temperature_c {a.temperature_c!r} °C is not a body temperature")
    hypoxia = OXYGEN_DEVICES.get(a.oxygen)
    if hypoxia is None:
        raise RuleInputError(
            f"oxygen: unknown oxygen support {a.oxygen!r} (one of {', '.join(OXYGEN_DEVICES)})"
        )
    if a.oxygen_flow_l_min is not None and a.oxygen_flow_l_min < 0:
        raise RuleInputError(f"oxygen_flow_l_min {a.oxygen_flow_l_min!r} is negative")
    if a.fio2_pct is not None and not 21.0 <= a.fio2_pct <= 100.0:
        raise RuleInputError(f"fio2_pct {a.fio2_pct!r} is outside 21-100 %")
    if hypoxia == "by_flow":
        if a.oxygen_flow_l_min is None:
            raise RuleInputError("oxygen_flow_l_min is required for a nasal cannula")
        low_flow = a.oxygen_flow_l_min <= _CRITERIA.low_flow_max_l_min
        hypoxia = "low_flow" if low_flow else "high_flow"
    return hypoxia


def _hypotension(a: CRSAssessment) -> tuple[str, int, int, str]:
    """(ASTCT finding, ASTCT grade, counted pressors, words) of the hypotension domain.

    Vasopressors listed in ``data/astct/uncounted_vasopressors.csv`` (vasopressin) are not counted
    towards "multiple vasopressors".
    """
    pressors = {p.strip().casefold() for p in a.vasopressors if p.strip()}
    counted = len(pressors - _CRITERIA.uncounted_vasopressors)
    if not pressors:
        finding = "without_vasopressors" if a.hypotension else "none"
    elif counted >= 2:
        finding = "multiple_vasopressors"
    else:
        finding = "one_vasopressor"
    graded = _CRITERIA.crs["hypotension"][finding]
    return finding, graded.grade, counted, graded.text


def _combine(parts: list[tuple[str, int, str]], method: str, fever_words: str) -> ToxGrade:
    grade = max(g for _, g, _ in parts)
    if grade == 0:
        return ToxGrade(0, "none", method, "no CRS criterion met")
    top = [(name, words) for name, g, words in parts if g == grade]
    driver = " and ".join(name for name, _ in top)
    reason = "; ".join(words for _, words in top)
    return ToxGrade(grade, driver, method, f"{fever_words}{reason} -> grade {grade}")


def _astct(a: CRSAssessment, hypoxia: str) -> ToxGrade:
    fever = a.temperature_c >= FEVER_C and not a.fever_other_cause
    _, hypo_grade, _, hypo_words = _hypotension(a)
    oxygen = _CRITERIA.crs["hypoxia"][hypoxia]
    oxy_grade = oxygen.grade
    if not fever and not a.anti_cytokine_given:
        if hypo_grade or oxy_grade:
            return ToxGrade(
                0,
                "no_fever",
                "astct",
                f"{hypo_words}, {oxygen.text} without fever >= {FEVER_C} °C and "
                "before anti-cytokine therapy: not CRS by ASTCT 2019; review for another cause",
                needs_review=True,
            )
        return ToxGrade(0, "none", "astct", f"no fever >= {FEVER_C} °C attributable to CRS")
    fever_words = (
        f"fever {a.temperature_c:g} °C; "
        if fever
        else "fever not required after anti-cytokine therapy; "
    )
    fever_finding = _CRITERIA.crs["fever"]["fever" if fever else "none"]
    parts = [
        ("fever", fever_finding.grade, fever_finding.text),
        ("hypotension", hypo_grade, hypo_words),
        ("hypoxia", oxy_grade, oxygen.text),
    ]
    return _combine(parts, "astct", fever_words)


def _ctcae(a: CRSAssessment, hypoxia: str) -> ToxGrade:
    fever = a.temperature_c >= FEVER_C and not a.fever_other_cause
    finding, _, _, _ = _hypotension(a)
    hypo = {
        "none": (0, "normotensive"),
        "without_vasopressors": (2, "hypotension responding to fluids"),
        "one_vasopressor": (3, "hypotension managed with one pressor"),
        "multiple_vasopressors": (4, ">= 2 pressors: life-threatening, urgent intervention"),
    }[finding]
    high_fio2 = _CRITERIA.ctcae_high_fio2_pct
    if hypoxia == "none":
        oxy = (0, "room air")
    elif hypoxia == "positive_pressure":
        oxy = (4, "positive-pressure ventilation: life-threatening, urgent intervention")
    elif a.fio2_pct is None:
        raise RuleInputError("fio2_pct is required to grade hypoxia with CTCAE v5.0 CRS")
    elif a.fio2_pct >= high_fio2:
        oxy = (3, f"hypoxia requiring >= {high_fio2:g} % O2")
    else:
        oxy = (2, f"hypoxia responding to < {high_fio2:g} % O2")
    parts = [
        ("fever", 1 if fever else 0, "fever with or without constitutional symptoms"),
        ("hypotension", *hypo),
        ("hypoxia", *oxy),
        ("life_threatening", 4 if a.life_threatening else 0, "life-threatening consequences"),
    ]
    return _combine(parts, "ctcae", "")


def grade_crs(assessment: CRSAssessment, *, method: str = "astct") -> ToxGrade:
    """Grade one CRS assessment.

    Parameters
    ----------
    assessment : CRSAssessment
        Temperature, hypotension/vasopressors, oxygen support, treatment flags.
    method : {"astct", "ctcae"}
        ``"astct"`` (default): ASTCT 2019 consensus; ``"ctcae"``: CTCAE v5.0 CRS term.

    Returns
    -------
    ToxGrade
        Grade, driving parameter (``fever``, ``hypotension``, ``hypoxia``, ``death``...) and
        the rule in words. Without fever and before anti-cytokine therapy, ASTCT returns grade 0
        with ``needs_review=True`` when hypotension or hypoxia is present.

    Raises
    ------
    RuleInputError
        Unknown method or oxygen device, implausible temperature, missing flow/FiO2.
    """
    if method not in ("astct", "ctcae"):
        raise RuleInputError(f"CRS method must be 'astct' or 'ctcae', got {method!r}")
    hypoxia = _check(assessment)
    if assessment.death_due_to_crs:
        death = _CRITERIA.crs["death"]["death"]
        return ToxGrade(death.grade, "death", method, f"{death.text} -> grade {death.grade}")
    return _astct(assessment, hypoxia) if method == "astct" else _ctcae(assessment, hypoxia)
