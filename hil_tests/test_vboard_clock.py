"""The board clock: RTC and NTP set it, the rig jumps it, a power cut loses it."""
import calendar
import subprocess
import sys
import time

import pytest

from hil_tests.support.firmware import mpremote

EPOCH_2000 = 946684800


def _board_time(port):
    out = mpremote(port, "exec", "import time; print(time.time(), time.gmtime()[:6], time.localtime()[:6])").stdout
    secs, rest = out.split(" ", 1)
    return int(secs), rest.strip()


@pytest.mark.needs_clock_jump
@pytest.mark.needs_reset
@pytest.mark.needs_power_cut
def test_rtc_rig_jump_and_power_cut(rig):
    (board,) = rig.start("clock")
    secs, _ = _board_time(board.port)
    assert 0 <= secs < 30  # a board without a backup battery starts at 2000-01-01

    mpremote(board.port, "exec", "import machine; machine.RTC().datetime((2026, 11, 26, 3, 17, 45, 0, 0))")
    secs, tuples = _board_time(board.port)
    assert secs - (calendar.timegm((2026, 11, 26, 17, 45, 0)) - EPOCH_2000) in range(0, 5)
    assert tuples.startswith("(2026, 11, 26, 17, 45")

    with board.control() as c:
        c.set_clock(calendar.timegm((2030, 6, 21, 21, 0, 0)))
        assert "(2030, 6, 21, 21, 0" in _board_time(board.port)[1]
        mpremote(board.port, "soft-reset")  # the RTC survives a soft reset ...
        assert "(2030, 6, 21, 21, 0" in _board_time(board.port)[1]
        c.reset()  # ... and a hard reset
        c.wait_for(lambda s: s["running"])
        assert "(2030, 6, 21, 21" in _board_time(board.port)[1]
        c.power_cut()  # but not a power cut
        c.power_on()
        c.wait_for(lambda s: s["running"])
        assert _board_time(board.port)[0] < 30


@pytest.mark.needs_network_faults
def test_ntp_sets_the_clock_only_while_online(rig):
    (board,) = rig.start("ntp")
    run = mpremote(board.port, "exec", "import ntptime, time; ntptime.settime(); print(time.time())")
    assert abs(int(run.stdout.split()[-1]) - (int(time.time()) - EPOCH_2000)) <= 2
    with board.control() as c:
        c.fault("network_down")
        run = mpremote(board.port, "exec", "import ntptime\ntry:\n ntptime.settime()\nexcept OSError as e:\n print('offline', e)")
        assert "offline" in run.stdout
        run = mpremote(board.port, "exec", "import network, socket\nw = network.WLAN(network.STA_IF); w.active(True)\n"
                       "w.connect('street', 'pw')\nprint(w.isconnected())\n"
                       "try:\n socket.getaddrinfo('127.0.0.1', 1883)\nexcept OSError as e:\n print('no route', e)")
        assert run.stdout.split("\n")[0].strip() == "False" and "no route" in run.stdout


# An asyncio task asleep for an hour (as the firmware's tasks sleep), on a board
# whose clock the rig set: what it saw of the hour, by its ticks and its RTC.
_HOUR_ASLEEP = """import asyncio, time
async def hour():
    await asyncio.sleep(3600)
t0, s0 = time.ticks_ms(), time.time()
asyncio.run(hour())
print('slept', time.ticks_diff(time.ticks_ms(), t0), time.time() - s0)
"""


@pytest.mark.needs_time_skip
@pytest.mark.needs_power_meter
def test_a_skip_of_an_hour_wakes_the_hours_sleepers_with_ticks_rtc_and_energy_moved_alike(rig):
    (board,) = rig.start("skip")
    with board.control() as c:
        c.set_clock(calendar.timegm((2026, 11, 26, 22, 0, 0)))
        run = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", str(board.port), "exec", _HOUR_ASLEEP],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)                       # the script is asleep on the board by now
        before, wall = c.status(), time.monotonic()
        clock = c.skip(3600)["clock"]
        out, _ = run.communicate(timeout=15)  # it would take an hour without the skip
        after, wall = c.status(), time.monotonic() - wall
    ticks_ms, rtc_s = (int(x) for x in out.split("slept")[1].split())
    assert 3600_000 <= ticks_ms < 3600_000 + 15_000
    assert 3600 <= rtc_s < 3600 + 15
    assert abs(clock - (calendar.timegm((2026, 11, 26, 23, 0, 0)) + 1.5)) < 10
    # the lamp drew its power all through the skipped hour (and the few real seconds)
    drawn = after["lamp_energy_wh"] - before["lamp_energy_wh"]
    assert drawn == pytest.approx(before["lamp_power_w"] * (3600 + wall) / 3600, rel=0.01)
