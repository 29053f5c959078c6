"""`pilotlight firmware fetch`: pinned images into the cache, from a server (a local
one here, standing in for the release server) or from a file; wrong bytes refused."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from host_tools.esp_image import firmware

FILE = "ESP32_GENERIC-20260406-v1.28.0.bin"


@pytest.fixture
def server(tmp_path):
    """A plain HTTP server on a free loopback port, serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def write_pin(pins: Path, url: str, sha256: str | None) -> None:
    pins.mkdir(exist_ok=True)
    (pins / "esp32-devkitc.json").write_text(json.dumps({
        "board_type": "esp32-devkitc", "chip": "esp32", "micropython_board": "ESP32_GENERIC", "version": "v1.28.0",
        "file": FILE, "url": url, "sha256": sha256, "offset": 4096}))


def fetch(tmp_path, *args):
    env = dict(os.environ, PILOTLIGHT_FIRMWARE_PINS=str(tmp_path / "pins"),
               PILOTLIGHT_FIRMWARE_CACHE=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "host_tools", "firmware", "fetch", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_fetch_downloads_the_pinned_image_once_and_checks_it(tmp_path, server):
    www, base = server
    image = firmware.build()
    (www / FILE).write_bytes(image)
    write_pin(tmp_path / "pins", f"{base}/{FILE}", hashlib.sha256(image).hexdigest())
    run = fetch(tmp_path, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["images"][0]["status"] == "stored"
    assert (tmp_path / "cache" / FILE).read_bytes() == image
    (www / FILE).unlink()                      # offline now: the cache is enough
    again = fetch(tmp_path, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["images"][0]["status"] == "cached"


def test_a_download_whose_hash_does_not_match_is_refused_and_not_cached(tmp_path, server):
    www, base = server
    image = firmware.build()
    (www / FILE).write_bytes(image[:-1] + bytes([image[-1] ^ 1]))      # one bit off in transit
    write_pin(tmp_path / "pins", f"https://unreachable.invalid/{FILE}", hashlib.sha256(image).hexdigest())
    run = fetch(tmp_path, "--mirror", base)
    assert run.returncode == 1
    assert "does not match the pinned" in run.stderr
    assert not (tmp_path / "cache" / FILE).exists()


def test_image_from_disk_needs_the_pinned_hash_and_a_bootable_image(tmp_path):
    good = firmware.build()
    disk = tmp_path / FILE
    disk.write_bytes(good)
    write_pin(tmp_path / "pins", f"https://unreachable.invalid/{FILE}", hashlib.sha256(good).hexdigest())
    assert fetch(tmp_path, "--image", str(disk)).returncode == 0
    assert (tmp_path / "cache" / FILE).read_bytes() == good

    # A corrupted image someone pinned by mistake: its hash matches, the chip's checks do not.
    bad = bytearray(good)
    bad[firmware.APP_OFFSET - firmware.WRITE_OFFSET + 0x300] ^= 0x55
    disk.write_bytes(bytes(bad))
    write_pin(tmp_path / "pins", f"https://unreachable.invalid/{FILE}", hashlib.sha256(bad).hexdigest())
    run = fetch(tmp_path, "--image", str(disk))
    assert run.returncode == 1 and "not a bootable ESP32 image" in run.stderr and "checksum failed" in run.stderr
    assert (tmp_path / "cache" / FILE).read_bytes() == good         # the good one stays


def test_an_unreachable_server_fails_cleanly(tmp_path, server):
    _, base = server
    write_pin(tmp_path / "pins", f"{base}/missing/{FILE}", "0" * 64)
    run = fetch(tmp_path)
    assert run.returncode == 1 and "HTTP 404" in run.stderr
