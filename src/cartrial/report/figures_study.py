"""Figures of the study as a whole: disposition flow, CAR-T phenotype, anti-CAR antibodies."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from cartrial.analysis.disposition import Disposition

__all__ = ["ada_plot", "disposition_flow", "phenotype_plot"]


def _box(axis: plt.Axes, x: float, y: float, text: str, width: float = 0.42) -> None:
    axis.add_patch(FancyBboxPatch((x - width / 2, y - 0.035), width, 0.07,
                                  boxstyle="round,pad=0.01", facecolor="#eef3f8",
                                  edgecolor="#2166ac", linewidth=1))  # fmt: skip
    axis.text(x, y, text, ha="center", va="center", fontsize=8)


def _side(axis: plt.Axes, x: float, y: float, text: str) -> None:
    axis.text(
        x,
        y,
        text,
        ha="left",
        va="center",
        fontsize=7,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fbeaea", "edgecolor": "#b2182b"},
    )


def _arrow(axis: plt.Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    axis.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "color": "#444444"})


def disposition_flow(d: Disposition) -> Figure:
    """CONSORT-style flow: screened → enrolled → lymphodepleted → infused → evaluable, with the
    subjects leaving at each step and their reasons on the right."""
    steps: list[tuple[str, str | None]] = []
    if d.screened is not None:
        reasons = "\n".join(f"  {r}: {n}" for r, n in list(d.not_eligible_reasons.items())[:6])
        steps.append((f"Screened\nn = {d.screened}", f"Not eligible: {d.not_eligible}\n{reasons}"))
    steps.append((f"Enrolled\nn = {len(d.enrolled)}", None))
    not_ld = len(d.enrolled - d.lymphodepleted)
    steps.append((f"Lymphodepleted\nn = {len(d.lymphodepleted)}",
                  f"Not lymphodepleted: {not_ld}" if not_ld else None))  # fmt: skip
    steps.append((f"Infused with CAR-T (safety population)\nn = {len(d.infused)}",
                  f"Not infused: {len(d.not_infused)}" if d.not_infused else None))  # fmt: skip
    steps.append((f"DLT-evaluable n = {len(d.dlt_evaluable)}\n"
                  f"Efficacy-evaluable n = {len(d.efficacy_evaluable)}", None))  # fmt: skip
    reasons = "\n".join(f"  {r}: {n}" for r, n in d.discontinuation_reasons().items())
    steps.append((f"In follow-up at the data cut-off\nn = {len(d.in_follow_up)}",
                  f"Discontinued: {len(d.discontinued)}\n{reasons}"))  # fmt: skip
    figure, axis = plt.subplots(figsize=(7.2, 0.75 * len(steps) + 0.5), layout="constrained")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.axis("off")
    ys = [1 - (i + 0.5) / len(steps) for i in range(len(steps))]
    for i, ((text, side), y) in enumerate(zip(steps, ys, strict=True)):
        _box(axis, 0.3, y, text)
        if i + 1 < len(steps):
            _arrow(axis, 0.3, y - 0.037, 0.3, ys[i + 1] + 0.037)
        if side:
            # an exit sits beside the arrow leaving the step; the last step's beside its box
            level = y - 0.5 / len(steps) if i + 1 < len(steps) else y
            start = 0.3 if i + 1 < len(steps) else 0.51
            axis.plot([start, 0.58], [level, level], color="#b2182b", linewidth=0.8)
            _side(axis, 0.59, level, side)
    return figure


def phenotype_plot(frame: pd.DataFrame) -> Figure | None:
    """Median (Q1–Q3) of each phenotype marker over the visits, one panel per marker group.

    ``frame`` is the ``phenotype_over_time`` analysis table.
    """
    if frame.empty:
        return None
    groups = list(dict.fromkeys(frame["group"]))
    figure, axes = plt.subplots(1, len(groups), figsize=(7.2, 3.0), squeeze=False,
                                layout="constrained")  # fmt: skip
    for axis, group in zip(axes[0], groups, strict=True):
        for marker, block in frame.loc[frame["group"] == group].groupby("marker", sort=True):
            block = block.sort_values("visit_day")
            line = axis.plot(block["visit_day"], block["median"], marker="o", markersize=3,
                             label=str(marker))  # fmt: skip
            axis.fill_between(block["visit_day"], block["q1"], block["q3"], alpha=0.15,
                              color=line[0].get_color())  # fmt: skip
        axis.set_xscale("symlog", linthresh=28)
        axis.set_xticks([7, 14, 28, 91, 182])
        axis.set_xticklabels(["7", "14", "28", "91", "182"])
        axis.set_title(str(group), fontsize=9)
        axis.set_xlabel("Days since infusion")
        axis.legend(fontsize=6)
    axes[0][0].set_ylabel("Median (band: Q1–Q3)")
    return figure


def ada_plot(frame: pd.DataFrame) -> Figure | None:
    """Anti-CAR antibodies by visit: % of samples confirmed positive (bars, with n/N) and the
    median titer of the positive samples (line).

    ``frame`` is the ``ada_over_time`` analysis table.
    """
    if frame.empty:
        return None
    frame = frame.sort_values("nominal_day").reset_index(drop=True)
    share = frame["positive"] / frame["samples"].where(frame["samples"] > 0) * 100
    figure, axis = plt.subplots(figsize=(7.2, 3.0), layout="constrained")
    bars = axis.bar(range(len(frame)), share.fillna(0), color="#4393c3")
    for bar, pos, n in zip(bars, frame["positive"], frame["samples"], strict=True):
        axis.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, f"{pos}/{n}",
                  ha="center", fontsize=7)  # fmt: skip
    axis.set_xticks(range(len(frame)), frame["visit"].astype(str), fontsize=8)
    axis.set_ylabel("Confirmed positive samples (%)")
    axis.set_ylim(0, max(float(share.max()) if share.notna().any() else 0, 10) * 1.25)
    titer = axis.twinx()
    titer.plot(range(len(frame)), frame["titer_median"], color="#b2182b", marker="D",
               markersize=4, label="median titer (positives)")  # fmt: skip
    titer.set_yscale("log", base=2)
    titer.set_ylabel("Median titer (reciprocal dilution)", color="#b2182b")
    titer.legend(fontsize=7, loc="upper left")
    return figure
