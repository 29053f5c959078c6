# The on-board self-test the provisioning tool runs after a sync, in
# maintenance mode: the lamp ramps through its PWM, every I2C sensor of the
# board config answers, the clock holds a plausible date, and the broker
# accepts a TCP connection. run() returns a dict the tool prints as JSON.
import machine
import time

from lampctl.curve import duty_u16
from lampctl.lamp import Lamp

RAMP = (0, 25, 50, 75, 100)
DUTY_TOLERANCE = 656        # 1% of full scale: the LEDC timer's resolution rounds the duty
MIN_YEAR = 2024             # the RTC restarts at 2000 after a power loss
NET_WAIT_MS = 10000
CONNECT_TIMEOUT_S = 5


def lamp_ramp(lamp_cfg, settle_level):
    lamp = Lamp(lamp_cfg, 0)
    bad = []
    for level in RAMP:
        lamp.set_level(level)
        want = duty_u16(level, lamp_cfg)
        got = lamp.pwm.duty_u16()
        if abs(got - want) > DUTY_TOLERANCE:
            bad.append("%d%%: duty %d, expected %d" % (level, got, want))
        time.sleep_ms(100)
    lamp.set_level(settle_level)
    return {"ok": not bad, "levels": list(RAMP), "errors": bad}


def sensors(board):
    bus = board.get("i2c")
    wanted = board.get("sensors") or []
    if not wanted:
        return {"ok": True, "found": [], "missing": []}
    i2c = machine.I2C(0, scl=machine.Pin(bus["scl"]), sda=machine.Pin(bus["sda"]), freq=bus["freq"])
    present = i2c.scan()
    found = []  # type: list[str]
    missing = []  # type: list[str]
    for s in wanted:
        name = "%s@0x%02x" % (s["kind"], s["address"])
        (found if s["address"] in present else missing).append(name)
    return {"ok": not missing, "found": found, "missing": missing}


def clock():
    t = time.localtime()
    stamp = "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]
    return {"ok": t[0] >= MIN_YEAR, "utc": stamp}


def _network_up(cfg):
    # The app's own bring-up (Wi-Fi or Ethernet), so the test passes only if the app can.
    from lampctl.link import Link
    link = Link(cfg, None, None)
    link.start()
    nic = link.nic
    if nic is None:
        return False
    start = time.ticks_ms()
    while not nic.isconnected():
        if time.ticks_diff(time.ticks_ms(), start) > NET_WAIT_MS:
            return False
        time.sleep_ms(100)
    return True


def broker(cfg):
    mqtt = cfg.get("mqtt")
    if not mqtt:
        return {"ok": False, "error": "no mqtt section in config.json"}
    where = "%s:%d" % (mqtt["host"], mqtt["port"])
    if not _network_up(cfg):
        return {"ok": False, "broker": where, "error": "network not up (Wi-Fi SSID/key, or cable)"}
    import socket
    s = None
    try:
        addr = socket.getaddrinfo(mqtt["host"], mqtt["port"])[0][-1]
        s = socket.socket()
        s.settimeout(CONNECT_TIMEOUT_S)
        s.connect(addr)
        return {"ok": True, "broker": where}
    except OSError as e:
        return {"ok": False, "broker": where, "error": "connect failed: %s" % e}
    finally:
        if s is not None:
            s.close()


def run(cfg=None):
    if cfg is None:
        from lampctl import config
        cfg = config.load()
    board = cfg["board"]
    out = {}
    for name, check in (("lamp", lambda: lamp_ramp(board["lamp"], cfg["failsafe_level"])),
                        ("sensors", lambda: sensors(board)), ("clock", clock), ("broker", lambda: broker(cfg))):
        try:
            out[name] = check()
        except Exception as e:  # one check failing must still report the others
            out[name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    out["ok"] = all(out[k]["ok"] for k in ("lamp", "sensors", "clock", "broker"))
    return out
