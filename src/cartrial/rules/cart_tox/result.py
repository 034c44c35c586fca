"""Result type shared by the CRS and ICANS graders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Method", "ToxGrade"]

Method = Literal["astct", "ctcae"]


@dataclass(frozen=True)
class ToxGrade:
    """A CRS or ICANS grade and what drove it.

    Attributes
    ----------
    grade : int
        0 (no CRS/ICANS) to 5.
    driver : str
        The parameter that set the grade (e.g. ``"hypoxia"``, ``"ice_score"``; several joined
        with ``" and "`` when they tie), ``"none"`` at grade 0.
    method : str
        Grading system: ``"astct"`` (Lee 2019) or ``"ctcae"`` (CTCAE v5.0).
    reason : str
        The rule in words, e.g. ``"hypoxia: high-flow nasal cannula > 6 L/min -> grade 3"``.
    needs_review : bool
        The data do not fit the grading system (e.g. hypotension without fever before any
        anti-cytokine therapy: not CRS by ASTCT, but an investigator must look).
    """

    grade: int
    driver: str
    method: str
    reason: str
    needs_review: bool = False
