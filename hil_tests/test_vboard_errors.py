"""Bad input to `pilotlight vboard run`: one clear line, a non-zero exit."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.needs_board_spawn  # `pilotlight vboard run` itself


def _run(*args, home, timeout=30):
    return subprocess.run([sys.executable, "-m", "host_tools", "vboard", "run", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=timeout)


def _one_line_error(run) -> str:
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_unknown_board_type(tmp_path):
    err = _one_line_error(_run("--board-type", "esp8266-nodemcu", home=tmp_path))
    assert "unknown board type 'esp8266-nodemcu'" in err and "esp32-devkitc" in err


def test_malformed_board_config(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    good = json.loads(open("board_configs/esp32-devkitc.json").read())
    good["lamp"]["pin"] = 39
    (configs / "broken.json").write_text(json.dumps(good))
    (configs / "truncated.json").write_text('{"board_type": "x", ')
    env_run = lambda t: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "host_tools", "vboard", "run", "--home", str(tmp_path), "--board-config", str(configs / t)],
        capture_output=True, text=True, timeout=30)
    assert "lamp.pin: GPIO 39 is not an output pin on an ESP32" in _one_line_error(env_run("broken.json"))
    assert "truncated.json: line 1" in _one_line_error(env_run("truncated.json"))


def test_flash_image_unusable(tmp_path):
    ro = tmp_path / "ro.img"
    ro.write_bytes(b"")
    ro.chmod(0o444)
    assert "is not writable" in _one_line_error(_run("--flash", str(ro), home=tmp_path))
    afile = tmp_path / "afile"
    afile.write_text("")
    assert "cannot be created" in _one_line_error(_run("--flash", str(afile / "sub.img"), home=tmp_path))
    assert "is a directory" in _one_line_error(_run("--flash", str(tmp_path), home=tmp_path))
    big = tmp_path / "big.img"
    big.write_bytes(b"\0" * 3_000_000)
    assert "3000000 bytes, more than the 2 MB flash" in _one_line_error(_run("--flash", str(big), home=tmp_path))


def test_port_path_in_use(rig, tmp_path):
    port = tmp_path / "ttyVB0"
    rig.start("first", extra=("--port", str(port)))
    err = _one_line_error(_run("--name", "second", "--port", str(port), home=tmp_path / "other"))
    assert f"port path {port} is in use" in err
    plain = tmp_path / "plainfile"
    plain.write_text("")
    assert "exists and is not a vboard link" in _one_line_error(_run("--port", str(plain), home=tmp_path / "o2"))
    assert os.path.islink(port)  # the running board's link was left alone
