"""A user-supplied decision table run as a design (e.g. a protocol's own mTPI-2 table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cartrial.designs.interval import IntervalDesign, RuleCode
from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TABLE_CODES", "DecisionTableDesign"]

TABLE_CODES: tuple[str, ...] = ("E", "S", "D", "DU")
"""Cell codes: escalate, stay, de-escalate, de-escalate and eliminate (dose unacceptable)."""

_ORDER = {"E": 0, "S": 1, "D": 2, "DU": 3}


def _codes(row: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(row, str):
        return tuple(row.replace(",", " ").split())
    return tuple(str(code).strip() for code in row)


@dataclass(frozen=True, kw_only=True)
class DecisionTableDesign(IntervalDesign):
    """Run a decision table supplied by the user, cell by cell.

    Parameters
    ----------
    table
        For each number treated ``n``, the codes for ``y = 0..n`` DLTs: ``E``, ``S``, ``D`` or
        ``DU``, as a sequence or a string separated by spaces or commas (``"E S D DU"``). Codes
        must run E..., S..., D..., DU... in ``y`` (a safe table is monotone).
    **common
        ``target`` (for the isotonic MTD selection), ``n_doses``, ``cohort_size``, ``n_cohorts``,
        ``start``, ``n_earlystop`` (see :class:`~cartrial.designs.interval.IntervalDesign`).

    Notes
    -----
    Doses are eliminated (with all higher doses) exactly where the table says ``DU``; the
    posterior elimination rule of the other interval designs is not added. Numbers treated that
    the table does not cover raise :class:`~cartrial.errors.DesignError` when reached.
    """

    table: Mapping[int, str | Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.table:
            raise DesignError("the decision table is empty")
        for n, row in self.table.items():
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise DesignError(
                    f"table row {n!r}: the number treated must be a whole number >= 1"
                )
            codes = _codes(row)
            if len(codes) != n + 1:
                raise DesignError(
                    f"table row n = {n}: need {n + 1} codes (y = 0..{n}), got {codes}"
                )
            unknown = sorted(set(codes) - set(TABLE_CODES))
            if unknown:
                raise DesignError(f"table row n = {n}: unknown codes {unknown}; use E, S, D, DU")
            ranks = [_ORDER[c] for c in codes]
            if ranks != sorted(ranks):
                raise DesignError(
                    f"table row n = {n}: codes must run E, S, D, DU in y, got {codes}"
                )

    @classmethod
    def from_grid(cls, grid: pd.DataFrame, **params: object) -> DecisionTableDesign:
        """Build from a grid shaped like :meth:`decision_grid` (rows y, columns n treated)."""
        table: dict[int, tuple[str, ...]] = {}
        for column in grid.columns:
            n = int(column)
            cells = grid[column].iloc[: n + 1]
            table[n] = tuple(str(cell).strip() for cell in cells)
        return cls(table=table, **params)  # type: ignore[arg-type]

    def _cell(self, n: int, y: int) -> str:
        row = self.table.get(n)
        if row is None:
            raise DesignError(f"the decision table has no row for {n} patients treated")
        return _codes(row)[y]

    def _table_size(self) -> int:
        return max(int(n) for n in self.table)

    def rule(self, n: int, y: int) -> RuleCode:
        """The table's move at ``y`` DLTs among ``n`` (``DU`` counts as ``D``)."""
        cell = self._cell(n, y)
        return "E" if cell == "E" else "S" if cell == "S" else "D"

    def _eliminates(self, n: int | npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        n_arr, y_arr = np.broadcast_arrays(np.asarray(n), np.asarray(y))
        flags = [
            int(m) in self.table and self._cell(int(m), int(k)) == "DU"
            for m, k in zip(n_arr.ravel().tolist(), y_arr.ravel().tolist(), strict=True)
        ]
        return np.asarray(flags, dtype=bool).reshape(n_arr.shape)
