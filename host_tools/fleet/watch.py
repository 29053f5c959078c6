"""A fleet-side MQTT observer: every message under a topic filter, in order (paho-mqtt)."""
from __future__ import annotations

import json
import queue
import threading
import time

import paho.mqtt.client as mqtt

SUBSCRIBED_WITHIN_S = 15.0


class Watch:
    """Subscribes to a topic filter and keeps every message, in order. It returns
    once the broker has granted the subscription (so nothing sent after it is
    missed), and subscribes again on every reconnect (a refused first login, as
    when the broker is still rereading its accounts, is retried by paho)."""

    def __init__(self, port: int, topic: str = "pl/#", host: str = "127.0.0.1", **auth):
        self.messages: queue.Queue = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{time.monotonic_ns()}")
        if auth:
            self.client.username_pw_set(auth["username"], auth["password"])
        self.client.on_connect = lambda c, u, f, rc, p: rc.is_failure or c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.connect(host, port)
        self.client.loop_start()
        if not self.subscribed.wait(SUBSCRIBED_WITHIN_S):
            self.close()
            raise TimeoutError(f"watch: no subscription to {topic} on {host}:{port} within {SUBSCRIBED_WITHIN_S}s")

    def wait(self, predicate, timeout: float = 15.0, what: str = "message"):
        """The first message (topic, payload, retained) matching predicate."""
        deadline = time.monotonic() + timeout
        for msg in self.seen:
            if predicate(*msg):
                return msg
        while time.monotonic() < deadline:
            try:
                msg = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(msg)
            if predicate(*msg):
                return msg
        raise TimeoutError(f"no {what} within {timeout}s; saw {[(t, p[:80]) for t, p, _ in self.seen[-8:]]}")

    def wait_json(self, topic_end: str, predicate=lambda d: True, timeout: float = 15.0) -> dict:
        _, payload, _ = self.wait(lambda t, p, r: t.endswith(topic_end) and _json_ok(p, predicate), timeout,
                                  what=f"{topic_end} message")
        return json.loads(payload)

    def publish(self, topic: str, payload, qos: int = 1) -> None:
        self.client.publish(topic, payload if isinstance(payload, (bytes, str)) else json.dumps(payload),
                            qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _json_ok(payload: bytes, predicate) -> bool:
    try:
        return bool(predicate(json.loads(payload)))
    except ValueError:
        return False
