"""The report: files written, self-contained HTML, every number traced back to the input data."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pandas as pd

from cartrial.analysis import TrialData
from cartrial.report import ReportResult


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
    assert len(report.figures) == 12
    # every figure is also its own PNG and SVG file
    assert len(report.figure_paths) == 24 and all(
        p.stat().st_size > 1000 for p in report.figure_paths
    )
    assert {p.suffix for p in report.figure_paths} == {".png", ".svg"}


def test_docx_holds_every_numbered_table(report: ReportResult) -> None:
    from docx import Document

    assert report.docx_path is not None
    document = Document(str(report.docx_path))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 3"]
    assert headings == list(report.tables)
    # one Word table per numbered table with rows (an empty one is a sentence in both formats)
    empty = report.html_path.read_text(encoding="utf-8").count('<p class="empty">')
    assert len(document.tables) + empty == len(report.tables)
    # the disposition table: spanning header, then the dose level with its N
    first = document.tables[0]
    assert first.cell(0, 1).text == "Escalation" and first.cell(1, 1).text == "DL1\n(N=3)"


def test_html_is_self_contained_with_contents_cutoff_and_numbered_tables(
    report: ReportResult, trial: TrialData
) -> None:
    page = report.html_path.read_text(encoding="utf-8")
    assert "Data cut-off</strong> 2026-01-05" in page
    assert 'id="contents"' in page and 'href="#table-14-2-1"' in page
    assert page.count("data:image/png;base64,") == 12
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from elsewhere
    for population in trial.protocol.populations:
        assert population.definition in page
    for caption in report.tables:
        assert html.escape(caption) in page
    for number in ("14.1.1", "14.2.1", "14.2.4", "14.3.2", "14.4.1", "14.4.2", "14.4.3"):
        assert f"Figure {number} " in page


def test_table_headers_are_words_not_variable_names(report: ReportResult) -> None:
    parser = _Tables()
    parser.feed(report.html_path.read_text(encoding="utf-8"))
    headers = [cell for table in parser.tables for row in table[:2] for cell in row]
    assert headers
    for header in headers:
        assert not re.search(r"[a-z]+_[a-z]+", header), header


def test_summary_states_mtd_rp2d_and_expansion_with_signed_records(report: ReportResult) -> None:
    page = report.html_path.read_text(encoding="utf-8")
    assert "MTD: DL1" in page and "RP2D: DL1" in page
    # 11:30 UTC in the study's zone, Asia/Shanghai (UTC+8, IANA ``asia``)
    assert "signed by Dr B. Medic (sponsor-md) on 2025-05-02 19:30 Asia/Shanghai" in page
    assert "Expansion go/stop: GO" in page
    # Table 14.3.10 states the protocol's rules and lists the signed expansion record
    assert "stop when P(DLT rate &gt;" in page and "simon-" in page
    assert "DL1: Expansion of 20 subjects at the RP2D." in page


def test_cells_are_n_percent_recomputed_from_raw_rows(
    report: ReportResult, trial: TrialData
) -> None:
    # Table 14.1.1, "Infused" row: subjects with an infusion date, per column (DL1 escalation
    # 3 enrolled, DL2 escalation 4 enrolled): computed from the raw subjects table.
    parser = _Tables()
    parser.feed(report.html_path.read_text(encoding="utf-8"))
    disposition = parser.tables[0]
    row = next(r for r in disposition if r[0].startswith("Infused"))
    subjects = trial.subjects
    expected = []
    for level in ("DL1", "DL2"):
        group = subjects.loc[subjects["dose_level"] == level]
        n, total = int(group["infusion_date"].notna().sum()), len(group)
        expected.append(f"{n} (100%)" if n == total else f"{n} ({100 * n / total:.1f}%)")
    infused = int(subjects["infusion_date"].notna().sum())
    expected.append(f"{infused} ({100 * infused / len(subjects):.1f}%)")
    assert row[1:] == expected


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


def test_reconciliation_footnotes_use_the_data(report: ReportResult, trial: TrialData) -> None:
    page = report.html_path.read_text(encoding="utf-8")
    dlt_subjects = set(trial.adverse_events.loc[trial.adverse_events["is_dlt"], "subject_id"])
    assert f"Reconciliation with Table 14.3.3: {len(dlt_subjects)} subject(s)" in page
    assert "Seriousness (ICH E2A" in page
