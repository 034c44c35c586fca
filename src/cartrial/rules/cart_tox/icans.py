"""ICANS grading (ASTCT 2019, adults) and the 10-point ICE score.

Lee DW, Santomasso BD, Locke FL, et al. Biol Blood Marrow Transplant 2019;25(4):625-638.
ICE: orientation to year, month, city and hospital (4 points), naming 3 objects (3), following
simple commands (1), writing a standard sentence (1), counting back from 100 by 10 (1). The ICANS
grade is the highest grade among five domains (ICE score, depressed level of consciousness,
seizure, motor findings, raised intracranial pressure / cerebral oedema), for findings not
attributable to another cause. ICE 0 in an awake patient (e.g. global aphasia) is grade 3; ICE 0
because the patient is unarousable is grade 4 -- hence the ``unarousable`` flag.

>>> from cartrial.rules.cart_tox import ICANSAssessment, grade_icans
>>> grade_icans(ICANSAssessment(ice=9, cerebral_edema="focal")).grade
3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cartrial.errors import RuleInputError
from cartrial.rules.cart_tox.criteria import ASTCTCriteria, astct_criteria
from cartrial.rules.cart_tox.result import ToxGrade

__all__ = [
    "CEREBRAL_EDEMA",
    "CONSCIOUSNESS",
    "ICE_ITEMS",
    "SEIZURE",
    "ICANSAssessment",
    "ICEScore",
    "grade_icans",
    "ice_score",
]

_CRITERIA: ASTCTCriteria = astct_criteria()


def _findings(domain: str) -> Mapping[str, tuple[int, str]]:
    return {key: (f.grade, f.text) for key, f in _CRITERIA.icans[domain].items()}


ICE_ITEMS: tuple[str, ...] = _CRITERIA.ice_items
"""The ten ICE items, one point each (ASTCT 2019; ``data/astct/ice_items.csv``)."""

CONSCIOUSNESS: Mapping[str, tuple[int, str]] = _findings("consciousness")
"""Depressed level of consciousness -> ICANS grade (ASTCT 2019;
``data/astct/icans_grading.csv``)."""

SEIZURE: Mapping[str, tuple[int, str]] = _findings("seizure")
"""Seizure -> ICANS grade (ASTCT 2019; ``data/astct/icans_grading.csv``)."""

CEREBRAL_EDEMA: Mapping[str, tuple[int, str]] = _findings("cerebral_edema")
_MOTOR: Mapping[str, tuple[int, str]] = _findings("motor")
"""Motor findings -> ICANS grade (ASTCT 2019; ``data/astct/icans_grading.csv``)."""
"""Raised intracranial pressure / cerebral oedema -> ICANS grade (ASTCT 2019;
``data/astct/icans_grading.csv``)."""


@dataclass(frozen=True)
class ICEScore:
    """An ICE score (0-10); ``unarousable`` marks a 0 because the patient could not be woken."""

    score: int
    unarousable: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.score, bool) or not 0 <= self.score <= 10:
            raise RuleInputError(f"ICE score must be an integer 0-10, got {self.score!r}")
        if self.unarousable and self.score != 0:
            raise RuleInputError("an unarousable patient cannot score ICE points")


def ice_score(
    *,
    year: bool,
    month: bool,
    city: bool,
    hospital: bool,
    names_object_1: bool,
    names_object_2: bool,
    names_object_3: bool,
    follows_commands: bool,
    writes_sentence: bool,
    counts_backwards: bool,
    unarousable: bool = False,
) -> ICEScore:
    """Score the ICE screen from its ten items (one point per item passed).

    Parameters
    ----------
    year, month, city, hospital : bool
        Orientation items answered correctly.
    names_object_1, names_object_2, names_object_3 : bool
        Objects named.
    follows_commands, writes_sentence, counts_backwards : bool
        Commands followed, standard sentence written, 100 counted back by 10.
    unarousable : bool
        The screen could not be done because the patient is unarousable (score 0, ICANS 4).

    Raises
    ------
    RuleInputError
        An item passed although the patient is marked unarousable.
    """
    items = (
        year,
        month,
        city,
        hospital,
        names_object_1,
        names_object_2,
        names_object_3,
        follows_commands,
        writes_sentence,
        counts_backwards,
    )
    return ICEScore(score=sum(bool(i) for i in items), unarousable=unarousable)


@dataclass(frozen=True)
class ICANSAssessment:
    """One ICANS assessment across the five ASTCT domains.

    Attributes
    ----------
    ice : ICEScore, int or None
        ICE score; None only when the patient is unarousable (screen not performable).
    consciousness : str
        One of :data:`CONSCIOUSNESS`.
    seizure : str
        One of :data:`SEIZURE`.
    motor_weakness : bool
        Deep focal motor weakness (hemiparesis, paraparesis): grade 4.
    cerebral_edema : str
        One of :data:`CEREBRAL_EDEMA`.
    """

    ice: ICEScore | int | None
    consciousness: str = "awake"
    seizure: str = "none"
    motor_weakness: bool = False
    cerebral_edema: str = "none"


def _lookup(table: Mapping[str, tuple[int, str]], key: str, field: str) -> tuple[int, str]:
    try:
        return table[key]
    except KeyError:
        raise RuleInputError(f"unknown {field} {key!r} (one of {', '.join(table)})") from None


def _ice_domain(ice: ICEScore | int | None, consciousness: str) -> tuple[int, str]:
    ice_rows = _CRITERIA.icans["ice"]
    if ice is None:
        if consciousness != "unarousable":
            raise RuleInputError("an ICE score is required unless the patient is unarousable")
        return ice_rows["not_performable"].grade, ice_rows["not_performable"].text
    score = ice if isinstance(ice, ICEScore) else ICEScore(ice)
    if score.unarousable:
        return ice_rows["unarousable"].grade, ice_rows["unarousable"].text
    return _CRITERIA.ice_grades[score.score], f"ICE {score.score}"


def grade_icans(assessment: ICANSAssessment) -> ToxGrade:
    """Grade ICANS (ASTCT 2019, adults): the highest grade among the five domains.

    Returns
    -------
    ToxGrade
        ``driver`` names the domain(s) at the maximum: ``ice_score``, ``consciousness``,
        ``seizure``, ``motor_weakness``, ``cerebral_edema``; ``method`` is ``"astct"``.

    Raises
    ------
    RuleInputError
        Unknown category, ICE outside 0-10, missing ICE in an arousable patient.
    """
    a = assessment
    domains = [
        ("ice_score", *_ice_domain(a.ice, a.consciousness)),
        ("consciousness", *_lookup(CONSCIOUSNESS, a.consciousness, "consciousness")),
        ("seizure", *_lookup(SEIZURE, a.seizure, "seizure")),
        ("motor_weakness", *_MOTOR["deep_focal_weakness" if a.motor_weakness else "none"]),
        ("cerebral_edema", *_lookup(CEREBRAL_EDEMA, a.cerebral_edema, "cerebral_edema")),
    ]
    grade = max(g for _, g, _ in domains)
    if grade == 0:
        return ToxGrade(0, "none", "astct", "ICE 10 and no other finding: no ICANS")
    top = [(name, words) for name, g, words in domains if g == grade]
    return ToxGrade(
        grade,
        " and ".join(name for name, _ in top),
        "astct",
        "; ".join(words for _, words in top) + f" -> grade {grade}",
    )
