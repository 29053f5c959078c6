"""The I2C drivers under the real MicroPython interpreter on running vboards:
copied onto the board's flash with mpremote, run through the ESP32 machine.I2C
shim against the vboard's simulated chips, and compared with the simulated
physics the rig sets through the control channel."""
import json
import selectors
import threading
import time
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.vboard.control import VBoardClient

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FILES = ["lampctl/%s.py" % m for m in ("__init__", "ticks", "sensor_kinds", "curve", "sensors", "metering", "diagnostics",
                                             "board_config", "store")] + [
    "lampctl/drivers/%s.py" % m for m in ("__init__", "ina219", "ina226", "bh1750", "veml7700")]

# Loaded once on the board: reads that report their outcome as one JSON line.
BOARD_HELPERS = """
import json, machine, time
from lampctl.drivers import SensorError

def outcome(fn):
    try:
        print('=>' + json.dumps({'value': fn()}))
    except (SensorError, ValueError) as e:
        print('=>' + json.dumps({'error': type(e).__name__, 'message': str(e)}))

def settle(s):
    # Read until two readings in a row come from one range (auto-range done),
    # once the conversion under way when the light changed is over (the chip
    # holds its count until then: up to 0.44 s in the most sensitive range).
    time.sleep_ms(500)
    r = None
    for _ in range(60):
        got = s.read(time.ticks_ms())
        if got is not None:
            if s.range == r:
                return got
            r = s.range
        time.sleep_ms(150)
    raise ValueError('no settled reading')
"""


def tool(name):
    found = BIN / name
    return str(found) if found.exists() else shutil.which(name)


class Board:
    def __init__(self, name, home, port):
        self.name, self.home, self.port = name, home, port

    def mpremote(self, *args):
        run = subprocess.run([tool("mpremote"), "connect", self.port, "resume", *args],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"mpremote {args[0]}: {run.stdout}{run.stderr}"
        return run.stdout

    def install(self):
        cmd = ["fs", "mkdir", ":lampctl", "+", "fs", "mkdir", ":lampctl/drivers"]
        for f in FILES:
            cmd += ["+", "fs", "cp", str(REPO / "firmware" / f), ":" + f]
        self.mpremote(*cmd)
        self.mpremote("exec", BOARD_HELPERS)

    def outcome(self, setup, expr):
        """Run `setup`, then outcome(lambda: expr) on the board; return its dict."""
        out = self.mpremote("exec", setup + "\noutcome(lambda: " + expr + ")")
        lines = [line[2:] for line in out.splitlines() if line.startswith("=>")]
        assert lines, f"no outcome from the board:\n{out}"
        return json.loads(lines[-1])

    def value(self, setup, expr):
        got = self.outcome(setup, expr)
        assert "value" in got, got
        return got["value"]

    def client(self):
        return VBoardClient(self.name, home=self.home)


def start_vboard(board_type, home):
    name = "drv-" + board_type
    proc = subprocess.Popen([tool("pilotlight"), "vboard", "run", "--name", name, "--home", str(home),
                             "--board-type", board_type, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=30):
        stop_vboard(proc)
        raise AssertionError(f"vboard {name} not ready in 30 s")
    line = proc.stdout.readline()
    if not line:
        stop_vboard(proc)
        raise AssertionError(f"vboard {name} exited: {proc.stderr.read()}")
    return proc, Board(name, home, json.loads(line)["ready"][0]["port"])


def stop_vboard(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def devkit(tmp_path_factory):
    proc, board = start_vboard("esp32-devkitc", tmp_path_factory.mktemp("vb"))
    try:
        board.install()
        board.mpremote("exec", "i2c = machine.I2C(0, sda=machine.Pin(21), scl=machine.Pin(22), freq=400000)\n"
                               "pwm = machine.PWM(machine.Pin(25), freq=1000, duty_u16=0)")
        yield board
    finally:
        stop_vboard(proc)


@pytest.fixture(scope="module")
def olimex(tmp_path_factory):
    proc, board = start_vboard("olimex-esp32-poe", tmp_path_factory.mktemp("vb"))
    try:
        board.install()
        board.mpremote("exec", "i2c = machine.I2C(0, sda=machine.Pin(13), scl=machine.Pin(16), freq=100000)")
        yield board
    finally:
        stop_vboard(proc)


def test_ina219_reads_the_power_the_simulated_lamp_draws(devkit):
    devkit.mpremote("exec", "from lampctl.drivers.ina219 import INA219\nina = INA219(i2c, 64, 0.1, 3.2)\nina.start()")
    with devkit.client() as rig:
        for duty in (0, 6553, 32768, 58982, 65535):
            mw, bus_mv, ma = devkit.value("pwm.duty_u16(%d)" % duty, "[ina.read(), ina.bus_mv, ina.current_ma]")
            watts = rig.status()["lamp_power_w"]
            assert abs(mw - watts * 1000) <= 0.005 * watts * 1000 + 10, (duty, mw, watts)
            assert abs(bus_mv - 24000) <= 4 and abs(ma - watts / 24 * 1000) <= 3


def test_bh1750_follows_the_simulated_light_from_dusk_to_noon(devkit):
    devkit.mpremote("exec", "from lampctl.drivers.bh1750 import BH1750\nlight = BH1750(i2c, 35)\n"
                            "light.start(time.ticks_ms())")
    with devkit.client() as rig:
        for lux in (0.8, 40.0, 2500.0, 90000.0, 12.0):
            rig.set_lux(lux)
            got = devkit.value("", "settle(light)")
            assert abs(got - lux) <= 0.01 * lux + 0.12, (lux, got)


def test_a_sensor_that_disappears_mid_run_is_an_error_to_catch_then_a_reading_again(devkit):
    devkit.mpremote("exec", "from lampctl.drivers.bh1750 import BH1750\nlight = BH1750(i2c, 35)\n"
                            "light.start(time.ticks_ms())")
    with devkit.client() as rig:
        rig.set_lux(300.0)
        assert abs(devkit.value("", "settle(light)") - 300.0) < 3.5
        rig.fault("sensor_gone", address=35)
        got = devkit.outcome("", "light.read(time.ticks_ms())")
        assert got["error"] == "SensorAbsent"
        assert got["message"] == "bh1750@0x23: no answer on the I2C bus ([Errno 19] ENODEV)"
        rig.fault("sensor_gone", on=False, address=35)
        assert abs(devkit.value("", "settle(light)") - 300.0) < 3.5


def test_a_power_monitor_babbling_garbage_is_caught(devkit):
    devkit.mpremote("exec", "from lampctl.drivers.ina219 import INA219\nina = INA219(i2c, 64, 0.1, 3.2)\nina.start()")
    with devkit.client() as rig:
        rig.fault("sensor_garbage", address=64)
        try:
            for _ in range(3):
                got = devkit.outcome("", "ina.read()")
                assert got["error"] == "SensorInvalid" and got["message"].startswith("ina219@0x40: "), got
        finally:
            rig.fault("sensor_garbage", on=False, address=64)
    assert devkit.value("ina.start()", "ina.read()") >= 0


def test_the_sensor_manager_on_the_board_reports_a_vanished_sensor_and_recovers(devkit):
    setup = ("from lampctl.sensors import Sensors\n"
             "sensors = Sensors(i2c, [{'kind': 'ina219', 'address': 64, 'shunt_ohms': 0.1, 'max_current_a': 3.2},"
             " {'kind': 'bh1750', 'address': 35}])\n"
             "pwm.duty_u16(65535)\nsensors.poll(time.ticks_ms())")
    assert devkit.value(setup, "sensors.power_w") > 59
    with devkit.client() as rig:
        rig.fault("sensor_gone", address=64)
        try:
            errors = devkit.value("sensors.poll(time.ticks_ms())", "[sensors.power_w, sensors.errors()]")
            assert errors == [None, [["ina219@0x40", "ina219@0x40: no answer on the I2C bus ([Errno 19] ENODEV)"]]]
        finally:
            rig.fault("sensor_gone", on=False, address=64)
    # The first retry is due a second after the failure.
    got = devkit.value("time.sleep_ms(1100)\nsensors.poll(time.ticks_ms())", "[sensors.power_w, sensors.errors()]")
    assert got[0] > 59 and got[1] == []


def test_veml7700_follows_the_simulated_light(olimex):
    olimex.mpremote("exec", "from lampctl.drivers.veml7700 import VEML7700\nlight = VEML7700(i2c, 16)\n"
                            "light.start(time.ticks_ms())")
    with olimex.client() as rig:
        for lux in (0.5, 60.0, 3000.0, 100000.0):
            rig.set_lux(lux)
            got = olimex.value("", "settle(light)")
            assert abs(got - lux) <= 0.01 * lux + 0.01, (lux, got)


def test_ina226_with_a_shunt_beyond_its_range_says_what_is_wrong(olimex):
    # 4 A through 0.05 ohm is 200 mV, beyond the INA226's 81.92 mV shunt range
    got = olimex.outcome("from lampctl.drivers.ina226 import INA226", "INA226(i2c, 65, 0.05, 4.0)")
    assert got["error"] == "SensorConfigError" and "81.92 mV" in got["message"]


NIGHT_LOOP = """
from lampctl.sensors import Sensors
from lampctl.curve import drive_fraction
from lampctl.metering import Meter
from lampctl.diagnostics import Diagnostics
BOARD = json.loads(%r)
sensors = Sensors(i2c, BOARD['sensors'])
meter = Meter(BOARD['lamp'])
diag = Diagnostics(BOARD['lamp'], {'raise_s': 1, 'clear_s': 1, 'day_burner_s': 1})
pwm.duty_u16(int(drive_fraction(80, BOARD['lamp']) * 65535 + 0.5))
events = []
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < %d:
    now = time.ticks_ms()
    sensors.poll(now)
    meter.sample(now, 80, sensors.power_w)
    for e in diag.update(now, 80, sensors.power_w, sensors.lux, None, sensors.errors()):
        e['at'] = time.ticks_diff(now, t0)
        events.append(e)
    time.sleep_ms(100)
print('=>' + json.dumps({'value': events}))
"""


def test_a_failed_lamp_and_a_day_burner_on_the_vboard_each_raise_once_and_clear_once(devkit):
    board = json.loads((REPO / "board_configs" / "esp32-devkitc.json").read_text())
    with devkit.client() as rig:
        rig.set_lux(5.0)
        script = [(1.5, "lamp_failed", True), (3.5, "lamp_failed", False), (3.5, "lux", 20000.0),
                  (5.5, "lux", 5.0)]

        def act():
            t0 = time.monotonic()
            for at, what, value in script:
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                if what == "lux":
                    rig.set_lux(value)
                else:
                    rig.fault(what, on=value)

        rig_thread = threading.Thread(target=act)
        rig_thread.start()
        try:
            events = devkit.value(NIGHT_LOOP % (json.dumps(board), 9500), "events")
        finally:
            rig_thread.join()
            rig.fault("lamp_failed", on=False)
    for fault in ("lamp_failed", "day_burner"):
        mine = [(e["state"], e["detail"]) for e in events if e["fault"] == fault]
        assert [state for state, _ in mine] == ["raised", "cleared"], events
    assert [e for e in events if e["fault"] not in ("lamp_failed", "day_burner")] == []
    failed = next(e for e in events if e["fault"] == "lamp_failed")
    assert failed["detail"] == "on at 80%: drawing 0.6 W, expected 38.1 W"
