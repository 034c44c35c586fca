"""Checkpoints: the chain's head written OUTSIDE the database, to catch a cut or rewritten trail.

A checkpoint is a small JSON file ``checkpoint-<sequence>-<UTC time>.json`` holding the sequence
number (the last audit row's id), that row's MAC, the time (UTC) and the public id of the audit
key; with the key available it also carries its own HMAC (``mac``), so that a forged checkpoint is
refused. Whoever rewrites or truncates the trail inside the database cannot reach the copies
held elsewhere: :class:`CheckpointCheck` finds a trail shorter than a checkpoint (truncation) or
whose row at a checkpoint's sequence carries another MAC (rewriting before it), with or without
the key.

``cartrial audit checkpoint --out DIR`` writes one; data locks and backups write one
automatically to :func:`cartrial.store.keys.checkpoint_dir`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine, select

from cartrial.errors import AuditIntegrityError
from cartrial.store.base import utcnow
from cartrial.store.keys import AUDIT_KEY_OPTION, checkpoint_dir, key_id
from cartrial.store.models import AuditChainHead

__all__ = ["Checkpoint", "CheckpointCheck", "checkpoint_engine", "write_checkpoint"]


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment: ``sequence`` (last audit id), its ``mac``, time, key id."""

    sequence: int
    head_mac: str
    written_at: str
    key_id: str | None
    path: Path | None = None

    def body(self) -> dict[str, object]:
        """The signed content (everything but the file's own MAC)."""
        return {
            "sequence": self.sequence,
            "head_mac": self.head_mac,
            "written_at": self.written_at,
            "key_id": self.key_id,
        }


def _seal(body: dict[str, object], key: bytes) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def write_checkpoint(connection: Connection, out_dir: Path, key: bytes | None) -> Path:
    """Write the current chain head of ``connection``'s database to a new file in ``out_dir``.

    Returns
    -------
    pathlib.Path
        The checkpoint file (``checkpoint-<sequence>-<time>.json``).
    """
    head_table = AuditChainHead.__table__
    head = connection.execute(
        select(head_table.c.last_id, head_table.c.last_sha256).where(head_table.c.id == 1)
    ).one_or_none()
    if head is None:
        raise AuditIntegrityError("audit_chain_head row is missing: run `cartrial db upgrade`")
    now = utcnow()
    point = Checkpoint(
        sequence=int(head.last_id),
        head_mac=str(head.last_sha256),
        written_at=now.isoformat(),
        key_id=key_id(key) if key is not None else None,
    )
    document = point.body()
    if key is not None:
        document["mac"] = _seal(point.body(), key)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    path = out_dir / f"checkpoint-{point.sequence:09d}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def checkpoint_engine(engine: Engine, out_dir: Path | None = None) -> Path | None:
    """Write a checkpoint of ``engine``'s database to ``out_dir``, else to the configured
    directory (:func:`cartrial.store.keys.checkpoint_dir`); ``None`` when neither exists."""
    target = out_dir or checkpoint_dir(engine.url.render_as_string(hide_password=False))
    if target is None:
        return None
    key = engine.get_execution_options().get(AUDIT_KEY_OPTION)
    with engine.connect() as connection:
        return write_checkpoint(connection, target, key if isinstance(key, bytes) else None)


def _read(path: Path, key: bytes | None, problems: list[str]) -> Checkpoint | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        point = Checkpoint(
            sequence=int(document["sequence"]),
            head_mac=str(document["head_mac"]),
            written_at=str(document["written_at"]),
            key_id=document.get("key_id"),
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"checkpoint {path.name} cannot be read: {exc}")
        return None
    sealed = key is not None and point.key_id == key_id(key)
    if sealed and document.get("mac") != _seal(point.body(), cast(bytes, key)):
        problems.append(f"checkpoint {path.name} does not carry a valid MAC (forged)")
        return None
    return point


@dataclass
class CheckpointCheck:
    """Compares the trail, fed row by row in id order, with checkpoints written before."""

    wanted: dict[int, list[Checkpoint]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    count: int = 0

    @classmethod
    def load(cls, source: Iterable[Path] | Path | None, key: bytes | None) -> CheckpointCheck:
        """Read the checkpoints of a directory (``*.json``) or a list of files."""
        check = cls()
        if source is None:
            return check
        if isinstance(source, Path):
            if not source.is_dir():
                check.problems.append(f"checkpoint directory {source} does not exist")
                return check
            files = sorted(source.glob("checkpoint-*.json"))
        else:
            files = sorted(source)
        for path in files:
            point = _read(path, key, check.problems)
            if point is not None:
                check.count += 1
                check.wanted.setdefault(point.sequence, []).append(point)
        return check

    def feed(self, row_id: int, mac: str) -> None:
        """Compare one audit row (its id and MAC) with the checkpoints taken at its id."""
        if not self.wanted:
            return
        points = self.wanted.pop(row_id, None)
        for point in points or ():
            if mac != point.head_mac:
                self.problems.append(
                    f"audit row {point.sequence} is not the row checkpointed at "
                    f"{point.written_at} ({point.path.name if point.path else ''}): the trail "
                    "was rewritten before this checkpoint"
                )

    def finish(self, rows: int) -> list[str]:
        """The problems found, with every checkpoint beyond the end of the trail (truncation)."""
        for sequence, points in sorted(self.wanted.items()):
            if sequence == 0:
                continue  # taken on an empty trail
            for point in points:
                self.problems.append(
                    f"checkpoint of {point.written_at} records audit row {sequence}, the trail "
                    f"holds {rows} rows: rows were removed (truncation)"
                )
        return self.problems
