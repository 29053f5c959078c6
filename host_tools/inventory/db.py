"""The inventory file: SQLite, owner-only, migrated on open, one transaction per change."""
from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sqlite3
import time
from pathlib import Path

from ..paths import state_home
from .errors import InventoryError
from .schema import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    return Path(os.environ.get("PILOTLIGHT_INVENTORY") or state_home() / "inventory.sqlite")


def default_actor() -> str:
    """Who is doing it, for the record: $PILOTLIGHT_ACTOR or user@host."""
    return os.environ.get("PILOTLIGHT_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Inventory:
    """One connection to the inventory file. Use one per thread; SQLite serialises writers."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    @contextlib.contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: never half-written."""
        if self.conn.in_transaction:   # nested: the outer transaction decides
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, args=()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args=()) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    @property
    def inventory_id(self) -> str:
        """This inventory's own id (its fleet accounts' key in a user's secrets file)."""
        return self.one("SELECT value FROM meta WHERE key = 'inventory_id'")["value"]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def create_private(path: Path) -> None:
    """Create the file owner-only before SQLite opens it (its journals inherit the mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def open_inventory(path: Path | str | None = None, create: bool = False) -> Inventory:
    """Open (and migrate) an inventory; `create` makes a new one if the file is missing."""
    path = Path(path) if path else default_path()
    if not path.exists():
        if not create:
            raise InventoryError(f"{path}: no inventory here (create one with `pilotlight inventory init`)")
        create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")    # a replaced secret is overwritten, not left in a free page
        migrate(conn, path)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise InventoryError(f"{path}: not a usable inventory ({e})") from None
    except InventoryError:
        conn.close()
        raise
    return Inventory(conn, path)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    for target in range(1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")   # re-read under the lock: another process may have migrated
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InventoryError(f"{path}: schema version {version} is newer than this pilotlight "
                                     f"knows ({SCHEMA_VERSION}); upgrade pilotlight")
            if version < target:
                apply(conn, MIGRATIONS[target - 1])
                conn.execute(f"PRAGMA user_version = {target}")
        except BaseException:
            conn.rollback()
            raise
        conn.execute("COMMIT")


def apply(conn: sqlite3.Connection, step) -> None:
    if callable(step):
        step(conn)
        return
    for statement in statements(step):
        conn.execute(statement)


def statements(script: str):
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""
    if buf.strip():
        raise InventoryError(f"incomplete SQL in a migration: {buf.strip()[:60]}")
