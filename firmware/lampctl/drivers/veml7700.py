# Vishay VEML7700 ambient light sensor, auto-ranging over gain and
# integration time from 2.15 lx per count (up to 140 klx) to 0.0042 lx per
# count. Registers are 16-bit little-endian words behind a command code.
from lampctl.drivers import I2CDevice, ranged_lux
from lampctl.ticks import ticks_add, ticks_diff

REG_CONF, REG_ALS, REG_ID = 0x00, 0x04, 0x07
DEVICE_ID = 0x81
# (gain bits, integration time bits, gain, integration ms), least to most sensitive.
RANGES = ((2, 0xC, 0.125, 25), (2, 0x8, 0.125, 50), (2, 0x0, 0.125, 100), (3, 0x0, 0.25, 100),
          (0, 0x0, 1.0, 100), (1, 0x0, 2.0, 100), (1, 0x1, 2.0, 200), (1, 0x2, 2.0, 400),
          (1, 0x3, 2.0, 800))
LUX_PER_COUNT = tuple(0.0042 * (2.0 / gain) * (800 / ms) for _g, _t, gain, ms in RANGES)


def corrected(lux):
    """The chip reads low in bright light (about 7 % at 1,000 lx, 40 % at
    20,000 lx): Vishay's correction (application note 84323) of a linear
    reading, a polynomial that is all but the reading itself in the dark."""
    return (((6.0135e-13 * lux - 9.3924e-9) * lux + 8.1488e-5) * lux + 1.0023) * lux


class VEML7700(I2CDevice):
    KIND = "veml7700"

    def __init__(self, i2c, address=0x10):
        super().__init__(i2c, address, self.KIND)
        self.range = 2
        self.conf = 0
        self.lux = None
        self._ready_ms = 0
        self._buf = bytearray(2)

    def start(self, now_ms):
        got = self._get(REG_ID) & 0xFF
        if got != DEVICE_ID:
            raise self.invalid("not a VEML7700: device id 0x%02x" % got)
        self._select(2, now_ms)

    def read(self, now_ms):
        """Lux, or None until an integration in a newly chosen range is done.
        now_ms: a time.ticks_ms() value."""
        conf = self._get(REG_CONF)
        if conf != self.conf:  # a reset chip is shut down and reads 0 lx: not night
            raise self.invalid("config reads 0x%04x, not 0x%04x (chip reset?)" % (conf, self.conf))
        if ticks_diff(now_ms, self._ready_ms) < 0:
            return None
        count = self._get(REG_ALS)
        lux = ranged_lux(self, count, LUX_PER_COUNT, now_ms)
        if lux is not None:
            lux = self.lux = corrected(lux)
        return lux

    def _select(self, index, now_ms):
        gain_bits, it_bits, _gain, ms = RANGES[index]
        self.conf = gain_bits << 11 | it_bits << 6  # shutdown bit 0 clear: measuring
        self._put(REG_CONF, self.conf)
        self.range = index
        # The first integration after a change may straddle it: wait for two.
        self._ready_ms = ticks_add(now_ms, 2 * ms + 5)

    def _get(self, reg):
        b = self._buf
        self.read_reg(reg, b)
        return b[0] | b[1] << 8

    def _put(self, reg, value):
        b = self._buf
        b[0] = value & 0xFF
        b[1] = value >> 8
        self.write_reg(reg, b)
