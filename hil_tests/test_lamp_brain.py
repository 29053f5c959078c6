"""The lamp's brain end to end on a vboard: the program at sunset, presence at
night, and failsafe after a power cut with the clock lost."""
import datetime

import pytest
from astral import Observer
from astral.sun import sunset

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.lamp import PARIS, level_at, render_config

pytestmark = [pytest.mark.needs_reset, pytest.mark.needs_lamp_readback]
EVENING = {"id": "evening", "steps": [{"at": "sunset", "level": 100}, {"at": "23:00", "level": 50, "fade": 60},
                                      {"at": "sunrise", "level": 0}]}
DAY = datetime.date(2026, 11, 27)


def _sunset_utc() -> int:
    return int(sunset(Observer(PARIS["lat"], PARIS["lon"]), DAY).timestamp())


def _board(rig, tmp_path, name, board_type="esp32-devkitc", clock=None, lux=None, **settings):
    (board,) = rig.start(name, board_type=board_type)
    cfg = render_config(board_type, location=PARIS, program=EVENING, **settings)
    deploy_firmware(board.port, tmp_path, cfg)
    c = board.control()
    if clock is not None:
        c.set_clock(clock)
    if lux is not None:
        c.set_lux(lux)
    c.reset()
    return board, c


@pytest.mark.needs_clock_jump
def test_lamp_turns_on_at_sunset(rig, tmp_path):
    at = _sunset_utc()
    board, c = _board(rig, tmp_path, "dusk", clock=at - 600)  # ten minutes before sunset
    c.wait_for(lambda s: s["uptime_s"] > 3 and s["lamp_level"] == 0, what="lamp off before sunset")
    c.set_clock(at - 4)
    c.wait_for(lambda s: s["clock"] >= at - 1, timeout=6)
    assert c.status()["lamp_level"] == 0, "lit before sunset"
    on = c.wait_for(lambda s: s["lamp_level"] > 0.9 and s["clock"], timeout=8, what="lamp on after sunset")
    assert on - at < 4  # on within seconds of the computed sunset (the program's fade is 0)
    c.close()


@pytest.mark.needs_clock_jump
@pytest.mark.needs_pir
def test_motion_at_night_boosts_then_falls_back(rig, tmp_path):
    night = 1795818600  # 2026-11-27 23:30 CET, after the 23:00 step: the program says 50 %
    board, c = _board(rig, tmp_path, "pir", clock=night, lux=2.0, presence_level=100, presence_hold_s=2,
                      presence_fade_in_ms=500, presence_fade_out_ms=500)
    half = level_at(50)
    c.wait_for(lambda s: abs(s["lamp_level"] - half) < 1e-3, what="program level 50 %")
    c.pir(True)
    c.pir(False)
    import time
    t0 = time.monotonic()
    c.wait_for(lambda s: s["lamp_level"] == 1.0, timeout=3, what="presence level")
    assert time.monotonic() - t0 < 1.5  # within the fade-in (0.5 s) and a control step
    time.sleep(1.0)
    assert c.status()["lamp_level"] == 1.0, "the hold (2 s) ended early"
    c.wait_for(lambda s: abs(s["lamp_level"] - half) < 1e-3, timeout=5, what="back to 50 % after the hold")
    c.close()


@pytest.mark.needs_clock_jump
@pytest.mark.needs_pir
def test_motion_in_daylight_does_not_light_the_lamp(rig, tmp_path):
    board, c = _board(rig, tmp_path, "daypir", clock=_sunset_utc() - 3 * 3600, presence_hold_s=2)
    c.wait_for(lambda s: s["uptime_s"] > 3 and s["lamp_level"] == 0, what="off by day, after boot's failsafe")
    c.pir(True)
    import time
    time.sleep(1.0)
    assert c.status()["lamp_level"] == 0
    c.close()


@pytest.mark.needs_clock_jump
@pytest.mark.needs_light
@pytest.mark.needs_power_cut
def test_power_cut_at_night_with_clock_lost_follows_ambient_light(rig, tmp_path):
    board, c = _board(rig, tmp_path, "cut", clock=_sunset_utc() + 3600)
    c.wait_for(lambda s: s["lamp_level"] == 1.0, what="on at night")
    c.set_lux(2.0)  # dark street
    c.power_cut()
    c.power_on()  # the RTC restarts at 2000-01-01: no valid time
    c.wait_for(lambda s: s["running"] and s["clock"] < 946684800 + 60)
    failsafe = level_at(80)
    c.wait_for(lambda s: abs(s["lamp_level"] - failsafe) < 1e-3, timeout=8, what="failsafe level in the dark")
    _app_keeps(c, failsafe)
    c.set_lux(20000.0)  # daylight: the light sensor says off
    c.wait_for(lambda s: s["lamp_level"] == 0, timeout=8, what="off in daylight without a clock")
    c.close()


@pytest.mark.needs_light
def test_no_clock_and_no_light_sensor_fails_on(rig, tmp_path):
    (board,) = rig.start("blind")
    cfg = render_config(location=PARIS, program=EVENING)
    cfg["board"]["sensors"] = [s for s in cfg["board"]["sensors"] if s["kind"] != "bh1750"]
    cfg["board"]["presence_dark"] = "program"  # no light sensor to ask
    deploy_firmware(board.port, tmp_path, cfg)
    with board.control() as c:
        c.set_lux(50000.0)  # broad daylight, but nothing on the board can see it
        c.reset()
        failsafe = level_at(80)
        c.wait_for(lambda s: abs(s["lamp_level"] - failsafe) < 1e-3, timeout=8, what="fail on at the safe level")
        _app_keeps(c, failsafe)


def _app_keeps(c, level):
    """boot.py lights the lamp at the failsafe level before the app starts: the
    level must still hold once the app has been running a while."""
    c.wait_for(lambda s: s["uptime_s"] > 5, timeout=10, what="the app running")
    assert abs(c.status()["lamp_level"] - level) < 1e-3, \
        f"lamp at {c.status()['lamp_level']:.4f}, the failsafe level is {level:.4f}"
