"""Every parameter of a design as printed values, for simulation results and protocol appendices.

A statistician must be able to re-run an operating-characteristics table from its printout, so each
result echoes the design it simulated: every constructor parameter (defaults included) plus what
the design derives from them (BOIN's ``lambda_e``/``lambda_d``, the CRM skeleton in use, the
maximum sample size).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from cartrial.designs.base import Design
from cartrial.designs.boin import BOIN
from cartrial.designs.crm import CRM
from cartrial.designs.table import DecisionTableDesign

__all__ = [
    "DESIGN_REFERENCES",
    "POSITION_PARAMETERS",
    "default_dose_labels",
    "design_parameters",
]

DESIGN_REFERENCES: dict[str, str] = {
    "3+3": "the traditional 3+3 design (Storer 1989, Biometrics 45:925)",
    "boin": "the Bayesian optimal interval (BOIN) design (Liu & Yuan 2015, J R Stat Soc C "
    "64:507; Yuan, Hess, Hilsenbeck & Gilbert 2016, Clin Cancer Res 22:4291)",
    "tite-boin": "the time-to-event Bayesian optimal interval (TITE-BOIN) design (Yuan, Lin, Li, "
    "Nie & Warren 2018, Clin Cancer Res 24:4921; Lin & Yuan 2020, Biostatistics 21:807)",
    "crm": "the continual reassessment method (CRM; O'Quigley, Pepe & Fisher 1990, Biometrics "
    "46:33) with a one-parameter model and normal prior as in the R package dfcrm (Cheung 2011)",
    "tite-crm": "the time-to-event continual reassessment method (TITE-CRM; Cheung & Chappell "
    "2000, Biometrics 56:1177) as in the R package dfcrm (Cheung 2011)",
    "mtpi2": "the modified toxicity probability interval-2 (mTPI-2) design (Guo, Wang, Ji, Ji, "
    "Lin & Yuan 2017, Contemp Clin Trials 58:23)",
    "keyboard": "the Keyboard design (Yan, Mandrekar & Yuan 2017, Clin Cancer Res 23:3994)",
    "i3+3": "the i3+3 design (Liu, Wang & Ji 2020, Stat Biopharm Res 12:185)",
    "table": "the decision table specified in the protocol",
}
"""How a protocol appendix names each design (protocol design name -> words and references)."""

POSITION_PARAMETERS = ("start", "prior_mtd")
"""Parameters that hold a 0-based dose position; printed as the dose level's name."""


def default_dose_labels(n_doses: int) -> tuple[str, ...]:
    """``DL1 ... DLk``: the names shown when only a truth vector is given (no protocol)."""
    return tuple(f"DL{k}" for k in range(1, n_doses + 1))


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def design_parameters(design: Design, dose_labels: Sequence[str] | None = None) -> dict[str, str]:
    """The design's parameters and derived quantities, in constructor order, as text.

    Dose positions (``start``, ``prior_mtd``) are printed as the dose level's name from
    ``dose_labels`` (the protocol's names; default ``DL1 ... DLk``).

    Examples
    --------
    >>> from cartrial.designs import BOIN
    >>> p = design_parameters(BOIN(target=0.3, n_doses=5))
    >>> p["target"], p["lambda_e"], p["lambda_d"], p["max_patients"]
    ('0.3', '0.2365', '0.3585', '30')
    """
    labels = default_dose_labels(design.n_doses) if dose_labels is None else tuple(dose_labels)
    values: dict[str, str] = {}
    if dataclasses.is_dataclass(design):
        for item in dataclasses.fields(design):
            value = getattr(design, item.name)
            if isinstance(design, DecisionTableDesign) and item.name == "table":
                assert isinstance(value, Mapping)
                value = "; ".join(f"n={n}: {_text(tuple(row))}" for n, row in value.items())
            if item.name in POSITION_PARAMETERS and isinstance(value, int):
                value = labels[value]
            values[item.name] = _text(value)
    values["cohort_size"] = _text(design.cohort_size)
    values["max_patients"] = _text(design.max_patients)
    if isinstance(design, BOIN):
        lambda_e, lambda_d = design.lambdas()
        values["p_saf"], values["p_tox"] = (f"{v:g}" for v in design.interval())
        values["lambda_e"] = f"{lambda_e:.4f}"
        values["lambda_d"] = f"{lambda_d:.4f}"
    if isinstance(design, CRM):
        values["skeleton"] = ", ".join(f"{a:.4f}" for a in design.prior_skeleton())
    return values
