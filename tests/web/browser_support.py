"""The browser tests' tools: a page driver that fills forms, keeps a screenshot of each page and
audits it with axe-core.

* Screenshots (full page, PNG) go to ``$CARTRIAL_BROWSER_ARTEFACTS`` or, by default, to
  ``test-artefacts/browser/<test name>/`` at the top of the repository (ignored by git); the
  axe-core findings of every page go beside them (``axe.json``, every impact level).
* axe-core is the npm registry's package pinned in ``tests/web/axe/package-lock.json``, installed
  by ``make`` (``npm ci --prefix tests/web/axe``); :data:`AXE_TAGS` are the rules run (WCAG 2.1
  A and AA, and axe's best practices). A page passes with no "serious" or "critical" violation.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait
from web_support import PASSWORD

__all__ = ["AXE_JS", "AXE_TAGS", "BLOCKING_IMPACTS", "Pages", "artefact_dir"]

REPOSITORY = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: axe-core rule tags: WCAG 2.0 and 2.1, levels A and AA, and axe's best practices.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
#: Violations that fail a page.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(result => done(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))
  .catch(error => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""


def artefact_dir(test_name: str) -> Path:
    """Where the screenshots of test ``test_name`` are kept (created empty)."""
    root = os.environ.get("CARTRIAL_BROWSER_ARTEFACTS")
    base = Path(root) if root else REPOSITORY / "test-artefacts" / "browser"
    path = base / test_name
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@dataclass
class Pages:
    """A logged-in (or not) browser on the server at ``base``, with its artefacts."""

    driver: webdriver.Chrome
    base: str
    artefacts: Path
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert AXE_JS.is_file(), f"{AXE_JS} is missing: run `npm ci --prefix tests/web/axe`"
        self.axe_source = AXE_JS.read_text(encoding="utf-8")
        self.wait = WebDriverWait(self.driver, 30)
        self.driver.set_script_timeout(60)

    def open(self, path: str) -> None:
        """Load ``path`` of the server."""
        self.driver.get(f"{self.base}{path}")

    def heading(self) -> str:
        """The page's ``h1``."""
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def audit(self, name: str) -> None:
        """Keep a full-page screenshot of the current page and its axe-core violations."""
        assert name not in self.findings, f"{name} audited twice"
        self.findings[name] = self.violations()
        size = self.driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
        )
        clip = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 10000), "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path = self.artefacts / f"{len(self.findings):02d}-{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        (self.artefacts / "axe.json").write_text(json.dumps(self.findings, indent=1))

    def violations(self) -> list[dict[str, Any]]:
        """axe-core's violations on the current page (every impact level)."""
        if not self.driver.execute_script("return typeof axe !== 'undefined'"):
            self.driver.execute_script(self.axe_source)
        found: list[dict[str, Any]] = self.driver.execute_async_script(_AXE_RUN, list(AXE_TAGS))
        return found

    def blocking(self) -> dict[str, list[str]]:
        """Serious or critical violations by page: ``rule (impact): help -> elements``."""
        return {
            page: [
                f"{v['id']} ({v['impact']}): {v['help']} -> {v['nodes']}"
                for v in violations
                if v["impact"] in BLOCKING_IMPACTS
            ]
            for page, violations in self.findings.items()
            if any(v["impact"] in BLOCKING_IMPACTS for v in violations)
        }

    def log_in(self, user: str, password: str = PASSWORD) -> None:
        """Log in through the login page (logging out first when someone is logged in)."""
        if self.driver.find_elements(By.CSS_SELECTOR, "form[action='/logout'] button"):
            self.submit_and_wait("form[action='/logout'] button")
        if not self.driver.find_elements(By.CSS_SELECTOR, "form[action='/login']"):
            self.open("/login")
        for input_id, value in (("username", user), ("password", password)):
            element = self.driver.find_element(By.ID, input_id)
            element.clear()  # a refused login shows the username typed
            element.send_keys(value)
        self.submit_and_wait("form[action='/login'] button")
        if password == PASSWORD:
            logged_in = self.driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] span")
            assert logged_in.text == user

    def submit_and_wait(self, button_css: str) -> None:
        """Click a submit button and wait for the next page."""
        button = self.driver.find_element(By.CSS_SELECTOR, button_css)
        button.click()
        self.wait.until(lambda _: _gone(button))

    def fill(self, values: dict[str, str]) -> None:
        """Type ``values`` (field name -> text; a checkbox takes ``"on"``) into the page's form."""
        for name, value in values.items():
            element = self.driver.find_element(By.CSS_SELECTOR, f"main [name='{name}']")
            kind = element.get_attribute("type")
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            elif kind == "checkbox":
                if (value == "on") != element.is_selected():
                    element.click()
            elif kind == "date":  # typed as the browser's locale shows dates: set the value
                self.driver.execute_script("arguments[0].value = arguments[1]", element, value)
            else:
                element.clear()
                element.send_keys(value)

    def submit_form(self, path: str, values: dict[str, str], name: str = "") -> dict[str, str]:
        """Open the form at ``path``, fill and save it; audit the answer; its result fields."""
        self.open(path)
        self.fill(values)
        self.submit_and_wait("main form button[type=submit]")
        if name:
            self.audit(name)
        alerts = self.driver.find_elements(By.CSS_SELECTOR, "[role=alert]")
        assert not alerts, (path, [a.text for a in alerts])
        keys = self.driver.find_elements(By.CSS_SELECTOR, ".notice dt")
        values_shown = self.driver.find_elements(By.CSS_SELECTOR, ".notice dd")
        return {k.text.replace(" ", "_"): v.text for k, v in zip(keys, values_shown, strict=True)}


def _gone(element: WebElement) -> bool:
    """Whether ``element`` left the document (the next page replaced it).

    Selenium's ``staleness_of`` expects ``StaleElementReferenceException`` only; while the old
    page is being torn down chromedriver may instead answer "Node with given id does not belong
    to the document", which means the same thing.
    """
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in (exc.msg or ""):
            return True
        raise
    return False
