# TI INA219 power monitor: bus voltage, current and power through a shunt.
# Readings are integers (mV, mA, mW) so a read allocates nothing on the heap.
from lampctl.drivers import I2CDevice, SensorConfigError

REG_CONFIG, REG_BUS, REG_POWER, REG_CURRENT, REG_CAL = 0, 2, 3, 4, 5


class INA219(I2CDevice):
    KIND = "ina219"
    CAL_SCALE = 0.04096          # calibration = CAL_SCALE / (current LSB in A x shunt ohms)
    CAL_MAX = 0xFFFE             # bit 0 of the calibration register is fixed at 0
    POWER_PER_CURRENT_LSB = 20   # power LSB / current LSB
    SHUNT_RANGES_V = (0.04, 0.08, 0.16, 0.32)  # type: tuple  # PGA /1, /2, /4, /8

    def __init__(self, i2c, address=0x40, shunt_ohms=0.1, max_current_a=3.2):
        super().__init__(i2c, address, self.KIND)
        full_v = max_current_a * shunt_ohms
        # Compared with a little slack: 3.2 A x 0.1 ohm is 320 mV, not 320.00000000000006.
        if shunt_ohms <= 0 or max_current_a <= 0 or full_v > self.SHUNT_RANGES_V[-1] * 1.0001:
            raise SensorConfigError("%s: max_current_a %r A through shunt_ohms %r ohm is %.1f mV "
                                    "across the shunt; the %s measures at most %.2f mV" % (
                                        self.name, max_current_a, shunt_ohms, full_v * 1000,
                                        self.KIND.upper(), self.SHUNT_RANGES_V[-1] * 1000))
        # An integer current LSB (uA) keeps readings in small ints; the floor
        # keeps the calibration inside its register.
        lsb_ua = max(_ceil(max_current_a * 1e6 / 32768), _ceil(self.CAL_SCALE * 1e6 / (self.CAL_MAX * shunt_ohms)))
        self.lsb_ua = lsb_ua
        self.power_lsb_uw = lsb_ua * self.POWER_PER_CURRENT_LSB
        self.cal = min(int(self.CAL_SCALE * 1e6 / (lsb_ua * shunt_ohms) + 0.5), self.CAL_MAX) & self.CAL_MAX
        pga = 0
        while self.SHUNT_RANGES_V[pga] * 1.0001 < full_v:
            pga += 1
        self.config = self.config_word(pga)
        self.bus_mv = self.current_ma = self.power_mw = 0
        self._buf = bytearray(2)

    def config_word(self, pga):
        # 32 V bus range, shunt gain for the configured maximum, 128-sample
        # averages of bus and shunt (68 ms: PWM ripple averages out), continuous.
        return 0x2000 | pga << 11 | 0xF << 7 | 0xF << 3 | 0x7

    def bus_millivolts(self, raw):
        if raw & 0x1:
            raise self.invalid("math overflow: current beyond the calibrated range")
        if raw >> 3 >= 0x1FFF:
            raise self.invalid("bus voltage at full scale (32.76 V): beyond the INA219's 26 V input")
        return (raw >> 3) * 4

    def check_identity(self):
        pass  # the INA219 has no identity register; start() reads the config back instead

    def start(self):
        """Configure and calibrate; raises SensorError if the chip is absent or is not one."""
        self.check_identity()
        self._put(REG_CONFIG, self.config)
        self._put(REG_CAL, self.cal)
        got = self._get(REG_CONFIG)
        if got != self.config:
            raise self.invalid("config reads back 0x%04x, wrote 0x%04x" % (got, self.config))

    def read(self):
        """Update bus_mv, current_ma and power_mw; return power_mw."""
        cal = self._get(REG_CAL)
        if cal != self.cal:  # a reset chip reads zero current: not a dark lamp
            raise self.invalid("calibration reads 0x%04x, not 0x%04x (chip reset?)" % (cal, self.cal))
        for _ in range(2):  # a conversion may land between the register reads: read again once
            bus = self.bus_millivolts(self._get(REG_BUS))
            cur = self._get(REG_CURRENT)
            if cur & 0x8000:
                cur -= 0x10000
            cur = cur * self.lsb_ua // 1000
            pw = self._get(REG_POWER) * self.power_lsb_uw // 1000
            expect = bus * abs(cur) // 1000
            if abs(pw - expect) <= expect // 50 + 4 * self.power_lsb_uw // 1000 + bus // 500 + 2:
                self.bus_mv, self.current_ma, self.power_mw = bus, cur, pw
                return pw
        raise self.invalid("power %d mW disagrees with %d mV x %d mA" % (pw, bus, cur))

    def _get(self, reg):
        b = self._buf
        self.read_reg(reg, b)
        return b[0] << 8 | b[1]

    def _put(self, reg, value):
        b = self._buf
        b[0] = value >> 8
        b[1] = value & 0xFF
        self.write_reg(reg, b)


def _ceil(x):
    n = int(x)
    return n + 1 if n < x else max(n, 1)
