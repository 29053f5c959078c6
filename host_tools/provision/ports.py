"""Which serial ports are boards: USB bridges on an allow-list, and vboards.

A board is found by what it is (the USB bridge's VID:PID), never by guessing
from port names, so a phone paired over Bluetooth (/dev/rfcomm*), a modem or a
JTAG debugger on the same laptop is never written to. Hub slots are named by
/dev/serial/by-path, which stays the same for the same slot: cheap bridges
have no serial number, and /dev/ttyUSB numbers change with plug order."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports

BRIDGES = {
    (0x10C4, 0xEA60): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x55D4): "CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT231X",
    (0x303A, 0x1001): "ESP32-S3/C3 native USB",
    (0x303A, 0x0002): "ESP32-S2 native USB",
}
# On an FT2232 (ESP-Prog and similar) interface 0 is the JTAG debugger, interface 1 the UART.
DEBUG_INTERFACES = {(0x0403, 0x6010): {"0"}}
NEVER = ("/dev/rfcomm",)
BY_PATH = Path("/dev/serial/by-path")


class PortError(Exception):
    pass


@dataclass(frozen=True)
class Port:
    path: str                 # what we open and record: the by-path link when there is one
    kind: str                 # the bridge, or "vboard"
    board_type: str | None = None   # known for vboards; real boards get --board-type


def _by_path(by_path_dir: Path) -> dict[str, str]:
    """{/dev/ttyUSB0: /dev/serial/by-path/...} for the slots the kernel named."""
    links = {}
    if by_path_dir.is_dir():
        for link in sorted(by_path_dir.iterdir()):
            links[str(link.resolve())] = str(link)
    return links


def _interface(info) -> str | None:
    location = getattr(info, "location", None) or ""
    return location.rsplit(".", 1)[-1] if ":" in location else None


def usb_ports(infos=None, by_path_dir: Path = BY_PATH) -> list[Port]:
    """Boards on USB bridges of the allow-list, by hub slot."""
    infos = list_ports.comports() if infos is None else infos
    slots = _by_path(by_path_dir)
    found = []
    for info in infos:
        key = (info.vid, info.pid)
        if info.device.startswith(NEVER) or key not in BRIDGES:
            continue
        if _interface(info) in DEBUG_INTERFACES.get(key, ()):
            continue
        found.append(Port(slots.get(info.device, info.device), BRIDGES[key]))
    return sorted(found, key=lambda p: p.path)


def vboard_ports(home: Path) -> list[Port]:
    """The running vboards under a state home (their board.json), by port link."""
    from ..vboard.host import list_boards
    return [Port(b["port"], "vboard", b.get("board_type")) for b in list_boards(home)
            if b["alive"] and Path(b["port"]).exists()]


def explicit_port(path: str, home: Path | None = None) -> Port:
    """A port named on the command line: refused if it is a Bluetooth link or does not exist."""
    if path.startswith(NEVER):
        raise PortError(f"{path} is a Bluetooth serial link, not a board")
    if not Path(path).exists():
        raise PortError(f"{path}: no such port (is the board plugged in? `pilotlight provision --list` shows what is)")
    for vb in vboard_ports(home) if home else []:
        if vb.path == path:
            return vb
    return Port(path, "serial")
