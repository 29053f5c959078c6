# The board's long-lived tasks outlive a moment with no heap (MemoryError):
# a sensing task that died would leave the lamp unmetered and unwatched, a link
# task that died would never rejoin the network. Run under CPython and
# MicroPython; the chip's `machine` and `network` are stand-ins here (the tasks
# only touch them through the methods replaced below).
import asyncio
import sys
import time


class _Absent:
    """A chip module the unit under test imports but never calls here."""


for _name in ("machine", "network"):
    try:
        __import__(_name)
    except ImportError:
        sys.modules[_name] = _Absent()

from lampctl import link as link_mod  # noqa: E402
from lampctl import sensing as sensing_mod  # noqa: E402
from lampctl.events import Events  # noqa: E402
from lampctl.metering import Meter  # noqa: E402

NO_ROOM = "memory allocation failed, allocating 64 bytes"
LAMP = {"rated_power_w": 100.0, "standby_power_w": 0.5}


class _Fast:
    """asyncio for the task under test: a sleep is one yield, so rounds take no time."""

    @staticmethod
    def sleep_ms(ms):
        return asyncio.sleep(0)


class _Lamp:
    """The controller and the sensors, as a sensing step reads them; the sensors
    find no room on their `fail_at`th poll."""

    def __init__(self, fail_at):
        self.fail_at = fail_at
        self.polls = 0
        self.power_w = 60.0
        self.lux = 3.0

    def level(self):
        return 60

    def utc(self):
        return 1796000000

    def poll(self, now):
        self.polls += 1
        if self.polls == self.fail_at:
            raise MemoryError(NO_ROOM)

    def set_ambient(self, lux):
        pass

    def set_burn_hours(self, h):
        pass

    def errors(self):
        return ()

    def update(self, *reading):
        return []


def _died_within(module, task, n):
    """Run the task for n scheduler rounds, its module's sleeps made instant; True if it ended."""
    async def run():
        t = asyncio.create_task(task)
        for _ in range(n):
            await asyncio.sleep(0)
        done = t.done()
        t.cancel()
        return done
    real = module.asyncio
    module.asyncio = _Fast
    try:
        return asyncio.run(run())
    finally:
        module.asyncio = real


class _Sensing(sensing_mod.Sensing):
    def __init__(self):  # its parts are set by the test, not made from a board config
        pass


class _Link(link_mod.Link):
    def __init__(self):
        pass


def test_a_second_with_no_room_does_not_stop_the_metering():
    s = _Sensing()
    lamp = _Lamp(fail_at=2)
    s.ctl = s.sensors = s.diag = lamp
    s.events, s._temp, s.stable, s.started_ms = Events(), None, True, 0
    s.meter = Meter(LAMP, now_ms=time.ticks_ms())  # nothing due to save: the test writes no flash
    assert not _died_within(sensing_mod, s.run(), 10), "the sensing task died of one MemoryError"
    assert lamp.polls >= 5, "no sample after the second with no room: %d polls" % lamp.polls


class _Nic:
    def isconnected(self):
        return True


def test_a_clock_sync_with_no_room_does_not_stop_the_link():
    link = _Link()
    link.nic, link.ethernet, link.events, link.synced_at, link.ntp_retry_at = _Nic(), False, Events(), None, 0
    syncs = []

    async def sync():
        syncs.append(1)
        if len(syncs) == 1:
            raise MemoryError(NO_ROOM)  # ntptime's import, the worker's job
        link.synced_at = link_mod.clock.utc()

    link._sync_clock = sync
    assert not _died_within(link_mod, link.run(), 10), "the link task died of one MemoryError: the board would never rejoin"
    assert len(syncs) == 2 and link.synced_at is not None, "the clock was not synced on the next round"
