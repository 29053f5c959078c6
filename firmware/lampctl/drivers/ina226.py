# TI INA226 power monitor: the INA219's register map with finer LSBs, one
# shunt range (81.92 mV) and identity registers that tell it from noise.
from lampctl.drivers.ina219 import INA219

REG_MANUFACTURER, REG_DIE = 0xFE, 0xFF
TI = 0x5449
DIE = 0x226


class INA226(INA219):
    KIND = "ina226"
    CAL_SCALE = 0.00512
    CAL_MAX = 0x7FFF
    POWER_PER_CURRENT_LSB = 25
    SHUNT_RANGES_V = (0.08192,)

    def __init__(self, i2c, address=0x40, shunt_ohms=0.02, max_current_a=4.0):
        super().__init__(i2c, address, shunt_ohms, max_current_a)

    def config_word(self, pga):
        # 128-sample averages of 1.1 ms bus and shunt conversions (282 ms), continuous.
        return 0x4000 | 0x4 << 9 | 0x4 << 6 | 0x4 << 3 | 0x7

    def bus_millivolts(self, raw):
        if raw & 0x8000:
            raise self.invalid("bus voltage register reads 0x%04x: bit 15 is always 0" % raw)
        if raw >= 0x7FFF:
            raise self.invalid("bus voltage at full scale (40.96 V): beyond the INA226's 36 V input")
        return raw * 5 // 4

    def check_identity(self):
        mfr = self._get(REG_MANUFACTURER)
        die = self._get(REG_DIE) >> 4
        if mfr != TI or die != DIE:
            raise self.invalid("not an INA226: manufacturer 0x%04x, die 0x%03x" % (mfr, die))
