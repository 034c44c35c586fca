"""Clinical rule engines: pure functions, no I/O except reading their package data.

- :mod:`~cartrial.rules.ctcae`: CTCAE v5.0 term catalogue and lab grading;
- :mod:`~cartrial.rules.cart_tox`: ASTCT 2019 CRS and ICANS grading, ICE score, daily courses;
- :mod:`~cartrial.rules.dlt`: DLT adjudication against the protocol's DLT definition;
- :mod:`~cartrial.rules.recist`: RECIST 1.1 response evaluation.
"""

from __future__ import annotations

from cartrial.rules import cart_tox, ctcae, dlt, recist

__all__ = ["cart_tox", "ctcae", "dlt", "recist"]
