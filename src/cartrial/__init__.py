"""cartrial: run a first-in-human CAR-T trial from design simulation to the final report."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
