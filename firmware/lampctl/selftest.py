# The on-board self-test the provisioning tool runs after a sync, in
# maintenance mode: the lamp ramps through its PWM and, where a power monitor
# is fitted, draws power at full and stops at 0; every I2C sensor of the board
# config answers; the clock holds a plausible date; and the broker accepts the
# board's own account (MQTT CONNECT answered by CONNACK 0). run() returns a
# dict the tool prints as JSON.
import machine
import time

from lampctl.curve import duty_u16
from lampctl.lamp import Lamp

RAMP = (0, 25, 50, 75, 100)
DUTY_TOLERANCE = 656        # 1% of full scale: the LEDC timer's resolution rounds the duty
MIN_YEAR = 2024             # the RTC restarts at 2000 after a power loss
NET_WAIT_MS = 10000
CONNECT_TIMEOUT_S = 5
SETTLE_MS = 500             # the driver and the monitor's averaging after a level change
FULL_SHARE = 0.5            # at 100 % a lamp draws at least standby + half its rated span...
OFF_SHARE = 0.1             # ...and at 0 at most standby + a tenth of it
LOGIN_TRIES = 3             # a broker that just reread its accounts may refuse the first


def _power_monitor(board):
    """The board's first power monitor, ready to read, or None."""
    from lampctl import sensor_kinds
    from lampctl.sensors import Sensors
    specs = [sp for sp in board.get("sensors") or ()
             if sensor_kinds.KINDS.get(sp["kind"], ("",))[0] == sensor_kinds.POWER][:1]
    if not specs:
        return None
    bus = board["i2c"]
    i2c = machine.I2C(0, scl=machine.Pin(bus["scl"]), sda=machine.Pin(bus["sda"]), freq=bus["freq"])
    return Sensors(i2c, specs)


def _draw_w(lamp, level, monitor):
    lamp.set_level(level)
    time.sleep_ms(SETTLE_MS)
    monitor.poll(time.ticks_ms())
    return monitor.power_w


def lamp_ramp(board, settle_level):
    lamp_cfg = board["lamp"]
    lamp = Lamp(lamp_cfg, 0)
    bad = []
    for level in RAMP:
        lamp.set_level(level)
        want = duty_u16(level, lamp_cfg)
        got = lamp.pwm.duty_u16()
        if abs(got - want) > DUTY_TOLERANCE:
            bad.append("%d%%: duty %d, expected %d" % (level, got, want))
        time.sleep_ms(100)
    out = {"levels": list(RAMP)}  # type: dict
    monitor = _power_monitor(board)
    if monitor is not None:
        # The duty read back proves only the pin: the monitor proves the lamp and its driver.
        standby, rated = lamp_cfg["standby_power_w"], lamp_cfg["rated_power_w"]
        full, off = _draw_w(lamp, 100, monitor), _draw_w(lamp, 0, monitor)
        out["power_w"] = {"100": full, "0": off}
        if full is None or off is None:
            bad.append("power monitor: no reading (%s)" % "; ".join(e for _, e in monitor.errors()))
        else:
            if full < standby + FULL_SHARE * (rated - standby):
                bad.append("100%%: the lamp draws %.1f W of its %.0f W: lamp, driver or wiring" % (full, rated))
            if off > standby + OFF_SHARE * (rated - standby):
                bad.append("0%%: the lamp still draws %.1f W: the driver ignores its input" % off)
    lamp.set_level(settle_level)
    out["ok"] = not bad
    out["errors"] = bad
    return out


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


def _login(mqtt, client_id):
    """The broker's CONNACK return code for the board's account (0: accepted)."""
    import socket
    from lampctl import mqtt_codec as codec
    buf = bytearray(64 + len(client_id) + len(mqtt.get("username") or "") + len(mqtt.get("password") or ""))
    n = codec.connect_into(buf, client_id, 30, False, mqtt.get("username"), mqtt.get("password"))
    s = socket.socket()
    try:
        s.settimeout(CONNECT_TIMEOUT_S)
        s.connect(socket.getaddrinfo(mqtt["host"], mqtt["port"])[0][-1])
        if mqtt.get("tls"):
            from lampctl.mqtt import tls_context
            ctx = tls_context(mqtt["ca_file"], mqtt.get("cert_file"), mqtt.get("key_file"))
            s = ctx.wrap_socket(s, server_hostname=mqtt["host"])
        s.write(memoryview(buf)[:n])
        ack = b""
        while len(ack) < 4:
            more = s.read(4 - len(ack))
            if not more:
                raise OSError("connection closed before CONNACK")
            ack += more
        if ack[0] != codec.CONNACK:
            raise OSError("expected CONNACK, got packet type 0x%02x" % ack[0])
        rc = codec.parse_connack(ack[2:4])[1]
        if rc == 0:
            s.write(codec.DISCONNECT_PACKET)  # a clean goodbye: no Last Will, the session left as it was
        return rc
    finally:
        s.close()


def broker(cfg):
    mqtt = cfg.get("mqtt")
    if not mqtt:
        return {"ok": False, "error": "no mqtt section in config.json"}
    where = "%s:%d" % (mqtt["host"], mqtt["port"])
    if not _network_up(cfg):
        return {"ok": False, "broker": where, "error": "network not up (Wi-Fi SSID/key, or cable)"}
    from lampctl.mqtt_codec import CONNACK_REASONS
    rc = None
    try:
        for _ in range(LOGIN_TRIES):
            rc = _login(mqtt, cfg["device"]["id"])
            if rc not in (4, 5):  # bad credentials / not authorized: maybe not loaded yet
                break
            time.sleep_ms(1000)
    except OSError as e:
        return {"ok": False, "broker": where, "error": "connect failed: %s" % e}
    if rc:
        return {"ok": False, "broker": where, "user": mqtt.get("username"),
                "error": "login refused: %s" % CONNACK_REASONS.get(rc, "code %d" % rc)}
    return {"ok": True, "broker": where, "user": mqtt.get("username")}


def run(cfg=None):
    if cfg is None:
        from lampctl import config
        cfg = config.load()
    board = cfg["board"]
    out = {}
    for name, check in (("lamp", lambda: lamp_ramp(board, cfg["failsafe_level"])),
                        ("sensors", lambda: sensors(board)), ("clock", clock), ("broker", lambda: broker(cfg))):
        try:
            out[name] = check()
        except Exception as e:  # one check failing must still report the others
            out[name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    out["ok"] = all(out[k]["ok"] for k in ("lamp", "sensors", "clock", "broker"))
    return out
