"""Every parameter of a design as printed values, for simulation results and protocol appendices.

A statistician must be able to re-run an operating-characteristics table from its printout, so each
result echoes the design it simulated: every constructor parameter (defaults included) plus what
the design derives from them (BOIN's ``lambda_e``/``lambda_d``, the CRM skeleton in use, the
maximum sample size).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cartrial.designs.base import Design
from cartrial.designs.boin import BOIN
from cartrial.designs.crm import CRM
from cartrial.designs.table import DecisionTableDesign

__all__ = ["design_parameters"]


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


def design_parameters(design: Design) -> dict[str, str]:
    """The design's parameters and derived quantities, in constructor order, as text.

    Doses are 0-based here only where the design itself stores a position (``start``,
    ``prior_mtd``); callers that know the protocol's dose names show those instead.

    Examples
    --------
    >>> from cartrial.designs import BOIN
    >>> p = design_parameters(BOIN(target=0.3, n_doses=5))
    >>> p["target"], p["lambda_e"], p["lambda_d"], p["max_patients"]
    ('0.3', '0.2365', '0.3585', '30')
    """
    values: dict[str, str] = {}
    if dataclasses.is_dataclass(design):
        for item in dataclasses.fields(design):
            value = getattr(design, item.name)
            if isinstance(design, DecisionTableDesign) and item.name == "table":
                assert isinstance(value, Mapping)
                value = "; ".join(f"n={n}: {_text(tuple(row))}" for n, row in value.items())
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
