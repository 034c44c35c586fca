"""``cartrial design``: the CLI prints what the library computes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.designs import MTPI2

runner = CliRunner()


def test_table_json_matches_boin_reference() -> None:
    # Reference phase1-designs.md §2.3: n = 3 -> escalate <= 0, de-escalate >= 2, eliminate >= 3.
    result = runner.invoke(
        app, ["design", "table", "--design", "boin", "--target", "0.3", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rows = {row["n_treated"]: row for row in payload["table"]}
    assert any("lambda_e = 0.2365" in note for note in payload["notes"])
    assert rows[3]["escalate_if_dlt_le"] == 0
    assert rows[3]["deescalate_if_dlt_ge"] == 2
    assert rows[3]["eliminate_if_dlt_ge"] == 3
    assert rows[1]["eliminate_if_dlt_ge"] is None


def test_table_text_has_appendix_rows() -> None:
    result = runner.invoke(app, ["design", "table", "--design", "keyboard", "--n-cohorts", "2"])
    assert result.exit_code == 0, result.output
    assert "Escalate if # of DLT" in result.output


def test_tite_boin_table_has_pending_rules_and_crm_has_pathways() -> None:
    tite = runner.invoke(app, ["design", "table", "--design", "tite-boin", "--json"])
    assert tite.exit_code == 0, tite.output
    pending = json.loads(tite.output)["pending_table"]
    row = next(r for r in pending if (r["n_treated"], r["dlt"], r["pending"]) == (6, 1, 3))
    assert row["decision"] == "escalate if STFT >= 1.23; otherwise stay"
    crm = runner.invoke(app, ["design", "table", "--design", "crm", "--n-doses", "4"])
    assert crm.exit_code == 0, crm.output
    assert "dose transition pathways" in crm.output and "DL1" in crm.output
    assert "no fixed decision table" in crm.output


def test_next_decision() -> None:
    args = [
        "design",
        "next",
        "--design",
        "boin",
        "--n",
        "3,3,0",
        "--dlt",
        "0,1,0",
        "--current",
        "DL2",
    ]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # Three doses: no protocol names them (the packaged one has four), so DL1, DL2, DL3.
    assert (payload["action"], payload["next_dose"]) == ("stay", "DL2")
    assert payload["doses"] == ["DL1", "DL2", "DL3"]


def test_next_with_pending_patients() -> None:
    # Reference §3 example: ESS = 5.25, escalate.
    args = ["design", "next", "--design", "tite-boin", "--n", "0,6,0", "--dlt", "0,1,0"]
    pending = ["--pending", "DL2:0.5,DL2:0.75"]
    result = runner.invoke(app, [*args, "--current", "DL2", *pending, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["details"]["ess"] == 5.25
    assert payload["action"] == "escalate"


def test_pending_needs_a_tite_design() -> None:
    args = [
        "design",
        "next",
        "--n",
        "3,0",
        "--dlt",
        "0,0",
        "--current",
        "DL1",
        "--pending",
        "DL1:0.5",
    ]
    assert runner.invoke(app, args).exit_code != 0


def test_bad_input_exits_with_message() -> None:
    args = ["design", "next", "--n", "3,0", "--dlt", "4,0", "--current", "DL1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "dlt > n" in result.output


def test_user_table_file(tmp_path: Path) -> None:
    grid = MTPI2(target=0.3, n_doses=3, n_cohorts=2).decision_grid()
    path = tmp_path / "table.csv"
    grid.to_csv(path)
    args = ["design", "next", "--design", "table", "--table", str(path)]
    result = runner.invoke(
        app, [*args, "--n", "3,3,0", "--dlt", "0,3,0", "--current", "DL2", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["eliminated"] == ["DL2", "DL3"]


def test_pathways_with_plot(tmp_path: Path) -> None:
    png = tmp_path / "tree.png"
    args = ["design", "pathways", "--design", "3+3", "--n", "0,0,0", "--dlt", "0,0,0"]
    result = runner.invoke(
        app, [*args, "--current", "DL1", "--cohorts", "2", "--plot", str(png), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 0
    rows = json.loads(result.output)
    assert len(rows) == 4 + 2 * 4  # only 0/3 and 1/3 continue
    assert {row["dose"] for row in rows} <= {"DL1", "DL2", "DL3"}
    assert rows[0]["next_dose"] == "DL2"  # 0/3 at DL1: escalate


def test_simon() -> None:
    # Simon 1989: p0 = 0.10, p1 = 0.30 -> optimal 1/10, 5/29.
    result = runner.invoke(app, ["design", "simon", "--p0", "0.1", "--p1", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    optimal = json.loads(result.output)[0]
    assert (optimal["r1"], optimal["n1"], optimal["r"], optimal["n"]) == (1, 10, 5, 29)


def test_monitor() -> None:
    # Reference §7.1: theta 0.30, c 0.90, Beta(1, 1): n = 3 -> stop if >= 2 DLTs.
    result = runner.invoke(app, ["design", "monitor", "--limit", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0] == {"n": 3, "stop_if_dlt_ge": 2, "prob_above_limit": 0.9163}


def test_next_crm_last_cohort_coherence() -> None:
    # dfcrm restrict: 1/3 in the last cohort (1/6 at the dose overall) blocks the escalation to
    # dose 2 that the model recommends (p_hat 0.267 closest to 0.25; see test_crosscheck_crm).
    base = ["design", "next", "--design", "crm", "--n", "3,6,0,0,0", "--dlt", "0,1,0,0,0"]
    base += ["--current", "DL2", "--skeleton", "0.05,0.12,0.25,0.40,0.55", "--target", "0.25"]
    free = runner.invoke(app, [*base, "--json"])
    held = runner.invoke(app, [*base, "--last-cohort", "1/3", "--json"])
    assert free.exit_code == 0 and held.exit_code == 0, free.output + held.output
    assert json.loads(free.output)["next_dose"] == "DL3"
    assert json.loads(held.output)["next_dose"] == "DL2"
    two = ["design", "next", "--n", "3,0", "--dlt", "0,0", "--current", "DL1"]
    boin_ok = runner.invoke(app, two)
    assert boin_ok.exit_code == 0  # default design boin: --last-cohort is CRM-only
    bad = runner.invoke(app, [*two, "--last-cohort", "0/3"])
    assert bad.exit_code != 0


def test_doses_are_named_by_the_packaged_protocol_when_it_has_as_many() -> None:
    # The packaged protocol names its four levels DL-1, DL1, DL2, DL3 (DL1 the start dose).
    args = ["design", "next", "--n", "3,3,0,0", "--dlt", "0,1,0,0", "--current", "DL1"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["doses"] == ["DL-1", "DL1", "DL2", "DL3"]
    # BOIN lambda_e 0.2365 < 1/3 < lambda_d 0.3585 (Liu & Yuan 2015, target 0.3): stay at DL1.
    assert (payload["action"], payload["next_dose"]) == ("stay", "DL1")
    text = runner.invoke(app, args)
    assert "next dose DL1" in text.output


def test_doses_option_names_the_levels_and_reasons_use_them() -> None:
    args = ["design", "next", "--design", "3+3", "--n", "3,3", "--dlt", "0,1", "--doses", "A,B"]
    result = runner.invoke(app, [*args, "--current", "b", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # 3+3 (Storer 1989): 1/3 DLT -> treat 3 more at the same dose.
    assert payload["next_dose"] == "B"
    assert "dose B" in payload["reason"] and "dose 1" not in payload["reason"]


def test_a_dose_number_is_refused_with_the_names() -> None:
    args = ["design", "next", "--n", "3,3,0,0", "--dlt", "0,1,0,0", "--current", "1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    payload = json.loads(result.output)
    assert "doses are named, not numbered" in payload["error"]
    assert "DL-1, DL1, DL2, DL3" in payload["error"]
    assert payload["details"] == [{"parameter": "--current"}]


def test_next_with_adaptive_tite_crm_takes_the_dlt_onsets() -> None:
    from cartrial.designs import TITECRM

    args = ["design", "next", "--design", "tite-crm", "--param", "scheme=adaptive"]
    args += ["--n", "3,3,0,0,0", "--dlt", "0,1,0,0,0", "--current", "DL2", "--pending", "DL2:0.5"]
    missing = runner.invoke(app, args)
    assert missing.exit_code != 0 and "dlt_followup" in missing.output
    result = runner.invoke(app, [*args, "--dlt-followup", "0.4", "--json"])
    assert result.exit_code == 0, result.output
    expected = TITECRM(target=0.3, n_doses=5, scheme="adaptive").decide(
        [3, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1, [(1, 0.5)], dlt_followup=[0.4]
    )
    payload = json.loads(result.output)
    assert payload["action"] == expected.action
    wrong = runner.invoke(app, ["design", "next", "--n", "3,0", "--dlt", "0,0", "--current",
                                "DL1", "--dlt-followup", "0.4"])  # fmt: skip
    assert wrong.exit_code != 0
