"""The MQTT login a fleet tool uses: a fleet account from the inventory, its
password from $PILOTLIGHT_MQTT_PASSWORD when set, else from the user's own
secrets file (the inventory keeps only its hash; see broker/secret_store.py)."""
from __future__ import annotations

from ..broker import credentials
from ..inventory.db import Inventory


def fleet_login(inv: Inventory, username: str) -> tuple[str, str]:
    account = credentials.get_account(inv, username)
    if account.kind != "fleet":
        raise credentials.Conflict(f"{username!r} is a board's account: fleet tools use a fleet account")
    return username, credentials.password(inv, username)
