"""The forms that compute while typed, in a real browser (headless Chromium, Selenium): htmx under
the strict CSP adds lesion rows and shows the server's RECIST sum, the ICE score and the AE grade
definitions. Screenshots go to ``$CARTRIAL_BROWSER_ARTEFACTS`` like ``test_browser.py``'s.

Expected values: 50 + 30 mm = 80 mm baseline sum (RECIST 1.1 §4.3); 7 ICE items = ICE 7 and
ICANS grade 1 (ASTCT 2019, Lee et al. 2019); Gastritis grade 3 text of NCI CTCAE v5.0.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from service_support import treat
from test_browser import browser, downloads, server  # noqa: F401 (fixtures)
from web_support import PASSWORD, Web

D1 = dt.date(2026, 1, 12)


def test_lesion_rows_ice_items_and_grade_texts_in_a_real_browser(
    web: Web,
    server: str,  # noqa: F811
    browser: webdriver.Chrome,  # noqa: F811
    tmp_path: Path,
) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), "S01-001", "S01", D1)
    artefacts = Path(os.environ.get("CARTRIAL_BROWSER_ARTEFACTS", tmp_path))
    artefacts.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, 30)
    browser.get(f"{server}/login")
    browser.find_element(By.ID, "username").send_keys("coord1")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait.until(expected_conditions.url_to_be(f"{server}/"))

    browser.get(f"{server}/forms/tumour")
    Select(browser.find_element(By.ID, "subject_id")).select_by_value("S01-001")
    browser.find_element(By.ID, "assessment_date").send_keys("01/05/2026")
    browser.find_element(By.CSS_SELECTOR, "button[value='add']").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "lesions-1-lesion_id")))
    for i, (lesion, organ, mm) in enumerate((("T1", "liver", "50"), ("T2", "lung", "30"))):
        browser.find_element(By.ID, f"lesions-{i}-lesion_id").send_keys(lesion)
        Select(browser.find_element(By.ID, f"lesions-{i}-category")).select_by_value("target")
        browser.find_element(By.ID, f"lesions-{i}-organ").send_keys(organ)
        browser.find_element(By.ID, f"lesions-{i}-diameter_mm").send_keys(mm)
    browser.find_element(By.ID, "method").click()  # leave the last cell: a change event
    wait.until(
        expected_conditions.text_to_be_present_in_element((By.ID, "sum-of-diameters"), "80.0 mm")
    )
    browser.save_screenshot(str(artefacts / "05-tumour-lesion-table.png"))

    browser.get(f"{server}/forms/crs-icans")
    Select(browser.find_element(By.ID, "subject_id")).select_by_value("S01-001")
    browser.find_element(By.ID, "observed_date").send_keys("01/14/2026")
    browser.find_element(By.ID, "temperature_c").send_keys("38.5")
    for item in ("year", "month", "city", "hospital", "names_object_1", "names_object_2"):
        browser.find_element(By.ID, f"ice-{item}").click()
    browser.find_element(By.ID, "ice-follows_commands").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "ice-score"), "7 / 10"))
    assert browser.find_element(By.ID, "icans-grade").text.startswith("1")
    browser.save_screenshot(str(artefacts / "06-crs-icans-ice.png"))

    browser.get(f"{server}/forms/ae")
    browser.find_element(By.ID, "term").send_keys("Gastritis")
    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "term-grades"), "Severely altered eating or gastric function"
        )
    )
    browser.save_screenshot(str(artefacts / "07-ae-grade-definitions.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
