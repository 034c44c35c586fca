"""Benchmark RECIST 1.1 evaluation: 100,000 subjects x 8 post-baseline time points on one core.

Run: ``taskset -c 0 .venv/bin/python benchmarks/bench_recist.py [--subjects N] [--loop-subjects M]``

The synthetic lesion table has, per subject, a baseline and 8 follow-up assessments 42 days apart,
3 target lesions (one a lymph node in a third of subjects), 2 non-target lesions and occasional new
lesions, with NE, too-small, disappeared and unequivocal-progression statuses sprinkled in.

Reference: :func:`loop_reference`, a plain per-subject, per-time-point Python implementation of the
same RECIST 1.1 rules written independently of the engine (it also serves as the oracle of the
differential property test in ``tests/rules/test_recist_properties.py``). It is timed on
``--loop-subjects`` subjects and scaled to the full count; the script also checks that both
implementations give the same time-point and best overall responses on those subjects.
The vectorised engine must finish the full table in < 10 s.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from cartrial.rules import recist

N_FOLLOW_UP = 8
N_TARGETS = 3
N_NONTARGETS = 2


def synthetic_lesions(n_subjects: int, seed: int = 20261126) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build a lesion table and reference dates for ``n_subjects`` (vectorised, reproducible)."""
    rng = np.random.default_rng(seed)
    n_tp = N_FOLLOW_UP + 1
    subjects = np.array([f"S{i:06d}" for i in range(n_subjects)], dtype=object)
    infusion = np.datetime64("2026-01-01") + rng.integers(0, 365, n_subjects)
    days = np.concatenate(([-7], 42 * np.arange(1, n_tp)))
    dates = infusion[:, None] + days[None, :]  # (subjects, time points)

    # targets: baseline 15-60 mm, multiplicative trend per subject plus noise
    base = rng.uniform(15, 60, (n_subjects, N_TARGETS))
    trend = rng.normal(-0.05, 0.12, (n_subjects, 1, 1))
    steps = np.exp(trend + rng.normal(0, 0.08, (n_subjects, n_tp, N_TARGETS)))
    steps[:, 0, :] = 1.0
    size = np.round(base[:, None, :] * np.cumprod(steps, axis=1), 1)
    status = np.full(size.shape, "present", dtype=object)
    status[size < 5] = "too_small"
    gone = (rng.random(size.shape) < 0.01) & (np.arange(n_tp)[None, :, None] > 0)
    status[gone] = "absent"
    not_evaluated = (rng.random(size.shape) < 0.01) & (np.arange(n_tp)[None, :, None] > 0)
    status[not_evaluated] = "NE"
    diameter = np.where(status == "present", size, np.nan)
    is_node = np.zeros((n_subjects, N_TARGETS), dtype=bool)
    is_node[:, 2] = rng.random(n_subjects) < 0.33
    base_nodes = is_node[:, None, :] & (np.arange(n_tp)[None, :, None] == 0)
    diameter = np.where(base_nodes, np.maximum(diameter, 15.0), diameter)
    organs = np.array(["liver", "lung", "adrenal"], dtype=object)
    organ = np.where(is_node, "lymph node", organs[None, :])
    targets = pd.DataFrame(
        {
            "subject_id": np.repeat(subjects, n_tp * N_TARGETS),
            "assessment_date": np.repeat(dates.ravel(), N_TARGETS),
            "lesion_id": np.tile(np.array(["T1", "T2", "T3"], dtype=object), n_subjects * n_tp),
            "category": "target",
            "organ": np.broadcast_to(organ[:, None, :], size.shape).ravel(),
            "is_lymph_node": np.broadcast_to(is_node[:, None, :], size.shape).ravel(),
            "diameter_mm": diameter.ravel(),
            "status": status.ravel(),
        }
    )
    nt_status = rng.choice(
        np.array(["present", "absent", "NE", "unequivocal_progression"], dtype=object),
        size=(n_subjects, n_tp, N_NONTARGETS),
        p=[0.9, 0.07, 0.02, 0.01],
    )
    nt_status[:, 0, :] = "present"
    nontargets = pd.DataFrame(
        {
            "subject_id": np.repeat(subjects, n_tp * N_NONTARGETS),
            "assessment_date": np.repeat(dates.ravel(), N_NONTARGETS),
            "lesion_id": np.tile(np.array(["N1", "N2"], dtype=object), n_subjects * n_tp),
            "category": "non_target",
            "organ": "peritoneum",
            "is_lymph_node": False,
            "diameter_mm": np.nan,
            "status": nt_status.ravel(),
        }
    )
    new_at = np.argwhere(rng.random((n_subjects, n_tp - 1)) < 0.03)
    new = pd.DataFrame(
        {
            "subject_id": subjects[new_at[:, 0]],
            "assessment_date": dates[new_at[:, 0], new_at[:, 1] + 1],
            "lesion_id": [f"L{j}" for j in new_at[:, 1]],
            "category": "new",
            "organ": "liver",
            "is_lymph_node": False,
            "diameter_mm": 8.0,
            "status": rng.choice(np.array(["equivocal", "unequivocal"], dtype=object), len(new_at)),
        }
    )
    lesions = pd.concat([targets, nontargets, new], ignore_index=True)
    lesions["assessment_date"] = pd.to_datetime(lesions["assessment_date"])
    references = pd.DataFrame({"subject_id": subjects, "reference_date": infusion})
    return lesions, references


def _overall(target: str, nontarget: str, new: bool) -> str:
    """RECIST 1.1 Table 1 (targets) / Table 2 (target "NOT-APPLICABLE")."""
    if target == "PD" or nontarget == "PD" or new:
        return "PD"
    if target == "NOT-APPLICABLE":
        return nontarget
    if target == "CR":
        return "CR" if nontarget in ("CR", "NOT-APPLICABLE") else "PR"
    return target  # PR, SD or NE: non-target non-PD or not evaluated does not change it


def _best(
    timepoints: list[dict[str, object]],
    has_targets: bool,
    confirm: bool,
    sd_min_days: int,
    confirm_min_days: int,
    allow_ne_between: bool,
) -> dict[str, object]:
    """Best overall response of one subject from its time points (dates as days)."""
    window: list[dict[str, object]] = []
    for tp in timepoints:
        window.append(tp)
        if tp["overall_response"] == "PD":
            break
    progression = window[-1]["day"] if window and window[-1]["overall_response"] == "PD" else None

    def confirmed(first_ok: tuple[str, ...]) -> object:
        allowed = first_ok + (("NE",) if allow_ne_between else ())
        for i, tp in enumerate(window):
            if tp["overall_response"] not in first_ok:
                continue
            for later in window[i + 1 :]:
                if later["overall_response"] not in allowed:
                    break
                if (
                    later["overall_response"] in first_ok
                    and int(later["day"]) - int(tp["day"]) >= confirm_min_days  # type: ignore[call-overload]
                ):
                    return tp["day"]
        return None

    cr_day, pr_day = confirmed(("CR",)), confirmed(("CR", "PR"))
    sd_ok = [
        tp
        for tp in window
        if tp["overall_response"] in ("CR", "PR", "SD", "NON-CR/NON-PD")
        and int(tp["study_day"]) >= sd_min_days  # type: ignore[call-overload]
    ]
    responses = [tp for tp in window if tp["overall_response"] in ("CR", "PR")]
    first_response = None
    if confirm:
        if cr_day is not None:
            best = "CR"
        elif pr_day is not None:
            best = "PR"
        elif sd_ok:
            best = "SD" if has_targets else "NON-CR/NON-PD"
        else:
            best = "PD" if progression is not None else "NE"
        first_response = pr_day if best in ("CR", "PR") else None
    else:
        order = ("CR", "PR", "SD", "NON-CR/NON-PD")
        candidates = [str(tp["overall_response"]) for tp in responses + sd_ok]
        if candidates:
            best = min(candidates, key=order.index)
            first_response = responses[0]["day"] if best in ("CR", "PR") else None
        else:
            best = "PD" if progression is not None else "NE"
    return {
        "best_overall_response": best,
        "confirmed": (best == "CR" and cr_day is not None) or (best == "PR" and pr_day is not None),
        "first_response_day": first_response,
        "progression_day": progression,
    }


def loop_reference(
    lesions: pd.DataFrame,
    reference_dates: dict[str, pd.Timestamp],
    *,
    confirm: bool = True,
    sd_min_days: int = 42,
    confirm_min_days: int = 28,
    allow_ne_between: bool = True,
) -> tuple[list[dict[str, object]], dict[str, dict[str, object]]]:
    """RECIST 1.1 with plain loops over subjects and time points (input assumed valid).

    Returns the post-baseline time points (subject_id, day as days since 1970-01-01, study_day,
    target/non-target/overall response, new_lesions) and, per subject, the best response with
    days of first response and progression.
    """
    all_timepoints: list[dict[str, object]] = []
    best: dict[str, dict[str, object]] = {}
    frame = lesions.assign(
        day=pd.to_datetime(lesions["assessment_date"])
        .to_numpy()
        .astype("datetime64[D]")
        .astype(int)
    )
    for subject, rows in frame.groupby("subject_id", sort=True):
        by_date: dict[int, dict[str, dict[str, object]]] = {}
        for row in rows.to_dict("records"):
            by_date.setdefault(int(row["day"]), {})[str(row["lesion_id"])] = row
        days = sorted(by_date)
        baseline = by_date[days[0]]
        targets = {k: r for k, r in baseline.items() if r["category"] == "target"}
        nontargets = [k for k, r in baseline.items() if r["category"] == "non_target"]
        confirmed_new: dict[str, int] = {}
        for day in days:
            for key, row in by_date[day].items():
                if row["category"] == "new" and row["status"] == "unequivocal":
                    confirmed_new.setdefault(key, day)
        reference = int(np.datetime64(pd.Timestamp(reference_dates[str(subject)]), "D").astype(int))
        base_sum = sum(round(float(r["diameter_mm"]) * 10) for r in targets.values())
        nadir, last_target_cr = base_sum, False
        timepoints = []
        for day in days[1:]:
            rows_now = by_date[day]
            values: dict[str, int | None] = {}
            for key in targets:
                row = rows_now.get(key)
                status = None if row is None else row["status"]
                if status in (None, "NE"):
                    values[key] = None
                elif status == "too_small":
                    values[key] = 50
                elif status == "absent":
                    values[key] = 0
                else:
                    values[key] = round(float(row["diameter_mm"]) * 10)  # type: ignore[index]
            measured = sum(v for v in values.values() if v is not None)
            complete = all(v is not None for v in values.values())
            non_nodal_left = any(v and not targets[k]["is_lymph_node"] for k, v in values.items())
            nodes_left = any(
                v is not None and v >= 100 and targets[k]["is_lymph_node"]
                for k, v in values.items()
            )
            if not targets:
                target = "NOT-APPLICABLE"
            else:
                if measured * 100 >= nadir * 120 and measured - nadir >= 50:
                    base_response = "PD"
                elif not complete:
                    base_response = "NE"
                elif not non_nodal_left and not nodes_left:
                    base_response = "CR"
                elif measured * 100 <= base_sum * 70:
                    base_response = "PR"
                else:
                    base_response = "SD"
                target = "PD" if last_target_cr and non_nodal_left else base_response
                if base_response != "NE":
                    last_target_cr = base_response == "CR"
                if complete:
                    nadir = min(nadir, measured)
            statuses = [rows_now[k]["status"] if k in rows_now else "NE" for k in nontargets]
            if not nontargets:
                nontarget = "NOT-APPLICABLE"
            elif "unequivocal_progression" in statuses:
                nontarget = "PD"
            elif "NE" in statuses:
                nontarget = "NE"
            elif all(
                s == "absent"
                or (
                    rows_now[k]["is_lymph_node"]
                    and not pd.isna(rows_now[k]["diameter_mm"])
                    and float(rows_now[k]["diameter_mm"]) < 10
                )
                for k, s in zip(nontargets, statuses, strict=True)
            ):
                nontarget = "CR"
            else:
                nontarget = "NON-CR/NON-PD"
            new = False
            for key, row in rows_now.items():
                if row["category"] != "new":
                    continue
                # unequivocal now, or equivocal now and confirmed at a later assessment
                later = confirmed_new.get(key, day) > day
                new = new or row["status"] == "unequivocal" or later
            timepoints.append(
                {
                    "subject_id": str(subject),
                    "day": day,
                    "study_day": day - reference,
                    "target_response": target,
                    "nontarget_response": nontarget,
                    "new_lesions": new,
                    "overall_response": _overall(target, nontarget, new),
                }
            )
        all_timepoints.extend(timepoints)
        best[str(subject)] = _best(
            timepoints, bool(targets), confirm, sd_min_days, confirm_min_days, allow_ne_between
        )
    return all_timepoints, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--loop-subjects", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the vectorised engine")
    args = parser.parse_args()

    lesions, references = synthetic_lesions(args.subjects)
    timings, cpu_timings = [], []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = recist.evaluate(
            lesions, references, confirm=True, sd_min_days=42, confirm_min_days=28
        )
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.process_time() - cpu_start)
    vectorised = min(timings)

    sample_ids = references["subject_id"].iloc[: args.loop_subjects]
    sample = lesions[lesions["subject_id"].isin(sample_ids)]
    reference_of = dict(zip(references["subject_id"], references["reference_date"], strict=True))
    start, cpu_start = time.perf_counter(), time.process_time()
    loop_timepoints, loop_best = loop_reference(sample, reference_of)
    loop_seconds = time.perf_counter() - start
    loop_cpu_full = (time.process_time() - cpu_start) / len(sample_ids) * args.subjects
    loop_full = loop_seconds / len(sample_ids) * args.subjects
    engine_best = result.best.set_index("subject_id")["best_overall_response"]
    engine_tps = result.timepoints[result.timepoints["subject_id"].isin(sample_ids)]
    agree = (
        all(loop_best[sid]["best_overall_response"] == engine_best[sid] for sid in sample_ids)
        and [tp["overall_response"] for tp in loop_timepoints]
        == engine_tps["overall_response"].tolist()
    )

    print(f"RECIST 1.1: {args.subjects:,} subjects x {N_FOLLOW_UP} follow-up time points")
    print(f"{'lesion rows':<38}{len(lesions):>14,}")
    print(f"{'time points evaluated':<38}{len(result.timepoints):>14,}")
    print(f"{'vectorised evaluate, best run (s)':<38}{vectorised:>14.2f}")
    print(f"{'vectorised evaluate, worst run (s)':<38}{max(timings):>14.2f}")
    print(f"{'vectorised evaluate, best CPU time (s)':<38}{min(cpu_timings):>14.2f}")
    print(f"{'per-subject loop, scaled (s)':<38}{loop_full:>14.1f}")
    print(f"{'  measured on subjects':<38}{args.loop_subjects:>14,}")
    print(f"{'per-subject loop, scaled CPU time (s)':<38}{loop_cpu_full:>14.1f}")
    print(f"{'speed-up (loop / vectorised), wall':<38}{loop_full / vectorised:>14.0f}x")
    print(f"{'speed-up (loop / vectorised), CPU':<38}{loop_cpu_full / min(cpu_timings):>14.0f}x")
    print(f"{'loop and vectorised responses agree':<38}{'yes' if agree else 'NO':>14}")
    counts = result.best["best_overall_response"].value_counts().to_dict()
    print("BOR counts:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
