"""Neighbour presence over MQTT (issue 4 acceptance), six lamps along one
street: motion at a pole lights the next lamps through the street's presence
topic, each event is applied once (no relays, no storm), and once the lamps
know the direction of travel they light more lamps ahead than behind."""
import json
import time

import pytest

from hil_tests.support.fleet import Watch
from hil_tests.support.lamp import duty_at, topics
from hil_tests.support.street import deploy_street, wait_street_online

pytestmark = [pytest.mark.needs_pir, pytest.mark.needs_reset, pytest.mark.needs_lamp_readback]
STREET = "centre.main"
LAMPS = 6
BASE, BOOST = 30, 100
PRESENCE = topics.presence("test", STREET)


def _lit(controls):
    """Positions (1-based) whose lamp is at the boost level now."""
    return {pos for pos, c in enumerate(controls, 1) if c.duty() == duty_at(BOOST)}


def _motion_lights(controls, pos, expect):
    """PIR at `pos`; the lamps in `expect` must all light, and no other."""
    controls[pos - 1].pir(True)
    controls[pos - 1].pir(False)
    deadline = time.monotonic() + 3
    lit = set()
    while time.monotonic() < deadline and lit != expect:
        lit |= _lit(controls)
        if not lit <= expect:
            break
    time.sleep(0.3)  # a late neighbour would light now
    lit |= _lit(controls)
    assert lit == expect, f"motion at lamp {pos} lit {sorted(lit)}, expected {sorted(expect)}"


def _heard(watch):
    """Every message on the street's presence topic so far."""
    while not watch.messages.empty():
        watch.seen.append(watch.messages.get())
    return [(t, p) for t, p, r in watch.seen if t == PRESENCE]


def _all_back(controls):
    for c in controls:
        c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(BASE) / 65535) < 1e-4, timeout=6,
                   what="back to the base level after the hold")


def test_motion_lights_the_street_ahead_once(rig, tmp_path, broker):
    watch = Watch(broker.port, "pl/test/#")
    boards, controls = deploy_street(rig, tmp_path, broker.port, count=LAMPS, street=STREET, default_level=BASE, presence_level=BOOST,
                                     presence_hold_s=2, presence_fade_in_ms=0, presence_fade_out_ms=0)
    try:
        wait_street_online(watch, boards)
        _all_back(controls)
        # No direction known yet: three lamps either way (only ahead exists at lamp 1).
        _motion_lights(controls, 1, {1, 2, 3, 4})
        _all_back(controls)
        # Walking up the street: 1 -> 2 -> 3. Three lamps ahead light, one behind.
        _motion_lights(controls, 2, {1, 2, 3, 4, 5})
        _all_back(controls)
        _motion_lights(controls, 3, {2, 3, 4, 5, 6})
        _all_back(controls)
        # Walking down: 6 -> 5 -> 4. Now "ahead" is towards lamp 1.
        _motion_lights(controls, 6, {5, 6})
        _all_back(controls)
        _motion_lights(controls, 5, {2, 3, 4, 5, 6})
        _all_back(controls)
        _motion_lights(controls, 4, {1, 2, 3, 4, 5})
        _all_back(controls)

        # One message per motion on the street's topic: nobody relays, nothing storms.
        events = [json.loads(p) for t, p in _heard(watch)]
        assert [e["pos"] for e in events] == [1, 2, 3, 6, 5, 4]
        # An event heard again (a broker redelivery, a replay) is applied once.
        watch.publish(PRESENCE, events[-1], qos=0)
        time.sleep(1.0)
        assert _lit(controls) == set(), "a repeated presence event lit lamps again"
        assert len(_heard(watch)) == 7
    finally:
        for c in controls:
            c.close()
        watch.close()
