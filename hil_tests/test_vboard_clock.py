"""The board clock: RTC and NTP set it, the rig jumps it, a power cut loses it."""
import calendar

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
    import time
    assert abs(int(run.stdout.split()[-1]) - (int(time.time()) - EPOCH_2000)) <= 2
    with board.control() as c:
        c.fault("network_down")
        run = mpremote(board.port, "exec", "import ntptime\ntry:\n ntptime.settime()\nexcept OSError as e:\n print('offline', e)")
        assert "offline" in run.stdout
        run = mpremote(board.port, "exec", "import network, socket\nw = network.WLAN(network.STA_IF); w.active(True)\n"
                       "w.connect('street', 'pw')\nprint(w.isconnected())\n"
                       "try:\n socket.getaddrinfo('127.0.0.1', 1883)\nexcept OSError as e:\n print('no route', e)")
        assert run.stdout.split("\n")[0].strip() == "False" and "no route" in run.stdout
