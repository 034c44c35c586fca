"""The study's data as the acting user may read it (the policy layer decides which sites)."""

from __future__ import annotations

import dataclasses

from cartrial.analysis import TrialData
from cartrial.services import ServiceContext, trial_data, visible_sites

__all__ = ["readable_data"]

#: Tables of :class:`TrialData` with one row per subject record (filtered by site).
_SUBJECT_TABLES = (
    "subjects",
    "adverse_events",
    "labs",
    "crs_icans",
    "tumour_timepoints",
    "lesions",
    "kinetics",
    "ada",
    "phenotype",
)


def readable_data(ctx: ServiceContext) -> TrialData:
    """The study's data with only the subjects of the sites the user may read."""
    visibility = visible_sites(ctx)
    data = trial_data(ctx.session_factory, ctx.study_id)
    if visibility.every_site:
        return data
    subjects = data.subjects[data.subjects["site_id"].isin(visibility.sites)]
    keep = set(subjects["subject_id"])
    tables = {
        name: getattr(data, name)[getattr(data, name)["subject_id"].isin(keep)]
        for name in _SUBJECT_TABLES
    }
    return dataclasses.replace(data, **tables)
