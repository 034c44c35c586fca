"""The signed dose decisions behind the summary page: end of escalation (MTD), RP2D, expansion.

They come from one table, ``TrialData.governance`` (one row per signed decision; columns
:data:`GOVERNANCE_COLUMNS`). Dose levels are printed by their protocol names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cartrial.analysis import TrialData

__all__ = [
    "GOVERNANCE_COLUMNS",
    "KIND_TITLES",
    "DecisionStatement",
    "dose_statements",
    "governance_records",
    "signature",
]

#: Columns of the governance table (one row per signed decision).
GOVERNANCE_COLUMNS = (
    "kind",
    "dose_level",
    "dose_index",
    "decided_date",
    "rationale",
    "signed_by",
    "signer_name",
    "signed_at",
    "meaning",
)
#: What each kind of decision is called in the report.
KIND_TITLES = {
    "escalation_end": "End of dose escalation (MTD)",
    "rp2d": "Recommended phase 2 dose (RP2D)",
    "expansion_open": "Expansion opened",
    "expansion_review": "Expansion review",
    "expansion_stop": "Expansion stopped",
}


def governance_records(trial: TrialData) -> pd.DataFrame:
    """The signed decisions on or before the data cut-off, oldest first.

    A TrialData built without a governance table is read as having no signed decision (the only
    place the report tolerates its absence).
    """
    frame = getattr(trial, "governance", None)
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GOVERNANCE_COLUMNS})
    decided = pd.to_datetime(frame["decided_date"])
    kept = frame.loc[decided.isna() | (decided <= pd.Timestamp(trial.data_cutoff))].copy()
    kept["decided_date"] = pd.to_datetime(kept["decided_date"])
    kept["signed_at"] = _in_zone(kept["signed_at"], trial.protocol.study.time_zone)
    return kept.sort_values("decided_date", kind="stable").reset_index(drop=True)


def _in_zone(signed_at: pd.Series, time_zone: str) -> pd.Series:
    """Signature times (UTC; a time without a zone is read as UTC) on the clock of the study's
    ``time_zone``, where the report shows them."""
    times = pd.to_datetime(signed_at)
    if times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    return times.dt.tz_convert(time_zone)


@dataclass(frozen=True)
class DecisionStatement:
    """One line of the summary page: what was decided, and the signed record behind it."""

    title: str
    statement: str
    record: str


def signature(row: pd.Series) -> str:
    """``"signed by <name> (<user>) on <when> — “<meaning>”; decided <date>"`` of a record.

    ``<when>`` is the local time of the signature's zone (the study's, :func:`governance_records`)
    with the zone and its UTC offset: ``2025-05-01 18:00 Asia/Shanghai (UTC+08:00)``.
    """
    signed_at = pd.Timestamp(row["signed_at"]) if pd.notna(row["signed_at"]) else None
    when = _local_time(signed_at) if signed_at is not None else "time not recorded"
    meaning = f" — “{row['meaning']}”" if pd.notna(row["meaning"]) and row["meaning"] else ""
    return (
        f"signed by {row['signer_name']} ({row['signed_by']}) on {when}{meaning};"
        f" decided {pd.Timestamp(row['decided_date']):%Y-%m-%d}"
    )


def _local_time(signed_at: pd.Timestamp) -> str:
    if signed_at.tz is None:
        return f"{signed_at:%Y-%m-%d %H:%M}"
    offset = f"{signed_at:%z}"
    return f"{signed_at:%Y-%m-%d %H:%M} {signed_at.tz} (UTC{offset[:3]}:{offset[3:]})"


def _level(row: pd.Series) -> str:
    value = row["dose_level"]
    return str(value) if pd.notna(value) and str(value) else "no dose level"


def dose_statements(
    records: pd.DataFrame, dose_labels: dict[str, str]
) -> tuple[DecisionStatement, ...]:
    """MTD, RP2D and expansion statements, each with its signed record or "not decided".

    Parameters
    ----------
    records
        :func:`governance_records` of the trial.
    dose_labels
        Dose-level name -> printed dose (protocol).
    """

    def latest(kind: str) -> pd.Series | None:
        rows = records.loc[records["kind"] == kind]
        return rows.iloc[-1] if len(rows) else None

    def dose(row: pd.Series) -> str:
        level = _level(row)
        label = dose_labels.get(level)
        return f"{level} ({label} cells)" if label else level

    out = []
    for kind, name, what in (
        ("escalation_end", "Escalation ended; MTD", "end-of-escalation"),
        ("rp2d", "RP2D", "RP2D"),
    ):
        row = latest(kind)
        out.append(
            DecisionStatement(
                KIND_TITLES[kind],
                f"{name}: {dose(row)}. {row['rationale']}"
                if row is not None
                else f"{name.split('; ')[-1]}: not decided — no signed {what} record at the data"
                " cut-off.",
                signature(row) if row is not None else "",
            )
        )
    for kind in ("expansion_open", "expansion_review", "expansion_stop"):
        rows = records.loc[records["kind"] == kind]
        if kind == "expansion_review" and len(rows) > 1:
            # the scheduled reviews are many and alike: one line, the latest one's record
            first, last = rows.iloc[0], rows.iloc[-1]
            out.append(
                DecisionStatement(
                    f"{KIND_TITLES[kind]} ({len(rows)} signed)",
                    f"{dose(last)}: {len(rows)} reviews from {first['decided_date']:%Y-%m-%d}"
                    f" to {last['decided_date']:%Y-%m-%d}; latest: {last['rationale']}",
                    signature(last),
                )
            )
            continue
        for _, row in rows.iterrows():
            out.append(
                DecisionStatement(
                    KIND_TITLES[kind], f"{dose(row)}: {row['rationale']}", signature(row)
                )
            )
    if not (records["kind"] == "expansion_open").any():
        out.append(
            DecisionStatement(
                "Expansion",
                "Expansion: not decided — no signed expansion record at the data cut-off.",
                "",
            )
        )
    stop = latest("expansion_stop")
    opened = latest("expansion_open")
    if opened is not None:
        verdict = (
            f"Expansion go/stop: STOP at {dose(stop)} ({stop['decided_date']:%Y-%m-%d})."
            if stop is not None
            else f"Expansion go/stop: GO — expansion at {dose(opened)} open, no signed stop."
        )
        out.append(DecisionStatement("Expansion decision", verdict, ""))
    return tuple(out)
