"""What every `pilotlight fleet ...` command shares: its exit codes, its
consoles, and how it fails and opens the inventory."""
from __future__ import annotations

import sys

from rich.console import Console

from ..inventory.db import open_inventory
from ..inventory.errors import InventoryError

EXIT_FAILED = 1       # the work ran, some boards failed (see the report)
EXIT_REFUSED = 3      # refused before anything was sent

out = Console()
err = Console(stderr=True, soft_wrap=True)   # an error stays one line in a log, whatever its length


def fail(message: str, code: int = EXIT_REFUSED):
    err.print(f"[red]error:[/red] {message}", highlight=False)
    sys.exit(code)


def open_db(ctx):
    try:
        return open_inventory(ctx.obj["db"])
    except InventoryError as e:
        fail(str(e))
