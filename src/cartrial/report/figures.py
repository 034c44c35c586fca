"""The report's figures (matplotlib, Agg backend): each function returns a Figure or ``None``.

``None`` means there is nothing to draw (e.g. no responder for a DOR curve); the report then says
so in words instead of drawing an empty or invented picture.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cartrial.analysis import TrialAnalysis, TrialData
from cartrial.analysis.dataset import as_flag
from cartrial.analysis.populations import population
from cartrial.analysis.safety import treatment_emergent_aes
from cartrial.analysis.survival import AT_RISK_MONTHS, DAYS_PER_MONTH, KaplanMeier

__all__ = [
    "BOR_COLOURS",
    "ae_heatmap",
    "escalation_path",
    "figure_png_base64",
    "kaplan_meier_plot",
    "kinetics_curves",
    "spider_plot",
    "swimmer_plot",
    "waterfall_plot",
]

#: Colour of each best overall response.
BOR_COLOURS = {
    "CR": "#1b7837",
    "PR": "#5aae61",
    "SD": "#4393c3",
    "NON-CR/NON-PD": "#92c5de",
    "PD": "#d6604d",
    "NE": "#999999",
}


def figure_png_base64(figure: Figure, dpi: int = 110) -> str:
    """Render ``figure`` to PNG and return it base64-encoded (the figure is then closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _dose_colours(
    levels: tuple[str, ...], cmap: str = "viridis", low: float = 0.0, high: float = 1.0
) -> dict[str, tuple[float, float, float, float]]:
    """One colour per dose level, evenly spaced on ``cmap`` between ``low`` and ``high``."""
    colours = matplotlib.colormaps[cmap]
    step = (high - low) / max(len(levels) - 1, 1)
    return {level: colours(low + i * step) for i, level in enumerate(levels)}


def kaplan_meier_plot(curve: KaplanMeier, title: str) -> Figure | None:
    """Kaplan–Meier curve (months) with its 95% band, censoring ticks and a numbers-at-risk row."""
    if curve.n == 0:
        return None
    figure, (axis, table) = plt.subplots(
        2, 1, figsize=(7, 4.6), height_ratios=[5, 1], sharex=True, layout="constrained"
    )
    line = curve.timeline
    months = line["day"] / DAYS_PER_MONTH
    axis.step(months, line["survival"], where="post", color="#2166ac", label="Kaplan–Meier")
    axis.fill_between(months, line["lower"], line["upper"], step="post", alpha=0.2, color="#2166ac")
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("Probability")
    axis.set_title(f"{title} (n = {curve.n}, events = {curve.events})")
    axis.axhline(0.5, color="grey", linewidth=0.5, linestyle=":")
    if curve.censored_days:
        censored = np.asarray(curve.censored_days)
        steps = np.searchsorted(line["day"].to_numpy(), censored, side="right") - 1
        axis.plot(censored / DAYS_PER_MONTH, line["survival"].to_numpy()[steps], "|",
                  color="#2166ac", markersize=8, label="censored")  # fmt: skip
        axis.legend(fontsize=7, loc="lower left")
    for m in AT_RISK_MONTHS:
        table.text(m, 0.5, str(curve.at_risk[m]), ha="center", va="center", fontsize=8)
    table.set_yticks([0.5], ["At risk"])
    table.set_ylim(0, 1)
    table.set_xlabel("Months since CAR-T infusion")
    table.set_xlim(-0.5, max(AT_RISK_MONTHS) + 0.5)
    table.set_xticks(AT_RISK_MONTHS)
    table.tick_params(axis="y", length=0)
    return figure


def swimmer_plot(trial: TrialData, analysis: TrialAnalysis) -> Figure | None:
    """One bar per infused subject: follow-up (days), response time points and death."""
    safety = population(trial, "safety")
    if safety.empty:
        return None
    follow_up = analysis.table("survival_listing").frame.set_index("subject_id")["os_days"]
    days = safety["subject_id"].map(follow_up).to_numpy(dtype=float)
    order = np.argsort(days)
    ids = safety["subject_id"].to_numpy()[order]
    # grey bars, so that the coloured response markers stay visible
    colours = _dose_colours(analysis.settings.dose_levels, "Greys", 0.3, 0.75)
    figure, axis = plt.subplots(figsize=(7, 0.25 * len(ids) + 1.5), layout="constrained")
    for y, (length, level) in enumerate(
        zip(days[order], safety["dose_level"].to_numpy()[order], strict=True)
    ):
        axis.barh(y, length, color=colours.get(level, "grey"), height=0.6)
    tps = analysis.best_response.timepoints
    position = {s: i for i, s in enumerate(ids)}
    for response, marker in (("CR", "*"), ("PR", "^"), ("SD", "o"), ("PD", "x")):
        points = tps.loc[tps["overall_response"] == response]
        axis.scatter(
            points["day"],
            points["subject_id"].map(position),
            marker=marker,
            color=BOR_COLOURS[response],
            label=response,
            zorder=3,
            s=25,
        )
    dead = safety.iloc[order].reset_index(drop=True)
    dead_rows = np.flatnonzero(
        dead["death_date"].notna() & (dead["death_date"] <= trial.data_cutoff)
    )
    axis.scatter(days[order][dead_rows], dead_rows, marker="|", color="black", s=80, label="death")
    axis.set_yticks(range(len(ids)), ids, fontsize=7)
    axis.set_xlabel("Days since CAR-T infusion")
    axis.set_title("Swimmer plot: follow-up, time-point responses and death")
    present = [level for level in colours if level in set(safety["dose_level"])]
    bars = [plt.Rectangle((0, 0), 1, 1, color=colours[level]) for level in present]
    handles, labels = axis.get_legend_handles_labels()
    axis.legend([*bars, *handles], [*present, *labels], fontsize=7, loc="lower right")
    return figure


def waterfall_plot(analysis: TrialAnalysis) -> Figure | None:
    """Best % change of the sum of diameters per subject, coloured by best overall response."""
    data = analysis.best_response.subjects.dropna(subset=["best_pct_change"])
    if data.empty:
        return None
    data = data.sort_values("best_pct_change", ascending=False)
    figure, axis = plt.subplots(figsize=(7, 3.6), layout="constrained")
    axis.bar(
        range(len(data)),
        data["best_pct_change"],
        color=[BOR_COLOURS.get(b, "grey") for b in data["bor"]],
    )
    axis.axhline(20, color="#d6604d", linestyle="--", linewidth=0.8)
    axis.axhline(-30, color="#1b7837", linestyle="--", linewidth=0.8)
    axis.set_xticks(range(len(data)), data["subject_id"], rotation=90, fontsize=7)
    axis.set_ylabel("Best change from baseline (%)")
    axis.set_title("Waterfall plot (colour = best overall response)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in BOR_COLOURS.values()]
    axis.legend(handles, list(BOR_COLOURS), fontsize=7, ncol=3)
    return figure


def spider_plot(analysis: TrialAnalysis) -> Figure | None:
    """% change of the sum of diameters over time, one line per subject."""
    tps = analysis.best_response.timepoints.dropna(subset=["pct_change_from_baseline"])
    if tps.empty:
        return None
    bor = analysis.best_response.subjects.set_index("subject_id")["bor"]
    figure, axis = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for subject, group in tps.groupby("subject_id"):
        axis.plot(
            [0, *group["day"]],
            [0, *group["pct_change_from_baseline"]],
            marker="o",
            markersize=3,
            color=BOR_COLOURS.get(str(bor.get(subject, "NE")), "grey"),
        )
    axis.axhline(20, color="#d6604d", linestyle="--", linewidth=0.8)
    axis.axhline(-30, color="#1b7837", linestyle="--", linewidth=0.8)
    axis.set_xlabel("Days since CAR-T infusion")
    axis.set_ylabel("Change from baseline (%)")
    axis.set_title("Spider plot (colour = best overall response)")
    return figure


def kinetics_curves(trial: TrialData, analysis: TrialAnalysis) -> Figure | None:
    """CAR-T levels over time on a log scale, one line per subject, coloured by dose level.

    Samples below the LLOQ are not drawn (no value is invented); the LLOQ is a dotted line.
    """
    safety = population(trial, "safety")
    kin = trial.kinetics
    kin = kin.loc[kin["subject_id"].isin(safety["subject_id"]) & (kin["day"] >= 0)]
    shown = kin.loc[~as_flag(kin["below_lloq"]) & (kin["value"] > 0)]
    if shown.empty:
        return None
    units = sorted(shown["unit"].unique())
    colours = _dose_colours(analysis.settings.dose_levels)
    dose = safety.set_index("subject_id")["dose_level"]
    figure, axes = plt.subplots(
        1, len(units), figsize=(7 * len(units), 3.8), squeeze=False, layout="constrained"
    )
    for axis, unit in zip(axes[0], units, strict=True):
        for subject, group in shown.loc[shown["unit"] == unit].groupby("subject_id"):
            axis.plot(
                group["day"],
                group["value"],
                marker="o",
                markersize=3,
                color=colours.get(str(dose.get(subject)), "grey"),
                linewidth=1,
            )
        lloq = kin.loc[kin["unit"] == unit, "lloq"].dropna()
        if len(lloq):
            axis.axhline(float(lloq.median()), color="grey", linestyle=":", label="LLOQ")
        axis.set_yscale("log")
        axis.set_xlabel("Days since CAR-T infusion")
        axis.set_ylabel(unit)
        axis.set_title(f"CAR-T kinetics ({unit})")
        present = [level for level in colours if level in set(dose)]
        handles = [plt.Line2D([], [], color=colours[level]) for level in present]
        axis.legend(handles, present, fontsize=7, title="dose level", title_fontsize=7)
    return figure


def escalation_path(trial: TrialData, analysis: TrialAnalysis) -> Figure | None:
    """Dose level of each cohort in order, with treated and DLT counts; red = at least one DLT."""
    decisions = trial.dose_decisions.sort_values("cohort")
    if decisions.empty:
        return None
    levels = analysis.settings.dose_levels
    figure, axis = plt.subplots(figsize=(7, 3.2), layout="constrained")
    axis.plot(decisions["cohort"], decisions["dose_index"], color="grey", linewidth=1, zorder=1)
    dlt = decisions["n_dlt"].to_numpy() > 0
    axis.scatter(
        decisions["cohort"],
        decisions["dose_index"],
        s=160,
        zorder=2,
        color=np.where(dlt, "#d6604d", "#4393c3"),
    )
    for cohort, index, treated, n_dlt in decisions[
        ["cohort", "dose_index", "n_treated", "n_dlt"]
    ].itertuples(index=False):
        axis.annotate(
            f"{int(n_dlt)}/{int(treated)}",
            (cohort, index),
            textcoords="offset points",
            xytext=(0, 11),
            ha="center",
            fontsize=8,
        )
    axis.set_yticks(
        range(len(levels)),
        [f"{lv} ({analysis.settings.dose_labels[lv]})" for lv in levels],
        fontsize=8,
    )
    axis.set_ylim(-0.5, len(levels) - 0.3)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("Cohort")
    axis.set_title("Dose-escalation path (label = DLTs / treated; red = ≥ 1 DLT)")
    return figure


def ae_heatmap(trial: TrialData, analysis: TrialAnalysis, max_terms: int = 30) -> Figure | None:
    """% of subjects per dose level with each AE term (any grade), the most frequent terms."""
    safety = population(trial, "safety")
    te = treatment_emergent_aes(trial)
    if te.empty:
        return None
    levels = [lv for lv in analysis.settings.dose_levels if lv in set(safety["dose_level"])]
    sizes = safety["dose_level"].value_counts()
    counts = te.drop_duplicates(["subject_id", "term"]).groupby(["term", "dose_level"]).size()
    matrix = counts.unstack("dose_level", fill_value=0).reindex(columns=levels, fill_value=0)
    matrix = matrix.loc[matrix.sum(axis=1).sort_values(ascending=False).index[:max_terms]]
    pct = matrix / pd.Series({lv: sizes[lv] for lv in levels}) * 100
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(pct) + 1.8), layout="constrained")
    image = axis.imshow(pct.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0, vmax=100)
    for (row, col), value in np.ndenumerate(matrix.to_numpy()):
        axis.text(col, row, str(value), ha="center", va="center", fontsize=7)
    axis.set_xticks(range(len(levels)), [f"{lv} (N={sizes[lv]})" for lv in levels], fontsize=8)
    axis.set_yticks(range(len(pct)), pct.index, fontsize=7)
    axis.set_title("Adverse events: subjects per dose level (colour = %)")
    figure.colorbar(image, ax=axis, label="% of subjects")
    return figure
