"""The real rig's drivers (Adafruit MCP23017 and ADS1115 drivers on
busdevice) against register-level simulated chips, bus faults included."""
import json

import pytest

from hil_tests.rig.hardware import (BOOT, EN, LIGHT_DIM, LIGHT_SUN, PIR, SUPPLY, Calibration, RigError, RigHardware,
                                    load_calibration)
from hil_tests.rig.sim_i2c import ADS1115, MCP23017, SimI2C


def _rig(slots=4, volts=None):
    """A rig of `slots` boards: two MCP23017s, one ADS1115, each line change recorded."""
    bus, changes, seen = SimI2C(), [], {}
    for i in range((slots + 1) // 2):
        bus.attach(0x20 + i, MCP23017(on_output=lambda pin, v, i=i: changes.append((0x20 + i, pin, v))))
    bus.attach(0x48, ADS1115(volts or (lambda ch: seen.get(ch, 0.0))))
    return bus, RigHardware(bus, slots), changes, seen


def _level(bus, address, pin):
    return bus.devices[address].outputs()[pin]


def test_every_line_starts_at_rest_powered_released_and_in_daylight():
    bus, hw, _, _ = _rig()
    for address in (0x20, 0x21):
        outs = bus.devices[address].outputs()
        assert len(outs) == 12  # six lines a slot, two slots an expander
        assert {p for p, v in outs.items() if v} == {SUPPLY, LIGHT_SUN, 8 + SUPPLY, 8 + LIGHT_SUN}


def test_each_verb_moves_its_own_line_of_its_own_slot():
    bus, hw, changes, _ = _rig()
    hw.pir(3, True)               # slot 3: second expander, port B
    assert _level(bus, 0x21, 8 + PIR) and not _level(bus, 0x21, PIR) and not _level(bus, 0x20, 8 + PIR)
    hw.supply(0, False)
    assert not _level(bus, 0x20, SUPPLY) and _level(bus, 0x20, 8 + SUPPLY)
    hw.hold_boot(1, True)
    assert _level(bus, 0x20, 8 + BOOT)
    changes.clear()
    hw.press_en(2)
    assert changes == [(0x21, EN, True), (0x21, EN, False)]  # a press, then the release
    hw.light(0, 2.0)
    assert changes[-1] == (0x20, LIGHT_SUN, False)
    assert not _level(bus, 0x20, LIGHT_DIM) and not _level(bus, 0x20, LIGHT_SUN)
    hw.light(0, 200.0)
    assert _level(bus, 0x20, LIGHT_DIM) and not _level(bus, 0x20, LIGHT_SUN)
    hw.light(0, 20000.0)
    assert _level(bus, 0x20, LIGHT_SUN) and not _level(bus, 0x20, LIGHT_DIM)


def test_the_lamp_output_is_read_per_channel_and_calibrated():
    volts = {0: 1.65, 1: 0.0, 2: 3.3, 3: 2.481}
    bus, hw, _, _ = _rig(volts=volts.get)
    assert hw.output_volts(0) == pytest.approx(1.65, abs=2e-4)
    assert [round(hw.lamp_level(s), 3) for s in range(3)] == [0.5, 0.0, 1.0]
    hw.cal[3] = Calibration(v_off=0.0, v_full=10 * 3.3 / 13.3)   # a 0-10 V driver through 10k/3.3k
    assert hw.lamp_level(3) == pytest.approx(1.0, abs=1e-3)
    volts[0] = 5.0   # above the range: a level of 1, not more
    assert hw.lamp_level(0) == 1.0


def test_a_missing_chip_is_named_at_start():
    bus = SimI2C()
    bus.attach(0x20, MCP23017())
    bus.attach(0x48, ADS1115(lambda ch: 0.0))
    with pytest.raises(RigError, match=r"no MCP23017 at 0x21 on the I2C bus"):
        RigHardware(bus, 4)


def test_a_chip_that_stops_answering_is_an_error_that_says_where():
    bus, hw, _, _ = _rig()
    bus.naks.add(0x21)      # slot 2's expander unplugged
    hw.pir(0, True)         # slot 0 is on another chip: unaffected
    with pytest.raises(RigError, match=r"rig slot 2: no answer \(NAK\) from the MCP23017 at 0x21 while trying to "
                                       r"drive its PIR line"):
        hw.pir(2, True)
    bus.naks.add(0x48)
    with pytest.raises(RigError, match=r"NAK\) from the ADS1115 at 0x48 while trying to read its lamp output"):
        hw.lamp_level(1)


def test_a_bus_error_is_retried_and_a_lasting_one_reported():
    bus, hw, _, seen = _rig()
    bus.bus_errors = 2       # a glitch: two transactions lost
    hw.supply(1, False)
    assert not _level(bus, 0x20, 8 + SUPPLY)
    seen[1] = 3.3
    bus.bus_errors = 1
    assert hw.lamp_level(1) == pytest.approx(1.0, abs=1e-3)
    bus.bus_errors = 1000    # SDA stuck low
    with pytest.raises(RigError, match=r"a bus error from the MCP23017 at 0x20 while trying to switch its supply"):
        hw.supply(1, True)


def test_calibration_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"slots": [{"v_off": 0.02, "v_full": 3.28}, {"v_off": 0.0, "v_full": 2.48}]}))
    cal = load_calibration(path, 2)
    assert cal[0].level(1.65) == pytest.approx((1.65 - 0.02) / 3.26)
    with pytest.raises(RigError, match="calibrates 2 slot"):
        load_calibration(path, 4)
    path.write_text('{"slots": [{"v_off": 1}]}')
    with pytest.raises(RigError, match="not a rig calibration"):
        load_calibration(path, 1)
    assert load_calibration(None, 3) == [Calibration()] * 3
