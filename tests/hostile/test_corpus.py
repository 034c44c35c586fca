"""The hostile-input corpus (``files/``), each file run through the CLI as a user would.

Every case must: exit non-zero, print no traceback (no exception escapes the command), name the
file and the problem (the fragments listed: a line, a field or the rule that fired), and write
nothing (lab, lesion and kinetics rows and audit rows unchanged, read through the services).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_support import HERE, HostileDb
from typer.testing import CliRunner

from cartrial.cli import app

FILES = HERE / "files"
RECIST_LESIONS_OK = FILES / "recist" / "lesions_ok.csv"
RECIST_DATES_OK = FILES / "recist" / "dates_ok.csv"

#: file (under files/) -> fragments the message must contain (case-insensitive)
CASES: dict[str, tuple[str, ...]] = {
    # protocols: `cartrial protocol validate FILE`
    "protocol/alias_bomb.yaml": ("aliases", "rule: max_nodes"),
    "protocol/alias_cycle.yaml": ("rule: max_depth",),
    "protocol/many_aliases.yaml": ("more than 100 aliases", "rule: max_aliases"),
    "protocol/deep_flow.yaml": ("line 1", "rule: max_depth"),
    "protocol/deep_block.yaml": ("rule: max_depth",),
    "protocol/latin1.yaml": ("byte offset", "not valid utf-8"),
    "protocol/binary.yaml": ("byte offset",),
    "protocol/utf16.yaml": ("utf-16",),
    "protocol/empty.yaml": ("must be a mapping",),
    "protocol/not_yaml.yaml": ("not valid yaml", "line"),
    "protocol/truncated.yaml": ("missing required field",),
    "protocol/no_dlt_endpoint.yaml": ("analysis: dlt_rate", "required objective endpoints"),
    "protocol/start_dose_and_schema_errors.yaml": (
        "line 13, study.phase",
        "escalation.cohort_size",
        "unknown dose level 'dl9'",
    ),
    "protocol/scalar_root.yaml": ("must be a mapping",),
    "protocol/python_object.yaml": ("not valid yaml", "python/object"),
    "protocol/unknown_time_zone.yaml": ("study.time_zone", "unknown time zone"),
    "protocol/nul_byte.yaml": ("byte offset 200", "nul byte"),
    # lab imports: `cartrial import labs FILE --user dm --db DB`
    "labs/latin1.csv": ("byte offset", "--encoding"),
    "labs/binary.csv": ("byte offset",),
    "labs/empty.csv": ("empty",),
    "labs/header_only.csv": ("no data rows",),
    "labs/utf16.csv": ("utf-16",),
    "labs/truncated_quote.csv": ("line 3", "truncated"),
    "labs/missing_column.csv": ("unit", "required column is missing"),
    "labs/unknown_column.csv": ("grade", "unknown column"),
    "labs/extra_cells.csv": ("more cells than header",),
    "labs/future_date.csv": ("date", "rule: date-in-future"),
    "labs/after_death.csv": ("death on 2026-06-01", "rule: after-death"),
    "labs/after_withdrawal.csv": ("withdrawal on 2026-04-01", "rule: after-withdrawal"),
    "labs/before_screening.csv": ("screening date", "rule: before-screening"),
    "labs/neutrophils_1e308.csv": ("value", "rule: physiological-range"),
    "labs/value_inf.csv": ("value", "finite number"),
    "labs/value_nan.csv": ("value", "finite number"),
    "labs/negative_value.csv": ("value", "greater than or equal to 0"),
    "labs/bilirubin_mgdl_with_umol_limits.csv": ("uln", "rule: reference-limits"),
    "labs/duplicate_in_file.csv": ("exact duplicate of line 2", "rule: duplicate-record"),
    "labs/already_imported.csv": ("already imported", "rule: duplicate-record"),
    "labs/impossible_date.csv": ("date", "valid date"),
    "labs/impossible_time.csv": ("time", "valid time"),
    "labs/unknown_subject.csv": ("subject_id", "no subject 's09-999'"),
    "labs/many_bad_lines.csv": ("value", "and 50 more error(s)"),
    "labs/bom_then_bad_unit.csv": ("unit", "furlongs"),
    "labs/crlf_bad_value.csv": ("value", "'three'"),
    "labs/long_cell.csv": ("subject_id", "at most 40 characters"),
    "labs/lln_above_uln.csv": ("lln", "rule: reference-limits"),
    "labs/formula_injection.csv": ("subject_id", "should match pattern"),
    # lesion imports: `cartrial import lesions FILE --user inv --db DB`
    "lesions/diameter_1e9.csv": ("diameter_mm", "rule: lesion-size"),
    "lesions/missing_organ.csv": ("organ",),
    "lesions/latin1.csv": ("byte offset",),
    "lesions/empty.csv": ("empty",),
    "lesions/future_date.csv": ("assessment_date", "rule: date-in-future"),
    "lesions/negative_diameter.csv": ("diameter_mm", "greater than or equal to 0"),
    "lesions/unknown_category.csv": ("category", "'tumour'"),
    "lesions/long_lesion_id.csv": ("lesion_id", "at most 16 characters"),
    "lesions/long_organ.csv": ("organ", "at most 64 characters"),
    # kinetics imports: `cartrial import kinetics FILE --user dm --db DB`
    "kinetics/latin1.csv": ("byte offset",),
    "kinetics/future_date.csv": ("date", "rule: date-in-future"),
    "kinetics/unknown_unit.csv": ("unit", "copies/ug gdna"),
    # grading files: `cartrial grade labs FILE`
    "grade/latin1.csv": ("byte offset",),
    "grade/binary.csv": ("byte offset",),
    "grade/empty.csv": ("empty",),
    "grade/neutrophils_1e308.csv": ("line 3", "rule: physiological-range"),
    "grade/many_bad_lines.csv": ("3 bad line(s)", "line 3", "line 4", "line 6"),
    "grade/truncated.csv": ("line 3", "truncated"),
    "grade/bilirubin_umol_with_mgdl_limits.csv": ("line 2", "rule: reference-limits"),
    # simulation grids: `cartrial simulate grid FILE` (the same safe YAML reader as protocols)
    "grid/alias_bomb.yaml": ("cannot read the grid file", "line 1", "rule: max_nodes"),
    "grid/alias_cycle.yaml": ("line 1", "rule: max_depth"),
    "grid/deep_nesting.yaml": ("line 1", "nested more than 32 levels", "rule: max_depth"),
    "grid/deep_block.yaml": ("line 32", "rule: max_depth"),
    "grid/many_aliases.yaml": ("more than 100 aliases", "rule: max_aliases"),
    "grid/oversize.yaml": ("1,111,021 bytes", "limit of 1,000,000 bytes"),
    "grid/latin1.yaml": ("byte offset 11", "not valid utf-8"),
    "grid/not_yaml.yaml": ("line 3", "not valid yaml"),
    # any record family: `cartrial import records FAMILY FILE` (FAMILY: the name before "__")
    "records/ada__after_death.csv": ("line 2", "sample_date", "rule: after-death"),
    "records/follow_up__future.csv": ("line 2", "contact_date", "rule: date-in-future"),
    "records/adverse_events__twice.csv": ("line 3", "onset_at", "rule: duplicate-record"),
    "records/phenotype__after_withdrawal.csv": ("line 2", "rule: after-withdrawal"),
    "records/tumour_assessments__huge_lesion.csv": ("lesions.0.diameter_mm", "rule: lesion-size"),
    "records/withdrawal__already_imported.csv": ("already imported", "rule: duplicate-record"),
    "records/labs__neutrophils_1e308.csv": ("line 2", "value", "rule: physiological-range"),
    # backups: `cartrial db restore FILE --yes --db DB`
    "restore/truncated.db": ("not a readable sqlite database", "malformed"),
    "restore/empty.db": ("holds no cartrial database",),
    "restore/not_sqlite.db": ("not a readable sqlite database", "not a database"),
    # RECIST files: `cartrial recist LESIONS --reference-dates DATES`
    "recist/empty_lesions.csv": ("empty",),
    "recist/latin1_lesions.csv": ("byte offset",),
    "recist/latin1_dates.csv": ("byte offset",),
    "recist/empty_dates.csv": ("empty",),
}


def command(name: str, path: Path, db: HostileDb) -> list[str]:
    """The command line a user would type for the corpus file ``name``."""
    kind = name.split("/")[0]
    if kind == "protocol":
        return ["protocol", "validate", str(path)]
    if kind == "grid":
        return ["simulate", "grid", str(path)]
    if kind == "records":
        family = path.name.split("__")[0]
        return ["import", "records", family, str(path), "--user", "inv", "--db", str(db.path)]
    if kind == "restore":
        return ["db", "restore", str(path), "--yes", "--user", "admin", "--db", str(db.path)]
    if kind in ("labs", "lesions", "kinetics"):
        user = "inv" if kind == "lesions" else "dm"
        return ["import", kind, str(path), "--user", user, "--db", str(db.path)]
    if kind == "grade":
        return ["grade", "labs", str(path)]
    if name.endswith("_dates.csv"):
        return ["recist", str(RECIST_LESIONS_OK), "--reference-dates", str(path)]
    return ["recist", str(path), "--reference-dates", str(RECIST_DATES_OK)]


def user_of(name: str) -> str:
    """Who runs the command for the corpus file ``name``."""
    if name.startswith("restore/"):
        return "admin"
    return "inv" if name.startswith(("lesions/", "records/")) else "dm"


def environment(name: str, db: HostileDb) -> dict[str, str]:
    """A wide terminal, and the access token of the user who imports (writes need one)."""
    return {"COLUMNS": "3000", "CARTRIAL_TOKEN": db.tokens[user_of(name)]}


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str, BaseException | None]:
    """Run the CLI in-process; the output with line wrapping undone."""
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, " ".join(result.output.split()), result.exception


def test_the_corpus_is_large_and_every_file_has_a_case() -> None:
    on_disk = {p.relative_to(FILES).as_posix() for p in FILES.rglob("*") if p.is_file()}
    helpers = {RECIST_LESIONS_OK, RECIST_DATES_OK}
    assert on_disk - {p.relative_to(FILES).as_posix() for p in helpers} == set(CASES)
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_refused_clearly_and_writes_nothing(
    name: str, hostile_db: HostileDb
) -> None:
    path = FILES / name
    hostile_db.touch(user_of(name))
    before = hostile_db.counts()
    code, output, exception = run_cli(
        command(name, path, hostile_db), environment(name, hostile_db)
    )
    assert code != 0, output
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert "Traceback" not in output
    assert path.name in output, output
    for fragment in CASES[name]:
        assert fragment.lower() in output.lower(), f"{fragment!r} not in: {output}"
    assert hostile_db.counts() == before


@pytest.mark.parametrize(
    "name",
    ["protocol/alias_bomb.yaml", "grid/alias_bomb.yaml", "labs/latin1.csv", "grade/binary.csv"],
)
def test_a_real_subprocess_prints_no_traceback(name: str, hostile_db: HostileDb) -> None:
    path = FILES / name
    entry = "from cartrial.cli import app; app()"
    args = [sys.executable, "-c", entry, *command(name, path, hostile_db)]
    env = {**os.environ, **environment(name, hostile_db)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, env=env)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output
    assert path.name in " ".join(output.split())


@pytest.mark.parametrize(
    "name",
    [
        "protocol/latin1.yaml",
        "protocol/alias_bomb.yaml",
        "protocol/utf16.yaml",
        "protocol/empty.yaml",
    ],
)
def test_study_init_refuses_a_hostile_protocol(name: str, tmp_path: Path) -> None:
    path = FILES / name
    args = ["study", "init", "--db", str(tmp_path / "new.db"), "--admin", "ada"]
    args += ["--admin-name", "Ada", "--protocol", str(path)]
    result = CliRunner().invoke(
        app, args, input="correct horse battery\ncorrect horse battery\n", env={"COLUMNS": "3000"}
    )
    output = " ".join(result.output.split())
    assert result.exit_code != 0, output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in output
    assert path.name in output


def test_grading_and_importing_a_file_name_the_same_line(
    hostile_db: HostileDb, tmp_path: Path
) -> None:
    """One numbering everywhere: the line in the file, the header being line 1."""
    path = tmp_path / "labs.csv"
    path.write_text(
        "subject_id,date,lbtestcd,value,unit,lln,uln\n"
        "S01-001,2026-03-10,NEUT,3.1,10^9/L,1.8,7.5\n"
        "S01-001,2026-03-11,NEUT,three,10^9/L,1.8,7.5\n",
        encoding="utf-8",
    )
    hostile_db.touch("dm")
    graded = run_cli(["grade", "labs", str(path)], {"COLUMNS": "3000"})
    imported = run_cli(
        ["import", "labs", str(path), "--user", "dm", "--db", str(hostile_db.path)],
        environment("labs/", hostile_db),
    )
    for code, output, _ in (graded, imported):
        assert code == 2 and "line 3" in output and "line 2" not in output, output
