"""Wi-Fi lost at the board itself, the commonest outage on a pole (issue 12,
item 14). A minute without Wi-Fi in which an hour of the board's clock passes
(the compressed hour: the clock jumps across the program's steps): the lamp
keeps its schedule offline, the link comes back within its backoff, and the
outbox drains with no seq gap. Then a reboot while offline in the middle of a
drain: at most the record the drain was waiting on comes twice, under the same
(boot, seq), so the fleet drops it."""
import json
import time

import pytest

from hil_tests.rig.netfault import NetFault
from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import duty_at, lamp_config

# About 3 minutes (the minute offline, and the backoff after it): a soak, `make hil-soak`.
pytestmark = [pytest.mark.soak, pytest.mark.needs_network_faults, pytest.mark.needs_clock_jump, pytest.mark.needs_reset,
              pytest.mark.needs_lamp_readback]
UTC = {"lat": 48.8566, "lon": 2.3522, "tz": "UTC0"}
TELE_S = 2
# The link waits up to 15 s for a join, then backs off (to 60 s); the MQTT client
# backs off to 60 s as well: after a minute away the board is back within both.
RECONNECT_BOUND_S = 60 + 15 + 5


def _hour_program(start):
    hhmm = [time.strftime("%H:%M", time.gmtime(start + m * 60)) for m in (0, 20, 40)]
    return {"id": "hour", "steps": [{"at": hhmm[0], "level": 100}, {"at": hhmm[1], "level": 60},
                                    {"at": hhmm[2], "level": 30}]}


def _at(c, level, what):
    c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(level) / 65535) < 1e-3, timeout=5, what=what)


def test_wifi_lost_for_a_compressed_hour_then_a_reboot_mid_drain(rig, tmp_path, broker):
    (board,) = rig.start("wifi")
    root = f"pl/test/{board.unique_id}"
    held = {"on": False}

    def hold_after_connack(direction, data):  # part 2: stall the drain right after the broker lets it in
        if held["on"] and direction == "down" and data[:1] == b"\x20":
            proxy.set("pause")
            held["on"] = False

    proxy = NetFault(broker.port, tap=hold_after_connack)
    fleet = Fleet(broker.port, root)
    start = (int(time.time()) + 7200) // 60 * 60  # a time of day two hours on: NTP never gets there by itself
    try:
        cfg = lamp_config(board.unique_id, proxy.port, mqtt={"keepalive_s": 4}, location=UTC,
                          program=_hour_program(start), tele_interval_s=TELE_S)
        deploy_firmware(board.port, tmp_path, cfg)
        c = board.control()
        c.set_clock(start + 10)
        c.reset()
        _, mark = fleet.wait_status("online", timeout=20)
        _at(c, 100, "the program's 100 %")
        boots = c.status()["boots"]

        # 1. A minute without Wi-Fi; an hour of the board's clock passes meanwhile.
        c.fault("network_down")
        down_at = time.monotonic()
        for minute, level in ((20, 60), (40, 30), (59, 30)):
            time.sleep(15)
            c.set_clock(start + minute * 60 + 5)
            _at(c, level, f"the program's {level} % offline")
        time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
        c.fault("network_down", on=False)
        back_at = time.monotonic()
        seen_at, mark = fleet.wait_status("online", after=mark + 1, timeout=RECONNECT_BOUND_S + 5)
        print(f"wifi back: online again after {seen_at - back_at:.1f} s (a {back_at - down_at:.0f} s outage)")
        assert seen_at - back_at <= RECONNECT_BOUND_S
        now = c.clock()
        fleet.wait_json("tele", lambda d: (d["ts"] or 0) >= now, timeout=20)  # made after: all older ones are through
        fleet.drain(0.5)
        gaps, last = fleet.seq_gaps()
        assert gaps == [], f"uplinks lost: seq {gaps} of 1..{last}"
        stamps = [t["ts"] for t in fleet.uplinks("tele") if t["ts"] is not None and t["ts"] >= start]
        assert len(stamps) >= 60 / TELE_S - 2, "telemetry made offline is missing"
        assert c.status()["boots"] == boots

        # 2. Offline again; back, the drain starts and stalls at its first record; Wi-Fi
        # drops once more and the board reboots while offline; then it is back for good.
        c.fault("network_down")
        time.sleep(6)  # a few records wait in the outbox
        held["on"] = True
        c.fault("network_down", on=False)
        deadline = time.monotonic() + RECONNECT_BOUND_S
        while proxy.mode != "pause":
            assert time.monotonic() < deadline, "the board did not come back to drain"
            time.sleep(0.05)
        time.sleep(1)  # the drain's first PUBLISH is on its way, its PUBACK held back
        c.fault("network_down")
        c.reset()
        c.wait_for(lambda s: s["boots"] > boots, what="the reboot")
        proxy.set("pass")  # what was on the wire before the drop reaches the broker late
        c.fault("network_down", on=False)
        mark = len(fleet.seen)
        fleet.wait_json("event", lambda d: d["kind"] == "boot" and d["boot"] == 2, timeout=RECONNECT_BOUND_S, after=mark)
        now = c.clock()
        fleet.wait_json("tele", lambda d: d["boot"] == 2 and (d["ts"] or 0) >= now + 1, timeout=20)
        fleet.drain(0.5)
        records = [(t.rsplit("/", 1)[-1], p) for t, p in fleet.seen if t.rsplit("/", 1)[-1] in ("tele", "event")]
        ids = [(json.loads(p)["boot"], json.loads(p)["seq"]) for _, p in records]
        twice = {i for i in ids if ids.count(i) > 1}
        print(f"reboot mid-drain: {len(twice)} record(s) sent twice: {sorted(twice)}")
        assert len(twice) <= 1, f"resent more than the drain's head: {sorted(twice)}"
        kept = {}
        for kind, p in records:  # the fleet side keeps the first of each (boot, seq)
            d = json.loads(p)
            kept.setdefault((d["boot"], d["seq"]), d)
        first_boot = sorted(s for b, s in kept if b == 1)
        assert first_boot and max(first_boot) > last, "nothing of the first boot after part 1"
        tele1 = [d["ts"] for (b, s), d in sorted(kept.items()) if b == 1 and s > last and "power_w" in d]
        assert len(tele1) >= 3 and tele1 == sorted(tele1), tele1
        assert max(y - x for x, y in zip(tele1, tele1[1:])) <= TELE_S + 1, "first boot's telemetry lost in the reboot"
    finally:
        fleet.close()
        proxy.close()
