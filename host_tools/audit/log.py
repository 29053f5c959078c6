"""Every operator action, appended with who, when, what, target and outcome.

Tamper-evident: each entry's hash covers its own fields and the hash of the
entry before it, so editing, deleting or inserting an entry anywhere breaks
the chain from there on, and `verify` names the first entry that does not
match. Triggers refuse UPDATE and DELETE through SQLite; an edit of the file
by other means is what the chain is for. Cutting entries off the end leaves a
shorter chain that is still whole: only a head kept elsewhere (`head`, an
anchor written down outside the inventory) shows that."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ..inventory.db import Inventory, default_actor, now

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict
    outcome: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict:
        return asdict(self)


def _digest(prev_hash: str, at: str, actor: str, action: str, target: str, detail: str, outcome: str) -> str:
    body = json.dumps([prev_hash, at, actor, action, target, detail, outcome], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record(inv: Inventory, action: str, target: str, outcome: str, detail: dict | None = None,
           actor: str | None = None) -> AuditEntry:
    """Append one entry (in the caller's transaction if there is one)."""
    actor = actor or default_actor()
    text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    with inv.transaction():
        last = inv.one("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else GENESIS
        at = now()
        h = _digest(prev, at, actor, action, target, text, outcome)
        rowid = inv.conn.execute("INSERT INTO audit_log (at, actor, action, target, detail, outcome, prev_hash, hash)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (at, actor, action, target, text, outcome, prev, h)).lastrowid
    return AuditEntry(rowid, at, actor, action, target, json.loads(text), outcome, prev, h)


def _entry(r) -> AuditEntry:
    return AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["target"], json.loads(r["detail"]),
                      r["outcome"], r["prev_hash"], r["hash"])


def entries(inv: Inventory, action: str | None = None, actor: str | None = None, target: str | None = None,
            since: str | None = None, until: str | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Entries in order, filtered: action and target match as prefixes ('rollout' finds 'rollout.wave')."""
    where, args = [], []
    for column, value in (("action", action), ("target", target)):
        if value:
            where.append(f"({column} = ? OR {column} LIKE ? ESCAPE '\\')")
            args += [value, value.replace("%", "\\%").replace("_", "\\_") + "%"]
    if actor:
        where.append("actor = ?")
        args.append(actor)
    if since:
        where.append("at >= ?")
        args.append(since)
    if until:
        where.append("at <= ?")
        args.append(until)
    sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    rows = [_entry(r) for r in inv.query(sql, args)]
    return rows[-limit:] if limit else rows


def head(inv: Inventory) -> tuple[int, str] | None:
    """The last entry's id and hash: written down elsewhere, an anchor for `verify`."""
    r = inv.one("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    return (r["id"], r["hash"]) if r else None


def parse_anchor(text: str) -> tuple[int, str]:
    """An anchor as `head` prints it: ID:HASH."""
    entry, _, digest = text.partition(":")
    if not entry.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"anchor {text!r}: expected ID:HASH as `pilotlight audit head` prints it")
    return int(entry), digest


def verify(inv: Inventory, anchors: list[tuple[int, str]] = ()) -> list[str]:
    """Problems found, the first broken link first; [] when the log is intact
    and holds every anchor (an entry once seen, by id and hash)."""
    problems = []
    for entry, digest in anchors:
        r = inv.one("SELECT hash FROM audit_log WHERE id = ?", (entry,))
        if r is None:
            problems.append(f"entry {entry}: gone (the anchor {entry}:{digest[:12]}… was taken from it): "
                            "the log was cut short or replaced")
        elif r["hash"] != digest:
            problems.append(f"entry {entry}: not the entry anchored ({digest[:12]}…): the log was rewritten")
    prev, expected_id = GENESIS, None
    for r in inv.query("SELECT * FROM audit_log ORDER BY id"):
        if expected_id is not None and r["id"] != expected_id:
            problems.append(f"entry {expected_id}: missing (the log jumps to {r['id']})")
        if r["prev_hash"] != prev:
            problems.append(f"entry {r['id']}: does not follow the entry before it (one was removed or changed)")
        if _digest(r["prev_hash"], r["at"], r["actor"], r["action"], r["target"], r["detail"], r["outcome"]) != r["hash"]:
            problems.append(f"entry {r['id']} ({r['at']}, {r['action']} {r['target']}): edited after it was written")
        prev, expected_id = r["hash"], r["id"] + 1
    triggers = {r["name"] for r in inv.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for name in ("audit_log_no_update", "audit_log_no_delete"):
        if name not in triggers:
            problems.append(f"trigger {name} is gone: the log was opened for edits")
    return problems
