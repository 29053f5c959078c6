# The sensing task: I2C sensors, energy metering and fault diagnostics, once a
# second. Nothing here can stop the lamp: sensors that fail are faults, not
# exceptions, and the control task never waits on this one.
import asyncio
import time

import machine

from lampctl import crash_record, metering, temperature
from lampctl.diagnostics import Diagnostics, check_settings
from lampctl.sensors import Sensors

PERIOD_MS = 1000
STABLE_MS = 10 * 60 * 1000  # after this long running, earlier crashes were not "in a row"


class Sensing:
    def __init__(self, cfg, ctl, events):
        board = cfg["board"]
        self.ctl = ctl
        self.events = events
        i2c = None
        if board.get("sensors"):
            bus = board["i2c"]
            i2c = machine.I2C(0, sda=machine.Pin(bus["sda"]), scl=machine.Pin(bus["scl"]), freq=bus["freq"])
        self.sensors = Sensors(i2c, board.get("sensors"))
        self.temp_c = None
        self._temp = temperature.chip_reader(cfg.get("chip_temp_offset_c"))
        now = time.ticks_ms()
        counters, problem = metering.load()
        if problem:
            events.emit("meter_reset", None, detail=problem)
        self.meter = metering.Meter(board["lamp"], counters, now_ms=now)
        settings = board.get("diagnostics")
        try:
            check_settings(settings)
        except ValueError as e:  # judge with the defaults rather than crash the app at every boot
            events.emit("config_error", None, detail=str(e))
            settings = None
        self.diag = Diagnostics(board["lamp"], settings, watchdog_resets=crash_record.watchdog_resets(), now_ms=now)
        self.started_ms = now
        self.stable = False

    def save_counters(self):
        """Write the energy counters now (a planned stop or reset loses nothing)."""
        self.meter.save(time.ticks_ms())

    def lamp_replaced(self, burn_h):
        """A technician fitted a new lamp (the `lamp_replaced` command): burn
        hours and cycles start again, on flash at once, and constant light
        output starts again from a new lamp. Returns what the old lamp had."""
        meter = self.meter
        was = {"burn_h_was": round(meter.burn_hours(), 3), "cycles_was": meter.cycles}
        meter.replace_lamp(time.ticks_ms(), burn_h * 3600)  # an OSError changes nothing
        self.ctl.set_burn_hours(meter.burn_hours())
        self.events.emit("lamp_replaced", self.ctl.utc(), burn_h=burn_h, **was)
        return was

    def step(self, now):
        ctl = self.ctl
        level = ctl.level()
        self.sensors.poll(now)
        self.meter.sample(now, level, self.sensors.power_w)
        ctl.set_ambient(self.sensors.lux)
        ctl.set_burn_hours(self.meter.burn_hours())
        utc = ctl.utc()
        self.temp_c = self._temp() if self._temp else None
        for e in self.diag.update(now, level, self.sensors.power_w, self.sensors.lux, self.temp_c,
                                  self.sensors.errors()):
            self.events.emit("fault", utc, **e)
        if not self.stable and time.ticks_diff(now, self.started_ms) >= STABLE_MS:
            crash_record.ran_stably()
            self.stable = True
        if self.meter.save_due(now):
            try:
                self.meter.save(now)
            except OSError as e:
                self.events.emit("flash_error", utc, detail=str(e))

    async def run(self):
        while True:
            try:
                self.step(time.ticks_ms())
            except MemoryError:
                # No room this second (a command burst's garbage): the task lives on, or
                # the lamp would go unmetered and unwatched. The next sample's trapezoid
                # spans the skipped one, so no energy is lost.
                pass
            await asyncio.sleep_ms(PERIOD_MS)
