"""What every `pilotlight` command group shares: its consoles, the exit code
of a refusal, and how it fails and opens the inventory."""
from __future__ import annotations

import sys

from rich.console import Console

from .inventory.db import open_inventory
from .inventory.errors import InventoryError

EXIT_REFUSED = 3      # refused, or the inventory could not be opened: nothing changed

out = Console()
err = Console(stderr=True, soft_wrap=True)   # an error stays one line in a log, whatever its length


def fail(message: str, code: int = EXIT_REFUSED):
    err.print(f"[red]error:[/red] {message}", highlight=False)
    sys.exit(code)


def open_db(ctx, create: bool = False):
    """The inventory named by the group's --db, or fail saying why."""
    try:
        return open_inventory(ctx.obj["db"], create=create)
    except InventoryError as e:
        fail(str(e))
