"""The fleet collector: subscribes to a site's uplinks with the fleet's monitor
account and keeps each board's view in the inventory database.

Every decoded uplink passes through `Collector.handle` and nowhere else: that is
where a per-board history writer hooks in (`collector.hooks.append(fn)`, called
as fn(uplink, view) after the view took the message).

It survives its own restart (views are loaded from the database, and retained
`status`/`state` bring the picture up to date) and a broker restart: it
reconnects by itself, and when the broker's uptime says the broker restarted,
a retained `online` is no proof (the Will of a board that died meanwhile was
never published), so every board counts as offline until it proves it is back:
a live message, or a retained `state` other than the last one seen before the
restart (every board publishes its state anew on reconnecting).

Subscriptions are QoS 0: a QoS 1 subscriber's queue at the broker is bounded
(max_queued_messages), and a district's burst after a broker restart overflows
it; QoS 0 to a connected subscriber is not queued that way. Messages that do get
lost between board and fleet show as seq gaps."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from ..inventory import open_inventory
from . import view_store
from .board_view import BoardView, apply
from .history import Recorder
from .uplink import Uplink, decode

UPTIME_TOPIC = "$SYS/broker/uptime"
UPTIME_WAIT_S = 2.0          # brokers without $SYS (RabbitMQ) get this long, then the data topics
RESTART_SLACK_S = 15.0       # $SYS is published every 10 s: start times this close are the same start
RESYNC_AFTER_S = (10.0, 30.0, 70.0)   # after a broker restart, read the retained picture again (a board's
                                      # reconnect may come in a burst the broker drops QoS 0 messages of)


def _later(delay: float, fn) -> None:
    """fn on a timer thread that never keeps the process alive."""
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()


class Collector:
    def __init__(self, db: Path, site: str, host: str, port: int, username: str, password: str,
                 tls: dict | None = None, flush_s: float = 0.5):
        self.db, self.site = Path(db), site
        self.host, self.port = host, port
        self.flush_s = flush_s
        with open_inventory(self.db) as inv:
            self.views: dict[str, BoardView] = view_store.load(inv, site)
            started = view_store.get_meta(inv, f"broker_started:{site}")
        self.broker_started = float(started) if started else None
        self.history = Recorder()                  # the time series the reports read
        self.hooks: list = [self.history]
        self.lock = threading.Lock()
        self.dirty: set[str] = set()
        self.received = 0
        self.connects = 0
        self.distrust_retained_online = False
        self.seq_at_restart: dict[str, int | None] = {}   # each board's state seq when the broker restart was seen
        self.subscribed = threading.Event()
        self._pending_meta: dict[str, str] = {}
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=username, clean_session=True)
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.reconnect_delay_set(0.5, 5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *a: self.subscribed.clear()

    # --- the one place every uplink goes through ------------------------------------
    def handle(self, topic: str, payload: bytes, retained: bool) -> Uplink | None:
        up = decode(topic, payload, retained)
        if up is None or up.site != self.site:
            return None
        distrust = retained and self.distrust_retained_online
        if distrust and up.kind == "status" and up.body == "online":
            return None
        with self.lock:
            view = self.views.get(up.device)
            if view is None:
                view = self.views[up.device] = BoardView(up.device, self.site)
            republished = distrust and up.kind == "state" and up.seq != self.seq_at_restart.get(up.device)
            apply(view, up)
            if (republished or (not retained and up.kind != "status")) and not view.online:
                view.online, view.status_at = True, up.at
            self.dirty.add(up.device)
            self.received += 1
            for hook in self.hooks:
                hook(up, view)
        return up

    # --- MQTT -----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, props):
        if reason.is_failure:
            return
        self.connects += 1
        self._uptime_seen = False
        client.subscribe(UPTIME_TOPIC, 0)
        _later(UPTIME_WAIT_S, self._subscribe_data)

    def _subscribe_data(self) -> None:
        if not self.subscribed.is_set():
            self.subscribed.set()
            self.client.subscribe(f"pl/{self.site}/+/+", 0)

    def _on_message(self, client, userdata, msg):
        if msg.topic == UPTIME_TOPIC:
            self._on_uptime(msg.payload)
        else:
            self.handle(msg.topic, msg.payload, msg.retain)

    def _on_uptime(self, payload: bytes) -> None:
        if self.subscribed.is_set():
            return
        try:
            started = time.time() - int(payload.split()[0])
        except (ValueError, IndexError):
            started = None
        if started is not None:
            restarted = self.broker_started is not None and started > self.broker_started + RESTART_SLACK_S
            self.distrust_retained_online = restarted
            if restarted:
                self._everyone_offline()
                for delay in RESYNC_AFTER_S:
                    _later(delay, self._resync)
            if self.broker_started is None or restarted:
                self.broker_started = started
                self._pending_meta[f"broker_started:{self.site}"] = repr(started)
        self._subscribe_data()

    def _resync(self) -> None:
        """Subscribe again: the broker sends every retained status and state anew."""
        if self.subscribed.is_set():
            self.client.unsubscribe(f"pl/{self.site}/+/+")
            self.client.subscribe(f"pl/{self.site}/+/+", 0)

    def _everyone_offline(self) -> None:
        now = time.time()
        with self.lock:
            self.seq_at_restart = {d: v.state_seq for d, v in self.views.items()}
            for v in self.views.values():
                if v.online:
                    v.online, v.status_at = False, now
                    self.dirty.add(v.device_id)

    # --- running ----------------------------------------------------------------------
    def flush(self, inv) -> int:
        with self.lock:
            batch = [view_store.row(self.views[d]) for d in self.dirty]
            self.dirty.clear()
            meta, self._pending_meta = self._pending_meta, {}
            uplinks = self.history.take()
        self.history.write(inv, uplinks)
        if batch:
            view_store.save_rows(inv, batch)
        for key, value in meta.items():
            view_store.set_meta(inv, key, value)
        return len(batch)

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Collect until `stop` is set; the views are written every flush_s and at the end."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        try:
            with open_inventory(self.db) as inv:
                while not stop.wait(self.flush_s):
                    self.flush(inv)
                    if ready is not None and self.subscribed.is_set():
                        ready.set()
                self.flush(inv)
                self.history.close()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def start(self) -> "RunningCollector":
        return RunningCollector(self)


class RunningCollector:
    """A collector on a thread of this process (tools and tests):
        with Collector(...).start() as running: ..."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=collector.run, args=(self.stop_event, self.ready), daemon=True)
        self.thread.start()

    def wait_ready(self, timeout: float = 15.0) -> None:
        if not self.ready.wait(timeout):
            raise TimeoutError(f"collector not subscribed to {self.collector.host}:{self.collector.port} "
                               f"within {timeout}s")

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
