"""CTCAE v5.0 term search for the AE form (an htmx fragment under the term field).

The fragment lists the matching terms (also as the field's ``<datalist>``, so that picking one
fills the field without any script) and, once the field holds a catalogue term, replaces the
grade definitions shown under it (an htmx out-of-band swap of ``#term-grades``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cartrial.rules.ctcae import catalogue
from cartrial.web.deps import PageContext
from cartrial.web.live_forms import term_grades
from cartrial.web.pages import render

__all__ = ["MAX_MATCHES", "router"]

router = APIRouter()

#: Most terms listed under the field.
MAX_MATCHES = 15


@router.get("/terms/ctcae")
def ctcae_terms(request: Request, ctx: PageContext, term: str = "") -> Response:
    """CTCAE terms containing ``term`` (case-insensitive), with their SOC and allowed grades."""
    text = term.strip().lower()
    matches: list[dict[str, object]] = []
    if len(text) >= 2:
        table = catalogue()
        found = table[table["term"].str.lower().str.contains(text, regex=False)]
        starts = found["term"].str.lower().str.startswith(text)
        ordered = found.assign(_starts=~starts).sort_values(["_starts", "term"])
        matches = [
            {"term": r["term"], "soc": r["soc"], "grades": ", ".join(map(str, r["grades"]))}
            for r in ordered.head(MAX_MATCHES).to_dict("records")
        ]
    context = {"matches": matches, "query": term, "exact": term_grades(term) if text else None}
    return render(request, "ctcae_terms.html", context, user=ctx.user)
