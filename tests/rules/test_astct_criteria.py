"""ASTCT 2019 grading criteria as package data, and the CTCAE tables' schema check.

Expected values re-state Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for
Cytokine Release Syndrome and Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood
Marrow Transplant 2019;25(4):625-638: the "ASTCT CRS Consensus Grading" table (fever >= 38 °C;
hypotension: none / not requiring vasopressors = 2 / one vasopressor with or without vasopressin =
3 / multiple vasopressors excluding vasopressin = 4; hypoxia: low-flow nasal cannula <= 6 L/min or
blow-by = 2 / high-flow, facemask, non-rebreather, Venturi = 3 / positive pressure = 4) and the
"ASTCT ICANS Consensus Grading for Adults" table (ICE 7-9 = 1, 3-6 = 2, 0-2 = 3, unarousable = 4;
consciousness 1-4; seizure 3-4; deep focal motor weakness 4; focal oedema 3, diffuse 4).
"""

from __future__ import annotations

import inspect

import pytest

from cartrial.errors import RuleInputError
from cartrial.rules.cart_tox import ice_score
from cartrial.rules.cart_tox.criteria import GradingRow, astct_criteria
from cartrial.rules.ctcae_data import CTCAE_SCHEMAS, LabCriterionRow, read_table
from cartrial.rules.package_tables import parse_rows, validate_rows


def test_crs_criteria_restate_the_published_table() -> None:
    c = astct_criteria()
    assert (c.fever_c, c.low_flow_max_l_min, c.ctcae_high_fio2_pct) == (38.0, 6.0, 40.0)
    assert c.uncounted_vasopressors == {"vasopressin"}
    grades = {d: {k: f.grade for k, f in findings.items()} for d, findings in c.crs.items()}
    assert grades == {
        "fever": {"none": 0, "fever": 1},
        "hypotension": {
            "none": 0,
            "without_vasopressors": 2,
            "one_vasopressor": 3,
            "multiple_vasopressors": 4,
        },
        "hypoxia": {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4},
        "death": {"death": 5},
    }
    assert {d: c.oxygen_devices[d] for d in ("blow_by", "facemask", "venturi", "bipap")} == {
        "blow_by": "low_flow",
        "facemask": "high_flow",
        "venturi": "high_flow",
        "bipap": "positive_pressure",
    }
    assert c.oxygen_devices["nasal_cannula"] == "by_flow"


def test_icans_criteria_restate_the_published_table() -> None:
    c = astct_criteria()
    assert c.ice_grades == (3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 0)
    grades = {d: {k: f.grade for k, f in findings.items()} for d, findings in c.icans.items()}
    assert grades == {
        "ice": {"unarousable": 4, "not_performable": 4},
        "consciousness": {
            "awake": 0,
            "awakens_spontaneously": 1,
            "awakens_to_voice": 2,
            "awakens_to_tactile": 3,
            "unarousable": 4,
        },
        "seizure": {"none": 0, "rapidly_resolving": 3, "prolonged_or_repetitive": 4},
        "motor": {"none": 0, "deep_focal_weakness": 4},
        "cerebral_edema": {"none": 0, "focal": 3, "diffuse": 4},
    }


def test_ice_items_are_the_arguments_of_ice_score() -> None:
    """Ten items of one point (Lee 2019 ICE: orientation 4, naming 3, commands, writing,
    attention 1 each)."""
    parameters = [p for p in inspect.signature(ice_score).parameters if p != "unarousable"]
    assert astct_criteria().ice_items == tuple(parameters)
    assert len(parameters) == 10


def test_every_ctcae_table_passes_its_schema() -> None:
    sizes = {name: len(read_table(name)) for name in CTCAE_SCHEMAS}
    assert all(n > 0 for n in sizes.values()), sizes


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("X.g7,Anemia,7,abs,<,1,always,<1", "grade"),
        ("X.g1,Anemia,1,abs,=,1,always,<1", "op"),
        ("X.g1,Anemia,1,abs,<,-1,always,<1", "factor"),
        ("X.g1,Anemia,1,abs,<,1,sometimes,<1", "applies_when"),
    ],
)
def test_a_bad_ctcae_row_names_file_line_and_field(row: str, field: str) -> None:
    text = "# source\ncriterion_id,term,grade,basis,op,factor,applies_when,text\n" + row + "\n"
    with pytest.raises(RuleInputError, match=rf"lab_criteria\.csv, line 3, field {field}:"):
        validate_rows("data/ctcae/lab_criteria.csv", parse_rows(text), LabCriterionRow)


def test_a_bad_astct_row_names_file_line_and_field() -> None:
    text = "domain,finding,grade,text,source\nseizure,none,0,no seizure,\n"
    with pytest.raises(RuleInputError, match="line 2, field source"):
        validate_rows("data/astct/icans_grading.csv", parse_rows(text), GradingRow)
