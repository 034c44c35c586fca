"""SDTM PP (Pharmacokinetics Parameters, SDTMIG v3.4) from cartrial's NCA.

One record per NCA parameter per analyte profile per subject: the parameters of
:func:`cartrial.analysis.kinetics.nca` (the report's kinetics table, so the values are the
report's), named by the CDISC terms of ``data/cdisc/pk_parameters.csv`` (codelists PKPARMCD and
PKPARM). Mapping choices (each also in the variable's derivation, hence in Define-XML):

* ``PPCAT`` is the analyte's ``PCTEST`` and ``PPGRPID`` its ``PCTESTCD``: the PC samples of the
  profile carry the same ``PCGRPID`` (taken on or after the infusion), and RELREC relates the
  two groups per subject (SDTMIG v3.4's PP section, relating PP records to PC records by group IDs);
* the time scale is days after the CAR-T infusion: ``PPTPTREF`` CAR-T INFUSION, ``PPRFTDTC``
  its date (DM.RFSTDTC); an interval AUC (AUCINT, days 0-28) has ``PPSTINT``/``PPENINT`` as ISO
  8601 durations from it;
* a parameter the NCA could not compute is a record with ``PPSTAT`` NOT DONE and ``PPREASND``
  (every sample below the LLOQ, or not sampled through the end of the interval), not a gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData, analysis_settings
from cartrial.analysis.kinetics import nca
from cartrial.exchange.common import conform, identifiers, iso_date, number_text, sequence
from cartrial.exchange.metadata import dataset_spec, pk_parameters
from cartrial.exchange.sdtm_findings import KINETICS_TESTS

__all__ = ["build_pp", "pp_unit"]

#: PPTPTREF of every record: the reference of the NCA time scale.
TIME_REFERENCE = "CAR-T INFUSION"
_NO_SAMPLE = "NO QUANTIFIABLE SAMPLE"
_SHORT = "NOT SAMPLED THROUGH THE END OF THE INTERVAL"


def pp_unit(kind: str, assay_units: pd.Series) -> pd.Series:
    """A parameter's unit from the analyte's assay unit: ``level`` the unit itself, ``day``
    days, ``auc`` day times the unit (time first, as CDISC's PKUNIT terms ``h*ng/mL``)."""
    if kind == "day":
        return pd.Series("day", index=assay_units.index, dtype=object)
    if kind == "auc":
        return "day*" + assay_units.astype(str)
    return assay_units.astype(object)


def build_pp(trial: TrialData) -> pd.DataFrame:
    """PP: every NCA parameter of every subject's profile of each analyte (module docstring)."""
    profiles = nca(trial, analysis_settings(trial.protocol)).reset_index(drop=True)
    analyte = profiles["unit"].map({u: code for u, (code, _) in KINETICS_TESTS.items()})
    name = profiles["unit"].map({u: test for u, (_, test) in KINETICS_TESTS.items()})
    infusion = trial.subjects.set_index("subject_id")["infusion_date"]
    parts = []
    for order, (column, parameter) in enumerate(pk_parameters().items()):
        value = profiles[column].astype(float)
        missing = value.isna()
        reason = np.where(profiles["n_quantifiable"] == 0, _NO_SAMPLE, _SHORT)
        unit = pp_unit(parameter.unit, profiles["unit"])
        parts.append(
            pd.DataFrame(
                {
                    "subject_id": profiles["subject_id"],
                    "_order": order,
                    "PPGRPID": analyte,
                    "PPTESTCD": parameter.pptestcd,
                    "PPTEST": parameter.pptest,
                    "PPCAT": name,
                    "PPORRES": number_text(value),
                    "PPORRESU": unit.where(~missing),
                    "PPSTRESN": value,
                    "PPSTAT": pd.Series("NOT DONE", index=value.index).where(missing),
                    "PPREASND": pd.Series(reason, index=value.index).where(missing),
                    "PPSTINT": parameter.stint or None,
                    "PPENINT": parameter.enint or None,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    out = identifiers(trial, "PP", frame)
    for column in ("PPGRPID", "PPTESTCD", "PPTEST", "PPCAT", "PPORRES", "PPORRESU",
                   "PPSTRESN", "PPSTAT", "PPREASND", "PPSTINT", "PPENINT"):  # fmt: skip
        out[column] = frame[column]
    out["PPSCAT"] = "NON-COMPARTMENTAL"
    out["PPSTRESC"] = out["PPORRES"]
    out["PPSTRESU"] = out["PPORRESU"]
    out["PPSPEC"] = "BLOOD"
    out["PPTPTREF"] = TIME_REFERENCE
    out["PPRFTDTC"] = iso_date(frame["subject_id"].map(infusion))
    out["PPSEQ"] = sequence(out.assign(_o=frame["_order"]), ["PPGRPID", "_o"])
    return conform(out, dataset_spec("PP"))
