# The dimming curve: a level in percent becomes the driver's input through the
# board's perceptual (gamma) curve and its minimum driver level. The one copy:
# the lamp output, the metering estimate, the host tools and the tests use it.
# Pure: no hardware.


def drive_fraction(level, lamp_cfg):
    """The driver's input (0..1) for a level in percent (0..100); off is 0."""
    if level <= 0:
        return 0.0
    lo = lamp_cfg["min_driver_level"]
    return lo + (1.0 - lo) * (min(level, 100) / 100) ** lamp_cfg["gamma"]


def duty_u16(level, lamp_cfg):
    """The PWM duty (0..65535) at the pin for a level, inverted where the driver input is."""
    duty = int(drive_fraction(level, lamp_cfg) * 65535 + 0.5)
    return 65535 - duty if lamp_cfg["invert"] else duty
