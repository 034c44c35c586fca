"""``cartrial import records|study|odm`` and ``cartrial export odm`` call the services and print."""

from __future__ import annotations

from pathlib import Path

from record_files import BAD, GOOD
from test_cli_capture import PASSWORD, log_in, run

from cartrial.services.imports_records import RECORD_FAMILIES


def _new_study(db: str) -> None:
    code, out = run(
        "study", "init", "--db", db, "--admin", "ada", "--admin-name", "Ada", password=PASSWORD
    )
    assert code == 0, out
    log_in("ada", db)
    for site in ("S01", "S02"):
        code, out = run("study", "add-site", site, f"Site {site}", "--db", db)
        assert code == 0, out
    code, out = run(
        "study", "add-user", "inv", "Ivy", "--role", "investigator", "--db", db, password=PASSWORD
    )
    assert code == 0, out
    log_in("inv", db)


def test_a_study_moves_in_from_csv_and_out_and_in_again_as_odm(tmp_path: Path) -> None:
    db = str(tmp_path / "trial.db")
    _new_study(db)
    pairs = []
    for family, text in GOOD.items():
        path = tmp_path / f"{family}.csv"
        path.write_text(text, encoding="utf-8")
        pairs.append(f"{family}={path}")
    bad = tmp_path / "bad_withdrawal.csv"
    bad.write_text(BAD["withdrawal"][0], encoding="utf-8")
    code, out = run("import", "records", "withdrawal", str(bad), "--db", db)
    assert code == 2  # cartrial.cli.errors: every error exits 2, printed by file line
    assert "nothing written" in out and "reason" in out
    code, out = run("import", "study", *pairs, "--db", db)
    assert code == 0, out
    assert all(
        f"{family} imported" in out
        for family in RECORD_FAMILIES
        if RECORD_FAMILIES[family].stage == "record"
    )
    odm = tmp_path / "study.xml"
    code, out = run("export", "odm", "--out", str(odm), "--db", db)
    assert code == 0, out
    moved = str(tmp_path / "moved.db")
    _new_study(moved)
    code, out = run("import", "odm", str(odm), "--db", moved, "--json")
    assert code == 0, out
    again = tmp_path / "again.xml"
    code, out = run("export", "odm", "--out", str(again), "--db", moved)
    assert code == 0, out

    def body(path: Path) -> bytes:  # everything but the CreationDateTime of the document
        text = path.read_bytes()
        return text[text.index(b"<Study ") :]

    assert body(again) == body(odm)
    code, _ = run("export-odm", "--out", str(again), "--db", moved)
    assert code == 2  # the ODM export is `export odm`; the old top-level command is gone


def test_a_pair_without_a_family_is_refused(tmp_path: Path) -> None:
    code, out = run("import", "study", "labs.csv", "--db", str(tmp_path / "x.db"))
    assert code == 2
    assert "FAMILY=FILE" in out
