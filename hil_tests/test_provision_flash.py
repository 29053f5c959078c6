"""Blank boards to lamps online in one command: `pilotlight provision --flash` writes the
pinned MicroPython with esptool through each vboard's ROM, then provisions as usual.
The images are built here (small, valid ESP32 images); the pins point at them."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hil_tests.support.broker import provision_args
from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.esp_image import firmware
from host_tools.fleet.watch import Watch
from host_tools.inventory import boards, open_inventory, places
from host_tools.inventory.gis_csv import import_csv

# blank boards of its own, the BOOT button and EN, power cuts, and the chip's flash read from the rig side
pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_boot_button, pytest.mark.needs_reset,
              pytest.mark.needs_power_cut, pytest.mark.needs_flash]

SITE, STREET, TZ = "metz", "Rue A", "CET-1CEST,M3.5.0,M10.5.0/3"
FILE = "ESP32_GENERIC-20260406-v1.28.0.bin"


@pytest.fixture
def fleet(tmp_path):
    csv = tmp_path / "poles.csv"
    csv.write_text("pole_id,site,district,street,position,lat,lon\n"
                   + "".join(f"P-{i:02d},{SITE},Centre,{STREET},{i},49.11{i:02d},6.17\n" for i in range(1, 9)))
    db = tmp_path / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        import_csv(inv, csv)
        places.ensure_site(inv, SITE, tz=TZ)
        broker = local_broker(inv, tmp_path / "broker")
    broker.start()
    yield db, broker
    broker.stop()


def pin_image(tmp_path: Path, image: bytes, version: str = "v1.28.0") -> None:
    """Pins naming this image, and the image in the cache (through `firmware fetch --image`)."""
    pins = tmp_path / "pins"
    pins.mkdir(exist_ok=True)
    (pins / "esp32-devkitc.json").write_text(json.dumps({
        "board_type": "esp32-devkitc", "chip": "esp32", "micropython_board": "ESP32_GENERIC", "version": version,
        "file": FILE, "url": f"https://unreachable.invalid/{FILE}", "sha256": hashlib.sha256(image).hexdigest(),
        "offset": 4096}))
    disk = tmp_path / "download.bin"
    disk.write_bytes(image)
    run = subprocess.run([sys.executable, "-m", "host_tools", "firmware", "fetch", "--image", str(disk),
                          "--board-type", "esp32-devkitc"], env=env(tmp_path), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def env(tmp_path: Path) -> dict:
    return dict(os.environ, PILOTLIGHT_FIRMWARE_PINS=str(tmp_path / "pins"),
                PILOTLIGHT_FIRMWARE_CACHE=str(tmp_path / "cache"), PILOTLIGHT_WIFI_KEY="wifi-secret", COLUMNS="200")


def command(db, broker, home, *args) -> list[str]:
    return [sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(home), "--db", str(db),
            *provision_args(broker), "--wifi-ssid", "METZ", "--json", *args]


def provision(tmp_path, db, broker, home, *args, timeout=240):
    run = subprocess.run(command(db, broker, home, *args), capture_output=True, text=True, timeout=timeout,
                         env=env(tmp_path))
    assert run.stdout.strip(), run.stderr
    return run, json.loads(run.stdout)


def failures(out) -> list:
    return [(b["chip_id"], b["step"], b.get("error")) for b in out["boards"] if not b["ok"]]


def states(db) -> dict[str, str]:
    with open_inventory(db) as inv:
        return {b.chip_id: b.state for b in boards.list_boards(inv)}


def spiflash(vb) -> Path:
    return vb.flash.parent / "spiflash.bin"


def test_four_blank_boards_flashed_provisioned_and_online_in_one_command(rig, fleet, tmp_path):
    db, broker = fleet
    image = firmware.build(app_bytes=64 * 1024)
    pin_image(tmp_path, image)
    vbs = rig.start(count=4, extra=("--blank",))
    run, out = provision(tmp_path, db, broker, rig.home, "--flash", "--street", STREET)
    assert run.returncode == 0, failures(out)
    for b in out["boards"]:
        assert b["ok"] and b["flashed"]["version"] == "v1.28.0" and b["flashed"]["baud"] == 921600, b
    assert set(states(db).values()) == {"provisioned"} and len(states(db)) == 4
    for vb in vbs:   # the image sits in the chip's flash where the release image goes
        assert spiflash(vb).read_bytes()[0x1000:0x1000 + len(image)] == image
    # Already on the pinned MicroPython: checked, not flashed again.
    run, out = provision(tmp_path, db, broker, rig.home, "--flash")
    assert run.returncode == 0 and [b["flashed"] for b in out["boards"]] == [None] * 4, failures(out)
    assert all(b["copied"] == ["config.json"] for b in out["boards"])   # only the rotated password
    with open_inventory(db) as inv:
        operator = credentials.ensure_fleet_account(inv, "fleet")
        broker.reload(inv)
        password = credentials.password(inv, operator.username)
    watch = Watch(broker.port, f"pl/{SITE}/+/status", username=operator.username, password=password)
    try:
        for vb in vbs:
            with vb.control() as c:
                c.reset()
        for vb in vbs:   # online again after the reset: a fresh status, not the one retained from before
            watch.wait(lambda t, p, r, d=vb.unique_id: t == f"pl/{SITE}/{d}/status" and p == b"online" and not r,
                       timeout=60, what=f"{vb.name} online after EN")
    finally:
        watch.close()


def test_a_corrupted_image_is_refused_before_any_board_is_touched(rig, fleet, tmp_path):
    db, broker = fleet
    pin_image(tmp_path, firmware.build())
    cached = tmp_path / "cache" / FILE
    data = bytearray(cached.read_bytes())
    data[firmware.APP_OFFSET - firmware.WRITE_OFFSET + 0x200] ^= 0x01      # the cache rotted, one bit
    cached.write_bytes(bytes(data))
    [vb] = rig.start(extra=("--blank",))
    run = subprocess.run(command(db, broker, rig.home, "--flash", "--street", STREET), capture_output=True,
                         text=True, timeout=60, env=env(tmp_path))
    assert run.returncode == 1 and "not flashing anything" in run.stderr and "does not match" in run.stderr
    assert spiflash(vb).read_bytes() == b"\xff" * (4 * 1024 * 1024)
    assert states(db) == {}


def test_power_cut_while_flashing_leaves_the_board_new_and_the_next_run_starts_over(rig, fleet, tmp_path):
    db, broker = fleet
    image = firmware.build(app_bytes=200 * 1024)
    pin_image(tmp_path, image)
    [vb] = rig.start(baud=115200, extra=("--blank",))      # a real line's pace: the write takes seconds
    proc = subprocess.Popen(command(db, broker, rig.home, "--flash", "--street", STREET), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env(tmp_path))
    with vb.control() as c:
        c.wait_for(lambda st: (st["rom"] or {}).get("written", 0) > 64 * 1024, timeout=60, what="flash write")
        c.power_cut()
    out = json.loads(proc.communicate(timeout=120)[0])
    board = out["boards"][0]
    assert proc.returncode == 1 and not board["ok"] and board["step"] == "flash", board
    assert states(db) == {vb.unique_id: "new"}
    with vb.control() as c:
        c.power_on()
        c.wait_for(lambda st: st["rom"]["mode"] == "bootloop", what="the boot loop of half an image")
        time.sleep(1.0)
        assert c.status()["rom"]["mode"] == "bootloop" and not c.status()["running"]   # it never boots
    run, out = provision(tmp_path, db, broker, rig.home, "--flash", "--street", STREET)
    assert run.returncode == 0, [(b["step"], b["error"]) for b in out["boards"]]
    assert out["boards"][0]["flashed"]["image_bytes"] == len(image)
    assert states(db) == {vb.unique_id: "provisioned"}
    assert spiflash(vb).read_bytes()[0x1000:0x1000 + len(image)] == image


def test_another_micropython_release_is_reported_and_replaced_with_flash(rig, fleet, tmp_path):
    db, broker = fleet
    old = tmp_path / "ESP32_GENERIC-20251209-v1.27.0.bin"
    old.write_bytes(firmware.build(version="v1.27.0"))
    [vb] = rig.start(extra=("--blank",))
    with vb.control() as c:             # flashed by hand with last year's release
        c.call("download_reset")
    wrote = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "--port", vb.port, "--before",
                            "no-reset", "--after", "no-reset", "--no-stub", "write-flash", "0x1000", str(old)],
                           capture_output=True, text=True, timeout=60)
    assert wrote.returncode == 0, wrote.stdout
    with vb.control() as c:
        c.reset()
        c.wait_for(lambda st: st["micropython"] == "v1.27.0" and st["running"], what="MicroPython 1.27 running")
    pin_image(tmp_path, firmware.build(version="v1.28.0"))
    run, out = provision(tmp_path, db, broker, rig.home, "--street", STREET)
    board = out["boards"][0]
    assert run.returncode == 1 and board["needs_flash"] and "runs MicroPython 1.27.0" in board["error"]
    assert "--flash" in board["error"]
    run, out = provision(tmp_path, db, broker, rig.home, "--flash", "--street", STREET)
    assert run.returncode == 0 and out["boards"][0]["flashed"]["version"] == "v1.28.0", out
    assert states(db) == {vb.unique_id: "provisioned"}


def test_without_auto_reset_wiring_the_tool_asks_for_boot_and_en_and_waits(rig, fleet, tmp_path):
    db, broker = fleet
    pin_image(tmp_path, firmware.build())
    [vb] = rig.start(extra=("--blank", "--no-auto-reset"))
    proc = subprocess.Popen(command(db, broker, rig.home, "--flash", "--street", STREET), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(tmp_path))
    asked = threading.Event()

    def technician():   # reads the screen; when asked, holds BOOT, presses EN, lets go of BOOT
        for line in proc.stderr:
            if "hold the BOOT button" in line and not asked.is_set():
                asked.set()
                with vb.control() as c:
                    c.call("boot_button", held=True)
                    c.reset()
                    c.wait_for(lambda st: st["rom"]["mode"] == "download", what="download mode")
                    c.call("boot_button", held=False)

    helper = threading.Thread(target=technician, daemon=True)
    helper.start()
    stdout = proc.stdout.read()            # stderr is the technician's to read
    proc.wait(timeout=60)
    out = json.loads(stdout)
    assert asked.is_set() and proc.returncode == 0 and out["boards"][0]["flashed"], out


def test_at_a_terminal_the_tool_asks_before_flashing_and_flashes_on_yes(rig, fleet, tmp_path):
    db, broker = fleet
    pin_image(tmp_path, firmware.build())
    [vb] = rig.start(extra=("--blank",))
    keyboard, terminal = os.openpty()        # the technician's terminal: stdin is a TTY
    cmd = [a for a in command(db, broker, rig.home, "--street", STREET) if a != "--json"]
    proc = subprocess.Popen(cmd, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(tmp_path))
    os.close(terminal)
    screen, deadline = b"", time.monotonic() + 120
    while b"Flash them now?" not in screen:
        assert time.monotonic() < deadline and proc.poll() is None, screen.decode(errors="replace")
        screen += os.read(proc.stderr.fileno(), 4096)
    os.write(keyboard, b"y\n")
    stdout = proc.stdout.read().decode()
    proc.wait(timeout=60)
    os.close(keyboard)
    assert proc.returncode == 0, stdout
    assert "1 of 1 board(s) provisioned" in stdout and "flashed v1.28.0" in stdout
    assert states(db) == {vb.unique_id: "provisioned"}
