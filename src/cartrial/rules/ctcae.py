"""CTCAE v5.0: the term catalogue and automatic grading of laboratory values.

One import for everything CTCAE (``from cartrial.rules import ctcae``):

- catalogue: :func:`catalogue`, :func:`term_info`, :func:`is_valid_grade`, :func:`check_grade`
  (``data/ctcae/terms.csv``);
- lab grading: :func:`grade_lab` (one value), :func:`grade_labs` (a whole table, vectorised),
  :func:`term_for_testcd` (CDISC LBTESTCD -> term), :func:`lab_criteria` (the criteria table);
- units: :func:`accepted_units`, :func:`unit_factor` (explicit, documented factors).

Source: NCI, Common Terminology Criteria for Adverse Events v5.0, 27 November 2017.
"""

from __future__ import annotations

from cartrial.rules.ctcae_catalogue import (
    TermInfo,
    catalogue,
    check_grade,
    is_valid_grade,
    term_info,
)
from cartrial.rules.ctcae_data import CTCAE_VERSION
from cartrial.rules.ctcae_labs import (
    CLINICAL,
    NO_CRITERION,
    LabCriterion,
    LabGrade,
    LabTerm,
    LabTest,
    grade_lab,
    grade_labs,
    lab_criteria,
    lab_term,
    lab_tests,
    term_for_testcd,
)
from cartrial.rules.ctcae_units import accepted_units, unit_factor

__all__ = [
    "CLINICAL",
    "CTCAE_VERSION",
    "NO_CRITERION",
    "LabCriterion",
    "LabGrade",
    "LabTerm",
    "LabTest",
    "TermInfo",
    "accepted_units",
    "catalogue",
    "check_grade",
    "grade_lab",
    "grade_labs",
    "is_valid_grade",
    "lab_criteria",
    "lab_term",
    "lab_tests",
    "term_for_testcd",
    "term_info",
    "unit_factor",
]
