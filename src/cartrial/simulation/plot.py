"""Selection and allocation per dose and design: the figures of a simulation report."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cartrial.errors import DesignError

__all__ = ["plot_allocation", "plot_operating_characteristics", "plot_selection"]

_PANELS = {
    "selection_pct": ("selected as MTD (%)", "Selection"),
    "mean_patients": ("mean patients treated", "Allocation"),
}


def _prepare(result_frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in ("design", "dose", *columns) if c not in result_frame.columns]
    if missing:
        raise DesignError(f"result frame lacks column(s) {missing}")
    frame = result_frame.copy()
    if "scenario" not in frame.columns:
        frame["scenario"] = ""
    frame["dose"] = frame["dose"].astype(str)
    return frame


def _draw(ax: Axes, part: pd.DataFrame, designs: list[str], column: str) -> None:
    """Grouped bars of ``column`` per dose, one colour per design (with SE whiskers if known)."""
    if column == "mean_patients":
        part = part[part["dose"] != "none"]
    doses = list(dict.fromkeys(part["dose"]))
    x = np.arange(len(doses))
    width = 0.8 / len(designs)
    se_column = {"selection_pct": "selection_se", "mean_patients": "mean_patients_se"}[column]
    for k, design in enumerate(designs):
        rows = part[part["design"] == design].set_index("dose")
        heights = [float(rows[column].get(d, np.nan)) for d in doses]
        errors = None
        if se_column in rows.columns:
            errors = [1.96 * float(rows[se_column].get(d, np.nan)) for d in doses]
            errors = None if all(np.isnan(errors)) else np.nan_to_num(errors).tolist()
        offset = (k - (len(designs) - 1) / 2) * width
        ax.bar(x + offset, heights, width, yerr=errors, capsize=2, label=str(design))
    labels = doses
    if "true_tox" in part.columns:
        truth = part.drop_duplicates("dose").set_index("dose")["true_tox"]
        labels = [f"{d}\n(p={truth[d]:.2f})" if pd.notna(truth[d]) else d for d in doses]
    ax.set_xticks(x, labels)
    ylabel, _ = _PANELS[column]
    ax.set_ylabel(ylabel)
    if column == "selection_pct":
        ax.set_ylim(0, 100)


def _figure(result_frame: pd.DataFrame, columns: tuple[str, ...]) -> Figure:
    frame = _prepare(result_frame, columns)
    scenarios = list(dict.fromkeys(frame["scenario"]))
    designs = list(dict.fromkeys(frame["design"]))
    n_doses = frame["dose"].nunique()
    fig = Figure(
        figsize=(len(columns) * max(6.0, 1.2 * n_doses + 2), 3.2 * len(scenarios)),
        layout="constrained",
    )
    axes = fig.subplots(len(scenarios), len(columns), squeeze=False)
    for row, scenario in enumerate(scenarios):
        part = frame[frame["scenario"] == scenario]
        for col, column in enumerate(columns):
            ax = axes[row, col]
            _draw(ax, part, designs, column)
            title = _PANELS[column][1]
            ax.set_title(f"{title}{f': {scenario}' if scenario else ''}")
            ax.legend(fontsize="small", ncols=min(len(designs), 4))
    for ax in axes[-1]:
        ax.set_xlabel("dose level (true DLT probability); whiskers: 95% Monte Carlo interval")
    return fig


def plot_selection(result_frame: pd.DataFrame) -> Figure:
    """Grouped bars of the selection % per dose (and of no dose), one bar colour per design.

    Parameters
    ----------
    result_frame
        ``SimulationResult.to_frame()`` or ``GridResult.to_frame()`` (or several concatenated):
        columns ``design``, ``dose`` (dose-level names), ``selection_pct`` and optionally
        ``scenario`` (one panel per scenario), ``true_tox`` (printed under each dose) and
        ``selection_se`` (95 % Monte Carlo whiskers).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("selection.png")``.
    """
    return _figure(result_frame, ("selection_pct",))


def plot_allocation(result_frame: pd.DataFrame) -> Figure:
    """Grouped bars of the mean number of patients treated per dose, per scenario and design."""
    return _figure(result_frame, ("mean_patients",))


def plot_operating_characteristics(result_frame: pd.DataFrame) -> Figure:
    """Selection (left) and allocation (right) per dose, one row of panels per scenario."""
    return _figure(result_frame, ("selection_pct", "mean_patients"))
