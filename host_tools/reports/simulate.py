"""A pilot's month in compressed time: the uplinks a street of lamps sends,
fed through `History.record` exactly as the collector feeds them.

Each lamp follows its dimming program with the firmware's own evaluator,
boosts on motion at the street's activity, meters its power as a board does
(standby + rated x level), and sends `tele` every 5 minutes, `state` on
change, `status` online/offline. Scripted incidents give the reports
something to find: a lamp that fails for some nights, a meter reset, a board
replaced mid-period, a lamp offline for a day.
"""
from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass, field

from ..inventory import boards as inv_boards
from ..inventory.db import Inventory
from ..paths import firmware_module
from ..fleet.history import History
from .scope import lamps as lamps_in

program_mod = firmware_module("program")
tz_mod = firmware_module("tz")
TELE_S = 300
STANDBY_W = 0.6
FW = "0.1.0"


@dataclass
class Incidents:
    """Which poles (by index in the street order) meet which trouble, and when (day index)."""
    lamp_failed: dict[int, tuple[int, int]] = field(default_factory=dict)   # pole -> (from day, to day)
    meter_reset: dict[int, int] = field(default_factory=dict)               # pole -> day
    replaced: dict[int, int] = field(default_factory=dict)                  # pole -> day
    offline: dict[int, int] = field(default_factory=dict)                   # pole -> day (24 h)

    @classmethod
    def typical(cls, lamps: int) -> "Incidents":
        """One of each, spread over the street (fewer when it is short)."""
        pick = lambda k: k % max(lamps, 1)   # noqa: E731
        return cls(lamp_failed={pick(1): (9, 12)}, meter_reset={pick(2): 15}, replaced={pick(3): 20},
                   offline={pick(4): 5})


@dataclass
class _Board:
    device: str
    wh: float = 0.0
    burn_h: float = 0.0
    seq: int = 0
    level: float = -1.0
    mode: str = ""


def simulate(inv: Inventory, site: str, program_doc: dict, tz_spec: str, first_day: int, days: int,
             district: str | None = None, street: str | None = None, motions_per_night: float = 20.0,
             presence_level: float = 90.0, hold_s: int = 120, incidents: Incidents | None = None,
             seed: int = 1, progress=None) -> dict:
    """Write `days` days of history for the boards on the chosen poles. Returns the
    counts, and `truth`: per pole, (UTC, Wh used since the start) as metered."""
    rng = random.Random(seed)
    incidents = incidents or Incidents()
    program = program_mod.Program(program_doc)
    tz = tz_mod.TZ(tz_spec)
    history = History(inv)
    scope = [lamp for lamp in lamps_in(inv, site, district, street)]
    start, end = first_day * 86400, (first_day + days) * 86400
    sent, truth = 0, {}
    for i, lamp in enumerate(scope):
        chip = _board_on(inv, lamp.pole)
        if chip is None:
            continue
        board = _Board(chip)
        log = truth.setdefault(lamp.pole, [(start, 0.0)])
        evaluator = program_mod.Evaluator(program, tz, lamp.lat, lamp.lon)
        motions = passersby(rng, evaluator, start, end, motions_per_night)
        with inv.transaction():                 # one commit a lamp, as a collector batches its writes
            board, n = _run_lamp(inv, history, lamp, i, board, evaluator, motions, incidents, start, end, log,
                                 presence_level, hold_s)
        sent += n
        if progress:
            progress(i + 1, len(scope))
    return {"lamps": len(scope), "uplinks": sent, "truth": truth}


def _run_lamp(inv: Inventory, history: History, lamp, i: int, board: _Board, evaluator, motions: list[int],
              incidents: Incidents, start: int, end: int, log: list, presence_level: float, hold_s: int):
    """One lamp's days, step by tele interval: its meter, its uplinks, its incidents."""
    sent, used = 0, 0.0
    history.record(board.device, "status", "online", start)
    for t in range(start, end, TELE_S):
        day = (t - start) // 86400
        if incidents.replaced.get(i) == day and t % 86400 == 43200:
            board = _replace(inv, history, board, lamp.pole, t)
        if incidents.meter_reset.get(i) == day and t % 86400 == 43200:
            board.wh = 0.0
        level, mode = _level(evaluator, motions, t, presence_level, hold_s)
        span = incidents.lamp_failed.get(i)
        failed = bool(span) and span[0] <= day < span[1]
        watts = STANDBY_W + (0 if failed else lamp.rated_w * level / 100)
        board.wh += watts * TELE_S / 3600
        used += watts * TELE_S / 3600
        log.append((t + TELE_S, used))
        board.burn_h += TELE_S / 3600 if level > 0 and not failed else 0
        if incidents.offline.get(i) == day:
            if t % 86400 == 0:
                history.record(board.device, "status", "offline", t)
            continue
        if incidents.offline.get(i) == day - 1 and t % 86400 == 0:
            history.record(board.device, "status", "online", t)
        sent += _uplinks(history, board, t, level, mode, failed, i, incidents, day)
    return board, sent


def _board_on(inv: Inventory, pole: str) -> str | None:
    row = inv.one("SELECT device_id FROM boards WHERE pole_id = ?", (pole,))
    return row["device_id"] if row else None


def _replace(inv: Inventory, history: History, old: _Board, pole: str, t: int) -> _Board:
    """A technician swaps the board: the old one retires, a new one takes the pole."""
    history.record(old.device, "status", "offline", t)
    new_chip = "240ac4" + hashlib.sha256(f"{old.device}@{t}".encode()).hexdigest()[:6]
    old_type = inv.one("SELECT board_type FROM boards WHERE device_id = ?", (old.device,))["board_type"]
    inv_boards.set_state(inv, old.device, "retired", reason="replaced in the simulated month")
    inv_boards.register(inv, new_chip, old_type)
    inv_boards.bind_pole(inv, new_chip, pole)
    history.record(new_chip, "status", "online", t)
    return _Board(new_chip)


def passersby(rng: random.Random, evaluator, start: int, end: int, per_night: float) -> list[int]:
    """When someone walks past a lamp: a Poisson process over the hours it is lit."""
    out, t = [], start
    while t < end:
        level, nxt = evaluator.level(t)
        if level > 0:
            span = min(nxt, end) - t
            n = _poisson(rng, per_night * span / (12 * 3600))
            out.extend(sorted(t + rng.randrange(max(span, 1)) for _ in range(n)))
        t = min(nxt, end) if nxt > t else t + 60
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, 2.718281828 ** -mean
    while True:
        p *= rng.random()
        if p < limit:
            return n
        n += 1


def _level(evaluator, motions: list[int], t: int, presence_level: float, hold_s: int) -> tuple[float, str]:
    scheduled, _ = evaluator.level(t)
    k = bisect.bisect_right(motions, t)
    if scheduled > 0 and k and t - motions[k - 1] < hold_s and presence_level > scheduled:
        return presence_level, "presence"
    return scheduled, "schedule"


def _uplinks(history: History, board: _Board, t: int, level: float, mode: str, failed: bool, i: int,
             incidents: Incidents, day: int) -> int:
    sent = 0
    if (level, mode) != (board.level, board.mode):
        board.seq += 1
        history.record(board.device, "state", {"level": level, "mode": mode, "fw": FW, "seq": board.seq, "ts": t}, t)
        board.level, board.mode = level, mode
        sent += 1
    span = incidents.lamp_failed.get(i)
    if span and t % 86400 == 0 and day in span:
        board.seq += 1
        history.record(board.device, "event", {"kind": "fault", "fault": "lamp_failed",
                                               "state": "raised" if day == span[0] else "cleared",
                                               "seq": board.seq, "ts": t}, t + 7)
        sent += 1
    board.seq += 1
    end = t + TELE_S                     # the counter as it stands at the end of the interval
    history.record(board.device, "tele", {"energy_wh": round(board.wh, 2), "burn_h": round(board.burn_h, 3),
                                          "estimated": False, "seq": board.seq, "ts": end}, end)
    return sent + 1
