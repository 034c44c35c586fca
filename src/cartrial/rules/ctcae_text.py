"""What each grade of a CTCAE v5.0 term means: the grade text printed in CTCAE, per term.

Package data ``data/ctcae/grade_text.csv`` (NCI CTCAE v5.0, 27 Nov 2017; ICANS from ASTCT 2019)
holds one row per grade the term allows and a grade-0 row with the term's CTCAE definition. Forms
show it beside the grade an investigator picks; grading itself stays with the investigator (and
:func:`cartrial.rules.ctcae.grade_lab` for lab values).

>>> from cartrial.rules.ctcae_text import grade_definitions
>>> grade_definitions("gastritis").grades[3]
'Severely altered eating or gastric function; TPN or hospitalization indicated'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from pydantic import Field

from cartrial.errors import RuleInputError
from cartrial.rules.ctcae_catalogue import normalise_term, term_info
from cartrial.rules.package_tables import NonEmpty, TableRow, load_table

__all__ = ["GradeDefinitions", "GradeTextRow", "grade_definitions"]


class GradeTextRow(TableRow):
    """``grade_text.csv``: the text of one grade of one term (grade 0: the term's definition)."""

    term: NonEmpty
    grade: Annotated[int, Field(ge=0, le=5)]
    text: NonEmpty
    source: NonEmpty


@dataclass(frozen=True)
class GradeDefinitions:
    """A term's CTCAE definition and the text of each grade it allows (grade -> text)."""

    term: str
    definition: str | None
    grades: Mapping[int, str]
    source: str


@cache
def _table() -> dict[str, GradeDefinitions]:
    rows: dict[str, list[GradeTextRow]] = {}
    for row in load_table("ctcae", "grade_text.csv", GradeTextRow):
        rows.setdefault(normalise_term(row.term), []).append(row)
    table = {}
    for key, found in rows.items():
        grades = {r.grade: r.text for r in found if r.grade > 0}
        definition = next((r.text for r in found if r.grade == 0), None)
        sources = dict.fromkeys(r.source for r in found if r.grade > 0)
        table[key] = GradeDefinitions(found[0].term, definition, grades, "; ".join(sources))
    return table


def grade_definitions(term: str) -> GradeDefinitions:
    """The grade texts of ``term`` (case and spacing ignored).

    Raises
    ------
    RuleInputError
        ``term`` is not in the CTCAE v5.0 catalogue, or has no grade text.
    """
    info = term_info(term)  # a RuleInputError naming close matches for an unknown term
    found = _table().get(normalise_term(info.term))
    if found is None:
        raise RuleInputError(f"no grade text for CTCAE term {info.term!r}")
    return found
