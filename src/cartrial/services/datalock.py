"""Lifting a data lock: a signed act with a reason, recorded in the audit trail.

While a lock is active no write reaches data dated on or before its cut-off (the check lives in
:func:`cartrial.services.context.use_case`). Lifting it is a data manager's decision: the
password is re-entered, the reason is the reason for change of the update (so it is in the trail
next to ``released_at``/``released_by``), and the release is signed with the meaning
``"data_lock_release"``.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, SecretStr
from sqlalchemy import select

from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.signing import Signed, sign, signed_result
from cartrial.store import DataLock, live, utcnow

__all__ = ["DataLockReleased", "ReleaseDataLock", "release_data_lock"]

#: Meaning of the signature that lifts a lock.
RELEASE_MEANING = "data_lock_release"


class ReleaseDataLock(ServiceInput):
    """Lift the active data lock called ``name``, for ``reason``, signed with the password."""

    name: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)
    password: SecretStr


class DataLockReleased(ServiceResult):
    """The lock lifted, when (UTC), by whom, and the signature."""

    lock_id: int
    name: str
    data_cutoff: dt.date
    released_at: dt.datetime
    released_by: str
    signature: Signed


def release_data_lock(ctx: ServiceContext, data: ReleaseDataLock) -> DataLockReleased:
    """Lift an active data lock (data managers; signed; the reason goes into the trail).

    Raises
    ------
    NotFound
        No active lock of that name in the study.
    PermissionDenied
        Not a data manager, or wrong password.
    """
    with use_case(ctx, "data_manager", reason=data.reason.strip()) as uc:
        lock = uc.session.scalar(
            select(DataLock).where(
                DataLock.study_id == uc.study.id,
                DataLock.name == data.name,
                DataLock.released_at.is_(None),
                live(DataLock),
            )
        )
        if lock is None:
            raise NotFound(f"name: no active data lock {data.name!r}")
        if not data.reason.strip():
            raise ValidationFailed("reason", "lifting a data lock needs a reason")
        lock.released_at = utcnow()
        lock.released_by = uc.user.username
        uc.session.flush()
        password = data.password.get_secret_value()
        [signature] = sign(uc, password, RELEASE_MEANING, lock)
        return DataLockReleased(
            lock_id=lock.id,
            name=lock.name,
            data_cutoff=lock.data_cutoff,
            released_at=lock.released_at,
            released_by=lock.released_by,
            signature=signed_result(signature, uc.protocol.study.time_zone),
        )
