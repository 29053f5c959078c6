"""The MQTT traffic of one test, for its failure report: a recorder
subscribed to everything on each broker the test runs (paho-mqtt), and
whatever observers publish or see. `take()` hands it over and starts afresh."""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho

_lock = threading.Lock()
_lines: list[str] = []
_clients: list[paho.Client] = []
_t0 = time.monotonic()  # seconds in the log count from here
LIMIT = 4000  # lines kept per test: a burst test sends thousands


def _note(topic: str, payload: bytes, retain: bool) -> None:
    text = payload[:300].decode("utf-8", "replace") + ("…" if len(payload) > 300 else "")
    with _lock:
        if len(_lines) < LIMIT:
            _lines.append(f"{time.monotonic() - _t0:9.3f} {topic}{' (retained)' if retain else ''} {text}")
        elif len(_lines) == LIMIT:
            _lines.append(f"... more traffic not kept (limit {LIMIT} lines)")


def record(port: int, host: str = "127.0.0.1", username: str | None = None, password: str | None = None,
           tls: dict | None = None) -> None:
    """Keep every message the broker on `port` carries until the test ends.
    The recorder reconnects by itself across a broker restart."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"hil-recorder-{time.monotonic_ns()}")
    if username:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(**tls)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("#", qos=0)
    client.on_message = lambda c, u, m: _note(m.topic, m.payload, m.retain)
    client.reconnect_delay_set(0.1, 1.0)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    with _lock:
        _clients.append(client)


def take() -> str:
    """The traffic recorded since the last take(), and the recorders stopped."""
    global _t0
    with _lock:
        clients, _clients[:] = list(_clients), []
    for c in clients:
        c.disconnect()
        c.loop_stop()
    with _lock:
        text = "\n".join(_lines)
        _lines.clear()
        _t0 = time.monotonic()  # times in the next test's log count from its own start
    return text
