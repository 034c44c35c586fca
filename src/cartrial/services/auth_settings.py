"""Settings of authentication: lockout threshold, session timeouts, token lifetime, the clock.

Read from the environment by :func:`auth_settings` when a use case runs (never at import time);
tests and servers may pass their own :class:`AuthSettings` (e.g. with an injected clock).

=================================  ==========================================  =========
environment variable               meaning                                     default
=================================  ==========================================  =========
``CARTRIAL_AUTH_MAX_FAILURES``     failed password checks that lock an account  5
``CARTRIAL_SESSION_IDLE_MINUTES``  a session unused this long expires           30
``CARTRIAL_SESSION_MAX_HOURS``     a session expires this long after login      12
``CARTRIAL_TOKEN_MAX_DAYS``        longest lifetime of a personal access token  366
=================================  ==========================================  =========
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass

from cartrial.errors import ValidationFailed
from cartrial.store import utcnow

__all__ = [
    "MAX_FAILURES_ENV",
    "SESSION_IDLE_MINUTES_ENV",
    "SESSION_MAX_HOURS_ENV",
    "TOKEN_MAX_DAYS_ENV",
    "AuthSettings",
    "auth_settings",
]

MAX_FAILURES_ENV = "CARTRIAL_AUTH_MAX_FAILURES"
SESSION_IDLE_MINUTES_ENV = "CARTRIAL_SESSION_IDLE_MINUTES"
SESSION_MAX_HOURS_ENV = "CARTRIAL_SESSION_MAX_HOURS"
TOKEN_MAX_DAYS_ENV = "CARTRIAL_TOKEN_MAX_DAYS"


@dataclass(frozen=True)
class AuthSettings:
    """How authentication behaves.

    Parameters
    ----------
    max_failures
        Consecutive failed password checks (logins, e-signature passwords, password changes)
        after which the account is locked until an administrator unlocks it. A successful login
        or signature, or an unlock, starts the count again.
    idle_timeout
        A session not used for this long expires.
    absolute_timeout
        A session expires this long after the login, however much it is used.
    token_max_days
        Longest lifetime of a personal access token, in days.
    touch_interval
        A session's (or token's) last use is written at most this often: every write is an
        audited update, and a session then expires at most ``touch_interval`` early, never late.
    clock
        The current time, timezone-aware UTC (tests inject a fake clock instead of sleeping).
    """

    max_failures: int = 5
    idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    absolute_timeout: dt.timedelta = dt.timedelta(hours=12)
    token_max_days: int = 366
    touch_interval: dt.timedelta = dt.timedelta(seconds=60)
    clock: Callable[[], dt.datetime] = utcnow


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValidationFailed(name, f"must be a positive whole number, not {text!r}")
    return value


def auth_settings() -> AuthSettings:
    """The settings from the environment (see the module docstring), read at call time.

    Raises
    ------
    ValidationFailed
        A variable that is not a positive whole number (the variable is named).
    """
    return AuthSettings(
        max_failures=_positive_int(MAX_FAILURES_ENV, 5),
        idle_timeout=dt.timedelta(minutes=_positive_int(SESSION_IDLE_MINUTES_ENV, 30)),
        absolute_timeout=dt.timedelta(hours=_positive_int(SESSION_MAX_HOURS_ENV, 12)),
        token_max_days=_positive_int(TOKEN_MAX_DAYS_ENV, 366),
    )
