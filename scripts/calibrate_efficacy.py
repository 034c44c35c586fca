"""Expected efficacy of the demo's virtual population at each dose level vs the published CT041.

Run: ``python scripts/calibrate_efficacy.py [--referred N] [--seed S] [--protocol FILE]
[--params FILE]`` (``--params``: a virtual-patient parameter file instead of the packaged one).

For each dose level of the protocol, ``N`` referred virtual patients are screened with the
protocol's criteria, the eligible ones treated at the level's cells and followed on the protocol's
tumour schedule; the project's RECIST 1.1 engine derives their responses
(:mod:`cartrial.demo.calibration`). The table gives the expected ORR (confirmed, as the protocol
requires; and unconfirmed), DCR, the gastric/GEJ subgroup, Kaplan-Meier PFS and OS, and the CRS and
ICANS rates (which the tumour and survival parameters do not touch), with the published
first-in-human CLDN18.2 CAR-T results (Qi et al., Nat Med 2022) as the last row. The table in
``docs/demo.md`` is this script's output with the defaults.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from cartrial.demo.calibration import PUBLISHED, expected_efficacy, simulate_efficacy
from cartrial.protocol import load_protocol
from cartrial.virtual import load_params


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _markdown(table: pd.DataFrame) -> str:
    """``table`` as a GitHub-flavoured Markdown table (text as given)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referred", type=int, default=20000, help="referred patients per dose")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--protocol", type=Path, default=None, help="protocol file (packaged)")
    parser.add_argument("--params", type=Path, default=None, help="parameter file (packaged)")
    args = parser.parse_args()
    protocol = load_protocol(args.protocol)
    params = load_params(args.params)
    rows = []
    start = time.process_time()
    for level in protocol.dose_levels:
        frame = simulate_efficacy(protocol, level.name, args.referred, args.seed, params)
        e = expected_efficacy(frame)
        rows.append(
            {
                "dose": f"{level.name} ({level.label})",
                "n": e.n,
                "ORR %": _pct(e.orr),
                "ORR unconf. %": _pct(e.orr_unconfirmed),
                "DCR %": _pct(e.dcr),
                "GC/GEJ ORR %": _pct(e.orr_gastric),
                "GC/GEJ DCR %": _pct(e.dcr_gastric),
                "mPFS mo": f"{e.pfs_median_months:.2f}",
                "PFS at 3.7 mo %": _pct(e.pfs_at_published_median),
                "mOS mo": f"{e.os_median_months:.2f}",
                "OS 6 mo %": _pct(e.os_6m),
                "GC/GEJ OS 6 mo %": _pct(e.os_6m_gastric),
                "CRS %": _pct(float((frame["crs_max_grade"] >= 1).mean())),
                "CRS >=3 %": _pct(float((frame["crs_max_grade"] >= 3).mean())),
                "ICANS %": _pct(float((frame["icans_max_grade"] >= 1).mean())),
            }
        )
    p = PUBLISHED
    rows.append(
        {
            "dose": "Qi 2022 (CT041)",
            "n": 37,
            "ORR %": _pct(p.orr),
            "ORR unconf. %": "",
            "DCR %": _pct(p.dcr),
            "GC/GEJ ORR %": _pct(p.orr_gastric),
            "GC/GEJ DCR %": _pct(p.dcr_gastric),
            "mPFS mo": f"{p.pfs_median_months:.2f}",
            "PFS at 3.7 mo %": "50.0",
            "mOS mo": "",
            "OS 6 mo %": "",
            "GC/GEJ OS 6 mo %": _pct(p.os_6m_gastric),
            "CRS %": "94.6",
            "CRS >=3 %": "0.0",
            "ICANS %": "0.0",
        }
    )
    table = pd.DataFrame(rows)
    print(_markdown(table))
    print(
        f"\n{args.referred} referred patients per dose level, seed {args.seed}; "
        f"{time.process_time() - start:.1f} s CPU. Source: {p.source}."
    )


if __name__ == "__main__":
    main()
