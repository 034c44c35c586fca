"""Import and read back the signed governance records: DLT adjudications and decisions.

Three record families (CSV columns in ``docs/import.md``, ODM item groups in
:mod:`cartrial.services.odm`):

* ``dlt_adjudications``: a subject's signed DLT adjudication, one row per overridden adverse
  event (named by its term and onset, as recorded) or one row without an event when the rules
  decided every event; rows of one subject and ``signed_at`` form one adjudication
  (:func:`~cartrial.services.decisions.adjudicate_dlt`);
* ``dose_decisions``: the committee's decision on the next cohort's dose
  (:func:`~cartrial.services.decisions.decide_next_dose`), a study-level record;
* ``governance_decisions``: the end of escalation (MTD), the RP2D and the expansion opened,
  reviewed and stopped (:mod:`cartrial.services.escalation`, :mod:`cartrial.services.expansion`).

Each row runs its ordinary use case on the data imported so far: the design recomputes its
recommendation and the MTD, the rules the DLTs; a file whose decision disagrees with what the
use case finds on the imported data (another dose level, cohort, recommendation or MTD) is
refused on that row. A signature made in the source system cannot be re-made in cartrial: the
importing user signs each record as an imported copy (password re-entered once per import,
meaning ``imported_copy``) and the source signature's system, signer, printed name, meaning and
time are kept with it as data (:func:`cartrial.services.signing.sign_imported`).

:func:`governance_rows` reads the study's records back as such rows (the ODM and CSV export):
for an imported record the source signature, otherwise the cartrial one (``signed_in``
``cartrial <study>``), so that export -> import -> export is the identity.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, SecretStr, model_validator
from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.decisions import (
    AdjudicateDLT,
    DecideNextDose,
    DLTOverride,
    adjudicate_dlt,
    decide_next_dose,
)
from cartrial.services.derive import OVERRIDE_RULE
from cartrial.services.escalation import DecideRP2D, EndEscalation, decide_rp2d, end_escalation
from cartrial.services.expansion import (
    OpenExpansion,
    ReviewExpansion,
    StopExpansion,
    open_expansion,
    review_expansion,
    stop_expansion,
)
from cartrial.services.governance import MEANINGS, GovernanceDecided, SourceBasis
from cartrial.services.import_rows import Actions, CsvRow, Lines, RecordFamily, adverse_event_of
from cartrial.services.safety import CLINICAL_STAFF
from cartrial.services.signing import SourceSignature
from cartrial.store import (
    AdverseEvent,
    DoseDecision,
    GovernanceRecord,
    Infusion,
    Signature,
    live,
)
from cartrial.vocab import ROLES, GovernanceKind

__all__ = [
    "GOVERNANCE_FAMILIES",
    "DltAdjudicationRow",
    "DoseDecisionRow",
    "GovernanceRow",
    "SignatureCells",
    "governance_rows",
]

_ACTIONS = Literal["escalate", "stay", "de-escalate", "stop"]
_RULES_NOTE = " (rules: "


#: The source signature's cells (all four, or none for an unsigned dose decision).
SignedBy = Annotated[str, Field(min_length=1, max_length=64, description="user name there")]
SignedByName = Annotated[str, Field(min_length=1, max_length=200, description="printed name")]
SignedIn = Annotated[
    str, Field(min_length=1, max_length=200, description="the system it was signed in")
]
_DOSE = Annotated[str, Field(min_length=1, max_length=16, description="protocol name, e.g. DL1")]


class SignatureCells(CsvRow):
    """The signature a record had in its source system, read by :meth:`source`.

    Subclasses declare ``signed_by`` (the signer's user name there), ``signed_by_name`` (the
    printed name), ``signed_at`` (ISO 8601 with its UTC offset) and ``signed_in`` (the system's
    name) as their last columns: required, or all four optional together (unsigned).
    """

    @model_validator(mode="after")
    def _all_or_none(self) -> SignatureCells:
        cells = [
            getattr(self, f) for f in ("signed_by", "signed_by_name", "signed_at", "signed_in")
        ]
        if sum(c is not None for c in cells) not in (0, 4):
            raise ValueError("signed_by, signed_by_name, signed_at and signed_in go together")
        return self

    def source(self, meaning: str) -> SourceSignature | None:
        """The source signature with ``meaning``, or ``None`` for an unsigned row."""
        signer, name = getattr(self, "signed_by"), getattr(self, "signed_by_name")  # noqa: B009
        signed_at, system = getattr(self, "signed_at"), getattr(self, "signed_in")  # noqa: B009
        if signer is None or signed_at is None:
            return None
        return SourceSignature(
            system=system, signer=signer, signer_name=name, meaning=meaning, signed_at=signed_at
        )


class DltAdjudicationRow(SignatureCells):
    """A subject's signed DLT adjudication, or one adverse event the investigator overrode in it.

    ``term`` and ``onset_at`` name the overridden event as recorded; ``is_dlt`` and ``reason``
    are the investigator's decision and reason. Without ``term`` the rules decided every event
    in the DLT window. Rows of one subject and ``signed_at`` form one adjudication.
    """

    subject_id: str = Field(min_length=1, max_length=40)
    term: str | None = Field(
        default=None, min_length=1, max_length=200, description="the overridden AE, as recorded"
    )
    onset_at: AwareDatetime | dt.date | None = Field(default=None, description="with `term`")
    is_dlt: bool | None = Field(default=None, description="the override, with `term`")
    reason: str | None = Field(
        default=None, min_length=1, max_length=2000, description="of the override, with `term`"
    )
    signed_by: SignedBy
    signed_by_name: SignedByName
    signed_at: AwareDatetime
    signed_in: SignedIn

    @model_validator(mode="after")
    def _override_complete(self) -> DltAdjudicationRow:
        given = [f for f in ("onset_at", "is_dlt", "reason") if getattr(self, f) is not None]
        if self.term is not None and len(given) < 3:
            raise ValueError("an overridden event needs term, onset_at, is_dlt and reason")
        if self.term is None and given:
            raise ValueError(f"{', '.join(given)} without the event's term")
        return self


class DoseDecisionRow(SignatureCells):
    """The dose decision for the next escalation cohort (dose levels by their protocol names).

    ``dose_level`` is the dose the decided cohort was treated at and ``cohort`` its number;
    ``as_of`` the data cut-off (DLT windows closed by then). ``action`` and ``next_dose_level``
    are the committee's decision; ``recommended_*`` the design's recommendation in the source
    (checked against the design's on the imported data). ``meaning`` is the signature's; a
    decision not signed yet has no signature cells.
    """

    cohort: int | None = Field(default=None, ge=1, description="checked on the imported data")
    dose_level: _DOSE
    as_of: dt.date = Field(description="data cut-off: DLT windows closed by then")
    action: _ACTIONS
    next_dose_level: str | None = Field(
        default=None, min_length=1, max_length=16, description="protocol name (`stop`: none)"
    )
    rationale: str | None = Field(
        default=None, min_length=1, max_length=2000, description="needed to override the design"
    )
    recommended_action: _ACTIONS | None = Field(
        default=None, description="the design's, checked on the imported data"
    )
    recommended_next_dose_level: str | None = Field(
        default=None, min_length=1, max_length=16, description="the design's"
    )
    meaning: str = Field(default="approval", min_length=1, max_length=64)
    signed_by: str | None = Field(default=None, min_length=1, max_length=64)
    signed_by_name: str | None = Field(default=None, min_length=1, max_length=200)
    signed_at: AwareDatetime | None = None
    signed_in: str | None = Field(
        default=None, min_length=1, max_length=200, description="empty: not signed yet"
    )


class GovernanceRow(SignatureCells):
    """A signed governance decision: end of escalation, RP2D, expansion opened, reviewed, stopped.

    ``dose_level`` is the MTD of the end of escalation (empty: none), the RP2D, or the dose the
    expansion opened at; ``as_of`` is the study date of the data the decision rests on.
    """

    kind: GovernanceKind
    dose_level: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="the MTD (empty: none), the RP2D, the expansion's dose",
    )
    as_of: dt.date = Field(description="the study date of the data the decision rests on")
    rationale: str = Field(min_length=1, max_length=2000)
    basis: str | None = Field(
        default=None, min_length=1, description="what it rested on, as recorded; kept"
    )
    n_evaluable: int | None = Field(default=None, ge=0, description="as recorded; kept")
    n_dlt: int | None = Field(default=None, ge=0, description="as recorded; kept")
    signed_by: SignedBy
    signed_by_name: SignedByName
    signed_at: AwareDatetime
    signed_in: SignedIn


# ---------------------------------------------------------------------------- import


def _dose_names(ctx: ServiceContext) -> list[str]:
    """The protocol's dose-level names (read inside the import's transaction: a read-only
    session cannot join it on PostgreSQL, hence ``read_only=False`` here and below)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=False) as uc:
        return [level.name for level in uc.protocol.dose_levels]


def _known(names: list[str], field: str, level: str | None) -> None:
    if level is not None and level not in names:
        raise ValidationFailed(field, f"unknown dose level {level!r}; protocol levels: {names}")


def _same(field: str, given: object, found: object, what: str) -> None:
    """Refuse a row whose ``given`` value is not what the use case ``found``."""
    if given is not None and given != found:
        raise ValidationFailed(field, f"the file says {given}, {what} {found}")


def _dose_decision_actions(
    ctx: ServiceContext, lines: Lines, password: SecretStr | None
) -> Actions:
    names = _dose_names(ctx) if lines else []

    def one(row: Any) -> object:
        for field in ("dose_level", "next_dose_level", "recommended_next_dose_level"):
            _known(names, field, getattr(row, field))
        decided = decide_next_dose(
            ctx,
            DecideNextDose(
                as_of=row.as_of,
                action=row.action,
                next_dose_level=row.next_dose_level,
                rationale=row.rationale,
                source_signature=row.source(row.meaning),
                password=password,
            ),
        )
        on_data = "the imported data give"
        _same("dose_level", row.dose_level, decided.dose_level, f"{on_data} the dose in use")
        _same("cohort", row.cohort, decided.cohort, f"{on_data} cohort")
        _same(
            "recommended_action",
            row.recommended_action,
            decided.recommended_action,
            "the design recommends on the imported data",
        )
        _same(
            "recommended_next_dose_level",
            row.recommended_next_dose_level,
            decided.recommended_next_dose_level,
            "the design recommends on the imported data",
        )
        return decided

    return [(line, partial(one, row)) for line, row in lines]


def _decide(
    kind: GovernanceKind, ctx: ServiceContext, row: Any, pw: SecretStr
) -> GovernanceDecided:
    """Run the use case of ``kind`` on ``row`` (signed by the importer as a copy)."""
    common = {
        "rationale": row.rationale,
        "password": pw,
        "as_of": row.as_of,
        "source_signature": row.source(MEANINGS[kind]),
        "source_basis": None
        if row.basis is None
        else SourceBasis(basis=row.basis, n_evaluable=row.n_evaluable, n_dlt=row.n_dlt),
    }
    if kind == "escalation_end":
        return end_escalation(ctx, EndEscalation(**common))
    if kind == "rp2d":
        return decide_rp2d(ctx, DecideRP2D(dose_level=row.dose_level or "", **common))
    if kind == "expansion_open":
        return open_expansion(ctx, OpenExpansion(dose_level=row.dose_level, **common))
    if kind == "expansion_review":
        return review_expansion(ctx, ReviewExpansion(**common))
    return stop_expansion(ctx, StopExpansion(**common))


def _governance_actions(ctx: ServiceContext, lines: Lines, password: SecretStr | None) -> Actions:
    names = _dose_names(ctx) if lines else []

    def one(row: Any) -> object:
        _known(names, "dose_level", row.dose_level)
        if row.kind == "rp2d" and row.dose_level is None:
            raise ValidationFailed("dose_level", "an RP2D names its dose level")
        decided = _decide(row.kind, ctx, row, password or SecretStr(""))
        found = decided.dose_level or "no MTD"
        given = row.dose_level or ("no MTD" if row.kind == "escalation_end" else None)
        _same("dose_level", given, found, "the imported data give")
        return decided

    return [(line, partial(one, row)) for line, row in lines]


def _adjudication_actions(ctx: ServiceContext, lines: Lines, password: SecretStr | None) -> Actions:
    """One check per overridden event (on its own line), then one adjudication per group."""
    groups: dict[tuple[object, ...], list[tuple[int, Any]]] = defaultdict(list)
    for line, row in lines:
        groups[(getattr(row, "subject_id"), getattr(row, "signed_at"))].append((line, row))  # noqa: B009
    found: dict[int, int] = {}  # line -> adverse event id

    def check(line: int, row: Any) -> object:
        with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, read_only=False) as uc:
            found[line] = adverse_event_of(
                uc, row.subject_id, row.term, row.onset_at, *CLINICAL_STAFF
            ).id
        return found[line]

    def adjudicate(members: list[tuple[int, Any]]) -> object:
        first = members[0][1]
        overrides = tuple(
            DLTOverride(ae_id=found[line], is_dlt=row.is_dlt, reason=row.reason)
            for line, row in members
            if row.term is not None and line in found  # a missing event: its check reported it
        )
        return adjudicate_dlt(
            ctx,
            AdjudicateDLT(
                subject_id=first.subject_id,
                overrides=overrides,
                password=password or SecretStr(""),
                source_signature=first.source("dlt_adjudication"),
            ),
        )

    actions: Actions = []
    for members in groups.values():
        actions += [(line, partial(check, line, row)) for line, row in members if row.term]
        actions.append((members[0][0], partial(adjudicate, members)))
    return actions


#: The governance families, in the order an import applies rows of the same date.
GOVERNANCE_FAMILIES: tuple[RecordFamily, ...] = (
    RecordFamily(
        "dlt_adjudications",
        DltAdjudicationRow,
        _adjudication_actions,
        "signed_at",
        stage="adjudication",
        signed=True,
    ),
    RecordFamily(
        "dose_decisions",
        DoseDecisionRow,
        _dose_decision_actions,
        "as_of",
        stage="decision",
        signed=True,
    ),
    RecordFamily(
        "governance_decisions",
        GovernanceRow,
        _governance_actions,
        "as_of",
        stage="decision",
        signed=True,
    ),
)


# ---------------------------------------------------------------------------- read back


def _first_signatures(uc: UseCase, table: str, ids: list[int]) -> dict[int, Signature]:
    """The first live signature of each record ``ids`` of ``table``."""
    first: dict[int, Signature] = {}
    for sig in uc.session.scalars(
        select(Signature)
        .where(Signature.record_table == table, Signature.record_id.in_(ids), live(Signature))
        .order_by(Signature.id)
    ):
        first.setdefault(sig.record_id, sig)
    return first


def _utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC) if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _signature_cells(sig: Signature | None, system: str) -> dict[str, Any]:
    """The row cells of a stored signature: the source's for an imported record."""
    if sig is None:
        return {}
    if sig.source_system is not None and sig.source_signed_at is not None:
        return {
            "signed_by": sig.source_signer,
            "signed_by_name": sig.source_signer_name,
            "signed_at": _utc(sig.source_signed_at),
            "signed_in": sig.source_system,
        }
    return {
        "signed_by": sig.signer,
        "signed_by_name": sig.signer_name,
        "signed_at": _utc(sig.signed_at),
        "signed_in": system,
    }


def _meaning(sig: Signature | None) -> str | None:
    if sig is None:
        return None
    return sig.source_meaning if sig.source_system is not None else sig.meaning


def _of_study(uc: UseCase, model: Any) -> list[Any]:
    """The study's live records of ``model`` (a study-level table), oldest first."""
    query = select(model).where(model.study_id == uc.study.id, live(model)).order_by(model.id)
    return list(uc.session.scalars(query))


def governance_rows(uc: UseCase, code: dict[int, str]) -> dict[str, list[dict[str, Any]]]:
    """The study's live governance records as row cells per family, oldest first.

    ``code`` maps subject ids to subject codes (the study's subjects). An adjudication is read
    back as its latest signature (a subject adjudicated twice comes out once, as last signed)
    with every event the investigator overrode.
    """
    system = f"cartrial {uc.protocol.study_id}"
    names = [level.name for level in uc.protocol.dose_levels]
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    decisions: list[DoseDecision] = _of_study(uc, DoseDecision)
    signed = _first_signatures(uc, DoseDecision.__tablename__, [d.id for d in decisions])
    for d in decisions:
        sig = signed.get(d.id)
        recommended = d.recommended_next_dose_index
        out["dose_decisions"].append(
            {
                "cohort": d.cohort,
                "dose_level": d.dose_level,
                "as_of": d.data_cutoff_date,
                "action": d.action,
                "next_dose_level": d.next_dose_level,
                "rationale": d.rationale,
                "recommended_action": d.recommended_action,
                "recommended_next_dose_level": names[recommended]
                if recommended is not None
                else None,
                "meaning": _meaning(sig) or "approval",
                **_signature_cells(sig, system),
            }
        )
    records: list[GovernanceRecord] = _of_study(uc, GovernanceRecord)
    signed = _first_signatures(uc, GovernanceRecord.__tablename__, [r.id for r in records])
    for r in records:
        if r.id not in signed:
            continue  # not a decision (decisions_of leaves it out too)
        out["governance_decisions"].append(
            {
                "kind": r.kind,
                "dose_level": r.dose_level,
                "as_of": r.decided_date,
                "rationale": r.rationale,
                "basis": r.basis,
                "n_evaluable": r.n_evaluable,
                "n_dlt": r.n_dlt,
                **_signature_cells(signed[r.id], system),
            }
        )
    out["dlt_adjudications"] = _adjudications(uc, code, system)
    return out


def _adjudications(uc: UseCase, code: dict[int, str], system: str) -> list[dict[str, Any]]:
    """Each adjudicated subject's latest adjudication signature and its overridden events."""
    latest: dict[int, tuple[dt.datetime, Signature]] = {}
    for model in (Infusion, AdverseEvent):
        for sig, subject_id in uc.session.execute(
            select(Signature, model.subject_id)
            .join(model, (Signature.record_id == model.id) & live(model))
            .where(
                Signature.record_table == model.__tablename__,
                live(Signature),
                model.subject_id.in_(list(code)),
            )
        ).tuples():
            if _meaning(sig) != "dlt_adjudication":
                continue
            when = _utc(sig.source_signed_at or sig.signed_at)
            if subject_id not in latest or (when, sig.id) > (
                latest[subject_id][0],
                latest[subject_id][1].id,
            ):
                latest[subject_id] = (when, sig)
    rows: list[dict[str, Any]] = []
    for subject_id in sorted(latest, key=lambda s: code[s]):
        cells = {"subject_id": code[subject_id], **_signature_cells(latest[subject_id][1], system)}
        cells["signed_at"] = latest[subject_id][0]
        overridden = uc.session.scalars(
            select(AdverseEvent)
            .where(
                AdverseEvent.subject_id == subject_id,
                AdverseEvent.dlt_rule_id == OVERRIDE_RULE,
                AdverseEvent.dlt_adjudicated_at.is_not(None),
                live(AdverseEvent),
            )
            .order_by(AdverseEvent.onset_at, AdverseEvent.id)
        ).all()
        rows += [
            {
                **cells,
                "term": ae.term,
                "onset_at": _utc(ae.onset_at),
                "is_dlt": ae.is_dlt,
                "reason": (ae.dlt_reason or "").split(_RULES_NOTE)[0],
            }
            for ae in overridden
        ] or [cells]
    return rows
