"""The board on MQTT (issue 4 acceptance), against a real Mosquitto.

Also holds what the other test_connectivity_*.py files share: the broker
fixture, a board's MQTT config, and the fleet-side observer that checks `seq`
continuity."""
import json
import queue
import time

import paho.mqtt.client as paho
import pytest

from hil_tests.conftest import deploy_firmware, render_config
from hil_tests.mqtt_watch import Watch

pytestmark = pytest.mark.virtual_only
NOV_2026 = 1795818600  # 2026-11-27 23:30 CET: night
PARIS = {"lat": 48.8566, "lon": 2.3522, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"}
UPLINKS = ("state", "tele", "event", "ack")  # every one carries the per-boot seq


@pytest.fixture
def broker(tmp_path):
    from host_tools.broker.mosquitto import Mosquitto
    b = Mosquitto(tmp_path / "broker", extra=["persistence true"]).start()
    yield b
    b.stop()


def lamp_config(dev, port, street="centre.main", position=1, mqtt=None, location=PARIS, **settings):
    return render_config(device={"id": dev, "site": "test", "groups": ["centre", street], "street": street,
                                 "position": position},
                         location=location, mqtt={"host": "127.0.0.1", "port": port, "keepalive_s": 5, **(mqtt or {})},
                         **settings)


def duty_at(level):
    """The PWM duty the lamp drives for `level` % (firmware/lampctl/lamp.py's curve)."""
    lamp = render_config()["board"]["lamp"]
    if level <= 0:
        return 0
    return int((lamp["min_driver_level"] + (1 - lamp["min_driver_level"]) * (level / 100) ** lamp["gamma"]) * 65535
               + 0.5)


def _online_board(rig, tmp_path, broker, name="lamp", **settings):
    (board,) = rig.start(name)
    dev = board.unique_id
    deploy_firmware(board.port, tmp_path, lamp_config(dev, broker.port, **settings))
    c = board.control()
    c.set_clock(NOV_2026)
    return board, c, f"pl/test/{dev}"


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
        (from index `after` on) or to come."""
        deadline = time.monotonic() + timeout
        checked = after
        while True:
            for topic, payload in self.seen[checked:]:
                if topic == f"{self.root}/{kind}" and predicate(json.loads(payload)):
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


def test_online_state_commands_and_last_will(rig, tmp_path, broker):
    watch = Watch(broker.port)
    board, c, root = _online_board(rig, tmp_path, broker, default_level=40)
    c.reset()
    watch.wait(lambda t, p, r: t == root + "/status" and p == b"online", what="status online")
    state = watch.wait_json("/state", lambda d: d["mode"] == "schedule" and d["level"] == 40)
    assert state["fw"] and state["clock"] != "unknown" and isinstance(state["seq"], int) and state["ts"]
    boot = watch.wait_json("/event", lambda d: d["kind"] == "boot")
    assert boot["reset_cause"] == 2 and boot["ts"] >= NOV_2026

    watch.publish(root + "/cmd/level", {"id": "c1", "level": 100, "duration_s": 600})
    ack = watch.wait_json("/ack", lambda d: d["id"] == "c1")
    assert ack["ok"] is True
    watch.wait_json("/state", lambda d: d["mode"] == "override" and d["level"] == 100)
    c.wait_for(lambda s: s["lamp_level"] == 1.0, what="override at 100 %")

    watch.publish(root + "/cmd/level", {"id": "c2", "level": 140})
    ack = watch.wait_json("/ack", lambda d: d["id"] == "c2")
    assert ack == {**ack, "ok": False, "error": "level: 140 is out of range [0, 100]"}
    assert c.status()["lamp_level"] == 1.0  # a bad command changes nothing

    watch.publish("pl/test/group/centre/cmd/ping", {"id": "g1"})  # a group command
    assert watch.wait_json("/ack", lambda d: d["id"] == "g1")["ok"] is True

    c.power_cut()  # the broker publishes the Last Will
    watch.wait(lambda t, p, r: t == root + "/status" and p == b"offline", what="status offline (LWT)")
    watch.close()
