"""The daily CRS/ICANS form's calculator: the ten ICE items -> domain points -> ICE score, and the
ASTCT 2019 grades the day would get, before it is saved.

:func:`ice_domain_points` turns the items passed (``data/astct/ice_items.csv``, Lee et al. 2019)
into the five domain points that :class:`~cartrial.services.toxicity.RecordCrsIcansDay` takes;
:func:`preview_crs_icans_day` grades the typed day together with the subject's stored days with
the same function as the write use case (:func:`~cartrial.services.toxicity.grade_course`; an
earlier tocilizumab or corticosteroid dose matters), in a read-only use case: nothing is stored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.rules import cart_tox
from cartrial.rules.cart_tox.criteria import IceItemRow
from cartrial.rules.package_tables import load_table
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.toxicity import (
    CLINICAL_STAFF,
    CrsIcansRecorded,
    RecordCrsIcansDay,
    grade_course,
    new_observation,
)
from cartrial.services.treatment import infusion_of
from cartrial.store import CrsIcansObservation, live

__all__ = [
    "ICE_DOMAIN_ITEMS",
    "CrsIcansPreview",
    "IceItem",
    "ice_domain_points",
    "ice_items",
    "preview_crs_icans_day",
]

#: The ICE domains of :class:`RecordCrsIcansDay` and their items (Lee 2019 ICE: orientation 4,
#: naming 3, commands 1, writing 1, attention 1 point).
ICE_DOMAIN_ITEMS: dict[str, tuple[str, ...]] = {
    "ice_orientation": ("year", "month", "city", "hospital"),
    "ice_naming": ("names_object_1", "names_object_2", "names_object_3"),
    "ice_commands": ("follows_commands",),
    "ice_writing": ("writes_sentence",),
    "ice_attention": ("counts_backwards",),
}


@dataclass(frozen=True)
class IceItem:
    """One ICE item: its name and what the patient is asked (``data/astct/ice_items.csv``)."""

    item: str
    text: str


def ice_items() -> tuple[IceItem, ...]:
    """The ten ICE items in the order of the screen, with their text."""
    return tuple(
        IceItem(row.item, row.text) for row in load_table("astct", "ice_items.csv", IceItemRow)
    )


def ice_domain_points(passed: Collection[str]) -> dict[str, int]:
    """Points per ICE domain field from the items ``passed`` (an item not listed scored 0).

    Raises
    ------
    ValidationFailed
        An item that is not one of the ten (field ``ice_orientation``).
    """
    unknown = set(passed) - set(cart_tox.ICE_ITEMS)
    if unknown:
        raise ValidationFailed("ice_orientation", f"not ICE items: {', '.join(sorted(unknown))}")
    return {
        field: sum(item in passed for item in items) for field, items in ICE_DOMAIN_ITEMS.items()
    }


class CrsIcansPreview(CrsIcansRecorded):
    """The grades the typed day would get, and the CRS method that gave them (``astct``: ASTCT
    2019, ``ctcae``: CTCAE v5.0; the protocol's ``toxicity_grading.crs``)."""

    crs_method: str


def preview_crs_icans_day(ctx: ServiceContext, data: RecordCrsIcansDay) -> CrsIcansPreview:
    """Grade ``data`` after the subject's stored days, without storing anything.

    Raises
    ------
    ValidationFailed
        Before the infusion; an ICE domain missing in an awake subject; oxygen flow missing.
    """
    code = data.subject_id
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, read_only=True, subjects=[code]) as uc:
        subject = uc.subject(code, *CLINICAL_STAFF)
        infusion = infusion_of(uc, subject)
        if infusion is None:
            raise ValidationFailed("subject_id", "CRS/ICANS are observed after the infusion")
        stored = uc.session.scalars(
            select(CrsIcansObservation).where(
                CrsIcansObservation.subject_id == subject.id,
                CrsIcansObservation.observed_date < data.observed_date,
                live(CrsIcansObservation),
            )
        )
        typed = new_observation(subject.id, data)  # transient: never added to the session
        graded = grade_course(uc.protocol, [*stored, typed])
        values = next(v for day, v in graded if day is typed)
        return CrsIcansPreview(
            subject_id=code,
            observed_date=data.observed_date,
            day=(data.observed_date - uc.study_date(infusion.infused_at)).days,
            ice_score=values["ice_score"],
            crs_grade=values["crs_grade"],
            crs_driver=str(values["crs_driver"]),
            icans_grade=values["icans_grade"],
            icans_driver=str(values["icans_driver"]),
            crs_method=uc.protocol.toxicity_grading.crs,
        )
