"""The packaged study protocol describes the registry record of the study.

Expected values come from the study's registry summary (9 subjects in escalation, 20 in
expansion, 28-day DLT window, CTCAE 5.0, RECIST 1.1, endpoints with their time frames) and from
the published CLDN18.2 CAR-T dose levels the sponsor adopted (Qi et al., Nat Med 2022).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cartrial.errors import ProtocolError
from cartrial.protocol import load_protocol, parse_protocol
from cartrial.protocol.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_study_numbers_match_the_registry() -> None:
    p = load_protocol()
    assert p.escalation.planned_subjects == 9
    assert p.expansion.planned_subjects == 20
    assert p.dlt.window_days == 28
    assert p.toxicity_grading.ctcae_version == "5.0"
    assert p.recist.version == "1.1"
    assert p.escalation.design.name == "3+3"
    frames = {e.name: (e.kind, e.time_frame_days) for e in p.endpoints}
    assert frames["Adverse events"] == ("primary", 28)
    assert frames["Dose-limiting toxicity"] == ("primary", 28)
    assert frames["Objective remission rate"] == ("secondary", 91)
    assert frames["CAR-T cell numbers"] == ("secondary", 365)
    assert len(p.endpoints) == 11


def test_dose_levels_are_the_published_ct041_levels_plus_de_escalation() -> None:
    p = load_protocol()
    assert [d.name for d in p.dose_levels] == ["DL-1", "DL1", "DL2", "DL3"]
    assert [d.cells for d in p.dose_levels] == [1.0e8, 2.5e8, 3.75e8, 5.0e8]
    assert all(d.set_by == "sponsor" for d in p.dose_levels)
    assert p.dose_index("DL1") == 1
    with pytest.raises(KeyError):
        p.dose_index("DL9")


def test_schedule_has_the_protocol_visits() -> None:
    s = load_protocol().schedule
    days = {v.day for v in s.expanded()}
    assert set(range(1, 15)) <= days
    assert {21, 28, 56, 91, 182, 273, 365, 548} <= days
    tumour = [v.day for v in s.visits_with("tumour")]
    assert tumour[:6] == [-28, 42, 84, 126, 168, 238]
    assert s.visit_for_day(44, "tumour") is not None
    assert s.visit_for_day(60, "tumour") is None
    assert {v.day for v in s.visits_with("kinetics")} >= {0, 1, 4, 7, 10, 14, 21, 28, 91, 182, 365}


def test_models_are_frozen() -> None:
    p = load_protocol()
    with pytest.raises(ValueError):
        p.escalation.cohort_size = 4  # type: ignore[misc]


def test_programmatic_construction_checks_consistency_too() -> None:
    data = load_protocol().model_dump()
    data["escalation"]["start_dose"] = "DL7"
    with pytest.raises(ValueError, match="unknown dose level 'DL7'"):
        type(load_protocol()).model_validate(data)


def test_changing_the_study_is_an_edit_of_the_file() -> None:
    text = (ROOT / "src/cartrial/protocols/cldn18-pdl1-cart.yaml").read_text()
    edited = text.replace("  window_days: 28\n", "  window_days: 42\n")
    assert parse_protocol(edited).dlt.window_days == 42


def test_empty_file_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="mapping"):
        parse_protocol("")


def test_docs_protocol_reference_is_generated_from_the_models() -> None:
    committed = (ROOT / "docs" / "protocol.md").read_text()
    assert committed == render_reference(), "regenerate: python -m cartrial.protocol.reference"
