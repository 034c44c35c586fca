"""The report's figures (matplotlib, Agg backend): each function returns a Figure or ``None``.

``None`` means there is nothing to draw (e.g. no responder for a DOR curve); the report then says
so in words instead of drawing an empty or invented picture.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from cartrial.analysis import TrialAnalysis, TrialData
from cartrial.analysis.dataset import as_flag
from cartrial.analysis.populations import population
from cartrial.analysis.response import unconfirmed_responders
from cartrial.analysis.safety import treatment_emergent_aes
from cartrial.analysis.survival import AT_RISK_MONTHS, DAYS_PER_MONTH, KaplanMeier

__all__ = [
    "BOR_COLOURS",
    "DOSE_PALETTE",
    "ae_heatmap",
    "dose_colours",
    "escalation_path",
    "figure_png_base64",
    "kaplan_meier_plot",
    "kinetics_curves",
    "save_figure",
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


#: Colour-blind-safe qualitative palette (Okabe & Ito 2008), one colour per dose level in
#: protocol order; none is pale, so every dose stays visible on white and under others.
DOSE_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def figure_png_base64(figure: Figure, dpi: int = 110) -> str:
    """Render ``figure`` to PNG and return it base64-encoded (the figure is then closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def save_figure(figure: Figure, stem: Path, dpi: int = 110) -> str:
    """Write ``figure`` as ``<stem>.png`` and ``<stem>.svg``; return the PNG base64-encoded.

    The figures use constrained layout: it is solved once, for the PNG, and frozen for the SVG
    (no "tight" bounding-box pass either). The figure is closed afterwards.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    # fast zlib level: the PNG is written once and decoded once more by WeasyPrint
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    stem.with_suffix(".png").write_bytes(buffer.getvalue())
    figure.set_layout_engine("none")
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: editable, smaller
        figure.savefig(stem.with_suffix(".svg"), format="svg")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def dose_colours(levels: tuple[str, ...]) -> dict[str, str]:
    """One :data:`DOSE_PALETTE` colour per dose level, in protocol order."""
    return {level: DOSE_PALETTE[i % len(DOSE_PALETTE)] for i, level in enumerate(levels)}


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
    """One bar per infused subject (colour = dose level, hatched = expansion): follow-up in days,
    CR/PR/SD/PD time points, death (×) and an arrow for subjects still in follow-up."""
    safety = population(trial, "safety")
    if safety.empty:
        return None
    follow_up = analysis.table("survival_listing").frame.set_index("subject_id")["os_days"]
    days = safety["subject_id"].map(follow_up).to_numpy(dtype=float)
    order = np.argsort(days)
    ordered = safety.iloc[order].reset_index(drop=True)
    ids = ordered["subject_id"].to_numpy()
    colours = dose_colours(analysis.settings.dose_levels)
    height = min(0.22 * len(ids) + 1.8, 9.5)
    figure, axis = plt.subplots(figsize=(7.2, height), layout="constrained")
    for y, row in cast(Any, ordered.iterrows()):
        axis.barh(
            y, days[order][y], color=colours.get(row["dose_level"], "grey"), alpha=0.35,
            height=0.7, edgecolor=colours.get(row["dose_level"], "grey"), linewidth=0.8,
            hatch="///" if row["phase"] == "expansion" else None,
        )  # fmt: skip
    tps = analysis.best_response.timepoints
    position = {s: i for i, s in enumerate(ids)}
    for response, marker, size in (("CR", "*", 90), ("PR", "^", 45), ("SD", "o", 22),
                                   ("PD", "X", 40)):  # fmt: skip
        points = tps.loc[(tps["overall_response"] == response) & tps["subject_id"].isin(ids)]
        axis.scatter(points["day"], points["subject_id"].map(position), marker=marker,
                     color=BOR_COLOURS[response], edgecolors="black", linewidths=0.5,
                     label=response, zorder=3, s=size)  # fmt: skip
    cutoff = trial.data_cutoff
    dead = (ordered["death_date"].notna() & (ordered["death_date"] <= cutoff)).to_numpy()
    withdrawn = ordered["withdrawn_date"].notna() & (ordered["withdrawn_date"] <= cutoff)
    ongoing = ~dead & ~withdrawn.to_numpy()
    rows = np.arange(len(ids))
    span = float(np.nanmax(days)) if len(days) else 1.0
    axis.scatter(days[order][dead] + span * 0.012, rows[dead], marker="$\\dagger$", color="black",
                 s=70, zorder=4, label="death")  # fmt: skip
    axis.scatter(days[order][ongoing] + span * 0.015, rows[ongoing], marker=">", color="#444444",
                 s=30, zorder=4, label="in follow-up")  # fmt: skip
    axis.set_yticks(rows, ids, fontsize=6.5)
    axis.set_ylim(-0.8, len(ids) - 0.2)
    axis.set_xlim(0, span * 1.06)
    axis.set_xlabel("Days since CAR-T infusion")
    present = [level for level in colours if level in set(ordered["dose_level"])]
    patches = [Patch(facecolor=colours[lv], alpha=0.5, edgecolor=colours[lv], label=lv)
               for lv in present]  # fmt: skip
    if (ordered["phase"] == "expansion").any():
        patches.append(Patch(facecolor="white", edgecolor="grey", hatch="///", label="expansion"))
    handles, labels = axis.get_legend_handles_labels()
    artists: list[Artist] = [*patches, *handles]
    names = [*(str(p.get_label()) for p in patches), *labels]
    axis.legend(artists, names, loc="upper left", fontsize=7, bbox_to_anchor=(1.01, 1.0),
                frameon=False)  # fmt: skip
    return figure


def waterfall_plot(analysis: TrialAnalysis) -> Figure | None:
    """Best % change of the sum of diameters per subject, coloured by best overall response;
    unconfirmed CR/PR hatched; the RECIST +20% and −30% thresholds labelled."""
    data = analysis.best_response.subjects.dropna(subset=["best_pct_change"])
    if data.empty:
        return None
    data = data.sort_values("best_pct_change", ascending=False).reset_index(drop=True)
    unconfirmed = unconfirmed_responders(analysis.best_response)
    figure, axis = plt.subplots(figsize=(7.2, 3.8), layout="constrained")
    bars = axis.bar(range(len(data)), data["best_pct_change"],
                    color=[BOR_COLOURS.get(b, "grey") for b in data["bor"]],
                    edgecolor="black", linewidth=0.4)  # fmt: skip
    for bar, subject in zip(bars, data["subject_id"], strict=True):
        if subject in unconfirmed:
            bar.set_hatch("xxx")
    axis.axhline(20, color="#b2182b", linestyle="--", linewidth=0.9)
    axis.axhline(-30, color="#1b7837", linestyle="--", linewidth=0.9)
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}
    axis.text(len(data) - 0.5, 21, "+20%: progression threshold", ha="right", va="bottom",
              fontsize=7, color="#b2182b", bbox=box, zorder=5)  # fmt: skip
    axis.text(-0.5, -31, "−30%: partial response threshold", ha="left", va="top",
              fontsize=7, color="#1b7837", bbox=box, zorder=5)  # fmt: skip
    axis.axhline(0, color="black", linewidth=0.5)
    axis.set_xticks(range(len(data)), data["subject_id"], rotation=90, fontsize=6.5)
    axis.set_ylabel("Best change from baseline in\nsum of diameters (%)")
    present = [b for b in BOR_COLOURS if b in set(data["bor"])]
    handles = [Patch(facecolor=BOR_COLOURS[b], edgecolor="black", label=b) for b in present]
    if unconfirmed & set(data["subject_id"]):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="xxx",
                             label="unconfirmed CR/PR"))  # fmt: skip
    axis.legend(handles=handles, fontsize=7, ncol=2, loc="upper right",
                title="Best overall response", title_fontsize=7)  # fmt: skip
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
    present = [b for b in BOR_COLOURS if b in set(bor)]
    axis.legend(handles=[Line2D([], [], color=BOR_COLOURS[b], label=b) for b in present],
                fontsize=7, title="Best overall response", title_fontsize=7,
                loc="upper right")  # fmt: skip
    return figure


def _geometric_mean_curve(points: pd.DataFrame, days: list[int]) -> pd.DataFrame:
    """Geometric mean of the quantifiable levels at each nominal day (samples binned to the
    nearest nominal day)."""
    nominal = np.asarray(days, dtype=float)
    nearest = nominal[np.abs(points["day"].to_numpy()[:, None] - nominal[None, :]).argmin(axis=1)]
    logs = np.log(points["value"].to_numpy(dtype=float))
    frame = pd.DataFrame({"day": nearest, "log": logs})
    summary = frame.groupby("day")["log"].agg(["mean", "size"])
    summary = summary.loc[summary["size"] >= 2]
    return pd.DataFrame({"day": summary.index, "geo_mean": np.exp(summary["mean"].to_numpy())})


def kinetics_curves(trial: TrialData, analysis: TrialAnalysis) -> Figure | None:
    """CAR-T levels on a log scale: days 0–28 (left) and the whole follow-up (right) for each
    assay; thin lines = subjects, thick line = geometric mean per dose level; LLOQ labelled.

    Samples below the LLOQ are not drawn (no value is invented).
    """
    safety = population(trial, "safety")
    kin = trial.kinetics
    kin = kin.loc[kin["subject_id"].isin(safety["subject_id"]) & (kin["day"] >= 0)]
    shown = kin.loc[~as_flag(kin["below_lloq"]) & (kin["value"] > 0)]
    if shown.empty:
        return None
    units = sorted(shown["unit"].unique())
    colours = dose_colours(analysis.settings.dose_levels)
    dose = safety.set_index("subject_id")["dose_level"]
    shown = shown.assign(dose_level=shown["subject_id"].map(dose))
    nominal = sorted({v.day for v in analysis.settings.visits.get("kinetics", ())} | {0})
    nominal = [d for d in nominal if d >= 0] or sorted(shown["day"].unique().tolist())
    figure, axes = plt.subplots(len(units), 2, figsize=(7.2, 3.1 * len(units)), squeeze=False,
                                layout="constrained", width_ratios=[1, 1.3])  # fmt: skip
    for (early, late), unit in zip(axes, units, strict=True):
        data = shown.loc[shown["unit"] == unit]
        lloq = kin.loc[kin["unit"] == unit, "lloq"].dropna()
        for axis, limit in ((early, 28), (late, None)):
            part = data if limit is None else data.loc[data["day"] <= limit + 3]
            for subject, group in part.groupby("subject_id"):
                axis.plot(group["day"], group["value"], color=colours.get(str(dose.get(subject)),
                          "grey"), linewidth=0.6, alpha=0.35)  # fmt: skip
            for level, group in part.groupby("dose_level"):
                curve = _geometric_mean_curve(group, nominal)
                axis.plot(curve["day"], curve["geo_mean"], color=colours.get(str(level), "grey"),
                          linewidth=2.4, marker="o", markersize=3.5,
                          label=f"{level} geometric mean")  # fmt: skip
            if len(lloq):
                value = float(lloq.median())
                axis.axhline(value, color="black", linestyle=":", linewidth=1)
                axis.annotate(f"LLOQ {value:g}", (1, value), xycoords=("axes fraction", "data"),
                              ha="right", va="bottom", fontsize=7)  # fmt: skip
            axis.set_yscale("log")
            axis.set_xlabel("Days since CAR-T infusion")
        early.set_xlim(-0.5, 28.5)
        early.set_xticks([0, 7, 14, 21, 28])
        early.set_title(f"Days 0–28 ({unit})", fontsize=9)
        late.set_xscale("symlog", linthresh=28)
        late.set_xticks([0, 7, 14, 28, 91, 182, 365])
        late.set_xticklabels(["0", "7", "14", "28", "91", "182", "365"])
        late.set_title(f"Whole follow-up, symlog time axis ({unit})", fontsize=9)
        early.set_ylabel(f"CAR-T level ({unit})")
        late.legend(fontsize=7, loc="upper right")
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


def ae_heatmap(trial: TrialData, columns: tuple[str, ...], max_terms: int = 30) -> Figure | None:
    """% of subjects per column with each AE term (any grade), the most frequent terms.

    ``columns`` are the values of ``subjects.dose_level`` to show, in order (dose levels, or the
    report's escalation/expansion arms when the trial was relabelled by arm).
    """
    safety = population(trial, "safety")
    te = treatment_emergent_aes(trial)
    if te.empty:
        return None
    levels = [lv for lv in columns if lv in set(safety["dose_level"])]
    sizes = safety["dose_level"].value_counts()
    counts = te.drop_duplicates(["subject_id", "term"]).groupby(["term", "dose_level"]).size()
    matrix = counts.unstack("dose_level", fill_value=0).reindex(columns=levels, fill_value=0)
    matrix = matrix.loc[matrix.sum(axis=1).sort_values(ascending=False).index[:max_terms]]
    pct = matrix / pd.Series({lv: sizes[lv] for lv in levels}) * 100
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(pct) + 1.8), layout="constrained")
    image = axis.imshow(pct.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0, vmax=100)
    shares = pct.to_numpy(dtype=float)
    for (row, col), value in np.ndenumerate(matrix.to_numpy()):
        dark = shares[row, col] >= 50  # white text on the dark half of the colour scale
        axis.text(col, row, str(value), ha="center", va="center", fontsize=7,
                  color="white" if dark else "black")  # fmt: skip
    names = [lv.replace(" ", "\n", 1) + f"\n(N={sizes[lv]})" for lv in levels]
    axis.set_xticks(range(len(levels)), names, fontsize=7.5)
    axis.set_yticks(range(len(pct)), pct.index, fontsize=7)
    figure.colorbar(image, ax=axis, label="% of subjects")
    return figure
