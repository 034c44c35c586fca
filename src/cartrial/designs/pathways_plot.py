"""Dose transition pathways drawn as a tree (matplotlib)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from cartrial.designs.pathways import PATHWAY_COLUMNS
from cartrial.errors import DesignError

__all__ = ["plot_pathways"]


def plot_pathways(
    pathways: pd.DataFrame,
    *,
    dose_labels: tuple[str, ...] | None = None,
    title: str = "Dose transition pathways",
) -> Figure:
    """Draw a pathway table from :func:`~cartrial.designs.pathways.dose_transition_pathways`.

    Columns are cohorts; each node shows the cohort's DLT count and the dose decided after it
    (``stop`` when the design stops). Leaves are spread evenly; a parent sits at the mean height
    of its children.

    Parameters
    ----------
    pathways
        The pathway table.
    dose_labels
        Names for the 0-based dose indices (e.g. the protocol's ``"DL-1"``, ``"DL1"``, ...).
    title
        Figure title.
    """
    missing = set(PATHWAY_COLUMNS) - set(pathways.columns)
    if missing:
        raise DesignError(f"not a pathway table: missing columns {sorted(missing)}")

    def label(dose: object) -> str:
        if dose is pd.NA or dose is None:
            return "stop"
        index = int(str(dose))
        return dose_labels[index] if dose_labels is not None else f"dose {index}"

    children: dict[str, list[str]] = {}
    for path, parent in zip(pathways["path"], pathways["parent"], strict=True):
        children.setdefault(str(parent), []).append(str(path))
    height: dict[str, float] = {}
    counter = [0.0]

    def place(path: str) -> float:
        kids = children.get(path, [])
        if not kids:
            height[path] = counter[0]
            counter[0] += 1
        else:
            height[path] = sum(place(kid) for kid in kids) / len(kids)
        return height[path]

    place("")
    depth = int(pathways["cohort"].max()) if len(pathways) else 0
    leaves = max(counter[0], 1.0)
    fig = Figure(figsize=(3.2 * (depth + 1), max(2.5, 0.32 * leaves)))
    ax = fig.add_subplot()
    by_path = pathways.set_index("path")
    ax.text(
        0,
        height[""],
        "now",
        ha="center",
        va="center",
        fontsize=8,
        bbox={"boxstyle": "round", "fc": "#e8eef7"},
    )
    for path, row in by_path.iterrows():
        x, y = int(row["cohort"]), height[str(path)]
        parent = str(row["parent"])
        ax.plot([x - 1, x], [height[parent], y], color="#8a8a8a", lw=0.8, zorder=1)
        stop = row["next_dose"] is pd.NA
        text = f"{label(row['dose'])}: {row['n_dlt']} DLT -> {label(row['next_dose'])}"
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=7,
            zorder=2,
            bbox={"boxstyle": "round", "fc": "#f7d4d4" if stop else "#ffffff", "lw": 0.5},
        )
    ax.set_xlim(-0.6, depth + 0.6)
    ax.set_ylim(-1, leaves)
    ax.invert_yaxis()
    ax.set_xticks(range(depth + 1), ["now"] + [f"cohort {c}" for c in range(1, depth + 1)])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title)
    fig.tight_layout()
    return fig
