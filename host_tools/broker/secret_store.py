"""Fleet accounts' passwords, kept per user, never in the shared inventory.

The inventory holds only hashes. A fleet tool's password lives in the operator's
own secrets file ($PILOTLIGHT_SECRETS or ~/.pilotlight/secrets.json, 0600),
filed under the inventory's id so two inventories never mix their accounts, or
comes from the environment ($PILOTLIGHT_MQTT_PASSWORD, e.g. on a server where a
secret manager provides it). A board's password is in no file on the host: it
exists in clear only on its way to the board."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from ..inventory.errors import InventoryError, NotFound
from ..paths import state_home
from .files import write_private

ENV_PASSWORD = "PILOTLIGHT_MQTT_PASSWORD"


def path() -> Path:
    return Path(os.environ.get("PILOTLIGHT_SECRETS") or state_home() / "secrets.json")


@contextlib.contextmanager
def _locked(p: Path):
    """Several tools may add accounts at once: read-modify-write under a lock."""
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p.with_name(p.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load(p: Path) -> dict:
    if not p.exists():
        return {}
    if p.stat().st_mode & 0o077:
        raise InventoryError(f"{p}: readable by others (mode {p.stat().st_mode & 0o777:o}); "
                             f"run `chmod 600 {p}` and rotate the fleet accounts' passwords")
    try:
        return json.loads(p.read_text())
    except ValueError as e:
        raise InventoryError(f"{p}: not a secrets file ({e})") from None


def save(inventory_id: str, username: str, password: str) -> None:
    p = path()
    with _locked(p):
        data = _load(p)
        data.setdefault(inventory_id, {})[username] = password
        write_private(p, json.dumps(data, indent=1, sort_keys=True) + "\n")


def forget(inventory_id: str, username: str) -> None:
    p = path()
    with _locked(p):
        data = _load(p)
        if data.get(inventory_id, {}).pop(username, None) is not None:
            write_private(p, json.dumps(data, indent=1, sort_keys=True) + "\n")


def password(inventory_id: str, username: str, env: bool = True) -> str:
    """The account's password: $PILOTLIGHT_MQTT_PASSWORD if set (and `env`), else this user's secrets file."""
    if env and os.environ.get(ENV_PASSWORD):
        return os.environ[ENV_PASSWORD]
    found = _load(path()).get(inventory_id, {}).get(username)
    if found is None:
        raise NotFound(f"no password for MQTT account {username!r} in {path()} (nor ${ENV_PASSWORD}): "
                       f"the user who created it has it, or give it a new one with "
                       f"`pilotlight broker rotate {username}`")
    return found
