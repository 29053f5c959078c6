"""The firmware walking skeleton on a vboard: its lamp, its PIR, its heap."""
import json
import time

import pytest
import serial

from hil_tests.support.firmware import bundle_files, deploy_firmware, firmware_bundle, mpremote
from hil_tests.support.footprint import STOCK_IMAGE_HEAP
from hil_tests.support.lamp import duty_at, render_config


NOV_2026 = 1795800000  # a valid clock: the app leaves failsafe


def _boot_with_firmware(rig, tmp_path, name, heap=None, **settings):
    (board,) = rig.start(name, heap=heap)
    deploy_firmware(board.port, tmp_path, render_config(**settings))
    c = board.control()
    c.set_clock(NOV_2026)
    c.set_lux(2.0)  # night on the street: motion may raise the lamp (board_config presence_dark)
    c.reset()
    return board, c


@pytest.mark.needs_clock_jump
@pytest.mark.needs_reset
@pytest.mark.needs_lamp_readback
@pytest.mark.needs_pir
@pytest.mark.needs_flash
def test_lamp_duty_follows_the_firmware_and_pir_irq_boosts_it(rig, tmp_path):
    board, c = _boot_with_firmware(rig, tmp_path, "lamp", default_level=30, presence_level=100, presence_hold_s=2,
                                   presence_fade_in_ms=200, presence_fade_out_ms=200)
    lamp = json.loads(board.read_flash("config.json"))["board"]["lamp"]
    expected = duty_at(30)
    c.wait_for(lambda s: c.duty() == expected, what="lamp at 30 %")
    assert c.call("pwm")["freq"] == lamp["pwm_freq_hz"]

    c.pir(True)  # the firmware's irq handler sees the edge and boosts the lamp
    c.wait_for(lambda s: c.duty() == 65535, timeout=3, what="presence boost")
    c.pir(False)
    c.wait_for(lambda s: c.duty() == expected, timeout=5, what="back to 30 % after the hold")
    c.close()


@pytest.mark.needs_clock_jump
@pytest.mark.needs_reset
@pytest.mark.needs_lamp_readback
def test_power_monitor_registers_follow_the_lamp(rig, tmp_path):
    board, c = _boot_with_firmware(rig, tmp_path, "ina", default_level=100)
    c.wait_for(lambda s: c.duty() == 65535, what="lamp at 100 %")
    code = ("from machine import I2C, Pin\n"
            "i2c = I2C(0, scl=Pin(22), sda=Pin(21))\n"
            "print(i2c.scan())\n"
            "b = i2c.readfrom_mem(64, 2, 2); s = i2c.readfrom_mem(64, 1, 2)\n"
            "print(((b[0] << 8 | b[1]) >> 3) * 0.004, (s[0] << 8 | s[1]) * 10e-6)\n")
    # the app owns the board: stop it first, as a technician would (Ctrl-C)
    out = mpremote(board.port, "exec", code).stdout.split("\n")
    assert json.loads(out[0]) == [35, 64]
    bus_v, shunt_v = map(float, out[1].split())
    cfg = render_config()["board"]
    amps = cfg["lamp"]["rated_power_w"] / cfg["lamp"]["supply_v"]
    assert bus_v == pytest.approx(cfg["lamp"]["supply_v"], abs=0.004)
    assert shunt_v == pytest.approx(amps * cfg["sensors"][0]["shunt_ohms"], abs=2e-5)
    c.close()


@pytest.mark.needs_board_spawn
@pytest.mark.needs_flash
def test_heap_limit_is_real(rig, tmp_path):
    bundle = firmware_bundle(tmp_path / "a", render_config())
    # too small even for mpremote's copy helpers: written straight to flash
    (small,) = rig.start("tiny", heap="12k", files=bundle_files(bundle))
    with serial.Serial(small.port, 115200, timeout=0.2) as line, small.control() as c:
        c.reset()
        deadline = time.monotonic() + 10
        out = b""
        while b"MemoryError" not in out and time.monotonic() < deadline:
            out += line.read(512)
    assert b"MemoryError" in out

    (ok,) = rig.start("roomy", heap=str(STOCK_IMAGE_HEAP), romfs=None)  # the app's code in the heap, as on a stock image
    deploy_firmware(ok.port, tmp_path / "b", render_config())
    out = mpremote(ok.port, "exec", "import gc, appslot\nappslot.select()\nfrom lampctl import app\n"   # as boot.py
                   "built = app.build(); built[2].step(0); gc.collect(); print(gc.mem_free())").stdout
    assert int(out.split()[-1]) > 16 * 1024
