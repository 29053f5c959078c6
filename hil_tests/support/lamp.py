"""Lamp configs as they go onto a board, and the lamp's duty curve (the firmware's own)."""
from __future__ import annotations

from host_tools.paths import firmware_module

curve = firmware_module("curve")
topics = firmware_module("topics")  # the MQTT topic names, as the board builds them

PARIS = {"lat": 48.8566, "lon": 2.3522, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"}
NIGHT = 1795818600  # 2026-11-27 23:30 CET


def render_config(board_type: str = "esp32-devkitc", **settings) -> dict:
    """A board's config.json: its board type's hardware, then the settings."""
    from host_tools.boards import load_board_type
    return {"board": load_board_type(board_type), **settings}


def lamp_config(dev, port, street="centre.main", position=1, mqtt=None, location=PARIS, **settings):
    """A lamp on a street that reaches the broker on 127.0.0.1:`port`."""
    return render_config(device={"id": dev, "site": "test", "groups": ["centre", street], "street": street,
                                 "position": position},
                         location=location, mqtt={"host": "127.0.0.1", "port": port, "keepalive_s": 5, **(mqtt or {})},
                         **settings)


def duty_at(level, board_type: str = "esp32-devkitc") -> int:
    """The PWM duty (0..65535) the lamp's driver sees for `level` % (lampctl.curve), before any inversion."""
    lamp = render_config(board_type)["board"]["lamp"]
    return curve.duty_u16(level, {**lamp, "invert": False})


def level_at(level, board_type: str = "esp32-devkitc") -> float:
    """The lamp's output (0..1, the rig's `lamp_level`) for `level` %."""
    return duty_at(level, board_type) / 65535
