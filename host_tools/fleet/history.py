"""Each board's history, kept in the inventory for the reports (host_tools/reports).

The fleet collector hands every decoded uplink to `History.record` (through
`Recorder`, on its own thread); only what the reports need is kept, and only
when it changes:

- energy: the board's own counter (`tele.energy_wh`, kept in mWh), only the
  samples where the counter's rate changes (within TOLERANCE_WH), the
  sample on each side of a counter reset, so no Wh is lost or counted twice,
  and the newest reading (replaced by the next), so a report reads up to now;
- level and mode (from `state`), on change;
- faults raised and cleared (from `event`), with when the fleet heard of them;
- online/offline (from `status` and the Will), on change.

A board replaced on a pole is a new source (device, pole): the pole's energy
is the sum of its sources, each with its own counter.
"""
from __future__ import annotations

from ..inventory.db import Inventory

MODES = ("schedule", "presence", "override", "failsafe", "safe")
# A kept energy sample may be dropped when the straight line between its
# neighbours passes within this of it: the energy in any window is then right
# to within twice this, whatever the window.
TOLERANCE_WH = 0.5
_INF = float("inf")


class _Meter:
    """One source's counter, compressed as it arrives (a swinging door): `anchor`
    is the last stored sample, `end` the newest one seen and not stored, and
    (lo, hi) the slopes from the anchor that pass within tolerance of every
    sample in between."""

    def __init__(self, t: int, wh: float):
        self.anchor = (t, wh)
        self.end = None
        self.lo, self.hi = -_INF, _INF

    def newest(self) -> tuple:
        return self.end or self.anchor

    def offer(self, t: int, wh: float) -> list[tuple]:
        """The samples to store now that (t, wh) arrived."""
        new = (t, wh)
        if wh < self.newest()[1]:                         # counter reset: keep both sides of it
            keep = [self.end, new] if self.end else [new]
            self.anchor, self.end, self.lo, self.hi = new, None, -_INF, _INF
            return keep
        t0, w0 = self.anchor
        lo, hi = self.lo, self.hi
        if self.end:                                      # the old end becomes a sample in between
            te, we = self.end
            lo, hi = max(lo, (we - TOLERANCE_WH - w0) / (te - t0)), min(hi, (we + TOLERANCE_WH - w0) / (te - t0))
        if lo <= (wh - w0) / (t - t0) <= hi:
            self.lo, self.hi, self.end = lo, hi, new
            return []
        keep = [self.end]
        self.anchor, self.end, self.lo, self.hi = self.end, new, -_INF, _INF
        return keep


class History:
    """Writes one board's uplinks into the history tables. One per collector."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self._sources: dict[str, int] = {}       # device -> current source id
        self._energy: dict[int, _Meter] = {}
        self._tail: dict[int, int | None] = {}   # the stored newest reading's time, while not a kept sample
        self._level: dict[int, tuple[int, int]] = {}
        self._online: dict[int, int] = {}
        self._about: dict[int, tuple[int, str | None]] = {}

    def record(self, device: str, kind: str, payload, received: int) -> None:
        """One uplink: `kind` is the topic's last segment (status/state/tele/event),
        `payload` the decoded JSON (or the status string), `received` the fleet's UTC."""
        src = self._source(device)
        if kind == "status":
            self._link(src, received, payload == "online")
            return
        if not isinstance(payload, dict):
            return
        t = payload.get("ts") if isinstance(payload.get("ts"), int) else received
        if kind == "tele":
            self._tele(src, t, payload)
        elif kind == "state":
            self._state(src, t, payload)
        elif kind == "event" and payload.get("kind") == "fault":
            self._fault(src, t, payload, received)

    # -- sources

    def _source(self, device: str) -> int:
        if device in self._sources:
            return self._sources[device]
        row = self.inv.one("SELECT pole_id FROM boards WHERE device_id = ?", (device,))
        pole = row["pole_id"] if row else None
        with self.inv.transaction() as c:
            c.execute("INSERT OR IGNORE INTO hist_sources (device_id, pole_id) VALUES (?, ?)", (device, pole))
            src = c.execute("SELECT id FROM hist_sources WHERE device_id = ? AND pole_id IS ?",
                            (device, pole)).fetchone()[0]
        self._sources[device] = src
        self._resume(src)
        return src

    def _resume(self, src: int) -> None:
        """Pick up where a previous collector stopped, so a restart stores no duplicate."""
        about = self.inv.one("SELECT estimated, fw FROM hist_sources WHERE id = ?", (src,))
        self._about[src] = (about["estimated"], about["fw"])
        e = self.inv.one("SELECT t, mwh FROM hist_energy WHERE src = ? ORDER BY t DESC LIMIT 1", (src,))
        if e:
            self._energy[src] = _Meter(e["t"], e["mwh"] / 1000)
        lv = self.inv.one("SELECT level, mode FROM hist_level WHERE src = ? ORDER BY t DESC LIMIT 1", (src,))
        if lv:
            self._level[src] = (lv["level"], lv["mode"])
        ln = self.inv.one("SELECT online FROM hist_link WHERE src = ? ORDER BY t DESC LIMIT 1", (src,))
        if ln:
            self._online[src] = ln["online"]

    # -- kinds

    def _tele(self, src: int, t: int, tele: dict) -> None:
        wh = tele.get("energy_wh")
        if not isinstance(wh, (int, float)) or isinstance(wh, bool) or wh < 0:
            return
        self._describe(src, estimated=1 if tele.get("estimated") else 0, fw=tele.get("fw"))
        meter = self._energy.get(src)
        if meter is None:
            meter = self._energy[src] = _Meter(t, float(wh))
            self._store_energy(src, meter, [])
        elif t > meter.newest()[0]:                          # else a resent record: already counted
            self._store_energy(src, meter, meter.offer(t, float(wh)))

    def _describe(self, src: int, estimated: int = 0, fw=None) -> None:
        """Keep the source's estimated flag and firmware version, writing only on change."""
        fw = fw if isinstance(fw, str) else None
        known = self._about.get(src, (0, None))
        now = (max(known[0], estimated), fw or known[1])
        if now != known:
            with self.inv.transaction() as c:
                c.execute("UPDATE hist_sources SET estimated = ?, fw = ? WHERE id = ?", (*now, src))
            self._about[src] = now

    def _store_energy(self, src: int, meter: _Meter, kept: list[tuple]) -> None:
        """The samples the compression kept, and the newest reading in place of the
        previous newest unless that one was kept: a report run while the collector
        runs reads up to now (a counter that runs straight for days, a failed lamp's
        standby, keeps no sample in between), and a restart loses nothing."""
        newest, old = meter.newest(), self._tail.get(src)
        with self.inv.transaction() as c:
            if old is not None and all(k[0] != old for k in kept):
                c.execute("DELETE FROM hist_energy WHERE src = ? AND t = ?", (src, old))
            c.executemany("INSERT OR REPLACE INTO hist_energy (src, t, mwh) VALUES (?, ?, ?)",
                          [(src, t, round(wh * 1000)) for t, wh in {*kept, newest}])
        self._tail[src] = meter.end[0] if meter.end else None   # the anchor stays: it is a kept sample

    def _state(self, src: int, t: int, state: dict) -> None:
        level, mode = state.get("level"), state.get("mode")
        if not isinstance(level, (int, float)) or mode not in MODES:
            return
        entry = (round(level * 10), MODES.index(mode))
        self._describe(src, fw=state.get("fw"))
        if self._level.get(src) == entry:
            return
        with self.inv.transaction() as c:
            c.execute("INSERT OR REPLACE INTO hist_level (src, t, level, mode) VALUES (?, ?, ?, ?)", (src, t, *entry))
        self._level[src] = entry

    def _fault(self, src: int, t: int, event: dict, received: int) -> None:
        fault, st = event.get("fault"), event.get("state")
        if not isinstance(fault, str) or st not in ("raised", "cleared"):
            return
        with self.inv.transaction() as c:
            c.execute("INSERT OR IGNORE INTO hist_fault (src, t, fault, raised, seen) VALUES (?, ?, ?, ?, ?)",
                      (src, t, fault, 1 if st == "raised" else 0, max(received, t)))

    def _link(self, src: int, t: int, online: bool) -> None:
        value = 1 if online else 0
        if self._online.get(src) == value:
            return
        with self.inv.transaction() as c:
            c.execute("INSERT OR REPLACE INTO hist_link (src, t, online) VALUES (?, ?, ?)", (src, t, value))
        self._online[src] = value


class Recorder:
    """The collector's hook: takes uplinks on the MQTT thread (cheap, under the
    collector's lock); the collector hands them over at each flush, on its own
    thread, where its inventory connection lives."""

    def __init__(self):
        self.pending: list = []
        self.history: History | None = None

    def __call__(self, up, view) -> None:
        self.pending.append((up.device, up.kind, up.body, int(up.at)))

    def take(self) -> list:
        batch, self.pending = self.pending, []
        return batch

    def write(self, inv: Inventory, batch: list) -> None:
        if self.history is None or self.history.inv is not inv:
            self.history = History(inv)
        with inv.transaction():
            for device, kind, body, at in batch:
                self.history.record(device, kind, body, at)
