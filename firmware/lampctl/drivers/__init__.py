# I2C sensor drivers written for machine.I2C: a power monitor (INA219, INA226)
# and an ambient light sensor (BH1750, VEML7700). Each driver reads into
# buffers it owns, so a reading allocates no buffers, and turns every bus or
# data problem into a SensorError its caller can catch without knowing the chip.


class SensorError(Exception):
    """No usable reading; the message names the sensor and why."""


class SensorAbsent(SensorError):
    """No acknowledge on the bus: unplugged, unpowered or dead."""


class SensorInvalid(SensorError):
    """The chip answered with something it cannot mean: noise, a reset, a wrong chip."""


class SensorConfigError(ValueError):
    """The board config asks a chip for something it cannot do."""




def best_range(lux, lux_per_count, target_count):
    """Index of the most sensitive range (lux_per_count ordered from least to
    most sensitive) in which `lux` reads at most `target_count` counts."""
    best = 0
    for i in range(len(lux_per_count)):
        if lux <= lux_per_count[i] * target_count:
            best = i
    return best


# Light sensors range themselves: counts they aim for, step up below, step down above.
FULL = 0xFFFF
TARGET, LOW, HIGH = 20000, 1000, 55000


def ranged_lux(sensor, count, lux_per_count, now_ms):
    """Lux for `count` in the sensor's current range, choosing a better range
    for the next reading (sensor._select); None while saturated, after which
    the least sensitive range is taken."""
    if count >= FULL and sensor.range > 0:
        sensor._select(0, now_ms)
        return None
    lux = count * lux_per_count[sensor.range]
    if (count < LOW and sensor.range < len(lux_per_count) - 1) or count > HIGH:
        best = best_range(lux, lux_per_count, TARGET)
        if best != sensor.range:
            sensor._select(best, now_ms)
    return lux



class I2CDevice:
    """One chip on a machine.I2C bus; a NAK becomes SensorAbsent."""

    def __init__(self, i2c, address, kind):
        self.i2c = i2c
        self.address = address
        self.name = "%s@0x%02x" % (kind, address)

    def absent(self, err):
        return SensorAbsent("%s: no answer on the I2C bus (%s)" % (self.name, err))

    def invalid(self, why):
        return SensorInvalid("%s: %s" % (self.name, why))

    def read_reg(self, reg, buf):
        try:
            self.i2c.readfrom_mem_into(self.address, reg, buf)
        except OSError as e:
            raise self.absent(e)

    def write_reg(self, reg, buf):
        try:
            self.i2c.writeto_mem(self.address, reg, buf)
        except OSError as e:
            raise self.absent(e)
