"""The RP2D record: the MTD or a lower dose, with reasons and the committee decision."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

from cartrial.designs.rp2d import RP2DRecord

BASE: dict[str, object] = {
    "mtd": 2,
    "rp2d": 1,
    "dose_level": "DL1",
    "method": "boin isotonic regression",
    "reasons": ("efficacy plateau above DL1; grade 3 CRS in 2/6 at DL2",),
    "committee_decision": "approved",
    "decided_on": dt.date(2026, 5, 4),
    "committee_members": ("PI", "medical monitor", "statistician"),
}


def test_lower_dose_with_reasons() -> None:
    record = RP2DRecord(**BASE)  # type: ignore[arg-type]
    assert record.below_mtd
    with pytest.raises(pydantic.ValidationError):
        record.rp2d = 0  # type: ignore[misc]


def test_no_mtd_allows_any_dose() -> None:
    record = RP2DRecord(**(BASE | {"mtd": None, "rp2d": 3}))  # type: ignore[arg-type]
    assert not record.below_mtd


@pytest.mark.parametrize(
    "change",
    [
        {"rp2d": 3},
        {"reasons": ()},
        {"reasons": (" ",)},
        {"committee_decision": "maybe"},
        {"committee_members": ()},
        {"rp2d": -1},
        {"unexpected": 1},
    ],
)
def test_invalid_records(change: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        RP2DRecord(**(BASE | change))  # type: ignore[arg-type]
