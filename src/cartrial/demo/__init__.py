"""The in-silico study: an application that conducts the whole trial with virtual patients.

:func:`run_demo` plays the study team (site staff, safety committee, investigator, data manager)
on a dated calendar and records everything through :mod:`cartrial.services`, like any other client
(the CLI, a web app): it never touches the database directly. The patients come from the pure
models of :mod:`cartrial.virtual`; :mod:`cartrial.demo.conduct` turns one treated virtual patient
into the site's service calls; :mod:`cartrial.demo.summary` reads the headline results back from
the analysis of the locked data.
"""

from __future__ import annotations

from cartrial.demo.study import DEFAULT_SEED, TRUTH_CSV, DemoResult, run_demo
from cartrial.demo.summary import DemoSummary, summarise

__all__ = ["DEFAULT_SEED", "TRUTH_CSV", "DemoResult", "DemoSummary", "run_demo", "summarise"]
