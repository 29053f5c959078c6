# Safe mode tells the fleet: the board is up, its app is not running, and why.
# A thread of its own (the REPL stays the technician's, as safe mode promises)
# waits for the link, logs in with the board's account and publishes `online`
# (with the usual Last Will), a retained `state` with mode "safe" and a
# `safe_mode` event; then keeps the connection alive, reconnecting with
# backoff, until the board is reset. Only the link, the codec and the topics
# are used: the module that crashed the app is not imported again.
import _thread
import json
import time

from lampctl import VERSION, clock, mqtt_codec as codec, topics

KEEPALIVE_S = 60
LINK_WAIT_MS = 30000
BACKOFF_MAX_MS = 60000
_IDLE = (11, 110, 116)    # EAGAIN, ETIMEDOUT (Linux, lwIP): nothing came within the timeout
VALID_AFTER = 1704067200  # 2024-01-01: an RTC before that was reset and does not know the time


def start(cfg, link, reason, crashes):
    """Announce safe mode in the background; False when the board has no broker."""
    if not cfg.get("mqtt") or not cfg.get("device") or link is None:
        return False
    _thread.start_new_thread(_run, (cfg, link, reason, crashes))
    return True


def _uplinks(cfg, reason, crashes):
    utc = clock.utc()
    ts = utc if utc >= VALID_AFTER else None
    common = {"reason": reason, "crashes": crashes, "fw": VERSION}
    state = {"mode": "safe", "level": cfg["failsafe_level"], "clock": "rtc" if ts else "unknown", "faults": []}
    state.update(common)
    state["seq"], state["ts"] = 2, ts
    event = {"kind": "safe_mode", "seq": 1, "ts": ts}
    event.update(common)
    return json.dumps(event), json.dumps(state)


def _session(cfg, link, reason, crashes):
    import socket
    m, dev = cfg["mqtt"], cfg["device"]
    root = topics.root(dev["site"], dev["id"])
    buf = bytearray(m.get("max_message", 2048) + 64)
    s = socket.socket()
    try:
        s.settimeout(10)
        s.connect(socket.getaddrinfo(m["host"], m["port"])[0][-1])
        if m.get("tls"):
            from lampctl.mqtt import tls_context
            s = tls_context(m["ca_file"], m.get("cert_file"), m.get("key_file")).wrap_socket(
                s, server_hostname=m["host"])
        n = codec.connect_into(buf, dev["id"], KEEPALIVE_S, False, m.get("username"), m.get("password"),
                               root + "/status", b"offline", 1, True)
        s.write(memoryview(buf)[:n])
        ack = s.read(4)
        if not ack or len(ack) < 4 or ack[0] != codec.CONNACK or ack[3] != 0:
            raise OSError("broker refused the login")
        event, state = _uplinks(cfg, reason, crashes)
        for topic, payload in (("/status", "online"), ("/state", state), ("/event", event)):
            n = codec.publish_into(buf, root + topic, payload, 0, topic != "/event")
            s.write(memoryview(buf)[:n])
        print("pilotlight: safe mode announced to the broker")
        s.settimeout(KEEPALIVE_S // 2)
        while True:  # keep the session (and so the Last Will) alive; what arrives waits for the app
            try:
                if not s.read(256):
                    raise OSError("broker closed the connection")
            except OSError as e:
                if not e.args or e.args[0] not in _IDLE:
                    raise
                s.write(codec.PINGREQ_PACKET)
    finally:
        s.close()


def _run(cfg, link, reason, crashes):
    delay = 1000
    while True:
        waited = 0
        while not link.online and waited < LINK_WAIT_MS:
            time.sleep_ms(250)
            waited += 250
        try:
            if link.online:
                _session(cfg, link, reason, crashes)
        except Exception as e:  # a lost broker or link: try again, slower each time
            print("pilotlight: safe mode announcement:", e)
        time.sleep_ms(delay)
        delay = min(delay * 2, BACKOFF_MAX_MS)
