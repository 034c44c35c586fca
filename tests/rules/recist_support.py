"""RECIST settings of the study protocol, for the rule tests.

``src/cartrial/protocols/cldn18-pdl1-cart.yaml`` sets ``recist: {confirm: true, sd_min_days: 42,
confirm_min_days: 28}`` (RECIST 1.1 §4.4.1: confirmation >= 4 weeks; SD at least 6 weeks after the
reference date); :func:`evaluate` passes them unless a test overrides one.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from cartrial.rules import recist

PROTOCOL_RECIST: dict[str, Any] = {"confirm": True, "sd_min_days": 42, "confirm_min_days": 28}


def evaluate(
    lesions: pd.DataFrame | str | os.PathLike[str],
    reference_dates: Any,
    **overrides: Any,
) -> recist.RecistResult:
    """``recist.evaluate`` with the protocol's settings, ``overrides`` taking precedence."""
    return recist.evaluate(lesions, reference_dates, **(PROTOCOL_RECIST | overrides))
