# The app: one asyncio loop. The control task decides the lamp's level and is
# the only one that feeds the watchdog, so a hung control loop resets the board.
import asyncio
import json
import machine

from lampctl import VERSION, clock, config, store
from lampctl.control import Controller
from lampctl.events import Events
from lampctl.lamp import Lamp
from lampctl.sensing import Sensing

PROGRAM_PATH = "program.json"


def _program_doc(cfg, state):
    """The program the board last accepted (program.json), else the config's."""
    text = store.read_text(PROGRAM_PATH)
    if text is not None:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return cfg.get("program")


def build():
    cfg = config.load()
    board = cfg["board"]
    events = Events()
    lamp = Lamp(board["lamp"], cfg["failsafe_level"])
    state, problem = store.load()
    if problem:
        events.emit("state_lost", None, detail=problem)
    ctl = Controller(cfg, lamp, state, events)
    doc = _program_doc(cfg, state)
    if doc is not None:
        try:
            ctl.set_program(doc)
        except ValueError as e:
            events.emit("program_rejected", None, detail=str(e))
    if board.get("pir_pin") is not None:
        pir = machine.Pin(board["pir_pin"], machine.Pin.IN)
        pir.irq(ctl.on_motion, machine.Pin.IRQ_RISING)
    events.emit("boot", clock.utc() if ctl.clock_ok else None, reset_cause=machine.reset_cause(),
                version=VERSION)
    return cfg, ctl, Sensing(cfg, ctl, events)


async def main(cfg, ctl, sensing):
    wdt = machine.WDT(timeout=cfg["wdt_ms"])
    asyncio.create_task(sensing.run())
    await ctl.run(wdt)


def run():
    cfg, ctl, sensing = build()
    asyncio.run(main(cfg, ctl, sensing))
