"""What forms compute or offer while they are typed, each answer from the services or the rules.

* live previews: a read-only use case on the form's values (nothing stored) and the fragment
  that shows its result (:data:`PREVIEWS`);
* item calculators: checkboxes the services turn into some fields (the ten ICE items ->
  the five ICE domain points; :data:`CALCULATORS`), applied by :func:`form_input`;
* the study's own lists: dose levels by protocol name, the sites and subjects the user may see
  (:func:`study_choices`, :func:`with_study_choices`);
* the CTCAE v5.0 grade texts of a term (:func:`term_grades`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from cartrial import services as s
from cartrial.errors import RuleInputError
from cartrial.rules.ctcae_text import GradeDefinitions, grade_definitions
from cartrial.services import ServiceContext
from cartrial.web.forms import FieldView, form_spec, parse_form

__all__ = [
    "CALCULATORS",
    "PREVIEWS",
    "ItemCalculator",
    "LivePreview",
    "StudyChoices",
    "form_input",
    "study_choices",
    "study_time_zone",
    "term_grades",
    "with_study_choices",
]


@dataclass(frozen=True)
class LivePreview:
    """What a form shows while it is typed: a read-only use case of the services on the same
    input (nothing stored) and the partial template that shows its result."""

    action: Callable[[ServiceContext, BaseModel], BaseModel]
    template: str


_PREVIEWS: tuple[tuple[str, Callable[..., BaseModel], str], ...] = (
    ("tumour", s.preview_tumour_assessment, "_preview_tumour.html"),
    ("crs-icans", s.preview_crs_icans_day, "_preview_crs.html"),
    ("ae", s.preview_ae, "_preview_ae.html"),
)
#: Form name -> its live preview (derived values computed by the server as the form is typed).
PREVIEWS: dict[str, LivePreview] = {
    name: LivePreview(action, template) for name, action, template in _PREVIEWS
}


@dataclass(frozen=True)
class ItemCalculator:
    """Checkboxes shown instead of some fields of a form (e.g. the ten ICE items instead of the
    five ICE domain points); the services turn the ticked items into those fields' values.

    ``skip_when`` (field, value): the fields stay empty when that field has that value (no ICE
    screen in an unarousable subject).
    """

    legend: str
    prefix: str
    items: tuple[tuple[str, str], ...]
    replaces: tuple[str, ...]
    points: Callable[[list[str]], dict[str, int]]
    skip_when: tuple[str, str]

    def fill(self, values: Mapping[str, str]) -> dict[str, str]:
        """``values`` with the replaced fields set from the ticked items (unless typed)."""
        if any(values.get(name, "").strip() for name in self.replaces):
            return dict(values)  # typed directly (e.g. a script posting the domain points)
        field, value = self.skip_when
        if values.get(field) == value:
            return dict(values)
        ticked = [item for item, _ in self.items if values.get(f"{self.prefix}{item}") == "on"]
        return {**values, **{k: str(v) for k, v in self.points(ticked).items()}}


#: Form name -> its item calculator.
CALCULATORS: dict[str, ItemCalculator] = {
    "crs-icans": ItemCalculator(
        legend="ICE screen (Lee et al. 2019): tick each item the patient passed",
        prefix="ice-",
        items=tuple((i.item, i.text) for i in s.ice_items()),
        replaces=tuple(s.ICE_DOMAIN_ITEMS),
        points=s.ice_domain_points,
        skip_when=("consciousness", "unarousable"),
    )
}


def form_input(name: str, values: Mapping[str, str], time_zone: str) -> BaseModel:
    """The input of form ``name`` from its submitted text (item calculators applied first);
    times typed without an offset are local times in ``time_zone`` (the study's)."""
    calculator = CALCULATORS.get(name)
    filled = calculator.fill(values) if calculator else values
    return parse_form(form_spec(name).model, filled, time_zone)


def term_grades(term: str) -> GradeDefinitions | None:
    """The CTCAE v5.0 grade texts of ``term`` (``None`` when it is not a catalogue term)."""
    try:
        return grade_definitions(term)
    except RuleInputError:
        return None


#: Fields naming a dose level, a site or an existing subject: offered as lists from the study.
DOSE_FIELDS = frozenset({"dose_level", "next_dose_level"})
SITE_FIELDS = frozenset({"site_id", "site"})
#: Forms whose ``subject_id`` is a new subject code (typed, not picked).
NEW_SUBJECT_FORMS = frozenset({"screen"})


#: What the acting user may pick: dose levels by protocol name, the sites and subjects they see,
#: and the study's time zone (typed times are read there).
StudyChoices = s.StudyPicks


def study_choices(ctx: ServiceContext) -> StudyChoices:
    """The protocol's dose levels (DL-1, DL1, ...), and the sites and subjects the user may read
    (one use case)."""
    return s.study_picks(ctx)


def study_time_zone(ctx: ServiceContext) -> str:
    """The study's time zone (protocol ``study.time_zone``): typed times are local times there."""
    return s.load_study(ctx).protocol.study.time_zone


def with_study_choices(
    name: str, views: tuple[FieldView, ...], choices: StudyChoices
) -> tuple[FieldView, ...]:
    """``views`` of form ``name`` with dose-level, site and subject fields shown as lists."""
    shown = []
    for view in views:
        options: tuple[str, ...] | None = None
        if view.name in DOSE_FIELDS:
            options = choices.dose_levels
        elif view.name in SITE_FIELDS:
            options = choices.sites
        elif view.name == "subject_id" and name not in NEW_SUBJECT_FORMS:
            options = choices.subjects
        if options is not None and view.widget == "text":
            view = dataclasses.replace(view, widget="select", choices=options, pick=True)
        shown.append(view)
    return tuple(shown)
