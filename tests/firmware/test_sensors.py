# The sensors built from a board config, on a register-level fake I2C bus
# (below the hardware line): readings, a missing sensor retried on a growing
# backoff, a sensor that vanishes and comes back, and faults that never escape.
from lampctl.sensors import FIRST_RETRY_MS, MAX_RETRY_MS, Sensors

DEVKIT_SENSORS = [
    {"kind": "ina219", "address": 64, "shunt_ohms": 0.1, "max_current_a": 3.2},
    {"kind": "bh1750", "address": 35},
]
ENODEV = 19


class FakeINA219:
    """Registers as the chip computes them for a lamp drawing `watts` at 24 V through 0.1 ohm."""

    def __init__(self, watts):
        self.watts = watts
        self.regs = {0: 0x399F, 5: 0}
        self.ptr = 0

    def write(self, data):
        self.ptr = data[0]
        if len(data) >= 3:
            self.regs[self.ptr] = data[1] << 8 | data[2]

    def read(self, n):
        shunt = int(self.watts / 24 * 0.1 / 10e-6 + 0.5)
        current = shunt * self.regs[5] // 4096
        bus = 6000  # 24 V in 4 mV steps
        value = {2: bus << 3 | 2, 3: current * bus // 5000, 4: current}.get(self.ptr, self.regs.get(self.ptr, 0))
        return bytes([value >> 8 & 0xFF, value & 0xFF])


class FakeBH1750:
    def __init__(self, lux):
        self.lux = lux
        self.mode = None
        self.mtreg = 69

    def write(self, data):
        op = data[0]
        if op in (0x10, 0x11):
            self.mode = op
        elif op & 0xF8 == 0x40:
            self.mtreg = (self.mtreg & 0x1F) | (op & 0x07) << 5
        elif op & 0xE0 == 0x60:
            self.mtreg = (self.mtreg & 0xE0) | (op & 0x1F)

    def read(self, n):
        count = 0 if self.mode is None else int(self.lux * 1.2 * self.mtreg / 69 * (2 if self.mode == 0x11 else 1))
        count = min(count, 0xFFFF)
        return bytes([count >> 8, count & 0xFF])


class FakeBus:
    """machine.I2C's methods over fake chips; an address with no chip NAKs."""

    def __init__(self, chips):
        self.chips = chips
        self.transfers = {}
        self.broken = None  # an exception every transfer raises, to stand for a buggy bus

    def _chip(self, addr):
        self.transfers[addr] = self.transfers.get(addr, 0) + 1
        if self.broken is not None:
            raise self.broken
        chip = self.chips.get(addr)
        if chip is None:
            raise OSError(ENODEV)
        return chip

    def readfrom_mem_into(self, addr, reg, buf):
        chip = self._chip(addr)
        chip.write(bytes([reg]))
        buf[:] = chip.read(len(buf))

    def writeto_mem(self, addr, reg, buf):
        self._chip(addr).write(bytes([reg]) + bytes(buf))

    def writeto(self, addr, buf):
        self._chip(addr).write(bytes(buf))

    def readfrom_into(self, addr, buf):
        buf[:] = self._chip(addr).read(len(buf))


def test_reads_the_lamp_power_and_the_ambient_light():
    bus = FakeBus({64: FakeINA219(48.0), 35: FakeBH1750(12.5)})
    sensors = Sensors(bus, DEVKIT_SENSORS)
    sensors.poll(0)
    assert abs(sensors.power_w - 48.0) < 0.3
    assert sensors.lux is None  # the light sensor's first conversion is not done yet
    for t in range(1, 6):
        sensors.poll(t * 1000)
    assert abs(sensors.lux - 12.5) < 0.2
    assert sensors.errors() == []


def test_a_missing_sensor_is_listed_and_retried_on_a_doubling_backoff():
    bus = FakeBus({64: FakeINA219(30.0)})
    sensors = Sensors(bus, DEVKIT_SENSORS)
    for t in range(0, 20000, 100):
        sensors.poll(t)
    assert bus.transfers[35] == 5  # tries at 0, 1, 3, 7 and 15 s
    [(name, message)] = sensors.errors()
    assert name == "bh1750@0x23" and message.startswith("bh1750@0x23: no answer on the I2C bus") and "19" in message
    assert sensors.lux is None
    assert abs(sensors.power_w - 30.0) < 0.3  # the monitor is read on every poll regardless


def test_a_sensor_that_comes_back_is_read_again_and_its_error_goes():
    bus = FakeBus({64: FakeINA219(30.0)})
    sensors = Sensors(bus, DEVKIT_SENSORS)
    for t in range(0, 4000, 100):
        sensors.poll(t)
    bus.chips[35] = FakeBH1750(300.0)
    for t in range(4000, 12000, 100):
        sensors.poll(t)
    assert sensors.errors() == []
    assert abs(sensors.lux - 300.0) < 3
    assert sensors.light.backoff_ms == 0


def test_a_monitor_that_vanishes_mid_run_gives_no_power_until_it_returns():
    ina = FakeINA219(40.0)
    bus = FakeBus({64: ina, 35: FakeBH1750(5.0)})
    sensors = Sensors(bus, DEVKIT_SENSORS)
    sensors.poll(0)
    assert sensors.power_w is not None
    del bus.chips[64]
    sensors.poll(1000)
    assert sensors.power_w is None  # so metering estimates rather than repeating a stale figure
    assert sensors.errors()[0][0] == "ina219@0x40"
    # It comes back power-cycled: registers at their defaults, calibration lost.
    bus.chips[64] = FakeINA219(40.0)
    sensors.poll(2000)
    assert abs(sensors.power_w - 40.0) < 0.3  # restarted: calibrated again
    assert [e for e in sensors.errors() if e[0] == "ina219@0x40"] == []


def test_backoff_stops_growing_at_five_minutes_across_a_tick_counter_wrap():
    bus = FakeBus({})
    sensors = Sensors(bus, DEVKIT_SENSORS[1:])
    now = (1 << 30) - 5000  # time.ticks_ms() on an ESP32 wraps at 2**30
    tries = []
    for _ in range(30000):
        before = bus.transfers.get(35, 0)
        sensors.poll(now)
        if bus.transfers.get(35, 0) != before:
            tries.append(now)
        now = (now + 1000) & ((1 << 30) - 1)
    gaps = [(b - a) & ((1 << 30) - 1) for a, b in zip(tries, tries[1:])]
    assert gaps[0] == FIRST_RETRY_MS and gaps[1] == 2 * FIRST_RETRY_MS
    assert max(gaps) == MAX_RETRY_MS and gaps[-1] == MAX_RETRY_MS


def test_an_unexpected_bus_error_is_reported_not_raised():
    bus = FakeBus({64: FakeINA219(40.0), 35: FakeBH1750(5.0)})
    sensors = Sensors(bus, DEVKIT_SENSORS)
    bus.broken = RuntimeError("driver bug")
    sensors.poll(0)
    assert sensors.power_w is None and sensors.lux is None
    assert ("ina219@0x40", "ina219@0x40: RuntimeError: driver bug") in sensors.errors()


def test_a_config_the_chip_cannot_meet_is_reported_and_never_tried():
    bus = FakeBus({64: FakeINA219(40.0)})
    sensors = Sensors(bus, [{"kind": "ina219", "address": 64, "shunt_ohms": 0.1, "max_current_a": 5.0}])
    for t in range(0, 10000, 1000):
        sensors.poll(t)
    assert bus.transfers == {}
    name, message = sensors.errors()[0]
    assert name == "ina219@0x40" and "500.0 mV" in message and "320.00 mV" in message
    assert sensors.power_w is None


def test_a_second_monitor_is_reported_as_unused():
    specs = DEVKIT_SENSORS + [{"kind": "ina226", "address": 65, "shunt_ohms": 0.02, "max_current_a": 4.0}]
    sensors = Sensors(FakeBus({64: FakeINA219(10.0)}), specs)
    assert sensors.power.name == "ina219@0x40"
    assert ("ina226@0x41", "ina226@0x41: a second power monitor is not used") in sensors.errors()


def test_no_sensors_fitted():
    sensors = Sensors(None, [])
    sensors.poll(0)
    assert sensors.power_w is None and sensors.lux is None and sensors.errors() == []
