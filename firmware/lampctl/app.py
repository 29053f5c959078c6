# The app: one asyncio loop. The control task decides the lamp's level and is
# the only one that feeds the watchdog, so a hung control loop resets the board.
import asyncio
import machine
import time

from lampctl import config
from lampctl.lamp import Lamp


class Presence:
    """The PIR's interrupt only sets a flag; the control task acts on it."""

    def __init__(self, pin):
        self.seen = False
        self.until = 0
        self.pin = machine.Pin(pin, machine.Pin.IN)
        self.pin.irq(self._irq, machine.Pin.IRQ_RISING)

    def _irq(self, _pin):
        self.seen = True


async def control(cfg, lamp, wdt, presence):
    period = cfg["control_period_ms"]
    hold_ms = cfg["presence_hold_s"] * 1000
    while True:
        now = time.ticks_ms()
        level = cfg["default_level"]
        if presence is not None:
            if presence.seen:
                presence.seen = False
                presence.until = time.ticks_add(now, hold_ms)
            if time.ticks_diff(presence.until, now) > 0:
                level = max(level, cfg["presence_level"])
        lamp.set_level(level)
        wdt.feed()
        await asyncio.sleep_ms(period if presence is None else 20)


def run():
    cfg = config.load()
    board = cfg["board"]
    lamp = Lamp(board["lamp"], cfg["failsafe_level"])
    wdt = machine.WDT(timeout=cfg["wdt_ms"])
    presence = Presence(board["pir_pin"]) if board.get("pir_pin") is not None else None
    asyncio.run(control(cfg, lamp, wdt, presence))
