"""A pilot street's month on its own boards, in compressed time.

The boards are vboards running the real firmware on the real broker, the
collector keeping their history as it would in the street. The rig jumps their
time (host_tools/vboard/time_skip.py) over the hours where nothing changes and
lands just before and just after everything that does: each dimming step and
its fade, each passer-by (the PIR, then the end of the presence hold and its
fade, on the lamp and the neighbours it lit), and the incidents (a lamp that
fails for some nights, a network outage, a power cut). A board meters,
reports and misbehaves as it would over the month, and its own meter is what
the reports read.

A jump is never longer than the boards' `tele` interval, nor than what keeps
their MQTT link from looking dead: a board that sent its `tele` just before a
jump has not heard its broker for the interval plus the jump, which must stay
under the keepalive's ping point (4/5 of it). Hence the pilot's 15-minute
`tele` (PILOT_TELE_S): 30 minutes of silence at most, under the default
keepalive's 32.

The collector stamps what carries no time of its own (`status`, a Will) with
the world's clock (WorldClock): the month's, not today's."""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from ..fleet.collector import Collector
from ..paths import firmware_module
from ..vboard.control import VBoardClient
from .simulate import passersby

config_mod = firmware_module("config")

PILOT_TELE_S = 900
EDGE_S = 2                  # landings this far before and after a change: it happens within a short jump
SETTLE_S = 1.0              # the boards' sample period (lampctl.sensing)
WAIT_STEP_S = 5.0           # the world's steps while a board reconnects
SETTLE_MAX = 30             # short jumps a change may take to settle (the longest fade that is not the program's)
HOLD_S = config_mod.DEFAULTS["presence_hold_s"]
FADE_OUT_S = config_mod.DEFAULTS["presence_fade_out_ms"] / 1000


@dataclass
class WorldClock:
    """The pilot's time: where the month started, plus real time since, plus every jump."""
    start: float
    skipped: float = 0.0
    _real0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return self.start + (time.monotonic() - self._real0) + self.skipped


@dataclass
class Incidents:
    """Which boards (by index along the street) meet which trouble, by day of the month
    (a day runs from noon to noon, as a lighting day does)."""
    lamp_failed: dict[int, tuple[int, int]] = field(default_factory=dict)   # board -> (from day, to day)
    outage: dict[int, int] = field(default_factory=dict)                    # board -> day: off the network 21:00-03:00
    power_cut: dict[int, int] = field(default_factory=dict)                 # board -> day: no mains 02:00-02:10

    @classmethod
    def typical(cls, boards: int, days: int) -> "Incidents":
        """One of each over the month, on different boards where the street has them."""
        pick = lambda k: k % boards   # noqa: E731
        return cls(lamp_failed={pick(1): (min(9, days - 1), min(12, days))}, outage={pick(2): min(5, days - 1)},
                   power_cut={pick(3): min(15, days - 1)})


@dataclass(order=True)
class Moment:
    at: float
    what: str = field(compare=False)            # "before", "after" (a change), "pir", "fault", "outage", "power"
    board: int = field(default=-1, compare=False)
    arg: object = field(default=None, compare=False)


def plan(evaluators: list, start: int, days: int, motions_per_night: float, incidents: Incidents,
         rng: random.Random) -> list[Moment]:
    """Every moment the month must land on, in time order. `start` is the first
    day's noon (local time, as a UTC second): the days count from there."""
    end = start + days * 86400
    out: list[Moment] = []
    for i, ev in enumerate(evaluators):
        t = start
        while t < end:                                   # each night's steps, before and after their fades
            for at, _level, fade in ev.steps(t):
                if start < at < end:
                    out += [Moment(at - EDGE_S, "before"), Moment(at + fade + EDGE_S, "after")]
            t += 86400
        for m in passersby(rng, ev, start, end, motions_per_night):
            # the hold's end starts the fade out when the board sees it: land just after
            out += [Moment(m, "pir", i), Moment(m + HOLD_S - EDGE_S, "before"), Moment(m + HOLD_S + 1, "before"),
                    Moment(m + HOLD_S + 1 + FADE_OUT_S + EDGE_S, "after")]
    hour = lambda day, h: start + day * 86400 + h * 3600   # noqa: E731  (h hours after that day's noon)
    for i, (first, last) in incidents.lamp_failed.items():
        out += [Moment(hour(first, 0), "fault", i, True), Moment(hour(last, 0), "fault", i, False)]
    for i, day in incidents.outage.items():
        out += [Moment(hour(day, 9), "outage", i, True), Moment(hour(day, 15), "outage", i, False)]
    for i, day in incidents.power_cut.items():
        out += [Moment(hour(day, 14), "power", i, False), Moment(hour(day, 14 + 1 / 6), "power", i, True)]
    return sorted({(m.at, m.what, m.board): m for m in out if start <= m.at < end}.values())


class Street:
    """The street's boards (vboards, by device id, in street order), driven through
    the month together; `collector` is the one keeping their history."""

    def __init__(self, rigs: dict[str, VBoardClient], world: WorldClock, collector: Collector,
                 max_jump_s: float = PILOT_TELE_S):
        self.devices, self.rigs = list(rigs), list(rigs.values())
        self.world, self.collector = world, collector
        self.max_jump_s = max_jump_s
        self.jumps = 0
        self._pool = ThreadPoolExecutor(len(self.rigs))

    def close(self) -> None:
        self._pool.shutdown()

    def run(self, moments: list[Moment], end: float, progress: Callable[[float], None] | None = None) -> dict[str, float]:
        """Through every moment to `end`; returns the energy each lamp really drew
        meanwhile (Wh, the rig's power meter), by device."""
        drawn = {d: -r.status()["lamp_energy_wh"] for d, r in zip(self.devices, self.rigs)}
        for m in [*moments, Moment(end, "before")]:
            self._advance_to(m.at)
            self._act(m)
            if m.what != "before":
                self._settle()
            if progress:
                progress(m.at)
        return {d: drawn[d] + r.status()["lamp_energy_wh"] for d, r in zip(self.devices, self.rigs)}

    def _advance_to(self, at: float) -> None:
        while (gap := at - self.world.now()) > 0.5:
            self._jump(min(gap, self.max_jump_s))

    def _jump(self, seconds: float) -> list[float]:
        """Every board `seconds` ahead; their lamps' power after it."""
        self.world.skipped += seconds      # the world first: nothing is heard before it was sent
        after = list(self._pool.map(lambda rig: rig.skip(seconds)["lamp_power_w"], self.rigs))
        self.jumps += 1
        return after

    def _settle(self) -> None:
        """After a change, short jumps until every lamp's power holds, then one more:
        the boards apply the change (a level, the end of a fade) and then meter a
        sample at the new power. Within one wake-up a board may sample before it
        changes its level, so a long jump straight after a change would be metered
        from the power before it (an error of a second in real time, of the whole
        jump here)."""
        before = self._jump(SETTLE_S)
        for _ in range(SETTLE_MAX):
            after = self._jump(SETTLE_S)
            if after == before:
                return
            before = after
        raise RuntimeError(f"the lamps' power did not settle within {SETTLE_MAX} s of a change: {after}")

    def _act(self, m: Moment) -> None:
        if m.what in ("before", "after"):
            return
        rig = self.rigs[m.board]
        if m.what == "pir":                  # someone walks past: the sensor's pulse
            rig.pir(True)
            rig.pir(False)
        elif m.what == "fault":
            rig.fault("lamp_failed", bool(m.arg))
        elif m.what == "outage":
            since = self.world.now()
            rig.fault("network_down", bool(m.arg))
            if not m.arg:
                self._wait_online(m.board, since)
        elif m.what == "power":
            since = self.world.now()
            if m.arg:
                rig.power_on()
                self._wait_online(m.board, since)
            else:
                rig.power_cut()

    def _wait_online(self, board: int, since: float, timeout_s: float = 600.0) -> None:
        """Until the collector has heard the board come back (after `since`, world
        time). The world moves on meanwhile in short jumps: a board's reconnection
        waits out its backoff on its own clock."""
        device, waited = self.devices[board], 0.0
        while waited < timeout_s:
            time.sleep(0.05)                    # the broker and the collector are real time
            with self.collector.lock:
                view = self.collector.views.get(device)
                if view is not None and view.online and (view.status_at or 0) >= since:
                    return
            self._jump(WAIT_STEP_S)
            waited += WAIT_STEP_S
        raise TimeoutError(f"{device} did not come back online within {timeout_s:g} s of its time")
