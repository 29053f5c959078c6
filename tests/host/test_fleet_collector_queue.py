"""The collector's persistent session (`fleet collect --queue`) against a real
Mosquitto: what a board says while the collector is away reaches it when it is
back. A fault event is live (no retained copy), so a plain session loses it:
that is the gap a broker without a retained picture for the collector
(RabbitMQ, docs/scale.md) leaves for the Will too."""
from __future__ import annotations

import json
import time

import paho.mqtt.client as paho
import pytest

from host_tools.broker.mosquitto import Mosquitto
from host_tools.fleet.collector import Collector
from host_tools.inventory import open_inventory

SITE, BOARD = "metz", "240ac4000001"


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker") as b:
        yield b


def _board_says(port: int, kind: str, body: dict) -> None:
    """One QoS 1 uplink from the board, acknowledged by the broker before this returns."""
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=BOARD)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(f"pl/{SITE}/{BOARD}/{kind}", json.dumps(body), qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def _collect_a_while(db, port: int, queue: bool, until=lambda c: False, timeout: float = 3.0) -> Collector:
    collector = Collector(db, SITE, "127.0.0.1", port, "monitor", "", queue=queue, flush_s=0.1)
    running = collector.start()
    try:
        running.wait_ready(15)
        deadline = time.monotonic() + timeout
        while not until(collector) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
    return collector


def _faults(collector: Collector) -> list:
    view = collector.views.get(BOARD)
    return view.faults if view else []


@pytest.mark.parametrize("queue", [True, False], ids=["queue", "plain"])
def test_what_a_board_says_while_the_collector_is_away_waits_for_it_with_a_queue(tmp_path, broker, queue):
    db = tmp_path / "inventory.sqlite"
    open_inventory(db, create=True).close()
    _collect_a_while(db, broker.port, queue, timeout=0)             # the session exists at the broker
    _board_says(broker.port, "event", {"kind": "fault", "fault": "lamp_failed", "state": "raised",
                                       "seq": 5, "boot": 2, "ts": 1795000000})
    back = _collect_a_while(db, broker.port, queue, until=lambda c: _faults(c), timeout=2.0 if queue else 1.0)
    if queue:
        assert _faults(back) == ["lamp_failed"]
        assert back.received == 1                                   # once, not again as a duplicate
    else:
        assert _faults(back) == [] and back.received == 0
