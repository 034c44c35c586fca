"""Conduct the whole study with virtual patients, exactly as the study team would, via services.

:func:`run_demo` creates a fresh SQLite database, loads the protocol as a study, sets up sites and
staff, then runs a dated event calendar: candidates are screened (some fail), enrolled and dosed
at the dose the latest signed decision allows; each subject's lymphodepletion, infusion, labs,
CRS/ICANS days, adverse events, scans, samples and follow-up are recorded on their days
(:mod:`cartrial.demo.conduct`). When a cohort's DLT window closes the protocol's design
recommends the next dose (``decide_next_dose``) and the safety committee signs; when the design
stops (or the escalation is full) the committee ends the escalation with the MTD the design
selects (``end_escalation``) and records the RP2D (``decide_rp2d``), and the investigator opens
the expansion at it (``open_expansion``); the committee reviews its toxicity-monitoring boundary
and Simon stage-1 futility rule (``review_expansion``) and records a signed stop when one is met
(``stop_expansion``). Each of these is a signed governance record. After the last subject's
18-month follow-up the data manager locks the data, and the report is written from
``trial_data``. Like any client, the demo reaches the database only through
:mod:`cartrial.services`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import shutil
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cartrial.analysis import TrialData
from cartrial.demo.conduct import (
    ORDER,
    SiteStaff,
    SubjectState,
    baseline_assessment,
    plan_subject,
    screening_record,
)
from cartrial.demo.summary import DemoSummary, summarise
from cartrial.exchange import build_adam, build_sdtm, write_package
from cartrial.protocol import Protocol, default_protocol_path, parse_protocol
from cartrial.report import ReportResult, build_report
from cartrial.safeyaml import LIMITS, load_yaml
from cartrial.services import (
    AddSite,
    AddUser,
    AssignDose,
    CreateStudy,
    DecideNextDose,
    DecideRP2D,
    EndEscalation,
    EnrolSubject,
    LockData,
    OpenExpansion,
    ReviewExpansion,
    ServiceContext,
    SignRecord,
    StopExpansion,
    WithdrawSubject,
    add_site,
    add_user,
    assign_dose,
    create_database,
    create_study,
    decide_next_dose,
    decide_rp2d,
    end_escalation,
    enrol_subject,
    expansion_state,
    import_kinetics,
    import_labs,
    lock_data,
    open_expansion,
    record_tumour_assessment,
    review_expansion,
    screen_subject,
    sign_record,
    stop_expansion,
    trial_data,
    trusted_context,
    withdraw_subject,
)
from cartrial.textio import read_text
from cartrial.virtual.cohort import VirtualCohort, VirtualPopulation, sample_population

__all__ = ["DEFAULT_SEED", "TRUTH_CSV", "DemoResult", "run_demo"]

DEFAULT_SEED = 20261126
STUDY_START = dt.date(2023, 3, 6)
PASSWORD = "demo-password-2026"
SITES = (("S01", "Site 01 (virtual)", "CN"), ("S02", "Site 02 (virtual)", "CN"))
POOL_SIZE = 400
SCREEN_GAP_DAYS = 3
EXPANSION_ACCRUAL_DAYS = 10
ENROL_AFTER_SCREENING_DAYS = 2
INFUSION_AFTER_SCREENING_DAYS = 14
EXPECTED_DAYS = 1100
#: File (in the output directory) with each infused subject's virtual truth.
TRUTH_CSV = "virtual-truth.csv"
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced.

    Attributes
    ----------
    database
        The SQLite file holding the study.
    report
        The written report (``None`` when ``report=False``).
    trial
        The analysis input read back through ``trial_data`` at the data cut-off.
    summary
        Headline results (RP2D, DLTs per dose, ORR, medians) as the analysis computes them.
    truth
        One row per infused subject: the virtual patient's truth (true DLT, death day, ...).
    screening
        One row per screened candidate: subject id, outcome and reason.
    patients
        Each infused subject's virtual patient (its true trajectories), by subject id.
    """

    database: Path
    report: ReportResult | None
    trial: TrialData
    summary: DemoSummary
    truth: pd.DataFrame
    screening: pd.DataFrame
    patients: dict[str, VirtualCohort]


@dataclass
class _Conduct:
    """The running study: calendar, staff, virtual candidates and governance state."""

    protocol: Protocol
    pool: VirtualPopulation
    seed: int
    staff: dict[str, SiteStaff]
    committee: ServiceContext
    pi: ServiceContext
    data_manager: ServiceContext
    progress: Progress
    calendar: list[tuple[dt.date, int, int, Callable[[], None]]] = field(default_factory=list)
    seq: int = 0
    candidate: int = 0
    dose_level: str = ""
    phase: str = "escalation"
    cohort_infusions: list[dt.date] = field(default_factory=list)
    escalation_enrolled: int = 0
    expansion_enrolled: int = 0
    expansion_open: bool = True
    stop_reason: str = ""
    last_date: dt.date = STUDY_START
    batches: dict[tuple[str, dt.date], list[pd.DataFrame]] = field(default_factory=dict)
    truth_rows: list[dict[Hashable, object]] = field(default_factory=list)
    screen_rows: list[dict[str, object]] = field(default_factory=list)
    states: dict[str, SubjectState] = field(default_factory=dict)
    last_days: dict[str, int] = field(default_factory=dict)
    patients: dict[str, VirtualCohort] = field(default_factory=dict)
    expansion_subjects: list[tuple[str, dt.date]] = field(default_factory=list)
    stage1_n: int | None = None

    # ---- calendar ----------------------------------------------------------------------
    def at(self, date: dt.date, order: int, action: Callable[[], None]) -> None:
        heapq.heappush(self.calendar, (date, order, self.seq, action))
        self.seq += 1

    def run(self) -> None:
        while self.calendar:
            date, _, _, action = heapq.heappop(self.calendar)
            self.last_date = max(self.last_date, date)
            action()
            done = (date - STUDY_START).days / EXPECTED_DAYS
            self.progress(min(done, 0.99), f"{self.phase}: {date:%Y-%m-%d}")

    def batch(self, kind: str, rows: pd.DataFrame) -> None:
        """Queue lab or kinetics rows for the central lab's weekly transfer (Sunday, one file)."""
        sunday = rows["date"].map(lambda d: d + dt.timedelta(days=6 - d.weekday()))
        for date, part in rows.groupby(sunday, sort=True):
            key = (kind, date)
            if key not in self.batches:
                self.batches[key] = []
                self.at(key[1], ORDER[kind], self._flusher(key))
            self.batches[key].append(part)

    def _flusher(self, key: tuple[str, dt.date]) -> Callable[[], None]:
        return lambda: self._flush(key)

    def _flush(self, key: tuple[str, dt.date]) -> None:
        rows = pd.concat(self.batches.pop(key), ignore_index=True)
        csv = rows.to_csv(index=False, date_format="%Y-%m-%d")
        ctx = self.data_manager
        (import_labs if key[0] == "labs" else import_kinetics)(ctx, csv)

    # ---- screening and enrolment ---------------------------------------------------------
    def screen(self, date: dt.date) -> None:
        """Screen the next referred candidate; enrol if eligible, else screen another."""
        if not self._enrolling():
            return
        k = self.candidate
        self.candidate += 1
        patient = self.pool.patient(k)
        b = patient.baseline
        site = SITES[k % len(SITES)][0]
        subject_id = f"{site}-{k + 1:03d}"
        result = screen_subject(
            self.staff[site].coordinator, screening_record(subject_id, site, date, b, 0)
        )
        failed = [c.criterion for c in result.criteria if not c.met]
        outcome = "screen failure" if failed else "eligible"
        if not failed and b.other_screen_failure[0]:
            withdraw_subject(
                self.staff[site].investigator,
                WithdrawSubject(
                    subject_id=subject_id, withdrawn_date=date, reason="consent withdrawn"
                ),
            )
            failed, outcome = ["consent withdrawn before enrolment"], "withdrawn"
        self.screen_rows.append(
            {
                "subject_id": subject_id,
                "date": date,
                "outcome": outcome,
                "reasons": ", ".join(failed),
            }
        )
        if failed:
            self.at(
                date + dt.timedelta(days=SCREEN_GAP_DAYS),
                0,
                lambda: self.screen(date + dt.timedelta(days=SCREEN_GAP_DAYS)),
            )
            return
        enrol_date = date + dt.timedelta(days=ENROL_AFTER_SCREENING_DAYS)
        self.at(enrol_date, ORDER["enrol"], lambda: self.enrol(subject_id, k, site, date))

    def _enrolling(self) -> bool:
        return self.phase == "escalation" or (self.phase == "expansion" and self.expansion_open)

    def enrol(self, subject_id: str, k: int, site: str, screened: dt.date) -> None:
        """Enrol, assign the allowed dose, record the baseline scan and plan the subject."""
        staff = self.staff[site]
        enrol_date = screened + dt.timedelta(days=ENROL_AFTER_SCREENING_DAYS)
        if not self._enrolling():
            reason = "enrolment closed before this subject could be enrolled"
            withdraw_subject(
                staff.investigator,
                WithdrawSubject(subject_id=subject_id, withdrawn_date=enrol_date, reason=reason),
            )
            return
        patient = self.pool.patient(k)
        enrol_subject(
            staff.coordinator, EnrolSubject(subject_id=subject_id, enrolled_date=enrol_date)
        )
        assigned = assign_dose(
            staff.investigator, AssignDose(subject_id=subject_id, dose_level=self.dose_level)
        )
        record_tumour_assessment(
            staff.investigator, baseline_assessment(subject_id, patient.baseline, screened)
        )
        rng = np.random.default_rng([self.seed, k])
        cells = float(assigned.target_cells * rng.uniform(0.92, 1.08))
        cohort = patient.treat(cells)
        day0 = screened + dt.timedelta(days=INFUSION_AFTER_SCREENING_DAYS)
        plan = plan_subject(subject_id, staff, cohort, day0, cells, self.protocol)
        for event in plan.events:
            self.at(event.date, event.order, event.action)
        self.batch("labs", plan.lab_rows)
        self.batch("kinetics", plan.kinetics_rows)
        self.states[subject_id] = plan.state
        self.last_days[subject_id] = plan.last_day
        self.patients[subject_id] = cohort
        truth = (
            cohort.truth(self.protocol.dlt.window_days, self.protocol.recist.sd_min_days)
            .iloc[0]
            .to_dict()
        )
        truth.update(
            subject_id=subject_id,
            phase=self.phase,
            dose_level=assigned.dose_level,
            infusion_date=day0,
            last_day=plan.last_day,
        )
        self.truth_rows.append(truth)
        if self.phase == "escalation":
            self._escalation_enrolled(day0, screened)
        else:
            self._expansion_enrolled(subject_id, day0, screened)

    # ---- escalation ---------------------------------------------------------------------
    def _escalation_enrolled(self, day0: dt.date, screened: dt.date) -> None:
        self.escalation_enrolled += 1
        self.cohort_infusions.append(day0)
        if len(self.cohort_infusions) < self.protocol.escalation.cohort_size:
            stagger = self.protocol.escalation.stagger_days
            nxt = max(screened + dt.timedelta(days=stagger), screened + dt.timedelta(days=1))
            self.at(nxt, 0, lambda: self.screen(nxt))
            return
        window = self.protocol.dlt.window_days
        decide_on = max(self.cohort_infusions) + dt.timedelta(days=window + 1)
        self.cohort_infusions = []
        self.at(decide_on, ORDER["committee"], lambda: self.decide(decide_on))

    def _sign_decision(self, decision_id: int, meaning: str) -> None:
        """The committee signs the dose decision ``decision_id`` with ``meaning``."""
        sign_record(
            self.committee,
            SignRecord(
                record="dose_decision", record_id=decision_id, meaning=meaning, password=PASSWORD
            ),
        )

    def decide(self, date: dt.date) -> None:
        """The committee meets when the cohort's DLT windows have closed.

        It signs the design's dose decision; when the design stops or the escalation is full it
        ends the escalation (the design selects the MTD), records the RP2D at the MTD, and the
        investigator opens the expansion there.
        """
        rec = decide_next_dose(self.committee, DecideNextDose(as_of=date))
        full = self.escalation_enrolled >= self.protocol.escalation.max_subjects
        self._sign_decision(rec.decision_id, "approved")
        if rec.action != "stop" and not full:
            self.dose_level = rec.next_dose_level or self.dose_level
            self.at(
                date + dt.timedelta(days=1), 0, lambda: self.screen(date + dt.timedelta(days=1))
            )
            return
        why = rec.recommendation_reason
        if rec.action != "stop":
            why = f"the escalation is full ({self.escalation_enrolled} subjects); {why}"
        ended = end_escalation(
            self.committee, EndEscalation(rationale=why, password=PASSWORD, as_of=date)
        )
        if ended.dose_level is None:
            self.stop_reason = f"escalation stopped: {rec.recommendation_reason}"
            self.phase = "follow-up"
            return
        rp2d = decide_rp2d(
            self.committee,
            DecideRP2D(
                dose_level=ended.dose_level,
                rationale=f"the MTD: {ended.basis}",
                password=PASSWORD,
                as_of=date,
            ),
        )
        opened = open_expansion(
            self.pi,
            OpenExpansion(
                rationale=f"expansion at the RP2D {rp2d.dose_level}",
                password=PASSWORD,
                as_of=date,
            ),
        )
        self.dose_level = opened.dose_level or self.dose_level
        self.stage1_n = expansion_state(self.committee, as_of=date).rules.futility_n1
        self.phase = "expansion"
        self.at(date + dt.timedelta(days=1), 0, lambda: self.screen(date + dt.timedelta(days=1)))

    # ---- expansion ----------------------------------------------------------------------
    def _expansion_enrolled(self, subject_id: str, day0: dt.date, screened: dt.date) -> None:
        self.expansion_enrolled += 1
        self.expansion_subjects.append((subject_id, day0))
        window = self.protocol.dlt.window_days
        review = day0 + dt.timedelta(days=window + 1)
        self.at(review, ORDER["committee"], lambda: self.review_expansion(review))
        if self.stage1_n is not None and self.expansion_enrolled == self.stage1_n:
            look = day0 + dt.timedelta(
                days=max(e.time_frame_days for e in self.protocol.endpoints if e.analysis == "orr")
            )
            self.at(look, ORDER["committee"], lambda: self.review_expansion(look))
        if self.expansion_enrolled < self.protocol.expansion.planned_subjects:
            nxt = screened + dt.timedelta(days=EXPANSION_ACCRUAL_DAYS)
            self.at(nxt, 0, lambda: self.screen(nxt))
        else:
            self.expansion_open = False

    def review_expansion(self, date: dt.date) -> None:
        """The committee reviews the expansion's stopping rules and, if one is met, stops it.

        The rules (beta-binomial toxicity boundary, Simon stage-1 futility) are applied by
        :func:`cartrial.services.review_expansion` to the recorded data and the review is signed;
        the stop is recorded and signed by :func:`cartrial.services.stop_expansion`.
        """
        if not self.expansion_open:
            return
        review = review_expansion(
            self.committee,
            ReviewExpansion(
                rationale="scheduled review of the stopping rules", password=PASSWORD, as_of=date
            ),
        )
        if not review.rules.stop:
            return
        self.expansion_open = False
        self.stop_reason = f"expansion stopped on {date}: {'; '.join(review.rules.reasons)}"
        stop_expansion(
            self.committee,
            StopExpansion(rationale=self.stop_reason, password=PASSWORD, as_of=date),
        )


def _setup(
    db_path: Path, protocol_text: str, protocol: Protocol
) -> tuple[dict[str, SiteStaff], dict[str, ServiceContext]]:
    factory = create_database(db_path)  # the schema, and the audit key file unless configured
    create_study(
        factory,
        CreateStudy(
            protocol_yaml=protocol_text,
            admin_username="admin",
            admin_full_name="Study administrator",
            admin_password=PASSWORD,
        ),
    )

    def ctx(user: str) -> ServiceContext:
        # The demo's staff are virtual users it created itself, in this process: trusted.
        return trusted_context(factory, user, protocol.study_id, source="demo")

    admin = ctx("admin")
    for code, name, country in SITES:
        add_site(admin, AddSite(code=code, name=name, country=country))
    people: list[tuple[str, str, str, str | None]] = [
        ("pi", "Principal investigator", "investigator", None),
        ("dsmb", "Safety committee chair", "safety_committee", None),
        ("dm", "Data manager", "data_manager", None),
    ]
    for code, _, _ in SITES:
        people.append((f"inv.{code.lower()}", f"Investigator {code}", "investigator", code))
        people.append(
            (f"crc.{code.lower()}", f"Study coordinator {code}", "site_coordinator", code)
        )
    for username, full_name, role, site in people:
        add_user(
            admin,
            AddUser(
                username=username, full_name=full_name, password=PASSWORD, role=role, site=site
            ),
        )
    staff = {
        code: SiteStaff(
            site=code,
            investigator=ctx(f"inv.{code.lower()}"),
            coordinator=ctx(f"crc.{code.lower()}"),
        )
        for code, _, _ in SITES
    }
    return staff, {"pi": ctx("pi"), "committee": ctx("dsmb"), "data_manager": ctx("dm")}


def _protocol_text(path: Path | None, design: str | None) -> str:
    file = path or default_protocol_path()
    text = read_text(file, max_bytes=LIMITS.max_bytes, utf8_only=True)
    if design is None:
        return text
    raw = load_yaml(text, source=str(file))
    if not isinstance(raw, dict) or not isinstance(raw.get("escalation"), dict):
        return text  # not a protocol: load_protocol reports what is wrong with it
    escalation = raw["escalation"]
    params = {} if design in ("3+3",) else {"target": escalation["target_dlt_rate"]}
    escalation["design"] = {"name": design, "params": params}
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    design: str | None = None,
    protocol_path: str | Path | None = None,
    report: bool = True,
    pdf: bool = True,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole study in silico into ``out_dir``: ``cartrial.db``, ``report/``, the CDISC
    datasets (``sdtm/`` and ``adam/``, SAS transport v5 with Define-XML) and the truth CSV.

    Parameters
    ----------
    out_dir
        Output directory; an existing demo database in it is replaced.
    seed
        Seed of the virtual patients and of every random choice (same seed, same study).
    design
        Escalation design name (``"3+3"``, ``"boin"``, ...); ``None`` keeps the protocol's.
    protocol_path
        Protocol file; ``None`` runs the packaged study protocol.
    report, pdf
        Write the report and the CDISC datasets (and the report's PDF).
    progress
        Called with ``(fraction done, message)``.
    """
    notify = progress or (lambda fraction, message: None)
    text = _protocol_text(Path(protocol_path) if protocol_path else None, design)
    protocol = parse_protocol(text, source=str(protocol_path or "demo protocol"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "cartrial.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    notify(0.0, "creating the database")
    shutil.rmtree(f"{db_path}.checkpoints", ignore_errors=True)  # a previous run's checkpoints
    staff, roles = _setup(db_path, text, protocol)
    study = _Conduct(
        protocol=protocol,
        pool=sample_population(POOL_SIZE, np.random.SeedSequence(seed)),
        seed=seed,
        staff=staff,
        committee=roles["committee"],
        pi=roles["pi"],
        data_manager=roles["data_manager"],
        progress=notify,
        dose_level=protocol.escalation.start_dose,
    )
    study.at(STUDY_START, 0, lambda: study.screen(STUDY_START))
    study.run()
    cutoff = study.last_date
    lock_data(
        roles["data_manager"],
        LockData(name="final analysis", data_cutoff=cutoff, password=PASSWORD),
    )
    notify(0.99, "reading the data back and writing the report")
    trial = trial_data(roles["data_manager"].session_factory, protocol.study_id, cutoff)
    screening = pd.DataFrame(study.screen_rows)
    written = None
    if report:
        report_dir = out / "report"
        shutil.rmtree(report_dir, ignore_errors=True)
        written = build_report(trial, report_dir, pdf=pdf, screening=screening)
        notify(0.995, "writing the CDISC datasets (SDTM, ADaM, Define-XML)")
        sdtm = build_sdtm(trial)
        shutil.rmtree(out / "sdtm", ignore_errors=True)
        shutil.rmtree(out / "adam", ignore_errors=True)
        write_package(trial, "sdtm", out / "sdtm", "xpt", datasets=sdtm)
        write_package(trial, "adam", out / "adam", "xpt", datasets=build_adam(trial, sdtm))
    summary = summarise(trial, stop_reason=study.stop_reason, screening=screening)
    truth = pd.DataFrame(study.truth_rows)
    truth.to_csv(out / TRUTH_CSV, index=False)
    notify(1.0, "done")
    return DemoResult(
        database=db_path,
        report=written,
        trial=trial,
        summary=summary,
        truth=truth,
        screening=screening,
        patients=study.patients,
    )
