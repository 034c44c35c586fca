"""Time-to-event endpoints: PFS, OS and DOR derivation and Kaplan–Meier estimates (R conventions).

Event and censoring rules (RECIST 1.1 reference §8.1; FDA 2007 Guidance, Appendix 3, Table A),
time origin = CAR-T infusion (day 0), everything after the data cut-off ignored:

* **PFS** event = first documented PD or death from any cause, whichever is first.
  Censored at the last adequate assessment (overall response other than NE, day 0 if none) when:
  there is no PD and no death; a new anticancer therapy started before the event (last adequate
  assessment before the new therapy); or the event followed **two or more missed** scheduled tumour
  assessments (scheduled visits after the last adequate assessment whose window closed before the
  event).
* **OS** event = death from any cause; otherwise censored at the last contact date (capped at the
  data cut-off; the last tumour assessment when no contact date is recorded, else day 0).
* **DOR** (confirmed responders only): from the first CR/PR date to the PFS event, with the PFS
  censoring rules.

Kaplan–Meier estimates follow R's ``survival`` (:mod:`cartrial.analysis.km`): Greenwood standard
errors, pointwise 95% CIs with ``conf_type="log"`` (``survfit``'s default), the median and quartiles
by ``quantile.survfit``'s rule (midpoint when S(t) = 0.5 over an interval) with their CIs from the
pointwise bands (Brookmeyer & Crowley, Biometrics 1982;38:29-41); median follow-up by reverse
Kaplan–Meier; an exploratory log-rank test between dose levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.km import km_estimate, km_quantiles, log_rank, reverse_km_median_follow_up
from cartrial.analysis.populations import dose_groups, population
from cartrial.analysis.response import BestResponse
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.tables import AnalysisTable

__all__ = [
    "AT_RISK_MONTHS",
    "CONF_TYPE",
    "DAYS_PER_MONTH",
    "MEDIAN_CI",
    "KaplanMeier",
    "kaplan_meier",
    "survival_tables",
    "time_to_event",
]

#: Days per month used to print times in months (365.25 / 12).
DAYS_PER_MONTH = 30.4375
#: Months at which the number at risk is tabulated.
AT_RISK_MONTHS = (0, 3, 6, 9, 12, 15, 18)
#: Pointwise CI transform of the curves (``survfit(conf.type=)``; R's default).
CONF_TYPE = "log"
#: How the CI of the median is computed (printed in every survival table).
MEDIAN_CI = f"brookmeyer-crowley ({CONF_TYPE})"


def time_to_event(trial: TrialData, settings: AnalysisSettings, best: BestResponse) -> pd.DataFrame:
    """Per safety subject: PFS, OS and DOR times (days), event flags and the rule that decided.

    Columns: ``subject_id, dose_level, pfs_days, pfs_event, pfs_rule, os_days, os_event, os_rule,
    dor_days, dor_event`` (DOR NaN for non-responders).
    """
    safety = population(trial, "safety").set_index("subject_id")
    cutoff = trial.data_cutoff
    infusion = safety["infusion_date"]

    def day_of(dates: pd.Series) -> pd.Series:
        kept = dates.where(dates <= cutoff)
        return (kept - infusion).dt.days.astype(float)

    tps = best.timepoints
    first_pd = tps.loc[tps["overall_response"] == "PD"].groupby("subject_id")["day"].min()
    death = day_of(safety["death_date"])
    therapy = day_of(safety["subsequent_therapy_date"])
    pd_day = first_pd.reindex(safety.index).astype(float)
    event_day = pd.concat([pd_day, death], axis=1).min(axis=1, skipna=True)
    after_therapy = therapy.notna() & (event_day.isna() | (therapy <= event_day))
    event_day = event_day.where(~after_therapy)

    adequate = tps.loc[tps["overall_response"] != "NE", ["subject_id", "day"]]
    adequate = adequate.assign(limit=adequate["subject_id"].map(event_day))
    before = adequate.loc[adequate["limit"].isna() | (adequate["day"] < adequate["limit"])]
    last_adequate = before.groupby("subject_id")["day"].max().reindex(safety.index).fillna(0.0)

    visits = settings.visits.get("tumour", ())
    nominal = np.array([v.day for v in visits if v.day > 0], dtype=float)
    closes = np.array([v.latest for v in visits if v.day > 0], dtype=float)
    missed = (
        (nominal[None, :] > last_adequate.to_numpy()[:, None])
        & (closes[None, :] < event_day.to_numpy()[:, None])
    ).sum(axis=1)
    has_event = event_day.notna().to_numpy()
    too_late = has_event & (missed >= 2)
    pfs_event = has_event & ~too_late
    pfs_days = np.where(pfs_event, event_day.to_numpy(), last_adequate.to_numpy())
    rule = np.select(
        [
            pfs_event & (pd_day.to_numpy() == event_day.to_numpy()),
            pfs_event,
            too_late,
            after_therapy.to_numpy(),
            last_adequate.to_numpy() > 0,
        ],
        [
            "event: documented PD",
            "event: death",
            "censored: event after two or more missed assessments",
            "censored: new anticancer therapy",
            "censored: no PD or death, last adequate assessment",
        ],
        default="censored: no adequate post-baseline assessment (day 0)",
    )
    out = pd.DataFrame(
        {
            "subject_id": safety.index.to_numpy(),
            "dose_level": safety["dose_level"].to_numpy(),
            "pfs_days": pfs_days,
            "pfs_event": pfs_event,
            "pfs_rule": rule,
        }
    )
    last_contact = safety["last_contact_date"]
    contact = day_of(last_contact.where(last_contact.isna() | (last_contact <= cutoff), cutoff))
    # without a last-contact date, the last tumour assessment is the last time known alive
    last_scan = tps.groupby("subject_id")["day"].max().reindex(safety.index).astype(float)
    contact = contact.fillna(last_scan).fillna(0.0)
    out["os_event"] = death.notna().to_numpy()
    out["os_days"] = np.where(out["os_event"], death.to_numpy(), contact.to_numpy())
    out["os_rule"] = np.where(out["os_event"], "event: death", "censored: last contact")
    response = best.subjects.set_index("subject_id")
    start = response["first_response_day"].where(response["responder"]).reindex(safety.index)
    out["dor_days"] = (out["pfs_days"].to_numpy() - start.to_numpy()).clip(min=0)
    out["dor_event"] = np.where(start.notna().to_numpy(), out["pfs_event"], False)
    return out


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier estimate summarised for the report (times in days).

    ``median_days`` and its limits are NaN when not reached ("NR"); ``q25_days`` / ``q75_days``
    are the first and third quartiles of the event time (25% / 75% of subjects with the event);
    rates are survival probabilities at 6 and 12 months with pointwise 95% CIs; ``at_risk`` maps
    the months of :data:`AT_RISK_MONTHS` to the number of subjects still at risk;
    ``censored_days`` lists the censoring times (for the tick marks of a plot);
    ``follow_up_median_days`` is the reverse-KM median follow-up.
    """

    label: str
    n: int
    events: int
    median_days: float
    median_lower_days: float
    median_upper_days: float
    rate_6m: float
    rate_6m_ci: tuple[float, float]
    rate_12m: float
    rate_12m_ci: tuple[float, float]
    at_risk: dict[int, int]
    timeline: pd.DataFrame
    censored_days: tuple[float, ...] = ()
    median_ci: str = MEDIAN_CI
    q25_days: float = math.nan
    q75_days: float = math.nan
    follow_up_median_days: float = math.nan


def kaplan_meier(durations: npt.ArrayLike, events: npt.ArrayLike, label: str) -> KaplanMeier:
    """Kaplan–Meier curve by R's conventions (:func:`~cartrial.analysis.km.km_estimate`).

    Parameters
    ----------
    durations
        Times from the origin, days (≥ 0).
    events
        True for an event, False for a censored time.
    label
        Name of the curve (endpoint and group).
    """
    times = np.asarray(durations, dtype=float)
    observed = np.asarray(events, dtype=bool)
    at_risk = {m: int((times >= m * DAYS_PER_MONTH).sum()) for m in AT_RISK_MONTHS}
    if times.size == 0:
        nan = math.nan
        empty = pd.DataFrame(columns=["day", "survival", "lower", "upper", "std_err"])
        return KaplanMeier(
            label, 0, 0, nan, nan, nan, nan, (nan, nan), nan, (nan, nan), at_risk, empty
        )
    km = km_estimate(times, observed, conf_type=CONF_TYPE)  # type: ignore[arg-type]
    timeline = pd.DataFrame(
        {
            "day": np.r_[0.0, km.time],
            "survival": np.r_[1.0, km.surv],
            "lower": np.r_[1.0, km.lower],
            "upper": np.r_[1.0, km.upper],
            "std_err": np.r_[0.0, km.std_err_surv],
        }
    ).drop_duplicates("day", keep="last")
    q25, median, q75 = km_quantiles(km, (0.25, 0.5, 0.75))

    def rate(month: int) -> tuple[float, tuple[float, float]]:
        day = month * DAYS_PER_MONTH
        row = timeline.loc[timeline["day"] <= day].iloc[-1]
        if times.max() < day and row["survival"] > 0:
            return math.nan, (math.nan, math.nan)  # follow-up too short: not estimable
        return float(row["survival"]), (float(row["lower"]), float(row["upper"]))

    rate6, ci6 = rate(6)
    rate12, ci12 = rate(12)
    return KaplanMeier(
        label=label,
        n=km.n,
        events=km.events,
        median_days=median.estimate,
        median_lower_days=median.lower,
        median_upper_days=median.upper,
        rate_6m=rate6,
        rate_6m_ci=ci6,
        rate_12m=rate12,
        rate_12m_ci=ci12,
        at_risk=at_risk,
        timeline=timeline.reset_index(drop=True),
        censored_days=tuple(float(t) for t in np.sort(times[~observed])),
        q25_days=q25.estimate,
        q75_days=q75.estimate,
        follow_up_median_days=reverse_km_median_follow_up(times, observed).estimate,
    )


_ENDPOINTS = {
    "pfs": "Progression-free survival",
    "os": "Overall survival",
    "dor": "Duration of response",
}


def survival_tables(
    trial: TrialData, settings: AnalysisSettings, best: BestResponse
) -> tuple[AnalysisTable, AnalysisTable, AnalysisTable, dict[str, KaplanMeier]]:
    """KM summary (overall and by dose level), numbers at risk, per-subject derivation, and curves.

    Returns
    -------
    (summary, at_risk, listing, curves)
        ``curves`` maps ``"pfs"``, ``"os"``, ``"dor"`` to the overall :class:`KaplanMeier`.
    """
    tte = time_to_event(trial, settings, best)
    rows, risk_rows = [], []
    curves: dict[str, KaplanMeier] = {}
    notes: list[str] = []

    def pct(value: float) -> float:
        return round(value * 100, 1) if math.isfinite(value) else math.nan

    def months(value: float) -> float:
        return round(value / DAYS_PER_MONTH, 2) if math.isfinite(value) else math.nan

    for key, title in _ENDPOINTS.items():
        name = settings.population_for(key, "safety")
        members = set(population(trial, name)["subject_id"])
        data = tte.loc[tte["subject_id"].isin(members) & tte[f"{key}_days"].notna()]
        if key == "dor":
            data = data.loc[
                best.subjects.set_index("subject_id")["responder"]
                .reindex(data["subject_id"])
                .to_numpy()
            ]
        levels = dose_groups(settings, data)
        groups = [("all", data)] + [
            (level, data.loc[data["dose_level"] == level]) for level in levels
        ]
        test = (
            log_rank(data[f"{key}_days"], data[f"{key}_event"], data["dose_level"])
            if len(levels) > 1 and data[f"{key}_event"].any()
            else None
        )
        for level, group in groups:
            km = kaplan_meier(group[f"{key}_days"], group[f"{key}_event"], f"{title} ({level})")
            if level == "all":
                curves[key] = km
                risk_rows.append(
                    {"endpoint": title, **{f"month {m}": km.at_risk[m] for m in AT_RISK_MONTHS}}
                )
                if km.n == 0:
                    notes.append(f"{title}: no subject to analyse (n = 0); estimates are NE.")
            rows.append(
                {
                    "endpoint": title,
                    "population": name,
                    "dose_level": level,
                    "n": km.n,
                    "events": km.events,
                    "censored": km.n - km.events,
                    "median_months": months(km.median_days),
                    "median_ci95_lower_months": months(km.median_lower_days),
                    "median_ci95_upper_months": months(km.median_upper_days),
                    "q25_months": months(km.q25_days),
                    "q75_months": months(km.q75_days),
                    "follow_up_median_months": months(km.follow_up_median_days),
                    "rate_6m_pct": pct(km.rate_6m),
                    "rate_6m_ci95_lower_pct": pct(km.rate_6m_ci[0]),
                    "rate_6m_ci95_upper_pct": pct(km.rate_6m_ci[1]),
                    "rate_12m_pct": pct(km.rate_12m),
                    "rate_12m_ci95_lower_pct": pct(km.rate_12m_ci[0]),
                    "rate_12m_ci95_upper_pct": pct(km.rate_12m_ci[1]),
                    "median_ci": MEDIAN_CI,
                    "log_rank_p_between_dose_levels": (
                        test.p_value if test is not None and level == "all" else math.nan
                    ),
                }
            )
    method = (
        "Kaplan–Meier as R survfit; median and quartiles by quantile.survfit (midpoint over a flat"
        f' at 0.5); Greenwood SE; pointwise CI conf_type="{CONF_TYPE}"; median follow-up by reverse'
        " Kaplan–Meier; log-rank between dose levels exploratory (survdiff); "
        f'median_ci="{MEDIAN_CI}"; NaN median = not reached (NR) or not estimable; months = days /'
        f" {DAYS_PER_MONTH}; rates NE when follow-up is shorter"
    )
    safety_n = len(population(trial, "safety"))
    summary = AnalysisTable(
        key="survival",
        title="Time-to-event endpoints (Kaplan–Meier)",
        frame=pd.DataFrame(rows),
        population="safety",
        n=safety_n,
        method=method,
        notes=tuple(notes),
    )
    at_risk = AnalysisTable(
        key="survival_at_risk",
        title="Numbers at risk",
        frame=pd.DataFrame(risk_rows),
        population="safety",
        n=safety_n,
        method=f"subjects with time ≥ month × {DAYS_PER_MONTH} days",
    )
    listing = AnalysisTable(
        key="survival_listing",
        title="Event and censoring per subject (days from infusion)",
        frame=tte,
        population="safety",
        n=safety_n,
        method="RECIST 1.1 reference §8.1 / FDA 2007 Table A",
    )
    return summary, at_risk, listing, curves
