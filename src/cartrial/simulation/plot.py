"""Selection percentage per dose and design: the figure of a simulation report."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cartrial.errors import DesignError

__all__ = ["plot_selection"]

_REQUIRED = ("design", "dose", "selection_pct")


def plot_selection(result_frame: pd.DataFrame) -> Figure:
    """Grouped bars of the selection % per dose (and of no dose), one bar colour per design.

    Parameters
    ----------
    result_frame
        ``SimulationResult.to_frame()`` or ``GridResult.to_frame()`` (or several concatenated):
        columns ``design``, ``dose``, ``selection_pct`` and optionally ``scenario`` (one panel
        per scenario) and ``true_tox`` (printed under each dose).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("selection.png")``.
    """
    missing = [c for c in _REQUIRED if c not in result_frame.columns]
    if missing:
        raise DesignError(f"result frame lacks column(s) {missing}")
    frame = result_frame.copy()
    if "scenario" not in frame.columns:
        frame["scenario"] = ""
    scenarios = list(dict.fromkeys(frame["scenario"]))
    designs = list(dict.fromkeys(frame["design"]))
    fig = Figure(figsize=(max(6.0, 1.2 * frame["dose"].nunique() + 2), 3.2 * len(scenarios)))
    axes = fig.subplots(len(scenarios), 1, squeeze=False)[:, 0]
    width = 0.8 / len(designs)
    for ax, scenario in zip(axes, scenarios, strict=True):
        part = frame[frame["scenario"] == scenario].assign(dose=lambda f: f["dose"].astype(str))
        doses = list(dict.fromkeys(part["dose"]))
        x = np.arange(len(doses))
        for k, design in enumerate(designs):
            pct = part[part["design"] == design].set_index("dose")["selection_pct"]
            heights = [float(pct.get(d, np.nan)) for d in doses]
            ax.bar(x + (k - (len(designs) - 1) / 2) * width, heights, width, label=str(design))
        labels = doses
        if "true_tox" in part.columns:
            truth = part.drop_duplicates("dose").set_index("dose")["true_tox"]
            labels = [f"{d}\n(p={truth[d]:.2f})" if pd.notna(truth[d]) else d for d in doses]
        ax.set_xticks(x, labels)
        ax.set_ylabel("selected (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"Selection per dose{f': {scenario}' if scenario else ''}")
        ax.legend(fontsize="small", ncols=min(len(designs), 4))
    axes[-1].set_xlabel("dose (0-based; 'none' = no dose selected)")
    fig.tight_layout()
    return fig
