"""A roll-out's plan and every board's progress, in the inventory database.

Each board moves pending -> sending -> sent -> acked -> healthy, or to failed
(refused, silent, unhealthy); a roll-back moves the boards that had the change
to reverting -> reverted (or revert_failed). `sending` is written before the
publish and `sent` after the broker took it, so a tool killed in between knows
which boards may have it and asks their state before sending again."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ..inventory.db import Inventory, default_actor, now

IN_FLIGHT = ("sending", "sent")
DONE = ("healthy", "failed")


@dataclass(frozen=True)
class Plan:
    canary: int            # boards in the first wave
    growth: float          # each wave this many times the one before
    soak_s: float          # healthy this long after the acks before the next wave
    threshold: float       # halt when failed / attempted exceeds this
    timeout_s: float       # wait this long for the acks of a wave
    max_boots: int = 1     # more boots than this during a soak is a reboot loop

    def waves(self, n: int) -> list[int]:
        sizes, size, left = [], max(1, self.canary), n
        while left > 0:
            sizes.append(min(size, left))
            left -= sizes[-1]
            size = max(size + 1, int(size * self.growth))
        return sizes


@dataclass(frozen=True)
class Rollout:
    id: int
    site: str
    change: dict
    target: str
    plan: Plan
    status: str            # running, halted, done, rolling_back, rolled_back
    reason: str
    created_at: str
    created_by: str


def _spread(devices: list[str], seed: int) -> list[str]:
    """A fixed, well-mixed order: the canary comes from every street, not the first one."""
    return sorted(devices, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).digest())


def create(inv: Inventory, site: str, change: dict, target: str, devices: list[str], plan: Plan,
           actor: str | None = None) -> int:
    with inv.transaction():
        rid = inv.conn.execute("INSERT INTO rollouts (site_id, change, target, plan, status, created_at, created_by, "
                               "updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                               (site, json.dumps(change), target, json.dumps(asdict(plan)), now(),
                                actor or default_actor(), now())).lastrowid
        order, rows, start = _spread(devices, rid), [], 0
        for wave, size in enumerate(plan.waves(len(devices))):
            rows += [(rid, d, wave, now()) for d in order[start:start + size]]
            start += size
        inv.conn.executemany("INSERT INTO rollout_boards (rollout_id, device_id, wave, step, updated_at) "
                             "VALUES (?, ?, ?, 'pending', ?)", rows)
    return rid


def get(inv: Inventory, rid: int) -> Rollout:
    r = inv.one("SELECT * FROM rollouts WHERE id = ?", (rid,))
    if r is None:
        raise LookupError(f"roll-out {rid} does not exist")
    return Rollout(r["id"], r["site_id"], json.loads(r["change"]), r["target"], Plan(**json.loads(r["plan"])),
                   r["status"], r["reason"], r["created_at"], r["created_by"])


def list_rollouts(inv: Inventory, site: str | None = None) -> list[Rollout]:
    ids = [r[0] for r in inv.query("SELECT id FROM rollouts" + (" WHERE site_id = ?" if site else "") + " ORDER BY id",
                                   (site,) if site else ())]
    return [get(inv, i) for i in ids]


def set_status(inv: Inventory, rid: int, status: str, reason: str = "") -> None:
    with inv.transaction():
        inv.conn.execute("UPDATE rollouts SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                         (status, reason, now(), rid))


def boards(inv: Inventory, rid: int, wave: int | None = None, steps=None) -> list[dict]:
    sql, args = "SELECT * FROM rollout_boards WHERE rollout_id = ?", [rid]
    if wave is not None:
        sql += " AND wave = ?"
        args.append(wave)
    if steps:
        sql += f" AND step IN ({', '.join('?' for _ in steps)})"
        args += list(steps)
    out = []
    for r in inv.query(sql + " ORDER BY wave, device_id", args):
        d = dict(r)
        for key in ("previous", "baseline"):
            d[key] = json.loads(d[key]) if d[key] else None
        out.append(d)
    return out


def mark(inv: Inventory, rid: int, updates: dict[str, dict]) -> None:
    """device -> {column: value} (step, command_id, error, previous, baseline, attempts), in one transaction."""
    with inv.transaction():
        for device, cols in updates.items():
            cols = {k: (json.dumps(v) if k in ("previous", "baseline") and v is not None else v)
                    for k, v in cols.items()}
            sets = ", ".join(f"{k} = ?" for k in cols) + ", updated_at = ?"
            inv.conn.execute(f"UPDATE rollout_boards SET {sets} WHERE rollout_id = ? AND device_id = ?",
                             (*cols.values(), now(), rid, device))


def counts(inv: Inventory, rid: int) -> dict[str, int]:
    return {r["step"]: r["n"] for r in
            inv.query("SELECT step, COUNT(*) AS n FROM rollout_boards WHERE rollout_id = ? GROUP BY step", (rid,))}
