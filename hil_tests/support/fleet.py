"""Fleet-side MQTT observers for the tests: `Fleet` keeps every uplink of one
board (persistent session, `seq` continuity), `Watch` (the tools' own) every
message under a topic filter."""
from __future__ import annotations

import json
import queue
import time

import paho.mqtt.client as paho

from host_tools.fleet.watch import Watch

__all__ = ["Fleet", "Watch", "UPLINKS"]
UPLINKS = ("state", "tele", "event", "ack")  # every one carries the per-boot seq


class Fleet:
    """A fleet-side subscriber with a persistent session (it misses nothing
    across a broker restart) that keeps every uplink of one board."""

    def __init__(self, port, root, client_id="fleet", tls=None):
        self.root = root
        self.messages: queue.Queue = queue.Queue()
        self.seen: list[tuple[str, bytes]] = []
        self.arrived: list[float] = []  # monotonic time of each message in seen
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if tls:
            self.client.tls_set(**tls)  # ca_certs, certfile, keyfile
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, time.monotonic()))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(root + "/#", qos=1)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def _pump(self, timeout):
        try:
            topic, payload, at = self.messages.get(timeout=timeout)
            self.seen.append((topic, payload))
            self.arrived.append(at)
            return True
        except queue.Empty:
            return False

    def wait_json(self, kind, predicate=lambda d: True, timeout=15.0, after=0):
        """The first `kind` message (state, tele, ...) whose JSON matches, seen
        (from index `after` on) or to come. A message the predicate cannot
        judge (a `ts` of null, made before the board knew the time) does not match."""
        deadline = time.monotonic() + timeout
        checked = after
        while True:
            for topic, payload in self.seen[checked:]:
                if topic == f"{self.root}/{kind}" and _matches(predicate, json.loads(payload)):
                    return json.loads(payload)
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                raise TimeoutError(f"no matching {kind} within {timeout}s; last seen: "
                                   f"{[(t[len(self.root):], p[:90]) for t, p in self.seen[-6:]]}")

    def wait_status(self, text, after=0, timeout=15.0):
        """Monotonic time at which `status` == text was seen, the first one after index `after`."""
        deadline = time.monotonic() + timeout
        i = after
        while True:
            while i < len(self.seen):
                if self.seen[i] == (self.root + "/status", text.encode()):
                    return time.monotonic(), i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                raise TimeoutError(f"no status {text} within {timeout}s")

    def drain(self, quiet=1.0):
        while self._pump(quiet):
            pass

    def uplinks(self, kind=None):
        kinds = (kind,) if kind else UPLINKS
        return [json.loads(p) for t, p in self.seen if t.rsplit("/", 1)[-1] in kinds and t.count("/") == 3]

    def seq_gaps(self):
        """Sequence numbers missing between 1 and the highest seen (one boot)."""
        seqs = {u["seq"] for u in self.uplinks()}
        return sorted(set(range(1, max(seqs) + 1)) - seqs), max(seqs)

    def publish(self, topic, payload):
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def _matches(predicate, data) -> bool:
    try:
        return bool(predicate(data))
    except (TypeError, KeyError):
        return False
