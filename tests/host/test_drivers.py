"""The firmware's I2C drivers under CPython against the vboard's register-level
simulated chips (host_tools/vboard/i2c_devices.py): readings against the
simulated physics, auto-ranging, and sensors that NAK, babble or vanish."""
import json
import sys
from pathlib import Path

import pytest

from host_tools.vboard.hardware import Hardware

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "firmware"))

from lampctl.drivers import SensorAbsent, SensorConfigError, SensorInvalid  # noqa: E402
from lampctl.drivers.bh1750 import BH1750  # noqa: E402
from lampctl.drivers.ina219 import INA219  # noqa: E402
from lampctl.drivers.ina226 import INA226  # noqa: E402
from lampctl.drivers.veml7700 import VEML7700  # noqa: E402


class SimI2C:
    """machine.I2C's methods on the simulated bus (below the hardware line)."""

    def __init__(self, hw: Hardware):
        self.hw = hw

    def _xfer(self, addr, data, nread):
        return self.hw.i2c(self.hw.i2c_bus, addr, bytes(data), nread)

    def readfrom_mem_into(self, addr, reg, buf):
        buf[:] = self._xfer(addr, bytes([reg]), len(buf))

    def writeto_mem(self, addr, reg, buf):
        self._xfer(addr, bytes([reg]) + bytes(buf), 0)

    def writeto(self, addr, buf):
        self._xfer(addr, buf, 0)

    def readfrom_into(self, addr, buf):
        buf[:] = self._xfer(addr, b"", len(buf))


def board(name, lamp=None, **sensor_changes):
    cfg = json.loads((REPO / "board_configs" / f"{name}.json").read_text())
    cfg["lamp"].update(lamp or {})
    for spec in cfg["sensors"]:
        spec.update(sensor_changes.get(spec["kind"], {}))
    return cfg


def set_drive(hw, fraction):
    """Drive the simulated lamp at `fraction` of full output."""
    lamp = hw.board["lamp"]
    duty = round(fraction * 65535)
    hw.set_pwm(lamp["pin"], lamp["pwm_freq_hz"], 65535 - duty if lamp["invert"] else duty)


def monitor(kind, lamp=None, **changes):
    name = "esp32-devkitc" if kind == "ina219" else "olimex-esp32-poe"
    hw = Hardware(board(name, lamp, **({kind: changes} if changes else {})))
    spec = next(s for s in hw.board["sensors"] if s["kind"] == kind)
    cls = INA219 if kind == "ina219" else INA226
    return hw, cls(SimI2C(hw), spec["address"], spec["shunt_ohms"], spec["max_current_a"]), spec


# An INA226 cannot measure a 0.05 ohm shunt at 4 A (it saturates at 1.64 A) nor
# a 48 V supply (its bus input stops at 36 V); the olimex board ships with a
# 0.02 ohm shunt on a 36 V supply, within both.
INA226_FIXED = {"shunt_ohms": 0.02, "lamp": {"supply_v": 36.0}}


def test_ina226_on_a_48_v_supply_reports_the_bus_beyond_its_range():
    hw, ina, _ = monitor("ina226", lamp={"supply_v": 48.0}, shunt_ohms=0.02)
    ina.start()
    set_drive(hw, 0.5)
    with pytest.raises(SensorInvalid, match="ina226@0x41: bus voltage at full scale"):
        ina.read()


@pytest.mark.parametrize("kind,changes", [("ina219", {}), ("ina226", INA226_FIXED)])
def test_power_monitor_reads_the_lamp_power_bus_voltage_and_current(kind, changes):
    hw, ina, _ = monitor(kind, **changes)
    ina.start()
    supply_mv = hw.board["lamp"]["supply_v"] * 1000
    for fraction in (0.0, 0.05, 0.3, 0.8, 1.0):
        set_drive(hw, fraction)
        watts = hw.physics.lamp_power_w
        mw = ina.read()
        assert mw == ina.power_mw
        assert abs(mw - watts * 1000) <= 0.005 * watts * 1000 + 10, (fraction, mw, watts)
        assert abs(ina.bus_mv - supply_mv) <= 5
        assert abs(ina.current_ma - watts / hw.board["lamp"]["supply_v"] * 1000) <= 3


def test_ina226_shunt_too_large_for_the_configured_current_is_refused_with_the_numbers():
    spec = dict(board("olimex-esp32-poe")["sensors"][0], shunt_ohms=0.05)  # 4.0 A through 0.05 ohm = 200 mV
    with pytest.raises(SensorConfigError) as err:
        INA226(None, spec["address"], spec["shunt_ohms"], spec["max_current_a"])
    msg = str(err.value)
    assert "ina226@0x41" in msg and "4.0 A" in msg and "0.05 ohm" in msg and "81.92 mV" in msg


def test_ina219_shunt_beyond_320_mv_is_refused():
    with pytest.raises(SensorConfigError, match="ina219@0x40.*320.00 mV"):
        INA219(None, 0x40, shunt_ohms=0.1, max_current_a=5.0)


def test_ina219_calibration_follows_shunt_and_max_current():
    # Datasheet: Cal = 0.04096 / (current LSB x R); LSB >= max current / 2^15.
    ina = INA219(None, 0x40, shunt_ohms=0.1, max_current_a=3.2)
    assert ina.lsb_ua == 98 and ina.cal == 4180
    fine = INA219(None, 0x40, shunt_ohms=0.5, max_current_a=0.4)
    assert fine.lsb_ua == 13 and fine.cal == 6302


def test_a_chip_that_reset_is_reported_not_read_as_a_dark_lamp():
    hw, ina, spec = monitor("ina219")
    ina.start()
    set_drive(hw, 1.0)
    assert ina.read() > 50000
    hw.devices[spec["address"]].write(b"\x00\x80\x00")  # brown-out: registers back to defaults
    with pytest.raises(SensorInvalid, match="calibration reads 0x0000.*chip reset"):
        ina.read()
    ina.start()
    assert ina.read() > 50000


@pytest.mark.parametrize("kind,changes", [("ina219", {}), ("ina226", INA226_FIXED)])
def test_power_monitor_that_naks_then_vanishes_mid_run_then_returns(kind, changes):
    hw, ina, spec = monitor(kind, **changes)
    dev = hw.devices[spec["address"]]
    dev.gone = True
    with pytest.raises(SensorAbsent, match=r"%s@0x%02x: no answer on the I2C bus" % (kind, spec["address"])):
        ina.start()
    dev.gone = False
    ina.start()
    set_drive(hw, 0.5)
    good = ina.read()
    dev.gone = True
    with pytest.raises(SensorAbsent):
        ina.read()
    assert ina.power_mw == good  # the last good reading is not overwritten
    dev.gone = False
    assert ina.read() == good


@pytest.mark.parametrize("kind,changes", [("ina219", {}), ("ina226", INA226_FIXED)])
def test_power_monitor_garbage_is_detected(kind, changes):
    hw, ina, spec = monitor(kind, **changes)
    dev = hw.devices[spec["address"]]
    dev.garbled = True
    with pytest.raises(SensorInvalid):
        ina.start()
    dev.garbled = False
    ina.start()
    dev.garbled = True
    for _ in range(50):
        with pytest.raises(SensorInvalid):
            ina.read()


def test_ina226_identity_is_checked():
    hw, ina, spec = monitor("ina226", **INA226_FIXED)
    # An INA219 answering at the INA226's address has no identity registers.
    from host_tools.vboard.i2c_devices import INA219 as SimINA219
    hw.devices[spec["address"]] = SimINA219(spec["address"], hw.physics, 0.02)
    with pytest.raises(SensorInvalid, match="not an INA226"):
        ina.start()


class DriverClock:
    """The chips' time, moved with the now_ms the test hands the driver."""
    ms = 0

    def __call__(self):
        return self.ms / 1000


CLOCK = DriverClock()


def light(kind):
    name = "esp32-devkitc" if kind == "bh1750" else "olimex-esp32-poe"
    hw = Hardware(board(name))
    hw.physics.clock = CLOCK
    spec = next(s for s in hw.board["sensors"] if s["kind"] == kind)
    cls = BH1750 if kind == "bh1750" else VEML7700
    return hw, cls(SimI2C(hw), spec["address"]), spec


def sensor_module(sensor):
    return sys.modules[type(sensor).__module__]


def settle(sensor, now, reads=12, step=500):
    """Read every `step` ms until a range holds; return (lux, now)."""
    lux = None
    for _ in range(reads):
        now += step
        CLOCK.ms = now
        got = sensor.read(now)
        if got is not None:
            lux = got
            before = sensor.range
            now += step
            CLOCK.ms = now
            again = sensor.read(now)
            if again is not None and sensor.range == before:
                return again, now
    return lux, now


@pytest.mark.parametrize("kind", ["bh1750", "veml7700"])
def test_light_sensor_follows_dusk_to_noon_by_auto_ranging(kind):
    hw, sensor, _ = light(kind)
    now = 1000
    sensor.start(now)
    assert sensor.read(now) is None  # nothing measured yet in the first range
    ranges = set()
    for lux in (0.5, 3, 20, 150, 900, 4000, 20000, 60000, 100000, 40, 1.0):
        hw.physics.ambient_lux = lux
        got, now = settle(sensor, now)
        resolution = sensor_module(sensor).LUX_PER_COUNT[sensor.range]
        assert abs(got - lux) <= 0.01 * lux + resolution, (kind, lux, got, sensor.range)
        assert resolution <= max(0.01 * lux, 0.12), "a range fine enough for this light"
        ranges.add(sensor.range)
    assert min(ranges) == 0 and max(ranges) == len(sensor_module(sensor).RANGES) - 1


def test_bh1750_light_changing_between_the_reads_of_one_conversion_is_not_a_fault():
    # The driver reads a conversion three times and calls disagreement a fault;
    # the chip holds each conversion's count, so dusk falling mid-read is no fault.
    hw, sensor, _ = light("bh1750")
    hw.physics.ambient_lux = 5.0
    got, now = settle(sensor, 0)
    hw.physics.ambient_lux = 20000.0
    assert sensor.read(now) == got                      # the same conversion, read again
    got, now = settle(sensor, now)
    assert abs(got - 20000) < 200


@pytest.mark.parametrize("kind", ["bh1750", "veml7700"])
def test_light_sensor_beyond_its_range_reads_full_scale_not_a_wrapped_value(kind):
    hw, sensor, _ = light(kind)
    now = 0
    sensor.start(now)
    hw.physics.ambient_lux = 1e6
    got, now = settle(sensor, now)
    assert sensor.range == 0 and got > 100000


@pytest.mark.parametrize("kind", ["bh1750", "veml7700"])
def test_light_sensor_that_vanishes_and_returns(kind):
    hw, sensor, spec = light(kind)
    dev = hw.devices[spec["address"]]
    hw.physics.ambient_lux = 300
    sensor.start(0)
    got, now = settle(sensor, 0)
    dev.gone = True
    with pytest.raises(SensorAbsent, match="%s@0x%02x" % (kind, spec["address"])):
        sensor.read(now + 500)
    dev.gone = False
    again, now = settle(sensor, now + 500)
    assert abs(again - 300) < 3


def test_veml7700_in_bright_light_is_corrected_for_the_chips_non_linearity():
    # The simulated chip reads low in bright light as the real one does; the
    # driver applies Vishay's correction (issue 12, defect 13).
    hw, sensor, spec = light("veml7700")
    now = 0
    sensor.start(now)
    for lux in (1500, 8000, 30000, 60000, 100000):
        hw.physics.ambient_lux = lux
        got, now = settle(sensor, now)
        linear = sensor.range is not None and int.from_bytes(
            hw.i2c(hw.i2c_bus, spec["address"], bytes([0x04]), 2), "little") * \
            sensor_module(sensor).LUX_PER_COUNT[sensor.range]
        assert linear < 0.95 * lux, f"the simulated chip is linear at {lux} lx ({linear:.0f})"
        assert abs(got - lux) <= 0.01 * lux, (lux, got)


def test_veml7700_that_reset_is_reported_not_read_as_night():
    hw, sensor, spec = light("veml7700")
    hw.physics.ambient_lux = 300
    sensor.start(0)
    _, now = settle(sensor, 0)
    hw.devices[spec["address"]].regs[0] = 0x0001  # power-on default: shut down, reads 0
    with pytest.raises(SensorInvalid, match="chip reset"):
        sensor.read(now + 500)


@pytest.mark.parametrize("kind", ["bh1750", "veml7700"])
def test_light_sensor_garbage_is_detected(kind):
    hw, sensor, spec = light(kind)
    hw.physics.ambient_lux = 300
    sensor.start(0)
    _, now = settle(sensor, 0)
    hw.devices[spec["address"]].garbled = True
    caught = 0
    for _ in range(40):
        now += 2000
        try:
            sensor.read(now)
        except SensorInvalid:
            caught += 1
    assert caught >= 38


def test_veml7700_identity_is_checked():
    hw, sensor, spec = light("veml7700")
    hw.devices[spec["address"]].garbled = True
    with pytest.raises(SensorInvalid, match="not a VEML7700"):
        sensor.start(0)
