"""The hand-written canonical message equals its definition: ``json.dumps`` of the row.

The definition (chain module docstring): previous MAC + ``json.dumps(row without its MAC,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, every value but ``id`` encoded as
text. The fast writer and verifier build that text key by key; the standard library's ``json``
is the independent reference here, over awkward strings (quotes, backslashes, control
characters, non-ASCII, surrogate-free Unicode) drawn by hypothesis.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.store.chain import LOG_COLUMNS, canonical_message, encode_value, iso_utc

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def _reference(row: dict[str, object]) -> bytes:
    payload = {k: encode_value(v) if k != "id" else v for k, v in row.items() if k != "row_sha256"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (str(row["prev_sha256"]) + canonical).encode("utf-8")


@settings(derandomize=True, max_examples=300)
@given(
    rid=st.integers(1, 2**40),
    record_id=st.integers(1, 2**40),
    username=text,
    table=text,
    field=text,
    old=st.none() | text,
    new=st.none() | text,
    reason=st.none() | text,
    micro=st.integers(0, 999_999),
)
def test_canonical_message_is_the_json_definition(
    rid: int,
    record_id: int,
    username: str,
    table: str,
    field: str,
    old: str | None,
    new: str | None,
    reason: str | None,
    micro: int,
) -> None:
    row: dict[str, object] = {
        "id": rid,
        "occurred_at": datetime(2026, 3, 2, 9, 30, 1, micro, tzinfo=UTC),
        "username": username,
        "action": "update",
        "table_name": table,
        "record_id": record_id,
        "field": field,
        "old_value": old,
        "new_value": new,
        "reason": reason,
        "prev_sha256": "ab" * 32,
        "row_sha256": "cd" * 32,
    }
    as_tuple = [row[c] for c in LOG_COLUMNS]
    stored = row["occurred_at"].replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")  # type: ignore[attr-defined]
    as_tuple[1] = iso_utc(stored)  # as SQLite stores and the verifier reads it back
    assert canonical_message(as_tuple) == _reference(row)
