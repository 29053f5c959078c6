# ROHM BH1750 ambient light sensor, auto-ranging between bright daylight
# (1.9 lx per count, up to 121 klx) and dusk (0.11 lx per count) by its
# measurement mode and measurement time register (MTreg).
from lampctl.drivers import I2CDevice, ranged_lux
from lampctl.ticks import ticks_add, ticks_diff

POWER_ON, CONT_HRES, CONT_HRES2 = 0x01, 0x10, 0x11
# (mode, MTreg), least to most sensitive.
RANGES = ((CONT_HRES, 31), (CONT_HRES, 69), (CONT_HRES2, 138), (CONT_HRES2, 254))
LUX_PER_COUNT = tuple((1 / 1.2) * (69 / mt) / (2 if mode == CONT_HRES2 else 1) for mode, mt in RANGES)
MAX_CONVERSION_MS = 180  # at MTreg 69, datasheet maximum; scales with MTreg


class BH1750(I2CDevice):
    KIND = "bh1750"

    def __init__(self, i2c, address=0x23):
        super().__init__(i2c, address, self.KIND)
        self.range = 1
        self.lux = None
        self._ready_ms = 0
        self._cmd = bytearray(1)
        self._a = bytearray(2)
        self._b = bytearray(2)

    def start(self, now_ms):
        self._command(POWER_ON)
        self._select(1, now_ms)

    def read(self, now_ms):
        """Lux, or None until a conversion in a newly chosen range is done.
        now_ms: a time.ticks_ms() value."""
        if ticks_diff(now_ms, self._ready_ms) < 0:
            return None
        # No identity or config to read back: three reads of one conversion
        # must agree (noise passes this about once in a thousand).
        a = self._count(self._a)
        for _ in range(2):
            b = self._count(self._b)
            if abs(a - b) > 2 + max(a, b) // 32:
                raise self.invalid("reads of one conversion disagree: %d and %d counts" % (a, b))
            a = b
        lux = ranged_lux(self, b, LUX_PER_COUNT, now_ms)
        if lux is not None:
            self.lux = lux
        return lux

    def _select(self, index, now_ms):
        mode, mt = RANGES[index]
        self._command(0x40 | mt >> 5)
        self._command(0x60 | mt & 0x1F)
        self._command(mode)
        self.range = index
        # The data register holds the old range's count until a full new conversion is done.
        self._ready_ms = ticks_add(now_ms, 2 * MAX_CONVERSION_MS * mt // 69)

    def _command(self, op):
        self._cmd[0] = op
        try:
            self.i2c.writeto(self.address, self._cmd)
        except OSError as e:
            raise self.absent(e)

    def _count(self, buf):
        try:
            self.i2c.readfrom_into(self.address, buf)
        except OSError as e:
            raise self.absent(e)
        return buf[0] << 8 | buf[1]

