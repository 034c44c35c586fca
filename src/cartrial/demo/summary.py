"""The demo's headline results, read from the analysis of the locked data (not recomputed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData, analyse_trial

__all__ = ["DemoSummary", "summarise"]


@dataclass(frozen=True)
class DemoSummary:
    """Headline results of an in-silico study.

    Attributes
    ----------
    design
        The escalation design that decided the doses.
    mtd, rp2d
        Maximum tolerated dose selected by the design and recommended phase II dose (dose-level
        names, read from the signed governance records; ``None`` when escalation stopped without
        one).
    stop_reason
        Why escalation or expansion stopped early ("" when it ran to plan).
    dlt_by_dose
        The analysis table of DLTs per dose level (DLT-evaluable population, exact 95% CIs).
    orr, orr_ci95
        Objective response rate (CR+PR) and its Clopper-Pearson 95% interval, as fractions.
    orr_responders, orr_n
        Responders and subjects of the ORR population.
    pfs_median_months, os_median_months
        Kaplan-Meier medians (``nan`` = not reached), with their 95% intervals.
    n_screened, n_screen_failures, n_enrolled, n_infused, n_deaths
        Study counts.
    """

    design: str
    mtd: str | None
    rp2d: str | None
    stop_reason: str
    dlt_by_dose: pd.DataFrame
    orr: float
    orr_ci95: tuple[float, float]
    orr_responders: int
    orr_n: int
    pfs_median_months: float
    pfs_ci95_months: tuple[float, float]
    os_median_months: float
    os_ci95_months: tuple[float, float]
    n_screened: int
    n_screen_failures: int
    n_enrolled: int
    n_infused: int
    n_deaths: int


def _median(table: pd.DataFrame, endpoint: str) -> tuple[float, tuple[float, float]]:
    row = table[(table["endpoint"] == endpoint) & (table["dose_level"] == "all")].iloc[0]
    return float(row["median_months"]), (
        float(row["median_ci95_lower_months"]),
        float(row["median_ci95_upper_months"]),
    )


def _governed_dose(trial: TrialData, kind: str) -> str | None:
    """The dose level of the latest signed governance record of ``kind`` (``None``: none)."""
    rows = trial.governance[trial.governance["kind"] == kind]
    if rows.empty or pd.isna(rows["dose_level"].iloc[-1]):
        return None
    return str(rows["dose_level"].iloc[-1])


def summarise(trial: TrialData, *, stop_reason: str, screening: pd.DataFrame) -> DemoSummary:
    """Collect the headline numbers from :func:`cartrial.analysis.analyse_trial` and the MTD and
    RP2D from the signed governance records (``trial.governance``)."""
    analysis = analyse_trial(trial)
    rates = analysis.table("response_rates")
    frame = rates.frame
    orr = frame[
        (frame["population"] == rates.population)
        & (frame["subgroup"] == "overall")
        & (frame["endpoint"] == "ORR (CR+PR)")
    ].iloc[0]
    survival = analysis.table("survival").frame
    pfs, pfs_ci = _median(survival, "Progression-free survival")
    os_, os_ci = _median(survival, "Overall survival")
    subjects = trial.subjects
    return DemoSummary(
        design=trial.protocol.escalation.design.name,
        mtd=_governed_dose(trial, "escalation_end"),
        rp2d=_governed_dose(trial, "rp2d"),
        stop_reason=stop_reason,
        dlt_by_dose=analysis.table("dlt_by_dose").frame,
        orr=float(orr["responders"]) / float(orr["n"]) if orr["n"] else float("nan"),
        orr_ci95=(float(orr["ci95_lower_pct"]) / 100.0, float(orr["ci95_upper_pct"]) / 100.0),
        orr_responders=int(orr["responders"]),
        orr_n=int(orr["n"]),
        pfs_median_months=pfs,
        pfs_ci95_months=pfs_ci,
        os_median_months=os_,
        os_ci95_months=os_ci,
        n_screened=len(screening),
        n_screen_failures=int((screening["outcome"] != "eligible").sum()) if len(screening) else 0,
        n_enrolled=len(subjects),
        n_infused=int(subjects["infusion_date"].notna().sum()),
        n_deaths=int(np.sum(subjects["death_date"].notna())),
    )
