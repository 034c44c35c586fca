"""Subject disposition: screened → eligible → enrolled → lymphodepleted → infused → evaluable →
discontinued, with the reasons, as of the data cut-off.

One pure function, :func:`disposition`, feeds both the disposition table and the flow diagram of
the report, so the two can never disagree.

Definitions (each counted on or before the data cut-off):

* *screened*: subjects with a screening record; *not eligible*: screening outcome other than
  eligible, by the failed criteria (a subject failing several criteria counts under each);
  the screening log is optional (:class:`TrialData` holds enrolled subjects only);
* *enrolled*, *lymphodepleted* (first lymphodepletion dose recorded), *infused* (CAR-T infusion),
  *DLT-evaluable*, *efficacy-evaluable*: the analysis populations of
  :mod:`cartrial.analysis.populations`;
* *discontinued*: died, or withdrew from the study (withdrawal date), by reason (cause of death;
  "withdrew consent / withdrawn"); *in follow-up*: enrolled and neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.populations import population
from cartrial.errors import AnalysisError

__all__ = ["SCREENING_COLUMNS", "Disposition", "disposition"]

#: Columns of the optional screening log: one row per screened subject.
SCREENING_COLUMNS = ("subject_id", "outcome", "reasons")


@dataclass(frozen=True)
class Disposition:
    """Subject counts at each step and the reasons for leaving.

    Attributes
    ----------
    screened, not_eligible
        From the screening log (None when no log was given).
    not_eligible_reasons
        Failed criterion -> subjects (a subject may fail several).
    enrolled, lymphodepleted, infused, dlt_evaluable, efficacy_evaluable
        Subject identifiers at each step (sets).
    not_infused
        Enrolled subjects without an infusion.
    discontinued
        Subject -> reason (``"death: <cause>"`` or ``"withdrawn"``).
    """

    screened: int | None
    not_eligible: int | None
    not_eligible_reasons: dict[str, int]
    enrolled: frozenset[str]
    lymphodepleted: frozenset[str]
    infused: frozenset[str]
    dlt_evaluable: frozenset[str]
    efficacy_evaluable: frozenset[str]
    not_infused: frozenset[str]
    discontinued: dict[str, str]

    @property
    def in_follow_up(self) -> frozenset[str]:
        """Enrolled subjects neither dead nor withdrawn at the cut-off."""
        return self.enrolled - frozenset(self.discontinued)

    def discontinuation_reasons(self) -> dict[str, int]:
        """Reason -> number of subjects, most frequent first."""
        counts = pd.Series(list(self.discontinued.values()), dtype=object).value_counts()
        return {str(reason): int(n) for reason, n in counts.items()}


def disposition(trial: TrialData, screening: pd.DataFrame | None = None) -> Disposition:
    """Count subjects at each step of the trial (module docstring for the definitions).

    Parameters
    ----------
    screening
        Optional screening log with :data:`SCREENING_COLUMNS` (``outcome`` "eligible" or a
        failure; ``reasons`` the failed criteria, comma-separated).
    """
    cutoff = trial.data_cutoff
    enrolled = population(trial, "enrolled")
    ids = frozenset(enrolled["subject_id"])
    ld = enrolled["lymphodepletion_date"].notna() & (enrolled["lymphodepletion_date"] <= cutoff)
    infused = frozenset(population(trial, "safety")["subject_id"])
    died = enrolled["death_date"].notna() & (enrolled["death_date"] <= cutoff)
    withdrawn = enrolled["withdrawn_date"].notna() & (enrolled["withdrawn_date"] <= cutoff)
    cause = enrolled["death_cause"].fillna("").astype(str).str.strip()
    cause = cause.where(cause != "", "cause not recorded")
    reason = pd.Series("death: " + cause, index=enrolled.index).where(died)
    reason = reason.fillna(
        pd.Series("withdrawn from the study", index=enrolled.index).where(withdrawn)
    )
    left = reason.notna()
    discontinued = dict(
        zip(enrolled.loc[left, "subject_id"].astype(str), reason[left].astype(str), strict=True)
    )
    screened = not_eligible = None
    reasons: dict[str, int] = {}
    if screening is not None:
        missing = [c for c in SCREENING_COLUMNS if c not in screening.columns]
        if missing:
            raise AnalysisError(f"screening log: missing column(s) {', '.join(missing)}")
        screened = int(screening["subject_id"].nunique())
        failed = screening.loc[screening["outcome"].astype(str) != "eligible"]
        not_eligible = int(failed["subject_id"].nunique())
        for text in failed["reasons"].fillna("").astype(str):
            for criterion in (r.strip() for r in text.split(",")):
                if criterion:
                    reasons[criterion] = reasons.get(criterion, 0) + 1
        reasons = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return Disposition(
        screened=screened,
        not_eligible=not_eligible,
        not_eligible_reasons=reasons,
        enrolled=ids,
        lymphodepleted=frozenset(enrolled.loc[ld, "subject_id"]),
        infused=infused,
        dlt_evaluable=frozenset(population(trial, "dlt_evaluable")["subject_id"]),
        efficacy_evaluable=frozenset(population(trial, "efficacy_evaluable")["subject_id"]),
        not_infused=ids - infused,
        discontinued=discontinued,
    )
