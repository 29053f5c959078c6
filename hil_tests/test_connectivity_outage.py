"""Network faults a street throws at a lamp (issue 4 acceptance): the broker
restarted, the link cut (RST), the link gone half-open. Through all of it the
lamp keeps its schedule, every event and telemetry record reaches the fleet
(`seq` has no gap), the board reconnects within its backoff bound, and commands
sent while it was away are applied when it is back."""
import time

import pytest

from hil_tests.rig.netfault import NetFault
from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import duty_at, lamp_config, topics

pytestmark = [pytest.mark.needs_pir, pytest.mark.needs_clock_jump, pytest.mark.needs_reset,
              pytest.mark.needs_lamp_readback]
UTC = {"lat": 48.8566, "lon": 2.3522, "tz": "UTC0"}
TELE_S = 2
KEEPALIVE_S = 4
CONNECT_TIMEOUT_S = 10  # lampctl.mqtt's default connect_timeout_ms


def reconnect_bound(outage_s):
    """The longest a board may take to reconnect once the path is back: its
    exponential backoff (1 s doubling, capped at 60 s, full jitter) has grown to
    at most about twice the outage, plus one connect attempt."""
    return min(60, 2 * outage_s + 1) + 2


def _dimming_step():
    """A program that dims from 100 % to 50 % at a minute about an hour from
    now (UTC): close enough that jumping the clock there does not make the board
    sync NTP again (it does after 6 h), far enough that NTP gets there first."""
    step = (int(time.time()) + 3600) // 60 * 60
    at = [time.strftime("%H:%M", time.gmtime(t)) for t in (step - 1800, step)]
    return step, {"id": "dim-at-%s" % at[1], "steps": [{"at": at[0], "level": 100}, {"at": at[1], "level": 50}]}


def _motion(c):
    c.pir(True)
    c.pir(False)


def _back_online(fleet, c, mark, down_at, back_at, bound):
    """Wait for the board's next `online` after `mark`, check it came within
    `bound` seconds of the path coming back, then wait until the uplinks made
    offline are through (a telemetry record made after the reconnect, which
    the outbox sends only after everything older)."""
    seen_at, mark = fleet.wait_status("online", after=mark, timeout=bound + 5)
    assert seen_at - back_at <= bound, f"reconnected {seen_at - back_at:.1f}s after a {back_at - down_at:.0f}s outage"
    now = c.clock()
    fleet.wait_json("tele", lambda d: d["ts"] is not None and d["ts"] >= now, timeout=15)
    time.sleep(max(0.0, KEEPALIVE_S - (time.monotonic() - seen_at)))  # a connection that held resets the backoff
    return mark


def test_broker_restart_cut_and_half_open_lose_nothing(rig, tmp_path, broker):
    (board,) = rig.start("street")
    root = topics.root("test", board.unique_id)
    proxy = NetFault(broker.port)
    fleet = Fleet(broker.port, root)
    step, program = _dimming_step()
    try:
        cfg = lamp_config(board.unique_id, proxy.port, mqtt={"keepalive_s": KEEPALIVE_S}, location=UTC,
                          program=program, tele_interval_s=TELE_S, presence_level=100, presence_hold_s=1,
                          presence_fade_in_ms=0, presence_fade_out_ms=0)
        deploy_firmware(board.port, tmp_path, cfg)
        c = board.control()
        c.set_lux(2.0)  # night on the street: motion may raise the lamp
        c.reset()
        _, mark = fleet.wait_status("online")
        fleet.wait_json("state", lambda d: d["clock"] == "ntp")
        boots = c.status()["boots"]
        c.set_clock(step - 10)  # after the NTP sync, which would undo it
        fleet.wait_json("state", lambda d: d["level"] == 100 and d["mode"] == "schedule")
        c.wait_for(lambda s: s["lamp_level"] == 1.0, what="the program's 100 %")

        # 0. A 2 s stall (bytes delayed, not lost) is ridden out on the same connection.
        proxy.set("pause")
        stalled_at = c.clock()
        time.sleep(2)
        proxy.set("pass")
        fleet.wait_json("tele", lambda d: d["ts"] is not None and d["ts"] >= stalled_at + 1)
        assert proxy.accepted == 1, "the board reconnected after a short stall"

        # 1. The broker goes away for 8 s, across the program's step: the lamp dims on time.
        broker.stop()
        down_at = time.monotonic()
        _motion(c)
        c.wait_for(lambda s: s["clock"] >= step + 1, timeout=15, what="the program's step")
        c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(50) / 65535) < 1e-3, timeout=3,
                   what="the step applied offline")
        time.sleep(max(0.0, 8 - (time.monotonic() - down_at)))
        broker.start()
        back_at = time.monotonic()
        mark = _back_online(fleet, c, mark, down_at, back_at, reconnect_bound(back_at - down_at))
        assert fleet.wait_json("state", lambda d: d["seq"] > 4 and d["level"] == 50)["mode"] == "schedule"

        # 2. The link is reset (RST) for 6 s; commands sent meanwhile wait at the broker.
        proxy.set("cut")
        down_at = time.monotonic()
        _motion(c)
        fleet.publish(root + "/cmd/level", {"id": "while-away", "level": 20, "duration_s": 600})
        fleet.publish(root + "/cmd/ping", {"id": "ping-away"})
        time.sleep(6)
        assert c.duty() == duty_at(50), "a command reached the lamp while its link was cut"
        proxy.set("pass")
        back_at = time.monotonic()
        mark = _back_online(fleet, c, mark, down_at, back_at, reconnect_bound(back_at - down_at))
        assert fleet.wait_json("ack", lambda d: d["id"] == "while-away")["ok"] is True
        assert fleet.wait_json("ack", lambda d: d["id"] == "ping-away")["ok"] is True
        c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(20) / 65535) < 1e-3, what="the queued override")
        fleet.wait_json("state", lambda d: d["mode"] == "override" and d["level"] == 20)

        # 3. The link goes half-open for 8 s: the board must notice by itself (keepalive).
        proxy.set("blackhole")
        down_at = time.monotonic()
        _motion(c)
        time.sleep(8)
        proxy.set("pass")
        back_at = time.monotonic()
        # one attempt made into the black hole may still wait out its connect timeout
        mark = _back_online(fleet, c, mark, down_at, back_at, reconnect_bound(back_at - down_at) + CONNECT_TIMEOUT_S)

        # Everything made offline arrived, nothing missing, in order, with its original ts.
        fleet.drain(0.5)
        gaps, last = fleet.seq_gaps()
        assert gaps == [], f"uplinks lost: seq {gaps} of 1..{last}"
        assert [e["kind"] for e in fleet.uplinks("event")].count("motion") == 3
        # (a ts of null: made at boot, before the board knew the time)
        stamps = [t["ts"] for t in fleet.uplinks("tele") if t["ts"] is not None]
        assert stamps == sorted(stamps), "telemetry left the outbox out of order"
        since = [t for t in stamps if t >= step - 10]
        assert max(b - a for a, b in zip(since, since[1:])) <= TELE_S + 1, "telemetry missing for a stretch"
        assert c.status()["boots"] == boots, "the board rebooted"
    finally:
        fleet.close()
        proxy.close()
