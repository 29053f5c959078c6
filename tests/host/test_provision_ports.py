"""Which serial ports `pilotlight provision` treats as boards."""
import json
import os
from types import SimpleNamespace

import pytest

from host_tools.provision.ports import PortError, explicit_port, usb_ports, vboard_ports


def port(device, vid, pid, location=None):
    return SimpleNamespace(device=device, vid=vid, pid=pid, location=location)


def test_only_allow_listed_bridges_are_boards_and_named_by_hub_slot(tmp_path):
    by_path = tmp_path / "by-path"
    by_path.mkdir()
    for n in range(4):
        (tmp_path / f"ttyUSB{n}").touch()
    (by_path / "pci-0000:00:14.0-usb-0:1.1:1.0-port0").symlink_to(tmp_path / "ttyUSB0")
    (by_path / "pci-0000:00:14.0-usb-0:1.2:1.0-port0").symlink_to(tmp_path / "ttyUSB1")
    infos = [
        port(str(tmp_path / "ttyUSB0"), 0x10C4, 0xEA60, "1-1.1:1.0"),      # CP2102 board, hub slot 1
        port(str(tmp_path / "ttyUSB1"), 0x1A86, 0x7523, "1-1.2:1.0"),      # CH340 board, hub slot 2
        port(str(tmp_path / "ttyUSB2"), 0x0403, 0x6010, "1-1.3:1.0"),      # ESP-Prog: JTAG interface
        port(str(tmp_path / "ttyUSB3"), 0x0403, 0x6010, "1-1.3:1.1"),      # ESP-Prog: its UART
        port("/dev/ttyACM0", 0x2341, 0x0043),                              # an Arduino: not ours
        port("/dev/ttyACM1", 0x303A, 0x1001, "1-2:1.0"),                   # ESP32-S3 native USB
        port("/dev/rfcomm0", 0x10C4, 0xEA60),                              # Bluetooth, whatever it claims
        port("/dev/ttyS0", None, None),                                    # the laptop's own UART
    ]
    found = usb_ports(infos, by_path)
    assert [(p.path, p.kind) for p in found] == [
        ("/dev/ttyACM1", "ESP32-S3/C3 native USB"),
        (str(by_path / "pci-0000:00:14.0-usb-0:1.1:1.0-port0"), "CP210x"),
        (str(by_path / "pci-0000:00:14.0-usb-0:1.2:1.0-port0"), "CH340"),
        (str(tmp_path / "ttyUSB3"), "FTDI FT2232"),
    ]


def test_running_vboards_are_found_and_stale_ones_are_not(tmp_path):
    for name, pid in (("vb00", os.getpid()), ("vb01", 0)):
        d = tmp_path / "vboards" / name
        d.mkdir(parents=True)
        (d / "tty").touch()
        (d / "board.json").write_text(json.dumps({"name": name, "port": str(d / "tty"), "supervisor_pid": pid,
                                                  "board_type": "esp32-devkitc"}))
    found = vboard_ports(tmp_path)
    assert [(p.path, p.kind, p.board_type) for p in found] == [
        (str(tmp_path / "vboards/vb00/tty"), "vboard", "esp32-devkitc")]


def test_bluetooth_and_missing_ports_are_refused_by_name(tmp_path):
    with pytest.raises(PortError, match="Bluetooth"):
        explicit_port("/dev/rfcomm0")
    with pytest.raises(PortError, match="no such port"):
        explicit_port(str(tmp_path / "ttyUSB9"))
