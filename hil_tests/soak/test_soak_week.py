"""A week on one lamp in compressed time: seven nights, each with dusk and
dawn, passers-by, fleet commands, a broker outage and a power cut. The board
must keep its schedule, answer every command, lose no uplink (`seq` has no
hole within a boot) and not leak heap (its low-water mark stays put).

The clock jumps over the quiet hours (the rig's clock, which is also what the
board's NTP hears); everything the lamp does is real time on the vboard."""
import calendar
import datetime
import json

import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import PARIS, lamp_config, level_at
from host_tools.vboard.board import DEFAULT_HEAP

pytestmark = [pytest.mark.soak, pytest.mark.needs_clock_jump, pytest.mark.needs_pir, pytest.mark.needs_power_cut,
              pytest.mark.needs_light, pytest.mark.needs_reset, pytest.mark.needs_lamp_readback]
NIGHTS = 7
FIRST = datetime.date(2026, 11, 23)
PROGRAM = {"id": "week", "steps": [{"at": "sunset", "level": 100}, {"at": "23:00", "level": 50},
                                   {"at": "sunrise", "level": 0}]}
# What the firmware must keep free at its worst moment: a tenth of its 96 KB heap budget, as
# test_footprint.py holds it (16 KB was the floor of the 160 KB heap before the budget).
HEAP_FLOOR = DEFAULT_HEAP // 10
LEAK_BOUND = 4 * 1024       # the worst moment of the last night against the first's


def _sun(day):
    where = Observer(PARIS["lat"], PARIS["lon"])
    return int(sunset(where, day).timestamp()), int(sunrise(where, day + datetime.timedelta(days=1)).timestamp())


def _late(day):
    """23:05 in Paris that night (CET, UTC+1, in November)."""
    return calendar.timegm((day.year, day.month, day.day, 22, 5, 0))


def _at(c, percent, timeout=10, what=""):
    c.wait_for(lambda s: abs(s["lamp_level"] - level_at(percent)) < 1e-3, timeout=timeout,
               what=what or f"lamp at {percent} %")


def test_a_week_of_nights_outages_commands_and_power_cuts(rig, tmp_path, broker):
    (board,) = rig.start("soak")
    root = f"pl/test/{board.unique_id}"
    fleet = Fleet(broker.port, root, client_id=f"soak-{board.unique_id}")
    c = board.control()
    try:
        deploy_firmware(board.port, tmp_path, lamp_config(
            board.unique_id, broker.port, location=PARIS, program=PROGRAM, tele_interval_s=2,
            presence_level=100, presence_hold_s=1, presence_fade_in_ms=0, presence_fade_out_ms=0))
        dusk, _ = _sun(FIRST)
        c.set_lux(20000)
        c.set_clock(dusk - 120)
        c.reset()
        fleet.wait_status("online", timeout=30)
        heap_low, boots = [], [0]   # boots: where in fleet.seen each boot's uplinks begin
        for night in range(NIGHTS):
            dusk, dawn = _sun(FIRST + datetime.timedelta(days=night))
            # Dusk: off by day, on after sunset (the board's sun is within a minute of astral's).
            _at(c, 0, what=f"night {night}: off by day")
            c.set_clock(dusk + 60)
            c.set_lux(2)
            _at(c, 100, what=f"night {night}: on at sunset")
            # A passer-by and a fleet command, each answered.
            mark = len(fleet.seen)
            c.pir(True)
            c.pir(False)
            fleet.wait_json("event", lambda d: d["kind"] == "motion", after=mark)
            fleet.publish(root + "/cmd/level", {"id": f"n{night}-level", "level": 30, "duration_s": 5})
            assert fleet.wait_json("ack", lambda d: d["id"] == f"n{night}-level")["ok"] is True
            _at(c, 30, what=f"night {night}: the override")
            # The broker goes away for a while: the lamp runs on, the uplinks wait.
            broker.stop()
            c.pir(True)
            c.pir(False)
            c.set_clock(_late(FIRST + datetime.timedelta(days=night)))   # past the 23:00 step
            _at(c, 50, timeout=15, what=f"night {night}: the 23:00 step, offline")
            broker.start()
            _, mark = fleet.wait_status("online", after=mark, timeout=40)
            now = c.clock()
            fleet.wait_json("tele", lambda d: d["ts"] >= now, after=mark, timeout=20)  # the outbox has drained
            fleet.publish(root + "/cmd/ping", {"id": f"n{night}-ping"})
            assert fleet.wait_json("ack", lambda d: d["id"] == f"n{night}-ping")["ok"] is True
            heap_low.append(min(t["heap_low"] for t in fleet.uplinks("tele")[-3:]))
            # A power cut in the night: the lamp relights by itself, its clock back from NTP.
            c.power_cut()
            fleet.drain(0.3)                     # what the old boot sent before it died
            boots.append(len(fleet.seen))
            c.power_on()
            _, mark = fleet.wait_status("online", after=mark, timeout=40)
            fleet.wait_json("tele", after=mark, timeout=20)  # what this boot queued has gone out
            c.set_clock(dawn + 60)               # what the board's NTP hears now: the night is over
            c.reset()                            # ... once it asks again, at its next boot
            fleet.drain(0.3)
            boots.append(len(fleet.seen))
            _, mark = fleet.wait_status("online", after=mark, timeout=40)
            c.set_lux(20000)
            _at(c, 0, timeout=15, what=f"night {night}: off at sunrise")
        fleet.drain(1.0)
        holes = _seq_holes(fleet, boots)
        assert holes == [], f"uplinks lost: {holes}"
        assert min(heap_low) > HEAP_FLOOR, f"heap low-water per night {heap_low}"
        assert heap_low[-1] > heap_low[0] - LEAK_BOUND, f"heap leaks: low-water per night {heap_low}"
        print(f"soak: {NIGHTS} nights, heap low-water per night {heap_low}, "
              f"{len(fleet.uplinks())} uplinks without a hole")
    finally:
        fleet.close()
        c.close()


def _seq_holes(fleet, boots):
    """Per boot, the seq numbers missing below its highest (the uplinks of a
    boot arrive after `boots[i]` and before the next boot's start)."""
    holes = []
    for start, end in zip(boots, boots[1:] + [len(fleet.seen)]):
        seqs = {json.loads(p)["seq"] for t, p in fleet.seen[start:end]
                if t.rsplit("/", 1)[-1] in ("state", "tele", "event", "ack") and t.count("/") == 3}
        if seqs:
            holes += [(start, s) for s in sorted(set(range(1, max(seqs) + 1)) - seqs)]
    return holes
