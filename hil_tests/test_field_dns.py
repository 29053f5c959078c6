"""A slow or dead name server and a slow NTP server (issue 12, defect 2). On
the chip lwIP's lookup and ntptime block their caller for seconds; on the
app's single loop that stopped the control task, the watchdog reset the board
and the lamp went out. The vboard's resolver blocks the same way (its
dns_slow/dns_down/ntp_slow faults); the lamp must hold its level through them
and the board must reach its broker by name, and again from the known address
while DNS is dead."""
import time

import pytest

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import NIGHT, duty_at, lamp_config

BROKER_NAME = "broker.pilot.test"
WDT_MS = 3000


def _steady(c, boots, level, seconds):
    """The lamp stays at `level` % and the board does not reset for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        st = c.status()
        assert st["boots"] == boots, f"the board reset (cause {st['reset_cause']}): the watchdog was starved"
        assert abs(st["lamp_level"] - duty_at(level) / 65535) < 1e-3, f"lamp at {st['lamp_level']}, not {level} %"
        time.sleep(0.2)


@pytest.mark.needs_name_server_faults
@pytest.mark.needs_network_faults
@pytest.mark.needs_clock_jump
@pytest.mark.needs_reset
@pytest.mark.needs_lamp_readback
def test_slow_and_dead_dns_and_slow_ntp_never_starve_the_watchdog(rig, tmp_path, broker):
    (board,) = rig.start("dns")
    root = f"pl/test/{board.unique_id}"
    c = board.control()
    c.call("dns", name=BROKER_NAME, ip="127.0.0.1")
    cfg = lamp_config(board.unique_id, broker.port, mqtt={"host": BROKER_NAME, "keepalive_s": 4},
                      default_level=30, wdt_ms=WDT_MS)
    deploy_firmware(board.port, tmp_path, cfg)
    fleet = Fleet(broker.port, root)
    try:
        c.set_clock(NIGHT)
        # Every lookup takes twice the watchdog's timeout; NTP answers later than ntptime waits.
        c.fault("dns_slow", delay_ms=2 * WDT_MS)
        c.fault("ntp_slow", delay_ms=3000)
        c.reset()
        c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(30) / 65535) < 1e-3, what="the app at 30 %")
        boots = c.status()["boots"]
        _steady(c, boots, 30, 10)
        _, mark = fleet.wait_status("online", timeout=30)  # the broker, by its name, however slow

        # The name server dies: the board reconnects to the address it knew.
        c.fault("dns_slow", on=False)
        c.fault("dns_down", delay_ms=4 * WDT_MS)
        c.fault("network_down")
        time.sleep(2)
        c.fault("network_down", on=False)
        _steady(c, boots, 30, 8)
        fleet.wait_status("online", after=mark + 1, timeout=75)  # within the backoff's 60 s cap
        _steady(c, boots, 30, 1)
        assert "watchdog_resets" not in fleet.wait_json("state")["faults"]
    finally:
        fleet.close()
        c.close()
