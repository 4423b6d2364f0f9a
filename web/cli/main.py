"""The `hotline` command (CONTRACT.md): the group (`web.cli.common`) and the modules that add
its subcommands: `data` (db, demo, grid, users), `ops` (serve, worker, outbox, report, stats),
`simulate`, `triage` (classifier), `tickets` (history import)."""

from __future__ import annotations

import sys

from web.cli import call_centre as call_centre_cli  # noqa: F401  (adds `hotline demo call-centre`)
from web.cli import data, ops  # noqa: F401  (add their subcommands)
from web.cli import simulate as simulate_cli  # noqa: E402,F401  (adds `hotline simulate`)
from web.cli import tickets as tickets_cli  # noqa: E402,F401  (adds `hotline tickets`)
from web.cli import triage as triage_cli  # noqa: E402,F401  (adds `hotline classifier`)
from web.cli.common import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
