"""Which plausibility findings a site may answer with a data query instead of being refused."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cartrial.protocol.base import ProtocolModel

__all__ = ["QUERYABLE_RULES", "DataChecks", "QueryableRule"]

QueryableRule = Literal[
    "after-death", "after-withdrawal", "physiological-range", "reference-limits", "lesion-size"
]
#: Plausibility rules a protocol may turn into data queries (the others always refuse: a date in
#: the future, before screening, a duplicate, a local time that does not exist).
QUERYABLE_RULES: tuple[QueryableRule, ...] = QueryableRule.__args__  # type: ignore[attr-defined]


class DataChecks(ProtocolModel):
    """How imports treat implausible data (the rules of ``cartrial.services.plausibility``).

    By default every finding refuses the import. A rule listed in ``query_instead_of_refusal``
    lets the record be stored with a data query on it naming the rule; the site answers the query
    (e.g. a confirmed extreme value) and the monitor closes it.
    """

    query_instead_of_refusal: tuple[QueryableRule, ...] = Field(
        default=(),
        description=(
            "plausibility rules answered by a data query instead of refusing the record: "
            + ", ".join(QUERYABLE_RULES)
        ),
    )
