# The lamp's driver output: a level in percent becomes a PWM duty through the
# board's perceptual (gamma) curve and its minimum driver level.
from machine import PWM, Pin


def duty_for(level, lamp_cfg):
    """Duty (0..65535) at the pin for a level in percent (0..100)."""
    if level <= 0:
        out = 0.0
    else:
        lo = lamp_cfg["min_driver_level"]
        out = lo + (1.0 - lo) * (min(level, 100) / 100) ** lamp_cfg["gamma"]
    duty = int(out * 65535 + 0.5)
    return 65535 - duty if lamp_cfg["invert"] else duty


class Lamp:
    def __init__(self, lamp_cfg, level):
        # Opened straight at `level`: taking over from boot.py must not blink.
        self.cfg = lamp_cfg
        self.level = level
        self.pwm = PWM(Pin(lamp_cfg["pin"]), freq=lamp_cfg["pwm_freq_hz"],
                       duty_u16=duty_for(level, lamp_cfg))

    def set_level(self, level):
        if level != self.level:
            self.pwm.duty_u16(duty_for(level, self.cfg))
            self.level = level
