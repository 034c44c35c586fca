"""The CTCAE v5.0 term catalogue: each term's system organ class and the grades it allows.

The catalogue is package data (``data/ctcae/terms.csv``, NCI CTCAE v5.0, 27 Nov 2017). A grade
that CTCAE marks "-" for a term is not allowed (e.g. *Lymphocyte count increased* has only
grades 2 and 3; *Nausea* has no grade 4 or 5).

>>> from cartrial.rules import ctcae
>>> ctcae.term_info("cytokine release syndrome").soc
'Immune system disorders'
>>> ctcae.is_valid_grade("Nausea", 4)
False
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache

import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.ctcae_data import CTCAE_VERSION, read_table

__all__ = ["TermInfo", "catalogue", "check_grade", "is_valid_grade", "normalise_term", "term_info"]


@dataclass(frozen=True)
class TermInfo:
    """One catalogue entry.

    Attributes
    ----------
    term : str
        CTCAE term as spelled by NCI (e.g. ``"Neutrophil count decreased"``).
    soc : str
        System organ class.
    grades : tuple of int
        Grades the term allows (subset of 1-5).
    hematologic : bool
        Haematological toxicity (blood and lymphatic SOC, blood-count investigations); used by
        DLT rules with ``category="hematologic"`` / ``"non_hematologic"``.
    source : str
        ``"CTCAE v5.0"``, or ``"ASTCT 2019"`` for ICANS (not a v5.0 term).
    lab_gradable : bool
        The term has numeric criteria that :func:`cartrial.rules.ctcae.grade_lab` applies.
    ctcae_version : str
        Always ``"5.0"``.
    """

    term: str
    soc: str
    grades: tuple[int, ...]
    hematologic: bool
    source: str
    lab_gradable: bool
    ctcae_version: str = CTCAE_VERSION


def normalise_term(term: str) -> str:
    """Return the lookup key of a term: case-folded with single spaces."""
    return " ".join(term.split()).casefold()


@cache
def _index() -> dict[str, TermInfo]:
    gradable = {row["term"] for row in read_table("lab_criteria.csv")}
    index: dict[str, TermInfo] = {}
    for row in read_table("terms.csv"):
        info = TermInfo(
            term=row["term"],
            soc=row["soc"],
            grades=tuple(int(g) for g in row["grades"].split("|")),
            hematologic=row["hematologic"] == "true",
            source=row["source"],
            lab_gradable=row["term"] in gradable,
        )
        index[normalise_term(info.term)] = info
    return index


def term_info(term: str) -> TermInfo:
    """Look a term up (case and spacing do not matter).

    Raises
    ------
    RuleInputError
        If the term is not in the catalogue; the message suggests close spellings.
    """
    index = _index()
    info = index.get(normalise_term(term))
    if info is None:
        close = difflib.get_close_matches(normalise_term(term), list(index), n=3, cutoff=0.75)
        hint = f" (did you mean {', '.join(repr(index[c].term) for c in close)}?)" if close else ""
        raise RuleInputError(f"unknown CTCAE v{CTCAE_VERSION} term {term!r}{hint}")
    return info


def is_valid_grade(term: str, grade: int) -> bool:
    """True if CTCAE v5.0 allows ``grade`` for ``term`` (grades 1-5 only; 0 is not a CTCAE grade).

    Raises
    ------
    RuleInputError
        If the term is unknown.
    """
    info = term_info(term)
    return not isinstance(grade, bool) and grade in info.grades


def check_grade(term: str, grade: int, *, where: str = "") -> TermInfo:
    """Return the term's catalogue entry, or raise if ``grade`` is impossible for it.

    Parameters
    ----------
    term, grade
        The adverse event as reported.
    where : str
        Names the record in the error (e.g. ``"subject 101-001, AE 7"``).
    """
    prefix = f"{where}: " if where else ""
    try:
        info = term_info(term)
    except RuleInputError as exc:
        raise RuleInputError(f"{prefix}{exc}") from None
    if isinstance(grade, bool) or grade not in info.grades:
        allowed = ", ".join(str(g) for g in info.grades)
        raise RuleInputError(
            f"{prefix}grade {grade!r} is impossible for {info.term!r} (CTCAE v{CTCAE_VERSION} "
            f"allows {allowed})"
        )
    return info


def catalogue() -> pd.DataFrame:
    """The whole catalogue as a table: term, soc, grades, hematologic, source, lab_gradable."""
    rows = [
        {
            "term": i.term,
            "soc": i.soc,
            "grades": i.grades,
            "hematologic": i.hematologic,
            "source": i.source,
            "lab_gradable": i.lab_gradable,
        }
        for i in _index().values()
    ]
    return pd.DataFrame(rows)
