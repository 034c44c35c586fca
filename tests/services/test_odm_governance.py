"""A study moved in mid-escalation keeps its governance: ODM and CSV round trips with decisions.

The source study (built through the use cases, as a site and committee would):

* cohort 1 (S01-001..003) at DL1 infused on D0, no AE: 0/3 DLTs; the committee decides on
  D0 + 28 and signs (3+3, Storer 1989: 0/3 -> escalate to DL2);
* cohort 2 (S02-001..003) at DL2 infused on D1: grade 3 probable gastritis in S02-001 and
  S02-002 (protocol rule gastric_mucosal_injury: DLTs) and grade 2 fatigue in S02-003 that the
  investigator overrides to a DLT in the signed adjudication: 3/3 at DL2 -> de-escalate to DL1
  (3+3: >= 2 DLTs of 3); decided on D1 + 28 and signed;
* end of escalation (3+3 select_mtd on n (0, 3, 3, 0), DLT (0, 0, 3, 0): DL1), RP2D DL1, the
  expansion opened at DL1, one expansion subject (S01-010) treated, an expansion review.

These expected decisions are those of tests/services/test_escalation_governance.py (same 3+3
rules); here the test is that the copy decides the same on the same data.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from service_support import PASSWORD, STUDY, Trial, build_trial, treat
from sqlalchemy import select
from test_cli_capture import _session_file, log_in, run  # noqa: F401 - the fixture, autouse

from cartrial.errors import AuthenticationFailed, ImportFailed
from cartrial.report.decisions import signature as signature_line
from cartrial.services import (
    AdjudicateDLT,
    DecideNextDose,
    DecideRP2D,
    DLTOverride,
    EndEscalation,
    OpenExpansion,
    RecordAE,
    ReviewExpansion,
    ShowRecordHistory,
    SignaturesOf,
    SignRecord,
    StopExpansion,
    adjudicate_dlt,
    decide_next_dose,
    decide_rp2d,
    end_escalation,
    escalation_state,
    expansion_state,
    open_expansion,
    record_ae,
    record_history,
    review_expansion,
    sign_record,
    signatures_of,
    stop_expansion,
    subject_records,
    trial_data,
)
from cartrial.services.database import verify_database
from cartrial.services.imports_records import RECORD_FAMILIES, import_study
from cartrial.services.odm import export_odm, import_odm
from cartrial.services.odm_check import odm_problems
from cartrial.services.records_read import recorded_rows
from cartrial.store import AuditLog, Signature, make_engine, session_factory

CREATED = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.UTC)
D0 = dt.date(2026, 1, 12)
D1 = D0 + dt.timedelta(days=35)
COHORT1 = ("S01-001", "S01-002", "S01-003")
COHORT2 = ("S02-001", "S02-002", "S02-003")
GOVERNANCE = [n for n, f in RECORD_FAMILIES.items() if f.stage != "record"]
SOURCE_SYSTEM = f"cartrial {STUDY}"


def _ae(trial: Trial, subject: str, term: str, grade: int, attribution: str) -> int:
    return record_ae(
        trial.as_("coord2"),
        RecordAE(
            subject_id=subject,
            term=term,
            grade=grade,
            onset_at=D1 + dt.timedelta(days=10),
            resolved_at=D1 + dt.timedelta(days=20),
            attribution=attribution,
        ),
    ).ae_id


def _decide_and_sign(trial: Trial, as_of: dt.date) -> None:
    decided = decide_next_dose(trial.as_("dsmc"), DecideNextDose(as_of=as_of))
    sign_record(
        trial.as_("dsmc"),
        SignRecord(
            record="dose_decision",
            record_id=decided.decision_id,
            meaning="approval",
            password=PASSWORD,
        ),
    )


@pytest.fixture
def source(trial: Trial) -> Trial:
    """The study of the module docstring, through the use cases."""
    for subject in COHORT1:
        treat(trial.as_("coord1"), trial.as_("inv"), subject, "S01", D0)
    _decide_and_sign(trial, D0 + dt.timedelta(days=28))
    for subject in COHORT2:
        treat(
            trial.as_("coord2"),
            trial.as_("inv"),
            subject,
            "S02",
            D1,
            dose_level="DL2",
            cells=3.75e8,
        )
    for subject in COHORT2[:2]:
        _ae(trial, subject, "Gastritis", 3, "probable")
    fatigue = _ae(trial, COHORT2[2], "Fatigue", 2, "possible")
    inv = trial.as_("inv")
    adjudicate_dlt(inv, AdjudicateDLT(subject_id=COHORT2[0], password=PASSWORD))
    override = DLTOverride(ae_id=fatigue, is_dlt=True, reason="disabling fatigue, CAR-T related")
    adjudicate_dlt(
        inv, AdjudicateDLT(subject_id=COHORT2[2], overrides=(override,), password=PASSWORD)
    )
    _decide_and_sign(trial, D1 + dt.timedelta(days=28))
    dsmc = trial.as_("dsmc")
    end_escalation(
        dsmc,
        EndEscalation(
            rationale="DL2 exceeds the MTD", password=PASSWORD, as_of=D1 + dt.timedelta(28)
        ),
    )
    decide_rp2d(
        dsmc,
        DecideRP2D(
            dose_level="DL1", rationale="tolerable", password=PASSWORD, as_of=D1 + dt.timedelta(30)
        ),
    )
    open_expansion(
        inv, OpenExpansion(rationale="RP2D decided", password=PASSWORD, as_of=D1 + dt.timedelta(31))
    )
    treat(trial.as_("coord1"), inv, "S01-010", "S01", D1 + dt.timedelta(days=60))
    review_expansion(
        trial.as_("stat"),
        ReviewExpansion(rationale="no rule met", password=PASSWORD, as_of=D1 + dt.timedelta(90)),
    )
    stop_expansion(
        dsmc, StopExpansion(rationale="sponsor", password=PASSWORD, as_of=D1 + dt.timedelta(95))
    )
    return trial


@pytest.fixture
def fresh(template_db: Path, tmp_path: Path) -> Iterator[Trial]:
    """A second, empty copy of the study (the database the study moves into)."""
    path = tmp_path / "fresh.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Trial(engine=engine, factory=session_factory(engine))
    engine.dispose()


def _state(trial: Trial, as_of: dt.date) -> dict[str, object]:
    """What a dashboard draws of the escalation and the expansion, without who signed."""
    state = escalation_state(trial.as_("mon"), as_of=as_of)
    expansion = expansion_state(trial.as_("mon"), as_of=as_of)
    return {
        "current": (state.current_dose_level, state.current_dose_index),
        "recommended": (state.recommended_action, state.recommended_next_dose_level),
        "reason": state.recommendation_reason,
        "doses": [(d.dose_level, d.treated, d.evaluable, d.dlts) for d in state.doses],
        "decisions": [
            (d.cohort, d.dose_level, d.n_treated, d.n_dlt, d.action, d.next_dose_level)
            for d in state.decisions
        ],
        "mtd": state.escalation_end and state.escalation_end.dose_level,
        "rp2d": state.rp2d and state.rp2d.dose_level,
        "expansion": (expansion.dose_level, expansion.is_open, expansion.rules.basis()),
        "expansion_decisions": [
            (d.kind, d.dose_level, d.basis, d.n_evaluable, d.n_dlt, d.decided_date)
            for d in expansion.decisions
        ],
    }


def _report_tables(trial: Trial) -> tuple[list[object], list[object]]:
    data = trial_data(trial.factory, STUDY)
    decisions = data.dose_decisions.drop(columns=["signed_by", "signature"])
    governance = data.governance[["kind", "dose_level", "dose_index", "decided_date", "rationale"]]
    return decisions.to_dict("records"), governance.to_dict("records")


def test_the_source_study_has_every_kind_of_governance_record(source: Trial) -> None:
    rows = recorded_rows(source.as_("dm"))
    assert [(r.action, r.next_dose_level) for r in rows["dose_decisions"]] == [
        ("escalate", "DL2"),
        ("de-escalate", "DL1"),
    ]
    assert [(r.kind, r.dose_level) for r in rows["governance_decisions"]] == [
        ("escalation_end", "DL1"),
        ("rp2d", "DL1"),
        ("expansion_open", "DL1"),
        ("expansion_review", "DL1"),
        ("expansion_stop", "DL1"),
    ]
    adjudications = [(r.subject_id, r.term, r.is_dlt, r.reason) for r in rows["dlt_adjudications"]]
    assert adjudications == [
        ("S02-001", None, None, None),
        ("S02-003", "Fatigue", True, "disabling fatigue, CAR-T related"),
    ]
    assert {r.signed_in for r in rows["dlt_adjudications"]} == {SOURCE_SYSTEM}


def test_the_round_trip_keeps_governance_state_and_report(
    source: Trial, fresh: Trial, tmp_path: Path
) -> None:
    first = export_odm(source.as_("dm"), created=CREATED)
    assert odm_problems(first) == []
    path = tmp_path / "study.xml"
    path.write_bytes(first)
    reports = import_odm(fresh.as_("inv"), path, password=SecretStr(PASSWORD))
    assert [r.kind for r in reports if r.kind in GOVERNANCE] == GOVERNANCE
    assert recorded_rows(fresh.as_("dm")) == recorded_rows(source.as_("dm"))
    assert export_odm(fresh.as_("dm"), created=CREATED) == first
    for as_of in (D1 + dt.timedelta(days=10), D1 + dt.timedelta(days=28), D1 + dt.timedelta(99)):
        assert _state(fresh, as_of) == _state(source, as_of)
    assert _report_tables(fresh) == _report_tables(source)
    # every regulated row of the copy (signatures with their source columns included) matches
    # the audit trail's after-image, and the chain verifies under the key
    assert verify_database(f"sqlite:///{tmp_path / 'fresh.db'}").ok


def test_an_imported_signature_says_who_signed_where_and_who_imported(
    source: Trial, fresh: Trial, tmp_path: Path
) -> None:
    path = tmp_path / "study.xml"
    path.write_bytes(export_odm(source.as_("dm"), created=CREATED))
    import_odm(fresh.as_("inv"), path, password=SecretStr(PASSWORD))
    with fresh.factory() as session:
        signatures = session.scalars(select(Signature).order_by(Signature.id)).all()
        reasons = session.scalars(
            select(AuditLog.reason).where(AuditLog.table_name == "governance_records")
        ).all()
    # every signature in the copy is the importer's (never the source signer's), with the
    # source signature kept as data
    assert {(s.signer, s.meaning, s.version) for s in signatures} == {("inv", "imported_copy", 1)}
    by_meaning = {s.source_meaning: s for s in signatures}
    assert set(by_meaning) == {
        "approval",
        "dlt_adjudication",
        "escalation_ended",
        "rp2d_decided",
        "expansion_opened",
        "expansion_reviewed",
        "expansion_stopped",
    }
    ended = by_meaning["escalation_ended"]
    assert (ended.source_signer, ended.source_signer_name, ended.source_system) == (
        "dsmc",
        "Dsmc",
        SOURCE_SYSTEM,
    )
    # the audit trail: imported by whom, from where, whose signature
    assert all(reason and "imported by inv from " + SOURCE_SYSTEM in reason for reason in reasons)
    assert any("signed there by Dsmc (dsmc) as escalation_ended" in str(r) for r in reasons)
    # the report: the dose-decision table and the governance statements show both signatures
    data = trial_data(fresh.factory, STUDY)
    signature = data.dose_decisions["signature"].iloc[0]
    assert signature.startswith(f"signed in {SOURCE_SYSTEM} by Dsmc (dsmc), approval, ")
    assert "; imported by Inv (inv), imported_copy, " in signature
    meaning = data.governance["meaning"].iloc[0]
    assert meaning.startswith(
        f"imported copy of “escalation_ended” signed in {SOURCE_SYSTEM} by Dsmc (dsmc) on "
    )
    assert data.governance["signed_by"].tolist() == ["inv"] * 5
    assert signature_line(data.governance.iloc[1]).startswith(
        "signed by Inv (inv) on "  # the importer's own signature, then the source's
    )
    assert f"“imported copy of “rp2d_decided” signed in {SOURCE_SYSTEM} by Dsmc (dsmc) on " in (
        signature_line(data.governance.iloc[1])
    )
    # the record's own audit trail and signature list (S02-003's adjudicated fatigue)
    records = subject_records(fresh.as_("mon"), COHORT2[2]).records
    fatigue = next(r for r in records if r.table == "adverse_events" and "Fatigue" in r.summary)
    history = record_history(
        fresh.as_("mon"), ShowRecordHistory(table="adverse_events", record_id=fatigue.record_id)
    )
    (shown,) = history.signatures
    assert shown.startswith(f"signed in {SOURCE_SYSTEM} by Inv (inv), dlt_adjudication, ")
    assert "; imported by Inv (inv), imported_copy, " in shown
    adjudicated = [c for c in history.changes if c.field == "dlt_adjudicated_by"]
    assert [(c.username, c.new_value) for c in adjudicated] == [("inv", "inv")]
    assert "DLT adjudication of S02-003; imported by inv from " in str(adjudicated[0].reason)
    (listed,) = signatures_of(
        fresh.as_("mon"), SignaturesOf(record="adverse_event", record_id=fatigue.record_id)
    )
    assert listed.source is not None and listed.valid
    assert (listed.signer, listed.meaning, listed.source.signer) == ("inv", "imported_copy", "inv")


def test_signed_records_need_the_importers_password(
    source: Trial, fresh: Trial, tmp_path: Path
) -> None:
    path = tmp_path / "study.xml"
    path.write_bytes(export_odm(source.as_("dm"), created=CREATED))
    before = fresh.audit_rows()
    with pytest.raises(ImportFailed, match="needs the importing user's password"):
        import_odm(fresh.as_("inv"), path)
    assert fresh.audit_rows() == before
    with pytest.raises(AuthenticationFailed):
        import_odm(fresh.as_("inv"), path, password=SecretStr("not the password"))
    assert recorded_rows(fresh.as_("dm")) == {}


def _csv(rows: list[object], family: str) -> str:
    model = RECORD_FAMILIES[family].row
    names = list(model.model_fields)
    lines = [",".join(names)]
    for row in rows:
        cells = []
        for name in names:
            value = getattr(row, name)
            text = (
                ""
                if value is None
                else value.isoformat()
                if hasattr(value, "isoformat")
                else str(value)
            )
            cells.append(f'"{text}"' if "," in text else text)
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def test_the_csv_families_move_the_study_in_too(source: Trial, fresh: Trial) -> None:
    rows = recorded_rows(source.as_("dm"))
    sources = [(family, _csv(family_rows, family)) for family, family_rows in rows.items()]
    import_study(fresh.as_("inv"), sources, password=SecretStr(PASSWORD))
    assert recorded_rows(fresh.as_("dm")) == rows


def _refused(trial: Trial, rows: dict[str, list[object]]) -> set[tuple[str, int, str, str]]:
    """Import ``rows`` as CSV texts; every error as (family, line, field, message)."""
    before = trial.audit_rows()
    with pytest.raises(ImportFailed) as failed:
        import_study(
            trial.as_("inv"),
            [(family, _csv(family_rows, family)) for family, family_rows in rows.items()],
            password=SecretStr(PASSWORD),
        )
    assert trial.audit_rows() == before
    assert recorded_rows(trial.as_("dm")) == {}
    return {
        (field.split(" csv text>: ")[0].lstrip("<"), line, field.split(": ")[-1], message)
        for line, field, message in failed.value.errors
    }


def test_hostile_governance_rows_are_each_reported_and_nothing_is_written(
    source: Trial, fresh: Trial
) -> None:
    rows = recorded_rows(source.as_("dm"))
    adjudications, decisions = rows["dlt_adjudications"], rows["dose_decisions"]
    governance = rows["governance_decisions"]
    hostile = {
        **rows,
        "dlt_adjudications": [
            adjudications[0].model_copy(update={"subject_id": "S09-999"}),
            adjudications[1].model_copy(update={"term": "Alopecia"}),
        ],
        # the second decision dated before its cohort's DLT windows closed
        "dose_decisions": [decisions[0], decisions[1].model_copy(update={"as_of": D1})],
        "governance_decisions": [
            governance[0],
            governance[1].model_copy(update={"dose_level": "DL9"}),
            *governance[2:],
        ],
    }
    found = _refused(fresh, hostile)
    by_place = {(family, line, field): message for family, line, field, message in found}
    assert by_place[("dlt_adjudications", 2, "subject_id")] == (
        "no subject 'S09-999' in study CLDN18-PDL1-CART-01"
    )
    assert by_place[("dlt_adjudications", 3, "term")].startswith(
        "no adverse event 'Alopecia' of S02-003 onset 2026-02-26"
    )
    assert by_place[("dose_decisions", 3, "as_of")].startswith(
        f"DLT windows still open on {D1}: S02-001 (window ends {D1 + dt.timedelta(days=28)})"
    )
    assert by_place[("governance_decisions", 3, "dose_level")] == (
        "unknown dose level 'DL9'; protocol levels: ['DL-1', 'DL1', 'DL2', 'DL3']"
    )
    # what rests on the refused RP2D is refused too, each on its own row
    assert (
        by_place[("governance_decisions", 4, "dose_level")] == "the RP2D has not been decided yet"
    )


def test_a_decision_naming_an_unknown_dose_level_is_refused(source: Trial, fresh: Trial) -> None:
    rows = recorded_rows(source.as_("dm"))
    decisions = rows["dose_decisions"]
    hostile = {
        **rows,
        "dose_decisions": [
            decisions[0].model_copy(update={"next_dose_level": "DL7", "action": "stay"}),
            decisions[1].model_copy(update={"dose_level": "DL3"}),
        ],
    }
    by_place = {(f, line, field): m for f, line, field, m in _refused(fresh, hostile)}
    assert by_place[("dose_decisions", 2, "next_dose_level")] == (
        "unknown dose level 'DL7'; protocol levels: ['DL-1', 'DL1', 'DL2', 'DL3']"
    )
    # with the first decision refused, the second finds cohort 1 still at DL1 (and the next
    # cohort's enrolments wait for a decision that never comes: refused on their rows)
    assert by_place[("dose_decisions", 3, "rationale")] == (
        "overriding the design needs a rationale (the design recommends escalate, next dose DL2)"
    )
    assert by_place[("enrolment", 6, "subject_id")].startswith("cohort 1 is full (3 subjects)")


def test_a_decision_that_disagrees_with_the_imported_data_is_refused(
    source: Trial, fresh: Trial
) -> None:
    rows = recorded_rows(source.as_("dm"))
    decisions = rows["dose_decisions"]
    hostile = {
        **rows,
        "dose_decisions": [
            decisions[0].model_copy(update={"dose_level": "DL2", "cohort": 4}),
            decisions[1],
        ],
    }
    by_place = {(f, line, field): m for f, line, field, m in _refused(fresh, hostile)}
    assert by_place[("dose_decisions", 2, "dose_level")] == (
        "the file says DL2, the imported data give the dose in use DL1"
    )


def test_the_cli_imports_governance_only_when_the_user_signs(
    source: Trial, fresh: Trial, tmp_path: Path
) -> None:
    path = tmp_path / "study.xml"
    path.write_bytes(export_odm(source.as_("dm"), created=CREATED))
    db = str(tmp_path / "fresh.db")
    log_in("inv", db)
    code, out = run("import", "odm", str(path), "--db", db)
    assert code == 2 and "needs the importing user's password" in out
    code, out = run("import", "odm", str(path), "--db", db, "--sign", password=PASSWORD)
    assert code == 0, out
    assert "governance_decisions imported" in out
    assert recorded_rows(fresh.as_("dm")) == recorded_rows(source.as_("dm"))


def test_governance_moves_into_each_database_backend(
    source: Trial, migrated_db_url: str, tmp_path: Path
) -> None:
    """SQLite -> ODM -> a fresh SQLite or PostgreSQL database (migration 0008) -> ODM."""
    first = export_odm(source.as_("dm"), created=CREATED)
    path = tmp_path / "study.xml"
    path.write_bytes(first)
    target = build_trial(migrated_db_url)
    try:
        import_odm(target.as_("inv"), path, password=SecretStr(PASSWORD))
        assert export_odm(target.as_("dm"), created=CREATED) == first
        as_of = D1 + dt.timedelta(days=99)
        assert _state(target, as_of) == _state(source, as_of)
    finally:
        target.engine.dispose()


def test_an_unsigned_latest_decision_moves_in_unsigned(
    trial: Trial, fresh: Trial, tmp_path: Path
) -> None:
    for subject in COHORT1:
        treat(trial.as_("coord1"), trial.as_("inv"), subject, "S01", D0)
    decide_next_dose(trial.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(days=28)))
    (row,) = recorded_rows(trial.as_("dm"))["dose_decisions"]
    assert (row.action, row.next_dose_level, row.signed_by) == ("escalate", "DL2", None)
    path = tmp_path / "study.xml"
    path.write_bytes(export_odm(trial.as_("dm"), created=CREATED))
    import_odm(fresh.as_("inv"), path, password=SecretStr(PASSWORD))
    assert recorded_rows(fresh.as_("dm")) == recorded_rows(trial.as_("dm"))
    with fresh.factory() as session:
        assert session.scalars(select(Signature)).all() == []
    # not signed: the next cohort still waits (the state's current dose is the start dose)
    state = escalation_state(fresh.as_("mon"), as_of=D0 + dt.timedelta(days=28))
    assert state.current_dose_level == "DL1" and not state.can_decide


def test_the_recorded_basis_is_kept_and_the_recomputed_one_audited(
    source: Trial, fresh: Trial
) -> None:
    """A review recorded on fewer data than the file dates before it (data entered late in the
    source) keeps what the committee saw; the audit reason gives the basis on the imported data."""
    rows = recorded_rows(source.as_("dm"))
    review = rows["governance_decisions"][3]
    assert review.kind == "expansion_review" and review.basis is not None
    seen = review.model_copy(update={"basis": "toxicity: 0/0 DLTs as seen", "n_evaluable": 0})
    rows["governance_decisions"][3] = seen
    sources = [(family, _csv(family_rows, family)) for family, family_rows in rows.items()]
    import_study(fresh.as_("inv"), sources, password=SecretStr(PASSWORD))
    copied = recorded_rows(fresh.as_("dm"))["governance_decisions"][3]
    assert (copied.basis, copied.n_evaluable, copied.n_dlt) == (
        "toxicity: 0/0 DLTs as seen",
        0,
        review.n_dlt,
    )
    with fresh.factory() as session:
        reasons = session.scalars(
            select(AuditLog.reason).where(
                AuditLog.table_name == "governance_records", AuditLog.action == "insert"
            )
        ).all()
    kept = [r for r in reasons if r and "recorded basis kept" in r]
    assert len(kept) == 1 and kept[0].endswith(f"on the imported data: {review.basis}")
