"""A real browser (Debian's headless Chromium through Selenium) on a real server (uvicorn).

* :func:`test_the_trial_journey_in_a_real_browser`: the issue's journey typed into the pages -
  log in, screen and enrol a subject, assign the dose, lymphodeplete, infuse, record an AE that
  becomes a DLT (found with the CTCAE term search, htmx under the strict CSP), see the escalation
  dashboard change, adjudicate, decide and sign the dose decision, raise / answer / close a
  query, lock the data and download the report. The browser's console must hold no error (a
  CSP violation or a failed script would show there).
* :func:`test_every_page_in_the_route_table_passes_axe`: every page of the route table (each
  form, the subject timeline, and every page added later) and the pages' other states (a
  refused login, a rejected form, a created token, an error page).

Every page visited is audited with axe-core (no serious or critical violation) and kept as a
screenshot: ``test-artefacts/browser/<test>/`` (see :mod:`browser_support`).

Chromium and chromium-driver come from ``scripts/system-deps.sh``, axe-core from the npm registry
(``tests/web/axe``); the tests fail (never skip) when they are missing.

Expected values (as in ``test_web_journey.py``): grade 3 gastritis, at least possibly related,
in the DLT window fires ``criterion:gastric_mucosal_injury`` (the packaged protocol's DLT
rule); 3+3 (Storer 1989): 1 DLT in 3 at DL1 -> stay at DL1.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from browser_support import Pages, artefact_dir
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from service_support import treat
from test_authorisation_matrix import route_table
from web_support import (
    D1,
    PASSWORD,
    STUDY,
    Web,
    approval_form,
    day,
    dlt_ae_form,
    lymphodepletion_forms,
    screening_form,
)

from cartrial.web import create_app
from cartrial.web.forms import FORMS, parse_form

SUBJECT = "S01-001"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(web: Web) -> Iterator[str]:
    """The app on a real uvicorn server in a thread; yields its base URL."""
    port = _free_port()
    app = create_app(web.trial.factory, STUDY)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    """Where the browser saves downloaded files."""
    path = tmp_path / "downloads"
    path.mkdir()
    return path


@pytest.fixture
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by chromium-driver (both from Debian)."""
    binary = shutil.which("chromium")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    assert binary, "chromium is missing: run scripts/system-deps.sh as root"
    assert os.path.exists(driver_path), "chromium-driver is missing: run scripts/system-deps.sh"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    prefs = {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _row(pages: Pages, caption: str, first_cell: str) -> list[str]:
    """The cells of the row starting with ``first_cell`` in the table captioned ``caption``."""
    table = pages.driver.find_element(By.XPATH, f"//table[caption[normalize-space()='{caption}']]")
    for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in {caption!r}")


def test_the_trial_journey_in_a_real_browser(
    web: Web, server: str, browser: webdriver.Chrome, downloads: Path
) -> None:
    # the two other members of the first cohort are treated through the services (set-up)
    inv, coord1, coord2 = web.trial.as_("inv"), web.trial.as_("coord1"), web.trial.as_("coord2")
    treat(coord1, inv, "S01-002", "S01", D1)
    treat(coord2, inv, "S02-001", "S02", D1)
    pages = Pages(browser, server, artefact_dir("journey"))

    pages.open("/escalation")
    assert "/login" in browser.current_url
    pages.audit("login")
    pages.log_in("inv")
    assert browser.current_url == f"{server}/escalation"
    assert pages.heading() == "Dose escalation"
    # treated, DLT-evaluable (their 28-day windows ended on 2026-02-09), pending, DLTs
    assert _row(pages, "Per dose level", "DL1") == ["DL1", "2", "2", "0", "0"]
    pages.audit("escalation-before")
    pages.open("/")
    assert pages.heading() == STUDY
    pages.audit("overview")

    screened = pages.submit_form("/forms/screen", screening_form(SUBJECT), "screened")
    assert screened["eligible"] == "True"
    enrol = {"subject_id": SUBJECT, "enrolled_date": day(-10)}
    pages.submit_form("/forms/enrol", enrol, "enrolled")
    assigned = pages.submit_form("/forms/assign-dose", {"subject_id": SUBJECT, "dose_level": "DL1"})
    assert assigned["dose_level"] == "DL1"
    forms = lymphodepletion_forms(SUBJECT)
    for form in forms:
        pages.submit_form(
            "/forms/lymphodepletion", form, "lymphodepleted" if form is forms[-1] else ""
        )
    infusion = {"subject_id": SUBJECT, "infused_at": f"{day(0)}T10:00", "actual_cells": "2.5e8"}
    pages.submit_form("/forms/infusion", infusion, "infused")

    # the AE form's CTCAE term search (htmx, under the CSP) finds the term
    pages.open(f"/forms/ae?subject_id={SUBJECT}")
    browser.find_element(By.ID, "term").send_keys("gastrit")
    pages.wait.until(
        expected_conditions.text_to_be_present_in_element((By.ID, "term-matches"), "Gastritis")
    )
    pages.audit("ae-term-search")
    ae = {k: v for k, v in dlt_ae_form(SUBJECT).items() if k != "subject_id"}  # prefilled
    recorded = pages.submit_form(f"/forms/ae?subject_id={SUBJECT}", ae, "ae-recorded")
    assert (recorded["is_dlt"], recorded["dlt_rule_id"]) == (
        "True",
        "criterion:gastric_mucosal_injury",
    )
    for subject in (SUBJECT, "S01-002", "S02-001"):
        adjudication = {"subject_id": subject, "password": PASSWORD}
        pages.submit_form("/forms/adjudicate-dlt", adjudication, f"adjudicated-{subject}")

    pages.open("/escalation")
    assert _row(pages, "Per dose level", "DL1") == ["DL1", "3", "3", "0", "1"]
    recommendation = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby] p").text
    assert recommendation.startswith("stay → next cohort at DL1")
    pages.audit("escalation-after")
    pages.open(f"/subjects/{SUBJECT}")
    assert "Gastritis" in _row(pages, "Adverse events", SUBJECT)
    pages.audit("subject-timeline")

    pages.log_in("dsmc")
    decided = pages.submit_form("/forms/decide-dose", {"as_of": day(29)}, "dose-decided")
    assert (decided["recommended_action"], decided["next_dose_level"]) == ("stay", "DL1")
    signature = approval_form(decided["decision_id"])
    signed = pages.submit_form("/forms/sign", signature, "decision-signed")
    assert (signed["signer"], signed["meaning"]) == ("dsmc", "approval")
    pages.open("/escalation")
    decisions = browser.find_element(By.XPATH, "//table[caption='Dose decisions']").text
    assert "stay" in decisions
    pages.audit("escalation-decided")

    pages.log_in("mon")
    question = {"subject_id": SUBJECT, "question": "Please confirm the onset time"}
    raised = pages.submit_form("/forms/raise-query", question, "query-raised")
    pages.log_in("coord1")
    answer = {"query_id": raised["query_id"], "answer": "Confirmed", "expected_version": "1"}
    answered = pages.submit_form("/forms/answer-query", answer, "query-answered")
    assert answered["status"] == "answered"
    pages.log_in("mon")
    close = {"query_id": raised["query_id"], "expected_version": answered["version"]}
    assert pages.submit_form("/forms/close-query", close, "query-closed")["status"] == "closed"

    pages.log_in("dm")
    lock = {"name": "interim", "data_cutoff": day(60), "password": PASSWORD}
    pages.submit_form("/forms/lock", lock, "locked")
    pages.open("/report")
    pages.audit("report")
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.CSS_SELECTOR, "a[href='/report/download?format=zip']").click()
    archive = downloads / f"{STUDY}-report.zip"
    pages.wait.until(lambda _: archive.is_file())
    names = zipfile.ZipFile(io.BytesIO(archive.read_bytes())).namelist()
    assert "report.html" in names and any(n.startswith("tables/") for n in names)

    pages.submit_and_wait("form[action='/logout'] button")
    assert "/login" in browser.current_url
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    assert pages.blocking() == {}
    assert len(list(pages.artefacts.glob("*.png"))) == len(pages.findings)


#: Sample values of the path parameters of the pages (a new parameter needs one here; a record
#: id ``..._id`` not listed takes 1: the sweep's trial holds record 1 of each kind it writes).
PARAMETERS: dict[str, tuple[str, ...]] = {
    "name": tuple(FORMS),
    "subject_id": (SUBJECT,),
    "site_id": ("S01",),
    "site": ("S01",),
    "code": ("S01",),
    "username": ("coord1",),
    "user": ("coord1",),
    "table": ("subjects", "adverse_events"),
}
#: Who looks at the pages, in turn, until one may see it (a page for one role only).
VIEWERS = ("inv", "admin", "dm", "mon", "dsmc", "stat")
#: GET routes that are not pages, and where they are checked.
NOT_PAGES = {
    "/report/download": "a zip file: downloaded in the journey",
    "/report/cdisc": "a zip file: tests/web/test_pages_records.py opens it",
    "/terms/ctcae": "an htmx fragment: audited inside the AE form",
}


def page_paths(web: Web) -> list[str]:
    """Every page of the route table with its path parameters filled from :data:`PARAMETERS`."""
    paths = []
    for method, template in sorted(route_table(web)):
        if method != "GET" or template.startswith(("/api/", "/static")) or template in NOT_PAGES:
            continue
        names = re.findall(r"{(\w+)(?::[^}]*)?}", template)
        missing = [n for n in names if n not in PARAMETERS and not n.endswith("_id")]
        assert not missing, f"{template}: add sample values for {missing} to PARAMETERS"
        expanded = [template]
        for name in names:
            expanded = [
                re.sub(rf"{{{name}(?::[^}}]*)?}}", value, path)
                for path in expanded
                for value in PARAMETERS.get(name, ("1",))
            ]
        paths += expanded
    return paths


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "overview"


def test_every_page_in_the_route_table_passes_axe(
    web: Web, server: str, browser: webdriver.Chrome
) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    # records in the timeline's tables and a query: the pages show data, record 1 exists
    for user, form, values in (
        ("coord1", "ae", dlt_ae_form(SUBJECT)),
        ("mon", "raise-query", {"subject_id": SUBJECT, "question": "Onset time?"}),
    ):
        spec = FORMS[form]
        spec.action(web.trial.as_(user), parse_form(spec.model, values))
    pages = Pages(browser, server, artefact_dir("pages"))
    paths = page_paths(web)
    assert {"/", "/escalation", "/subjects/S01-001", "/forms/ae", "/account/tokens"} <= set(paths)

    pages.open("/login")
    pages.audit("login")
    pages.log_in("inv", "not the password")
    assert pages.driver.find_element(By.CSS_SELECTOR, "[role=alert]").text
    pages.audit("login-refused")

    pages.log_in("inv")
    pending = [path for path in paths if path != "/login"]  # /login: audited above
    for viewer in VIEWERS:
        if viewer != "inv" and pending:
            pages.log_in(viewer)
        not_allowed = []
        for path in pending:
            pages.open(path)
            if pages.heading() == "Not allowed":  # e.g. an admin page: the next viewer
                not_allowed.append(path)
            else:
                pages.audit(_slug(path) if viewer == "inv" else f"{viewer}-{_slug(path)}")
        pending = not_allowed
    assert pending == [], f"no viewer of {VIEWERS} may see these pages"

    pages.log_in("inv")
    pages.open("/forms/screen")
    pages.fill({**screening_form("S01-009"), "ecog": "seven"})
    pages.submit_and_wait("main form button[type=submit]")
    assert pages.driver.find_element(By.ID, "ecog").get_attribute("aria-invalid") == "true"
    pages.audit("form-rejected")
    pages.open("/forms/screen")
    pages.fill(screening_form("S01-009"))
    pages.submit_and_wait("main form button[type=submit]")
    pages.audit("form-saved")
    pages.open("/account/tokens")
    pages.fill({"name": "nightly export", "expires_on": "2027-01-31"})
    pages.submit_and_wait("main form button[type=submit]")
    assert pages.driver.find_element(By.CSS_SELECTOR, "code.token").text.startswith("ctp_")
    pages.audit("token-created")
    pages.open("/subjects/S09-999")
    pages.audit("not-found")

    assert len(pages.findings) == len(paths) + 5
    assert pages.blocking() == {}
    # a script error or a CSP violation; the refused login (401), the rejected form (422) and
    # the missing subject (404) are the pages' own statuses ("network" entries)
    errors = [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and entry["source"] != "network"
    ]
    assert errors == []
    # the audit sees what it must: a field without a label is a critical violation
    pages.driver.execute_script(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=\"x\">')"
    )
    assert ("label", "critical") in {(v["id"], v["impact"]) for v in pages.violations()}
