"""The report: files written, self-contained HTML, every number traced back to the input data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.report import ReportResult
from cartrial.report.html import format_cell
from cartrial.report.pdf import write_pdf


class _Tables(HTMLParser):
    """Collect the cell texts of every ``<table>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_files_are_written(report: ReportResult) -> None:
    assert report.html_path.exists() and report.pdf_path is None  # fixture built with pdf=False
    assert len(report.csv_paths) == 25 and all(p.exists() for p in report.csv_paths)
    assert report.missing_figures == ()
    assert len(report.figures) == 9


def test_pdf_prints_the_report(report: ReportResult, tmp_path: Path) -> None:
    pdf = write_pdf(report.html_path.read_text(encoding="utf-8"), tmp_path / "report.pdf")
    content = pdf.read_bytes()
    assert content[:5] == b"%PDF-" and len(content) > 50_000  # nine embedded figures


def test_html_is_self_contained_with_contents_cutoff_and_populations(
    report: ReportResult, trial: TrialData
) -> None:
    page = report.html_path.read_text(encoding="utf-8")
    assert "Data cut-off</strong> 2026-01-05" in page
    assert "<h2>Contents</h2>" in page and 'href="#table-response_rates"' in page
    assert page.count("data:image/png;base64,") == 9
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from elsewhere
    for population in trial.protocol.populations:
        assert population.definition in page
    assert (
        "brookmeyer-crowley" in page and "clopper-pearson" in page and "linear-up/log-down" in page
    )


def test_every_html_table_equals_its_csv(report: ReportResult) -> None:
    # The page shows exactly the numbers of the CSV files (NE where the CSV is empty).
    parser = _Tables()
    parser.feed(report.html_path.read_text(encoding="utf-8"))
    shown = iter(parser.tables)
    for path in report.csv_paths:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        if frame.empty:
            continue
        table = next(shown)
        assert table[0] == list(frame.columns), path.name
        for html_row, record in zip(table[1:], frame.itertuples(index=False), strict=True):
            for cell, value in zip(html_row, record, strict=True):
                # an empty CSV cell is a missing number (NE) or an empty text
                expected = ("NE", "") if pd.isna(value) else (format_cell(_native(value)),)
                assert cell in expected, path.name


def _native(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def test_report_numbers_trace_back_to_the_input(report: ReportResult, trial: TrialData) -> None:
    tables = {p.stem: pd.read_csv(p) for p in report.csv_paths}
    infused = trial.subjects.loc[trial.subjects["infusion_date"].notna()]
    populations = tables["populations"].set_index("population")["Total"]
    assert populations["enrolled"] == len(trial.subjects) == 7
    assert populations["safety"] == len(infused) == 6
    assert populations["efficacy_evaluable"] == int(infused["efficacy_evaluable"].sum()) == 5
    deaths = tables["deaths"]
    assert sorted(deaths["subject_id"]) == sorted(
        trial.subjects.dropna(subset=["death_date"])["subject_id"]
    )
    # DLT count = subjects with an adjudicated DLT among the DLT-evaluable (S02 only).
    dlt = tables["dlt_by_dose"].set_index("dose_level").loc["Total"]
    dlt_subjects = set(trial.adverse_events.loc[trial.adverse_events["is_dlt"], "subject_id"])
    assert dlt["subjects_with_dlt"] == len(dlt_subjects) == 1
    # Waterfall numbers: best % change = the smallest post-baseline % change of each subject.
    listing = tables["response_listing"].set_index("subject_id")
    tps = trial.tumour_timepoints
    assert (
        listing.loc["S01", "best_pct_change"]
        == tps.loc[
            (tps["subject_id"] == "S01") & (tps["day"] > 0) & (tps["day"] < 126),
            "pct_change_from_baseline",
        ].min()
    )
    # Kinetics Cmax per subject = the largest quantifiable value of that subject.
    nca = tables["kinetics_nca"].set_index("subject_id")
    kin = trial.kinetics.loc[~trial.kinetics["below_lloq"]]
    assert nca["cmax"].dropna().to_dict() == kin.groupby("subject_id")["value"].max().to_dict()


def test_safety_and_survival_numbers_recomputed_from_raw_rows(
    report: ReportResult, trial: TrialData
) -> None:
    # Independent recomputation from the raw tables (not through cartrial.analysis):
    tables = {p.stem: pd.read_csv(p) for p in report.csv_paths}
    subjects = trial.subjects.set_index("subject_id")
    aes = trial.adverse_events.join(
        subjects[["lymphodepletion_date", "infusion_date"]], on="subject_id"
    )
    emergent = aes.loc[
        aes["infusion_date"].notna() & (aes["onset_date"] >= aes["lymphodepletion_date"])
    ]
    overview = tables["ae_overview"].set_index("category")
    assert (
        overview.loc["Any treatment-emergent AE", "Total (N=6) n"]
        == emergent["subject_id"].nunique()
    )
    assert (
        overview.loc["Grade ≥ 3 AE", "Total (N=6) n"]
        == emergent.loc[emergent["grade"] >= 3, "subject_id"].nunique()
    )
    # OS events = deaths of infused subjects on or before the cut-off.
    survival = tables["survival"].set_index(["endpoint", "dose_level"])
    dead = subjects["death_date"].notna() & subjects["infusion_date"].notna()
    assert survival.loc[("Overall survival", "all"), "events"] == int(dead.sum())
    # ORR numerator = subjects whose listed best response is CR or PR in the ORR population.
    rates = tables["response_rates"]
    orr = rates.loc[
        (rates["population"] == "efficacy_evaluable")
        & (rates["subgroup"] == "overall")
        & (rates["endpoint"] == "ORR (CR+PR)")
    ].iloc[0]
    listing = tables["response_listing"].set_index("subject_id")
    evaluable = subjects.index[subjects["efficacy_evaluable"]]
    assert orr["responders"] == int(
        listing.loc[evaluable, "best overall response"].isin(["CR", "PR"]).sum()
    )
    assert orr["n"] == len(evaluable)


def test_data_problems_are_stated_in_words(report: ReportResult) -> None:
    page = report.html_path.read_text(encoding="utf-8")
    for sentence in (
        "1 subject(s) had a tumour response dated on or before the infusion; it was not counted:"
        " S06.",
        "2 subject(s) had no post-baseline tumour assessment (best response NE): S03, S06.",
        "1 subject(s) had every kinetics sample below the LLOQ (parameters NE): S06.",
    ):
        assert page.count(sentence) >= 2  # in the data notes and under its table
        assert sentence in report.notes


def test_missing_values_print_as_ne() -> None:
    for missing in (None, float("nan"), np.float64("nan"), pd.NA, pd.NaT):
        assert format_cell(missing) == "NE"
    assert (format_cell(True), format_cell(3), format_cell(116431.04)) == ("yes", "3", "116,431")
