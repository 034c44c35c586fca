"""The in-silico study end to end: CLI, reproducibility, and agreement with the virtual truth.

The study runs on the packaged protocol with a 4-subject expansion (to keep CI time modest): the
whole escalation, the expansion at the RP2D, 18-month follow-up, data lock and the report. What the
analysis reports from the database is checked against an independent recount from the virtual
patients' own truth: each subject's DLT status, DLTs per dose level, deaths and responders.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cartrial.analysis import analyse_trial
from cartrial.analysis.tables import TOTAL
from cartrial.cli import app
from cartrial.demo import TRUTH_CSV, DemoResult, run_demo
from cartrial.designs import make_design
from cartrial.protocol import default_protocol_path
from cartrial.virtual import VirtualCohort

SEED = 7
EXPANSION = 4
# Columns whose values are wall-clock times of the run (or derived from them: the audit hash
# chain, signature hashes) or salted password hashes; every other value must be identical.
RUN_TIME_COLUMN = re.compile(
    r"^(created|updated|decided|signed|assigned|locked|occurred)_at$|sha256$|^password_hash$"
)


@pytest.fixture(scope="module")
def protocol_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = yaml.safe_load(default_protocol_path().read_text(encoding="utf-8"))
    raw["expansion"]["planned_subjects"] = EXPANSION
    path = tmp_path_factory.mktemp("protocol") / "small-expansion.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, protocol_file: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cli")
    result = CliRunner().invoke(
        app,
        [
            *("demo", "--out", str(out), "--seed", str(SEED)),
            *("--protocol", str(protocol_file), "--no-pdf", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, protocol_file: Path) -> DemoResult:
    out = tmp_path_factory.mktemp("api")
    return run_demo(out, seed=SEED, protocol_path=protocol_file, report=False)


def test_cli_writes_database_report_and_headlines(cli_run: tuple[Path, dict]) -> None:
    out, payload = cli_run
    assert (out / "cartrial.db").is_file()
    assert (out / "report" / "report.html").is_file()
    assert (out / TRUTH_CSV).is_file()
    assert payload["rp2d"] in {"DL-1", "DL1", "DL2", "DL3"}
    assert payload["enrolled"] >= 3 + EXPANSION
    assert 0.0 <= payload["orr_ci95"][0] <= payload["orr"] <= payload["orr_ci95"][1] <= 1.0


def test_cli_writes_the_cdisc_datasets_with_define_xml(cli_run: tuple[Path, dict]) -> None:
    out, payload = cli_run
    for standard, first in (("sdtm", "dm.xpt"), ("adam", "adsl.xpt")):
        folder = out / standard
        assert (folder / first).is_file() and (folder / "define.xml").is_file()
        findings = json.loads((folder / "conformance.json").read_text(encoding="utf-8"))
        assert [f for f in findings if f["severity"] == "error"] == []
    adsl = pd.read_sas(out / "adam" / "adsl.xpt", format="xport", encoding="ascii")
    assert len(adsl) == payload["enrolled"]


def test_demo_sdtm_holds_design_visits_eligibility_vitals_and_links(
    cli_run: tuple[Path, dict],
) -> None:
    """The demo records screen failures, lymphodepletion, daily temperatures, subsequent
    therapy and DLT adjudications through the use cases, so none of these domains is empty."""
    folder = cli_run[0] / "sdtm"

    def read(name: str) -> pd.DataFrame:
        return pd.read_sas(folder / f"{name}.xpt", format="xport", encoding="utf-8")

    for name in ("ta", "te", "tv", "td", "ti", "sv", "ie", "vs", "relrec", "pp"):
        assert len(read(name)) > 0, name
    pp = read("pp")
    assert {"CMAX", "TMAX", "AUCINT"} <= set(pp["PPTESTCD"])
    assert "PK-CARTGENE" in set(read("relrec")["RELID"])
    assert "LYMPHODEPLETING CHEMOTHERAPY" in set(read("ex")["EXCAT"])
    assert {"CONCOMITANT MEDICATION", "SUBSEQUENT ANTICANCER THERAPY"} <= set(read("cm")["CMCAT"])
    assert "SCREEN FAILURE" in set(read("dm")["ARMNRS"])


def _without_run_times(value: object) -> object:
    """An audit record's JSON values without the run-time fields (see RUN_TIME_COLUMN)."""
    if not isinstance(value, str) or not value.startswith("{"):
        return value
    fields = {k: v for k, v in json.loads(value).items() if not RUN_TIME_COLUMN.search(k)}
    return json.dumps(fields, sort_keys=True)


def _rows(path: Path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        frames = {t: pd.read_sql_query(f'SELECT * FROM "{t}"', con) for t in sorted(tables)}
    for column in ("old_value", "new_value"):
        frames["audit_log"][column] = frames["audit_log"][column].map(_without_run_times)
    return frames


def test_same_seed_gives_the_same_database(cli_run: tuple[Path, dict], demo: DemoResult) -> None:
    first, second = _rows(cli_run[0] / "cartrial.db"), _rows(demo.database)
    assert first.keys() == second.keys()
    for table, frame in first.items():
        other = second[table]
        assert frame.shape == other.shape, table
        assert list(frame.columns) == list(other.columns), table
        differing = [
            c
            for c in frame.columns
            if not frame[c].fillna("<null>").equals(other[c].fillna("<null>"))
        ]
        unexpected = [c for c in differing if not RUN_TIME_COLUMN.search(c)]
        assert not unexpected, f"{table}: {unexpected} differ between runs with the same seed"


def test_every_subject_dlt_status_is_the_virtual_truth(demo: DemoResult) -> None:
    # The virtual model builds each DLT unambiguously (see VirtualCohort.true_dlt_day); the
    # services adjudicate from the recorded AEs with the protocol's rules. They must agree.
    aes = demo.trial.adverse_events
    flagged = set(aes.loc[aes["is_dlt"].astype(bool), "subject_id"])
    truth = demo.truth.set_index("subject_id")
    assert flagged == set(truth.index[truth["true_dlt"]])


def test_dlts_per_dose_equal_the_truth_recount(demo: DemoResult) -> None:
    window = demo.trial.protocol.dlt.window_days
    truth = demo.truth[demo.truth["phase"] == "escalation"]
    evaluable = truth[truth["true_dlt"] | (truth["last_day"] >= window)]
    expected = evaluable.groupby("dose_level").agg(n=("true_dlt", "size"), dlt=("true_dlt", "sum"))
    table = demo.summary.dlt_by_dose.set_index("dose_level")
    table = table[table["dlt_evaluable_n"] > 0].drop(index=TOTAL)
    got = table[["dlt_evaluable_n", "subjects_with_dlt"]].rename(
        columns={"dlt_evaluable_n": "n", "subjects_with_dlt": "dlt"}
    )
    pd.testing.assert_frame_equal(
        got.sort_index().astype(int), expected.sort_index().astype(int), check_names=False
    )


def test_deaths_equal_the_truth(demo: DemoResult) -> None:
    follow_up = demo.trial.protocol.schedule.follow_up_days
    truth = demo.truth.set_index("subject_id")
    died = truth[(truth["death_day"] <= truth["dropout_day"]) & (truth["death_day"] <= follow_up)]
    expected = {
        s: (row["infusion_date"] + pd.Timedelta(days=int(np.floor(row["death_day"]))))
        for s, row in died.iterrows()
    }
    subjects = demo.trial.subjects.set_index("subject_id")
    recorded = subjects["death_date"].dropna()
    assert set(recorded.index) == set(expected)
    for subject, date in recorded.items():
        assert pd.Timestamp(date).date() == expected[subject]
    assert demo.summary.n_deaths == len(expected)


def _responder(cohort: VirtualCohort, scan_days: list[int], last_day: int) -> bool:
    """Independent RECIST 1.1 recount (Eisenhauer 2009 sections 4.3-4.4) on the virtual scans.

    Target response from the sum of diameters (PR: <= -30 % from baseline; PD: >= +20 % and
    >= 5 mm over the nadir), PD also on a new lesion or non-target progression; CR when every
    non-nodal target is 0, every target node < 10 mm and every non-target gone. A responder has a
    CR/PR confirmed by another CR/PR at least 28 days later, before any PD.
    """
    # The site's scan days, all of them (the measurement noise is drawn for the whole schedule);
    # scans after death or withdrawal never happen.
    days = np.array(scan_days, dtype=float)
    diam, new, nt_pd = cohort.observe_tumour(days)
    true = cohort.tumour.true_diameters(days)
    missed = cohort.missed_visits(len(days))[0]
    les = cohort.baseline.lesions
    target, node = les.target[0], les.is_lymph_node[0]
    non_target = les.non_target[0]
    params = cohort.params
    baseline = nadir = float(les.baseline_mm[0, target].sum())
    timeline: list[tuple[float, str]] = []
    for j, day in enumerate(days):
        if missed[j] or day > last_day:
            continue
        sod = float(diam[0, j, target].sum())
        nt_gone = np.where(
            node,
            true[0, j] < params.population.lymph_node_pathological_mm,
            true[0, j] < params.tumour.disappear_below_mm,
        )
        if new[0, j] or nt_pd[0, j] or (sod >= 1.2 * nadir and sod - nadir >= 5):
            timeline.append((day, "PD"))
            break
        targets_gone = np.all(
            np.where(node[target], diam[0, j, target] < 10, diam[0, j, target] == 0)
        )
        if targets_gone and np.all(nt_gone[non_target]):
            timeline.append((day, "CR"))
        elif sod <= 0.7 * baseline:
            timeline.append((day, "PR"))
        else:
            timeline.append((day, "SD"))
        nadir = min(nadir, sod)
    hits = [d for d, r in timeline if r in ("CR", "PR")]
    return any(later - first >= 28 for i, first in enumerate(hits) for later in hits[i + 1 :])


def test_responders_equal_the_truth_recount(demo: DemoResult) -> None:
    protocol = demo.trial.protocol
    scan_days = sorted({v.day for v in protocol.schedule.visits_with("tumour") if v.day > 0})
    truth = demo.truth.set_index("subject_id")
    expected = {
        s
        for s, cohort in demo.patients.items()
        if _responder(cohort, scan_days, int(truth.loc[s, "last_day"]))
    }
    best = analyse_trial(demo.trial).best_response.subjects
    reported = set(best.loc[best["bor"].isin(["CR", "PR"]), "subject_id"])
    assert reported == expected
    assert demo.summary.orr_responders <= len(reported)


def test_screening_failures_are_recorded_with_reasons(demo: DemoResult) -> None:
    screened = demo.screening
    failed = screened[screened["outcome"] != "eligible"]
    assert len(failed) > 0 and (failed["reasons"].str.len() > 0).all()
    assert demo.summary.n_screened == len(screened)
    assert demo.summary.n_enrolled == int((screened["outcome"] == "eligible").sum())


def test_committee_decisions_are_recorded_and_signed(demo: DemoResult) -> None:
    decisions = demo.trial.dose_decisions
    assert len(decisions) >= 2
    assert (decisions["signed_by"].fillna("").str.len() > 0).all()
    # Each decision is dated when its cohort's DLT windows had closed (study time, not run time).
    dates = pd.to_datetime(decisions["decided_date"])
    window = pd.Timedelta(days=demo.trial.protocol.dlt.window_days)
    first_infusion = pd.to_datetime(demo.trial.subjects["infusion_date"]).min()
    assert dates.is_monotonic_increasing and dates.min() > first_infusion + window
    assert dates.max() <= demo.trial.data_cutoff
    expansion = demo.truth[demo.truth["phase"] == "expansion"]
    assert len(expansion) == EXPANSION
    assert set(expansion["dose_level"]) == {demo.summary.rp2d}


def test_the_demo_database_verifies_against_its_trail(cli_run: tuple[Path, dict]) -> None:
    """Every record the demo wrote equals its audit trail's after-image; the chain is keyed."""
    out, _payload = cli_run
    result = CliRunner().invoke(
        app, ["audit", "verify", "--db", str(out / "cartrial.db"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["chain_authenticated"], report["findings"][:5]
    assert report["records"] > 1000 and report["audit_rows"] >= report["records"]


def test_mtd_rp2d_and_expansion_are_signed_governance_records(demo: DemoResult) -> None:
    governance = demo.trial.governance
    kinds = governance["kind"].tolist()
    assert kinds[:3] == ["escalation_end", "rp2d", "expansion_open"]
    assert set(kinds[3:]) <= {"expansion_review", "expansion_stop"}
    assert (governance["signed_by"].str.len() > 0).all()
    assert (governance["signer_name"].str.len() > 0).all()
    by_kind = governance.drop_duplicates("kind").set_index("kind")
    assert by_kind.loc["escalation_end", "dose_level"] == demo.summary.mtd
    assert by_kind.loc["rp2d", "dose_level"] == demo.summary.rp2d
    assert by_kind.loc["expansion_open", "signed_by"] == "pi"  # protocol expansion.opened_by
    # The MTD is what the protocol's design selects on the escalation's DLT-evaluable counts,
    # recounted here from the virtual truth (design: the protocol's escalation.design).
    protocol = demo.trial.protocol
    names = [level.name for level in protocol.dose_levels]
    window = protocol.dlt.window_days
    truth = demo.truth[demo.truth["phase"] == "escalation"]
    evaluable = truth[truth["true_dlt"] | (truth["last_day"] >= window)]
    n = [int((evaluable["dose_level"] == name).sum()) for name in names]
    dlt = [int(evaluable.loc[evaluable["dose_level"] == name, "true_dlt"].sum()) for name in names]
    spec = protocol.escalation.design
    design = make_design(spec.name, n_doses=len(names), **dict(spec.params))
    mtd = design.select_mtd(n, dlt)
    assert demo.summary.mtd == (names[mtd] if mtd is not None else None)


def test_demo_serve_starts_the_web_application_on_the_demo_database(
    tmp_path: Path, protocol_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo --serve`` runs the demo, then starts uvicorn on 127.0.0.1 with the web app of the
    demo's database. The stand-in for ``uvicorn.run`` builds the app as a worker does (the
    factory it is given) and logs in as the demo's principal investigator with the printed
    password: the server would answer with the demo's study and users."""
    import uvicorn
    from fastapi.testclient import TestClient

    from cartrial.cli.serve import app_from_environment
    from cartrial.demo.study import PASSWORD as DEMO_PASSWORD
    from cartrial.web.security import CSRF_FIELD

    # serve() exports the database and study to its workers through the environment
    monkeypatch.setenv("CARTRIAL_DATABASE_URL", "not-this-one")
    monkeypatch.setenv("CARTRIAL_STUDY", "not-this-one")
    started: dict[str, object] = {}

    def run(target: str, **options: object) -> None:
        started.update(options, target=target)
        with TestClient(app_from_environment(), base_url="http://127.0.0.1:8765") as client:  # type: ignore[arg-type]
            client.get("/login")
            login = client.post(
                "/login",
                data={
                    CSRF_FIELD: client.cookies["cartrial_csrf"],
                    "username": "pi",
                    "password": DEMO_PASSWORD,
                },
                follow_redirects=False,
            )
            started["login"] = login.status_code
            started["overview"] = client.get("/").status_code

    monkeypatch.setattr(uvicorn, "run", run)
    out = tmp_path / "served"
    result = CliRunner().invoke(
        app,
        [
            *("demo", "--out", str(out), "--seed", str(SEED), "--protocol", str(protocol_file)),
            *("--no-pdf", "--serve", "--port", "8765"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert started["target"] == "cartrial.cli.serve:app_from_environment"
    assert (started["host"], started["port"], started["workers"]) == ("127.0.0.1", 8765, 1)
    assert started["login"] == 303 and started["overview"] == 200
    assert "http://127.0.0.1:8765/ as pi" in re.sub(r"\s+", " ", result.output)
    assert "on http://127.0.0.1:8765/ (Ctrl-C stops it)" in result.output
