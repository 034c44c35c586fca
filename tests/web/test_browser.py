"""A real browser (Debian's headless Chromium through Selenium) on a real server (uvicorn).

Walks the login page, logs in, opens the overview and the escalation dashboard, uses the AE
form's CTCAE term search (htmx under the strict CSP) and logs out; a screenshot of each page is
saved in ``$CARTRIAL_BROWSER_ARTEFACTS`` (default: the test's temporary directory). The browser's
console must hold no error (a CSP violation or a failed script would show there).

Chromium and chromium-driver come from ``scripts/system-deps.sh``; the test fails (never skips)
when they are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from web_support import PASSWORD, STUDY, Web

from cartrial.web import create_app

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
def browser() -> Iterator[webdriver.Chrome]:
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
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_login_dashboard_and_term_search_in_a_real_browser(
    server: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    artefacts = Path(os.environ.get("CARTRIAL_BROWSER_ARTEFACTS", tmp_path))
    artefacts.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, 30)

    browser.get(f"{server}/escalation")
    assert "/login" in browser.current_url
    browser.save_screenshot(str(artefacts / "01-login.png"))
    browser.find_element(By.ID, "username").send_keys("inv")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait.until(expected_conditions.url_to_be(f"{server}/escalation"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dose escalation"
    browser.save_screenshot(str(artefacts / "02-escalation.png"))

    browser.get(f"{server}/")
    assert browser.find_element(By.TAG_NAME, "h1").text == STUDY
    browser.save_screenshot(str(artefacts / "03-overview.png"))

    browser.get(f"{server}/forms/ae")
    browser.find_element(By.ID, "term").send_keys("gastrit")
    wait.until(
        expected_conditions.text_to_be_present_in_element((By.ID, "term-matches"), "Gastritis")
    )
    browser.save_screenshot(str(artefacts / "04-ae-term-search.png"))

    browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait.until(expected_conditions.url_contains("/login"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    assert len(list(artefacts.glob("*.png"))) >= 4
