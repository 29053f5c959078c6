"""A vboard with the ESP32's ROM: blank at first, flashed by unmodified esptool
(its CLI, over the pty, ROM loader only) in download mode, then booting only
what the chip would boot."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import serial

from host_tools.esp_image import firmware

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_boot_button, pytest.mark.needs_reset]  # blank vboards


def esptool(port: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "--port", port,
                           "--before", "no-reset", "--after", "no-reset", "--no-stub", *args],
                          capture_output=True, text=True, timeout=timeout)


def console(port: str, seconds: float, until=lambda got: False) -> bytes:
    """What the board prints for `seconds`, or until `until(got)` holds."""
    got = b""
    with serial.Serial(port, 115200, timeout=0.05) as line:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until(got):
            got += line.read(4096)
    return got


def press(vb, boot_held: bool) -> None:
    with vb.control() as c:
        c.call("boot_button", held=boot_held)
        c.reset()


def test_esptool_detects_writes_and_verifies_a_blank_vboard_which_then_boots(rig, tmp_path):
    [vb] = rig.start(extra=("--blank",))
    blank_loop = lambda got: got.count(b"invalid header: 0xffffffff") >= 10 and b"rst:0x10 (RTCWDT_RTC_RESET)" in got
    assert blank_loop(console(vb.port, 15, until=blank_loop))
    image = tmp_path / "ESP32_GENERIC-test-v1.28.0.bin"
    image.write_bytes(firmware.build(app_bytes=48 * 1024))
    other = tmp_path / "other.bin"
    other.write_bytes(firmware.build(app_bytes=48 * 1024, seed=1))

    press(vb, boot_held=True)
    chip = esptool(vb.port, "chip-id")
    assert chip.returncode == 0, chip.stdout + chip.stderr
    assert "ESP32-D0WD-V3" in chip.stdout
    assert ":".join(vb.unique_id[i:i + 2] for i in range(0, 12, 2)) in chip.stdout
    wrote = esptool(vb.port, "--baud", "460800", "write-flash", "0x1000", str(image))
    assert wrote.returncode == 0 and "Hash of data verified" in wrote.stdout, wrote.stdout + wrote.stderr
    assert esptool(vb.port, "verify-flash", "0x1000", str(image)).returncode == 0
    mismatch = esptool(vb.port, "verify-flash", "0x1000", str(other))
    assert mismatch.returncode != 0 and "digest mismatch" in mismatch.stdout

    press(vb, boot_held=False)
    with vb.control() as c:
        c.wait_for(lambda st: st["rom"]["mode"] == "app" and st["running"], what="MicroPython started")
    run = subprocess.run([sys.executable, "-m", "mpremote", "connect", vb.port, "resume", "exec",
                          "import os; print(os.uname().release, os.listdir())"],
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "1.28.0 ['boot.py']", run.stdout + run.stderr


def test_a_corrupted_image_written_anyway_leaves_the_board_in_a_boot_loop(rig, tmp_path):
    [vb] = rig.start(extra=("--blank",))
    data = bytearray(firmware.build())
    data[firmware.APP_OFFSET - firmware.WRITE_OFFSET + 0x400] ^= 0xFF      # one byte of the app's code
    image = tmp_path / "bad.bin"
    image.write_bytes(bytes(data))
    press(vb, boot_held=True)
    assert esptool(vb.port, "write-flash", "0x1000", str(image)).returncode == 0   # esptool writes what it is given
    press(vb, boot_held=False)
    seen = console(vb.port, 15, until=lambda got: b"rst:0x10 (RTCWDT_RTC_RESET)" in got)
    assert b"image at 0x10000: checksum failed" in seen and b"rst:0x10 (RTCWDT_RTC_RESET)" in seen
    with vb.control() as c:
        st = c.status()
    assert not st["running"] and st["rom"]["mode"] == "bootloop"
