"""``python -m cartrial.cli``: the ``cartrial`` command."""

from __future__ import annotations

import sys

from cartrial.cli import main

sys.exit(main())
