"""CTCAE v5.0 term catalogue: SOCs, allowed grades, haematological flag.

Expected values: CTCAE v5.0 (NCI, 27 Nov 2017) as quoted in the project reference ctcae-5.0.md
(§1 "a dash means that grade is not available"; §2.1 haematology; §3 CRS; §4 gastric terms).
"""

from __future__ import annotations

import pytest

from cartrial.errors import RuleInputError
from cartrial.rules import ctcae

CAR_T_SOCS = {
    "Blood and lymphatic system disorders",
    "Investigations",
    "Metabolism and nutrition disorders",
    "Immune system disorders",
    "Nervous system disorders",
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Infections and infestations",
    "Cardiac disorders",
    "Respiratory, thoracic and mediastinal disorders",
    "Vascular disorders",
    "Renal and urinary disorders",
    "Hepatobiliary disorders",
    "Skin and subcutaneous tissue disorders",
}


def test_catalogue_covers_every_car_t_soc() -> None:
    table = ctcae.catalogue()
    assert set(table["soc"]) >= CAR_T_SOCS
    assert table["term"].is_unique
    # every SOC has its "- Other, specify" catch-all term (CTCAE v5.0 structure)
    for soc in CAR_T_SOCS:
        assert ctcae.term_info(f"{soc} - Other, specify").soc == soc


@pytest.mark.parametrize(
    ("term", "soc", "grades"),
    [
        # ctcae-5.0.md §3: CRS grades 1-5, Immune system disorders
        ("Cytokine release syndrome", "Immune system disorders", (1, 2, 3, 4, 5)),
        # ctcae-5.0.md §2.1: febrile neutropenia only grades 3-5
        ("Febrile neutropenia", "Blood and lymphatic system disorders", (3, 4, 5)),
        # ctcae-5.0.md §1: lymphocyte count increased has no grade 1 or 4
        ("Lymphocyte count increased", "Investigations", (2, 3)),
        ("Neutrophil count decreased", "Investigations", (1, 2, 3, 4)),
        # ctcae-5.0.md §4: gastric mucosal terms (CLDN18.2 on-target risk)
        ("Gastritis", "Gastrointestinal disorders", (1, 2, 3, 4, 5)),
        ("Gastric ulcer", "Gastrointestinal disorders", (1, 2, 3, 4, 5)),
        ("Gastric hemorrhage", "Gastrointestinal disorders", (1, 2, 3, 4, 5)),
        ("Upper gastrointestinal hemorrhage", "Gastrointestinal disorders", (1, 2, 3, 4, 5)),
        ("Gastric perforation", "Gastrointestinal disorders", (2, 3, 4, 5)),
        ("Nausea", "Gastrointestinal disorders", (1, 2, 3)),
        ("Abdominal pain", "Gastrointestinal disorders", (1, 2, 3)),
        # ctcae-5.0.md §2.6: fever grades 1-5, General disorders
        ("Fever", "General disorders and administration site conditions", (1, 2, 3, 4, 5)),
        ("Hypophosphatemia", "Metabolism and nutrition disorders", (1, 2, 3, 4, 5)),
        ("Cholesterol high", "Investigations", (1, 2, 3, 4)),
        ("Anemia", "Blood and lymphatic system disorders", (1, 2, 3, 4, 5)),
    ],
)
def test_term_soc_and_allowed_grades(term: str, soc: str, grades: tuple[int, ...]) -> None:
    info = ctcae.term_info(term)
    assert (info.term, info.soc, info.grades) == (term, soc, grades)
    assert info.ctcae_version == "5.0"


@pytest.mark.parametrize(
    ("term", "hematologic"),
    [
        ("Neutrophil count decreased", True),
        ("Platelet count decreased", True),
        ("Anemia", True),
        ("Febrile neutropenia", True),
        ("Lymphocyte count decreased", True),
        ("Alanine aminotransferase increased", False),
        ("Cytokine release syndrome", False),
        ("Gastric hemorrhage", False),
        ("Lymph node pain", False),
    ],
)
def test_hematologic_flag(term: str, hematologic: bool) -> None:
    assert ctcae.term_info(term).hematologic is hematologic


def test_lookup_ignores_case_and_spacing() -> None:
    assert ctcae.term_info("  cytokine   RELEASE syndrome ").term == "Cytokine release syndrome"


def test_icans_is_listed_as_astct_not_ctcae() -> None:
    info = ctcae.term_info("Immune effector cell-associated neurotoxicity syndrome")
    assert info.source == "ASTCT 2019"
    assert info.soc == "Nervous system disorders"


def test_is_valid_grade() -> None:
    assert ctcae.is_valid_grade("Nausea", 3)
    assert not ctcae.is_valid_grade("Nausea", 4)  # CTCAE v5.0: nausea has no grade 4
    assert not ctcae.is_valid_grade("Anemia", 0)  # 0 is not a CTCAE grade
    assert not ctcae.is_valid_grade("Lymphocyte count increased", 1)
    assert not ctcae.is_valid_grade("Anemia", True)  # a flag is not a grade


def test_unknown_term_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(RuleInputError, match=r"unknown CTCAE v5\.0 term 'Neutropenia'"):
        ctcae.term_info("Neutropenia")
    with pytest.raises(RuleInputError, match="did you mean 'Gastritis'"):
        ctcae.term_info("Gastritiss")


def test_check_grade_names_the_record() -> None:
    with pytest.raises(RuleInputError, match=r"AE 7: grade 4 is impossible for 'Nausea'"):
        ctcae.check_grade("Nausea", 4, where="AE 7")
    with pytest.raises(RuleInputError, match="AE 8: unknown CTCAE"):
        ctcae.check_grade("Nauseaaa xyz", 2, where="AE 8")
    assert ctcae.check_grade("Gastric ulcer", 3).soc == "Gastrointestinal disorders"


def test_lab_gradable_flag_matches_the_criteria_table() -> None:
    assert ctcae.term_info("Neutrophil count decreased").lab_gradable
    assert not ctcae.term_info("Hyperglycemia").lab_gradable  # no numeric criteria in v5.0
