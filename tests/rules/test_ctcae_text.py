"""The CTCAE v5.0 grade texts (``data/ctcae/grade_text.csv``) against the term catalogue.

Expected texts are the cells of NCI CTCAE v5.0 (27 Nov 2017) for the terms the packaged
protocol's DLT rules name; ICANS follows the ASTCT 2019 consensus table (Lee et al. 2019).
"""

from __future__ import annotations

import pytest

from cartrial.errors import RuleInputError
from cartrial.protocol import load_protocol
from cartrial.rules import ctcae
from cartrial.rules.ctcae_text import grade_definitions


def test_every_catalogue_term_has_a_text_for_exactly_its_grades() -> None:
    for term, grades in ctcae.catalogue()[["term", "grades"]].itertuples(index=False):
        assert tuple(grade_definitions(term).grades) == tuple(grades), term


def test_every_term_of_the_protocols_dlt_rules_has_its_grade_texts() -> None:
    dlt = load_protocol().dlt
    terms = {
        t for rule in (*dlt.criteria, *dlt.exclusions) for t in (*rule.terms, *rule.exclude_terms)
    }
    assert len(terms) >= 14
    for term in terms:
        texts = grade_definitions(term)
        assert texts.grades and all(texts.grades.values()), term


@pytest.mark.parametrize(
    ("term", "grade", "text"),
    [
        (
            "Gastritis",
            3,
            "Severely altered eating or gastric function; TPN or hospitalization indicated",
        ),
        (
            "Cytokine release syndrome",
            2,
            "Hypotension responding to fluids; hypoxia responding to <40% O2",
        ),
        (
            "Cytokine release syndrome",
            4,
            "Life-threatening consequences; urgent intervention indicated",
        ),
        ("Nausea", 1, "Loss of appetite without alteration in eating habits"),
        ("Neutrophil count decreased", 4, "<500/mm3; <0.5 x 10e9 /L"),
        ("Febrile neutropenia", 4, "Life-threatening consequences; urgent intervention indicated"),
    ],
)
def test_grade_texts_are_the_ctcae_cells(term: str, grade: int, text: str) -> None:
    assert grade_definitions(term).grades[grade] == text
    assert grade_definitions(term).source == "CTCAE v5.0"


def test_icans_texts_come_from_astct_2019() -> None:
    icans = grade_definitions("immune effector cell-associated neurotoxicity syndrome")
    assert icans.source.startswith("ASTCT 2019")
    assert icans.grades[1].startswith("ICE score 7-9")  # Lee 2019: ICE 7-9 is grade 1
    assert icans.grades[3].startswith("ICE score 0-2")  # Lee 2019: ICE 0-2 is grade 3


def test_an_unknown_term_is_refused_with_a_suggestion() -> None:
    with pytest.raises(RuleInputError, match="did you mean 'Gastritis'"):
        grade_definitions("Gastritiss")
