"""The study's data as the acting user may read it (the policy layer decides which sites).

The whole-study read model comes from the process's cache of the database
(:func:`cartrial.services.read_cache`: rebuilt only when the audit trail shows a change to what it
read, so it is current across worker processes); the site filter is applied per request after it.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from cartrial.analysis import TrialData
from cartrial.services import ServiceContext, Visibility, read_cache, visible_sites

__all__ = ["readable", "readable_data", "table_rows"]

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


#: The last site-filtered copy per (database, study, sites), reused while the cached data is the
#: same object (the filter costs more than the rest of a page).
_FILTERED: dict[tuple[int, str, tuple[str, ...]], tuple[TrialData, TrialData]] = {}
_FILTERED_KEPT = 64


def readable_data(ctx: ServiceContext) -> TrialData:
    """The study's data with only the subjects of the sites the user may read."""
    return readable(ctx)[1]


def readable(ctx: ServiceContext) -> tuple[Visibility, TrialData]:
    """The sites the user may read and the study's data with only their subjects."""
    visibility = visible_sites(ctx)
    data = read_cache(ctx.session_factory).trial_data(ctx.study_id)
    if visibility.every_site:
        return visibility, data
    key = (id(ctx.session_factory), ctx.study_id, visibility.sites)
    filtered = _FILTERED.get(key)
    if filtered is not None and filtered[0] is data:
        return visibility, filtered[1]
    subjects = data.subjects[data.subjects["site_id"].isin(visibility.sites)]
    keep = set(subjects["subject_id"])
    tables = {
        name: getattr(data, name)[getattr(data, name)["subject_id"].isin(keep)]
        for name in _SUBJECT_TABLES
    }
    shown = dataclasses.replace(data, **tables)
    if len(_FILTERED) >= _FILTERED_KEPT:
        _FILTERED.clear()
    _FILTERED[key] = (data, shown)
    return visibility, shown


def _shown(value: object) -> object:
    """A cell as a page shows it: missing values (None, NaN, NaT, NA) as an empty string."""
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float) and value != value:  # NaN
        return ""
    return value


def table_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of ``frame`` as dicts for a template, missing values as ``""``.

    One conversion of the whole frame to Python objects (``to_numpy(dtype=object)``), then row
    by row: pandas' per-column work (``itertuples`` indexes each column) would cost more than
    the rows of a page themselves.
    """
    columns = [str(c) for c in frame.columns]
    return [
        dict(zip(columns, map(_shown, row), strict=True))
        for row in frame.to_numpy(dtype=object).tolist()
    ]
