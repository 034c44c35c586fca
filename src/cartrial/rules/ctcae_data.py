"""Read the CTCAE v5.0 package data tables (``cartrial/data/ctcae/*.csv``).

Each table is a CSV file whose leading ``#`` lines state its source; this module strips those
lines and returns the rows. It is the only place the CTCAE rules touch a file.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

__all__ = ["CTCAE_VERSION", "read_table"]

CTCAE_VERSION = "5.0"


@cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Return the rows of the package data table ``data/ctcae/<name>`` as dictionaries.

    Parameters
    ----------
    name : str
        File name inside ``cartrial/data/ctcae`` (e.g. ``"terms.csv"``).

    Returns
    -------
    tuple of dict
        One mapping per data row, keyed by the header; comment lines (``#``) are skipped.
    """
    text = files("cartrial").joinpath("data", "ctcae", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(dict(row) for row in csv.DictReader(lines))
