"""The design registry maps every protocol design name to its class, and back; capabilities are
the classes' declared flags (TITE: Cheung & Chappell 2000, Yuan et al. 2018; last-cohort coherence:
dfcrm ``restrict``)."""

from __future__ import annotations

import pytest

import cartrial.designs as designs
from cartrial.designs import (
    DESIGN_NAMES,
    Design,
    design_name,
    is_time_to_event,
    is_time_to_event_name,
    make_design,
    takes_last_cohort,
)
from cartrial.errors import DesignError

EXPECTED = {
    "3+3": "ThreePlusThree",
    "boin": "BOIN",
    "tite-boin": "TITEBOIN",
    "crm": "CRM",
    "tite-crm": "TITECRM",
    "mtpi2": "MTPI2",
    "keyboard": "Keyboard",
    "i3+3": "I3Plus3",
    "table": "DecisionTableDesign",
}

TITE = {"tite-boin", "tite-crm"}


def test_names() -> None:
    assert set(DESIGN_NAMES) == set(EXPECTED)


@pytest.mark.parametrize(("name", "cls"), EXPECTED.items())
def test_make_design(name: str, cls: str) -> None:
    params: dict[str, object] = {} if name == "3+3" else {"target": 0.3}
    if name == "table":
        params["table"] = {3: "E S D DU"}
    design = make_design(name, n_doses=4, **params)
    assert type(design).__name__ == cls
    assert isinstance(design, Design)
    assert design_name(design) == name
    assert is_time_to_event(design) == is_time_to_event_name(name) == (name in TITE)
    assert takes_last_cohort(design) == (name in {"crm", "tite-crm"})


def test_lists_become_tuples() -> None:
    d = make_design("crm", n_doses=3, target=0.3, skeleton=[0.1, 0.2, 0.3])
    assert d.prior_skeleton() == (0.1, 0.2, 0.3)  # type: ignore[attr-defined]


def test_unknown_name_and_parameter() -> None:
    with pytest.raises(DesignError, match="unknown design"):
        make_design("mtpi", n_doses=3, target=0.3)
    with pytest.raises(DesignError):
        make_design("boin", n_doses=3, target=0.3, skeletonn=[0.1])


def test_all_exports_exist() -> None:
    for name in designs.__all__:
        assert hasattr(designs, name), name


def test_name_lookup_ignores_case_and_blanks() -> None:
    assert is_time_to_event_name(" TITE-BOIN ")
    assert not is_time_to_event_name("boin")
    with pytest.raises(DesignError, match="unknown design"):
        is_time_to_event_name("tite-mtpi")
