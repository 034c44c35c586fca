"""Dose-finding designs as pure decision functions."""

from __future__ import annotations

from cartrial.designs.base import ACTIONS, Action, Decision

__all__ = ["ACTIONS", "Action", "Decision"]
