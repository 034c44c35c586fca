"""Dose levels by their protocol names (DL-1, DL1, ...) for people; 0-based indices for code.

The designs count doses from 0 (``decide(n, dlt, current)`` with ``current`` an index into
``n``); a protocol names them (``DL-1`` for a de-escalation level, then ``DL1``, ``DL2``, ...).
Every output a person reads (command line, JSON, report) shows the names: :func:`dose_index`
reads a name given by a user, :func:`name_doses` rewrites a design's reason text ("dose 1")
and :func:`name_dose_keys` the per-dose keys of its details (``p_hat_1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from cartrial.errors import DesignError

__all__ = ["default_dose_names", "dose_index", "name_dose_keys", "name_doses"]

_DOSE_IN_TEXT = re.compile(r"\bdose (\d+)\b")
_DOSE_IN_KEY = re.compile(r"^(.+)_(\d+)$")


def default_dose_names(n_doses: int) -> tuple[str, ...]:
    """``DL1`` ... ``DLk``: the names of ``n_doses`` levels when no protocol names them."""
    return tuple(f"DL{i + 1}" for i in range(n_doses))


def dose_index(name: str, names: Sequence[str], *, what: str = "dose level") -> int:
    """The 0-based index of the dose level called ``name`` (case-insensitive) among ``names``.

    Raises
    ------
    DesignError
        ``name`` is not one of ``names`` (a bare number is refused too: it is ambiguous between
        0-based and 1-based counting, and between DL1 and DL-1).
    """
    wanted = name.strip().upper()
    for index, candidate in enumerate(names):
        if candidate.upper() == wanted:
            return index
    hint = " (doses are named, not numbered)" if wanted.lstrip("-").isdigit() else ""
    raise DesignError(f"unknown {what} {name!r}{hint}: expected one of {', '.join(names)}")


def name_doses(text: str, names: Sequence[str]) -> str:
    """``text`` with every "dose I" (a 0-based index) replaced by "dose NAME"."""

    def named(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"dose {names[index]}" if index < len(names) else match.group(0)

    return _DOSE_IN_TEXT.sub(named, text)


def name_dose_keys(details: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """``details`` with per-dose keys ``KEY_I`` (a 0-based index) renamed ``KEY_NAME``."""
    out: dict[str, float] = {}
    for key, value in details.items():
        match = _DOSE_IN_KEY.match(key)
        if match is not None and int(match.group(2)) < len(names):
            key = f"{match.group(1)}_{names[int(match.group(2))]}"
        out[key] = value
    return out
