"""Staged roll-outs: a canary, then waves of growing size; each wave must
answer `ok` and stay healthy (online, no new fault, no reboot loop) for a soak
time before the next; the roll-out halts when failures pass a threshold, can
be resumed after a fix, or rolled back to what each board had.

Everything is persisted (rollout_store) before and after each step, so a tool
killed anywhere and started again neither sends twice to a board that has the
change nor forgets one: boards in flight are judged by their answer or by the
state they report, and only those the broker may never have had are sent
again, with the same command id (a board applies an id once)."""
from __future__ import annotations

import time
from collections import defaultdict

from ..audit import record
from ..inventory.db import Inventory
from . import changes, desired, rollout_store as store, status as status_mod
from .commander import Commander, check
from .drift import expected
from .rollout_store import DONE, IN_FLIGHT, Plan


class RolloutHalted(Exception):
    pass


def start(inv: Inventory, site: str, change, target, plan: Plan, actor: str | None = None) -> int:
    """Record a new roll-out (its waves fixed now); Engine(...).run() carries it out."""
    change.prepare(inv)
    rid = store.create(inv, site, change.to_dict(), target.label, list(target.devices), plan, actor)
    record(inv, "rollout.start", target.label, "started",
           {"rollout": rid, "change": change.describe(), "boards": len(target.devices),
            "waves": plan.waves(len(target.devices)), "soak_s": plan.soak_s, "threshold": plan.threshold}, actor)
    return rid


class Engine:
    def __init__(self, inv: Inventory, commander: Commander, rid: int, progress=None, actor: str | None = None):
        self.inv, self.cmd, self.rid = inv, commander, rid
        self.progress = progress or (lambda text: None)
        self.actor = actor
        self.ro = store.get(inv, rid)
        self.change = changes.from_dict(self.ro.change)
        self.plan = self.ro.plan
        self.name, self.fields = self.change.command()

    # --- running forward ----------------------------------------------------------
    def run(self) -> str:
        """Run until done or halted; returns the final status."""
        if self.ro.status != "running":
            raise RolloutHalted(f"roll-out {self.rid} is {self.ro.status}: resume or roll it back")
        while True:
            open_waves = sorted({r["wave"] for r in store.boards(self.inv, self.rid) if r["step"] not in DONE})
            if not open_waves:
                return self._finish()
            wave = open_waves[0]
            self._wave(wave)
            halted = self._judge(f"wave {wave}")
            if halted:
                return "halted"

    def _wave(self, wave: int) -> None:
        rows = store.boards(self.inv, self.rid, wave)
        self.progress(f"wave {wave}: {len(rows)} boards")
        self._recover([r for r in rows if r["step"] in IN_FLIGHT])
        pending = [r for r in rows if r["step"] == "pending"]
        by_attempt = defaultdict(list)
        for r in pending:
            by_attempt[r["attempts"] + 1].append(r)
        for attempt, group in by_attempt.items():
            self._send(wave, attempt, group)
        self._collect(wave)
        if self._over_threshold():
            return
        self._settle(wave)
        self._soak(wave)

    def _send(self, wave: int, attempt: int, rows: list[dict]) -> None:
        cmd_id = f"ro{self.rid}-w{wave}-a{attempt}"
        payload = check(self.name, cmd_id, self.fields)
        board_rows = {r["device_id"]: r for r in status_mod.rows(self.inv, self.ro.site)}
        want = expected(self.inv, self.ro.site, list(board_rows.values()))
        updates = {}
        for r in rows:
            d = r["device_id"]
            view = self.cmd.view(d)
            updates[d] = {"step": "sending", "command_id": cmd_id, "attempts": attempt, "error": None,
                          "previous": r["previous"] or self.change.previous(view, want.get(d, {}).get("settings", {})),
                          "baseline": {"boots": view.boots if view else 0, "faults": list(view.faults) if view else []}}
        store.mark(self.inv, self.rid, updates)          # before the publish: a kill now leaves `sending`
        self.cmd.expect(cmd_id)
        self.cmd.publish(self.name, payload, [f"pl/{self.ro.site}/{d}" for d in updates])
        store.mark(self.inv, self.rid, {d: {"step": "sent"} for d in updates})
        self.progress(f"  {cmd_id}: sent to {len(updates)} boards")

    def _recover(self, rows: list[dict]) -> None:
        """Boards a killed run left in flight: their answer or their state says
        whether they have it; only `sending` ones that show nothing go again."""
        if not rows:
            return
        self.progress(f"  {len(rows)} boards were in flight when the last run stopped")
        for r in rows:
            self.cmd.expect(r["command_id"])
        deadline = time.monotonic() + self.plan.timeout_s
        while time.monotonic() < deadline and not all(self._answered(r) for r in rows):
            time.sleep(0.2)
        again = defaultdict(list)
        for r in rows:
            if r["step"] == "sending" and not self._answered(r):
                again[r["command_id"]].append(r["device_id"])
        for cmd_id, devices in again.items():
            self.cmd.publish(self.name, check(self.name, cmd_id, self.fields),
                             [f"pl/{self.ro.site}/{d}" for d in devices])
        store.mark(self.inv, self.rid, {r["device_id"]: {"step": "sent"} for r in rows if r["step"] == "sending"})
        self.progress(f"  {sum(map(len, again.values()))} of them sent again (the broker may never have had them)")

    def _answered(self, r: dict) -> bool:
        return r["device_id"] in self.cmd.acks.get(r["command_id"], {}) or \
            self.change.taken(self.cmd.view(r["device_id"])) is True

    def _collect(self, wave: int) -> None:
        rows = store.boards(self.inv, self.rid, wave, ("sent",))
        if not rows:
            return
        deadline = time.monotonic() + self.plan.timeout_s
        while time.monotonic() < deadline and not all(self._answered(r) for r in rows):
            time.sleep(0.1)
        updates = {}
        for r in rows:
            d, ack = r["device_id"], self.cmd.acks.get(r["command_id"], {}).get(r["device_id"])
            if ack is not None and not ack.get("ok"):
                updates[d] = {"step": "failed", "error": f"refused: {ack.get('error')}"}
            elif ack is not None or self.change.taken(self.cmd.view(d)) is True:
                updates[d] = {"step": "acked"}
            else:
                updates[d] = {"step": "failed", "error": f"silent: no answer in {self.plan.timeout_s:g} s"}
        store.mark(self.inv, self.rid, updates)
        c = {s: sum(1 for u in updates.values() if u["step"] == s) for s in ("acked", "failed")}
        self.progress(f"  answers: {c['acked']} ok, {c['failed']} failed")

    def _settle(self, wave: int) -> None:
        """A change that takes effect well after its answer (a release: the update,
        the switch, the new app's probation) is waited for, board by board, so
        that the soak watches it in effect."""
        settled = getattr(self.change, "settled", None)
        rows = store.boards(self.inv, self.rid, wave, ("acked",))
        if settled is None or not rows:
            return
        self.progress(f"  waiting for the change to take effect (at most {self.change.settle_s:g} s)")
        deadline = time.monotonic() + self.change.settle_s
        while time.monotonic() < deadline and not all(
                settled(self.cmd.view(r["device_id"]), r["baseline"] or {"boots": 0}) for r in rows):
            time.sleep(0.2)

    def _soak(self, wave: int) -> None:
        rows = store.boards(self.inv, self.rid, wave, ("acked",))
        if not rows:
            return
        self.progress(f"  soaking {self.plan.soak_s:g} s")
        time.sleep(self.plan.soak_s)
        updates = {}
        for r in rows:
            problem = self._health(r)
            updates[r["device_id"]] = {"step": "failed", "error": problem} if problem else {"step": "healthy"}
        store.mark(self.inv, self.rid, updates)
        sick = sum(1 for u in updates.values() if u["step"] == "failed")
        self.progress(f"  after the soak: {len(rows) - sick} healthy, {sick} unhealthy")

    def _health(self, r: dict) -> str | None:
        view = self.cmd.view(r["device_id"])
        base = r["baseline"] or {"boots": 0, "faults": []}
        if view is None or not view.online:
            return "unhealthy: offline after the change"
        new_faults = sorted(set(view.faults) - set(base["faults"]))
        if new_faults:
            return f"unhealthy: new fault {', '.join(new_faults)}"
        if view.boots - base["boots"] > self.plan.max_boots:
            return f"unhealthy: rebooted {view.boots - base['boots']} times (a reboot loop)"
        health = getattr(self.change, "health", None)   # a kind's own check (OTA: the new version runs)
        return health(view) if health else None

    def _over_threshold(self) -> bool:
        c = store.counts(self.inv, self.rid)
        attempted = sum(n for step, n in c.items() if step != "pending")
        return attempted > 0 and c.get("failed", 0) / attempted > self.plan.threshold

    def _judge(self, where: str) -> bool:
        if not self._over_threshold():
            return False
        c = store.counts(self.inv, self.rid)
        attempted = sum(n for step, n in c.items() if step != "pending")
        reason = (f"{c['failed']} of {attempted} boards failed ({c['failed'] / attempted:.1%}) after {where}, "
                  f"above the {self.plan.threshold:.1%} threshold")
        store.set_status(self.inv, self.rid, "halted", reason)
        record(self.inv, "rollout.halt", self.ro.target, "halted", {"rollout": self.rid, "reason": reason,
                                                                    "counts": c}, self.actor)
        self.progress(f"halted: {reason}")
        return True

    def _finish(self) -> str:
        c = store.counts(self.inv, self.rid)
        store.set_status(self.inv, self.rid, "done", "")
        self._make_desired()
        record(self.inv, "rollout.done", self.ro.target, "done", {"rollout": self.rid, "counts": c}, self.actor)
        self.progress(f"done: {c.get('healthy', 0)} boards healthy")
        return "done"

    def _make_desired(self) -> None:
        """The change is now what the target should run (drift and sync keep it so)."""
        kind, _, name = self.ro.target.partition(":")
        if kind not in ("site", "district", "street", "board"):
            return
        scope_name = "" if kind == "site" else name
        if self.change.kind == "program":
            desired.set_value(self.inv, self.ro.site, kind, scope_name, "program", self.change.doc, self.actor)
        elif self.change.kind == "config":
            for k, v in self.change.settings.items():
                desired.set_value(self.inv, self.ro.site, kind, scope_name, k, v, self.actor)

    # --- resume and roll-back --------------------------------------------------------
    def resume(self) -> str:
        """After a fix: the failed boards are sent the change again, then on with the waves."""
        if self.ro.status not in ("halted", "running"):
            raise RolloutHalted(f"roll-out {self.rid} is {self.ro.status}: nothing to resume")
        failed = store.boards(self.inv, self.rid, steps=("failed",))
        store.mark(self.inv, self.rid, {r["device_id"]: {"step": "pending"} for r in failed})
        store.set_status(self.inv, self.rid, "running", "")
        record(self.inv, "rollout.resume", self.ro.target, "resumed", {"rollout": self.rid, "retrying": len(failed)},
               self.actor)
        self.ro = store.get(self.inv, self.rid)
        return self.run()

    def rollback(self) -> str:
        """Every board that may have the change gets back what it had."""
        store.set_status(self.inv, self.rid, "rolling_back", "")
        rows = [r for r in store.boards(self.inv, self.rid) if r["step"] not in ("pending", "reverted")]
        plans: dict[str, tuple] = {}
        updates = {}
        for r in rows:
            view = self.cmd.view(r["device_id"])
            if r["step"] != "reverting" and (r["previous"] is None or self.change.taken(view) is False):
                updates[r["device_id"]] = {"step": "reverted", "error": "never took the change"}
                continue
            fix = self.change.revert(self.inv, r["previous"])
            if isinstance(fix, str):
                updates[r["device_id"]] = {"step": "revert_failed", "error": fix}
                continue
            key = repr(fix)
            plans.setdefault(key, (fix, []))[1].append(r)
        store.mark(self.inv, self.rid, updates)
        for n, (fix, group) in enumerate(plans.values()):
            name, fields = fix
            cmd_id = f"ro{self.rid}-back{n}"
            payload = check(name, cmd_id, fields)
            store.mark(self.inv, self.rid, {r["device_id"]: {"step": "reverting"} for r in group})
            self.cmd.expect(cmd_id)
            self.cmd.publish(name, payload, [f"pl/{self.ro.site}/{r['device_id']}" for r in group])
            answers = self.cmd.wait(cmd_id, [r["device_id"] for r in group], self.plan.timeout_s)
            done = {}
            for r in group:
                ack = answers.get(r["device_id"])
                if ack is not None and ack.get("ok"):
                    done[r["device_id"]] = {"step": "reverted", "error": None}
                elif self.change.reverted(self.cmd.view(r["device_id"]), r["previous"]):
                    done[r["device_id"]] = {"step": "reverted", "error": None}
                else:
                    done[r["device_id"]] = {"step": "revert_failed",
                                            "error": f"refused: {ack.get('error')}" if ack else "silent"}
            store.mark(self.inv, self.rid, done)
            self.progress(f"  {cmd_id}: {sum(1 for u in done.values() if u['step'] == 'reverted')} of "
                          f"{len(group)} boards back")
        c = store.counts(self.inv, self.rid)
        store.set_status(self.inv, self.rid, "rolled_back", "")
        record(self.inv, "rollout.rollback", self.ro.target, f"rolled back: {c.get('reverted', 0)} reverted, "
               f"{c.get('revert_failed', 0)} could not be", {"rollout": self.rid, "counts": c}, self.actor)
        return "rolled_back"
