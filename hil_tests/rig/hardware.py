"""The rig's hardware, driven through the Adafruit drivers over any
busio-compatible I2C object: Blinka's (an FT232H or MCP2221 on the test host)
or the simulated bus. One MCP23017 serves two boards (port A and port B),
one ADS1115 reads four lamps. Per board slot `s`:

    MCP23017 at 0x20 + s // 2, lines 8 * (s % 2) + ...
        0 PIR        the PIR input (high: motion)
        1 EN         an NPN pulling EN low (high: EN pressed, the chip held in reset)
        2 SUPPLY     the relay in the board's 5 V supply (high: powered)
        3 BOOT       an NPN pulling GPIO0 low (high: BOOT held)
        4 LIGHT_DIM  a white LED over the light sensor, through 10 kΩ (dusk)
        5 LIGHT_SUN  the same LED through 220 Ω (daylight)
    ADS1115 at 0x48 + s // 4, AIN s % 4: the lamp output through its RC
        filter (PWM) or divider (0-10 V), calibrated to a 0..1 level

docs/rig.md has the wiring and the calibration."""
from __future__ import annotations

import errno
import json
import time
from dataclasses import dataclass
from pathlib import Path

PIR, EN, SUPPLY, BOOT, LIGHT_DIM, LIGHT_SUN = range(6)
AT_REST = (SUPPLY, LIGHT_SUN)        # the lines high while no test acts: powered, in daylight
MCP_BASE, ADS_BASE = 0x20, 0x48
DARK_LUX, DUSK_LUX = 10.0, 1000.0   # set_lux below DARK_LUX: LED off; below DUSK_LUX: dim; else full
EN_PULSE_S = 0.1                     # an EN press, held long enough for the chip's reset
RETRIES = 3                          # a bus error is retried; a chip that keeps failing is an error


class RigError(Exception):
    """The rig's hardware failed; the message says which chip, where, and doing what."""


@dataclass
class Calibration:
    """The ADS1115's reading at the lamp's 0 % and 100 % for one slot (volts)."""
    v_off: float = 0.0
    v_full: float = 3.3   # PWM at 3.3 V through an RC filter; 0-10 V through 10k/3.3k reads 2.48

    def level(self, volts: float) -> float:
        span = self.v_full - self.v_off
        return min(1.0, max(0.0, (volts - self.v_off) / span))


def load_calibration(path: Path | None, slots: int) -> list[Calibration]:
    if path is None or not Path(path).exists():
        return [Calibration() for _ in range(slots)]
    try:
        data = json.loads(Path(path).read_text())
        cal = [Calibration(float(s["v_off"]), float(s["v_full"])) for s in data["slots"]]
    except (ValueError, KeyError, TypeError) as e:
        raise RigError(f"{path}: not a rig calibration ({e}); expected {{\"slots\": [{{\"v_off\": V, "
                       f"\"v_full\": V}}, ...]}}") from None
    if len(cal) < slots:
        raise RigError(f"{path}: calibrates {len(cal)} slot(s), the rig has {slots}")
    if any(c.v_full <= c.v_off for c in cal):
        raise RigError(f"{path}: v_full must be above v_off in every slot")
    return cal


class RigHardware:
    def __init__(self, i2c, slots: int, calibration: list[Calibration] | None = None):
        from adafruit_ads1x15 import ADS1115
        from adafruit_mcp230xx.mcp23017 import MCP23017
        self.i2c = i2c
        self.slots = slots
        self.cal = calibration or [Calibration() for _ in range(slots)]
        self.mcp = [self._chip(f"MCP23017 at 0x{MCP_BASE + i:02x}", MCP23017, i2c, address=MCP_BASE + i)
                    for i in range((slots + 1) // 2)]
        self.ads = [self._chip(f"ADS1115 at 0x{ADS_BASE + i:02x}", ADS1115, i2c, address=ADS_BASE + i, gain=1)
                    for i in range((slots + 3) // 4)]
        self.lines = {}
        for slot in range(slots):
            for line in range(6):  # every line an output, at rest: powered, nothing pressed, daylight
                pin = self._do(slot, "configure its lines", lambda: self._pin(slot, line))
                self._do(slot, "configure its lines", lambda: pin.switch_to_output(value=line in AT_REST))
                self.lines[slot, line] = pin

    # -- the verbs, one board slot each ---------------------------------------
    def pir(self, slot: int, on: bool) -> None:
        self._set(slot, PIR, on, "drive its PIR line")

    def press_en(self, slot: int) -> None:
        self._set(slot, EN, True, "press EN")
        time.sleep(EN_PULSE_S)
        self._set(slot, EN, False, "release EN")

    def supply(self, slot: int, on: bool) -> None:
        self._set(slot, SUPPLY, on, "switch its supply relay")

    def hold_boot(self, slot: int, held: bool) -> None:
        self._set(slot, BOOT, held, "hold BOOT")

    def light(self, slot: int, lux: float) -> None:
        self._set(slot, LIGHT_SUN, lux >= DUSK_LUX, "light its sensor")
        self._set(slot, LIGHT_DIM, DARK_LUX <= lux < DUSK_LUX, "light its sensor")

    def output_volts(self, slot: int) -> float:
        from adafruit_ads1x15 import AnalogIn
        ads = self.ads[slot // 4]
        return self._do(slot, "read its lamp output", lambda: AnalogIn(ads, slot % 4).voltage)

    def lamp_level(self, slot: int) -> float:
        return self.cal[slot].level(self.output_volts(slot))

    # -- inside ---------------------------------------------------------------
    def _pin(self, slot: int, line: int):
        return self.mcp[slot // 2].get_pin(8 * (slot % 2) + line)

    def _set(self, slot: int, line: int, value: bool, what: str) -> None:
        pin = self.lines[slot, line]
        self._do(slot, what, lambda: setattr(pin, "value", value))

    def _do(self, slot: int, what: str, action):
        chip = f"MCP23017 at 0x{MCP_BASE + slot // 2:02x}" if "lamp output" not in what \
            else f"ADS1115 at 0x{ADS_BASE + slot // 4:02x}"
        for attempt in range(RETRIES):
            try:
                return action()
            except OSError as e:
                if attempt == RETRIES - 1:
                    raise RigError(f"rig slot {slot}: {_why(e)} from the {chip} while trying to {what} "
                                   f"({RETRIES} tries)") from None
                time.sleep(0.01 * (attempt + 1))

    @staticmethod
    def _chip(name: str, driver, i2c, **kw):
        for attempt in range(RETRIES):
            try:
                return driver(i2c, **kw)
            except ValueError as e:  # busdevice's probe: nothing answered at the address
                raise RigError(f"rig: no {name} on the I2C bus ({e}); check its wiring and address pins") from None
            except OSError as e:
                if attempt == RETRIES - 1:
                    raise RigError(f"rig: {_why(e)} from the {name} while setting it up") from None


def _why(e: OSError) -> str:
    if e.errno in (errno.EREMOTEIO, errno.ENXIO):
        return "no answer (NAK)"
    if e.errno == errno.EIO:
        return "a bus error"
    return f"an I2C error ({e})"


def blinka_i2c(adapter: str):
    """The I2C bus of a USB bridge on the test host, through Blinka. Imported
    only here: a CI machine without the bridge never loads Blinka's board."""
    import os
    env = {"ft232h": "BLINKA_FT232H", "mcp2221": "BLINKA_MCP2221"}.get(adapter)
    if env is None:
        raise RigError(f"--rig-i2c {adapter}: expected ft232h or mcp2221 (or vboard)")
    os.environ[env] = "1"
    try:
        import board
        import busio
        return busio.I2C(board.SCL, board.SDA)
    except Exception as e:  # Blinka raises whatever its platform layer hits: no device, no permission
        raise RigError(f"--rig-i2c {adapter}: the USB-I2C bridge is not usable ({type(e).__name__}: {e})") from None
