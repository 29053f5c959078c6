# What the board says under a command burst: a state that changes every turn
# while the broker's PUBACKs wait behind the burst goes out one at a time, the
# newest once the one before is acknowledged; it never piles up a publish (a
# task holding its payload) a turn, which took a 96 KB board's heap from 16 to
# 8 KB free in a 1,000-command burst. And a turn that finds no room for an
# uplink (MemoryError) loses none: the next turn sends it, without a seq gap.
import asyncio
import os
import sys
import time

from lampctl.events import Events
from lampctl.uplink import Uplink

WHERE = "/tmp/pilotlight-uplink-%s-%d" % (sys.implementation.name, time.time_ns())


class Client:
    """The MQTT client with its window full: no publish is acknowledged until release()."""
    connected = True
    max_inflight = 8

    def __init__(self):
        self.sent = []
        self.acked = asyncio.Event()

    async def publish(self, topic, payload, qos=0, retain=False):
        self.sent.append((topic, payload))
        await self.acked.wait()
        return True


class Lamp:
    """The controller, the sensing and the link: only what a turn reads."""
    def __init__(self):
        self.level = 40
        self.diag = self
        self.meter = self
        self.sensors = self

    def snapshot(self):
        return {"level": self.level, "mode": "override"}

    def utc(self):
        return 1796000000

    def active(self):
        return []

    def first(self):
        return None


def _in_scratch_dir(test):
    """Run in a directory of its own: the uplink keeps its boot count and outbox on 'flash'."""
    def run():
        home = os.getcwd()
        os.mkdir(WHERE)
        os.chdir(WHERE)
        try:
            test()
        finally:
            os.chdir(home)
            for name in os.listdir(WHERE):
                if name != "outbox":
                    os.remove(WHERE + "/" + name)
            try:
                os.rmdir(WHERE + "/outbox")
            except OSError:
                pass
            os.rmdir(WHERE)
    return run


def _states(client):
    return [p for t, p in client.sent if t.endswith("/state")]


@_in_scratch_dir
def test_a_state_changing_every_turn_behind_a_full_window_goes_one_at_a_time_the_newest_next():
    async def burst():
        lamp, client = Lamp(), Client()
        up = Uplink({"tele_interval_s": 3600}, lamp, lamp, lamp, lamp, client, "pl/metz/d1")
        up.state = lamp.snapshot  # the state as the lamp has it (no release or config to read here)
        up.tele = lambda: {"heap_free": 1}
        last = None
        for level in range(41, 46):  # a level command a turn
            lamp.level = level
            last = up._turn(last)
            await asyncio.sleep(0)
        assert len(_states(client)) == 1, "a state publish a turn piled up behind the full window"
        assert '"level":41' in _states(client)[0]
        client.acked.set()  # the PUBACKs come in
        for _ in range(3):
            await asyncio.sleep(0)
        up._turn(last)
        await asyncio.sleep(0)
        assert len(_states(client)) == 2 and '"level":45' in _states(client)[1], "not the newest state next"
    asyncio.run(burst())


def _uplink(client, events):
    lamp = Lamp()
    up = Uplink({"tele_interval_s": 3600}, lamp, lamp, lamp, events, client, "pl/metz/d1")
    up.state = lamp.snapshot
    up.tele = lambda: {"heap_free": 1}
    return up


def _no_room_once(up, kind):
    """The next `kind` uplink finds no room for its publishing task, as on a full heap."""
    publish, failed = up._publish, []

    def making(topic, *args):
        if topic.endswith("/" + kind) and not failed:
            failed.append(topic)
            raise MemoryError("memory allocation failed, allocating 48 bytes")
        return publish(topic, *args)
    up._publish = making
    return failed


def _turn(up, last):
    """One turn as Uplink.run takes it: a MemoryError ends the turn, not the task."""
    try:
        return up._turn(last), None
    except MemoryError as e:
        return last, e


@_in_scratch_dir
def test_a_turn_with_no_room_loses_no_event_and_leaves_no_seq_gap():
    async def turns():
        client, events = Client(), Events()
        client.acked.set()
        up = _uplink(client, events)
        for n in range(3):
            events.emit("motion", 1796000000 + n, n=n)
        failed = _no_room_once(up, "event")
        last, err = _turn(up, None)
        assert err is not None and failed, "no MemoryError was made"
        for _ in range(2):
            last, err = _turn(up, last)
            await asyncio.sleep(0)
        sent = [p for t, p in client.sent if t.endswith("/event")]
        assert ['"n":%d' % n in p for n, p in enumerate(sent)] == [True] * 3, sent
        seqs = sorted(int(p.split('"seq":')[1].split(",")[0].rstrip("}")) for t, p in client.sent)
        assert seqs == list(range(1, len(seqs) + 1)), "a seq gap: %r" % seqs
        assert up.flying == 0, "a publish that never started is counted in the air"
    asyncio.run(turns())


@_in_scratch_dir
def test_a_state_that_found_no_room_goes_out_the_next_turn():
    async def turns():
        client = Client()
        client.acked.set()
        up = _uplink(client, Events())
        failed = _no_room_once(up, "state")
        last, err = _turn(up, None)
        assert err is not None and failed
        await asyncio.sleep(0)
        _turn(up, last)
        await asyncio.sleep(0)
        assert len(_states(client)) == 1, "the state never went: the board stays silent about its level"
    asyncio.run(turns())


class _Ticks:
    """time for the uplink, with a tick counter the test moves (the rest is the real module)."""
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def __getattr__(self, name):
        return getattr(time, name)


async def _turns(up, last, ticks, ms):
    ticks.ms = ms
    last = up._turn(last)
    await asyncio.sleep(0)   # the publish's task runs
    return last


@_in_scratch_dir
def test_a_tele_half_a_period_late_starts_the_cadence_again_rather_than_sending_twice():
    # a loop that stalled (or a vboard's compressed time) finds its tele 0.6 periods late
    import lampctl.uplink as uplink_module
    async def turns():
        client, ticks = Client(), _Ticks()
        client.acked.set()
        up = _uplink(client, Events())
        uplink_module.time = ticks
        try:
            last = await _turns(up, None, ticks, 0)
            last = await _turns(up, last, ticks, 5760000)            # 1.6 hours later: one tele, late
            last = await _turns(up, last, ticks, 5761000)            # the next turn, a second on
            last = await _turns(up, last, ticks, 5760000 + 3599000)  # the cadence restarted from the late one
            late = sum(t.endswith("/tele") for t, p in client.sent)
            await _turns(up, last, ticks, 5760000 + 3600000)
            next_on = sum(t.endswith("/tele") for t, p in client.sent)
        finally:
            uplink_module.time = time
        assert late == 2, "%d teles: a late one was followed by another at once" % late
        assert next_on == 3, "the next tele is not a period after the late one"
    asyncio.run(turns())
