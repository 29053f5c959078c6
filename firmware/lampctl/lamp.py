# The lamp's driver output: a level in percent becomes a PWM duty through the
# board's dimming curve (lampctl.curve).
from machine import PWM, Pin

from lampctl.curve import duty_u16


class Lamp:
    def __init__(self, lamp_cfg, level):
        # Opened straight at `level`: taking over from boot.py must not blink.
        self.cfg = lamp_cfg
        self.level = level
        self.pwm = PWM(Pin(lamp_cfg["pin"]), freq=lamp_cfg["pwm_freq_hz"],
                       duty_u16=duty_u16(level, lamp_cfg))

    def set_level(self, level):
        if level != self.level:
            self.pwm.duty_u16(duty_u16(level, self.cfg))
            self.level = level
