"""Boards: registered by chip id, bound to a pole, moved through their life cycle.

Every change is one transaction and leaves an event (when, who, what)."""
from __future__ import annotations

import json

from . import names, places
from .db import Inventory, default_actor, now
from .errors import Conflict, NotFound
from .model import STATES, TRANSITIONS, Attempt, Board, Event

_BOARD_SELECT = """
    SELECT b.*, d.site_id AS site FROM boards b
    LEFT JOIN poles p ON p.id = b.pole_id LEFT JOIN streets s ON s.id = p.street_id
    LEFT JOIN districts d ON d.id = s.district_id
"""


def _board(row) -> Board:
    return Board(**{k: row[k] for k in Board.__dataclass_fields__})


def _event(inv: Inventory, chip: str, actor: str, kind: str, **detail) -> None:
    inv.conn.execute("INSERT INTO board_events (chip_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
                     (chip, now(), actor, kind, json.dumps(detail, sort_keys=True)))


def field_event(inv: Inventory, chip_id: str, kind: str, actor: str | None = None, **detail) -> None:
    """Something done to the board in the field (e.g. `lamp_replaced`), kept in its history."""
    with inv.transaction():
        _event(inv, chip_id, actor or default_actor(), kind, **detail)


def find(inv: Inventory, chip_id: str) -> Board | None:
    row = inv.one(_BOARD_SELECT + " WHERE b.chip_id = ?", (names.chip_id(chip_id),))
    return _board(row) if row else None


def get(inv: Inventory, chip_id: str) -> Board:
    board = find(inv, chip_id)
    if board is None:
        raise NotFound(f"board {chip_id!r} is not in the inventory")
    return board


def on_pole(inv: Inventory, pole_id: str) -> Board | None:
    row = inv.one(_BOARD_SELECT + " WHERE b.pole_id = ?", (pole_id,))
    return _board(row) if row else None


def list_boards(inv: Inventory, state: str | None = None, site: str | None = None) -> list[Board]:
    where, args = [], []
    if state is not None:
        where.append("b.state = ?")
        args.append(state)
    if site is not None:
        where.append("d.site_id = ?")
        args.append(site)
    sql = _BOARD_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY b.created_at, b.chip_id"
    return [_board(r) for r in inv.query(sql, args)]


def register(inv: Inventory, chip_id: str, board_type: str, actor: str | None = None,
             firmware_version: str | None = None) -> Board:
    """The board with this chip id, created as `new` if unknown (safe to call again).

    A different board type than recorded is an update, and leaves an event."""
    chip, actor = names.chip_id(chip_id), actor or default_actor()
    with inv.transaction():
        existing = find(inv, chip)
        if existing is None:
            t = now()
            inv.conn.execute(
                "INSERT INTO boards (chip_id, device_id, board_type, firmware_version, state, created_at, created_by,"
                " state_at, state_by) VALUES (?, ?, ?, ?, 'new', ?, ?, ?, ?)",
                (chip, chip, board_type, firmware_version, t, actor, t, actor))
            _event(inv, chip, actor, "registered", board_type=board_type)
        elif existing.board_type != board_type:
            inv.conn.execute("UPDATE boards SET board_type = ? WHERE chip_id = ?", (board_type, chip))
            _event(inv, chip, actor, "board_type", old=existing.board_type, new=board_type)
    return get(inv, chip)


def set_state(inv: Inventory, chip_id: str, state: str, actor: str | None = None, reason: str = "") -> Board:
    """Move a board along new -> provisioned -> commissioned -> retired (see model.TRANSITIONS).

    Same state: nothing changes. Retiring frees its pole and revokes its MQTT account."""
    if state not in STATES:
        raise Conflict(f"unknown state {state!r} (one of {', '.join(STATES)})")
    actor = actor or default_actor()
    with inv.transaction():
        board = get(inv, chip_id)
        if board.state == state:
            return board
        if state not in TRANSITIONS[board.state]:
            raise Conflict(f"board {board.chip_id} is {board.state}: it cannot become {state} "
                           f"(allowed: {', '.join(sorted(TRANSITIONS[board.state]))})")
        _set_state(inv, board, state, actor, reason)
    return get(inv, board.chip_id)


def _set_state(inv: Inventory, board: Board, state: str, actor: str, reason: str) -> None:
    inv.conn.execute("UPDATE boards SET state = ?, state_at = ?, state_by = ? WHERE chip_id = ?",
                     (state, now(), actor, board.chip_id))
    _event(inv, board.chip_id, actor, "state", old=board.state, new=state, reason=reason)
    if state == "retired":
        if board.pole_id:
            inv.conn.execute("UPDATE boards SET pole_id = NULL WHERE chip_id = ?", (board.chip_id,))
            _event(inv, board.chip_id, actor, "unbind", pole=board.pole_id, reason="retired")
        inv.conn.execute("DELETE FROM mqtt_accounts WHERE chip_id = ?", (board.chip_id,))
        inv.conn.execute("DELETE FROM group_members WHERE chip_id = ?", (board.chip_id,))


def bind_pole(inv: Inventory, chip_id: str, pole_id: str, actor: str | None = None, move: bool = False) -> Board:
    """Put the board on this pole. Already there: nothing changes.

    A board on another pole moves only with `move=True`, and then goes back to `new`:
    the config on its flash names the old pole."""
    actor = actor or default_actor()
    with inv.transaction():
        board = get(inv, chip_id)
        pole = places.get_pole(inv, pole_id)
        if board.pole_id == pole.id:
            return board
        _bind(inv, board, pole.id, pole.board, actor, move)
    return get(inv, board.chip_id)


def bind_next_free_pole(inv: Inventory, chip_id: str, street: str, district: str | None = None,
                        site: str | None = None, actor: str | None = None) -> Board:
    """Bind to the first free pole along the street (safe from parallel technicians and processes).

    A board already on a pole of that street keeps it, so a re-run resumes."""
    actor = actor or default_actor()
    with inv.transaction():   # BEGIN IMMEDIATE: no other writer picks the same pole meanwhile
        board = get(inv, chip_id)
        street_id = places.find_street(inv, street, district, site)
        if board.pole_id:
            held = inv.one("SELECT street_id FROM poles WHERE id = ?", (board.pole_id,))
            if held["street_id"] == street_id:
                return board
        pole = places.next_free_pole(inv, street, district, site)
        if pole is None:
            raise Conflict(f"street {street!r} has no free pole left")
        _bind(inv, board, pole.id, None, actor, move=False)
    return get(inv, board.chip_id)


def _bind(inv: Inventory, board: Board, pole_id: str, holder: str | None, actor: str, move: bool) -> None:
    if board.state == "retired":
        raise Conflict(f"board {board.chip_id} is retired: reinstate it (state new) before binding it")
    if holder and holder != board.chip_id:
        raise Conflict(f"pole {pole_id} already has board {holder}: retire or unbind that board first")
    if board.pole_id and not move:
        raise Conflict(f"board {board.chip_id} is on pole {board.pole_id}: pass move=True (--move) to move it")
    if board.pole_id:
        _event(inv, board.chip_id, actor, "unbind", pole=board.pole_id, reason=f"moved to {pole_id}")
        if board.state in ("provisioned", "commissioned"):
            _set_state(inv, board, "new", actor, f"moved to pole {pole_id}: its config must be rewritten")
    inv.conn.execute("UPDATE boards SET pole_id = ? WHERE chip_id = ?", (pole_id, board.chip_id))
    _event(inv, board.chip_id, actor, "bind", pole=pole_id)


def unbind(inv: Inventory, chip_id: str, actor: str | None = None) -> Board:
    actor = actor or default_actor()
    with inv.transaction():
        board = get(inv, chip_id)
        if board.pole_id:
            inv.conn.execute("UPDATE boards SET pole_id = NULL WHERE chip_id = ?", (board.chip_id,))
            _event(inv, board.chip_id, actor, "unbind", pole=board.pole_id)
            if board.state in ("provisioned", "commissioned"):
                _set_state(inv, board, "new", actor, "taken off its pole")
    return get(inv, board.chip_id)


def events(inv: Inventory, chip_id: str) -> list[Event]:
    rows = inv.query("SELECT at, actor, kind, detail FROM board_events WHERE chip_id = ? ORDER BY id",
                     (names.chip_id(chip_id),))
    return [Event(r["at"], r["actor"], r["kind"], json.loads(r["detail"])) for r in rows]


def _attempt(row) -> Attempt:
    return Attempt(id=row["id"], chip_id=row["chip_id"], started_at=row["started_at"], actor=row["actor"],
                   port=row["port"], finished_at=row["finished_at"],
                   ok=None if row["ok"] is None else bool(row["ok"]), step=row["step"],
                   detail=json.loads(row["detail"]))


def start_attempt(inv: Inventory, chip_id: str, port: str | None = None, actor: str | None = None) -> int:
    """Record that provisioning of this board began; returns the attempt id for finish_attempt."""
    with inv.transaction():
        board = get(inv, chip_id)
        return inv.conn.execute(
            "INSERT INTO provision_attempts (chip_id, started_at, actor, port) VALUES (?, ?, ?, ?)",
            (board.chip_id, now(), actor or default_actor(), port)).lastrowid


def finish_attempt(inv: Inventory, attempt_id: int, ok: bool, step: str, detail: dict | None = None,
                   firmware_version: str | None = None) -> Board:
    """Close an attempt. ok=True also marks the board provisioned (and its firmware version),
    in the same transaction: a board is provisioned only when its attempt passed."""
    with inv.transaction():
        row = inv.one("SELECT * FROM provision_attempts WHERE id = ?", (attempt_id,))
        if row is None:
            raise NotFound(f"provisioning attempt {attempt_id} is not recorded")
        if row["finished_at"] is not None:
            raise Conflict(f"provisioning attempt {attempt_id} already finished")
        inv.conn.execute("UPDATE provision_attempts SET finished_at = ?, ok = ?, step = ?, detail = ? WHERE id = ?",
                         (now(), int(ok), step, json.dumps(detail or {}, sort_keys=True), attempt_id))
        board = get(inv, row["chip_id"])
        if ok:
            if firmware_version and firmware_version != board.firmware_version:
                inv.conn.execute("UPDATE boards SET firmware_version = ? WHERE chip_id = ?",
                                 (firmware_version, board.chip_id))
                _event(inv, board.chip_id, row["actor"], "firmware", old=board.firmware_version, new=firmware_version)
            if board.state == "new":
                if not board.pole_id:
                    raise Conflict(f"board {board.chip_id} has no pole: bind it before marking it provisioned")
                _set_state(inv, board, "provisioned", row["actor"], f"attempt {attempt_id} passed")
            elif board.state == "retired":
                raise Conflict(f"board {board.chip_id} is retired: it cannot be provisioned")
    return get(inv, row["chip_id"])


def attempts(inv: Inventory, chip_id: str) -> list[Attempt]:
    rows = inv.query("SELECT * FROM provision_attempts WHERE chip_id = ? ORDER BY id", (names.chip_id(chip_id),))
    return [_attempt(r) for r in rows]
