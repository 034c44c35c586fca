"""The PDF as a document: read back with poppler's pdftotext and rendered with pdftoppm.

poppler-utils is installed by ``scripts/system-deps.sh``; a missing tool fails the test (it is
never skipped).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

from cartrial.report import ReportResult

_HEADER = re.compile(r"^(CLDN18-PDL1-CART-01 · Clinical study report|Data cut-off \d|Generated \d"
                     r"|Page \d+ of \d+)")  # fmt: skip


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} missing: run scripts/system-deps.sh (poppler-utils)"
    return path


def _pages(pdf: Path) -> list[str]:
    text = subprocess.run(
        [_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def test_pdf_text_has_page_numbers_decisions_and_every_numbered_table(
    pdf_report: ReportResult,
) -> None:
    assert pdf_report.pdf_path is not None
    pages = _pages(pdf_report.pdf_path)
    total = len(pages)
    assert total >= 10
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page  # running footer on every page
        assert "Data cut-off 2026-01-05" in page  # running header on every page
        assert "Generated " in page and "by cartrial" in page
    text = re.sub(r"\s+", " ", "\n".join(pages))
    assert "MTD: DL1" in text and "RP2D: DL1" in text
    assert "signed by Dr A. Chair (src-chair)" in text
    for caption in pdf_report.tables:
        assert re.sub(r"\s+", " ", caption) in text, caption
    for caption in pdf_report.figures:
        assert caption in text, caption
    # the screening log reaches the disposition: 9 screened, 2 not eligible, ECOG > 1 twice
    assert "Screened" in text and "ECOG > 1" in text


_HEADING = re.compile(
    r"^((Table|Figure|Listing) 1[46]\.\d+\.\d+ |1[46]\.\d+ [A-Z]|.* population.* \(N = \d+\)$)"
)


def test_no_heading_ends_a_page(pdf_report: ReportResult) -> None:
    # A section heading, a table caption or its population line is never the last thing on a
    # page: headings are kept with what follows (break-after: avoid), short tables never split.
    assert pdf_report.pdf_path is not None
    for number, page in enumerate(_pages(pdf_report.pdf_path), start=1):
        body = [line.strip() for line in page.splitlines() if line.strip()]
        body = [line for line in body if not _HEADER.match(line)]
        assert body, f"page {number} is empty"
        assert not _HEADING.match(body[-1]), f"page {number} ends with a heading: {body[-1]}"


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_pages_render_and_wide_pages_are_landscape(
    pdf_report: ReportResult, tmp_path: Path
) -> None:
    assert pdf_report.pdf_path is not None
    subprocess.run(
        [_tool("pdftoppm"), "-r", "30", "-png", str(pdf_report.pdf_path), str(tmp_path / "p")],
        check=True,
    )
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == len(_pages(pdf_report.pdf_path))
    sizes = [_png_size(image) for image in images]
    assert all(image.stat().st_size > 2000 for image in images)  # nothing blank
    portrait = [w < h for w, h in sizes]
    assert portrait[0]  # the summary page
    assert not all(portrait)  # the listings and the kinetics table print landscape
