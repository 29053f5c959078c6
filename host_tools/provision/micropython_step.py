"""The MicroPython under the app: checked on every board before anything else, and
flashed (with --flash, or when the technician says yes) where it is missing or not
the pinned release. A board is registered `new` from its chip id before its flash is
touched, so a failed or interrupted flash leaves it recorded and not provisioned."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..esp_image.firmware import same_version
from ..inventory import boards, open_inventory
from ..micropython.pins import Pin
from .flasher import Flasher
from .ports import Port
from .session import NoAnswer, Session

NO_MICROPYTHON = "no MicroPython answers (blank flash, a vendor image, or a broken one)"


class NeedsFlash(Exception):
    """The board needs MicroPython written and flashing was not allowed; the message says so."""


@dataclass
class Plan:
    pins: dict[str, Pin]                 # board type -> its pinned release
    images: dict[str, bytes] = field(default_factory=dict)   # checked images, when flashing is allowed
    flash: bool = False
    home: Path | None = None
    max_baud: int | None = None
    say: Callable[[str], None] = print   # a message the technician must act on (hold BOOT ...)


def needs_flash(session: Session, plan: Plan | None, board_type: str) -> str | None:
    """Enter maintenance mode as usual; why the board needs flashing, or None when it runs
    the pinned MicroPython (or nothing is pinned for its type)."""
    try:
        session.enter_maintenance()
    except NoAnswer:
        if plan is None or board_type not in plan.pins:
            raise
        if session.boot_failing() or plan.flash:
            return NO_MICROPYTHON
        raise NoAnswer(f"{session.port}: {NO_MICROPYTHON}: run again with --flash to write MicroPython "
                       f"{plan.pins[board_type].version}") from None
    pin = plan.pins.get(board_type) if plan else None
    if pin is None:
        return None
    found = session.micropython_version()
    return None if same_version(found, pin.version) else f"it runs MicroPython {found}, the pin is {pin.version}"


def flash(port: Port, db: Path, board_type: str, plan: Plan, reason: str, step, actor: str | None, result) -> dict:
    """Write the pinned image; what was done, for the report. `step(name, fraction)` shows progress;
    `result.chip_id` is set as soon as the chip has said it."""
    pin = plan.pins[board_type]
    if not plan.flash:
        raise NeedsFlash(f"{reason}: run again with --flash to write MicroPython {pin.version}")
    step("download", 0.0)
    flasher = Flasher(port, plan.home, plan.say, step, plan.max_baud)
    chip = result.chip_id = flasher.connect()
    try:
        with open_inventory(db) as inv:
            board = boards.register(inv, chip, board_type, actor=actor)
            if board.state in ("provisioned", "commissioned"):
                boards.set_state(inv, chip, "new", actor=actor, reason="MicroPython being reflashed")
    except BaseException:
        flasher.close()
        raise
    step("flash", 0.0)
    done = flasher.write(plan.images[board_type], pin.offset)
    return {"chip_id": chip, "reason": reason, "version": pin.version, "baud": done.baud,
            "seconds": round(done.seconds, 3), "image_bytes": done.image_bytes}
