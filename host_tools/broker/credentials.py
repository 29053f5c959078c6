"""Per-device and fleet MQTT accounts, kept in the inventory, and Mosquitto's password file.

Passwords come from `secrets`; the inventory and the broker only ever get a
PBKDF2-SHA512 hash in Mosquitto 2's own format: user:$7$<iterations>$<b64 salt>$<b64 hash>.
A board's password exists in clear only on its way to the board: provisioning
makes a new one, writes it into the board's config and stores its hash
(`set_password`). Fleet and probe accounts' passwords go to the creating user's
secrets file (secret_store), never into the shared inventory."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..inventory import boards, names
from ..inventory.db import Inventory, now
from ..inventory.errors import Conflict, NotFound
from . import secret_store
from .files import write_private

# mosquitto_passwd's own default. The passwords are 192 random bits, so stretching
# adds nothing against guessing, while every connect pays it: a district's boards
# reconnecting after a broker restart stays cheap.
ITERATIONS = 101
SALT_BYTES = 12
ROLES = ("operator", "monitor")
PROBES = ("probe-a", "probe-b")   # `broker check` plays two boards with these (see acl.py)


@dataclass(frozen=True)
class Account:
    username: str
    kind: str                   # board | fleet | probe
    role: str | None            # fleet: operator | monitor
    chip_id: str | None
    pw_hash: str = field(repr=False)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, pw_hash: str) -> bool:
    try:
        _, kind, iterations, salt, digest = pw_hash.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(got).decode(), digest)


def _account(row) -> Account:
    return Account(username=row["username"], kind=row["kind"], role=row["role"], chip_id=row["chip_id"],
                   pw_hash=row["pw_hash"])


def _insert(inv: Inventory, username: str, kind: str, role: str | None, chip_id: str | None) -> None:
    """A board's first password is thrown away (nobody knows it): it logs in once provisioned.
    A fleet or probe account's goes to this user's secrets file."""
    password = new_password()
    if kind != "board":
        secret_store.save(inv.inventory_id, username, password)
    inv.conn.execute("INSERT INTO mqtt_accounts (username, kind, chip_id, role, pw_hash, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (username, kind, chip_id, role, hash_password(password), now()))


def get_account(inv: Inventory, username: str) -> Account:
    row = inv.one("SELECT * FROM mqtt_accounts WHERE username = ?", (username,))
    if row is None:
        raise NotFound(f"no MQTT account {username!r}")
    return _account(row)


def ensure_board_account(inv: Inventory, chip_id: str) -> Account:
    """The board's account (username = its device id), created on first use; retired boards get none."""
    with inv.transaction():
        board = boards.get(inv, chip_id)
        if board.state == "retired":
            raise Conflict(f"board {board.chip_id} is retired: it gets no broker account")
        if inv.one("SELECT 1 FROM mqtt_accounts WHERE chip_id = ?", (board.chip_id,)) is None:
            _insert(inv, board.device_id, "board", None, board.chip_id)
    return get_account(inv, board.device_id)


def ensure_board_accounts(inv: Inventory) -> int:
    """Accounts for every board that is not retired; returns how many were created."""
    created = 0
    with inv.transaction():
        for row in inv.query("SELECT b.chip_id, b.device_id FROM boards b LEFT JOIN mqtt_accounts a "
                             "ON a.chip_id = b.chip_id WHERE b.state != 'retired' AND a.username IS NULL"):
            _insert(inv, row["device_id"], "board", None, row["chip_id"])
            created += 1
    return created


def ensure_fleet_account(inv: Inventory, username: str, role: str = "operator") -> Account:
    """A fleet tool's account: operator (read all, send commands) or monitor (read only)."""
    names.fleet_user(username)
    if role not in ROLES:
        raise Conflict(f"fleet role {role!r}: one of {', '.join(ROLES)}")
    with inv.transaction():
        row = inv.one("SELECT kind, role FROM mqtt_accounts WHERE username = ?", (username,))
        if row is None:
            _insert(inv, username, "fleet", role, None)
        elif row["kind"] != "fleet":
            raise Conflict(f"{username!r} is a board's account, not a fleet account")
        elif row["role"] != role:
            inv.conn.execute("UPDATE mqtt_accounts SET role = ? WHERE username = ?", (role, username))
    return get_account(inv, username)


def ensure_probe_accounts(inv: Inventory) -> list[Account]:
    """The two accounts `broker check` uses to play boards (ACL rights of a board, no board behind)."""
    with inv.transaction():
        for name in PROBES:
            if inv.one("SELECT 1 FROM mqtt_accounts WHERE username = ?", (name,)) is None:
                _insert(inv, name, "probe", None, None)
    return [get_account(inv, name) for name in PROBES]


def set_password(inv: Inventory, username: str, password: str) -> Account:
    """Store the hash of a password that is on its way to its board (provisioning)."""
    with inv.transaction():
        get_account(inv, username)
        inv.conn.execute("UPDATE mqtt_accounts SET pw_hash = ? WHERE username = ?",
                         (hash_password(password), username))
    return get_account(inv, username)


def issue_password(inv: Inventory, username: str) -> str:
    """A new password for a board, returned in clear for the caller to hand to the board at once
    (a simulated lamp's config, a test); only its hash is kept."""
    password = new_password()
    set_password(inv, username, password)
    return password


def rotate(inv: Inventory, username: str) -> Account:
    """A new password for this account. A fleet or probe account's goes to this user's secrets
    file; a board's is known to nobody, so the board is locked out until re-provisioned."""
    password = new_password()
    with inv.transaction():
        account = get_account(inv, username)
        if account.kind != "board":
            secret_store.save(inv.inventory_id, username, password)
        inv.conn.execute("UPDATE mqtt_accounts SET pw_hash = ? WHERE username = ?",
                         (hash_password(password), username))
    return get_account(inv, username)


def password(inv: Inventory, username: str) -> str:
    """A fleet or probe account's password, from the environment or this user's secrets file."""
    account = get_account(inv, username)
    if account.kind == "board":
        raise Conflict(f"{username!r} is a board's account: its password is on the board only")
    return secret_store.password(inv.inventory_id, username, env=account.kind == "fleet")


def list_accounts(inv: Inventory) -> list[Account]:
    return [_account(r) for r in inv.query("SELECT * FROM mqtt_accounts ORDER BY kind DESC, username")]


def passwd_text(accounts: list[Account]) -> str:
    return "".join(f"{a.username}:{a.pw_hash}\n" for a in accounts)


def write_passwd_file(path: Path, accounts: list[Account]) -> Path:
    return write_private(path, passwd_text(accounts))
